/**
 * Bytes written by the user and not yet acknowledged, as a queue of chunks.
 * Offset 0 is the oldest unacknowledged byte. Chunks are kept as given (no
 * copy on write when the caller hands over ownership); `slice` copies only
 * when a segment spans two chunks.
 *
 * A caller that must copy (a stream API whose user may reuse its buffer
 * once the write completes, as node:net allows) uses `pushCopy`: the bytes
 * go into 64 KiB blocks that are handed back to a shared pool once every
 * byte in them is acknowledged, instead of a fresh ArrayBuffer per write.
 * A fresh backing store costs far more than the copy into it (measured:
 * ~7.5 µs to allocate and fill 64 KiB, ~1.5 µs to fill a reused block),
 * and V8 runs a full garbage collection per 64 MB of new external memory.
 * A block whose bytes something else may keep for an unknown time — a
 * stack hook that saw the segment (the stack pins it) — is pinned
 * (`pinSendBytes`) and left to the garbage collector instead. A link that
 * writes payload views a little later (TUN/TAP gather output and
 * super-segments, written at the end of the turn) holds the pool instead
 * (`holdSendBlocks` … `releaseSendBlocks`): blocks released meanwhile wait
 * and go back only when no link holds. A link that copies at once (the
 * in-memory hub's super-segments) does neither.
 */
import { concatBytes } from '../wire/bytes.ts';

/** Size of a pooled block (pushCopy). */
export const SEND_BLOCK_BYTES = 65536;
/** Free blocks kept for reuse (4 MiB); beyond, released blocks go to the garbage collector. */
export const SEND_POOL_MAX_BLOCKS = 64;

const freeBlocks: Uint8Array[] = [];
/** The ArrayBuffers of pooled blocks. */
const blockBuffers = new WeakSet<ArrayBufferLike>();
/** Blocks some view of which may outlive their acknowledgement: never reused. */
const pinnedBuffers = new WeakSet<ArrayBufferLike>();

/**
 * Marks the storage behind `view` as referenced beyond the send buffer's
 * own use (a payload view kept by a link or a hook): if it is a pooled
 * block, it is never handed back to the pool.
 */
export function pinSendBytes(view: Uint8Array): void {
  const b = view.buffer;
  if (blockBuffers.has(b)) pinnedBuffers.add(b);
}

/** Links that hold payload views of pooled blocks until their write (holdSendBlocks). */
let holders = 0;
/** Blocks released while a link held the pool: back to it once none does. */
const deferred: Uint8Array[] = [];

/**
 * A link queued payload views of the send buffer for a write later in this
 * turn: until the matching `releaseSendBlocks`, no block is handed back to
 * the pool (an acknowledgement processed meanwhile could otherwise let a
 * new write overwrite bytes still to be written). Counted: each hold needs
 * one release.
 */
export function holdSendBlocks(): void {
  holders++;
}

/** The link wrote (or dropped) what it queued: blocks released meanwhile go back to the pool once no link holds. */
export function releaseSendBlocks(): void {
  if (holders === 0) return;
  holders--;
  if (holders !== 0 || deferred.length === 0) return;
  for (const b of deferred) if (freeBlocks.length < SEND_POOL_MAX_BLOCKS) freeBlocks.push(b);
  deferred.length = 0;
}

/** Free blocks now in the pool (tests, stats). */
export function sendPoolFreeBlocks(): number {
  return freeBlocks.length;
}

/** Empties the pool (an idle process giving memory back). */
export function trimSendPool(): void {
  freeBlocks.length = 0;
  deferred.length = 0;
}

function takeBlock(): Uint8Array {
  const b = freeBlocks.pop();
  if (b !== undefined) return b;
  const fresh = new Uint8Array(SEND_BLOCK_BYTES);
  blockBuffers.add(fresh.buffer);
  return fresh;
}

export class SendBuffer {
  private chunks: Uint8Array[] = [];
  /** The pooled block pushCopy writes into, and how far it is written. */
  private tail: Uint8Array | null = null;
  private tailEnd = 0;
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

  /**
   * Appends a copy of `data` (the caller keeps its buffer), in pooled
   * blocks: runs of copies share a chunk per block.
   */
  pushCopy(data: Uint8Array): void {
    let off = 0;
    const total = data.length;
    while (off < total) {
      let blk = this.tail;
      if (blk === null || this.tailEnd === SEND_BLOCK_BYTES) {
        blk = this.tail = takeBlock();
        this.tailEnd = 0;
      }
      const start = this.tailEnd;
      const n = Math.min(SEND_BLOCK_BYTES - start, total - off);
      blk.set(off === 0 && n === total ? data : data.subarray(off, off + n), start);
      const last = this.chunks.length - 1;
      const lc = last >= 0 ? this.chunks[last]! : null;
      if (lc !== null && lc.buffer === blk.buffer && lc.byteOffset + lc.length === start) {
        this.chunks[last] = blk.subarray(lc.byteOffset, start + n);
      } else {
        this.chunks.push(blk.subarray(start, start + n));
      }
      this.tailEnd = start + n;
      this.len += n;
      off += n;
    }
  }

  /** A chunk left the buffer: a full pooled block nothing else references goes back to the pool. */
  private release(c: Uint8Array): void {
    if (c.byteOffset + c.length !== SEND_BLOCK_BYTES) return;
    const b = c.buffer;
    if (!blockBuffers.has(b) || pinnedBuffers.has(b)) return;
    if (this.tail !== null && this.tail.buffer === b) this.tail = null;
    if (holders !== 0) {
      if (deferred.length < SEND_POOL_MAX_BLOCKS) deferred.push(new Uint8Array(b));
    } else if (freeBlocks.length < SEND_POOL_MAX_BLOCKS) freeBlocks.push(new Uint8Array(b));
  }

  /** Drops `n` bytes from the front (they were acknowledged). */
  consume(n: number): void {
    if (n <= 0) return;
    if (n >= this.len) {
      if (this.tail !== null) for (const c of this.chunks) this.release(c);
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
    if (removed > 0) {
      if (this.tail !== null) for (let i = 0; i < removed; i++) this.release(this.chunks[i]!);
      this.chunks.splice(0, removed);
    }
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
