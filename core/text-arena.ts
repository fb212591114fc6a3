// Texts kept for long, as UTF-8 bytes in reused buffers instead of as strings. Why: a string that outlives V8's
// young generation is copied by the scavenger, promoted, and then reclaimed by a full collection on fresh pages; a
// flood of new requests, each kept as its frame's text until evicted, spent about half the core's CPU time there.
// Bytes written once into a buffer that is used again cost one copy.

/** A buffer of the arena: texts are appended to the newest; `held` counts the bytes of those not released. */
export class ArenaChunk {
  top = 0;
  held = 0;
  /** The slots given bytes here, in order, each with the offset it had then (released or moved ones are skipped). */
  readonly slots: ArenaSlot[] = [];
  readonly offsets: number[] = [];

  constructor(readonly bytes: Uint8Array) {}
}

/** Where a kept text is: `at` is -1 when the arena does not hold it. The arena owns these fields. */
export interface ArenaSlot {
  chunk: ArenaChunk | undefined;
  at: number;
  bytes: number;
}

// A longer text stays a string: the arena would gain it nothing (large strings are not copied by the scavenger).
const MAX_TEXT_LENGTH = 64 * 1024;
const CHUNK_BYTES = 64 * 1024;
// A topic that holds little gets small chunks: twice what it holds, from this size up.
const MIN_CHUNK_BYTES = 4 * 1024;
// Emptied chunks kept for reuse: a new buffer is fresh memory the system maps page by page as it is first written.
// At least two; more for an arena that holds much: the tracker evicts a tenth of its elements at once, and their
// chunks come back together (about six at the default bound), to be written again by the next new elements.
const MIN_SPARE_CHUNKS = 2;
const SPARE_SHARE_OF_HELD = 1 / 8;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true }); // a text is given back as it came, BOM or not

/** A string without lone surrogates (which UTF-8 cannot carry: they would come back as U+FFFD). */
const isWellFormed = (text: string): boolean =>
  (text as unknown as { isWellFormed?: () => boolean }).isWellFormed?.() === true;

/**
 * Appends texts to the newest of its chunks. A chunk whose texts are all released is dropped (kept as a spare), so
 * texts released in the order they came (the tracker's evictions) are never copied. When the chunks hold more than
 * twice the bytes held plus two chunks, the texts of the emptiest one move to the newest and it is dropped: the
 * arena stays within that bound whatever the order of releases.
 */
export class TextArena {
  private readonly chunks: ArenaChunk[] = [];
  private readonly spares: Uint8Array[] = [];
  private held = 0;
  private allocated = 0;

  /** Bytes of the texts held. */
  get heldBytes(): number {
    return this.held;
  }

  /** Bytes of the emptied chunks kept for reuse. */
  get spareBytes(): number {
    return this.spares.reduce((sum, spare) => sum + spare.length, 0);
  }

  /** Bytes of the chunks in use (spares not counted). */
  get capacity(): number {
    return this.allocated;
  }

  /** Keeps `text` in `slot` (which holds nothing here); false when the text is better kept as a string. */
  add(slot: ArenaSlot, text: string): boolean {
    if (text.length > MAX_TEXT_LENGTH) return false;
    let chunk = this.newest;
    // A byte a character at the least (ASCII); if the text takes more and does not fit, it goes to a new chunk.
    if (chunk === undefined || chunk.top + text.length > chunk.bytes.length) chunk = this.newChunk(text.length);
    let { read, written } = encoder.encodeInto(text, chunk.bytes.subarray(chunk.top));
    if (read < text.length) {
      chunk = this.newChunk(text.length * 3); // UTF-8 bytes per UTF-16 code unit, at most
      ({ read, written } = encoder.encodeInto(text, chunk.bytes.subarray(chunk.top)));
    }
    // A text of ASCII only is written byte for byte; any other is checked for what UTF-8 would change.
    if (written !== text.length && !isWellFormed(text)) return false;
    this.place(slot, chunk, written);
    this.held += written;
    return true;
  }

