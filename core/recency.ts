// Values kept in the order they were last touched, through links in the values themselves: a list the tracker finds
// its entries in by itself (see id-index.ts), and a map for the resume record. Both touch an entry on every event:
// with a plain Map's insertion order that was a delete and a set of the key (two more hash look-ups, and holes that
// make the map rehash); here it is a few pointer writes.

/** A value of a RecencyList: its neighbours in recency order, which only the list sets. */
export interface RecencyLinks<V> {
  older: V | undefined;
  newer: V | undefined;
}

/** A value of a RecencyMap: its key, and its links. */
export interface RecencyNode<K, V> extends RecencyLinks<V> {
  readonly key: K;
}

/**
 * Emptied nodes a bounded map's owner keeps for reuse (the tracker, the resume record): more than one eviction's
 * worth at the default bounds (5 000 evicts 500), so a flood of new elements allocates no node once evicting.
 */
const MAX_SPARE_NODES = 512;

/** The emptied nodes a RecencyMap's owner keeps for its next new values, at most MAX_SPARE_NODES. */
export class SpareNodes<V> {
  private readonly nodes: V[] = [];

  take(): V | undefined {
    return this.nodes.pop();
  }

  /** `node` must hold nothing of its element any more. */
  keep(node: V): void {
    if (this.nodes.length < MAX_SPARE_NODES) this.nodes.push(node);
  }
}

/** How many entries a bound of `max` keeps when it is passed: the oldest tenth goes at once. */
export const sizeAfterEviction = (max: number): number => Math.max(0, max - Math.ceil(max / 10));

/** Values in the order they were last touched, linked through the values themselves; the owner finds them. */
export class RecencyList<V extends RecencyLinks<V>> {
  private first: V | undefined;
  private last: V | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The least recently touched value. */
  get oldest(): V | undefined {
    return this.first;
  }

  /** Adds a value the list does not hold, as the most recent. */
  append(value: V): void {
    value.older = this.last;
    value.newer = undefined;
    if (this.last === undefined) this.first = value;
    else this.last.newer = value;
    this.last = value;
    this.count += 1;
  }

  /** Makes a held value the most recent. */
  touch(value: V): void {
    if (value === this.last) return;
    this.remove(value);
    this.append(value);
  }

  /** Removes a held value. */
  remove(value: V): void {
    const { older, newer } = value;
    if (older === undefined) this.first = newer;
    else older.newer = newer;
    if (newer === undefined) this.last = older;
    else newer.older = older;
    value.older = value.newer = undefined;
    this.count -= 1;
  }

  clear(): void {
    this.first = this.last = undefined;
    this.count = 0;
  }

  /** Oldest first. A loop may remove the value it was just given. */
  *values(): IterableIterator<V> {
    for (let value = this.first; value !== undefined;) {
      const newer = value.newer;
      yield value;
      value = newer;
    }
  }

  /** Over `max` values: the oldest tenth goes, each handed to `onEvict` first (see sizeAfterEviction). */
  evictOver(max: number, onEvict: (value: V) => void): void {
    if (this.count <= max) return;
    const keep = sizeAfterEviction(max);
    while (this.count > keep) {
      const oldest = this.first as V;
      onEvict(oldest);
      this.remove(oldest);
    }
  }
}

/** A RecencyList whose values are found by their keys. */
export class RecencyMap<K, V extends RecencyNode<K, V>> {
  private readonly map = new Map<K, V>();
  private readonly list = new RecencyList<V>();

  get size(): number {
    return this.map.size;
  }

  /** The least recently touched value. */
  get oldest(): V | undefined {
    return this.list.oldest;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Adds a value whose key is not held yet, as the most recent. */
  add(value: V): void {
    const size = this.map.size;
    this.map.set(value.key, value);
    if (this.map.size === size) throw new Error('RecencyMap.add: the key is held already');
    this.list.append(value);
  }

  /** Makes a held value the most recent. */
  touch(value: V): void {
    this.list.touch(value);
  }

  /** Removes a held value. */
  remove(value: V): void {
    this.map.delete(value.key);
    this.list.remove(value);
  }

  /** Oldest first. A loop may remove the value it was just given. */
  values(): IterableIterator<V> {
    return this.list.values();
  }
}
