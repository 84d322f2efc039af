/**
 * The gateway's outbound policy: `allow` and `deny` lists of CIDR prefixes
 * (IPv4 or IPv6; a bare address is a /32 or /128). A destination is
 * refused when it is in any deny prefix (deny wins), or when an allow list
 * is given and it is in none of it. Checked before any host socket opens.
 */
import { ipv4InSubnet, parseIpv4Addr } from '../wire/bytes.ts';
import { ipv6InSubnet, parseIpv6Addr, type IpAddr, type Ipv6Addr } from '../wire/ipv6.ts';
import { SynackError } from '../errors.ts';

export interface Cidr {
  addr: IpAddr;
  prefixLen: number;
  text: string;
}

/** Parses "10.0.0.0/8", "fd00::/64", "127.0.0.1"; throws ERR_SYNACK_INVALID_ARG on anything else. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const a = slash < 0 ? text : text.slice(0, slash);
  const v4 = parseIpv4Addr(a);
  const v6 = v4 === null ? parseIpv6Addr(a) : null;
  const max = v4 !== null ? 32 : 128;
  const lenText = slash < 0 ? String(max) : text.slice(slash + 1);
  const len = /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if ((v4 === null && v6 === null) || !(len >= 0 && len <= max)) {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', `not a CIDR prefix: ${JSON.stringify(text)} (expected e.g. 10.0.0.0/8 or fd00::/64)`);
  }
  return { addr: (v4 ?? v6) as IpAddr, prefixLen: len, text };
}

export function cidrContains(c: Cidr, a: IpAddr): boolean {
  if (typeof c.addr === 'number') return typeof a === 'number' && ipv4InSubnet(a, c.addr, c.prefixLen);
  return typeof a === 'string' && ipv6InSubnet(a, c.addr as Ipv6Addr, c.prefixLen);
}

export class Policy {
  readonly allow: Cidr[];
  readonly deny: Cidr[];
  constructor(allow: readonly string[] = [], deny: readonly string[] = []) {
    this.allow = allow.map(parseCidr);
    this.deny = deny.map(parseCidr);
  }

  /** Whether a connection or flow to `a` may be made. */
  permits(a: IpAddr): boolean {
    if (this.deny.some((c) => cidrContains(c, a))) return false;
    return this.allow.length === 0 || this.allow.some((c) => cidrContains(c, a));
  }
}
