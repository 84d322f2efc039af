/**
 * The live session behind the visualizer page: a client and a server stack
 * on one in-memory hub under a virtual clock, and a log of everything that
 * happens to them — every segment (sent, arrived or lost, retransmitted),
 * every state change (with the arrow of RFC 9293 Figure 5 it takes) and what
 * the applications did.
 *
 * Pure: no DOM, no node: module, no wall clock. The page moves the clock
 * with `advance(us)` from requestAnimationFrame; the tests call the same
 * methods directly.
 */
import { Network } from '../sim/network.ts';
import type { MemoryHub } from '../links/memory.ts';
import type { Listener, Stack } from '../stack/stack.ts';
import type { Connection } from '../tcp/connection.ts';
import { FIGURE_5, type TcpState, type Transition } from '../tcp/state.ts';
import { seqAdd, seqGt, seqLt } from '../tcp/seq.ts';
import { ACK, FIN, SYN, CHECKSUM_OFFLOAD, type TcpRepr } from '../wire/types.ts';
import { parseIpv4 } from '../wire/ipv4.ts';
import { parseTcp, flagsToString } from '../wire/tcp.ts';
import { parseIpv4Addr } from '../wire/bytes.ts';
import { formatIpAddr, parseIpv6, parseIpv6Addr, type IpAddr } from '../wire/ipv6.ts';

/** `addr:port`, an IPv6 address in brackets (RFC 5952 §6). */
function endpoint(addr: IpAddr, port: number): string {
  return typeof addr === 'string' ? `[${formatIpAddr(addr)}]:${port}` : `${formatIpAddr(addr)}:${port}`;
}
import { pcapGlobalHeader, pcapRecord } from '../wire/pcap.ts';

export type Side = 'client' | 'server';
export const SIDES: readonly Side[] = ['client', 'server'];
export const other = (s: Side): Side => (s === 'client' ? 'server' : 'client');

export const CLIENT_ADDR = parseIpv4Addr('10.0.0.1')!;
export const SERVER_ADDR = parseIpv4Addr('10.0.0.2')!;
/** The addresses of the IPv6 session (issue 12; the same as `synack demo --ipv6`). */
export const CLIENT_ADDR6 = parseIpv6Addr('fd00::1')!;
export const SERVER_ADDR6 = parseIpv6Addr('fd00::2')!;
export const SERVER_PORT = 80;
/** Fixed ports of the simultaneous open (both sides connect to each other). */
export const SIM_CLIENT_PORT = 5001;
export const SIM_SERVER_PORT = 5002;
/** MSL for the page: TIME-WAIT lasts 2 × MSL = 1 s instead of 4 minutes. */
export const VIZ_MSL_US = 500_000;

/** One segment as it was sent, and what became of it. */
export interface SegmentView {
  id: number;
  from: Side;
  to: Side;
  /** Position in the session's event order (ties at one instant). */
  order: number;
  sentUs: number;
  /** When it would arrive with the delay in force when it was sent. */
  expectedUs: number;
  arrivedUs: number | null;
  arriveOrder: number | null;
  /** The hub dropped it (random loss or "drop the next segment"). */
  lost: boolean;
  /** It was dropped by the "drop the next segment" control. */
  droppedOnPurpose: boolean;
  /** The IP packet, IPv4 or IPv6 (a copy). */
  bytes: Uint8Array;
  tcp: TcpRepr;
  flags: number;
  flagsText: string;
  /** Payload bytes. */
  len: number;
  /** Sequence space used: payload + SYN + FIN. */
  segLen: number;
  relSeq: number | null;
  relAck: number | null;
  /** Advertised window in bytes, window scaling applied. */
  windowBytes: number;
  /** Why this resends sequence space already sent ('RTO', 'SYN timeout', 'fast retransmit', 'window probe', 'again'), or null. */
  retransmission: string | null;
  senderState: TcpState;
  receiverState: TcpState | null;
}

export interface StateChangeView {
  order: number;
  side: Side;
  timeUs: number;
  from: TcpState;
  to: TcpState;
  cause: string;
  /** The arrow of RFC 9293 Figure 5, or null (RST, ABORT, timeouts: not drawn in Figure 5). */
  transition: Transition | null;
}

export type AppNote =
  | { kind: 'received'; side: Side; text: string; bytes: number }
  | { kind: 'end'; side: Side }
  | { kind: 'call'; side: Side; call: 'connect' | 'listen' | 'send' | 'close' | 'abort' | 'unlisten'; detail?: string }
  | { kind: 'closed'; side: Side; reason: string | null }
  | { kind: 'error'; side: Side | null; text: string };

