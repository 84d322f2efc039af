/**
 * One TCP connection: the transmission control block (TCB) of RFC 9293
 * §3.3.1 and the event processing of §3.10, sans I/O.
 *
 * Reading list: RFC 9293 (the specification, §3.10 step by step);
 * RFC 6298 (RTO); RFC 5681 and RFC 6582 (congestion control, NewReno);
 * RFC 7323 §2 (window scale); RFC 5961 (blind-attack mitigations);
 * RFC 1122 §4.2 (delayed ACK, keepalive, SWS).
 *
 * How to drive it (quinn's A/B/C/D taxonomy):
 *   A. user calls   — open / listen / send / read / close / abort / status
 *   B. inputs       — onSegment(seg, now) for a parsed, verified segment of
 *                     this 4-tuple; onTimeout(now) once nextDeadline() passed
 *   C. outputs      — segments go to host.transmit(), events to host.event()
 *                     synchronously, during the call that caused them
 *   D. deadline     — nextDeadline() after every call (Infinity = none)
 *
 * Nothing here reads a clock, sets a timer or does I/O: `now` is an input.
 */
import type { DropReason, TcpOption, TcpRepr } from '../wire/types.ts';
import type { IpAddr } from '../wire/ipv6.ts';
import { ACK, CWR, ECE, FIN, PSH, RST, SYN, URG } from '../wire/types.ts';
import type { Duration, Instant } from '../base/time.ts';
import { SynackError } from '../errors.ts';
import type { TcpConfig } from './config.ts';
import { EV_WRITABLE, type CloseReason, type ConnectionEvent } from './events.ts';
import { RttEstimator } from './rtt.ts';
import { SendBuffer, EMPTY } from './send-buffer.ts';
import { RecvBuffer } from './recv-buffer.ts';
import { Assembler } from './assembler.ts';
import { seqAdd, seqDiff, seqGe, seqGt, seqLt, seqMax } from './seq.ts';
import type { TcpState } from './state.ts';
import { segmentArrives } from './segment-arrives.ts';
import { armKeepAlive, armPersist, armRtx, clearTimers, fireTimers, nextDeadline } from './timers.ts';
import { segmentOptions, synOptions } from './options.ts';
import { Scoreboard, prrSndcnt } from './recovery.ts';
import type { MemoryBudget } from './budget.ts';
import { createCongestionController, type CongestionController } from './congestion/index.ts';
import { tcpOptionsLen } from '../wire/tcp-options.ts';

/** Where a connection's outputs go. Implemented by the stack (and by test harnesses). */
export interface ConnectionHost {
  /** Sends a segment; `ipEcn` is the IP ECN codepoint to use (RFC 3168: 0 Not-ECT, 2 ECT(0)). */
  transmit(conn: Connection, seg: TcpRepr, ipEcn?: number): void;
  event(conn: Connection, ev: ConnectionEvent): void;
  /** An initial sequence number for this connection's 4-tuple (RFC 6528). */
  chooseIss(conn: Connection): number;
  /** A segment was dropped inside the connection (counted by the stack). */
  drop?(conn: Connection, reason: DropReason): void;
  /** RFC 5961 §7 challenge-ACK rate limit: false suppresses this challenge ACK. */
  allowChallengeAck?(conn: Connection): boolean;
  /** The stack-wide account for received bytes, if any. */
  readonly budget?: MemoryBudget;
}

/** The endpoint pair of a connection. Addresses are u32 IPv4 or `Ipv6Addr` strings (wire/ipv6.ts). */
export interface Endpoints {
  localAddr: IpAddr;
  localPort: number;
  remoteAddr: IpAddr;
  remotePort: number;
}

/** A read-only view of the TCB (RFC 9293 §3.10.6 STATUS). */
export interface TcbStatus {
  state: TcpState;
  localAddr: IpAddr;
  localPort: number;
  remoteAddr: IpAddr;
  remotePort: number;
  iss: number;
  irs: number;
  sndUna: number;
  sndNxt: number;
  sndWnd: number;
  rcvNxt: number;
  rcvWnd: number;
  sndMss: number;
  sndWndShift: number;
  rcvWndShift: number;
  srttUs: number;
  rttvarUs: number;
  rtoUs: number;
  cwnd: number;
  ssthresh: number;
  bytesInFlight: number;
  sendQueued: number;
  recvQueued: number;
  outOfOrderBytes: number;
  retransmits: number;
}

const NEVER = Infinity;
/** RFC 7323 §5.5: TS.Recent is invalid after the connection has been idle for more than 24 days. */
const TS_RECENT_LIFETIME_S = 24 * 24 * 3600;

/** The window-scale shift a connection with `config` offers: the smallest that covers its receive buffer, unless fixed. */
export function offeredShiftFor(config: TcpConfig): number {
  if (config.windowScaleShift >= 0) return config.windowScaleShift;
  let s = 0;
  while (s < MAX_WSCALE && config.recvBufferBytes > 65535 * 2 ** s) s++;
  return s;
}

const NO_OPTIONS: TcpOption[] = [];
/** Window scale shift limit (RFC 7323 §2.3: "the shift count ... MUST be limited to 14"). */
const MAX_WSCALE = 14;

export class Connection {
  // ---- identity -------------------------------------------------------------
  localAddr: IpAddr = 0;
  localPort = 0;
  remoteAddr: IpAddr = 0;
  remotePort = 0;

  state: TcpState = 'CLOSED';
  /** SYN-RECEIVED remembers whether it came from LISTEN (passive) or SYN-SENT. */
  passiveOpen = false;

  // ---- send sequence variables (RFC 9293 §3.3.1) ---------------------------
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent (SND.NXT may roll back on RTO; SND.MAX does not). */
  sndMax = 0;
  /** Send window in bytes (already scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** MAX.SND.WND of RFC 5961 §5: the largest window the peer ever offered. */
  maxSndWnd = 0;
  /** Send urgent pointer: the sequence number following the last urgent byte (0 = none pending). */
  sndUp = 0;
  sndUrgent = false;
  /** Shift applied to the peer's window fields (RFC 7323). */
  sndWndShift = 0;
  /** Shift applied to the window fields we send. */
  rcvWndShift = 0;
  /** Our offered shift (valid only if the peer offers one too). */
  private offeredShift = 0;
  /** Effective send MSS: min(peer's MSS option, our MTU - 40). */
  sndMss = 536;
  /** MSS we advertise: our MTU - 40. */
  advMss = 1460;

  // ---- receive sequence variables ------------------------------------------
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we last advertised (RCV.NXT + RCV.WND); never moves left. */
  rcvAdv = 0;
  rcvUp = 0;
  rcvUrgent = false;
  /** Sequence number of the peer's FIN, once seen (possibly out of order); valid when peerFinKnown. */
  peerFinSeq = 0;
  peerFinKnown = false;
  /** The peer's FIN has been processed (RCV.NXT advanced over it). */
  finReceived = false;

  // ---- buffers ---------------------------------------------------------------
  /** Sequence number of sendBuf offset 0 (the first unacknowledged data byte). */
  bufSeq = 0;
  sendBuf: SendBuffer | null = null;
  recvBuf: RecvBuffer | null = null;
  ooo: Assembler | null = null;
  /** The user called CLOSE: a FIN follows the queued data. */
  finQueued = false;

