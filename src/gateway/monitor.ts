/**
 * The gateway monitor (`gateway.watch()`): what `synack gateway --viz`
 * shows. It observes the gateway stack's TCP connections through the
 * stack's trace hooks (every segment in and out, every state change) and
 * keeps, per connection, a bounded record: its 4-tuple, state, the host
 * socket it is paired with (local and remote address of the node:net
 * socket), bytes forwarded each way and their rate, the last segments
 * (for a ladder diagram) and the last state transitions (for RFC 9293's
 * state diagram).
 *
 * Bounded: at most `maxConnections` records (a new connection evicts the
 * oldest closed record; when every record is open the new one is not
 * tracked and is counted) and the last `maxSegments` segments and
 * `maxTransitions` transitions of each. The segments are copied as
 * numbers (no payload is kept).
 *
 * Segments are attributed by the 4-tuple: a guest's SYN arrives before its
 * connection exists (the gateway first connects on the host), so `conn` is
 * null in that trace event.
 */
import type { Stack } from '../stack/stack.ts';
import type { StackTraceEvent } from '../stack/types.ts';
import type { Connection } from '../tcp/connection.ts';
import type { TcpState } from '../tcp/state.ts';
import { ACK, RST, SYN, type TcpRepr } from '../wire/types.ts';
import { flagsToString } from '../wire/tcp.ts';
import { formatIpAddr, readIpv6Addr, type IpAddr } from '../wire/ipv6.ts';

/** What the monitor reads of a forwarded connection of the gateway (gateway.ts's TcpFlow). */
export interface MonitoredFlow {
  conn: Connection | null;
  bytesUp: number;
  bytesDown: number;
  /** The host socket's ends, "addr:port" (null before it connected). */
  hostEnds(): { local: string; remote: string } | null;
  /** The guest's side: the address it connected to (or was connected from) and its own, "addr:port". */
  guestEnds(): { peer: string; guest: string } | null;
}

/** What the monitor reads of a UDP flow of the gateway (gateway.ts's UdpFlow). */
export interface MonitoredUdpFlow {
  sock: { address(): { address: string; port: number } };
  d: { src: IpAddr; srcPort: number; dst: IpAddr; dstPort: number };
  target: string;
  port: number;
  datagramsUp: number;
  datagramsDown: number;
  bytesUp: number;
  bytesDown: number;
}

/** A UDP flow of the guest, as long as it lives (closed when idle). */
export interface MonitorUdpRow {
  guest: string;
  peer: string;
  /** The host dgram socket: its local address → where it sends. */
  host: { local: string; remote: string };
  datagramsUp: number;
  datagramsDown: number;
  bytesUp: number;
  bytesDown: number;
}

export interface MonitorOptions {
  /** Connections kept (default 256). */
  maxConnections?: number;
  /** Segments kept per connection, the newest (default 200). */
  maxSegments?: number;
  /** State transitions kept per connection, the newest (default 64). */
  maxTransitions?: number;
  /** Wall clock in ms for rates (default performance.now). */
  now?: () => number;

}

/** A connection's state: RFC 9293's, or CONNECTING while the host connect of a guest's SYN is under way. */
export type MonitorState = TcpState | 'CONNECTING';

export interface MonitorSegment {
  /** Ordinal of the segment in its connection (0 = the first seen). */
  n: number;
  /** Stack clock, µs. */
  t: number;
  from: 'guest' | 'gateway';
  flags: string;
  /** The flag bits (FIN 0x01 … CWR 0x80). */
  flagBits: number;
  /** The window scale option's shift (RFC 7323 §2.2), on a SYN that carries one. */
  wscale?: number;
  seq: number;
  ack: number;
  /** Relative to the sender's ISN (its SYN's sequence number; else its first segment seen). */
  relSeq: number;
  /** Relative to the receiver's ISN; null without ACK. */
  relAck: number | null;
  /** The raw window field. */
  window: number;
  len: number;
}

export interface MonitorTransition {
  t: number;
  from: TcpState;
  to: TcpState;
  cause: string;
  /** How many segments of the connection had been seen when it happened. */
  afterSegments: number;
}

export interface MonitorRow {
  id: number;
  /** The guest's end, as the guest sees it. */
  guest: string;
  /** The gateway stack's end (the address the guest connected to, or the gateway's for a published port). */
  peer: string;
  /** Forwarded: the guest connected out; published: a host client connected to a --publish port. */
  kind: 'forwarded' | 'published';
  state: MonitorState;
  closed: boolean;
  /** Why it ended before it opened: the host refused (the gateway's RST), an ICMP Destination Unreachable to the guest, or the guest's own RST. */
  failure: 'refused' | 'unreachable' | 'cancelled' | null;
  /** The paired host socket (node:net), once known. */
  host: { local: string; remote: string } | null;
  /** Bytes forwarded guest → host and host → guest. */
  bytesUp: number;
  bytesDown: number;
  /** Bytes per second over the last sampling interval (≥ 0.5 s). */
  rateUp: number;
  rateDown: number;
  segments: number;
  /** ms since the monitor started (its wall clock). */
  openedAt: number;
  closedAt: number | null;
}