export interface NoteView {
  order: number;
  timeUs: number;
  note: AppNote;
}

export interface SideStatus {
  state: TcpState;
  srttUs: number | null;
  rtoUs: number | null;
  cwnd: number | null;
  ssthresh: number | null;
  sndWnd: number | null;
  rcvWnd: number | null;
  bytesInFlight: number | null;
  retransmits: number;
  segmentsOut: number;
  segmentsIn: number;
}

export interface SessionOptions {
  seed: number;
  /** One-way delay, µs. */
  delayUs: number;
  /** Loss probability 0..1. */
  loss: number;
  /** The server application closes as soon as the client's FIN arrives (the textbook 4-way close). */
  autoClose: boolean;
  /** Run the connection over IPv6 (fd00::1 → fd00::2) instead of IPv4 (10.0.0.1 → 10.0.0.2). */
  ipv6: boolean;
}

export const DEFAULT_SESSION_OPTIONS: Readonly<SessionOptions> = Object.freeze({ seed: 1, delayUs: 40_000, loss: 0, autoClose: true, ipv6: false });

export function findTransition(from: TcpState, to: TcpState): Transition | null {
  return FIGURE_5.find((t) => t.from === from && t.to === to) ?? null;
}

export class VizSession {
  readonly net: Network;
  readonly hub: MemoryHub;
  readonly stacks: Record<Side, Stack>;
  readonly opts: SessionOptions;
  /** Each side's address (IPv4 or IPv6, `opts.ipv6`). */
  readonly addr: Record<Side, IpAddr>;
  readonly segments: SegmentView[] = [];
  readonly stateChanges: StateChangeView[] = [];
  readonly notes: NoteView[] = [];
  /** Each side's state as the page shows it (the tracked connection's, else the listener's). */
  readonly state: Record<Side, TcpState> = { client: 'CLOSED', server: 'CLOSED' };
  readonly conns: Record<Side, Connection | null> = { client: null, server: null };
  /** Every packet that left a stack, as pcap records. */
  private readonly pcap: Uint8Array[] = [pcapGlobalHeader()];
  private listener: Listener | null = null;
  private order = 0;
  private readonly bySent = new Map<Uint8Array, SegmentView>();
  private readonly isn: Record<Side, number | null> = { client: null, server: null };
  private readonly wscale: Record<Side, number | null> = { client: null, server: null };
  private readonly sentEnd: Record<Side, number | null> = { client: null, server: null };
  private readonly pendingRtx: Record<Side, string | null> = { client: null, server: null };
  private readonly sentSynAck: Record<Side, boolean> = { client: false, server: false };
  private readonly closedByApp: Record<Side, boolean> = { client: false, server: false };
  /** The segment whose arrival is being processed (state changes in this step are its effect). */
  private arriving: SegmentView | null = null;
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();

  constructor(opts: Partial<SessionOptions> = {}) {
    this.opts = { ...DEFAULT_SESSION_OPTIONS, ...opts };
    this.addr = this.opts.ipv6 ? { client: CLIENT_ADDR6, server: SERVER_ADDR6 } : { client: CLIENT_ADDR, server: SERVER_ADDR };
    this.net = new Network({ seed: this.opts.seed });
    // Real checksums, so that the exported pcap verifies in Wireshark.
    this.hub = this.net.addHub({ impair: { delayUs: this.opts.delayUs, loss: this.opts.loss }, checksumOffload: false });
    const tcp = { mslUs: VIZ_MSL_US };
    this.stacks = {
      client: this.net.addStack({ name: 'client', tcp }),
      server: this.net.addStack({ name: 'server', tcp }),
    };
    this.hub.tap = (_from, packet) => this.pcap.push(pcapRecord(this.net.clock.now(), packet));
    for (const side of SIDES) this.wire(side);
    this.listen();
    this.initial = { ...this.state };
    this.initialMark = this.order;
  }

  /** Each side's state once the session is set up (the server listening). */
  readonly initial: Record<Side, TcpState>;
  /** Log entries before this order belong to the setup. */
  readonly initialMark: number;

  get now(): number {
    return this.net.clock.now();
  }

  // ===========================================================================
  // Wiring: hooks that fill the log
  // ===========================================================================

