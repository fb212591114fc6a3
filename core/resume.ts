// The saved resume record (what a subscriber has seen) adjusted for events its host could not deliver,
// so the next resume emits them again instead of counting them as seen.
import { elementId } from './protocol';
import { fingerprint, isClosedRequest } from './tracker';
import type { RealtimeEvent, ResumeState } from './types';

/** A fingerprint no element has: a resume finds the element "changed" and emits it (recovered). */
export const UNDELIVERED_FINGERPRINT = 'undelivered';

/**
 * A copy of `state` in which each of `events` counts as not delivered. An element the record has moved past
 * (a newer state was recorded since) is left alone: the newer state is what a resume compares with.
 */
export function markUndelivered(state: ResumeState, events: readonly RealtimeEvent[]): ResumeState {
  if (!events.length) return state;
  const seen = { ...state.seen };
  const requestIds = { ...(state.requestIds ?? {}) };
  for (const event of events) {
    if (event.topic !== state.topic) continue;
    const id = elementId(event.data);
    if (id === undefined) continue;
    const removed = event.method === 'DELETE' || isClosedRequest(event.kind, event.data);
    if (removed) {
      // The record dropped it: put it back so a resume looks for it (a request is looked up on its own topic).
      if (seen[id] !== undefined) continue;
      seen[id] = UNDELIVERED_FINGERPRINT;
      if (typeof event.data.request_id === 'string') requestIds[id] = event.data.request_id;
    } else if (seen[id] === fingerprint(event.data)) {
      // A create the host never delivered is emitted as a create again; anything else as an update.
      if (event.method === 'CREATE') delete seen[id];
      else seen[id] = UNDELIVERED_FINGERPRINT;
    }
  }
  const result: ResumeState = { topic: state.topic, seen };
  const keptRequestIds = Object.fromEntries(Object.entries(requestIds).filter(([id]) => seen[id] !== undefined));
  if (Object.keys(keptRequestIds).length) result.requestIds = keptRequestIds;
  return result;
}
