// Per-topic memory of the last known state of each element: the basis for dropping repeated
// snapshots, detecting changes made while disconnected, and giving each event its `previous`.
import { createHash } from 'node:crypto';
import { elementId, parseFrame } from './protocol';
import { TOPIC_KIND_DESCRIPTIONS } from './topic-kinds';
import { diffSnapshot, type Change } from './snapshot-diff';
import { TextArena, type ArenaSlot } from './text-arena';
import { RecencyList, SpareNodes, sizeAfterEviction, type RecencyLinks } from './recency';
import { IdIndex, type Hashed } from './id-index';
import type { Element, Method, TopicKind } from './types';

export type { Change } from './snapshot-diff';

// A longer updatedAt is no timestamp: hashed like the content, so a record entry stays small.
const MAX_UPDATED_AT_LENGTH = 64;

/** Before the updatedAt in a fingerprint that stands on one. */
export const TIME_PRINT_PREFIX = 'u:';

/**
 * updatedAt when the server sets it (it changes on every change), else a hash of the content: SHA-1 from
 * node:crypto, which n8n's scanner allows. A plain-JS 64-bit hash was tried: over a 1 MB element it was several
 * times slower than native SHA-1 and made the 60 x 1 MB hostile-servers test time out.
 */
export function fingerprint(element: Element): string {
  const time = stateTime(element);
  if (time !== undefined) return TIME_PRINT_PREFIX + time;
  return `h:${createHash('sha1').update(JSON.stringify(element)).digest('base64url')}`;
}

/** The updatedAt a fingerprint stands on, if it does. */
export function stateTime(element: Element): string | undefined {
  const updatedAt = element.updatedAt;
  return typeof updatedAt === 'string' && updatedAt && updatedAt.length <= MAX_UPDATED_AT_LENGTH
    ? updatedAt
    : undefined;
}

// The characters of an updatedAt that timeHashOf reads: its last ones, where one time differs from the next (an ISO
// time's hours to milliseconds).
const TIME_HASH_CHARS = 12;

/**
 * A small hash of the element's updatedAt, -1 without one. Different hashes prove another updatedAt; equal ones prove
 * nothing (the content is compared then), so a few characters do: the ids' seeded hash of the whole time (id-index.ts)
 * cost about 300 more instructions per update (count-hot-path.js, seeds fixed).
 */
export function timeHashOf(element: Element): number {
  const time = stateTime(element);
  if (time === undefined) return -1;
  let hash = time.length;
  for (let i = Math.max(0, time.length - TIME_HASH_CHARS); i < time.length; i++)
    hash = (Math.imul(hash, 31) + time.charCodeAt(i)) | 0;
  return hash & 0x3fff_ffff;
}

/** An element its kind calls closed (a request at status 1000 on the open-requests list): it leaves the tracker. */
export function isClosedRequest(kind: TopicKind, element: Element): boolean {
  const { closedStatus } = TOPIC_KIND_DESCRIPTIONS[kind];
  return closedStatus !== undefined && element.status === closedStatus;
}

/** The element of a one-element publish frame's text: what the tracker kept of an element seen once. */
function elementOfFrame(text: string): Element {
  const frame = parseFrame(text);
  // Always a one-element publish: the tracker kept the frame because it was one.
  if (frame.type !== 'publish' || frame.elements.length !== 1) throw new Error('a tracked frame holds no element');
  return frame.elements[0];
}

