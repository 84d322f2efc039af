/**
 * Known packets for the wire tests. Checksums were computed with an
 * independent implementation (Python's struct + the RFC 1071 loop).
 */

/**
 * A SYN laid out the way Linux 6.x sends it: 192.168.1.10:49152 →
 * 93.184.216.34:80, IP ident 0xd431, DF, TTL 64; seq 0x8f3c1a2b, win 64240,
 * options MSS 1460, SACK-permitted, TS val 2886793013 ecr 0, NOP, WS 7
 * (a 4-byte-aligned 40-byte TCP header).
 */
export const LINUX_SYN = new Uint8Array([
  0x45, 0x00, 0x00, 0x3c, 0xd4, 0x31, 0x40, 0x00, 0x40, 0x06, 0x6e, 0xfd, 0xc0, 0xa8, 0x01, 0x0a,
  0x5d, 0xb8, 0xd8, 0x22, 0xc0, 0x00, 0x00, 0x50, 0x8f, 0x3c, 0x1a, 0x2b, 0x00, 0x00, 0x00, 0x00,
  0xa0, 0x02, 0xfa, 0xf0, 0x48, 0x83, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
  0xac, 0x10, 0xf7, 0x35, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
]);

/** The IPv4 header from Wikipedia's "IPv4 header checksum" example (checksum 0xb861). */
export const WIKIPEDIA_IPV4_HEADER = new Uint8Array([
  0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01,
  0xc0, 0xa8, 0x00, 0xc7,
]);

/** Hex string → bytes ("45 00 ..." or "4500..."). */
export function hexBytes(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The textbook RFC 1071 checksum, as an oracle. */
export function naiveChecksum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) {
    sum += buf[i]! << 8;
    if (i + 1 < end) sum += buf[i + 1]!;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
