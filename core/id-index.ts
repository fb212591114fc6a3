// Entries found by an id that they do not keep. Why: a Map keyed by the id keeps one string per element, and in a
// flood of new requests each of those young strings is copied by V8's scavenger, promoted, and later reclaimed by
// a full collection (without them, the worst case went from 0.67 to 0.78 of the raw ceiling, side by side). A small
// integer hash of the id is no object at all. The owner tells which of the entries of one hash has the id: its
// element knows it (the tracker keeps the id string once the element's tree is held, which holds it anyway).

/** An entry of an IdIndex: the hash of its id, and the next entry of the same hash; only the index sets them. */
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

export class IdIndex<V extends Hashed<V>> {
  /** The latest entry added for each hash; the others follow through `sameHash`. */
  private readonly heads = new Map<number, V>();

  constructor(readonly hash: (id: string) => number = seededHash()) {}

  /** The latest entry added of this hash; the others follow through `sameHash`. The owner tells which has the id. */
  first(hash: number): V | undefined {
    return this.heads.get(hash);
  }

  /** Adds an entry the index does not hold. Returns the one that must leave when MAX_SAME_HASH are over (see it). */
  add(entry: V, hash: number): V | undefined {
    entry.idHash = hash;
    entry.sameHash = this.heads.get(hash);
    this.heads.set(hash, entry);
    let earliest = entry;
    let count = 1;
    while (earliest.sameHash !== undefined) {
      earliest = earliest.sameHash;
      count += 1;
    }
    return count > MAX_SAME_HASH ? earliest : undefined;
  }

  /** Removes a held entry. */
  remove(entry: V): void {
    const head = this.heads.get(entry.idHash);
    if (head === entry) {
      if (entry.sameHash === undefined) this.heads.delete(entry.idHash);
      else this.heads.set(entry.idHash, entry.sameHash);
    } else {
      for (let before = head; before !== undefined; before = before.sameHash) {
        if (before.sameHash !== entry) continue;
        before.sameHash = entry.sameHash;
        break;
      }
    }
    entry.sameHash = undefined;
  }

  clear(): void {
    this.heads.clear();
  }
}