  // ---- timers (Infinity = not armed) ---------------------------------------
  rtxAt: Instant = NEVER;
  /**
   * Persist state (zero-window probes and the SWS override), made the first
   * time the persist timer is armed: `probes` counts probes sent since the
   * peer last answered (any acceptable ACK resets it), `probeSince` is when
   * the first of them went out.
   */
  private pBox: { at: Instant; backoff: number; zeroSince: Instant; probes: number; probeSince: Instant } | null = null;
  /** The persist box, made on first use (tcp/timers.ts). */
  persistState(): { at: Instant; backoff: number; zeroSince: Instant; probes: number; probeSince: Instant } {
    return (this.pBox ??= { at: NEVER, backoff: 0, zeroSince: -1, probes: 0, probeSince: -1 });
  }
  get persistAt(): Instant {
    return this.pBox ? this.pBox.at : NEVER;
  }
  set persistAt(v: Instant) {
    if (this.pBox || v !== NEVER) this.persistState().at = v;
  }
  get persistBackoff(): number {
    return this.pBox ? this.pBox.backoff : 0;
  }
  set persistBackoff(v: number) {
    if (this.pBox || v !== 0) this.persistState().backoff = v;
  }
  /** Since when the peer's window has been closed while we had data (persist limit); -1 = open. */
  get zeroWindowSince(): Instant {
    return this.pBox ? this.pBox.zeroSince : -1;
  }
  set zeroWindowSince(v: Instant) {
    if (this.pBox || v !== -1) this.persistState().zeroSince = v;
  }
  /** Zero-window probes sent since the peer last answered (Linux icsk_probes_out). */
  get zeroWindowProbes(): number {
    return this.pBox ? this.pBox.probes : 0;
  }
  set zeroWindowProbes(v: number) {
    if (this.pBox || v !== 0) this.persistState().probes = v;
  }
  delAckAt: Instant = NEVER;
  /**
   * The end-of-life timer: TIME-WAIT's 2×MSL, or an orphaned FIN-WAIT-2's
   * timeout — never both (one field, two names).
   */
  closeAt: Instant = NEVER;
  get timeWaitAt(): Instant {
    return this.state === 'TIME-WAIT' ? this.closeAt : NEVER;
  }
  set timeWaitAt(v: Instant) {
    this.closeAt = v;
  }
  get finWait2At(): Instant {
    return this.state === 'FIN-WAIT-2' ? this.closeAt : NEVER;
  }
  set finWait2At(v: Instant) {
    this.closeAt = v;
  }
  /** Keepalive state, made when keepalive is first armed (off by default). */
  private kaBox: { at: Instant; probes: number } | null = null;
  get keepAliveAt(): Instant {
    return this.kaBox ? this.kaBox.at : NEVER;
  }
  set keepAliveAt(v: Instant) {
    if (this.kaBox) this.kaBox.at = v;
    else if (v !== NEVER) this.kaBox = { at: v, probes: 0 };
  }
  get keepAliveProbes(): number {
    return this.kaBox ? this.kaBox.probes : 0;
  }
  set keepAliveProbes(v: number) {
    if (this.kaBox) this.kaBox.probes = v;
  }

  // ---- retransmission and RTT ----------------------------------------------
  rtt: RttEstimator;
  /** Consecutive RTO expirations without progress. */
  retries = 0;
  /** Sequence number being timed (Karn): valid when rttTiming. */
  rttSeq = 0;
  rttStart: Instant = 0;
  rttTiming = false;
  /** When the oldest unacknowledged data was first sent, for the user timeout. */
  unackedSince: Instant = NEVER;
  lastRecvAt: Instant = 0;

  // ---- congestion control (tcp/congestion) and loss recovery (RFC 6582) ------
  /** Created when first needed: an idle connection carries none. */
  private ccImpl: CongestionController | null = null;
  dupAcks = 0;
  inRecovery = false;
  recover = 0;
  /** When we last sent a segment with data, for restart after idle (RFC 5681 §4.1). */
  lastDataSendAt: Instant = 0;
  /**
   * SACK scoreboard and RACK state (RFC 8985), when SACK was negotiated. The
   * RACK and TLP timers and the PRR counters live in it too (an idle or
   * non-SACK connection carries none of them); the accessors below read them.
   */
  board: Scoreboard | null = null;

  /** RACK reordering timer: when a pending segment would be declared lost. */
  get rackAt(): Instant {
    return this.board ? this.board.rackAt : NEVER;
  }
  set rackAt(v: Instant) {
    if (this.board) this.board.rackAt = v;
  }
  /** Tail loss probe timer (RFC 8985 §7). */
  get tlpAt(): Instant {
    return this.board ? this.board.tlpAt : NEVER;
  }
  set tlpAt(v: Instant) {
    if (this.board) this.board.tlpAt = v;
  }
  /** A probe is outstanding: no other until SND.UNA advances (RFC 8985 §7.2). */
  get tlpInFlight(): boolean {
    return this.board ? this.board.tlpInFlight : false;
  }
  set tlpInFlight(v: boolean) {
    if (this.board) this.board.tlpInFlight = v;
  }
  /**
   * RFC 5961 §7 per-connection throttle of challenge ACKs and of replies to
   * unacceptable segments: the start of the current interval and the replies
   * sent in it. Made on the first such reply (rare: an idle TCB has none).
   */
  private oowBox: { start: Instant; sent: number } | null = null;

  /**
   * May this connection send one more challenge ACK (or reply to an
   * unacceptable segment) now? At most `challengeAckPerConn` per
   * `challengeAckIntervalUs`; true consumes one.
   */
  allowOowReply(): boolean {
    const now = this.now;
    const box = (this.oowBox ??= { start: now, sent: 0 });
    if (now - box.start >= this.config.challengeAckIntervalUs) {
      box.start = now;
      box.sent = 0;
    }
    if (box.sent >= this.config.challengeAckPerConn) return false;
    box.sent++;
    return true;
  }

  /** Records SEG.TSval as TS.Recent and notes when (RFC 7323 §4.3, §5.5); only while timestamps are in use. */
  recordTsRecent(tsval: number): void {
    this.tsRecent = tsval | 0;
    this.tsRecentSec = Math.floor(this.now / 1_000_000);
  }

  /**
   * RFC 7323 §5.5: "an implementation of PAWS [must] include a mechanism to
   * "invalidate" the TS.Recent value when a connection is idle for more than
   * 24 days." TS.Recent is valid while it was recorded at most 24 days ago.
   */
  tsRecentValid(): boolean {
    return Math.floor(this.now / 1_000_000) - this.tsRecentSec <= TS_RECENT_LIFETIME_S;
  }


  get cc(): CongestionController {
    if (!this.ccImpl) {
      this.ccImpl = createCongestionController(this.config.congestionControl);
      this.ccImpl.init(this.sndMss, this.config.initialCwndSegments, this.now);
    }
    return this.ccImpl;
  }

  get cwnd(): number {
    return this.cc.cwnd;
  }
  set cwnd(v: number) {
    this.cc.cwnd = v;
  }
  get ssthresh(): number {
    return this.cc.ssthresh;
  }

  // ---- RFC 7323 timestamps and RFC 2018 SACK -----------------------------------
  /** Both SYNs carried the timestamps option (and we use them). */
  get tsEnabled(): boolean {
    return this.tsRecentSec >= 0;
  }
  /** TS.Recent: the TSval to echo (RFC 7323 §4.3). */
  tsRecent = 0;
  /**
   * When TS.Recent was last recorded, in whole seconds of the clock (a small
   * integer, so no heap number); -1 while timestamps are not in use (this
   * field doubles as `tsEnabled`, so the 24-day rule costs the TCB nothing).
   * RFC 7323 §5.5: "To detect how long the connection has been idle, the
   * TCP MAY update a clock or timestamp value associated with the connection
   * whenever TS.Recent is updated".
   */
  tsRecentSec = -1;
  /** Per-connection offset of our TSval clock (RFC 7323 §7.1). */
  tsOffset = 0;
  /** Last.ACK.sent (RFC 7323 §4.3): RCV.NXT as carried by our last ACK. */
  lastAckSent = 0;
  /** Both SYNs carried SACK-permitted. */
  sackEnabled = false;
  /** Sequence numbers of recent out-of-order arrivals, most recent first (RFC 2018 §4 block order). */
  sackMru: number[] | null = null;
  peerSackOk = false;
  peerOfferedTs = false;
  /** A duplicate range to report first in the next ACK (RFC 2883 D-SACK), int32 seqs. */
  dsack: [number, number] | null = null;
  /** ECN (RFC 3168) was negotiated. */
  ecnEnabled = false;
  /** ECN's working state, created when ECN is first used (none on most connections). */
  private ecnBox: { echo: boolean; cwrPending: boolean; recover: number; reductions: number } | null = null;
  private ecn(): { echo: boolean; cwrPending: boolean; recover: number; reductions: number } {
    return (this.ecnBox ??= { echo: false, cwrPending: false, recover: this.iss, reductions: 0 });
  }
  /** Receiver: a CE mark was seen; ACKs carry ECE until a CWR arrives. */
  get ecnEcho(): boolean {
    return this.ecnBox ? this.ecnBox.echo : false;
  }
  set ecnEcho(v: boolean) {
    if (v || this.ecnBox) this.ecn().echo = v;
  }
  /** Sender: the next new data segment carries CWR. */
  get ecnCwrPending(): boolean {
    return this.ecnBox ? this.ecnBox.cwrPending : false;
  }
  set ecnCwrPending(v: boolean) {
    if (v || this.ecnBox) this.ecn().cwrPending = v;
  }
  /** Sender: no new ECE reduction until SND.UNA passes this (once per window). */
  get ecnRecover(): number {
    return this.ecnBox ? this.ecnBox.recover : this.iss;
  }
  set ecnRecover(v: number) {
    this.ecn().recover = v;
  }
  /** Congestion-window reductions caused by ECE. */
  get ecnReductions(): number {
    return this.ecnBox ? this.ecnBox.reductions : 0;
  }
  set ecnReductions(v: number) {
    this.ecn().reductions = v;
  }
  /** IP ECN codepoint of the segment being processed. */
  ipEcnIn = 0;
  /** The owed ACK is a challenge ACK: a pure <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> even in SYN-RECEIVED (RFC 5961). */
  pureAck = false;
  /** When the connection was opened (for the connection-establishment timeout). */
  openedAt: Instant = 0;

