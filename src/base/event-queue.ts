/**
 * A deterministic event queue: callbacks ordered by time, ties broken by
 * insertion order. Used by the in-memory links for packets in flight.
 */
import type { Instant } from './time.ts';

interface Item {
  t: Instant;
  n: number;
  fn: () => void;
}

export class EventQueue {
  private heap: Item[] = [];
  private counter = 0;

  get size(): number {
    return this.heap.length;
  }

  at(t: Instant, fn: () => void): void {
    const h = this.heap;
    const item: Item = { t, n: this.counter++, fn };
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(item, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = item;
  }

  nextAt(): Instant {
    return this.heap.length ? this.heap[0]!.t : Infinity;
  }

  /** Removes and returns the earliest callback due at or before `now`. */
  popDue(now: Instant): (() => void) | null {
    const h = this.heap;
    if (h.length === 0 || h[0]!.t > now) return null;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top.fn;
  }

  clear(): void {
    this.heap = [];
  }
}

function less(a: Item, b: Item): boolean {
  return a.t < b.t || (a.t === b.t && a.n < b.n);
}
