/**
 * Position-addressed stream content for the simulator: byte `i` of a stream
 * is a pure function of the stream's seed and `i`, so a receiver verifies
 * any chunk at any offset without the sender's help, and a byte delivered
 * twice, late or out of place cannot match by accident (the seed includes
 * the sender's ISS, so two incarnations of one 4-tuple differ).
 */

import type { IpAddr } from '../../wire/ipv6.ts';

/** An address as one word: IPv4 as it is, IPv6 mixed group by group. */
function addrMix(a: IpAddr): number {
  if (typeof a === 'number') return a >>> 0;
  let h = 0x6a09e667;
  for (let i = 0; i < 8; i++) h = mix32(h ^ a.charCodeAt(i));
  return h;
}

/** A 32-bit avalanche mix (murmur3 finalizer). */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The seed of the stream a sender at `src:sport` with ISS `iss` sends to `dst:dport`. */
export function streamSeed(src: IpAddr, sport: number, dst: IpAddr, dport: number, iss: number): number {
  let h = mix32(addrMix(src) ^ 0x9e3779b9);
  h = mix32(h ^ Math.imul(sport + 1, 0x27d4eb2f));
  h = mix32(h ^ addrMix(dst));
  h = mix32(h ^ Math.imul(dport + 1, 0x165667b1));
  return mix32(h ^ (iss >>> 0));
}

/** Byte `off` of stream `seed`. */
export function streamByte(seed: number, off: number): number {
  const w = mix32(seed ^ Math.imul((off / 4) >>> 0, 0x9e3779b1));
  return (w >>> ((off & 3) << 3)) & 0xff;
}

/** `n` bytes of stream `seed` from offset `off`. */
export function streamBytes(seed: number, off: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let i = 0;
  // Byte-by-byte up to a word boundary, then whole words.
  while (i < n && ((off + i) & 3) !== 0) {
    out[i] = streamByte(seed, off + i);
    i++;
  }
  for (; i + 4 <= n; i += 4) {
    const w = mix32(seed ^ Math.imul(((off + i) / 4) >>> 0, 0x9e3779b1));
    out[i] = w & 0xff;
    out[i + 1] = (w >>> 8) & 0xff;
    out[i + 2] = (w >>> 16) & 0xff;
    out[i + 3] = w >>> 24;
  }
  for (; i < n; i++) out[i] = streamByte(seed, off + i);
  return out;
}

/** The index in `chunk` of the first byte that differs from stream `seed` at `off`, or -1. */
export function verifyStream(seed: number, off: number, chunk: Uint8Array): number {
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== streamByte(seed, off + i)) return i;
  return -1;
}
