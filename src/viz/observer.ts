/**
 * A passive observer of real captures: splits a pcap into TCP connections
 * and, for each, follows both endpoints' states through the arrows of RFC
 * 9293 Figure 5 (`tcp/state.ts`) from what the wire shows, and marks each
 * segment the way Wireshark's TCP analysis does (retransmission, fast and
 * spurious retransmission, out-of-order, zero window, zero-window probe,
 * keep-alive, duplicate ACK, reset, previous segment not captured).
 *
 * The verdicts follow the rules Wireshark documents for `tcp.analysis.*`
 * (User's Guide, "TCP Analysis"), so that `synack trace` and tshark agree on
 * the same file; the tests compare the two on kernel-to-kernel traffic.
 *
 * A passive observer sees each segment once, at the capture point; it takes
 * a segment as delivered when it is captured. Pure: no node: imports.
 */
import { FIGURE_5, type TcpState } from '../tcp/state.ts';
import { seqAdd, seqGe, seqGt, seqLe, seqLt } from '../tcp/seq.ts';
import { ACK, FIN, RST, SYN, CHECKSUM_OFFLOAD, IPPROTO_TCP, type Ipv4Repr, type TcpRepr } from '../wire/types.ts';
import { parseIpv4 } from '../wire/ipv4.ts';
import { formatIpAddr, parseIpv6, walkIpv6, type IpAddr, type Ipv6Addr, type Ipv6Repr } from '../wire/ipv6.ts';
import { parseTcp, flagsToString } from '../wire/tcp.ts';
import { ipv4ToString } from '../wire/bytes.ts';
import { parsePcap } from '../wire/pcap.ts';

export type Verdict =
  | 'retransmission'
  | 'fast-retransmission'
  | 'spurious-retransmission'
  | 'out-of-order'
  | 'zero-window'
  | 'zero-window-probe'
  | 'keep-alive'
  | 'dup-ack'
  | 'reset'
  | 'previous-segment-lost';

/** Verdicts that Wireshark's `tcp.analysis.retransmission` filter matches. */
export const RETRANSMISSION_VERDICTS: readonly Verdict[] = ['retransmission', 'fast-retransmission', 'spurious-retransmission'];

export interface ObservedTransition {
  side: 0 | 1;
  from: TcpState;
  to: TcpState;
  /** Figure 5's label, or what took the state elsewhere (RST, ABORT). */
  label: string;
  /** Whether the arrow is one of Figure 5. */
  figure5: boolean;
}

export interface TraceSegment {
  /** 1-based number of the packet in the file (counting the IP packets parsePcap keeps). */
  frame: number;
  timeUs: number;
  /** 0: the endpoint that sent first (the client when the SYN is captured); 1: the other. */
  from: 0 | 1;
  bytes: Uint8Array;
  /** The IP header: IPv4 or IPv6 (`'hopLimit' in ip`). */
  ip: IpHeader;
  tcp: TcpRepr;
  flags: number;
  flagsText: string;
  len: number;
  segLen: number;
  relSeq: number;
  relAck: number | null;
  /** Window in bytes (scaled when both SYNs offered window scaling). */
  windowBytes: number;
  verdicts: Verdict[];
  /** Both endpoints' states after this segment. */
  states: [TcpState, TcpState];
  transitions: ObservedTransition[];
}

export interface TraceConnection {
  /** 1-based, in order of first packet (`synack trace --conn N`). */
  index: number;
  endpoints: [string, string];
  initial: [TcpState, TcpState];
  /** The capture started after the handshake: states before the first segment are assumed. */
  midstream: boolean;
  segments: TraceSegment[];
  startUs: number;
  endUs: number;
  /** Payload bytes sent by each endpoint. */
  bytes: [number, number];
  counts: Partial<Record<Verdict, number>>;
}

export type CaptureAnalysis =
  | { ok: true; connections: TraceConnection[]; packets: number; nonTcp: number; skipped: number; truncated: boolean; startUs: number }
  | { ok: false; error: string };

interface Flow {
  baseSeq: number | null;
  nextseq: number | null;
  nextseqTime: number;
  lastack: number | null;
  lastackTime: number;
  window: number | null;
  dupacks: number;
  lastFlags: Verdict[];
  wscale: number | null;
  synSeen: boolean;
  // Passive TCB
  state: TcpState;
  iss: number | null;
  finEnd: number | null;
  finRcvd: boolean;
  passive: boolean;
  bytes: number;
}