  // ---- ACK generation --------------------------------------------------------
  ackNow = false;
  /** Full-sized segments received since our last ACK (RFC 5681 §4.2: ACK at least every second one). */
  segsSinceAck = 0;

  // ---- bookkeeping -----------------------------------------------------------
  now: Instant = 0;
  retransmits = 0;
  /** The application no longer owns the connection (closed or destroyed its socket). */
  orphaned = false;
  /** The reason passed to 'closed' (kept for STATUS after the fact). */
  closeReason: CloseReason | null = null;
  /** Opaque slot for the owner (the api socket). */
  user: unknown = null;
  /** The stack's timer heap slot (see stack/timer-heap.ts). */
  heapIndex = -1;
  timerAt: Instant = NEVER;

  constructor(
    readonly host: ConnectionHost,
    readonly config: TcpConfig,
    /** MTU of the outgoing interface: our MSS is mtu - 40. */
    mtu: number,
  ) {
    this.rtt = new RttEstimator(config.initialRtoUs, config.minRtoUs, config.maxRtoUs, config.rtoSlopUs);
    this.advMss = Math.max(88, Math.min(65495, mtu - 40));
    this.sndMss = Math.min(config.defaultMss, this.advMss);
    if (config.windowScaling) this.offeredShift = offeredShiftFor(config);
  }

  // ===========================================================================
  // A. User calls (RFC 9293 §3.10.1 – §3.10.6)
  // ===========================================================================

  /**
   * OPEN, passive (§3.10.1): "If passive, enter the LISTEN state and return."
   * The stack uses this for each connection a listener spawns.
   */
  listen(ep: Pick<Endpoints, 'localAddr' | 'localPort'>, now: Instant): void {
    this.now = now;
    if (this.state !== 'CLOSED') throw new SynackError('ERR_SYNACK_CONNECTION_EXISTS', 'error: connection already exists');
    this.localAddr = ep.localAddr;
    this.localPort = ep.localPort;
    this.passiveOpen = true;
    this.setState('LISTEN', 'passive OPEN');
  }

  /**
   * OPEN, active (§3.10.1): "An initial send sequence number (ISS) is
   * selected. A SYN segment of the form <SEQ=ISS><CTL=SYN> is sent. Set
   * SND.UNA to ISS, SND.NXT to ISS+1, enter SYN-SENT state, and return."
   * From LISTEN the connection changes from passive to active.
   */
  open(ep: Endpoints, iss: number, now: Instant): void {
    this.now = now;
    if (this.state !== 'CLOSED' && this.state !== 'LISTEN') {
      throw new SynackError('ERR_SYNACK_CONNECTION_EXISTS', 'error: connection already exists');
    }
    this.localAddr = ep.localAddr;
    this.localPort = ep.localPort;
    this.remoteAddr = ep.remoteAddr;
    this.remotePort = ep.remotePort;
    this.passiveOpen = false;
    this.initSend(iss);
    this.setState('SYN-SENT', 'active OPEN');
    this.sendSyn(false);
    this.rttTiming = true;
    this.rttSeq = this.iss;
    this.rttStart = now;
    this.armRtx();
  }

  /**
   * Recreates the SYN-RECEIVED state a SYN cookie stood for (RFC 4987 §3.6):
   * nothing is sent; the stack then feeds the ACK that carried the cookie.
   * `synOptions` are the peer's SYN options as far as the cookie kept them.
   */
  restoreFromCookie(ep: Endpoints, iss: number, irs: number, synOptions: TcpOption[], tsOffset: number | null, now: Instant): void {
    this.now = now;
    this.localAddr = ep.localAddr;
    this.localPort = ep.localPort;
    this.remoteAddr = ep.remoteAddr;
    this.remotePort = ep.remotePort;
    this.passiveOpen = true;
    this.irs = irs | 0;
    this.rcvNxt = seqAdd(irs, 1);
    this.rcvUp = this.rcvNxt;
    this.applySynOptions(synOptions);
    this.initSend(iss);
    if (tsOffset !== null) this.tsOffset = tsOffset;
    // What our stateless SYN,ACK advertised (never scaled).
    this.rcvAdv = seqAdd(this.rcvNxt, Math.min(65535, this.config.recvBufferBytes));
    this.lastAckSent = this.rcvNxt;
    this.state = 'LISTEN';
    this.setState('SYN-RECEIVED', 'SYN cookie');
  }

  /** Called by the LISTEN processing of a SYN and by open(): ISS and the send variables. */
  initSend(iss: number): void {
    this.iss = iss | 0;
    this.sndUna = this.iss;
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.bufSeq = this.sndNxt;
    this.sndUp = this.bufSeq;
    this.recover = this.iss;
    this.openedAt = this.now;
    this.tsOffset = Math.imul(this.iss ^ 0x5bd1e995, 0x9e3779b1) | 0;
  }

  /**
   * SEND (§3.10.2). Returns the number of bytes accepted (the send buffer
   * is bounded; the rest must be offered again after a 'writable' event).
   * Takes ownership of `data` (no copy): the caller must not modify it.
   */
  send(data: Uint8Array, now: Instant, urgent = false): number {
    this.now = now;
    switch (this.state) {
      case 'CLOSED':
        throw new SynackError('ERR_SYNACK_INVALID_STATE', 'error: connection does not exist');
      case 'LISTEN':
        throw new SynackError('ERR_SYNACK_INVALID_STATE', 'error: remote socket unspecified');
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSING':
      case 'LAST-ACK':
      case 'TIME-WAIT':
        throw new SynackError('ERR_SYNACK_CONNECTION_CLOSING', 'error: connection closing');
      default:
        break;
    }
    if (this.finQueued) throw new SynackError('ERR_SYNACK_CONNECTION_CLOSING', 'error: connection closing');
    const buf = (this.sendBuf ??= new SendBuffer());
    const room = this.config.sendBufferBytes - buf.length;
    if (room <= 0 || data.length === 0) return 0;
    const take = data.length <= room ? data : data.subarray(0, room);
    buf.push(take);
    if (urgent) {
      // "If the URGENT flag is set, then SND.UP <- SND.NXT and set the urgent
      // pointer in the outgoing segments." (pointing past the urgent data)
      this.sndUp = this.dataEnd();
      this.sndUrgent = true;
    }
    // "SYN-SENT / SYN-RECEIVED: Queue the data for transmission after
    // entering ESTABLISHED state." output() honours the state.
    this.output();
    return take.length;
  }

  /** Free space in the send buffer. */
  sendRoom(): number {
    return this.config.sendBufferBytes - (this.sendBuf?.length ?? 0);
  }

  /** Bytes written and not yet acknowledged. */
  sendQueued(): number {
    return this.sendBuf?.length ?? 0;
  }

  /**
   * RECEIVE (§3.10.3): up to `max` in-order bytes. Reading opens the
   * window; a window update goes out when it grew enough (§3.8.6.2.2).
   */
  read(max: number, now: Instant): Uint8Array[] {
    this.now = now;
    const rb = this.recvBuf;
    if (!rb || rb.length === 0) return [];
    const before = this.rcvWndAvailable();
    const chunks = rb.readChunks(max);
    this.recharge();
    if (this.state !== 'CLOSED' && this.state !== 'TIME-WAIT' && !this.finReceived) {
      const after = this.rcvWndAvailable();
      const advertised = Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
      // "When the TCP endpoint takes responsibility for delivering data to the
      // user, that fact must be communicated to the sender via an
      // acknowledgment." Receiver SWS avoidance: only when the window grows
      // by min(half the buffer, one MSS) beyond what was advertised.
      const threshold = Math.min(this.config.recvBufferBytes >> 1, this.advMss);
      if (after - advertised >= threshold && before - advertised < threshold) {
        this.ackNow = true;
        this.output();
      }
    }
    return chunks;
  }

