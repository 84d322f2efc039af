/**
 * The path MTU cache of a stack: Packet Too Big / "fragmentation needed"
 * (RFC 1191 for IPv4, RFC 8201 for IPv6), packetization-layer black-hole
 * detection (RFC 4821) and the ageing of estimates. One cache for both
 * families, keyed by destination address (a u32 or an `Ipv6Addr` string:
 * distinct `Map` keys).
 */
import type { Instant } from '../base/time.ts';
import type { IcmpErrorRepr } from '../wire/types.ts';
import { IPV6_MIN_MTU, type IpAddr } from '../wire/ipv6.ts';
import type { Connection } from '../tcp/connection.ts';
import type { Stack } from './stack.ts';

/**
 * The smallest next-hop MTU we act on. RFC 1191 §3: "A host MUST never
 * reduce its estimate of the Path MTU below 68 octets" — but a forged
 * "fragmentation needed" for 68 would cut throughput twentyfold (RFC 5927
 * §7). Like Linux's net.ipv4.route.min_pmtu (512 + 20 + 20 = 552), smaller
 * values are not honoured: such a message is ignored and counted.
 */
export const PMTU_MIN = 552;
/**
 * RFC 1191 §6.3: a PMTU estimate is raised again after a while: "The
 * recommended setting for this timer is twice its minimum value (10
 * minutes)." The same interval re-probes after a black-hole fallback
 * (Linux's tcp_probe_interval is 600 s). RFC 8201 §4 keeps it for IPv6:
 * "The recommended setting for this timer is twice its minimum value (10
 * minutes)."
 */
export const PMTU_AGE_US = 600_000_000;
/** At most this many destinations in the path MTU cache (oldest evicted first). */
export const PMTU_CACHE_MAX = 4096;
/** RFC 4821 §7.2 base: the MSS a black-holed path falls back to (Linux tcp_base_mss). */
export const BLACKHOLE_BASE_MSS = 1024;
/** Consecutive RTOs of full-sized segments that mean a black hole (Linux: tcp_retries1 = 3). */
export const BLACKHOLE_RTOS = 3;
/** The smallest MSS repeated black-hole fallbacks go down to (RFC 9293 §3.7.1's default 536). */
const BLACKHOLE_MIN_MSS = 536;
/** The smallest MSS an IPv6 path can need: 1280 − 40 − 20. */
const BLACKHOLE_MIN_MSS_V6 = IPV6_MIN_MTU - 60;

/** RFC 1191 §7 plateau table, for a "fragmentation needed" without a next-hop MTU (old routers). */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/** IP + TCP header bytes of a segment to `dst` (no options): 40 for IPv4, 60 for IPv6. */
export function ipTcpOverhead(dst: IpAddr): number {
  return typeof dst === 'string' ? 60 : 40;
}

/** One path MTU estimate (RFC 1191 §5: "the PMTU ... associated with ... the destination"). */
interface PmtuEntry {
  mtu: number;
  expires: Instant;
  /** Connections whose MSS this entry lowered (restored when it ages out). */
  conns: Set<Connection>;
}

export class PathMtuCache {
  /** Path MTU estimates by destination, in insertion order (oldest first). */
  private readonly map = new Map<IpAddr, PmtuEntry>();
  /** When the oldest estimate ages out (Infinity = none). */
  nextExpiry: Instant = Infinity;
  /** The MSS a connection had before the cache lowered it (rare state, kept off the TCB). */
  private readonly lowered = new WeakMap<Connection, number>();

  constructor(private readonly stack: Stack) {}

  get size(): number {
    return this.map.size;
  }

  /** The cached estimate for `dst`, if any. */
  get(dst: IpAddr): number | undefined {
    return this.map.get(dst)?.mtu;
  }

  /**
   * RFC 1191 §3: "When a host receives a Datagram Too Big message, it MUST
   * reduce its estimate of the PMTU for the relevant path, based on the
   * value of the Next-Hop MTU field in the message." ... "a host MUST NOT
   * increase its estimate of the Path MTU in response to the contents of a
   * Datagram Too Big message."
   *
   * RFC 8201 §4 (IPv6): "When a node receives a Packet Too Big message, it
   * MUST reduce its estimate of the PMTU for the relevant path, based on
   * the value of the MTU field in the message." ... "If a node receives a
   * Packet Too Big message reporting a next-hop MTU that is less than the
   * IPv6 minimum link MTU, it must discard it. A node MUST NOT reduce its
   * estimate of the Path MTU below the IPv6 minimum link MTU on receipt of a
   * Packet Too Big message." §5.4: "A node MUST NOT increase its estimate of
   * the Path MTU in response to the contents of a Packet Too Big message."
   * and, on the TCP side, "retransmission should be done immediately" — the
   * resend below.
   */
  tooBig(conn: Connection, e: IcmpErrorRepr, now: Instant): void {
    const v6 = typeof conn.remoteAddr === 'string';
    let mtu = e.mtu;
    if (!v6 && (mtu === 0 || mtu >= e.quoted.totalLength)) {
      // RFC 1191 §5: a router that does not fill in the Next-Hop MTU (or a
      // nonsensical one): "the host should use the plateau table", the
      // largest plateau below the Total Length of the quoted datagram.
      const len = e.quoted.totalLength;
      mtu = PLATEAUS.find((p) => p < len) ?? 68;
    }
    const overhead = ipTcpOverhead(conn.remoteAddr);
    // Only a smaller MSS for this connection is news: the rest of a burst of
    // oversized segments brings the same MTU again and changes nothing.
    if (mtu < (v6 ? IPV6_MIN_MTU : PMTU_MIN) || mtu - overhead >= conn.sndMss) {
      this.stack.drop(conn, 'icmp-pmtu-ignored');
      return;
    }
    this.stack.counters.icmpErrorsAccepted++;
    this.lower(conn.remoteAddr, mtu, now);
    this.apply(conn, now, true);
  }

