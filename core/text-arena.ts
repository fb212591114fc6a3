// Texts kept for long, as UTF-8 bytes in one reused buffer instead of as strings. Why: a string that outlives V8's
// young generation is copied by the scavenger, promoted, and then reclaimed by a full collection on fresh pages; a
// flood of new requests, each kept as its frame's text until evicted, spent about half the core's CPU time there.
// Bytes written once into a buffer that stays cost one copy.

/** Where a kept text is: `at` is -1 when the arena does not hold it. The arena owns both fields. */
export interface ArenaSlot {
  at: number;
  bytes: number;
}

// A longer text stays a string: the arena would gain it nothing (large strings are not copied by the scavenger).
const MAX_TEXT_LENGTH = 64 * 1024;
const MIN_CAPACITY = 4 * 1024;
// An arena left with nothing held gives back a buffer larger than this; a smaller one is kept for the next text.
const KEPT_WHEN_EMPTY = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A string without lone surrogates (which UTF-8 cannot carry: they would come back as U+FFFD). */
const isWellFormed = (text: string): boolean =>
  (text as unknown as { isWellFormed?: () => boolean }).isWellFormed?.() === true;

/**
 * Appends texts to one buffer; when it is full, slides the texts still held down over the released ones (in place),
 * or moves them to a new buffer when more than half of this one is held, or less than a quarter. So each byte is
 * copied about once more on average, and the buffer is at most 2.5 times what was held at its last compaction plus
 * one text (a large one is given back when nothing is held).
 */
export class TextArena {
  private buffer = new Uint8Array(0);
  private top = 0;
  private held = 0;
  /** The slots in the order of their bytes, each with the offset it had then (a slot released since is skipped). */
  private readonly slots: ArenaSlot[] = [];
  private readonly offsets: number[] = [];
  private heldCount = 0;

  /** Bytes of the texts held. */
  get heldBytes(): number {
    return this.held;
  }

  /** Bytes of the buffer. */
  get capacity(): number {
    return this.buffer.length;
  }

  /** Keeps `text` in `slot` (which holds nothing here); false when the text is better kept as a string. */
  add(slot: ArenaSlot, text: string): boolean {
    if (text.length > MAX_TEXT_LENGTH) return false;
    const most = text.length * 3; // UTF-8 bytes per UTF-16 code unit, at most
    if (this.top + most > this.buffer.length || this.slots.length > 2 * this.heldCount + 64) this.makeRoom(most);
    const { written } = encoder.encodeInto(text, this.buffer.subarray(this.top));
    // A text of ASCII only is written byte for byte; any other is checked for what UTF-8 would change.
    if (written !== text.length && !isWellFormed(text)) return false;
    slot.at = this.top;
    slot.bytes = written;
    this.top += written;
    this.held += written;
    this.heldCount += 1;
    this.slots.push(slot);
    this.offsets.push(slot.at);
    return true;
  }

  read(slot: ArenaSlot): string {
    return decoder.decode(this.buffer.subarray(slot.at, slot.at + slot.bytes));
  }

  release(slot: ArenaSlot): void {
    if (slot.at < 0) return;
    slot.at = -1;
    this.held -= slot.bytes;
    this.heldCount -= 1;
    if (this.heldCount === 0) this.empty();
  }

  /** Forgets every text. */
  clear(): void {
    for (const slot of this.slots) slot.at = -1;
    this.empty();
  }

  private empty(): void {
    this.top = this.held = this.heldCount = 0;
    this.slots.length = 0;
    this.offsets.length = 0;
    if (this.buffer.length > KEPT_WHEN_EMPTY) this.buffer = new Uint8Array(0);
  }

  /**
   * Compacts the texts held to the front, into this buffer or a new one, so that `needed` bytes fit. Also run when
   * most slots listed were released, so the list (and the released slots it keeps alive) stays within twice the held.
   */
  private makeRoom(needed: number): void {
    const wanted = 2 * (this.held + needed);
    const capacity = this.buffer.length;
    const resize = wanted > capacity || wanted * 2 < capacity;
    // A quarter more than wanted: what is held sways (a tenth is evicted at once, texts grow), and a new buffer is
    // fresh memory the system maps page by page as it is first written (a new request a frame paid for that).
    const target = resize ? new Uint8Array(Math.max(MIN_CAPACITY, Math.ceil(wanted * 1.25))) : this.buffer;
    let top = 0;
    let kept = 0;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i];
      const from = this.offsets[i];
      if (slot.at !== from) continue; // released, or listed again later
      if (target === this.buffer) target.copyWithin(top, from, from + slot.bytes);
      else target.set(this.buffer.subarray(from, from + slot.bytes), top);
      slot.at = top;
      this.slots[kept] = slot;
      this.offsets[kept] = top;
      kept += 1;
      top += slot.bytes;
    }
    this.slots.length = kept;
    this.offsets.length = kept;
    this.buffer = target;
    this.top = top;
  }
}
