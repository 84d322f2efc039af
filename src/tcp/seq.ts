/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4).
 *
 * "It is essential to remember that the actual sequence number space is
 * finite, though very large. This space ranges from 0 to 2**32 - 1. Since
 * the space is finite, all arithmetic dealing with sequence numbers must be
 * performed modulo 2**32."
 *
 * Inside a connection, sequence numbers are kept as signed 32-bit integers
 * (`x | 0`): V8 stores those untagged in the object, while half of all
 * unsigned 32-bit values would each need a heap box — a quarter of an idle
 * connection's memory. The wire carries them unsigned; convert with `>>> 0`
 * when emitting and `| 0` when a segment arrives. Never compare sequence
 * numbers with `<` or `===` across the two forms: use these functions, which
 * accept either. Tests use ISNs near 2^32 so that a raw comparison anywhere
 * fails a test.
 */

/** a + n, modulo 2^32 (as a signed 32-bit integer). */
export function seqAdd(a: number, n: number): number {
  return (a + n) | 0;
}

/** a == b modulo 2^32, whichever form (signed or unsigned) each is in. */
export function seqEq(a: number, b: number): boolean {
  return (a | 0) === (b | 0);
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
