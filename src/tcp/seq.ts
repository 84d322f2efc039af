/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).
 *
 * "It is essential to remember that the actual sequence number space is
 * finite, though very large. This space ranges from 0 to 2**32 - 1. Since
 * the space is finite, all arithmetic dealing with sequence numbers must be
 * performed modulo 2**32."
 *
 * Sequence numbers are plain unsigned 32-bit numbers. Never compare them with
 * `<` directly: use these functions. Tests use ISNs near 2^32 so that a raw
 * comparison anywhere fails a test.
 */

/** a + n, modulo 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance from b to a (a - b) in (-2^31, 2^31]. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b in sequence space. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b in sequence space. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** lo <= x < hi in sequence space (an empty range when lo == hi). */
export function seqInRange(x: number, lo: number, hi: number): boolean {
  return ((x - lo) | 0) >= 0 && ((x - hi) | 0) < 0;
}

/** The later of two sequence numbers. */
export function seqMax(a: number, b: number): number {
  return seqGe(a, b) ? a : b;
}

/** The earlier of two sequence numbers. */
export function seqMin(a: number, b: number): number {
  return seqLe(a, b) ? a : b;
}