/** Same fingerprint and same content. Content is compared only when the fingerprints agree. */
export function sameState(a: Element, b: Element): boolean {
  return fingerprint(a) === fingerprint(b) && JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Bounds an insertion-ordered map. Over the bound, the oldest tenth goes at once: removing one entry at a time
 * from the front of a Map costs a scan over the holes earlier deletions left there. Returns the evicted keys;
 * `onEvict` sees each value as it goes.
 */
export function evictOldest<K, V>(map: Map<K, V>, max: number, onEvict?: (value: V) => void): K[] {
  if (map.size <= max) return [];
  const evicted: K[] = [];
  const target = sizeAfterEviction(max);
  for (const [key, value] of map) {
    if (map.size - evicted.length <= target) break;
    evicted.push(key);
    onEvict?.(value);
  }
  for (const key of evicted) map.delete(key);
  return evicted;
}

export interface SnapshotDiff {
  changes: Change[];
  /** Known elements absent from the new snapshot (only meaningful for list topics). */
  missing: Element[];
}

/** A cheap estimate of the memory an element holds: its JSON length (a deep one that cannot be measured counts big). */
export function estimateBytes(element: Element): number {
  try {
    return JSON.stringify(element).length;
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

/**
 * What the tracker holds of an element. An element seen once in a live frame of its own is kept as that frame's
 * text, in the topic's arena (its slot), or as the string `frame` when the arena does not take it; any other (changed
 * live since, or from a snapshot) as its parsed `tree`, which serves the next change's `previous` without parsing
 * again. Why: thousands of retained trees of small objects survive V8's young-generation collections and are copied
 * into the old generation object by object (a flood of new requests, never changed again, spent a quarter of the
 * core's CPU time on that), and so, byte by byte, are retained strings (see text-arena.ts); but parsing a text again
 * for every `previous` costs more than holding the tree of an element that does change. `read` is the element as
 * get() handed it out (or as a comparison parsed it), the same object until the element changes.
 * No string is kept per element beside those: an id, updatedAt or fingerprint string kept for each would be more young
 * strings per new request for the scavenger to copy (a flood of new requests spent a tenth of its time there). The
 * id is kept only once its tree is held, which holds that string anyway (see id-index.ts).
 */
interface Tracked extends ArenaSlot, RecencyLinks<Tracked>, Hashed<Tracked> {
  frame: string | undefined;
  tree: Element | undefined;
  read: Element | undefined;
  size: number;
  /** The fingerprint when it is a content hash (costly to compute again); undefined when it stands on updatedAt. */
  hashPrint: string | undefined;
  /**
   * The element's id once read (from its tree, which holds that string anyway), and timeHashOf its updatedAt. Why:
   * a tree held since the element's last change is long out of the CPU's caches; reading its id and updatedAt took
   * half the tracker's time on updates (profile-hot-path.js). The entry is read anyway.
   */
  id: string | undefined;
  timeHash: number;
  /** The number of the last snapshot that held the element (see applySnapshot). */
  snapshot: number;
}

export class TopicTracker {
  /** In recency order: an update makes the element the most recent; the oldest is evicted first. */
  private readonly known = new RecencyList<Tracked>();
  /** The same entries, found by id. */
  private readonly ids: IdIndex<Tracked>;
  /** The frames' texts of the elements seen once. */
  private readonly texts = new TextArena();
  /** Entries that left, reused for the next new elements: a flood of new requests allocates none once evicting. */
  private readonly spares = new SpareNodes<Tracked>();
  private bytes = 0;
  /** One function for every remember(), not a closure each. */
  private readonly evict = (oldest: Tracked): void => {
    this.ids.remove(oldest);
    this.retire(oldest);
  };
  /** Snapshots applied so far; each marks the elements it held (see applySnapshot). */
  private snapshots = 0;

  constructor(
    readonly kind: TopicKind,
    private readonly maxTracked: number,
    private readonly snapshotLimit: number,
    /** Bound on the estimated bytes held, with the same eviction as the count bound. */
    private readonly maxBytes = Number.POSITIVE_INFINITY,
    /** The ids' hash; tests give one that makes ids share it. */
    hashId?: (id: string) => number,
  ) {
    this.ids = new IdIndex(hashId);
  }

  get hasSnapshot(): boolean {
    return this.snapshots > 0;
  }

  /** Estimated bytes of the elements held. */
  get estimatedBytes(): number {
    return this.bytes;
  }

  /** The elements (a late holder's snapshot, a look-up answered from memory); old ones parsed anew, not kept. */
  elements(): Element[] {
    return Array.from(this.known.values(), (tracked) => this.stateOf(tracked));
  }

  /** The element, the same object on every read until it changes. */
  get(id: string): Element | undefined {
    const tracked = this.find(this.ids.hash(id), id);
    return tracked && this.readOf(tracked);
  }

  forget(id: string): void {
    const tracked = this.find(this.ids.hash(id), id);
    if (tracked !== undefined) this.drop(tracked);
  }

  /** The entry of the element with this id. `frame`, the text of a frame holding that element, spares a parse. */
  private find(hash: number, id: string, frame?: string): Tracked | undefined {
    for (let tracked = this.ids.first(hash); tracked !== undefined; tracked = tracked.sameHash) {
      if (tracked.idHash !== hash) continue;
      if (tracked.id === undefined) {
        let known = tracked.tree ?? tracked.read;
        if (known === undefined) {
          const text = this.textOf(tracked) as string; // without a tree there is a text (see remember)
          if (text === frame) return tracked;
          known = tracked.read = elementOfFrame(text); // as sameTracked would: the change needs it as `previous`
        }
        tracked.id = elementId(known);
      }
      if (tracked.id === id) return tracked;
    }
    return undefined;
  }

  /** The element as get() hands it out: the same object until it changes. */
  private readOf(tracked: Tracked): Element {
    tracked.read ??= this.stateOf(tracked);
    return tracked.read;
  }

  /** An entry leaves. */
  private drop(tracked: Tracked): void {
    this.known.remove(tracked);
    this.ids.remove(tracked);
    this.retire(tracked);
  }

  /** Lets go of what an entry holds (its bytes, its text). */
  private untrack(tracked: Tracked): void {
    this.bytes -= tracked.size;
    this.texts.release(tracked);
  }

  /** An entry that left `known`: emptied (a spare holds no element) and kept for reuse while there is room. */
  private retire(tracked: Tracked): void {
    this.untrack(tracked);
    tracked.frame = tracked.tree = tracked.read = tracked.hashPrint = tracked.id = undefined;
    tracked.timeHash = -1;
    tracked.snapshot = 0;
    this.spares.keep(tracked);
  }

  /** The tracked element: its tree, or its frame's text parsed again (the same parse that gave it, so the same element). */
  private stateOf(tracked: Tracked): Element {
    return tracked.tree ?? tracked.read ?? elementOfFrame(this.textOf(tracked) as string); // see remember
  }

  /** The text of the frame an element seen once came in, when that is what is held of it. */
  private textOf(tracked: Tracked): string | undefined {
    return tracked.at >= 0 ? this.texts.read(tracked) : tracked.frame;
  }

  /**
   * sameState against a tracked element; `print` and `timeHash` are the new element's (`print` may be left out when
   * it has an updatedAt), `frame` the frame it came in, if one. The same frame text is the same element. An element
   * held as text is parsed here, as its `read`: a change needs it next as `previous`.
   */
  private sameTracked(
    tracked: Tracked,
    element: Element,
    print: string | undefined,
    timeHash: number,
    frame?: string,
  ): boolean {
    // Another updatedAt: a change, told without reading what is held.
    if (timeHash >= 0 && tracked.timeHash >= 0 && timeHash !== tracked.timeHash) return false;
    let known = tracked.tree ?? tracked.read;
    if (known === undefined) {
      const text = this.textOf(tracked) as string; // without a tree there is a text (see remember)
      if (frame !== undefined && text === frame) return true;
      known = tracked.read = elementOfFrame(text);
    }
    const time = stateTime(element);
    const knownTime = stateTime(known);
    // Both on updatedAt: the strings compared, not the prints (a concatenation, which a compare flattens first).
    if (
      time !== undefined && knownTime !== undefined
        ? time !== knownTime
        : print === undefined || print !== (tracked.hashPrint ?? fingerprint(known))
    )
      return false;
    return JSON.stringify(known) === JSON.stringify(element);
  }

  /**
   * A live event. Returns the change to emit, or undefined when it repeats the known state.
   * Elements without an id cannot be tracked and are always emitted. `frame`, when given, is the text of the
   * one-element frame the element came in: kept as what is known of an element seen for the first time (no
   * serialization, no tree held), and its length stands for the element's estimateBytes.
   * The change of an element without an updatedAt carries its fingerprint (a content hash), computed here once for
   * every holder's resume record; with one, the records keep the time.
   */
  applyLive(method: Method, element: Element, frame?: string): Change | undefined {
    const id = elementId(element);
    if (id === undefined) return { method, data: element };
    const hash = this.ids.hash(id);
    const tracked = this.find(hash, id, frame);
    if (method === 'DELETE') {
      const previous = tracked && this.stateOf(tracked);
      if (tracked) this.drop(tracked);
      return { method, data: element, previous };
    }
    const timeHash = timeHashOf(element);
    // A print of its own only without an updatedAt: with one, the time stands for it (sameTracked, the resume record).
    const print = timeHash < 0 ? fingerprint(element) : undefined;
    if (tracked && this.sameTracked(tracked, element, print, timeHash, frame)) return undefined;
    // Read before remember() reuses the entry.
    const previous = tracked && this.stateOf(tracked);
    // Seen for the first time: kept as its frame; changed: as its tree (see Tracked).
    if (!isClosedRequest(this.kind, element))
      this.remember(
        hash,
        id,
        tracked,
        element,
        print,
        timeHash,
        frame?.length,
        tracked === undefined ? frame : undefined,
      );
    else if (tracked) this.drop(tracked);
    return { method, data: element, previous, fingerprint: print };
  }

  /**
   * The first snapshot, or one received again after a reconnect. Returns what changed against the known
   * state (nothing for the first one) and replaces the known state with the snapshot.
   */
  applySnapshot(elements: Element[]): SnapshotDiff {
    const first = !this.hasSnapshot;
    const snapshot = ++this.snapshots;
    const diff = diffSnapshot(elements, {
      // The first snapshot changes nothing: it is what is known from now on.
      known: (id) => (first ? undefined : this.find(this.ids.hash(id), id)),
      same: (tracked, element) => this.sameTracked(tracked, element, fingerprint(element), timeHashOf(element)),
      previous: (tracked) => this.stateOf(tracked),
      compared: (id, element) => {
        const hash = this.ids.hash(id);
        let tracked = this.find(hash, id);
        if (!isClosedRequest(this.kind, element))
          tracked = this.remember(hash, id, tracked, element, fingerprint(element), timeHashOf(element));
        if (tracked) tracked.snapshot = snapshot;
      },
    });
    const changes: Change[] = first ? [] : diff.changes;
    const { shape, lookUpMissing } = TOPIC_KIND_DESCRIPTIONS[this.kind];
    if (!first && elements.length === 0 && shape === 'single') {
      // A single-object topic answers null when its object is gone or no longer visible: that is a deletion.
      for (const tracked of this.known.values()) {
        const element = this.stateOf(tracked);
        changes.push({ method: 'DELETE', data: element, previous: element });
      }
      this.known.clear();
      this.ids.clear();
      this.texts.clear();
      this.bytes = 0;
    }
    const missing: Element[] = [];
    if (!first && lookUpMissing === true && elements.length < this.snapshotLimit) {
      // A full snapshot proves nothing about older requests; a partial one means these left the open list. Read
      // through get(): the caller tells by identity whether a live event changed one meanwhile.
      for (const tracked of this.known.values()) if (tracked.snapshot !== snapshot) missing.push(this.readOf(tracked));
    }
    return { changes, missing };
  }

  /**
   * Keeps `frame`, the element's one-element frame, when given, else the element's tree. A snapshot's elements (at
   * most its limit) keep their trees: that costs little, and a JSON copy would not be exact (-0 comes back as 0).
   */
  private remember(
    hash: number,
    id: string,
    tracked: Tracked | undefined,
    element: Element,
    print: string | undefined,
    timeHash: number,
    size = estimateBytes(element),
    frame?: string,
  ): Tracked {
    const tree = frame === undefined ? element : undefined;
    if (tracked === undefined) {
      // A new element: a spare entry when there is one (retire emptied it).
      tracked = this.spares.take() ?? {
        idHash: 0,
        sameHash: undefined,
        older: undefined,
        newer: undefined,
        frame: undefined,
        tree: undefined,
        read: undefined,
        size: 0,
        hashPrint: undefined,
        id: undefined,
        timeHash: -1,
        chunk: undefined,
        at: -1,
        bytes: 0,
        snapshot: 0,
      };
      this.known.append(tracked);
      const crowded = this.ids.add(tracked, hash);
      if (crowded) this.drop(crowded);
    } else {
      // An update reuses the entry (one object less per event) and makes it the most recent.
      this.untrack(tracked);
      tracked.frame = undefined;
      tracked.read = undefined;
      this.known.touch(tracked);
    }
    tracked.tree = tree;
    tracked.size = size;
    tracked.hashPrint = timeHash < 0 ? print : undefined;
    // A text's id is not kept: it would be one more young string per new element (see id-index.ts).
    tracked.id = tree === undefined ? undefined : id;
    tracked.timeHash = timeHash;
    if (frame !== undefined && !this.texts.add(tracked, frame)) tracked.frame = frame;
    this.bytes += tracked.size;
    this.known.evictOver(this.maxTracked, this.evict);
    if (this.bytes <= this.maxBytes) return tracked;
    // Over the byte bound: the oldest go until a tenth of the room is free again (the newest element stays).
    const target = this.maxBytes * 0.9;
    for (let oldest = this.known.oldest; oldest !== undefined && this.bytes > target && oldest !== tracked;) {
      this.drop(oldest);
      oldest = this.known.oldest;
    }
    return tracked;
  }
}
