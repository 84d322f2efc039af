/**
 * The transport boundary of the service engines (issue 13). Every engine in
 * services/ is sans-I/O: it takes received bytes and the current time and
 * returns what to send and when it next wants to be polled. The UDP layer
 * (node:dgram-compatible sockets on a synack host) plugs in by
 *
 *   - feeding each received datagram to the engine's `handle…(bytes, from, now)`,
 *   - sending each `OutDatagram` the engine returns (from the engine's port),
 *   - calling `poll(now)` at (or after) the returned `deadline`.
 *
 * Addresses are strings in the form node:dgram uses ('192.0.2.1', '::1');
 * a DHCP datagram may ask for the limited broadcast address and name the
 * client's hardware address (`mac`) for the unicast-before-ARP case of
 * RFC 2131 §4.1.
 */
import type { Instant } from '../base/time.ts';
import type { MacAddr } from '../wire/ethernet.ts';

export interface OutDatagram {
  payload: Uint8Array;
  /** Destination address ('255.255.255.255' for the limited broadcast). */
  address: string;
  port: number;
  /** The source port to send from. */
  srcPort: number;
  /** Source address, when the engine must choose it (a DHCP client sends from 0.0.0.0 until bound). */
  srcAddress?: string;
  /** True for a limited broadcast (the socket needs setBroadcast(true)). */
  broadcast?: boolean;
  /**
   * RFC 2131 §4.1: "the server unicasts DHCPOFFER and DHCPACK messages to the
   * client's hardware address and 'yiaddr' address" — the link layer must use
   * this MAC instead of resolving `address` by ARP.
   */
  mac?: MacAddr;
}

/** Where a datagram came from (node:dgram's rinfo, reduced). */
export interface From {
  address: string;
  port: number;
}

/** The output of a step of an engine. */
export interface Step<E = never> {
  out: OutDatagram[];
  events: E[];
  /** When to call poll() next; null when nothing is pending. */
  deadline: Instant | null;
}

/** Drop counters of an engine: reason → count. */
export type Drops = Record<string, number>;

export function countDrop(drops: Drops, reason: string): void {
  drops[reason] = (drops[reason] ?? 0) + 1;
}

export function minDeadline(a: Instant | null, b: Instant | null): Instant | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}
