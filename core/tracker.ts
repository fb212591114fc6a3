// Per-topic memory of the last known state of each element: the basis for dropping repeated
// snapshots, detecting changes made while disconnected, and giving each event its `previous`.
import { createHash } from 'node:crypto';
import { elementId } from './protocol';
import { TOPIC_KIND_DESCRIPTIONS } from './topic-kinds';
import { diffSnapshot, type Change } from './snapshot-diff';
import type { Element, Method, TopicKind } from './types';

export type { Change } from './snapshot-diff';

// A longer updatedAt is no timestamp: hashed like the content, so a record entry stays small.
const MAX_UPDATED_AT_LENGTH = 64;

/**
 * updatedAt when the server sets it (it changes on every change), else a hash of the content: SHA-1 from
 * node:crypto, which n8n's scanner allows. A plain-JS 64-bit hash was tried: over a 1 MB element it was several
 * times slower than native SHA-1 and made the 60 x 1 MB hostile-servers test time out.
 */
export function fingerprint(element: Element): string {
  const updatedAt = element.updatedAt;
  if (typeof updatedAt === 'string' && updatedAt && updatedAt.length <= MAX_UPDATED_AT_LENGTH) return `u:${updatedAt}`;
  return `h:${createHash('sha1').update(JSON.stringify(element)).digest('base64url')}`;
}

/** An element its kind calls closed (a request at status 1000 on the open-requests list): it leaves the tracker. */
export function isClosedRequest(kind: TopicKind, element: Element): boolean {
  const { closedStatus } = TOPIC_KIND_DESCRIPTIONS[kind];
  return closedStatus !== undefined && element.status === closedStatus;
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
  const target = Math.max(0, max - Math.ceil(max / 10));
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

/** What the tracker holds of an element: the element, its estimated size and its fingerprint, each measured once. */
interface Tracked {
  element: Element;
  size: number;
  print: string;
}

export class TopicTracker {
  /** Insertion order doubles as recency: an update moves the element to the end; the oldest is evicted first. */
  private readonly known = new Map<string, Tracked>();
  private bytes = 0;
  hasSnapshot = false;

  constructor(
    readonly kind: TopicKind,
    private readonly maxTracked: number,
    private readonly snapshotLimit: number,
    /** Bound on the estimated bytes held, with the same eviction as the count bound. */
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Estimated bytes of the elements held. */
  get estimatedBytes(): number {
    return this.bytes;
  }

  elements(): Element[] {
    return Array.from(this.known.values(), (tracked) => tracked.element);
  }

  get(id: string): Element | undefined {
    return this.known.get(id)?.element;
  }

  forget(id: string): void {
    const tracked = this.known.get(id);
    if (tracked === undefined) return;
    this.known.delete(id);
    this.bytes -= tracked.size;
  }

  /**
   * A live event. Returns the change to emit, or undefined when it repeats the known state.
   * Elements without an id cannot be tracked and are always emitted. `size`, when given, stands for the element's
   * estimateBytes (the connection passes the length of a one-element frame, so the element is not serialized again).
   * The change carries the element's fingerprint, computed here once for every holder's resume record.
   */
  applyLive(method: Method, element: Element, size?: number): Change | undefined {
    const id = elementId(element);
    if (id === undefined) return { method, data: element };
    const tracked = this.known.get(id);
    const previous = tracked?.element;
    if (method === 'DELETE') {
      this.forget(id);
      return { method, data: element, previous };
    }
    const print = fingerprint(element);
    if (tracked && sameTracked(tracked, element, print)) return undefined;
    if (isClosedRequest(this.kind, element)) this.forget(id);
    else this.remember(id, element, print, size);
    return { method, data: element, previous, fingerprint: print };
  }

  /**
   * The first snapshot, or one received again after a reconnect. Returns what changed against the known
   * state (nothing for the first one) and replaces the known state with the snapshot.
   */
  applySnapshot(elements: Element[]): SnapshotDiff {
    const first = !this.hasSnapshot;
    this.hasSnapshot = true;
    const diff = diffSnapshot(elements, {
      // The first snapshot changes nothing: it is what is known from now on.
      known: (id) => (first ? undefined : this.known.get(id)),
      same: (tracked, element) => sameTracked(tracked, element, fingerprint(element)),
      previous: (tracked) => tracked.element,
      compared: (id, element) => {
        if (!isClosedRequest(this.kind, element)) this.remember(id, element, fingerprint(element));
      },
    });
    const changes: Change[] = first ? [] : diff.changes;
    const inSnapshot = diff.present;
    const { shape, lookUpMissing } = TOPIC_KIND_DESCRIPTIONS[this.kind];
    if (!first && elements.length === 0 && shape === 'single') {
      // A single-object topic answers null when its object is gone or no longer visible: that is a deletion.
      for (const { element } of this.known.values())
        changes.push({ method: 'DELETE', data: element, previous: element });
      this.known.clear();
      this.bytes = 0;
    }
    const missing: Element[] = [];
    if (!first && lookUpMissing === true && elements.length < this.snapshotLimit) {
      // A full snapshot proves nothing about older requests; a partial one means these left the open list.
      for (const [id, { element }] of this.known) if (!inSnapshot.has(id)) missing.push(element);
    }
    return { changes, missing };
  }

  private remember(id: string, element: Element, print: string, size = estimateBytes(element)): void {
    // An update reuses the entry (one object less per event); delete and set move it to the end (recency).
    let tracked = this.known.get(id);
    if (tracked === undefined) tracked = { element, size, print };
    else {
      this.known.delete(id);
      this.bytes -= tracked.size;
      tracked.element = element;
      tracked.size = size;
      tracked.print = print;
    }
    this.known.set(id, tracked);
    this.bytes += size;
    evictOldest(this.known, this.maxTracked, (tracked) => (this.bytes -= tracked.size));
    if (this.bytes <= this.maxBytes) return;
    // Over the byte bound: the oldest go until a tenth of the room is free again (the newest element stays).
    const target = this.maxBytes * 0.9;
    for (const [oldest, tracked] of this.known) {
      if (this.bytes <= target || oldest === id) break;
      this.known.delete(oldest);
      this.bytes -= tracked.size;
    }
  }
}

/** sameState against a tracked element, whose fingerprint is already known; `print` is the new element's. */
function sameTracked(tracked: Tracked, element: Element, print: string): boolean {
  return tracked.print === print && JSON.stringify(tracked.element) === JSON.stringify(element);
}