interface Conv {
  conn: TraceConnection;
  addr: [IpAddr, IpAddr];
  port: [number, number];
  flows: [Flow, Flow];
  tsMruSyn: number | null;
  firstRtt: number;
}

function newFlow(state: TcpState): Flow {
  return {
    baseSeq: null,
    nextseq: null,
    nextseqTime: 0,
    lastack: null,
    lastackTime: 0,
    window: null,
    dupacks: 0,
    lastFlags: [],
    wscale: null,
    synSeen: false,
    state,
    iss: null,
    finEnd: null,
    finRcvd: false,
    passive: false,
    bytes: 0,
  };
}

type IpHeader = Ipv4Repr | Ipv6Repr;

/** `addr:port`, an IPv6 address in brackets (RFC 5952 §6). */
function endpoint(a: IpAddr, port: number): string {
  return typeof a === 'string' ? `[${formatIpAddr(a)}]:${port}` : `${ipv4ToString(a)}:${port}`;
}

/** The IP header and TCP payload of a captured packet of either version, or null when it carries no TCP. */
function ipTcp(data: Uint8Array): { h: IpHeader; payload: Uint8Array } | null {
  if (data.length > 0 && data[0]! >>> 4 === 6) {
    const ip = parseIpv6(data);
    if (!ip.ok) return null;
    // RFC 8200 §4: the extension headers come before the upper-layer header.
    const w = walkIpv6(ip.value.packet);
    if (!w.ok || w.kind !== 'upper' || w.protocol !== IPPROTO_TCP) return null;
    return { h: ip.value.header, payload: ip.value.packet.subarray(w.offset) };
  }
  const ip = parseIpv4(data, CHECKSUM_OFFLOAD);
  if (!ip.ok || ip.value.header.protocol !== IPPROTO_TCP) return null;
  return { h: ip.value.header, payload: ip.value.payload };
}

/** Reads a pcap file and follows every TCP connection in it (IPv4 and IPv6). Never throws. */
export function analyzeCapture(file: Uint8Array): CaptureAnalysis {
  const p = parsePcap(file);
  if (!p.ok) return { ok: false, error: p.error };
  const o = new Observation();
  let nonTcp = 0;
  let frame = 0;
  const startUs = p.records[0]?.tsMicros ?? 0;
  for (const rec of p.records) {
    frame++;
    const ip = ipTcp(rec.data);
    if (!ip) {
      nonTcp++;
      continue;
    }
    const h = ip.h;
    const t = parseTcp(ip.payload, h.src, h.dst, CHECKSUM_OFFLOAD);
    if (!t.ok) {
      nonTcp++;
      continue;
    }
    o.add(frame, rec.tsMicros, rec.data, h, t.value);
  }
  return { ok: true, connections: o.all, packets: p.records.length, nonTcp, skipped: p.skipped, truncated: p.truncated, startUs };
}

/** A segment seen at some capture point, without its bytes (e.g. from a stack's trace hook). */
export interface SeenSegment {
  timeUs: number;
  src: IpAddr;
  dst: IpAddr;
  tcp: TcpRepr;
}

/**
 * Follows the TCP connections of segments already parsed — what a stack's
 * trace hook saw (the gateway's --viz page) — exactly as analyzeCapture
 * follows a capture's. Segment numbers (`frame`) count from 1.
 */
export function analyzeSegments(segs: readonly SeenSegment[]): TraceConnection[] {
  const o = new Observation();
  segs.forEach((s, i) => {
    const h: Ipv4Repr | Ipv6Repr =
      typeof s.src === 'string'
        ? { src: s.src, dst: s.dst as Ipv6Addr, nextHeader: IPPROTO_TCP, hopLimit: 64, trafficClass: 0, flowLabel: 0, payloadLen: 0 }
        : { src: s.src, dst: s.dst as number, protocol: IPPROTO_TCP, ttl: 64, tos: 0, ident: 0, dontFragment: true, payloadLen: 0 };
    o.add(i + 1, s.timeUs, EMPTY, h, s.tcp);
  });
  return o.all;
}

const EMPTY = new Uint8Array(0);

/** The connections followed so far, by 4-tuple. */
class Observation {
  readonly convs = new Map<string, Conv>();
  readonly all: TraceConnection[] = [];

