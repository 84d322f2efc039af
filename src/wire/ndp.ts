/**
 * Neighbor Discovery message bodies (RFC 4861 §4) and options (§4.6, RFC
 * 8106 §5.1 RDNSS). wire/icmpv6.ts keeps types 133–137 raw
 * (`{ kind: 'ndp', type, code, body }`, the body being the octets after the
 * checksum); this module reads and writes those bodies. `parseNdp` never
 * throws; it returns 'ndp-bad-length' for a body shorter than its fixed part
 * and 'ndp-bad-option' for an option of length zero or running past the end
 * (RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that contains an
 * option with length zero.").
 */
import type { ParseResult } from './types.ts';
import { getU16, getU32, setU16, setU32 } from './bytes.ts';
import { getMac, setMac, type MacAddr } from './ethernet.ts';
import { readIpv6Addr, writeIpv6Addr, ipv6FromWords, type Ipv6Addr } from './ipv6.ts';

export const NDP_RS = 133;
export const NDP_RA = 134;
export const NDP_NS = 135;
export const NDP_NA = 136;
export const NDP_REDIRECT = 137;

export const OPT_SLLA = 1;
export const OPT_TLLA = 2;
export const OPT_PREFIX = 3;
export const OPT_MTU = 5;
export const OPT_RDNSS = 25;

export interface PrefixInfo {
  prefix: Ipv6Addr;
  prefixLen: number;
  /** L flag: on-link. */
  onLink: boolean;
  /** A flag: usable for autonomous address configuration. */
  autonomous: boolean;
  /** Seconds (0xffffffff = infinity). */
  validLifetime: number;
  preferredLifetime: number;
}

export interface NdpOptions {
  /** Source link-layer address (type 1). */
  slla?: MacAddr;
  /** Target link-layer address (type 2). */
  tlla?: MacAddr;
  prefixes?: PrefixInfo[];
  mtu?: number;
  /** RFC 8106 Recursive DNS Server option. */
  rdnss?: { lifetime: number; servers: Ipv6Addr[] };
}

export type NdpMessage =
  | { type: 'rs'; opts: NdpOptions }
  | { type: 'ra'; curHopLimit: number; managed: boolean; other: boolean; routerLifetime: number; reachableTime: number; retransTimer: number; opts: NdpOptions }
  | { type: 'ns'; target: Ipv6Addr; opts: NdpOptions }
  | { type: 'na'; router: boolean; solicited: boolean; override: boolean; target: Ipv6Addr; opts: NdpOptions };

/** Fixed part of each body after the 4-octet ICMPv6 header (RS 4, RA 12, NS/NA 20). */
function fixedLen(type: number): number {
  return type === NDP_RS ? 4 : type === NDP_RA ? 12 : 20;
}

function parseOptions(b: Uint8Array, at: number): NdpOptions | null {
  const o: NdpOptions = {};
  while (at < b.length) {
    if (at + 2 > b.length) return null;
    const type = b[at]!;
    const len = b[at + 1]! * 8;
    if (len === 0 || at + len > b.length) return null;
    // RFC 4861 §4.6: "Receivers MUST silently ignore any options they do not
    // recognize and continue processing the message."
    if ((type === OPT_SLLA || type === OPT_TLLA) && len >= 8) {
      // RFC 4861 §4.6.1 for Ethernet (RFC 2464 §8): length 1, a 6-octet address.
      if (type === OPT_SLLA) o.slla = getMac(b, at + 2);
      else o.tlla = getMac(b, at + 2);
    } else if (type === OPT_PREFIX && len === 32) {
      (o.prefixes ??= []).push({
        prefixLen: b[at + 2]!,
        onLink: (b[at + 3]! & 0x80) !== 0,
        autonomous: (b[at + 3]! & 0x40) !== 0,
        validLifetime: getU32(b, at + 4),
        preferredLifetime: getU32(b, at + 8),
        prefix: readIpv6Addr(b, at + 16),
      });
    } else if (type === OPT_MTU && len === 8) {
      o.mtu = getU32(b, at + 4);
    } else if (type === OPT_RDNSS && len >= 24) {
      // RFC 8106 §5.1: "Length ... The minimum value is 3 if one IPv6 address
      // is contained in the option."
      const servers: Ipv6Addr[] = [];
      for (let p = at + 8; p + 16 <= at + len; p += 16) servers.push(readIpv6Addr(b, p));
      o.rdnss = { lifetime: getU32(b, at + 4), servers };
    }
    at += len;
  }
  return o;
}