export interface MonitorDetail {
  row: MonitorRow;
  /** The last segments (at most maxSegments); `segments[0].n` > 0 when older ones were evicted. */
  segments: MonitorSegment[];
  transitions: MonitorTransition[];
  /** The gateway-side state before the first transition kept. */
  initial: MonitorState;
}

export interface MonitorStats {
  tracked: number;
  /** Closed records removed to make room. */
  evicted: number;
  /** Guest or gateway SYNs of new connections not tracked because every record was open (a retransmitted SYN counts again). */
  untracked: number;
}

export interface GatewayMonitor {
  rows(): MonitorRow[];
  /** The guest's UDP flows now (the gateway forwards each through its own host socket). */
  udp(): MonitorUdpRow[];
  detail(id: number): MonitorDetail | null;
  stats(): MonitorStats;
  /** Increases whenever anything a row or detail shows may have changed. */
  readonly version: number;
  /** The gateway pairs a connection with its host socket (called by gateway.ts). */
  attach(flow: MonitoredFlow): void;
  /** Stops observing (the records stay readable). */
  close(): void;
}

interface Rec {
  row: MonitorRow;
  key: string;
  conn: Connection | null;
  flow: MonitoredFlow | null;
  segs: MonitorSegment[];
  trans: MonitorTransition[];
  initial: MonitorState;
  isn: { guest: number | null; gateway: number | null };
  sample: { t: number; up: number; down: number };
}

function wscaleOf(seg: TcpRepr): { wscale?: number } {
  if (!(seg.flags & SYN)) return {};
  for (const o of seg.options) if (o.kind === 'window-scale') return { wscale: o.shift };
  return {};
}

const addr = (a: IpAddr, p: number): string => (typeof a === 'string' ? `[${formatIpAddr(a)}]:${p}` : `${formatIpAddr(a)}:${p}`);
const hostAddr = (a: string | undefined, p: number | undefined): string => (a === undefined ? '?' : a.includes(':') ? `[${a}]:${p ?? '?'}` : `${a}:${p ?? '?'}`);

/**
 * Observes `stack` (the gateway's). The gateway calls `attach(flow)` when it
 * pairs a guest connection with its host socket.
 */
