/**
 * Initial sequence numbers per RFC 6528 §3:
 *
 *   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * "where M is the 4 microsecond timer ... and F() is a pseudorandom function
 * (PRF) of the connection-id". F is HalfSipHash-2-4 keyed with a 64-bit
 * secret that the stack receives at construction (from crypto in Node, from
 * a seed in tests): never Math.random.
 */
import type { Instant } from '../base/time.ts';
import type { IpAddr } from '../wire/ipv6.ts';

/**
 * One 32-bit word for an address in a keyed PRF: an IPv4 address is its own
 * word; an IPv6 address (eight 16-bit groups) is compressed by two chained
 * HalfSipHash calls under the key, so that two addresses collide only as
 * often as the PRF does — an attacker who picks addresses cannot make two
 * 4-tuples share an ISN offset, a cookie MAC or a demux bucket.
 */
export function addrWord(k0: number, k1: number, a: IpAddr): number {
  if (typeof a === 'number') return a >>> 0;
  // The 16-bit groups two by two (no closure: this runs per IPv6 lookup).
  const h = halfSipHash24(k0, k1, ((a.charCodeAt(0) << 16) | a.charCodeAt(1)) >>> 0, ((a.charCodeAt(2) << 16) | a.charCodeAt(3)) >>> 0, 0x76360001);
  return halfSipHash24(k0, k1, ((a.charCodeAt(4) << 16) | a.charCodeAt(5)) >>> 0, ((a.charCodeAt(6) << 16) | a.charCodeAt(7)) >>> 0, h);
}

/**
 * `addrWord` under one key, remembering the last two IPv6 addresses it
 * compressed. It is a pure function of the address, so the memo changes no
 * result; it saves the two HalfSipHash calls per IPv6 address that made an
 * IPv6 connection cycle cost more than an IPv4 one (each new connection
 * needs the word of its local and its remote address for the ISN, and the
 * remote one again for every demux insert, lookup and removal — mostly the
 * same one or two addresses in a row). Two entries: the local address and
 * the current peer; a miss costs a string compare or two. Nothing per
 * connection.
 */
export class AddrWords {
  private a0: string | null = null;
  private w0 = 0;
  private a1: string | null = null;
  private w1 = 0;
  constructor(private readonly k0: number, private readonly k1: number) {}

  word(a: IpAddr): number {
    if (typeof a === 'number') return a >>> 0;
    if (a === this.a0) return this.w0;
    if (a === this.a1) {
      // Most recent first, so that alternating between two addresses hits.
      const w = this.w1;
      this.a1 = this.a0;
      this.w1 = this.w0;
      this.a0 = a;
      this.w0 = w;
      return w;
    }
    const w = addrWord(this.k0, this.k1, a);
    this.a1 = this.a0;
    this.w1 = this.w0;
    this.a0 = a;
    this.w0 = w;
    return w;
  }
}

export class IsnGenerator {
  private readonly words: AddrWords;
  constructor(private readonly k0: number, private readonly k1: number) {
    this.words = new AddrWords(k0, k1);
  }

  isn(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number, now: Instant): number {
    // RFC 6528 §3: F() is a function "of the connection-id" — for IPv6 the
    // 128-bit addresses go into it whole (addrWord, memoised by AddrWords).
    const f = halfSipHash24(this.k0, this.k1, this.words.word(localAddr), this.words.word(remoteAddr), ((localPort & 0xffff) << 16 | (remotePort & 0xffff)) >>> 0);
    const m = Math.floor(now / 4) % 4294967296;
    return (m + f) >>> 0;
  }
}

/**
 * HalfSipHash-2-4 (Aumasson & Bernstein) of three 32-bit words, 32-bit output.
 *
 * Written for speed (it runs twice per connection): the state lives in int32
 * locals (`| 0` arithmetic wraps exactly like the uint32 arithmetic of the
 * reference; only the final result is converted to unsigned), with no
 * closure and no array, so nothing is allocated per call.
 */
export function halfSipHash24(k0: number, k1: number, w0: number, w1: number, w2: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  for (let i = 0; i < 3; i++) {
    const m = i === 0 ? w0 | 0 : i === 1 ? w1 | 0 : w2 | 0;
    v3 ^= m;
    for (let r = 0; r < 2; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    v0 ^= m;
  }
  const b = 12 << 24;
  v3 ^= b;
  for (let r = 0; r < 2; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  v0 ^= b;
  v2 ^= 0xff;
  for (let r = 0; r < 4; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  return (v1 ^ v3) >>> 0;
}