/** Parses the body (after the checksum) of an NDP message of ICMPv6 type `type`. Redirects (137) are reported as 'ndp-unsupported'. */
export function parseNdp(type: number, body: Uint8Array): ParseResult<NdpMessage> {
  if (type === NDP_REDIRECT || type < NDP_RS || type > NDP_REDIRECT) return { ok: false, reason: 'ndp-unsupported' };
  const fixed = fixedLen(type);
  if (body.length < fixed) return { ok: false, reason: 'ndp-bad-length' };
  const opts = parseOptions(body, fixed);
  if (!opts) return { ok: false, reason: 'ndp-bad-option' };
  switch (type) {
    case NDP_RS:
      return { ok: true, value: { type: 'rs', opts } };
    case NDP_RA:
      return {
        ok: true,
        value: {
          type: 'ra',
          curHopLimit: body[0]!,
          managed: (body[1]! & 0x80) !== 0,
          other: (body[1]! & 0x40) !== 0,
          routerLifetime: getU16(body, 2),
          reachableTime: getU32(body, 4),
          retransTimer: getU32(body, 8),
          opts,
        },
      };
    case NDP_NS:
      return { ok: true, value: { type: 'ns', target: readIpv6Addr(body, 4), opts } };
    default:
      return {
        ok: true,
        value: {
          type: 'na',
          router: (body[0]! & 0x80) !== 0,
          solicited: (body[0]! & 0x40) !== 0,
          override: (body[0]! & 0x20) !== 0,
          target: readIpv6Addr(body, 4),
          opts,
        },
      };
  }
}

function optionsLen(o: NdpOptions): number {
  let n = 0;
  if (o.slla !== undefined) n += 8;
  if (o.tlla !== undefined) n += 8;
  n += 32 * (o.prefixes?.length ?? 0);
  if (o.mtu !== undefined) n += 8;
  if (o.rdnss && o.rdnss.servers.length) n += 8 + 16 * o.rdnss.servers.length;
  return n;
}

/** The ICMPv6 type of a message. */
export function ndpType(m: NdpMessage): number {
  return m.type === 'rs' ? NDP_RS : m.type === 'ra' ? NDP_RA : m.type === 'ns' ? NDP_NS : NDP_NA;
}