  /** Up to `max` readable bytes, left in the buffer (MSG_PEEK). */
  peek(max: number): Uint8Array {
    return this.recvBuf ? this.recvBuf.peek(max) : EMPTY;
  }

  /** Bytes readable now. */
  readable(): number {
    return this.recvBuf?.length ?? 0;
  }

  /** The stream from the peer has ended and every byte was read. */
  get eof(): boolean {
    return this.finReceived && this.readable() === 0;
  }

  /**
   * CLOSE (§3.10.4): a half-close. Queued data is sent first, then a FIN.
   */
  close(now: Instant): void {
    this.now = now;
    switch (this.state) {
      case 'CLOSED':
        throw new SynackError('ERR_SYNACK_INVALID_STATE', 'error: connection does not exist');
      case 'LISTEN':
        // "Any outstanding RECEIVEs are returned with "error: closing"
        // responses. Delete TCB, enter CLOSED state, and return."
        this.terminate(null, 'CLOSE in LISTEN');
        return;
      case 'SYN-SENT':
        // "Delete the TCB and return "error: closing" responses to any queued
        // SENDs, or RECEIVEs."
        this.terminate(null, 'CLOSE in SYN-SENT');
        return;
      case 'SYN-RECEIVED':
        // "If no SENDs have been issued and there is no pending data to send,
        // then form a FIN segment and send it, and enter FIN-WAIT-1 state;
        // otherwise, queue for processing after entering ESTABLISHED state."
        this.finQueued = true;
        if (this.sendQueued() === 0) {
          this.setState('FIN-WAIT-1', 'CLOSE');
          this.output();
        }
        return;
      case 'ESTABLISHED':
        // "Queue this until all preceding SENDs have been segmentized, then
        // form a FIN segment and send it. In any case, enter FIN-WAIT-1 state."
        this.finQueued = true;
        this.setState('FIN-WAIT-1', 'CLOSE');
        this.output();
        return;
      case 'CLOSE-WAIT':
        // "Queue this request until all preceding SENDs have been
        // segmentized; then send a FIN segment, enter LAST-ACK state."
        this.finQueued = true;
        this.setState('LAST-ACK', 'CLOSE');
        this.output();
        return;
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
        // "An "ok" response would be acceptable, too, as long as a second FIN
        // is not emitted."
        return;
      default:
        throw new SynackError('ERR_SYNACK_CONNECTION_CLOSING', 'error: connection closing');
    }
  }

  /**
   * ABORT (§3.10.5). In SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2
   * and CLOSE-WAIT: "Send a reset segment: <SEQ=SND.NXT><CTL=RST>"; then
   * flush everything and delete the TCB.
   */
  abort(now: Instant): void {
    this.now = now;
    switch (this.state) {
      case 'CLOSED':
        return;
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
      case 'FIN-WAIT-1':
      case 'FIN-WAIT-2':
      case 'CLOSE-WAIT':
        this.sendRst(this.sndNxt, 0, RST);
        break;
      default:
        // LISTEN, SYN-SENT: no RST. CLOSING, LAST-ACK, TIME-WAIT: "Respond with "ok"".
        break;
    }
    this.terminate('aborted', 'ABORT');
  }

