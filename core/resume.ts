// The resume record: what a subscriber has seen (element id -> fingerprint, and each request's request_id), bounded,
// exported for the host to store (n8n's static data, a Node-RED node's successor), read back on resume and compared
// with the first snapshot, and adjusted for events its host could not deliver so the next resume emits them again.
import { elementId } from './protocol';
import { diffSnapshot, type Change } from './snapshot-diff';
import { fingerprint, isClosedRequest } from './tracker';
import type { Element, RealtimeEvent, ResumeState, TopicKind } from './types';

/** A fingerprint no element has: a resume finds the element "changed" and emits it (recovered). */
export const UNDELIVERED_FINGERPRINT = 'undelivered';

export const MAX_RESUME_ENTRIES = 2_000;
// Persisted by hosts: bounded in bytes too, ids from the server being any length.
export const MAX_RESUME_BYTES = 1024 * 1024;

export class ResumeRecord {
  private readonly seen = new Map<string, string>();
  private readonly requestIds = new Map<string, string>();
  private bytes = 0;

  constructor(
    private readonly maxEntries = MAX_RESUME_ENTRIES,
    private readonly maxBytes = MAX_RESUME_BYTES,
  ) {}

  /**
   * A stored record, as it came back from storage: plain objects whose keys are element ids from the server, read
   * as own string entries only, so an id such as "constructor" or "__proto__" is just an id. Not trimmed.
   */
  static read(state: ResumeState): ResumeRecord {
    const record = new ResumeRecord(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    const { seen, requestIds } = readResumeState(state);
    for (const [id, print] of seen) record.seen.set(id, print);
    for (const [id, requestId] of requestIds) record.requestIds.set(id, requestId);
    return record;
  }

  get size(): number {
    return this.seen.size;
  }

  get estimatedBytes(): number {
    return this.bytes;
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }

  fingerprintOf(id: string): string | undefined {
    return this.seen.get(id);
  }

  requestIdOf(id: string): string | undefined {
    return this.requestIds.get(id);
  }

  ids(): IterableIterator<string> {
    return this.seen.keys();
  }

  /** What changed in `elements` since this record: new ones CREATE, others whose fingerprint differs UPDATE. */
  diff(elements: readonly Element[]): { changes: Change[]; present: Set<string> } {
    return diffSnapshot(elements, {
      known: (id) => this.seen.get(id),
      same: (print, element) => print === fingerprint(element),
    });
  }

  /** A change delivered (or counted as seen): removed elements and closed requests leave the record. */
  record(change: Change, kind: TopicKind): void {
    const id = elementId(change.data);
    if (id === undefined) return;
    if (change.method === 'DELETE' || isClosedRequest(kind, change.data)) this.forget(id);
    else this.rememberAs(id, change.data, change.fingerprint ?? fingerprint(change.data));
  }

  remember(element: Element): void {
    const id = elementId(element);
    if (id !== undefined) this.rememberAs(id, element, fingerprint(element));
  }

  private rememberAs(id: string, element: Element, print: string): void {
    this.rememberFingerprint(id, print, typeof element.request_id === 'string' ? element.request_id : undefined);
  }

  rememberFingerprint(id: string, print: string, requestId?: string): void {
    this.forget(id);
    this.seen.set(id, print);
    if (requestId) this.requestIds.set(id, requestId);
    this.bytes += entryBytes(id, print, requestId);
    if (this.seen.size <= this.maxEntries && this.bytes <= this.maxBytes) return;
    // Over either bound, the oldest tenth goes at once (see evictOldest for why not one at a time).
    const countTarget = this.maxEntries - Math.ceil(this.maxEntries / 10);
    const byteTarget = this.maxBytes * 0.9;
    for (const oldest of [...this.seen.keys()]) {
      if ((this.seen.size <= countTarget && this.bytes <= byteTarget) || oldest === id) break;
      this.forget(oldest);
    }
  }

  forget(id: string): void {
    const print = this.seen.get(id);
    if (print !== undefined) this.bytes -= entryBytes(id, print, this.requestIds.get(id));
    this.seen.delete(id);
    this.requestIds.delete(id);
  }

  /**
   * Each of `events` counted as not delivered. An element the record has moved past (a newer state was recorded
   * since) is left alone: the newer state is what a resume compares with.
   */
  markUndelivered(topic: string, events: readonly RealtimeEvent[]): void {
    for (const event of events) {
      if (event.topic !== topic) continue;
      const id = elementId(event.data);
      if (id === undefined) continue;
      const removed = event.method === 'DELETE' || isClosedRequest(event.kind, event.data);
      if (removed) {
        // The record dropped it: put it back so a resume looks for it (a request is looked up on its own topic).
        if (this.seen.has(id)) continue;
        this.seen.set(id, UNDELIVERED_FINGERPRINT);
        if (typeof event.data.request_id === 'string') this.requestIds.set(id, event.data.request_id);
      } else if (this.seen.get(id) === fingerprint(event.data)) {
        // A create the host never delivered is emitted as a create again; anything else as an update.
        if (event.method === 'CREATE') this.seen.delete(id);
        else this.seen.set(id, UNDELIVERED_FINGERPRINT);
      }
    }
  }

  toState(topic: string): ResumeState {
    const state: ResumeState = { topic, seen: Object.fromEntries(this.seen) };
    const requestIds = [...this.requestIds].filter(([id]) => this.seen.has(id));
    if (requestIds.length) state.requestIds = Object.fromEntries(requestIds);
    return state;
  }
}

function entryBytes(id: string, print: string, requestId?: string): number {
  return id.length + print.length + (requestId?.length ?? 0);
}

/** The stored record's maps (see ResumeRecord.read). */
export function readResumeState(state: ResumeState): { seen: Map<string, string>; requestIds: Map<string, string> } {
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

/** A copy of `state` in which each of `events` counts as not delivered (ResumeRecord.markUndelivered). */
export function markUndelivered(state: ResumeState, events: readonly RealtimeEvent[]): ResumeState {
  if (!events.length) return state;
  const record = ResumeRecord.read(state);
  record.markUndelivered(state.topic, events);
  return record.toState(state.topic);
}
