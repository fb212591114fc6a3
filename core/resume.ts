// The saved resume record (what a subscriber has seen) adjusted for events its host could not deliver,
// so the next resume emits them again instead of counting them as seen.
import { elementId } from './protocol';
import { fingerprint, isClosedRequest } from './tracker';
import type { RealtimeEvent, ResumeState } from './types';

/** A fingerprint no element has: a resume finds the element "changed" and emits it (recovered). */
export const UNDELIVERED_FINGERPRINT = 'undelivered';

/** A resume record as maps: element id -> fingerprint, and request element id -> request_id. */
export interface ResumeRecord {
  seen: Map<string, string>;
  requestIds: Map<string, string>;
}

/**
 * The record's maps. It comes back from storage (n8n's static data) as plain objects whose keys are element ids
 * from the server: read as own string entries only, so an id such as "constructor" or "__proto__" is just an id.
 */
export function readResumeState(state: ResumeState): ResumeRecord {
  const entries = (record: unknown) =>
    new Map(
      record !== null && typeof record === 'object'
        ? Object.entries(record as Record<string, unknown>).filter(
            (entry): entry is [string, string] => typeof entry[1] === 'string',
          )
        : [],
    );
  return { seen: entries(state.seen), requestIds: entries(state.requestIds) };
}

/**
 * A copy of `state` in which each of `events` counts as not delivered. An element the record has moved past
 * (a newer state was recorded since) is left alone: the newer state is what a resume compares with.
 */
export function markUndelivered(state: ResumeState, events: readonly RealtimeEvent[]): ResumeState {
  if (!events.length) return state;
  const { seen, requestIds } = readResumeState(state);
  for (const event of events) {
    if (event.topic !== state.topic) continue;
    const id = elementId(event.data);
    if (id === undefined) continue;
    const removed = event.method === 'DELETE' || isClosedRequest(event.kind, event.data);
    if (removed) {
      // The record dropped it: put it back so a resume looks for it (a request is looked up on its own topic).
      if (seen.has(id)) continue;
      seen.set(id, UNDELIVERED_FINGERPRINT);
      if (typeof event.data.request_id === 'string') requestIds.set(id, event.data.request_id);
    } else if (seen.get(id) === fingerprint(event.data)) {
      // A create the host never delivered is emitted as a create again; anything else as an update.
      if (event.method === 'CREATE') seen.delete(id);
      else seen.set(id, UNDELIVERED_FINGERPRINT);
    }
  }
  const result: ResumeState = { topic: state.topic, seen: Object.fromEntries(seen) };
  const keptRequestIds = [...requestIds].filter(([id]) => seen.has(id));
  if (keptRequestIds.length) result.requestIds = Object.fromEntries(keptRequestIds);
  return result;
}