  add(frame: number, ts: number, data: Uint8Array, h: IpHeader, seg: TcpRepr): void {
    const a = endpoint(h.src, seg.srcPort);
    const b = endpoint(h.dst, seg.dstPort);
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    let conv = this.convs.get(key);
    const isSyn = (seg.flags & (SYN | ACK)) === SYN;
    if (conv && isSyn) {
      // Port reuse: a SYN with a new ISN from an endpoint that already sent one starts a new connection.
      const dir = conv.addr[0] === h.src && conv.port[0] === seg.srcPort ? 0 : 1;
      const f = conv.flows[dir];
      if (f.iss !== null && f.iss !== seg.seq) conv = undefined;
    }
    if (!conv) {
      conv = newConv(this.all.length + 1, h, seg, ts);
      this.convs.set(key, conv);
      this.all.push(conv.conn);
    }
    observe(conv, frame, ts, data, h, seg);
  }
}

function newConv(index: number, h: IpHeader, seg: TcpRepr, ts: number): Conv {
  const f = seg.flags;
  let initial: [TcpState, TcpState];
  let midstream = false;
  if ((f & (SYN | ACK)) === SYN) initial = ['CLOSED', 'LISTEN'];
  else if ((f & (SYN | ACK)) === (SYN | ACK)) initial = ['LISTEN', 'SYN-SENT'];
  else {
    initial = ['ESTABLISHED', 'ESTABLISHED'];
    midstream = true;
  }
  const flows: [Flow, Flow] = [newFlow(initial[0]), newFlow(initial[1])];
  if (initial[0] === 'LISTEN') flows[0].passive = true;
  if (initial[1] === 'LISTEN') flows[1].passive = true;
  return {
    conn: {
      index,
      endpoints: [endpoint(h.src, seg.srcPort), endpoint(h.dst, seg.dstPort)],
      initial,
      midstream,
      segments: [],
      startUs: ts,
      endUs: ts,
      bytes: [0, 0],
      counts: {},
    },
    addr: [h.src, h.dst],
    port: [seg.srcPort, seg.dstPort],
    flows,
    tsMruSyn: null,
    firstRtt: 0,
  };
}

function observe(conv: Conv, frame: number, ts: number, bytes: Uint8Array, h: IpHeader, seg: TcpRepr): void {
  const dir: 0 | 1 = conv.addr[0] === h.src && conv.port[0] === seg.srcPort ? 0 : 1;
  const fwd = conv.flows[dir];
  const rev = conv.flows[dir === 0 ? 1 : 0];
  const flags = seg.flags;
  const seq = seg.seq >>> 0;
  const ack = seg.ack >>> 0;
  const seglen = seg.payload.length;
  const verdicts = analyzeSequence(conv, fwd, rev, ts, seq, ack, seglen, flags, seg);
  if (flags & RST) verdicts.push('reset');
  const transitions = track(conv, dir, seg, seglen);
  if (fwd.baseSeq === null) fwd.baseSeq = flags & SYN ? seq : (seq - 1) >>> 0;
  const segLen = seglen + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
  const scaled = !(flags & SYN) && fwd.wscale !== null && rev.wscale !== null;
  const ts0 = conv.conn;
  ts0.endUs = ts;
  ts0.bytes[dir] += seglen;
  for (const v of verdicts) ts0.counts[v] = (ts0.counts[v] ?? 0) + 1;
  ts0.segments.push({
    frame,
    timeUs: ts,
    from: dir,
    bytes,
    ip: h,
    tcp: seg,
    flags,
    flagsText: flagsToString(flags),
    len: seglen,
    segLen,
    relSeq: (seq - fwd.baseSeq) >>> 0,
    relAck: flags & ACK && rev.baseSeq !== null ? (ack - rev.baseSeq) >>> 0 : flags & ACK ? 0 : null,
    windowBytes: scaled ? seg.window * 2 ** fwd.wscale! : seg.window,
    verdicts,
    states: [conv.flows[0].state, conv.flows[1].state],
    transitions,
  });
}

/**
 * Sequence analysis in the order Wireshark applies it (zero-window probe,
 * zero window, lost segment, keep-alive, duplicate ACK, then the
 * retransmission family for segments that do not advance the sequence).
 */
