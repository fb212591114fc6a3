// The resume record: what a subscriber has seen (element id -> fingerprint, and each request's request_id), bounded,
// exported for the host to store (n8n's static data, a Node-RED node's successor), read back on resume and compared
// with the first snapshot, and adjusted for events its host could not deliver so the next resume emits them again.
import { elementId } from './protocol';
import { diffSnapshot, type Change } from './snapshot-diff';
import { TIME_PRINT_PREFIX, fingerprint, isClosedRequest, stateTime } from './tracker';
import { RecencyMap, SpareNodes, sizeAfterEviction, type RecencyNode } from './recency';
import type { Element, RealtimeEvent, ResumeState, TopicKind } from './types';

/** A fingerprint no element has: a resume finds the element "changed" and emits it (recovered). */
export const UNDELIVERED_FINGERPRINT = 'undelivered';
/**
 * Before a fingerprint: a create the host had not delivered. The entry stays (so a request closed meanwhile is
 * still looked up); a resume emits the element as a create when it is unchanged since, as an update when not.
 */
export const UNDELIVERED_CREATE = 'undelivered-create:';

export const MAX_RESUME_ENTRIES = 2_000;
// Persisted by hosts: bounded in bytes too, ids from the server being any length.
export const MAX_RESUME_BYTES = 1024 * 1024;

/**
 * One element's entry (its id is the key): its fingerprint and, for a request, its request_id. A fingerprint that
 * stands on updatedAt is kept as the updatedAt (`time`): holding the concatenation too would be one more young
 * object per event for the scavenger to copy.
 */
interface Entry extends RecencyNode<string, Entry> {
  /** Set again when a spare entry is reused. */
  key: string;
  time: string | undefined;
  /** Any other fingerprint (a content hash, a mark, one read from storage); undefined when `time` is set. */
  print: string | undefined;
  requestId: string | undefined;
}

/** What toState writes of an entry. */
interface Noted {
  print: string;
  requestId: string | undefined;
}

const printOf = (entry: Entry): string => entry.print ?? TIME_PRINT_PREFIX + entry.time;
const notedOf = (entry: Entry): Noted => ({ print: printOf(entry), requestId: entry.requestId });

const entryBytes = (entry: Entry): number =>
  entry.key.length +
  (entry.print?.length ?? TIME_PRINT_PREFIX.length + (entry.time as string).length) +
  (entry.requestId?.length ?? 0);

