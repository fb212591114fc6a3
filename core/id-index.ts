// Entries found by an id that they do not keep. Why: a Map keyed by the id keeps one string per element, and in a
// flood of new requests each of those young strings is copied by V8's scavenger, promoted, and later reclaimed by
// a full collection (without them, the worst case went from 0.67 to 0.78 of the raw ceiling, side by side). A small
// integer hash of the id is no object at all. The owner tells which of the entries of one hash has the id: its
// element knows it (the tracker keeps the id string once the element's tree is held, which holds it anyway).

/** An entry of an IdIndex: the hash of its id, and the next entry of its slot (see IdIndex); only the index sets them. */
export interface Hashed<V> {
  idHash: number;
  sameHash: V | undefined;
}

/**
 * At most this many entries share a hash: a ninth pushes out the earliest of them. By chance, a new id shares the
 * hash of one of 5 000 held about once in 200 000; the bound keeps ids chosen to share one from making look-ups long.
 */
export const MAX_SAME_HASH = 8;

/** 32-bit FNV-1a of the id's UTF-16 code units from a per-index seed, cut to 30 bits: a small integer on every V8. */
export function seededHash(seed = (Math.random() * 0x1_0000_0000) >>> 0): (id: string) => number {
  const basis = (0x811c9dc5 ^ seed) | 0;
  return (id) => {
    let hash = basis;
    for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
    return hash & 0x3fff_ffff;
  };
}

// The table's first size, and its load: it doubles when it holds more entries than slots.
const MIN_SLOTS = 16;

/**
 * Entries by the low bits of their hash: one slot holds a chain of entries, through `sameHash`, the latest added first.
 * An array, not a Map of hashes: a look-up reads one slot (a Map's read its bucket and its entry, both long out of the
 * CPU's caches on an update, and adding and removing left holes it rehashed).
 */
export class IdIndex<V extends Hashed<V>> {
  private slots: Array<V | undefined> = new Array<V | undefined>(MIN_SLOTS).fill(undefined);
  private mask = MIN_SLOTS - 1;
  private count = 0;

  constructor(readonly hash: (id: string) => number = seededHash()) {}

  /**
   * The latest entry added whose hash shares this one's low bits; the others follow through `sameHash`. The owner
   * skips those of another `idHash`, and tells which of the rest has the id.
   */
  first(hash: number): V | undefined {
    return this.slots[hash & this.mask];
  }

  /** Adds an entry the index does not hold. Returns the one that must leave when MAX_SAME_HASH are over (see it). */
  add(entry: V, hash: number): V | undefined {
    const slot = hash & this.mask;
    entry.idHash = hash;
    entry.sameHash = this.slots[slot];
    this.slots[slot] = entry;
    let earliest = entry;
    let count = 0;
    for (let other: V | undefined = entry; other !== undefined; other = other.sameHash) {
      if (other.idHash !== hash) continue;
      earliest = other;
      count += 1;
    }
    if (++this.count > this.slots.length) this.grow();
    return count > MAX_SAME_HASH ? earliest : undefined;
  }

  /** Removes a held entry. */
  remove(entry: V): void {
    const slot = entry.idHash & this.mask;
    const head = this.slots[slot];
    if (head === entry) this.slots[slot] = entry.sameHash;
    else {
      for (let before = head; before !== undefined; before = before.sameHash) {
        if (before.sameHash !== entry) continue;
        before.sameHash = entry.sameHash;
        break;
      }
    }
    entry.sameHash = undefined;
    this.count -= 1;
  }

  clear(): void {
    this.slots = new Array<V | undefined>(MIN_SLOTS).fill(undefined);
    this.mask = MIN_SLOTS - 1;
    this.count = 0;
  }

  /** Twice the slots, each chain split between two, each in its order. */
  private grow(): void {
    const old = this.slots;
    this.slots = new Array<V | undefined>(old.length * 2).fill(undefined);
    this.mask = this.slots.length - 1;
    const chain: V[] = [];
    for (let head of old) {
      for (; head !== undefined; head = head.sameHash) chain.push(head);
      // The earliest first, each put before the ones already there: the latest ends up first again.
      for (let i = chain.length - 1; i >= 0; i--) {
        const entry = chain[i];
        const slot = entry.idHash & this.mask;
        entry.sameHash = this.slots[slot];
        this.slots[slot] = entry;
      }
      chain.length = 0;
    }
  }
}