  private wire(side: Side): void {
    const stack = this.stacks[side];
    const addr = this.addr[side];
    const port = this.hub.attach(addr);
    stack.addInterface({ addr, prefixLen: typeof addr === 'string' ? 64 : 24, link: port });
    const transmit = port.transmit.bind(port);
    port.transmit = (bytes) => {
      const row = this.bySent.get(bytes);
      const lostBefore = this.hub.stats.lost;
      const dropNext = this.hub.dropNext;
      transmit(bytes);
      if (row && this.hub.stats.lost > lostBefore) {
        row.lost = true;
        row.droppedOnPurpose = this.hub.dropNext < dropNext;
        this.bySent.delete(bytes);
      }
    };
    stack.addHook((ev) => {
      if (ev.type === 'conn') {
        const e = ev.event;
        if (!this.track(side, ev.conn)) return;
        if (e.type === 'state') {
          if (e.to === this.state[side]) return; // a spawned TCB entering LISTEN while the listener shows LISTEN
          this.recordState(side, e.to, e.cause);
        } else if (e.type === 'retransmit') {
          this.pendingRtx[side] = e.kind === 'rto' ? 'RTO' : e.kind === 'syn' ? 'SYN timeout' : e.kind === 'fast' ? 'fast retransmit' : e.kind === 'pmtu' ? 'PMTU retransmit' : 'window probe';
        } else if (e.type === 'end') {
          this.note({ kind: 'end', side });
        } else if (e.type === 'closed') {
          this.note({ kind: 'closed', side, reason: e.reason });
        }
        return;
      }
      if (ev.type !== 'segment' || !ev.bytes) return;
      if (ev.dir === 'out') {
        const row = this.makeRow(side, ev.time, ev.bytes, ev.tcp);
        this.segments.push(row);
        this.bySent.set(ev.bytes, row);
      } else {
        const row = this.bySent.get(ev.bytes);
        if (row) {
          this.bySent.delete(ev.bytes);
          row.arrivedUs = ev.time;
          row.arriveOrder = this.order++;
          this.arriving = row;
        }
      }
    });
  }

  /** Whether `conn` is the connection this side shows (adopting it if the side has none alive). */
  private track(side: Side, conn: Connection): boolean {
    const cur = this.conns[side];
    if (cur === conn) return true;
    if (cur === null || cur.state === 'CLOSED') {
      this.conns[side] = conn;
      this.closedByApp[side] = false;
      return true;
    }
    return false;
  }

  private recordState(side: Side, to: TcpState, cause: string): void {
    const from = this.state[side];
    this.state[side] = to;
    this.stateChanges.push({ order: this.order++, side, timeUs: this.now, from, to, cause, transition: findTransition(from, to) });
    // The receiver's state after the segment being processed, if this change is its doing.
    if (this.arriving && this.arriving.to === side) this.arriving.receiverState = to;
  }

  private note(note: AppNote): void {
    this.notes.push({ order: this.order++, timeUs: this.now, note });
  }

  private makeRow(from: Side, time: number, bytes: Uint8Array, t: TcpRepr): SegmentView {
    const to = other(from);
    if (t.flags & SYN && this.isn[from] === null) this.isn[from] = t.seq;
    if (t.flags & SYN) {
      const ws = t.options.find((x) => x.kind === 'window-scale');
      this.wscale[from] = ws && ws.kind === 'window-scale' ? Math.min(ws.shift, 14) : null;
    }
    const segLen = t.payload.length + (t.flags & SYN ? 1 : 0) + (t.flags & FIN ? 1 : 0);
    let retransmission: string | null = null;
    const end = seqAdd(t.seq, segLen);
    const prev = this.sentEnd[from];
    if (segLen > 0 && prev !== null && seqLt(t.seq, prev)) retransmission = this.pendingRtx[from] ?? 'again';
    // Simultaneous open: the first SYN,ACK re-sends our SYN with the ACK added (RFC 9293 Figure 8).
    if ((t.flags & (SYN | ACK)) === (SYN | ACK) && !this.sentSynAck[from]) {
      this.sentSynAck[from] = true;
      if (this.pendingRtx[from] === null) retransmission = null;
    }
    if (segLen > 0) this.pendingRtx[from] = null;
    if (segLen > 0 && (prev === null || seqGt(end, prev))) this.sentEnd[from] = end;
    const scaled = !(t.flags & SYN) && this.wscale.client !== null && this.wscale.server !== null;
    const myIsn = this.isn[from];
    const peerIsn = this.isn[to];
    const copy = bytes.slice();
    // Keep a parsed copy that owns its bytes (the stack's view may be reused by the receiver).
    const ip = copy.length && copy[0]! >>> 4 === 6 ? parseIpv6(copy) : parseIpv4(copy, CHECKSUM_OFFLOAD);
    const tcp = ip.ok ? parseTcp(ip.value.payload, ip.value.header.src, ip.value.header.dst, CHECKSUM_OFFLOAD) : null;
    const repr = tcp && tcp.ok ? tcp.value : { ...t, payload: t.payload.slice() };
    return {
      id: this.segments.length,
      from,
      to,
      order: this.order++,
      sentUs: time,
      expectedUs: time + this.hub.impair.delayUs,
      arrivedUs: null,
      arriveOrder: null,
      lost: false,
      droppedOnPurpose: false,
      bytes: copy,
      tcp: repr,
      flags: t.flags,
      flagsText: flagsToString(t.flags),
      len: t.payload.length,
      segLen,
      relSeq: myIsn === null ? null : (t.seq - myIsn) >>> 0,
      relAck: t.flags & ACK && peerIsn !== null ? (t.ack - peerIsn) >>> 0 : null,
      windowBytes: scaled ? t.window * 2 ** this.wscale[from]! : t.window,
      retransmission,
      senderState: this.state[from],
      receiverState: null,
    };
  }

