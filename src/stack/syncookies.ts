/**
 * SYN cookies (RFC 4987 §3.6): when a listener's SYN-RECEIVED queue is full,
 * answer a SYN without keeping state, encoding what the handshake must
 * remember into our ISS; the ACK that completes the handshake brings it back
 * (SEG.ACK − 1) and the connection is created then.
 *
 * ISS layout: | t (5 bits, 64 s periods) | MSS index (3 bits) | MAC (24 bits) |
 * MAC = HalfSipHash(secret, 4-tuple, t, peer ISN) — a blind attacker cannot
 * forge it. A cookie is valid for the current and the previous period.
 *
 * Window scale and SACK-permitted fit nowhere in the ISS; when the SYN carried
 * timestamps, they ride in the low 5 bits of our TSval and come back in the
 * ACK's TSecr (as Linux does). Without timestamps, a cookie connection
 * offers neither.
 */
import type { Instant } from '../base/time.ts';
import { addrWord, halfSipHash24 } from './isn.ts';
import type { IpAddr } from '../wire/ipv6.ts';

/** MSS values a cookie can carry (the largest not above the peer's is used). */
export const COOKIE_MSS_TABLE: readonly number[] = [536, 1220, 1440, 1460, 4312, 8960, 16344, 65495];

const PERIOD_US = 64_000_000;

export interface CookieOptions {
  /** The peer's window-scale shift, or -1 when it offered none. */
  wscale: number;
  sackPermitted: boolean;
}

export class SynCookies {
  constructor(
    private readonly k0: number,
    private readonly k1: number,
  ) {}

  private mac(t: number, local: IpAddr, localPort: number, remote: IpAddr, remotePort: number, peerIsn: number): number {
    const ports = (((localPort & 0xffff) << 16) | (remotePort & 0xffff)) >>> 0;
    const l = addrWord(this.k0, this.k1, local);
    const r = addrWord(this.k0, this.k1, remote);
    return halfSipHash24((this.k0 ^ Math.imul(t + 1, 0x9e3779b1)) >>> 0, this.k1, l, r, (ports ^ peerIsn) >>> 0) & 0xffffff;
  }

  /** The ISS for a SYN-ACK that keeps no state. */
  encode(local: IpAddr, localPort: number, remote: IpAddr, remotePort: number, peerIsn: number, peerMss: number, now: Instant): number {
    const t = Math.floor(now / PERIOD_US) & 31;
    let idx = 0;
    for (let i = 0; i < COOKIE_MSS_TABLE.length; i++) if (COOKIE_MSS_TABLE[i]! <= peerMss) idx = i;
    return ((t << 27) | (idx << 24) | this.mac(t, local, localPort, remote, remotePort, peerIsn >>> 0)) >>> 0;
  }

  /** The MSS a valid cookie carries, or null for a forged or expired one. */
  decode(local: IpAddr, localPort: number, remote: IpAddr, remotePort: number, peerIsn: number, cookie: number, now: Instant): { mss: number } | null {
    cookie >>>= 0;
    const t = cookie >>> 27;
    const nowT = Math.floor(now / PERIOD_US) & 31;
    if (((nowT - t) & 31) > 1) return null;
    if ((cookie & 0xffffff) !== this.mac(t, local, localPort, remote, remotePort, peerIsn >>> 0)) return null;
    return { mss: COOKIE_MSS_TABLE[(cookie >>> 24) & 7]! };
  }
}

/** Our TSval with window scale (+1, 0 = none) and SACK-permitted in the low 5 bits. */
export function encodeTsOptions(tsval: number, o: CookieOptions): number {
  const ws = o.wscale >= 0 ? Math.min(o.wscale, 14) + 1 : 0;
  return ((tsval & ~0x1f) | ws | (o.sackPermitted ? 0x10 : 0)) >>> 0;
}

export function decodeTsOptions(tsecr: number): CookieOptions {
  const ws = tsecr & 0xf;
  return { wscale: ws === 0 ? -1 : ws - 1, sackPermitted: (tsecr & 0x10) !== 0 };
}