  /** Lowers (or creates) the path MTU estimate for `dst`, valid for PMTU_AGE_US. */
  lower(dst: IpAddr, mtu: number, now: Instant): void {
    const cur = this.map.get(dst);
    if (cur && cur.mtu <= mtu) return;
    this.stack.counters.pmtuUpdates++;
    const entry: PmtuEntry = { mtu, expires: now + PMTU_AGE_US, conns: cur?.conns ?? new Set() };
    this.map.delete(dst);
    this.map.set(dst, entry);
    if (this.map.size > PMTU_CACHE_MAX) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.expire(oldest, now);
    }
    this.nextExpiry = this.map.values().next().value!.expires;
  }

  /** Applies the cached path MTU of the connection's destination to its MSS (lowering only). */
  apply(conn: Connection, now: Instant, retransmit: boolean): void {
    const entry = this.map.get(conn.remoteAddr);
    if (!entry) return;
    const mss = entry.mtu - ipTcpOverhead(conn.remoteAddr);
    if (mss >= conn.sndMss) return;
    if (!this.lowered.has(conn)) this.lowered.set(conn, conn.sndMss);
    entry.conns.add(conn);
    this.stack.counters.pmtuResegments++;
    // Not through with(): this also runs inside a connection's state change.
    conn.setPathMss(mss, now, retransmit);
    if (retransmit) this.stack.reschedule(conn);
  }

  /**
   * Packetization-layer black-hole detection (RFC 4821 §7.7; Linux
   * tcp_mtu_probing=1): when full-sized segments meet repeated retransmission
   * timeouts, the path may drop large packets without sending "fragmentation
   * needed" (a filtered ICMP, a tunnel). RFC 4821 §7.7: "a PLPMTUD
   * implementation ... MAY reduce the probe size ... after some number of
   * losses", and §7.2 base_pmtu: Linux falls back to tcp_base_mss = 1024.
   * The fallback is a path MTU estimate like an ICMP one: it ages out after
   * PMTU_AGE_US, when the MSS goes back up — the next full-sized segments
   * are the probe upward; if they black-hole again, so does the fallback.
   * Called from the 'retransmit' event, before the RTO's go-back-N resend,
   * so that resend already uses the smaller MSS. On IPv6 the floor is the
   * MSS of a 1280-octet path (RFC 8200 §5: every link carries 1280).
   */
  detectBlackhole(conn: Connection, len: number): void {
    const v6 = typeof conn.remoteAddr === 'string';
    const floor = v6 ? BLACKHOLE_MIN_MSS_V6 : BLACKHOLE_MIN_MSS;
    if (conn.retries < BLACKHOLE_RTOS || len < conn.sndMss || conn.sndMss <= floor) return;
    const mss = conn.sndMss > BLACKHOLE_BASE_MSS && !v6 ? BLACKHOLE_BASE_MSS : Math.max(floor, conn.sndMss >> 1);
    this.stack.counters.pmtuBlackholes++;
    const now = this.stack.clock.now();
    const overhead = ipTcpOverhead(conn.remoteAddr);
    this.lower(conn.remoteAddr, mss + overhead, now);
    const entry = this.map.get(conn.remoteAddr)!;
    if (!this.lowered.has(conn)) this.lowered.set(conn, conn.sndMss);
    entry.conns.add(conn);
    conn.setPathMss(Math.min(mss, entry.mtu - overhead), now, false);
  }

  /** RFC 1191 §6.3: estimates older than PMTU_AGE_US are forgotten; their connections go back up. */
  age(now: Instant): void {
    for (const [dst, e] of this.map) {
      if (e.expires > now) break;
      this.expire(dst, now);
    }
    const first = this.map.values().next();
    this.nextExpiry = first.done ? Infinity : first.value.expires;
  }

  private expire(dst: IpAddr, now: Instant): void {
    const e = this.map.get(dst);
    if (!e) return;
    this.map.delete(dst);
    this.stack.counters.pmtuExpired++;
    for (const c of e.conns) {
      const orig = this.lowered.get(c);
      this.lowered.delete(c);
      if (orig !== undefined && c.state !== 'CLOSED') c.setPathMss(orig, now, false);
    }
  }

  /** A connection ended: it no longer follows its destination's estimate. */
  forget(conn: Connection): void {
    if (!this.lowered.has(conn)) return;
    this.lowered.delete(conn);
    this.map.get(conn.remoteAddr)?.conns.delete(conn);
  }
}
