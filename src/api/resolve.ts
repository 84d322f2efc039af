/**
 * Name resolution of `host.net`: IP literals need none; a name is looked up
 * in the net's hosts table (names given to `createMemoryNetwork().host(addr,
 * { name })`, one address or several), and `localhost` is the loopback
 * interface every stack has — 127.0.0.1 and ::1, in the order of the
 * `localhost` lines of a Debian or Ubuntu /etc/hosts, which node:net's
 * `dns.lookup` (order 'verbatim' since Node 17) returns as they stand.
 */

/** Host name (lower case) → address literal(s), in lookup order. */
export type HostsTable = Map<string, string | readonly string[]>;

/** RFC 6761 §6.3: "Users are free to use localhost names as they would any other domain names" — and they resolve to loopback addresses. */
export const LOCALHOST_ADDRESSES: readonly string[] = ['127.0.0.1', '::1'];

/** Every address of `name`, in order, or null when it is unknown. The table wins over the built-in `localhost`. */
export function resolveName(hosts: HostsTable, name: string): string[] | null {
  const n = name.toLowerCase();
  const v = hosts.get(n) ?? hosts.get(n.endsWith('.') ? n.slice(0, -1) : `${n}.`);
  if (v !== undefined) return typeof v === 'string' ? [v] : [...v];
  if (n === 'localhost' || n === 'localhost.') return [...LOCALHOST_ADDRESSES];
  return null;
}