  /** STATUS (§3.10.6). */
  status(): TcbStatus {
    return {
      state: this.state,
      localAddr: this.localAddr,
      localPort: this.localPort,
      remoteAddr: this.remoteAddr,
      remotePort: this.remotePort,
      iss: this.iss >>> 0,
      irs: this.irs >>> 0,
      sndUna: this.sndUna >>> 0,
      sndNxt: this.sndNxt >>> 0,
      sndWnd: this.sndWnd,
      rcvNxt: this.rcvNxt >>> 0,
      rcvWnd: Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt)),
      sndMss: this.sndMss,
      sndWndShift: this.sndWndShift,
      rcvWndShift: this.rcvWndShift,
      srttUs: Math.round(this.rtt.srtt),
      rttvarUs: Math.round(this.rtt.rttvar),
      rtoUs: this.rtt.currentRto(),
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      bytesInFlight: seqDiff(this.sndNxt, this.sndUna),
      sendQueued: this.sendQueued(),
      recvQueued: this.readable(),
      outOfOrderBytes: this.ooo?.byteCount ?? 0,
      retransmits: this.retransmits,
    };
  }

  setNoDelay(on: boolean, now: Instant): void {
    this.now = now;
    (this as { config: TcpConfig }).config = { ...this.config, noDelay: on };
    if (on) this.output();
  }

  setKeepAlive(on: boolean, idleUs: Duration | undefined, now: Instant): void {
    this.now = now;
    const patch: Partial<TcpConfig> = { keepAlive: on };
    if (idleUs !== undefined && idleUs > 0) patch.keepAliveIdleUs = idleUs;
    (this as { config: TcpConfig }).config = { ...this.config, ...patch };
    this.armKeepAlive();
  }

  // ===========================================================================
  // B. Inputs
  // ===========================================================================

  /** SEGMENT ARRIVES (§3.10.7) for this connection's 4-tuple. */
  onSegment(seg: TcpRepr, now: Instant, ipEcn = 0): void {
    this.now = now;
    this.ipEcnIn = ipEcn & 3;
    // Sequence numbers are int32 inside the connection (see seq.ts).
    if ((seg.seq | 0) !== seg.seq || (seg.ack | 0) !== seg.ack) seg = { ...seg, seq: seg.seq | 0, ack: seg.ack | 0 };
    segmentArrives(this, seg);
    if (this.state !== 'CLOSED') this.output();
  }

  /** Fires every timer whose deadline is at or before `now` (a no-op when early). */

  /** The earliest armed deadline, or Infinity. */

  /** Fires every timer whose deadline is at or before `now` (tcp/timers.ts; a no-op when early). */
  onTimeout(now: Instant): void {
    fireTimers(this, now);
  }

  /** The earliest armed deadline, or Infinity. */
  nextDeadline(): Instant {
    return nextDeadline(this);
  }

  /**
   * The path MTU changed (RFC 1191 PMTU discovery, or RFC 4821 black-hole
   * fallback and its later probe upward): segments now carry at most `mss`
   * bytes of TCP payload plus options, i.e. a path MTU of mss + 40. The
   * caller never raises it above what the peer's MSS option allows.
   *
   * When it fell and `retransmit` is set, RFC 1191 §6.5: "the retransmission
   * could be done in immediate response to a notification that the Path MTU
   * has changed, but only for the specific connection specified by the
   * Datagram Too Big message." Everything outstanding went out too large,
   * so it all goes again from SND.UNA at the new size (go back N, as Linux's
   * tcp_simple_retransmit) without waiting for the RTO — and without a
   * congestion response: the loss was the path's MTU, not congestion. The
   * caller acts only when the MSS falls, so a burst of oversized segments
   * (one ICMP message each) retransmits once (RFC 1191 §6.5: "One MUST not
   * retransmit in response to every Datagram Too Big message").
   * Returns whether the MSS changed.
   */
  setPathMss(mss: number, now: Instant, retransmit: boolean): boolean {
    this.now = now;
    mss = Math.max(64, mss);
    const old = this.sndMss;
    if (mss === old) return false;
    this.sndMss = mss;
    const st = this.state;
    if (!retransmit || mss > old || !seqGt(this.sndMax, this.sndUna)) return true;
    if (st !== 'ESTABLISHED' && st !== 'CLOSE-WAIT' && st !== 'FIN-WAIT-1' && st !== 'CLOSING' && st !== 'LAST-ACK') return true;
    if (!seqGt(this.sndUna, this.iss)) return true; // only our SYN is outstanding
    this.board?.clear();
    this.rackAt = NEVER;
    this.tlpAt = NEVER;
    this.tlpInFlight = false;
    this.rttTiming = false; // Karn: what follows is a retransmission
    this.host.event(this, { type: 'retransmit', kind: 'pmtu', seq: this.sndUna, len: Math.min(seqDiff(this.sndMax, this.sndUna), mss) });
    this.sndNxt = this.sndUna;
    this.output();
    return true;
  }

  /** The application let go of the connection: it finishes in the background. */
  orphan(now: Instant): void {
    this.now = now;
    this.orphaned = true;
    if (this.state === 'FIN-WAIT-2') this.finWait2At = now + this.config.mslUs / 2;
  }

  // Timeouts (§3.10.8): the expiry handlers and the table of timers live in
  // tcp/timers.ts.

  /** Data bytes sent and not yet acknowledged ([SND.UNA, min(SND.MAX, end of data))). */
  unackedData(): number {
    const end = this.dataEnd();
    return Math.max(0, seqDiff(seqLt(this.sndMax, end) ? this.sndMax : end, this.sndUna));
  }

  // ===========================================================================
  // Output: what to send now (segmentization, Nagle, SWS, FIN, ACK)
  // ===========================================================================

  /** Sequence number just past the last queued data byte (where a FIN goes). */
  dataEnd(): number {
    return seqAdd(this.bufSeq, this.sendBuf?.length ?? 0);
  }

  /** Our FIN has been sent (at least once). */
  finSent(): boolean {
    return this.finQueued && seqGt(this.sndMax, this.dataEnd());
  }

  /** Our FIN has been acknowledged. */
  finAcked(): boolean {
    return this.finQueued && seqGt(this.sndUna, this.dataEnd());
  }

  /**
   * Sends whatever the state, windows and queues allow, then an ACK if one
   * is owed and nothing else carried it (MUST-58: one ACK per batch).
   */
  output(force = false): void {
    const st = this.state;
    if (st === 'CLOSED' || st === 'LISTEN' || st === 'SYN-SENT') {
      if (this.ackNow) this.ackNow = false;
      return;
    }
    if (st === 'SYN-RECEIVED') {
      if (this.ackNow) this.sendAck();
      return;
    }
    if (st === 'TIME-WAIT' || st === 'FIN-WAIT-2') {
      if (this.ackNow) this.sendAck();
      return;
    }
    // ESTABLISHED, CLOSE-WAIT, FIN-WAIT-1, CLOSING, LAST-ACK: data and FIN.
    const dataEnd = this.dataEnd();
    const mss = this.sndMss - this.optionOverhead();
    if (this.sndNxt === this.sndUna && seqDiff(dataEnd, this.sndNxt) > 0 && this.lastDataSendAt > 0 && this.now - this.lastDataSendAt > this.rtt.currentRto()) {
      // RFC 5681 §4.1: after an idle period longer than the RTO, restart
      // from at most the initial window.
      this.cc.onIdleRestart(this.sndMss, this.config.initialCwndSegments, this.now);
    }
    // RFC 3042 limited transmit: the first two duplicate ACKs each allow one
    // new segment beyond cwnd (still within the peer's window).
    const limited = this.inRecovery ? 0 : Math.min(this.dupAcks, 2) * this.sndMss;
    const board = this.board;
    if (board && board.lostBytes > 0) this.retransmitLost(board);
    for (;;) {
      const avail = seqDiff(dataEnd, this.sndNxt);
      if (avail > 0) {
        const inFlight = seqDiff(this.sndNxt, this.sndUna);
        // With a scoreboard, cwnd bounds the pipe (RFC 6675), the peer's
        // window bounds everything outstanding.
        const usable = board
          ? Math.min(this.sndWnd - inFlight, this.cwnd + limited - this.pipe(board))
          : Math.min(this.sndWnd, this.cwnd + limited) - inFlight;
        let len = Math.min(avail, mss);
        if (usable < len) len = Math.max(0, usable);
        if (len === 0) break;
        if (len < mss) {
          const all = len === avail;
          // Sender SWS avoidance (§3.8.6.2.1): a short segment goes only
          // when it carries all queued data, or half the peer's largest
          // window — or when the override timeout forces it (persist timer).
          if (!all && len < this.maxSndWnd >> 1 && !force) break;
          // Nagle (§3.7.4): "if there is unacknowledged data (i.e., SND.NXT >
          // SND.UNA), then the sending TCP endpoint buffers all user data
          // ... until the outstanding data has been acknowledged or until
          // the TCP endpoint can send a full-sized segment". A queued FIN
          // flushes (as Linux does on close).
          if (all && !this.config.noDelay && inFlight > 0 && !this.finQueued) break;
        }
        const seq = this.sndNxt;
        const last = len === avail;
        let flags = ACK;
        if (last) flags |= PSH;
        if (last && this.finQueued) flags |= FIN;
        this.emit(seq, flags, this.sendBuf!.slice(seqDiff(seq, this.bufSeq), len));
        this.afterSend(seq, len + (flags & FIN ? 1 : 0));
        this.lastDataSendAt = this.now;
        force = false;
        continue;
      }
      if (avail === 0 && this.finQueued && !seqGt(this.sndNxt, dataEnd)) {
        // All data sent: the FIN alone (it needs no window).
        const seq = this.sndNxt;
        this.emit(seq, ACK | FIN, EMPTY);
        this.afterSend(seq, 1);
      }
      break;
    }
    if (this.ackNow) this.sendAck();
    // Whatever is outstanding is covered by the retransmission timer (RFC
    // 6298 5.1), even when a window update cleared the persist timer.
    if (this.rtxAt === NEVER && this.persistAt === NEVER && seqGt(this.sndMax, this.sndUna)) this.armRtx();
    // Data waiting and nothing in flight, held by a zero window (probe,
    // §3.8.6.1) or by SWS avoidance (override timeout, §3.8.6.2.1): persist.
    if (this.rtxAt === NEVER && this.persistAt === NEVER && seqDiff(dataEnd, this.sndNxt) > 0 && this.sndNxt === this.sndUna) {
      this.armPersist();
    }
  }

  /** Bookkeeping after new (or go-back-N re-)transmission of [seq, seq+len). */
  private afterSend(seq: number, len: number): void {
    const end = seqAdd(seq, len);
    const isNew = seqGe(seq, this.sndMax);
    if (seqGt(end, this.sndNxt)) this.sndNxt = end;
    if (seqGt(end, this.sndMax)) this.sndMax = end;
    if (!isNew) this.retransmits++;
    // RFC 6298 (5.1): "Every time a packet containing data is sent (including
    // a retransmission), if the timer is not running, start it running".
    if (this.rtxAt === NEVER) this.armRtx();
    this.persistAt = NEVER;
    if (this.unackedSince === NEVER) this.unackedSince = this.now;
    if (this.inRecovery && this.board) this.board.prrOut += len;
    if (this.sackEnabled && this.config.rack) {
      (this.board ??= new Scoreboard()).onSend(seq, end, this.now, !isNew);
      this.armTlp();
    }
    // Time one segment at a time, never a retransmission (Karn).
    if (!this.rttTiming && isNew) {
      this.rttTiming = true;
      this.rttSeq = seq;
      this.rttStart = this.now;
    }
  }

  /** <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> — in SYN-RECEIVED our SYN is not yet acknowledged, so it is a SYN,ACK. */
  sendAck(): void {
    if (!seqGt(this.sndUna, this.iss) && !this.pureAck) {
      // Our SYN,ACK is unacknowledged (SYN-RECEIVED, or FIN-WAIT-1 after a CLOSE there).
      this.sendSyn(true);
      return;
    }
    // BSD's tcp_output: "For ACK only packets, we do not want the sequence
    // number of the retransmitted packet, we want the sequence number of the
    // next unsent octet" — after a go-back-N rollback SND.NXT may lie below
    // the peer's RCV.NXT, and an ACK carrying it would fail the peer's
    // acceptability test (§3.10.7.4 first), which ignores its ACK field.
    if (this.config.finWithAck && !this.pureAck && this.finSent() && !this.finAcked()) {
      // BSD: the ACK carries our unacknowledged FIN again.
      this.emit(this.dataEnd(), ACK | FIN, EMPTY);
      return;
    }
    this.emit(this.sndMax, ACK, EMPTY);
  }

  /** <SEQ=ISS><CTL=SYN> or <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, with MSS and window-scale options. */
  sendSyn(withAck: boolean): void {
    const cfg = this.config;
    // RFC 7323 §2.2 / §3.2 and RFC 2018 §2: a SYN,ACK carries window scale,
    // timestamps and SACK-permitted only if the SYN did.
    const options = synOptions(cfg.optionLayout, {
      mss: this.advMss,
      wscale: cfg.windowScaling && (!withAck || this.peerOfferedScale) ? this.offeredShift : undefined,
      sackPermitted: cfg.sack && (!withAck || this.peerSackOk),
      ts: cfg.timestamps && (!withAck || this.peerOfferedTs) ? { tsval: this.tsNow(), tsecr: withAck ? this.tsRecent >>> 0 : 0 } : undefined,
    });
    // RFC 3168 §6.1.1: an ECN-setup SYN carries ECE and CWR; an ECN-setup
    // SYN,ACK carries ECE only.
    let flags = withAck ? SYN | ACK : SYN;
    if (!withAck && cfg.ecn) flags |= ECE | CWR;
    if (withAck && this.ecnEnabled) flags |= ECE;
    this.emit(this.iss, flags, EMPTY, options);
  }

  /** Our TSval clock: milliseconds plus a per-connection offset (RFC 7323 §5.4: 1 ms – 1 s per tick). */
  tsNow(): number {
    return (Math.floor(this.now / 1000) + this.tsOffset) >>> 0;
  }

  /** Bytes of options on every data segment (the timestamps option: 12). */
  optionOverhead(): number {
    return this.tsEnabled ? 12 : 0;
  }

  /** SACK blocks for an ACK, the block holding the latest out-of-order arrival first (RFC 2018 §4). */
  sackBlocks(): Array<[number, number]> | null {
    const ooo = this.ooo;
    if (!this.sackEnabled) return null;
    const out: Array<[number, number]> = [];
    // RFC 2883 §4: "the first SACK block ... MUST specify the contiguous
    // sequence space of the duplicate segment that triggered the ACK".
    if (this.dsack) out.push([this.dsack[0], this.dsack[1]]);
    if (!ooo || ooo.isEmpty) return out.length ? this.wireBlocks(out) : null;
    const ranges = ooo.ranges();
    for (const s of this.sackMru ?? []) {
      const r = ranges.find((x) => seqGe(s, x[0]) && seqLt(s, x[1]));
      if (r && !out.includes(r)) out.push(r);
    }
    for (const r of ranges) if (!out.includes(r)) out.push(r);
    return this.wireBlocks(out);
  }

  private wireBlocks(blocks: Array<[number, number]>): Array<[number, number]> {
    for (const r of blocks) {
      r[0] >>>= 0;
      r[1] >>>= 0;
    }
    return blocks;
  }

  /** Records a duplicate range for D-SACK (RFC 2883) when SACK is on. */
  noteDuplicate(from: number, to: number): void {
    if (this.sackEnabled && seqLt(from, to) && !this.dsack) this.dsack = [from, to];
  }

  /** The peer's SYN carried a window-scale option. */
  peerOfferedScale = false;

  sendRst(seq: number, ack: number, flags: number): void {
    this.host.transmit(this, {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq: seq >>> 0,
      ack: flags & ACK ? ack >>> 0 : 0,
      flags,
      window: 0,
      urgentPointer: 0,
      options: NO_OPTIONS,
      payload: EMPTY,
    });
  }

  /** Builds and transmits one segment; every segment we send acknowledges RCV.NXT except a bare SYN. */
  emit(seq: number, flags: number, payload: Uint8Array, options: TcpOption[] = NO_OPTIONS): void {
    let window: number;
    if (flags & SYN) {
      // RFC 7323 §2.2: "The window field in a segment where the SYN bit is set
      // (i.e., a <SYN> or <SYN,ACK>) MUST NOT be scaled."
      window = Math.min(65535, this.config.recvBufferBytes);
      this.rcvAdv = seqAdd(this.rcvNxt, window);
      this.recharge();
    } else {
      window = this.advertiseWindow();
    }
    let urgentPointer = 0;
    if (this.sndUrgent && flags & ACK && !(flags & SYN)) {
      const up = seqDiff(this.sndUp, seq);
      if (up > 0) {
        flags |= URG;
        urgentPointer = Math.min(up, 65535);
      }
    }
    if (!(flags & SYN) && options === NO_OPTIONS && (this.tsEnabled || (this.sackEnabled && ((this.ooo && !this.ooo.isEmpty) || this.dsack)))) {
      const ts = this.tsEnabled ? { tsval: this.tsNow(), tsecr: this.tsRecent >>> 0 } : null;
      let sack = flags & ACK ? this.sackBlocks() : null;
      if (sack) {
        // Never let SACK blocks push a segment past our MTU.
        while (sack.length > 0 && payload.length + tcpOptionsLen(segmentOptions(ts, sack)) > this.advMss) sack = sack.slice(0, -1);
      }
      options = segmentOptions(ts, sack);
    }
    if (flags & ACK) {
      this.ackNow = false;
      this.delAckAt = NEVER;
      this.segsSinceAck = 0;
      this.lastAckSent = this.rcvNxt;
      this.pureAck = false;
      this.dsack = null;
    }
    let ipEcn = 0;
    if (this.ecnEnabled && !(flags & SYN)) {
      // RFC 3168 §6.1.3: ECE on every ACK until the peer's CWR.
      if (flags & ACK && this.ecnEcho) flags |= ECE;
      // §6.1.5: only new data is ECT; retransmissions and pure ACKs are not.
      if (payload.length > 0 && seqGe(seq, this.sndMax)) {
        ipEcn = 2;
        if (this.ecnCwrPending) {
          flags |= CWR;
          this.ecnCwrPending = false;
        }
      }
    }
    this.host.transmit(this, {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq: seq >>> 0,
      ack: flags & ACK ? this.rcvNxt >>> 0 : 0,
      flags,
      window,
      urgentPointer,
      options,
      payload,
    }, ipEcn);
  }

  /**
   * RFC 3168 §6.1.2: an ECE-marked ACK reduces the congestion window as a
   * loss would, at most once per window of data, and the next new segment
   * carries CWR.
   */
  onEcnEcho(): void {
    if (!this.ecnEnabled || this.inRecovery || !seqGe(this.sndUna, this.ecnRecover)) return;
    this.cc.onCongestionEvent(seqDiff(this.sndMax, this.sndUna), this.sndMss, this.now);
    this.ecnRecover = this.sndMax;
    this.ecnCwrPending = true;
    this.ecnReductions++;
  }

  /** What this connection is charged against the stack's budget (unread bytes + promised window). */
  charged = 0;

  /** Re-computes this connection's charge to the stack-wide receive budget. */
  recharge(): void {
    const b = this.host.budget;
    if (!b || this.state === 'CLOSED') return;
    const c = (this.recvBuf?.length ?? 0) + Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
    b.used += c - this.charged;
    this.charged = c;
  }

  /** The connection is gone: give its charge back. */
  releaseBudget(): void {
    const b = this.host.budget;
    if (b) b.used -= this.charged;
    this.charged = 0;
  }

  /**
   * Receive buffer space not yet taken by unread bytes — and by held
   * out-of-order bytes, except under BSD accounting, where the reassembly
   * queue is outside the socket buffer (its own bound applies).
   */
  rcvWndAvailable(): number {
    const ooo = this.config.receiverSws === 'bsd' ? 0 : (this.ooo?.byteCount ?? 0);
    const used = (this.recvBuf?.length ?? 0) + ooo;
    return Math.max(0, this.config.recvBufferBytes - used);
  }

  /**
   * The window field to send now, after receiver SWS avoidance
   * (§3.8.6.2.2) and without shrinking the right edge (§3.10.7.4: "The total
   * of RCV.NXT and RCV.WND should not be reduced").
   */
  private advertiseWindow(): number {
    const shift = this.rcvWndShift;
    const current = Math.max(0, seqDiff(this.rcvAdv, this.rcvNxt));
    let avail = this.rcvWndAvailable();
    const maxWnd = 65535 * 2 ** shift;
    if (avail > maxWnd) avail = maxWnd;
    let wnd = current;
    if (this.config.receiverSws === 'bsd') {
      // FreeBSD tcp_output: all free space, but nothing while it is small.
      const small = avail < this.config.recvBufferBytes / 4 && avail < this.advMss;
      wnd = Math.max(current, small ? 0 : avail);
    } else {
      const threshold = Math.min(this.config.recvBufferBytes >> 1, this.advMss);
      if (avail > current && (avail - current >= threshold || avail === Math.min(this.config.recvBufferBytes, maxWnd))) wnd = avail;
    }
    // Round down to the scale granularity. RFC 7323 §2.4: with a shift the
    // right edge may appear to move left by less than 2^shift through
    // truncation; we keep honouring the edge we promised (RCV.ADV), but never
    // round up — rounding up on every ACK would let the edge creep past the
    // buffer, 2^shift − 1 bytes at a time.
    const budget = this.host.budget;
    if (budget) {
      // Widen only by what the stack-wide budget has left. Under that
      // pressure a window grows to at most 4 MSS (as Linux clamps
      // rcv_ssthresh to 4 × advmss under tcp_memory_pressure), so that one
      // connection cannot take all that is left and starve the others: a
      // promise, once made, is never taken back (the window never shrinks).
      const room = current + Math.max(0, budget.limit - budget.used);
      if (wnd > room) wnd = Math.max(current, Math.min(room, 4 * this.advMss));
    }
    let field = Math.floor(wnd / 2 ** shift);
    if (field > 65535) field = 65535;
    const edge = seqAdd(this.rcvNxt, field * 2 ** shift);
    this.rcvAdv = seqMax(edge, this.rcvAdv);
    this.recharge();
    return field;
  }

  // ===========================================================================
  // Shared helpers used by segment-arrives.ts
  // ===========================================================================

  /** Every state change goes through here so hooks see each arrow of Figure 5. */
  setState(next: TcpState, cause: string): void {
    const from = this.state;
    if (from === next) return;
    this.state = next;
    this.host.event(this, { type: 'state', from, to: next, cause });
  }

  /** Delete the TCB: flush queues, disarm timers, enter CLOSED, tell the owner. */
  terminate(reason: CloseReason | null, cause: string): void {
    if (this.state === 'CLOSED' && this.closeReason !== null) return;
    this.clearTimers();
    this.sendBuf = null;
    this.ooo = null;
    this.releaseBudget();
    this.closeReason = reason;
    this.setState('CLOSED', cause);
    this.host.event(this, { type: 'closed', reason });
  }

  clearTimers(): void {
    clearTimers(this);
  }

  armRtx(): void {
    armRtx(this);
  }

  armPersist(): void {
    armPersist(this);
  }

  armKeepAlive(): void {
    armKeepAlive(this);
  }

  /** Enter TIME-WAIT: "start the time-wait timer, turn off the other timers". */
  enterTimeWait(cause: string): void {
    this.clearTimers();
    this.sendBuf = null;
    this.setState('TIME-WAIT', cause);
    this.timeWaitAt = this.now + 2 * this.config.mslUs;
  }

  /** Negotiation results from the peer's SYN (MSS §3.7.1, window scale RFC 7323 §2). */
  applySynOptions(options: TcpOption[]): void {
    let mss = this.config.defaultMss;
    let ws = -1;
    let sackOk = false;
    let ts: { tsval: number } | null = null;
    for (const o of options) {
      if (o.kind === 'mss') mss = o.value;
      else if (o.kind === 'window-scale') ws = o.shift;
      else if (o.kind === 'sack-permitted') sackOk = true;
      else if (o.kind === 'timestamp') ts = o;
    }
    this.peerSackOk = sackOk;
    this.sackEnabled = sackOk && this.config.sack;
    this.peerOfferedTs = ts !== null;
    if (ts) this.tsRecent = ts.tsval | 0;
    // Timestamps are in use when both SYNs carry them (tsEnabled); TS.Recent is then recorded now.
    this.tsRecentSec = ts !== null && this.config.timestamps ? Math.floor(this.now / 1_000_000) : -1;
    // "SendMSS = MIN(MMS_S - 20, Eff.snd.MSS)" with our own MTU as the limit.
    this.sndMss = Math.max(64, Math.min(mss === 0 ? this.config.defaultMss : mss, this.advMss));
    if (this.config.roundBuffersToMss) {
      // FreeBSD tcp_mss_update: buffers become whole multiples of the MSS.
      const m = this.sndMss;
      const up = (n: number): number => Math.ceil(n / m) * m;
      (this as { config: TcpConfig }).config = { ...this.config, recvBufferBytes: up(this.config.recvBufferBytes), sendBufferBytes: up(this.config.sendBufferBytes) };
    }
    this.peerOfferedScale = ws >= 0;
    if (ws >= 0 && this.config.windowScaling) {
      // RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt
      // value larger than 14, the TCP SHOULD log the error but MUST use 14".
      this.sndWndShift = Math.min(ws, MAX_WSCALE);
      this.rcvWndShift = this.offeredShift;
    } else {
      this.sndWndShift = 0;
      this.rcvWndShift = 0;
    }
  }

  /** RFC 6928 initial window, RFC 5681 §3.1 ssthresh "arbitrarily high". */
  initCongestion(): void {
    // The controller is created (and initialised with the negotiated MSS) on
    // first use; forget any created before the handshake finished.
    this.ccImpl = null;
  }

  /**
   * New data acknowledged: advance SND.UNA, release the buffer, sample the
   * RTT (Karn), grow cwnd (slow start / congestion avoidance with RFC 3465
   * byte counting, L = 2*SMSS), and handle NewReno recovery (RFC 6582).
   */
  onAckAdvance(ack: number, tsecr = 0): void {
    const acked = seqDiff(ack, this.sndUna);
    // Data bytes acknowledged (not SYN or FIN).
    const dataAckedTo = seqGt(ack, this.dataEnd()) ? this.dataEnd() : ack;
    const dataAcked = seqDiff(dataAckedTo, this.bufSeq);
    if (dataAcked > 0 && this.sendBuf) {
      this.sendBuf.consume(dataAcked);
      this.bufSeq = dataAckedTo;
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    if (seqGe(ack, this.sndUp)) this.sndUrgent = false;
    if (this.rttTiming && seqGt(ack, this.rttSeq)) {
      this.rttTiming = false;
      this.rtt.sample(this.now - this.rttStart);
    } else if (this.tsEnabled && tsecr !== 0 && !this.rttTiming) {
      // RFC 7323 §4.1: an RTT sample from the echoed timestamp, valid even
      // for retransmitted segments.
      const ms = (this.tsNow() - tsecr) | 0;
      if (ms >= 0 && ms < 3_600_000) this.rtt.sample(ms * 1000);
    }
    this.retries = 0;
    this.persistBackoff = 0;
    this.rtt.backoff = 0;
    this.tlpInFlight = false;
    this.unackedSince = this.sndUna === this.sndMax ? NEVER : this.now;
    // Congestion control.
    if (this.inRecovery && this.board) {
      // SACK recovery ends when everything outstanding at its start is acknowledged.
      if (seqGe(ack, this.recover)) {
        this.inRecovery = false;
        this.cwnd = this.ssthresh;
      }
    } else if (this.inRecovery) {
      if (seqGe(ack, this.recover)) {
        // RFC 6582 §3.2 (3) full acknowledgment: deflate.
        this.inRecovery = false;
        this.cwnd = Math.min(this.ssthresh, Math.max(seqDiff(this.sndMax, this.sndUna), this.sndMss) + this.sndMss);
      } else {
        // (4) partial acknowledgment: retransmit the first unacknowledged
        // segment, deflate by the amount acknowledged, add back one SMSS.
        this.retransmitFirst('fast');
        this.cwnd = Math.max(this.sndMss, this.cwnd - acked + this.sndMss);
      }
    } else {
      this.cc.onAck(acked, this.sndMss, this.now, this.rtt.srtt);
    }
    this.dupAcks = 0;
    // RFC 6298 (5.2)/(5.3): all outstanding data acknowledged → stop the
    // timer; otherwise restart it.
    // While persisting only the probe byte is in flight: the persist timer,
    // not the retransmission timer, covers it.
    if (this.sndUna === this.sndMax || this.persistAt !== NEVER) this.rtxAt = NEVER;
    else this.armRtx();
    if (this.sendBuf && dataAcked > 0) this.host.event(this, EV_WRITABLE);
  }

  /** A duplicate ACK (RFC 5681 §2): three trigger fast retransmit (§3.2), NewReno recovery (RFC 6582). */
  onDupAck(): void {
    this.dupAcks++;
    // With SACK, RACK detects losses from the SACK blocks (RFC 8985).
    if (this.board) return;
    if (this.inRecovery) {
      this.cwnd += this.sndMss;
      return;
    }
    // RFC 6582 §3.2 (2): only when the cumulative ACK covers more than
    // `recover` (avoids multiple reductions per window of data).
    if (this.dupAcks === 3 && seqGt(this.sndUna, this.recover)) {
      const flight = seqDiff(this.sndMax, this.sndUna);
      this.cc.onCongestionEvent(flight, this.sndMss, this.now);
      this.inRecovery = true;
      this.recover = this.sndMax;
      this.retransmitFirst('fast');
      this.cwnd = this.ssthresh + 3 * this.sndMss;
    }
  }

  /**
   * Resend the segment at SND.UNA without moving SND.NXT. A retransmission
   * carries only what was sent before, [SND.UNA, SND.MAX): bytes queued but
   * never sent lie beyond SND.MAX, and an ACK of them would be "an ACK of
   * something not yet sent" (§3.10.7.4 fifth) — dropped, and a stall.
   */
  retransmitFirst(kind: 'fast' | 'rto'): void {
    const dataEnd = this.dataEnd();
    const avail = seqDiff(dataEnd, this.sndUna);
    const len = Math.min(this.unackedData(), this.sndMss - this.optionOverhead());
    let flags = ACK;
    if (len === avail && this.finQueued && this.finSent()) flags |= FIN;
    if (len === 0 && !(flags & FIN)) return;
    if (len > 0) flags |= PSH;
    this.retransmits++;
    this.rttTiming = false;
    this.host.event(this, { type: 'retransmit', kind, seq: this.sndUna, len });
    this.emit(this.sndUna, flags, len > 0 ? this.sendBuf!.slice(seqDiff(this.sndUna, this.bufSeq), len) : EMPTY);
    this.armRtx();
  }

  // ===========================================================================
  // SACK scoreboard, RACK-TLP (tcp/recovery.ts)
  // ===========================================================================

  /** Every acceptable ACK: update the scoreboard from SEG.ACK and its SACK blocks, then detect losses. */
  onAckForRecovery(ack: number, blocks: Array<[number, number]> | undefined): void {
    const board = this.board;
    if (!board) return;
    const delivered = board.onAck(ack, blocks, this.now);
    if (delivered > 0) this.rackDetectLoss();
    if (this.inRecovery && delivered > 0 && seqLt(ack, this.recover)) {
      // RFC 6937 PRR: send in proportion to what the network delivers, so
      // that by the end of recovery the flight is ssthresh, not a burst.
      this.board!.prrDelivered += delivered;
      // After a go-back-N rollback only what was re-sent is in flight.
      const pipe = board.pipe(ack, seqLt(this.sndNxt, this.sndMax) ? this.sndNxt : this.sndMax);
      // Below ssthresh, PRR-SSRB: slow start back up to ssthresh, at most one MSS beyond what was delivered.
      const b = this.board!;
      const sndcnt = prrSndcnt({ prrDelivered: b.prrDelivered, prrOut: b.prrOut, recoverFs: b.recoverFs, ssthresh: this.ssthresh, pipe, deliveredData: delivered, mss: this.sndMss });
      this.cwnd = pipe + Math.max(0, sndcnt);
    }
    if (seqGt(this.sndMax, this.sndUna)) this.armTlp();
    else this.tlpAt = NEVER;
  }

  /** RFC 8985 §6.2 step 5; entering recovery once per episode (RFC 6675 §5). */
  rackDetectLoss(): void {
    const board = this.board;
    // Without SACK information every delivered segment was the oldest
    // outstanding one: nothing older can be lost (and the scan is skipped on
    // the clean-path hot path).
    if (!board || board.sackedBytes === 0) {
      this.rackAt = NEVER;
      return;
    }
    const { newlyLost, timeoutAt } = board.detectLoss(this.now, board.reoWnd(this.inRecovery, this.rtt.srtt));
    this.rackAt = timeoutAt;
    // RFC 6675 §5 (and RFC 6582): a new recovery only once SND.UNA has passed
    // `recover` — not again for losses from the episode (or the RTO) just handled.
    if (newlyLost > 0 && !this.inRecovery && seqGt(this.sndUna, this.recover)) {
      const flight = seqDiff(this.sndMax, this.sndUna);
      this.cc.onCongestionEvent(flight, this.sndMss, this.now);
      this.inRecovery = true;
      this.recover = this.sndMax;
      // RFC 6937: RecoverFS = the flight at the start of recovery.
      this.board!.recoverFs = flight;
      this.board!.prrDelivered = 0;
      this.board!.prrOut = 0;
      this.cwnd = Math.max(this.sndMss, Math.min(this.cwnd, this.pipe(board) + this.sndMss));
    }
  }

  /** Retransmits segments marked lost while the pipe is under cwnd. */
  /** Bytes in flight: after a go-back-N rollback only what was re-sent counts. */
  pipe(board: Scoreboard): number {
    return board.pipe(this.sndUna, seqLt(this.sndNxt, this.sndMax) ? this.sndNxt : this.sndMax);
  }

  private retransmitLost(board: Scoreboard): void {
    for (let s = board.firstLost(); s; s = board.firstLost()) {
      if (this.pipe(board) >= this.cwnd) return;
      this.resend(s.start, s.end, 'fast');
      board.onSend(s.start, s.end, this.now, true);
    }
  }

  /** Sends [start, end) again (data, and the FIN when it falls inside). */
  private resend(start: number, end: number, kind: 'fast' | 'probe'): void {
    // Part of a scoreboard segment may already be acknowledged: never resend below SND.UNA.
    if (seqLt(start, this.sndUna)) start = this.sndUna;
    if (!seqLt(start, end)) return;
    const dataEnd = this.dataEnd();
    const dataTo = seqGt(end, dataEnd) ? dataEnd : end;
    const len = Math.max(0, seqDiff(dataTo, start));
    let flags = ACK;
    if (this.finQueued && seqGt(end, dataEnd)) flags |= FIN;
    if (len > 0) flags |= PSH;
    this.retransmits++;
    this.rttTiming = false;
    this.host.event(this, { type: 'retransmit', kind, seq: start, len });
    this.emit(start, flags, len > 0 ? this.sendBuf!.slice(seqDiff(start, this.bufSeq), len) : EMPTY);
    if (this.inRecovery && this.board) this.board.prrOut += seqDiff(end, start);
    if (this.rtxAt === NEVER) this.armRtx();
  }

  /** RFC 8985 §7.2: arm the probe timeout when data is outstanding and an RTT is known. */
  private armTlp(): void {
    // No probe timeout while the persist timer probes a zero window: a TLP
    // would only resend data into the closed window.
    if (!this.board || this.inRecovery || this.rtt.srtt === 0 || this.tlpInFlight || this.persistAt !== NEVER) {
      this.tlpAt = NEVER;
      return;
    }
    const flightSegs = Math.ceil(seqDiff(this.sndMax, this.sndUna) / Math.max(1, this.sndMss));
    this.tlpAt = this.now + Scoreboard.pto(this.rtt.srtt, flightSegs);
  }

  /**
   * RFC 8985 §7.3: on PTO expiry send one new segment if the peer's window
   * allows, otherwise retransmit the last unSACKed segment, so that a tail
   * loss produces a SACK (and RACK recovery) rather than waiting for the RTO.
   */
  onTailLossProbe(): void {
    const board = this.board;
    if (!board || !seqGt(this.sndMax, this.sndUna)) return;
    const dataEnd = this.dataEnd();
    const avail = seqDiff(dataEnd, this.sndNxt);
    const mss = this.sndMss - this.optionOverhead();
    if (avail > 0 && this.sndWnd - seqDiff(this.sndNxt, this.sndUna) >= Math.min(avail, mss)) {
      const seq = this.sndNxt;
      const len = Math.min(avail, mss);
      let flags = ACK | PSH;
      if (len === avail && this.finQueued) flags |= FIN;
      this.host.event(this, { type: 'retransmit', kind: 'probe', seq, len });
      this.tlpInFlight = true;
      this.emit(seq, flags, this.sendBuf!.slice(seqDiff(seq, this.bufSeq), len));
      this.afterSend(seq, len + (flags & FIN ? 1 : 0));
      this.tlpAt = NEVER;
      return;
    }
    const last = board.lastUnsacked();
    if (last) {
      this.tlpInFlight = true;
      this.resend(last.start, last.end, 'probe');
      board.onSend(last.start, last.end, this.now, true);
    }
    // The RTO stays where it is: it is the backstop if the probe is lost too.
    if (this.rtxAt === NEVER) this.armRtx();
  }
}