export class ResumeRecord {
  /** In recency order: an entry is updated in place and made the most recent (no object per event). */
  private readonly entries = new RecencyMap<string, Entry>();
  /** Entries that left, reused for new elements (as the tracker's). */
  private readonly spares = new SpareNodes<Entry>();
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
    // A request_id without a fingerprint is not part of the record (toState never wrote one).
    for (const [id, print] of seen) record.put(id, undefined, print, requestIds.get(id));
    return record;
  }

  get size(): number {
    return this.entries.size;
  }

  get estimatedBytes(): number {
    return this.bytes;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  private noted(id: string): Noted | undefined {
    const entry = this.entries.get(id);
    return entry && notedOf(entry);
  }

  fingerprintOf(id: string): string | undefined {
    const entry = this.entries.get(id);
    return entry && printOf(entry);
  }

  requestIdOf(id: string): string | undefined {
    return this.entries.get(id)?.requestId;
  }

  *ids(): IterableIterator<string> {
    for (const entry of this.entries.values()) yield entry.key;
  }

  /** What changed in `elements` since this record: new ones CREATE, others whose fingerprint differs UPDATE. */
  diff(elements: readonly Element[]): { changes: Change[]; present: Set<string> } {
    const result = diffSnapshot(elements, {
      known: (id) => this.fingerprintOf(id),
      same: (print, element) => print === fingerprint(element),
    });
    for (const change of result.changes) {
      const print = this.fingerprintOf(elementId(change.data) ?? '');
      if (print?.startsWith(UNDELIVERED_CREATE) && print === UNDELIVERED_CREATE + fingerprint(change.data))
        change.method = 'CREATE';
    }
    return result;
  }

  /** A change delivered (or counted as seen): removed elements and closed requests leave the record. */
  record(change: Change, kind: TopicKind): void {
    const id = elementId(change.data);
    if (id === undefined) return;
    if (change.method === 'DELETE' || isClosedRequest(kind, change.data)) this.forget(id);
    else this.rememberAs(id, change.data, change.fingerprint);
  }

  remember(element: Element): void {
    const id = elementId(element);
    if (id !== undefined) this.rememberAs(id, element);
  }

  /** `print`: the element's fingerprint, when known already. */
  private rememberAs(id: string, element: Element, print?: string): void {
    const time = stateTime(element);
    const requestId = typeof element.request_id === 'string' ? element.request_id : undefined;
    this.put(id, time, time === undefined ? (print ?? fingerprint(element)) : undefined, requestId);
  }

  rememberFingerprint(id: string, print: string, requestId?: string): void {
    this.put(id, undefined, print, requestId);
  }

  /** Records an entry: `time` or `print` is its fingerprint (see Entry). */
  private put(id: string, time: string | undefined, print: string | undefined, requestId: string | undefined): void {
    const requestIdKept = requestId || undefined;
    let entry = this.entries.get(id);
    if (entry === undefined) {
      entry = this.spares.take() ?? {
        key: id,
        older: undefined,
        newer: undefined,
        time: undefined,
        print: undefined,
        requestId: undefined,
      };
      entry.key = id;
      this.entries.add(entry);
    } else {
      this.bytes -= entryBytes(entry);
      this.entries.touch(entry);
    }
    entry.time = time;
    entry.print = print;
    entry.requestId = requestIdKept;
    this.bytes += entryBytes(entry);
    if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) return;
    // Over either bound, the oldest tenth goes at once (as evictOldest does).
    const countTarget = sizeAfterEviction(this.maxEntries);
    const byteTarget = this.maxBytes * 0.9;
    for (let oldest = this.entries.oldest; oldest !== undefined && oldest !== entry; oldest = this.entries.oldest) {
      if (this.entries.size <= countTarget && this.bytes <= byteTarget) break;
      this.remove(oldest);
    }
  }

  forget(id: string): void {
    const entry = this.entries.get(id);
    if (entry !== undefined) this.remove(entry);
  }

  private remove(entry: Entry): void {
    this.bytes -= entryBytes(entry);
    this.entries.remove(entry);
    entry.time = entry.print = entry.requestId = undefined; // a spare holds no strings of an element
    this.spares.keep(entry);
  }

  /**
   * The record as stored, with each of `undelivered` counted as not delivered (the record itself is not changed):
   * a create the host never delivered is marked as such (UNDELIVERED_CREATE), so a resume emits it as a create again
   * and can still look the element up; anything else is marked so a resume finds it changed; a removal is put back
   * so a resume looks for it. An element the record has moved past (a newer state was recorded since) is left
   * alone: the newer state is what a resume compares with.
   * `stateOf` may give an event's deliveredState when the caller knows it already. One pass over the record.
   */
  toState(
    topic: string,
    undelivered: readonly RealtimeEvent[] = [],
    stateOf: (event: RealtimeEvent) => string = deliveredState,
  ): ResumeState {
    const marked = new Map<string, Noted>();
    for (const event of undelivered) {
      if (event.topic !== topic) continue;
      const id = elementId(event.data);
      if (id === undefined) continue;
      // As marked by an earlier event of the list, else as recorded.
      const entry = marked.get(id) ?? this.noted(id);
      if (event.method === 'DELETE' || isClosedRequest(event.kind, event.data)) {
        if (entry !== undefined) continue;
        const requestId = typeof event.data.request_id === 'string' ? event.data.request_id : undefined;
        marked.set(id, { print: UNDELIVERED_FINGERPRINT, requestId: requestId || undefined });
      } else if (entry !== undefined && entry.print === stateOf(event)) {
        const print = event.method === 'CREATE' ? UNDELIVERED_CREATE + entry.print : UNDELIVERED_FINGERPRINT;
        marked.set(id, { print, requestId: entry.requestId });
      }
    }
    // fromEntries defines own properties: an id such as "__proto__" stays an entry.
    const kept: Array<[string, Noted]> = [];
    for (const entry of this.entries.values()) kept.push([entry.key, marked.get(entry.key) ?? notedOf(entry)]);
    // Put back (removed ones), after the rest as if just recorded.
    for (const [id, entry] of marked) if (!this.entries.has(id)) kept.push([id, entry]);
    const state: ResumeState = { topic, seen: Object.fromEntries(kept.map(([id, { print }]) => [id, print])) };
    const requestIds: Array<[string, string]> = [];
    for (const [id, { requestId }] of kept) if (requestId !== undefined) requestIds.push([id, requestId]);
    if (requestIds.length) state.requestIds = Object.fromEntries(requestIds);
    return state;
  }
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

/**
 * The state an event carries, as a string: its element's fingerprint, or "DELETE" for a deletion. A host that keeps
 * its own note of what went out (n8n's deduplication keys) tells by it whether a recovered event is the same one.
 */
export function deliveredState(event: RealtimeEvent): string {
  return event.method === 'DELETE' ? 'DELETE' : fingerprint(event.data);
}