  // ===========================================================================
  // User controls
  // ===========================================================================

  /** Whether a side has a connection that is not yet closed. */
  busy(side: Side): boolean {
    const c = this.conns[side];
    return c !== null && c.state !== 'CLOSED';
  }

  private listen(): void {
    if (this.listener) return;
    // Accepted connections are tracked by the hook; none wait in an accept queue.
    this.listener = this.stacks.server.listen(SERVER_PORT, { onConnection: () => {} });
    if (!this.busy('server')) {
      this.recordState('server', 'LISTEN', 'passive OPEN');
      this.note({ kind: 'call', side: 'server', call: 'listen', detail: String(SERVER_PORT) });
    }
  }

  /** The client connects to the server's port 80 (the server listens again if it stopped). */
  connect(): string | null {
    if (this.busy('client')) return 'the client already has a connection';
    if (this.busy('server') && this.state.server !== 'LISTEN') return 'the server is still busy with a connection';
    if (!this.listener) this.listen();
    this.note({ kind: 'call', side: 'client', call: 'connect', detail: endpoint(this.addr.server, SERVER_PORT) });
    return this.tryCall('client', () => {
      this.conns.client = null;
      this.stacks.client.connect(this.addr.server, SERVER_PORT);
    });
  }

  /** Both sides connect to each other at the same instant (RFC 9293 Figure 8); the server's listener closes first. */
  simultaneousOpen(): string | null {
    if (this.busy('client') || (this.busy('server') && this.state.server !== 'LISTEN')) return 'both sides must be idle first (reset, or close both)';
    if (this.listener) {
      this.listener.close();
      this.listener = null;
      this.note({ kind: 'call', side: 'server', call: 'unlisten' });
      if (this.state.server === 'LISTEN') this.recordState('server', 'CLOSED', 'CLOSE (the listener)');
    }
    this.note({ kind: 'call', side: 'client', call: 'connect', detail: endpoint(this.addr.server, SIM_SERVER_PORT) });
    this.note({ kind: 'call', side: 'server', call: 'connect', detail: endpoint(this.addr.client, SIM_CLIENT_PORT) });
    return (
      this.tryCall('client', () => {
        this.conns.client = null;
        this.stacks.client.connect(this.addr.server, SIM_SERVER_PORT, { localPort: SIM_CLIENT_PORT });
      }) ??
      this.tryCall('server', () => {
        this.conns.server = null;
        this.stacks.server.connect(this.addr.client, SIM_CLIENT_PORT, { localPort: SIM_SERVER_PORT });
      })
    );
  }

  send(side: Side, text: string): string | null {
    const c = this.conns[side];
    if (!c || c.state === 'CLOSED' || c.state === 'LISTEN') return `the ${side} has no connection`;
    const data = this.enc.encode(text);
    if (data.length === 0) return 'nothing to send';
    this.note({ kind: 'call', side, call: 'send', detail: text });
    return this.tryCall(side, () => {
      const n = this.stacks[side].send(c, data);
      if (n < data.length) this.note({ kind: 'error', side, text: `only ${n} of ${data.length} bytes fit in the send buffer` });
    });
  }

  close(side: Side): string | null {
    const c = this.conns[side];
    if (!c || c.state === 'CLOSED') return `the ${side} has no connection`;
    if (this.closedByApp[side]) return `the ${side} already closed`;
    this.closedByApp[side] = true;
    this.note({ kind: 'call', side, call: 'close' });
    return this.tryCall(side, () => this.stacks[side].close(c));
  }

  abort(side: Side): string | null {
    const c = this.conns[side];
    if (!c || c.state === 'CLOSED') return `the ${side} has no connection`;
    this.note({ kind: 'call', side, call: 'abort' });
    return this.tryCall(side, () => this.stacks[side].abort(c));
  }

