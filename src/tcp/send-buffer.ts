/**
 * Bytes written by the user and not yet acknowledged, as a queue of chunks.
 * Offset 0 is the oldest unacknowledged byte. Chunks are kept as given (no
 * copy on write when the caller hands over ownership); `slice` copies only
 * when a segment spans two chunks.
 */
import { concatBytes } from '../wire/bytes.ts';

export class SendBuffer {
  private chunks: Uint8Array[] = [];
  /** Offset of the first valid byte within chunks[0]. */
  private head = 0;
  private len = 0;
  /** Cursor cache for sequential slicing: chunk index and its starting offset. */
  private cursorIdx = 0;
  private cursorOff = 0;

  get length(): number {
    return this.len;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.len += data.length;
  }

  /** Drops `n` bytes from the front (they were acknowledged). */
  consume(n: number): void {
    if (n <= 0) return;
    if (n >= this.len) {
      this.chunks = [];
      this.head = 0;
      this.len = 0;
      this.cursorIdx = 0;
      this.cursorOff = 0;
      return;
    }
    this.len -= n;
    let removed = 0;
    while (n > 0) {
      const c = this.chunks[removed]!;
      const avail = c.length - this.head;
      if (n >= avail) {
        n -= avail;
        this.head = 0;
        removed++;
      } else {
        this.head += n;
        n = 0;
      }
    }
    if (removed > 0) this.chunks.splice(0, removed);
    this.cursorIdx = 0;
    this.cursorOff = 0;
  }

  /** `len` bytes starting at `offset` (a view when within one chunk, else a copy). */
  slice(offset: number, len: number): Uint8Array {
    if (len <= 0) return EMPTY;
    this.check(offset, len);
    const idx = this.seek(offset);
    const c = this.chunks[idx]!;
    const from = (idx === 0 ? this.head : 0) + (offset - this.cursorOff);
    if (from + len <= c.length) return c.subarray(from, from + len);
    return concatBytes(this.views(offset, len, Infinity)!);
  }

  /**
   * `len` bytes starting at `offset` as views of the chunks that hold them,
   * in order (no copy) — or null when that takes more than `maxParts`
   * views. For gather output: a segment spanning two reads goes out as two
   * views instead of a copy.
   */
  views(offset: number, len: number, maxParts: number): Uint8Array[] | null {
    if (len <= 0) return [];
    this.check(offset, len);
    const idx = this.seek(offset);
    const c = this.chunks[idx]!;
    const from = (idx === 0 ? this.head : 0) + (offset - this.cursorOff);
    if (from + len <= c.length) return [c.subarray(from, from + len)];
    const out: Uint8Array[] = [];
    let written = 0;
    let i = idx;
    let pos = from;
    while (written < len) {
      if (out.length === maxParts) return null;
      const ch = this.chunks[i]!;
      const take = Math.min(len - written, ch.length - pos);
      out.push(ch.subarray(pos, pos + take));
      written += take;
      i++;
      pos = 0;
    }
    return out;
  }

  private check(offset: number, len: number): void {
    if (offset < 0 || offset + len > this.len) {
      // A caller bug, never peer input: fail loudly rather than send wrong bytes.
      throw new RangeError(`SendBuffer.slice(${offset}, ${len}) outside 0..${this.len}`);
    }
  }

  /** The index of the chunk holding `offset`; leaves the cursor there (cursorOff: the chunk's first logical offset). */
  private seek(offset: number): number {
    // Find the chunk containing `offset`, starting from the cursor when possible.
    let idx = 0;
    let start = 0; // logical offset of chunks[idx][head-or-0]
    if (this.cursorIdx < this.chunks.length && this.cursorOff <= offset) {
      idx = this.cursorIdx;
      start = this.cursorOff;
    }
    for (;;) {
      const c = this.chunks[idx]!;
      const base = idx === 0 ? this.head : 0;
      const avail = c.length - base;
      if (offset < start + avail) break;
      start += avail;
      idx++;
    }
    this.cursorIdx = idx;
    this.cursorOff = start;
    return idx;
  }
}

export const EMPTY = new Uint8Array(0);
