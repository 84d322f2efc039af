/**
 * `isIP`, `isIPv4`, `isIPv6` as `node:net` defines them, in plain code so
 * the API runs where there is no `node:net` (a browser). The expressions
 * are Node's own (lib/internal/net.js, MIT licence); test/api/ip.test.ts
 * compares the answers with node:net's.
 */
import { formatIpAddr, ipv6MappedFromV4, type IpAddr } from '../wire/ipv6.ts';
const v4Seg = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const v4Str = `(?:${v4Seg}\\.){3}${v4Seg}`;
const IPV4_RE = new RegExp(`^${v4Str}$`);
const v6Seg = '(?:[0-9a-fA-F]{1,4})';
const IPV6_RE = new RegExp(
  '^(?:' +
    `(?:${v6Seg}:){7}(?:${v6Seg}|:)|` +
    `(?:${v6Seg}:){6}(?:${v4Str}|:${v6Seg}|:)|` +
    `(?:${v6Seg}:){5}(?::${v4Str}|(?::${v6Seg}){1,2}|:)|` +
    `(?:${v6Seg}:){4}(?:(?::${v6Seg}){0,1}:${v4Str}|(?::${v6Seg}){1,3}|:)|` +
    `(?:${v6Seg}:){3}(?:(?::${v6Seg}){0,2}:${v4Str}|(?::${v6Seg}){1,4}|:)|` +
    `(?:${v6Seg}:){2}(?:(?::${v6Seg}){0,3}:${v4Str}|(?::${v6Seg}){1,5}|:)|` +
    `(?:${v6Seg}:){1}(?:(?::${v6Seg}){0,4}:${v4Str}|(?::${v6Seg}){1,6}|:)|` +
    `(?::(?:(?::${v6Seg}){0,5}:${v4Str}|(?::${v6Seg}){1,7}|:))` +
    ')(?:%[0-9a-zA-Z-.:]{1,})?$',
);

/** Whether `input` is a dotted-decimal IPv4 address. */
export function isIPv4(input: string): boolean {
  return IPV4_RE.test(`${input}`);
}

/** Whether `input` is an IPv6 address (with an optional zone index). */
export function isIPv6(input: string): boolean {
  return IPV6_RE.test(`${input}`);
}

/** 4 for an IPv4 address, 6 for an IPv6 address, 0 otherwise. */
export function isIP(input: string): number {
  if (isIPv4(input)) return 4;
  if (isIPv6(input)) return 6;
  return 0;
}

/**
 * An address as Node reports it: `{ address, family }` with family 'IPv4'
 * or 'IPv6'. On a dual-stack socket (`mapped`: a server listening on `::`
 * that took an IPv4 connection) an IPv4 address is shown IPv4-mapped,
 * `::ffff:10.0.0.1` with family 'IPv6', as Linux's IPv6 socket reports it
 * (RFC 4291 §2.5.5.2; RFC 5952 §5 text form).
 */
export function addressInfo(a: IpAddr, mapped: boolean): { address: string; family: 'IPv4' | 'IPv6' } {
  if (typeof a === 'string') return { address: formatIpAddr(a), family: 'IPv6' };
  if (mapped) return { address: formatIpAddr(ipv6MappedFromV4(a)), family: 'IPv6' };
  return { address: formatIpAddr(a), family: 'IPv4' };
}