  /** Both sides close at the same instant (both FINs cross: CLOSING on both sides). */
  simultaneousClose(): string | null {
    if (!this.busy('client') || !this.busy('server')) return 'both sides need a connection';
    return this.close('client') ?? this.close('server');
  }

  setLoss(p: number): void {
    this.hub.setImpairments({ loss: Math.max(0, Math.min(1, p)) });
    this.opts.loss = this.hub.impair.loss;
  }

  setDelay(us: number): void {
    this.hub.setImpairments({ delayUs: Math.max(0, Math.round(us)) });
    this.opts.delayUs = this.hub.impair.delayUs;
  }

  /** The hub drops the next segment sent, whoever sends it. */
  dropNextSegment(): void {
    this.hub.dropNext++;
  }

  get dropPending(): number {
    return this.hub.dropNext;
  }

  private tryCall(side: Side, fn: () => void): string | null {
    this.arriving = null;
    try {
      fn();
      this.app();
      return null;
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      this.note({ kind: 'error', side, text });
      return text;
    }
  }

  // ===========================================================================
  // Time
  // ===========================================================================

  /** Packets are in flight on the hub. */
  get inFlight(): boolean {
    return this.net.queue.nextAt() !== Infinity;
  }

  /** The next instant anything is due (a packet arrival or a timer), or Infinity. */
  nextDeadline(): number {
    return this.net.nextDeadline();
  }

  /** Moves the virtual clock forward by `us`, running everything due on the way. */
  advance(us: number): void {
    const vc = this.net.virtual!;
    const end = this.now + Math.max(0, us);
    let guard = 0;
    while (this.net.nextDeadline() <= end) {
      this.net.step();
      this.app();
      if (++guard > 100_000) break;
    }
    if (end > this.now) vc.advanceTo(end);
    this.net.runDue();
    this.app();
  }

  /** Runs until the log changes (one segment sent or delivered, one state change) or nothing is left. Returns whether anything happened. */
  stepEvent(maxSteps = 10_000): boolean {
    const mark = this.mark();
    for (let i = 0; i < maxSteps; i++) {
      if (!this.net.step()) return false;
      this.app();
      if (this.mark() !== mark) return true;
    }
    return false;
  }

  /** A fingerprint of the log's length (changes when anything is recorded). */
  mark(): number {
    return this.order;
  }

  /** What the applications do after each step: read what arrived, and (autoClose) close after the peer's FIN. */
  private app(): void {
    this.arriving = null;
    for (const side of SIDES) {
      const c = this.conns[side];
      if (!c || c.state === 'CLOSED') continue;
      if (c.readable() > 0) {
        const chunks = this.stacks[side].read(c);
        let n = 0;
        const parts: string[] = [];
        for (const ch of chunks) {
          n += ch.length;
          parts.push(this.dec.decode(ch, { stream: true }));
        }
        if (n > 0) this.note({ kind: 'received', side, text: parts.join(''), bytes: n });
      }
      if (this.opts.autoClose && side === 'server' && c.state === 'CLOSE-WAIT' && !this.closedByApp[side]) {
        this.closedByApp[side] = true;
        this.note({ kind: 'call', side, call: 'close', detail: 'auto' });
        this.stacks[side].close(c);
      }
    }
  }

  // ===========================================================================
  // Views
  // ===========================================================================

  status(side: Side): SideStatus {
    const c = this.conns[side];
    const st = c && c.state !== 'CLOSED' ? c.status() : null;
    const counters = this.stacks[side].counters;
    return {
      state: this.state[side],
      srttUs: st && st.srttUs > 0 ? st.srttUs : null,
      rtoUs: st ? st.rtoUs : null,
      cwnd: st ? st.cwnd : null,
      ssthresh: st ? st.ssthresh : null,
      sndWnd: st ? st.sndWnd : null,
      rcvWnd: st ? st.rcvWnd : null,
      bytesInFlight: st ? st.bytesInFlight : null,
      retransmits: counters.retransmits,
      segmentsOut: counters.segmentsOut,
      segmentsIn: counters.segmentsIn,
    };
  }

  /** The session as a pcap file (LINKTYPE_RAW, virtual timestamps), every packet as it left its stack. */
  pcapBytes(): Uint8Array {
    let n = 0;
    for (const p of this.pcap) n += p.length;
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of this.pcap) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Each side's ISN, once known (for relative numbers). */
  isnOf(side: Side): number | null {
    return this.isn[side];
  }
}