/** The body (after the checksum) of `m`, for `{ kind: 'ndp', type: ndpType(m), code: 0, body }`. */
export function emitNdpBody(m: NdpMessage): Uint8Array {
  const type = ndpType(m);
  const fixed = fixedLen(type);
  const b = new Uint8Array(fixed + optionsLen(m.opts));
  if (m.type === 'ra') {
    b[0] = m.curHopLimit;
    b[1] = (m.managed ? 0x80 : 0) | (m.other ? 0x40 : 0);
    setU16(b, 2, m.routerLifetime);
    setU32(b, 4, m.reachableTime);
    setU32(b, 8, m.retransTimer);
  } else if (m.type === 'ns') {
    writeIpv6Addr(m.target, b, 4);
  } else if (m.type === 'na') {
    b[0] = (m.router ? 0x80 : 0) | (m.solicited ? 0x40 : 0) | (m.override ? 0x20 : 0);
    writeIpv6Addr(m.target, b, 4);
  }
  let at = fixed;
  const o = m.opts;
  for (const [t, mac] of [
    [OPT_SLLA, o.slla],
    [OPT_TLLA, o.tlla],
  ] as const) {
    if (mac === undefined) continue;
    b[at] = t;
    b[at + 1] = 1;
    setMac(b, at + 2, mac);
    at += 8;
  }
  for (const p of o.prefixes ?? []) {
    b[at] = OPT_PREFIX;
    b[at + 1] = 4;
    b[at + 2] = p.prefixLen;
    b[at + 3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
    setU32(b, at + 4, p.validLifetime >>> 0);
    setU32(b, at + 8, p.preferredLifetime >>> 0);
    writeIpv6Addr(p.prefix, b, at + 16);
    at += 32;
  }
  if (o.mtu !== undefined) {
    b[at] = OPT_MTU;
    b[at + 1] = 1;
    setU32(b, at + 4, o.mtu >>> 0);
    at += 8;
  }
  if (o.rdnss && o.rdnss.servers.length) {
    b[at] = OPT_RDNSS;
    b[at + 1] = 1 + 2 * o.rdnss.servers.length;
    setU32(b, at + 4, o.rdnss.lifetime >>> 0);
    at += 8;
    for (const s of o.rdnss.servers) {
      writeIpv6Addr(s, b, at);
      at += 16;
    }
  }
  return b;
}

/**
 * RFC 4291 §2.7.1: "Solicited-Node multicast address are computed as a
 * function of a node's unicast and anycast addresses. A Solicited-Node
 * multicast address is formed by taking the low-order 24 bits of an address
 * (unicast or anycast) and appending those bits to the prefix
 * FF02:0:0:0:0:1:FF00::/104".
 */
export function solicitedNode(addr: Ipv6Addr): Ipv6Addr {
  const b = new Uint8Array(16);
  writeIpv6Addr(addr, b, 0);
  return ipv6FromWords([0xff02, 0, 0, 0, 0, 1, 0xff00 | b[13]!, (b[14]! << 8) | b[15]!]);
}

/** Whether `a` is a solicited-node multicast address (ff02::1:ffxx:xxxx). */
export function isSolicitedNode(a: Ipv6Addr): boolean {
  const b = new Uint8Array(16);
  writeIpv6Addr(a, b, 0);
  return b[0] === 0xff && b[1] === 0x02 && b.subarray(2, 11).every((x) => x === 0) && b[11] === 1 && b[12] === 0xff;
}

export const ALL_NODES = ipv6FromWords([0xff02, 0, 0, 0, 0, 0, 0, 1]);
export const ALL_ROUTERS = ipv6FromWords([0xff02, 0, 0, 0, 0, 0, 0, 2]);

/**
 * The modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 §2.5.1
 * and Appendix A: "insert two octets, with hexadecimal values of 0xFF and
 * 0xFE, in the middle of the 48-bit MAC" and invert the "u" bit), as four
 * 16-bit words.
 */
export function eui64Words(mac: MacAddr): [number, number, number, number] {
  const b = new Uint8Array(6);
  setMac(b, 0, mac);
  return [((b[0]! ^ 0x02) << 8) | b[1]!, (b[2]! << 8) | 0xff, 0xfe00 | b[3]!, (b[4]! << 8) | b[5]!];
}

/** `prefix` (its first 64 bits) followed by the EUI-64 interface identifier of `mac`. */
export function addrFromPrefix(prefix: Ipv6Addr, mac: MacAddr): Ipv6Addr {
  const b = new Uint8Array(16);
  writeIpv6Addr(prefix, b, 0);
  const w: number[] = [];
  for (let i = 0; i < 4; i++) w.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  return ipv6FromWords([...w, ...eui64Words(mac)]);
}

/** fe80::/64 with the EUI-64 identifier of `mac` (RFC 4862 §5.3). */
export function linkLocalFor(mac: MacAddr): Ipv6Addr {
  return ipv6FromWords([0xfe80, 0, 0, 0, ...eui64Words(mac)]);
}