function analyzeSequence(conv: Conv, fwd: Flow, rev: Flow, ts: number, seq: number, ack: number, seglen: number, flags: number, seg: TcpRepr): Verdict[] {
  const v: Verdict[] = [];
  const window = seg.window;
  // The initial RTT: from the most recent SYN to the first ACK that completes the handshake.
  if ((flags & (SYN | ACK)) === SYN) conv.tsMruSyn = ts;
  else if ((flags & (SYN | ACK)) === ACK && conv.firstRtt === 0 && conv.tsMruSyn !== null) conv.firstRtt = ts - conv.tsMruSyn;
  if (flags & SYN) {
    fwd.synSeen = true;
    const ws = seg.options.find((o) => o.kind === 'window-scale');
    fwd.wscale = ws && ws.kind === 'window-scale' ? Math.min(ws.shift, 14) : null;
    if (!(flags & ACK) && ws === undefined) rev.wscale = null;
  }
  let skipFwdChecks = false;
  if (seglen === 1 && fwd.nextseq !== null && seq === fwd.nextseq && rev.window === 0) {
    v.push('zero-window-probe');
    skipFwdChecks = true;
  }
  if (!skipFwdChecks) {
    if (window === 0 && (flags & (RST | FIN | SYN)) === 0) v.push('zero-window');
    if (fwd.nextseq !== null && seqGt(seq, fwd.nextseq) && (flags & RST) === 0) v.push('previous-segment-lost');
    if ((seglen === 0 || seglen === 1) && fwd.nextseq !== null && seq === ((fwd.nextseq - 1) >>> 0) && (flags & (SYN | FIN | RST)) === 0) v.push('keep-alive');
    const sameAsLast = seglen === 0 && fwd.nextseq !== null && seq === fwd.nextseq && ack === fwd.lastack && (flags & (SYN | FIN | RST)) === 0;
    if (sameAsLast && window !== 0 && window === fwd.window && rev.lastFlags.includes('keep-alive')) {
      // keep-alive ACK: nothing more to check on this direction
    } else if (sameAsLast && window === 0 && window === fwd.window && rev.lastFlags.includes('zero-window-probe')) {
      // zero-window-probe ACK
    } else if (sameAsLast && window !== 0 && window === fwd.window) {
      fwd.dupacks++;
      v.push('dup-ack');
    }
  }
  if (ack !== fwd.lastack) fwd.dupacks = 0;

  if (seglen > 0 || flags & (SYN | FIN)) {
    let notAdvanced = fwd.nextseq !== null && seqLt(seq, fwd.nextseq);
    if (!v.includes('keep-alive')) {
      if (seglen > 1 && fwd.nextseq !== null && ((fwd.nextseq - 1) >>> 0) === seq) notAdvanced = false;
      const thres = conv.firstRtt > 0 ? conv.firstRtt : 3000;
      const segEnd = (seq + seglen + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
      if (seglen > 0 && rev.lastack !== null && rev.lastack !== 0 && seqLe((seq + seglen) >>> 0, rev.lastack)) {
        v.push('spurious-retransmission');
      } else if (notAdvanced && rev.dupacks >= 2 && rev.lastack === seq && ts - rev.lastackTime < 20_000) {
        v.push('fast-retransmission');
      } else if (notAdvanced && ts - fwd.nextseqTime < thres && fwd.nextseq !== segEnd) {
        v.push('out-of-order');
      } else if (notAdvanced) {
        v.push('retransmission');
      }
    }
  }

  let nextseq = (seq + seglen) >>> 0;
  if (flags & (SYN | FIN)) nextseq = (nextseq + 1) >>> 0;
  if (fwd.nextseq === null || seqGt(nextseq, fwd.nextseq)) {
    if (!v.includes('zero-window-probe')) {
      fwd.nextseq = nextseq;
      fwd.nextseqTime = ts;
    }
  }
  fwd.window = window;
  fwd.lastack = ack;
  fwd.lastackTime = ts;
  fwd.lastFlags = v;
  return v;
}

function figure5(from: TcpState, to: TcpState): string | null {
  return FIGURE_5.find((t) => t.from === from && t.to === to)?.label ?? null;
}

/** Follows both endpoints through Figure 5: the sender's effects, then the receiver's (ACK before FIN, as §3.10.7.4 orders them). */
function track(conv: Conv, dir: 0 | 1, seg: TcpRepr, seglen: number): ObservedTransition[] {
  const out: ObservedTransition[] = [];
  const peer: 0 | 1 = dir === 0 ? 1 : 0;
  const x = conv.flows[dir];
  const y = conv.flows[peer];
  const f = seg.flags;
  const go = (side: 0 | 1, to: TcpState, other: string): void => {
    const fl = conv.flows[side];
    const from = fl.state;
    if (from === to) return;
    const label = figure5(from, to);
    fl.state = to;
    out.push({ side, from, to, label: label ?? other, figure5: label !== null });
  };
  x.bytes += seglen;
  // --- what the sender's segment proves it received: the peer's FIN, once its ACK covers it ---
  // (a FIN is taken as received when acknowledged, not when captured: two FINs
  // that cross on the wire each reach a sender already in FIN-WAIT-1)
  if (!(f & RST) && f & ACK && y.finEnd !== null && !x.finRcvd && seqGe(seg.ack, y.finEnd)) {
    x.finRcvd = true;
    if (x.state === 'ESTABLISHED' || x.state === 'SYN-RECEIVED') go(dir, 'CLOSE-WAIT', '');
    else if (x.state === 'FIN-WAIT-1') go(dir, 'CLOSING', '');
    else if (x.state === 'FIN-WAIT-2') go(dir, 'TIME-WAIT', '');
  }
  // --- the sender ---
  if (f & SYN && x.iss === null) x.iss = seg.seq;
  if (f & RST) {
    if (x.state !== 'CLOSED' && x.state !== 'LISTEN') go(dir, 'CLOSED', 'snd RST (ABORT, or no such connection)');
  } else if ((f & (SYN | ACK)) === SYN) {
    // A pure SYN from the side assumed to be listening: it was not listening
    // but opening too (a simultaneous open); correct the assumption.
    if (x.state === 'LISTEN' && x.passive && !conv.conn.segments.some((s) => s.transitions.some((t) => t.side === dir))) {
      x.state = 'CLOSED';
      x.passive = false;
      conv.conn.initial[dir] = 'CLOSED';
      for (const s of conv.conn.segments) s.states[dir] = 'CLOSED';
    }
    if (x.state === 'CLOSED' || x.state === 'LISTEN') go(dir, 'SYN-SENT', '');
  } else if ((f & (SYN | ACK)) === (SYN | ACK)) {
    if (x.state === 'LISTEN' || x.state === 'SYN-SENT') go(dir, 'SYN-RECEIVED', '');
  }
  if (f & FIN && !(f & RST)) {
    const end = seqAdd(seg.seq, seglen + (f & SYN ? 1 : 0) + 1);
    if (x.finEnd === null || seqGt(end, x.finEnd)) x.finEnd = end;
    if (x.state === 'ESTABLISHED' || x.state === 'SYN-RECEIVED') go(dir, 'FIN-WAIT-1', '');
    else if (x.state === 'CLOSE-WAIT') go(dir, 'LAST-ACK', '');
  }
  // --- the receiver (taken as delivered when captured) ---
  if (f & RST) {
    if (y.state === 'SYN-RECEIVED' && y.passive) go(peer, 'LISTEN', 'rcv RST');
    else if (y.state === 'SYN-SENT') {
      if (f & ACK && y.iss !== null && seqGt(seg.ack, y.iss)) go(peer, 'CLOSED', 'rcv RST (connection refused)');
    } else if (y.state !== 'CLOSED' && y.state !== 'LISTEN') go(peer, 'CLOSED', 'rcv RST (connection reset)');
    return out;
  }
  if ((f & (SYN | ACK)) === SYN && y.state === 'SYN-SENT') go(peer, 'SYN-RECEIVED', '');
  if (f & ACK) {
    const acksSyn = y.iss !== null && seqGt(seg.ack, y.iss);
    if (y.state === 'SYN-SENT' && f & SYN && acksSyn) go(peer, 'ESTABLISHED', '');
    else if (y.state === 'SYN-RECEIVED' && acksSyn) go(peer, 'ESTABLISHED', '');
    if (y.finEnd !== null && seqGe(seg.ack, y.finEnd)) {
      if (y.state === 'FIN-WAIT-1') go(peer, 'FIN-WAIT-2', '');
      else if (y.state === 'CLOSING') go(peer, 'TIME-WAIT', '');
      else if (y.state === 'LAST-ACK') go(peer, 'CLOSED', '');
    }
  }
  return out;
}

/** A short name of an endpoint's role. */
export function roleOf(c: TraceConnection, side: 0 | 1): string {
  if (c.midstream) return side === 0 ? 'A' : 'B';
  const activeFirst = c.initial[0] === 'CLOSED';
  return (side === 0) === activeFirst ? 'client' : 'server';
}

/** Whether a segment was marked with one of `vs`. */
export function hasVerdict(s: TraceSegment, vs: readonly Verdict[]): boolean {
  return s.verdicts.some((v) => vs.includes(v));
}