export function watchStack(stack: Stack, opts: MonitorOptions = {}, udpFlows: () => Iterable<MonitoredUdpFlow> = () => []): GatewayMonitor {
  const maxConns = opts.maxConnections ?? 256;
  const maxSegs = opts.maxSegments ?? 200;
  const maxTrans = opts.maxTransitions ?? 64;
  const clock = opts.now ?? (() => performance.now());
  const t0 = clock();
  const byKey = new Map<string, Rec>();
  const byId = new Map<number, Rec>();
  const st: MonitorStats = { tracked: 0, evicted: 0, untracked: 0 };
  let nextId = 1;
  let version = 0;

  function open(key: string, guest: string, peer: string, kind: MonitorRow['kind']): Rec | null {
    if (byId.size >= maxConns) {
      // The oldest closed record makes room (Map order is insertion order).
      let victim: Rec | null = null;
      for (const r of byId.values()) {
        if (r.row.closed) {
          victim = r;
          break;
        }
      }
      if (!victim) {
        st.untracked++;
        return null;
      }
      byId.delete(victim.row.id);
      if (byKey.get(victim.key) === victim) byKey.delete(victim.key);
      st.evicted++;
    }
    const row: MonitorRow = {
      id: nextId++,
      guest,
      peer,
      kind,
      state: kind === 'forwarded' ? 'CONNECTING' : 'CLOSED',
      closed: false,
      failure: null,
      host: null,
      bytesUp: 0,
      bytesDown: 0,
      rateUp: 0,
      rateDown: 0,
      segments: 0,
      openedAt: Math.round(clock() - t0),
      closedAt: null,
    };
    const r: Rec = { row, key, conn: null, flow: null, segs: [], trans: [], initial: row.state, isn: { guest: null, gateway: null }, sample: { t: clock(), up: 0, down: 0 } };
    byKey.set(key, r);
    byId.set(row.id, r);
    st.tracked++;
    return r;
  }

  function finish(r: Rec): void {
    if (r.row.closed) return;
    r.row.closed = true;
    r.row.closedAt = Math.round(clock() - t0);
    r.row.rateUp = 0;
    r.row.rateDown = 0;
    // The TCB is gone: the record keeps numbers only (the flow's counters may still grow by what the sockets buffered).
    r.conn = null;
  }

  function onSegment(ev: Extract<StackTraceEvent, { type: 'segment' }>): void {
    const seg = ev.tcp;
    const fromGuest = ev.dir === 'in';
    const [gAddr, gPort, pAddr, pPort] = fromGuest ? [ev.src, seg.srcPort, ev.dst, seg.dstPort] : [ev.dst, seg.dstPort, ev.src, seg.srcPort];
    const key = `${String(pAddr)}|${pPort}|${String(gAddr)}|${gPort}`;
    let r = byKey.get(key);
    const syn = (seg.flags & SYN) !== 0 && (seg.flags & ACK) === 0;
    // A new SYN on a closed record's tuple starts a new connection (a new incarnation).
    if (r && syn && r.row.closed) r = undefined;
    if (!r) {
      // Only a SYN opens a record: a stray segment (a RST to a closed port) does not.
      if (!syn) return;
      const nr = open(key, addr(gAddr, gPort), addr(pAddr, pPort), fromGuest ? 'forwarded' : 'published');
      if (!nr) return;
      r = nr;
    }
    if (ev.conn && !r.conn) r.conn = ev.conn;
    const from = fromGuest ? 'guest' : 'gateway';
    const other = fromGuest ? 'gateway' : 'guest';
    // RFC 9293 §3.4: "For sequence number purposes, the SYN is considered
    // to occur before the first actual data octet of the segment in which it
    // occurs" — the SYN's sequence number is the base, so the first data
    // octet is relative 1 (as Wireshark and the ladders of viz/ number them).
    if (seg.flags & SYN) r.isn[from] = seg.seq;
    if (r.isn[from] === null) r.isn[from] = seg.seq;
    const ackOn = (seg.flags & ACK) !== 0;
    const n = r.row.segments++;
    r.segs.push({
      n,
      t: ev.time,
      from,
      // Named when read (detail()): the hot path keeps numbers only.
      flags: '',
      flagBits: seg.flags,
      ...wscaleOf(seg),
      seq: seg.seq,
      ack: seg.ack,
      relSeq: (seg.seq - r.isn[from]!) >>> 0,
      relAck: ackOn && r.isn[other] !== null ? (seg.ack - r.isn[other]!) >>> 0 : null,
      window: seg.window,
      len: seg.payload.length,
    });
    // Amortized: trim in chunks rather than shifting on every segment.
    if (r.segs.length > maxSegs + (maxSegs >> 2)) r.segs.splice(0, r.segs.length - maxSegs);
    // A RST ends a connection that never had a TCB (the host refused: RST to the guest's SYN).
    if (seg.flags & RST && !r.conn && !r.row.closed) {
      r.row.state = 'CLOSED';
      r.row.failure = fromGuest ? 'cancelled' : 'refused';
      finish(r);
    }
    version++;
  }

  function onConn(ev: Extract<StackTraceEvent, { type: 'conn' }>): void {
    const c = ev.conn;
    const key = `${String(c.localAddr)}|${c.localPort}|${String(c.remoteAddr)}|${c.remotePort}`;
    const r = byKey.get(key);
    if (!r || (r.conn && r.conn !== c)) return;
    r.conn = c;
    const e = ev.event;
    if (e.type === 'state') {
      if (r.trans.length === 0 && r.row.kind === 'forwarded') r.initial = 'LISTEN';
      r.trans.push({ t: ev.time, from: e.from, to: e.to, cause: e.cause, afterSegments: r.row.segments });
      if (r.trans.length > maxTrans) {
        r.initial = r.trans[0]!.to;
        r.trans.shift();
      }
      r.row.state = e.to;
      version++;
    } else if (e.type === 'closed') {
      r.row.state = 'CLOSED';
      finish(r);
      version++;
    }
  }

  /**
   * An ICMP Destination Unreachable the gateway sends for a guest SYN it
   * could not forward (policy, an unreachable or silent host) ends that
   * connection's record. RFC 792: the message carries "the internet header
   * plus the first 64 bits of the original datagram's data" — the TCP
   * ports; RFC 4443 §3.1: "As much of invoking packet as possible without
   * the ICMPv6 packet exceeding the minimum IPv6 MTU".
   */
  function onPacketOut(b: Uint8Array): void {
    let q: number;
    let g: IpAddr;
    let p: IpAddr;
    if (b.length >= 48 && b[0]! >>> 4 === 4 && b[9] === 1) {
      const ihl = (b[0]! & 15) * 4;
      if (b[ihl] !== 3) return;
      const i = ihl + 8;
      if (b.length < i + 20 || b[i + 9] !== 6) return;
      g = ((b[i + 12]! << 24) | (b[i + 13]! << 16) | (b[i + 14]! << 8) | b[i + 15]!) >>> 0;
      p = ((b[i + 16]! << 24) | (b[i + 17]! << 16) | (b[i + 18]! << 8) | b[i + 19]!) >>> 0;
      q = i + (b[i]! & 15) * 4;
    } else if (b.length >= 92 && b[0]! >>> 4 === 6 && b[6] === 58 && b[40] === 1 && b[48 + 6] === 6) {
      g = readIpv6Addr(b, 56);
      p = readIpv6Addr(b, 72);
      q = 88;
    } else return;
    if (b.length < q + 4) return;
    const r = byKey.get(`${String(p)}|${(b[q + 2]! << 8) | b[q + 3]!}|${String(g)}|${(b[q]! << 8) | b[q + 1]!}`);
    if (!r || r.conn || r.row.closed) return;
    r.row.state = 'CLOSED';
    r.row.failure = 'unreachable';
    finish(r);
    version++;
  }

  const unhook = stack.addHook((ev) => {
    if (ev.type === 'segment') onSegment(ev);
    else if (ev.type === 'conn') onConn(ev);
    else if (ev.type === 'packet' && ev.dir === 'out' && byId.size > 0) onPacketOut(ev.bytes);
  });

  /** Pairs a record with the gateway's flow of the same connection (its guest socket's 4-tuple). */
  function attach(f: MonitoredFlow): void {
    const ends = f.guestEnds();
    if (!ends) return;
    const { peer, guest } = ends;
    let r: Rec | undefined;
    for (const x of byId.values()) if (x.flow === null && x.row.peer === peer && x.row.guest === guest && (f.conn === null || x.conn === null || x.conn === f.conn)) r = x;
    if (!r) return;
    r.flow = f;
    const h = f.hostEnds();
    if (h) r.row.host = h;
    version++;
  }

  /** Refreshes bytes and rates from the flows. */
  function refresh(): void {
    const now = clock();
    for (const r of byId.values()) {
      const f = r.flow;
      if (!f) continue;
      if (f.bytesUp !== r.row.bytesUp || f.bytesDown !== r.row.bytesDown) version++;
      r.row.bytesUp = f.bytesUp;
      r.row.bytesDown = f.bytesDown;
      const dt = now - r.sample.t;
      if (!r.row.closed && dt >= 500) {
        const up = Math.round(((f.bytesUp - r.sample.up) * 1000) / dt);
        const down = Math.round(((f.bytesDown - r.sample.down) * 1000) / dt);
        // A rate falling to 0 is a change too (the feed sends the table again).
        if (up !== r.row.rateUp || down !== r.row.rateDown) version++;
        r.row.rateUp = up;
        r.row.rateDown = down;
        r.sample = { t: now, up: f.bytesUp, down: f.bytesDown };
      }
    }
  }

  const copyRow = (r: Rec): MonitorRow => ({ ...r.row, host: r.row.host ? { ...r.row.host } : null });

  return {
    rows(): MonitorRow[] {
      refresh();
      return [...byId.values()].map(copyRow);
    },
    udp(): MonitorUdpRow[] {
      const out: MonitorUdpRow[] = [];
      for (const f of udpFlows()) {
        let local = '?';
        try {
          const a = f.sock.address();
          local = hostAddr(a.address, a.port);
        } catch {
          // Not bound yet (before its first send completes).
        }
        out.push({
          guest: addr(f.d.src, f.d.srcPort),
          peer: addr(f.d.dst, f.d.dstPort),
          host: { local, remote: hostAddr(f.target, f.port) },
          datagramsUp: f.datagramsUp,
          datagramsDown: f.datagramsDown,
          bytesUp: f.bytesUp,
          bytesDown: f.bytesDown,
        });
      }
      return out;
    },
    detail(id: number): MonitorDetail | null {
      refresh();
      const r = byId.get(id);
      if (!r) return null;
      const segs = (r.segs.length > maxSegs ? r.segs.slice(r.segs.length - maxSegs) : r.segs).map((x) => ({ ...x, flags: flagsToString(x.flagBits) }));
      return { row: copyRow(r), segments: segs, transitions: r.trans.slice(), initial: r.initial };
    },
    stats: () => ({ ...st, tracked: byId.size }),
    get version() {
      return version;
    },
    attach,
    close: unhook,
  };
}