  read(slot: ArenaSlot): string {
    const { chunk, at, bytes } = slot as ArenaSlot & { chunk: ArenaChunk };
    return decoder.decode(chunk.bytes.subarray(at, at + bytes));
  }

  release(slot: ArenaSlot): void {
    const chunk = slot.chunk;
    if (chunk === undefined) return;
    slot.chunk = undefined;
    slot.at = -1;
    chunk.held -= slot.bytes;
    this.held -= slot.bytes;
    if (chunk.held === 0) this.empty(chunk);
    else if (this.allocated > 2 * this.held + 2 * CHUNK_BYTES) this.evacuateEmptiest();
  }

  /** Forgets every text. */
  clear(): void {
    this.held = 0;
    for (const chunk of [...this.chunks]) {
      for (const slot of chunk.slots) {
        slot.chunk = undefined;
        slot.at = -1;
      }
      chunk.held = 0;
      this.empty(chunk);
    }
  }

  private get newest(): ArenaChunk | undefined {
    return this.chunks[this.chunks.length - 1];
  }

  /** A new newest chunk with at least `needed` bytes (the newest so far is dropped if it holds nothing). */
  private newChunk(needed: number): ArenaChunk {
    const newest = this.newest;
    if (newest !== undefined && newest.held === 0) this.drop(newest);
    const size = Math.max(needed, Math.min(CHUNK_BYTES, Math.max(MIN_CHUNK_BYTES, 2 * this.held)));
    const spare = size <= CHUNK_BYTES ? this.spares.pop() : undefined;
    const chunk = new ArenaChunk(spare ?? new Uint8Array(size));
    this.chunks.push(chunk);
    this.allocated += chunk.bytes.length;
    return chunk;
  }

  private place(slot: ArenaSlot, chunk: ArenaChunk, bytes: number): void {
    slot.chunk = chunk;
    slot.at = chunk.top;
    slot.bytes = bytes;
    chunk.top += bytes;
    chunk.held += bytes;
    chunk.slots.push(slot);
    chunk.offsets.push(slot.at);
  }

  /** A chunk with nothing held: the newest is written again from its start, any other dropped. */
  private empty(chunk: ArenaChunk): void {
    chunk.top = 0;
    chunk.slots.length = 0;
    chunk.offsets.length = 0;
    if (chunk !== this.newest) this.drop(chunk);
  }

  private drop(chunk: ArenaChunk): void {
    this.chunks.splice(this.chunks.indexOf(chunk), 1);
    this.allocated -= chunk.bytes.length;
    if (chunk.bytes.length === CHUNK_BYTES) this.spares.push(chunk.bytes);
    // Fewer as the arena holds less.
    const maxSpares = Math.max(MIN_SPARE_CHUNKS, Math.ceil((this.held * SPARE_SHARE_OF_HELD) / CHUNK_BYTES));
    if (this.spares.length > maxSpares) this.spares.length = maxSpares;
  }

  /** Moves the texts of the emptiest chunk but the newest to the newest, and drops it. */
  private evacuateEmptiest(): void {
    let emptiest: ArenaChunk | undefined;
    for (let i = 0; i < this.chunks.length - 1; i++) {
      const chunk = this.chunks[i];
      if (emptiest === undefined || chunk.held / chunk.bytes.length < emptiest.held / emptiest.bytes.length)
        emptiest = chunk;
    }
    if (emptiest === undefined) return;
    const { slots, offsets, bytes } = emptiest;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (slot.chunk !== emptiest || slot.at !== offsets[i]) continue; // released, or listed again later
      let to = this.newest as ArenaChunk;
      if (to.top + slot.bytes > to.bytes.length) to = this.newChunk(slot.bytes);
      to.bytes.set(bytes.subarray(slot.at, slot.at + slot.bytes), to.top);
      this.place(slot, to, slot.bytes);
    }
    emptiest.held = 0;
    this.empty(emptiest);
  }
}
