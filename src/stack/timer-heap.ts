/**
 * One timer structure for all connections of a stack: an indexed binary
 * min-heap with at most one entry per owner.
 *
 * Re-arming later (the common case: every ACK pushes the RTO out) costs
 * nothing — the entry stays where it is and fires early; the stack then asks
 * the owner for its real deadline and re-keys it (a no-op `onTimeout`).
 * Arming earlier is O(log n); the earliest deadline is O(1).
 *
 * The keys live here, in an array beside the entries, not in the entries:
 * a deadline is a timestamp, past 2³¹ µs not a small integer, and as a
 * field of every connection it would cost each one a 16-byte heap number
 * (an array of numbers keeps them unboxed). An entry carries only its slot.
 */
import type { Instant } from '../base/time.ts';

export interface TimerEntry {
  /** Position in the heap, -1 when not scheduled. */
  heapIndex: number;
}

export class TimerHeap<T extends TimerEntry> {
  private heap: T[] = [];
  /** keys[i]: the deadline heap[i] is filed under. */
  private keys: Instant[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The deadline `e` is filed under (Infinity when it is not filed). */
  keyOf(e: T): Instant {
    return e.heapIndex < 0 ? Infinity : this.keys[e.heapIndex]!;
  }

  /** Files `e` under `at` if that is earlier than its current key (or it is not filed). */
  schedule(e: T, at: Instant): void {
    if (at === Infinity) return;
    if (e.heapIndex < 0) {
      this.heap.push(e);
      this.keys.push(at);
      this.up(this.heap.length - 1, e, at);
    } else if (at < this.keys[e.heapIndex]!) {
      this.up(e.heapIndex, e, at);
    }
  }

  /** Re-files `e` under exactly `at` (Infinity removes it). */
  reschedule(e: T, at: Instant): void {
    if (at === Infinity) {
      this.remove(e);
      return;
    }
    if (e.heapIndex < 0) {
      this.schedule(e, at);
      return;
    }
    const old = this.keys[e.heapIndex]!;
    if (at < old) this.up(e.heapIndex, e, at);
    else this.down(e.heapIndex, e, at);
  }

  remove(e: T): void {
    const i = e.heapIndex;
    if (i < 0) return;
    const last = this.heap.pop()!;
    const lastKey = this.keys.pop()!;
    e.heapIndex = -1;
    if (last !== e) {
      this.up(i, last, lastKey);
      this.down(last.heapIndex, last, lastKey);
    }
  }

  /** The earliest entry, if any. */
  peek(): T | undefined {
    return this.heap[0];
  }

  nextAt(): Instant {
    return this.keys.length ? this.keys[0]! : Infinity;
  }

  /** Places `e` with key `k` at slot `i` or above it. */
  private up(i: number, e: T, k: Instant): void {
    const h = this.heap;
    const keys = this.keys;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p]! <= k) break;
      const pe = h[p]!;
      h[i] = pe;
      keys[i] = keys[p]!;
      pe.heapIndex = i;
      i = p;
    }
    h[i] = e;
    keys[i] = k;
    e.heapIndex = i;
  }

  /** Places `e` with key `k` at slot `i` or below it. */
  private down(i: number, e: T, k: Instant): void {
    const h = this.heap;
    const keys = this.keys;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && keys[r]! < keys[l]! ? r : l;
      if (keys[c]! >= k) break;
      const ce = h[c]!;
      h[i] = ce;
      keys[i] = keys[c]!;
      ce.heapIndex = i;
      i = c;
    }
    h[i] = e;
    keys[i] = k;
    e.heapIndex = i;
  }
}
