/**
 * One timer structure for all connections of a stack: an indexed binary
 * min-heap with at most one entry per owner.
 *
 * Re-arming later (the common case: every ACK pushes the RTO out) costs
 * nothing — the entry stays where it is and fires early; the stack then asks
 * the owner for its real deadline and re-keys it (a no-op `onTimeout`).
 * Arming earlier is O(log n); the earliest deadline is O(1).
 */
import type { Instant } from '../base/time.ts';

export interface TimerEntry {
  /** Position in the heap, -1 when not scheduled. */
  heapIndex: number;
  /** The deadline this entry is filed under. */
  timerAt: Instant;
}

export class TimerHeap<T extends TimerEntry> {
  private heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** Files `e` under `at` if that is earlier than its current key (or it is not filed). */
  schedule(e: T, at: Instant): void {
    if (at === Infinity) return;
    if (e.heapIndex < 0) {
      e.timerAt = at;
      e.heapIndex = this.heap.length;
      this.heap.push(e);
      this.up(e.heapIndex);
    } else if (at < e.timerAt) {
      e.timerAt = at;
      this.up(e.heapIndex);
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
    const old = e.timerAt;
    e.timerAt = at;
    if (at < old) this.up(e.heapIndex);
    else this.down(e.heapIndex);
  }

  remove(e: T): void {
    const i = e.heapIndex;
    if (i < 0) return;
    const last = this.heap.pop()!;
    e.heapIndex = -1;
    if (last !== e) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.up(i);
      this.down(last.heapIndex);
    }
  }

  /** The earliest entry, if any. */
  peek(): T | undefined {
    return this.heap[0];
  }

  nextAt(): Instant {
    return this.heap.length ? this.heap[0]!.timerAt : Infinity;
  }

  private up(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = h[p]!;
      if (pe.timerAt <= e.timerAt) break;
      h[i] = pe;
      pe.heapIndex = i;
      i = p;
    }
    h[i] = e;
    e.heapIndex = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.timerAt < h[l]!.timerAt ? r : l;
      const ce = h[c]!;
      if (ce.timerAt >= e.timerAt) break;
      h[i] = ce;
      ce.heapIndex = i;
      i = c;
    }
    h[i] = e;
    e.heapIndex = i;
  }
}
