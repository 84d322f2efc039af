/**
 * The Internet checksum (RFC 1071) and its helpers: the IPv4 pseudo-header
 * sum for TCP (RFC 9293 §3.1) and incremental update (RFC 1624).
 *
 * This is the one per-byte loop of the stack, so it is written for speed:
 *
 * - Buffers of 256 bytes or more are summed as 32-bit words through a
 *   `Uint32Array` view of the aligned middle part, 8 words per iteration,
 *   accumulating in a plain JS number (exact to 2^53, so the sum is folded
 *   only once per 4 MiB).
 * - A 32-bit word read in the platform's byte order gives the bytes at even
 *   and odd absolute addresses weights 1 and 256 (mod 0xffff) on a
 *   little-endian machine. The Internet checksum wants weight 256 for the
 *   bytes at even distance from `start`. Since 256 * 256 = 65536 ≡ 1
 *   (mod 0xffff), the two conventions differ by a factor of 256 at most, that
 *   is, by a byte swap of the folded 16-bit sum (RFC 1071 §2(B), "byte order
 *   independence"). Odd start offsets, odd lengths and unaligned views are
 *   therefore handled exactly.
 * - Short buffers (headers) use a byte loop that sums the high and the low
 *   bytes separately, to avoid the cost of creating a view.
 *
 * Folding uses the end-around carry, so a non-zero sum never folds to 0 and
 * the result always equals the naive RFC 1071 algorithm bit for bit.
 */

/** Whether the platform stores the low byte of a word first (it does on every current Node target). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Below this many bytes the byte loop is faster than creating a `Uint32Array` view. */
const WORD_PATH_MIN = 256;

/** Words summed between folds: 2^20 words of up to 2^32 each stay below 2^53. */
const WORDS_PER_FOLD = 1 << 20;

/**
 * Folds a non-negative integer (up to 2^53) to 16 bits with end-around
 * carry. The result is 0 only for 0; otherwise it is in 1..0xffff.
 */
export function fold16(sum: number): number {
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** Byte loop: the big-endian word sum of `buf[start..end)`, unfolded. */
function sumBytes(buf: Uint8Array, start: number, end: number): number {
  let hi = 0;
  let lo = 0;
  let i = start;
  const end16 = end - ((end - start) & 15);
  for (; i < end16; i += 16) {
    hi += buf[i]! + buf[i + 2]! + buf[i + 4]! + buf[i + 6]! + buf[i + 8]! + buf[i + 10]! + buf[i + 12]! + buf[i + 14]!;
    lo += buf[i + 1]! + buf[i + 3]! + buf[i + 5]! + buf[i + 7]! + buf[i + 9]! + buf[i + 11]! + buf[i + 13]! + buf[i + 15]!;
  }
  for (; i + 1 < end; i += 2) {
    hi += buf[i]!;
    lo += buf[i + 1]!;
  }
  // RFC 1071 §4.1: an odd trailing byte is padded with a zero byte on the right.
  if (i < end) hi += buf[i]!;
  return hi * 256 + lo;
}

/**
 * Word path: the sum of `buf[start..end)` in native-word convention, folded
 * to 16 bits and converted to the big-endian convention.
 */
function sumWords(buf: Uint8Array, start: number, end: number): number {
  const base = buf.byteOffset;
  // In little-endian word convention a byte at an odd absolute address weighs 256.
  let s = 0;
  let i = start;
  let addr = base + start;
  while ((addr & 3) !== 0) {
    s += (addr & 1) === 0 ? buf[i]! : buf[i]! << 8;
    i++;
    addr++;
  }
  let words = (end - i) >>> 2;
  const view = new Uint32Array(buf.buffer, addr, words);
  i += words << 2;
  let w = 0;
  while (words > 0) {
    const chunk = words < WORDS_PER_FOLD ? words : WORDS_PER_FOLD;
    const stop = w + chunk;
    const stop8 = stop - (chunk & 7);
    let a = 0;
    for (; w < stop8; w += 8) {
      a += view[w]! + view[w + 1]! + view[w + 2]! + view[w + 3]! + view[w + 4]! + view[w + 5]! + view[w + 6]! + view[w + 7]!;
    }
    for (; w < stop; w++) a += view[w]!;
    s = fold16(s + fold16(a));
    words -= chunk;
  }
  addr = base + i;
  for (; i < end; i++, addr++) s += (addr & 1) === 0 ? buf[i]! : buf[i]! << 8;
  let f = fold16(s);
  // Little-endian words give bytes at even addresses weight 1; RFC 1071 gives
  // the byte at `start` weight 256. Swap when `start` is at an even address.
  if (((base + start) & 1) === 0) f = ((f & 0xff) << 8) | (f >>> 8);
  return f;
}

/**
 * The ones'-complement sum of the 16-bit big-endian words of
 * `buf[start..end)` added to `acc`, not complemented and only partially
 * folded (RFC 1071 §4.1 "sum"). An odd final byte is padded with a zero.
 *
 * The result is a non-negative integer that is congruent (mod 0xffff) to
 * `acc` plus the word sum, and is 0 only if both are 0. To chain several
 * ranges, every range but the last must have an even length.
 */
export function sum16(buf: Uint8Array, start: number, end: number, acc = 0): number {
  if (end - start < WORD_PATH_MIN || !LITTLE_ENDIAN) return acc + fold16(sumBytes(buf, start, end));
  return acc + sumWords(buf, start, end);
}

/**
 * The Internet checksum (RFC 1071) of `buf[start..end)`: the ones'
 * complement of the ones'-complement sum of its 16-bit words, plus `initial`
 * (e.g. a pseudo-header sum). Returns a 16-bit value. Verifying a received
 * header or segment that includes its checksum field yields 0.
 */
export function checksum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  return ~fold16(sum16(buf, start, end, initial)) & 0xffff;
}

/**
 * The sum of the TCP/UDP pseudo-header over IPv4 (RFC 9293 §3.1): source and
 * destination addresses, zero, protocol, and the TCP length (header plus data).
 */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + (length & 0xffff);
}

/**
 * Updates a checksum after one 16-bit word of the covered data changed from
 * `oldWord` to `newWord`, without touching the data (RFC 1624 §3, eqn. 3:
 * HC' = ~(~HC + ~m + m')).
 */
export function incrementalUpdate16(oldChecksum: number, oldWord: number, newWord: number): number {
  const sum = (~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold16(sum) & 0xffff;
}
