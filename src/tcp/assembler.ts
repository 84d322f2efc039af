/**
 * Out-of-order reassembly (RFC 9293 §3.10.7.4, "segments with higher
 * beginning sequence numbers SHOULD be held for later processing").
 *
 * Holds segments beyond RCV.NXT as sorted, non-overlapping pieces. Memory is
 * bounded: at most `maxBytes` bytes and `maxRanges` disjoint ranges (holes
 * are what cost bookkeeping; contiguous pieces are cheap); an insert that
 * would exceed either is refused (the caller counts the drop, and the peer
 * retransmits). Data already held wins over a later overlapping copy.
 *
 * Sequence numbers are compared relative to a base (RCV.NXT) so wrap-around
 * is harmless.
 */
import { seqDiff, seqAdd } from './seq.ts';

interface Piece {
  /** Sequence number of data[0]. */
  seq: number;
  data: Uint8Array;
}

export class Assembler {
  private pieces: Piece[] = [];
  private bytes = 0;
  /** The first range of the last insert that was already held (for D-SACK), or null. */
  lastDuplicate: [number, number] | null = null;

  constructor(
    private readonly maxBytes: number,
    private readonly maxRanges: number,
  ) {}

  get byteCount(): number {
    return this.bytes;
  }

  get pieceCount(): number {
    return this.pieces.length;
  }

  /** Disjoint ranges held (adjacent pieces form one range). */
  get rangeCount(): number {
    return this.ranges_;
  }

  private ranges_ = 0;

  get isEmpty(): boolean {
    return this.pieces.length === 0;
  }

  /**
   * Stores `data` (starting at `seq`, which is after `base` = RCV.NXT),
   * keeping only the bytes not already held. Returns false when the limits
   * refuse it (nothing is stored then).
   */
  insert(base: number, seq: number, data: Uint8Array): boolean {
    let start = seqDiff(seq, base);
    let end = start + data.length;
    if (end <= 0) return true;
    if (start < 0) {
      data = data.subarray(-start);
      seq = base;
      start = 0;
    }
    // Split the new data into the parts not covered by existing pieces.
    const fresh: Piece[] = [];
    let cur = start;
    this.lastDuplicate = null;
    for (const p of this.pieces) {
      const ps = seqDiff(p.seq, base);
      const pe = ps + p.data.length;
      if (pe <= cur) continue;
      if (ps >= end) break;
      if (!this.lastDuplicate) this.lastDuplicate = [seqAdd(base, Math.max(ps, cur)), seqAdd(base, Math.min(pe, end))];
      if (ps > cur) fresh.push({ seq: seqAdd(base, cur), data: data.subarray(cur - start, ps - start) });
      cur = Math.max(cur, pe);
      if (cur >= end) break;
    }
    if (cur < end) fresh.push({ seq: seqAdd(base, cur), data: data.subarray(cur - start, end - start) });
    if (fresh.length === 0) return true;
    let add = 0;
    for (const f of fresh) add += f.data.length;
    if (this.bytes + add > this.maxBytes || this.ranges_ + fresh.length > this.maxRanges + this.adjacencies(base, fresh)) return false;
    // Copy out of the packet buffer: held data outlives the segment.
    for (const f of fresh) {
      f.data = f.data.slice();
      this.insertSorted(base, f);
    }
    this.bytes += add;
    return true;
  }

  private insertSorted(base: number, piece: Piece): void {
    const key = seqDiff(piece.seq, base);
    let i = this.pieces.length;
    while (i > 0 && seqDiff(this.pieces[i - 1]!.seq, base) > key) i--;
    this.pieces.splice(i, 0, piece);
    const prev = this.pieces[i - 1];
    const next = this.pieces[i + 1];
    this.ranges_ += 1 - (prev && seqAdd(prev.seq, prev.data.length) === piece.seq ? 1 : 0) - (next && seqAdd(piece.seq, piece.data.length) === next.seq ? 1 : 0);
  }

  /** How many of `fresh`'s pieces would join an existing range (an upper bound on ranges saved). */
  private adjacencies(base: number, fresh: Piece[]): number {
    let n = 0;
    for (const f of fresh) {
      const start = seqDiff(f.seq, base);
      const end = start + f.data.length;
      for (const p of this.pieces) {
        const ps = seqDiff(p.seq, base);
        if (ps + p.data.length === start || ps === end) {
          n++;
          break;
        }
      }
    }
    return n;
  }

  /**
   * Removes and returns the pieces that now continue the stream at `rcvNxt`
   * (in order), dropping any held bytes that fall before it.
   */
  takeContiguous(rcvNxt: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.lastDuplicate = null;
    let next = rcvNxt;
    while (this.pieces.length > 0) {
      const p = this.pieces[0]!;
      const off = seqDiff(p.seq, next);
      if (off > 0) break;
      this.pieces.shift();
      this.bytes -= p.data.length;
      const nx = this.pieces[0];
      if (!(nx && seqAdd(p.seq, p.data.length) === nx.seq)) this.ranges_--;
      if (off < 0 && !this.lastDuplicate) {
        // Bytes held here were also delivered in order: a duplicate (D-SACK).
        this.lastDuplicate = [p.seq, seqAdd(p.seq, Math.min(-off, p.data.length))];
      }
      if (-off < p.data.length) {
        const d = p.data.subarray(-off);
        out.push(d);
        next = seqAdd(next, d.length);
      }
    }
    return out;
  }

  /** The held ranges merged, as [left, right) sequence pairs in order (for SACK). */
  ranges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const p of this.pieces) {
      const end = seqAdd(p.seq, p.data.length);
      const last = out[out.length - 1];
      if (last && last[1] === p.seq) last[1] = end;
      else out.push([p.seq, end]);
    }
    return out;
  }

  clear(): void {
    this.pieces = [];
    this.bytes = 0;
    this.ranges_ = 0;
  }
}
