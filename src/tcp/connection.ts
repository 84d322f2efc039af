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
 *
 * This file holds the TCB itself — its fields, the rarely used state in
 * boxes made on first use, booleans as bits and every number a small
 * integer while idle (an idle connection stays well under 1 KB of heap:
 * docs/PERFORMANCE.md, "Where an idle connection's bytes go") — and the
 * methods everything else calls. The work is done by one module
 * per concern, each a set of functions of the Connection:
 *   user-calls.ts      A. OPEN / SEND / RECEIVE / CLOSE / ABORT / STATUS
 *   segment-arrives.ts B. §3.10.7 step by step, through the SegmentTcb interface
 *   timers.ts          B. every timer: when it may run, what it does on expiry
 *   output.ts          C. the segmentizer, ACK/SYN/RST, the segment header, the advertised window
 *   sender.ts          what an ACK does for the sender: SND.UNA, RTT, congestion control,
 *                      NewReno / SACK / RACK-TLP / PRR recovery, ECN echo, path MTU
 *   receiver.ts        what arriving text does: delivery, held text and FIN, delayed ACK, URG, CE
 *   negotiation.ts     the SYN options (MSS, window scale, timestamps, SACK) and TS.Recent
 *   mtu-probe.ts       RFC 4821 path MTU probing upward after a black-hole fallback
 */
import type { DropReason, TcpOption, TcpRepr } from '../wire/types.ts';
import type { IpAddr } from '../wire/ipv6.ts';
import type { Duration, Instant } from '../base/time.ts';
import type { TcpConfig } from './config.ts';
import type { CloseReason, ConnectionEvent } from './events.ts';
import { RttEstimator, type RtoLimits } from './rtt.ts';
import type { SendBuffer } from './send-buffer.ts';
import { EMPTY } from './send-buffer.ts';
import type { RecvBuffer } from './recv-buffer.ts';
import type { Assembler } from './assembler.ts';
import { seqAdd, seqDiff, seqGt, seqLt } from './seq.ts';
import type { TcpState } from './state.ts';
import { segmentArrives, type SegmentTcb } from './segment-arrives.ts';
import { armKeepAlive, armPersist, armRtx, clearTimers, fireTimers, nextDeadline } from './timers.ts';
import type { Scoreboard } from './recovery.ts';
import type { MemoryBudget } from './budget.ts';
import { createCongestionController, type CongestionController } from './congestion/index.ts';
import * as user from './user-calls.ts';
import * as out from './output.ts';
import * as sender from './sender.ts';
import * as nego from './negotiation.ts';
import * as rcv from './receiver.ts';
import { offeredShiftFor } from './negotiation.ts';

/** Where a connection's outputs go. Implemented by the stack (and by test harnesses). */
export interface ConnectionHost {
  /** Sends a segment; `ipEcn` is the IP ECN codepoint to use (RFC 3168: 0 Not-ECT, 2 ECT(0)). */
  transmit(conn: Connection, seg: TcpRepr, ipEcn?: number): void;
  /**
   * Optional: sends a segment whose payload is `seg.payload` followed by
   * the `more` views (a segment spanning two writes of the send buffer,
   * sent without joining them). Without it such a segment is joined.
   */
  transmitParts?(conn: Connection, seg: TcpRepr, more: readonly Uint8Array[] | null, ipEcn: number, gsoSize?: number): void;
  /**
   * Optional: the largest TCP segment (header and payload, octets) the path
   * to the peer takes as one super-segment it cuts itself (a link with
   * TSO), or 0. With it, `transmitParts` with a `gsoSize` (> 0: the payload
   * octets of each segment it is cut into) sends such a super-segment.
   */
  gsoMaxSegment?(conn: Connection): number;
  /**
   * Optional: true while the owner sends without PUSH (a batch of SENDs,
   * Stack.cork): a short tail of new data waits for `holdCorked`'s flush
   * instead of going at once (tcp/output.ts).
   */
  readonly corked?: boolean;
  /** Optional, with `corked`: this connection held a tail; output it when the batch ends. */
  holdCorked?(conn: Connection): void;
  /**
   * Optional: true while a batch of received segments is being processed
   * (Link.receivesInBatches): a connection hands its output to
   * `holdOutput`, which runs it once the batch is done (MUST-59).
   */
  readonly inBatch?: boolean;
  /** Optional, with `inBatch`: output `conn` (Connection.outputHeld is set) when the batch ends. */
  holdOutput?(conn: Connection): void;
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

/**
 * The RTO bounds of each configuration, one object shared by its
 * connections' estimators: the values the configuration has when a
 * connection is made (a changed configuration gets a new object).
 */
const rtoLimits = new WeakMap<TcpConfig, RtoLimits>();
function rtoLimitsOf(config: TcpConfig): RtoLimits {
  let l = rtoLimits.get(config);
  if (!l || l.minRto !== config.minRtoUs || l.maxRto !== config.maxRtoUs || l.slop !== config.rtoSlopUs) {
    rtoLimits.set(config, (l = Object.freeze({ minRto: config.minRtoUs, maxRto: config.maxRtoUs, slop: config.rtoSlopUs })));
  }
  return l;
}

/**
 * A timer that is not armed, as stored in the TCB: instants are never
 * negative (the clocks start at 0), and a small integer keeps the field
 * out of V8's double representation (a double field costs every TCB a
 * 16-byte heap number, armed or not) — as long as the deadlines stored in
 * it are small integers too, i.e. until the clock passes 2³¹ µs. The
 * accessors translate to and from NEVER.
 */
const UNARMED = -1;

/** The TCB's boolean fields, one bit each of `bits` (one field instead of seventeen), and the IP ECN codepoint in two more. */
const F_PASSIVE_OPEN = 1;
const F_SND_URGENT = 2;
const F_RCV_URGENT = 4;
const F_PEER_FIN_KNOWN = 8;
const F_FIN_RECEIVED = 16;
const F_FIN_QUEUED = 32;
const F_RTT_TIMING = 64;
const F_IN_RECOVERY = 128;
const F_SACK_ENABLED = 256;
const F_PEER_SACK_OK = 512;
const F_PEER_OFFERED_TS = 1024;
const F_PEER_OFFERED_SCALE = 2048;
const F_ECN_ENABLED = 4096;
const F_PURE_ACK = 8192;
const F_ACK_NOW = 16384;
const F_ORPHANED = 32768;
const F_RACK_REORDERING_SEEN = 1 << 16;
/** ipEcnIn, two bits of `bits` from here. */
const IP_ECN_SHIFT = 17;
const F_OUTPUT_HELD = 1 << 19;

export { offeredShiftFor } from './negotiation.ts';

/** Persist state: see Connection.persistState. */
interface PersistBox {
  at: Instant;
  backoff: number;
  zeroSince: Instant;
  probes: number;
  probeSince: Instant;
}
/** ECN's working state: see Connection's ecn* accessors. */
interface EcnBox {
  echo: boolean;
  cwrPending: boolean;
  recover: number;
  reductions: number;
}
/** Connection.rare: the boxes made on first use. */
interface RareState {
  p: PersistBox | null;
  ka: { at: Instant; probes: number } | null;
  oow: { start: Instant; sent: number } | null;
  ecn: EcnBox | null;
}

export class Connection implements SegmentTcb {
  /** The boolean fields (passiveOpen … orphaned, rackReorderingSeen, outputHeld), one bit each, and ipEcnIn: see the F_* constants. */
  private bits = 0;

  // ---- identity -------------------------------------------------------------
  localAddr: IpAddr = 0;
  localPort = 0;
  remoteAddr: IpAddr = 0;
  remotePort = 0;

  state: TcpState = 'CLOSED';
  /** SYN-RECEIVED remembers whether it came from LISTEN (passive) or SYN-SENT. */
  get passiveOpen(): boolean { return (this.bits & F_PASSIVE_OPEN) !== 0; }
  set passiveOpen(v: boolean) { this.bits = v ? this.bits | F_PASSIVE_OPEN : this.bits & ~F_PASSIVE_OPEN; }

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
  get sndUrgent(): boolean { return (this.bits & F_SND_URGENT) !== 0; }
  set sndUrgent(v: boolean) { this.bits = v ? this.bits | F_SND_URGENT : this.bits & ~F_SND_URGENT; }
  /** Shift applied to the peer's window fields (RFC 7323). */
  sndWndShift = 0;
  /** Shift applied to the window fields we send. */
  rcvWndShift = 0;
  /** Our offered shift (valid only if the peer offers one too). */
  offeredShift = 0;
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
  get rcvUrgent(): boolean { return (this.bits & F_RCV_URGENT) !== 0; }
  set rcvUrgent(v: boolean) { this.bits = v ? this.bits | F_RCV_URGENT : this.bits & ~F_RCV_URGENT; }
  /** Sequence number of the peer's FIN, once seen (possibly out of order); valid when peerFinKnown. */
  peerFinSeq = 0;
  get peerFinKnown(): boolean { return (this.bits & F_PEER_FIN_KNOWN) !== 0; }
  set peerFinKnown(v: boolean) { this.bits = v ? this.bits | F_PEER_FIN_KNOWN : this.bits & ~F_PEER_FIN_KNOWN; }
  /** The peer's FIN has been processed (RCV.NXT advanced over it). */
  get finReceived(): boolean { return (this.bits & F_FIN_RECEIVED) !== 0; }
  set finReceived(v: boolean) { this.bits = v ? this.bits | F_FIN_RECEIVED : this.bits & ~F_FIN_RECEIVED; }

  // ---- buffers ---------------------------------------------------------------
  /** What this connection is charged against the stack's budget (unread bytes + promised window). */
  charged = 0;
  /** Sequence number of sendBuf offset 0 (the first unacknowledged data byte). */
  bufSeq = 0;
  /** Written and not yet acknowledged; null while empty (made by SEND, dropped when all is acknowledged: tcp/sender.ts). */
  sendBuf: SendBuffer | null = null;
  /** Received in order and not yet read; null while empty (made by delivery, dropped when all is read: tcp/user-calls.ts). */
  recvBuf: RecvBuffer | null = null;
  ooo: Assembler | null = null;
  /** The user called CLOSE: a FIN follows the queued data. */
  get finQueued(): boolean { return (this.bits & F_FIN_QUEUED) !== 0; }
  set finQueued(v: boolean) { this.bits = v ? this.bits | F_FIN_QUEUED : this.bits & ~F_FIN_QUEUED; }

  // ---- timers (Infinity = not armed; stored as UNARMED) -------------------
  /**
   * The boxes of rarely used state — persist, keepalive, the out-of-window
   * reply throttle, ECN — behind one pointer, made with the first of them
   * (an idle TCB has none: one field instead of four).
   */
  private rare: RareState | null = null;
  private rareState(): RareState {
    return (this.rare ??= { p: null, ka: null, oow: null, ecn: null });
  }
  private rtxAtRaw: Instant = UNARMED;
  get rtxAt(): Instant { const v = this.rtxAtRaw; return v === UNARMED ? NEVER : v; }
  set rtxAt(v: Instant) { this.rtxAtRaw = v === NEVER ? UNARMED : v; }
  /**
   * Persist state (zero-window probes and the SWS override), made the first
   * time the persist timer is armed: `probes` counts probes sent since the
   * peer last answered (any acceptable ACK resets it), `probeSince` is when
   * the first of them went out.
   */
  private get pBox(): PersistBox | null {
    return this.rare === null ? null : this.rare.p;
  }
  private set pBox(v: PersistBox | null) {
    this.rareState().p = v;
  }
  /** The persist box, made on first use (tcp/timers.ts). */
  persistState(): PersistBox {
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
  private delAckAtRaw: Instant = UNARMED;
  get delAckAt(): Instant { const v = this.delAckAtRaw; return v === UNARMED ? NEVER : v; }
  set delAckAt(v: Instant) { this.delAckAtRaw = v === NEVER ? UNARMED : v; }
  /**
   * The end-of-life timer: TIME-WAIT's 2×MSL, or an orphaned FIN-WAIT-2's
   * timeout — never both (one field, two names).
   */
  private closeAtRaw: Instant = UNARMED;
  get closeAt(): Instant { const v = this.closeAtRaw; return v === UNARMED ? NEVER : v; }
  set closeAt(v: Instant) { this.closeAtRaw = v === NEVER ? UNARMED : v; }
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
  private get kaBox(): { at: Instant; probes: number } | null {
    return this.rare === null ? null : this.rare.ka;
  }
  private set kaBox(v: { at: Instant; probes: number } | null) {
    this.rareState().ka = v;
  }
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
  get rttTiming(): boolean { return (this.bits & F_RTT_TIMING) !== 0; }
  set rttTiming(v: boolean) { this.bits = v ? this.bits | F_RTT_TIMING : this.bits & ~F_RTT_TIMING; }
  /** When the oldest unacknowledged data was first sent, for the user timeout. */
  private unackedSinceRaw: Instant = UNARMED;
  get unackedSince(): Instant { const v = this.unackedSinceRaw; return v === UNARMED ? NEVER : v; }
  set unackedSince(v: Instant) { this.unackedSinceRaw = v === NEVER ? UNARMED : v; }
  lastRecvAt: Instant = 0;

  // ---- congestion control (tcp/congestion) and loss recovery (RFC 6582) ------
  /** Created when first needed: an idle connection carries none. */
  private ccImpl: CongestionController | null = null;
  dupAcks = 0;
  get inRecovery(): boolean { return (this.bits & F_IN_RECOVERY) !== 0; }
  set inRecovery(v: boolean) { this.bits = v ? this.bits | F_IN_RECOVERY : this.bits & ~F_IN_RECOVERY; }
  recover = 0;
  /** When we last sent a segment with data, for restart after idle (RFC 5681 §4.1). */
  lastDataSendAt: Instant = 0;
  /**
   * SACK scoreboard and RACK state (RFC 8985), when SACK was negotiated,
   * while something sent is outstanding (made by the first data segment or
   * FIN of a flight, tcp/output.ts afterSend; dropped once everything is
   * acknowledged outside recovery, tcp/sender.ts releaseIdleBoard). The
   * RACK and TLP timers and the PRR counters live in it too (an idle or
   * non-SACK connection carries none of them); the accessors below read them.
   */
  board: Scoreboard | null = null;
  /**
   * What RACK learnt of the path, kept while there is no board and handed
   * to the next one: RACK.min_RTT in µs (-1: no sample yet) and
   * RACK.reordering_seen (RFC 8985 §6.2).
   */
  rackMinRtt = -1;
  get rackReorderingSeen(): boolean { return (this.bits & F_RACK_REORDERING_SEEN) !== 0; }
  set rackReorderingSeen(v: boolean) { this.bits = v ? this.bits | F_RACK_REORDERING_SEEN : this.bits & ~F_RACK_REORDERING_SEEN; }

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
  private get oowBox(): { start: Instant; sent: number } | null {
    return this.rare === null ? null : this.rare.oow;
  }
  private set oowBox(v: { start: Instant; sent: number } | null) {
    this.rareState().oow = v;
  }

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

  /** RFC 5961 challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, rate limited per connection and by the host. */
  challengeAck(): void {
    // RFC 9293 §3.10.7.4: "Note that RFC 5961 and Errata ID 4772 [99] contain
    // additional ACK throttling notes for an implementation." RFC 5961 §7: "An
    // implementation SHOULD include an ACK throttling mechanism to be
    // conservative." Two limits, as Linux since CVE-2016-5696:
    // this connection's (challengeAckPerConn per challengeAckIntervalUs), then
    // the host's, whose per-second budget is drawn at random so that an
    // off-path attacker cannot count it (Stack.allowChallengeAck).
    if (!this.allowOowReply() || this.host.allowChallengeAck?.(this) === false) {
      this.host.drop?.(this, 'tcp-challenge-ack-limited');
      return;
    }
    this.ackNow = true;
    this.pureAck = true;
  }

  recordTsRecent(tsval: number): void { nego.recordTsRecent(this, tsval); }
  tsRecentValid(): boolean { return nego.tsRecentValid(this); }


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
  get sackEnabled(): boolean { return (this.bits & F_SACK_ENABLED) !== 0; }
  set sackEnabled(v: boolean) { this.bits = v ? this.bits | F_SACK_ENABLED : this.bits & ~F_SACK_ENABLED; }
  /** Sequence numbers of recent out-of-order arrivals, most recent first (RFC 2018 §4 block order). */
  sackMru: number[] | null = null;
  get peerSackOk(): boolean { return (this.bits & F_PEER_SACK_OK) !== 0; }
  set peerSackOk(v: boolean) { this.bits = v ? this.bits | F_PEER_SACK_OK : this.bits & ~F_PEER_SACK_OK; }
  get peerOfferedTs(): boolean { return (this.bits & F_PEER_OFFERED_TS) !== 0; }
  set peerOfferedTs(v: boolean) { this.bits = v ? this.bits | F_PEER_OFFERED_TS : this.bits & ~F_PEER_OFFERED_TS; }
  /** The peer's SYN carried a window-scale option. */
  get peerOfferedScale(): boolean { return (this.bits & F_PEER_OFFERED_SCALE) !== 0; }
  set peerOfferedScale(v: boolean) { this.bits = v ? this.bits | F_PEER_OFFERED_SCALE : this.bits & ~F_PEER_OFFERED_SCALE; }
  /** A duplicate range to report first in the next ACK (RFC 2883 D-SACK), int32 seqs. */
  dsack: [number, number] | null = null;
  /** ECN (RFC 3168) was negotiated. */
  get ecnEnabled(): boolean { return (this.bits & F_ECN_ENABLED) !== 0; }
  set ecnEnabled(v: boolean) { this.bits = v ? this.bits | F_ECN_ENABLED : this.bits & ~F_ECN_ENABLED; }
  /** ECN's working state, created when ECN is first used (none on most connections). */
  private get ecnBox(): EcnBox | null {
    return this.rare === null ? null : this.rare.ecn;
  }
  private set ecnBox(v: EcnBox | null) {
    this.rareState().ecn = v;
  }
  private ecn(): EcnBox {
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
  /** IP ECN codepoint of the segment being processed (two bits of `bits`). */
  get ipEcnIn(): number { return (this.bits >>> IP_ECN_SHIFT) & 3; }
  set ipEcnIn(v: number) { this.bits = (this.bits & ~(3 << IP_ECN_SHIFT)) | ((v & 3) << IP_ECN_SHIFT); }
  /** The owed ACK is a challenge ACK: a pure <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> even in SYN-RECEIVED (RFC 5961). */
  get pureAck(): boolean { return (this.bits & F_PURE_ACK) !== 0; }
  set pureAck(v: boolean) { this.bits = v ? this.bits | F_PURE_ACK : this.bits & ~F_PURE_ACK; }
  /** When the connection was opened (for the connection-establishment timeout). */
  openedAt: Instant = 0;

  // ---- ACK generation --------------------------------------------------------
  /** Waiting in the host's batch for its output (ConnectionHost.holdOutput). */
  get outputHeld(): boolean { return (this.bits & F_OUTPUT_HELD) !== 0; }
  set outputHeld(v: boolean) { this.bits = v ? this.bits | F_OUTPUT_HELD : this.bits & ~F_OUTPUT_HELD; }
  get ackNow(): boolean { return (this.bits & F_ACK_NOW) !== 0; }
  set ackNow(v: boolean) { this.bits = v ? this.bits | F_ACK_NOW : this.bits & ~F_ACK_NOW; }
  /** Full-sized segments received since our last ACK (RFC 5681 §4.2: ACK at least every second one). */
  segsSinceAck = 0;

  // ---- bookkeeping -----------------------------------------------------------
  now: Instant = 0;
  retransmits = 0;
  /** The application no longer owns the connection (closed or destroyed its socket). */
  get orphaned(): boolean { return (this.bits & F_ORPHANED) !== 0; }
  set orphaned(v: boolean) { this.bits = v ? this.bits | F_ORPHANED : this.bits & ~F_ORPHANED; }
  /** The reason passed to 'closed' (kept for STATUS after the fact). */
  closeReason: CloseReason | null = null;
  /** Opaque slot for the owner (the api socket). */
  user: unknown = null;
  /** The stack's timer heap slot (see stack/timer-heap.ts, which keeps the deadline it is filed under). */
  heapIndex = -1;

  constructor(
    readonly host: ConnectionHost,
    readonly config: TcpConfig,
    /** MTU of the outgoing interface: our MSS is mtu - 40. */
    mtu: number,
  ) {
    this.rtt = new RttEstimator(config.initialRtoUs, rtoLimitsOf(config));
    this.advMss = Math.max(88, Math.min(65495, mtu - 40));
    this.sndMss = Math.min(config.defaultMss, this.advMss);
    if (config.windowScaling) this.offeredShift = offeredShiftFor(config);
  }

  // ===========================================================================
  // A. User calls (RFC 9293 §3.10.1 – §3.10.6): tcp/user-calls.ts
  // ===========================================================================

  listen(ep: Pick<Endpoints, 'localAddr' | 'localPort'>, now: Instant): void { user.listen(this, ep, now); }
  open(ep: Endpoints, iss: number, now: Instant): void { user.open(this, ep, iss, now); }

  restoreFromCookie(ep: Endpoints, iss: number, irs: number, synOptions: TcpOption[], tsOffset: number | null, now: Instant): void {
    user.restoreFromCookie(this, ep, iss, irs, synOptions, tsOffset, now);
  }

  initSend(iss: number): void { user.initSend(this, iss); }
  send(data: Uint8Array, now: Instant, urgent = false, copy = false): number { return user.send(this, data, now, urgent, copy); }

  /** Free space in the send buffer. */
  sendRoom(): number {
    return this.config.sendBufferBytes - (this.sendBuf?.length ?? 0);
  }

  /** Bytes written and not yet acknowledged. */
  sendQueued(): number {
    return this.sendBuf?.length ?? 0;
  }

  read(max: number, now: Instant): Uint8Array[] { return user.read(this, max, now); }

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

  close(now: Instant): void { user.close(this, now); }
  abort(now: Instant): void { user.abort(this, now); }
  status(): TcbStatus { return user.status(this); }
  push(now: Instant): void { user.push(this, now); }
  setNoDelay(on: boolean, now: Instant): void { user.setNoDelay(this, on, now); }
  setKeepAlive(on: boolean, idleUs: Duration | undefined, now: Instant): void { user.setKeepAlive(this, on, idleUs, now); }

  // ===========================================================================
  // B. Inputs
  // ===========================================================================

  /** SEGMENT ARRIVES (§3.10.7) for this connection's 4-tuple. */
  onSegment(seg: TcpRepr, now: Instant, ipEcn = 0): void {
    this.now = now;
    this.ipEcnIn = ipEcn & 3;
    // Sequence numbers are int32 inside the connection (see seq.ts). The
    // repr is this call's input, made for it (parsed from the packet; the
    // stack's hooks got a copy): converted in place rather than copied per
    // segment.
    seg.seq |= 0;
    seg.ack |= 0;
    segmentArrives(this, seg);
    if (this.state === 'CLOSED') return;
    // RFC 9293 §3.10.7.4: "In general, the processing of received segments
    // MUST be implemented to aggregate ACK segments whenever possible
    // (MUST-58). For example, if the TCP endpoint is processing a series of
    // queued segments, it MUST process them all before sending any ACK
    // segments (MUST-59)." Inside a link's batch the output waits for its
    // end — one ACK (or one burst of data carrying it) for the batch, as
    // GRO gives Linux (§3.8.6.3: "several current practices that further
    // lead to a reduced number of ACKs, including generic receive offload
    // (GRO)"). Not with a hole at RCV.NXT: a segment out of order or one
    // that leaves the hole is ACKed at once (RFC 5681 §4.2), so that the
    // peer's loss detection sees each duplicate ACK.
    if (this.host.inBatch === true && !rcv.holding(this)) {
      if (!this.outputHeld) {
        this.outputHeld = true;
        this.host.holdOutput!(this);
      }
      return;
    }
    this.output();
  }

  /** Fires every timer whose deadline is at or before `now` (tcp/timers.ts; a no-op when early). */
  onTimeout(now: Instant): void {
    fireTimers(this, now);
  }

  /** The earliest armed deadline, or Infinity. */
  nextDeadline(): Instant { return nextDeadline(this); }

  /** The path MTU changed (RFC 1191, RFC 4821): tcp/sender.ts. */
  setPathMss(mss: number, now: Instant, retransmit: boolean): boolean { return sender.setPathMss(this, mss, now, retransmit); }
  orphan(now: Instant): void { user.orphan(this, now); }

  // Timeouts (§3.10.8): the expiry handlers and the table of timers live in
  // tcp/timers.ts.

  /** Data bytes sent and not yet acknowledged ([SND.UNA, min(SND.MAX, end of data))). */
  unackedData(): number {
    const end = this.dataEnd();
    return Math.max(0, seqDiff(seqLt(this.sndMax, end) ? this.sndMax : end, this.sndUna));
  }

  // ===========================================================================
  // C. Output: what to send now (segmentization, Nagle, SWS, FIN, ACK, the
  //    segment header, the advertised window): tcp/output.ts
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

  output(force = false): void { out.output(this, force); }
  afterSend(seq: number, len: number): void { out.afterSend(this, seq, len); }
  sendAck(): void { out.sendAck(this); }
  sendSyn(withAck: boolean): void { out.sendSyn(this, withAck); }
  tsNow(): number { return nego.tsNow(this); }
  optionOverhead(): number { return nego.optionOverhead(this); }
  sackBlocks(): Array<[number, number]> | null { return out.sackBlocks(this); }

  /** Records a duplicate range for D-SACK (RFC 2883) when SACK is on. */
  noteDuplicate(from: number, to: number): void {
    if (this.sackEnabled && seqLt(from, to) && !this.dsack) this.dsack = [from, to];
  }

  sendRst(seq: number, ack: number, flags: number): void { out.sendRst(this, seq, ack, flags); }
  emit(seq: number, flags: number, payload: Uint8Array, options?: TcpOption[]): void { out.emit(this, seq, flags, payload, options); }
  onEcnEcho(): void { sender.onEcnEcho(this); }
  recharge(): void { out.recharge(this); }
  releaseBudget(): void { out.releaseBudget(this); }
  rcvWndAvailable(): number { return out.rcvWndAvailable(this); }

  // ===========================================================================
  // State changes and timers (tcp/timers.ts)
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

  clearTimers(): void { clearTimers(this); }
  armRtx(): void { armRtx(this); }
  armPersist(): void { armPersist(this); }
  armKeepAlive(): void { armKeepAlive(this); }

  /** "Restart the 2 MSL time-wait timeout" (a retransmitted FIN in TIME-WAIT). */
  restartTimeWait(): void {
    this.timeWaitAt = this.now + 2 * this.config.mslUs;
  }

  /** FIN-WAIT-1 → FIN-WAIT-2: nothing of ours is outstanding; an orphaned connection does not wait forever. */
  enterFinWait2(cause: string): void {
    this.setState('FIN-WAIT-2', cause);
    this.rtxAt = NEVER;
    if (this.orphaned) this.finWait2At = this.now + this.config.mslUs / 2;
  }

  /** SYN-RECEIVED → LISTEN for a passive open: flush, and the owner discards this TCB. */
  returnToListen(cause: string): void {
    this.clearTimers();
    this.sendBuf = null;
    this.ooo = null;
    this.releaseBudget();
    this.setState('LISTEN', cause);
  }

  /** Enter TIME-WAIT: "start the time-wait timer, turn off the other timers". */
  enterTimeWait(cause: string): void {
    this.clearTimers();
    this.sendBuf = null;
    this.setState('TIME-WAIT', cause);
    this.timeWaitAt = this.now + 2 * this.config.mslUs;
  }

  // ===========================================================================
  // The peer's SYN (tcp/negotiation.ts); the sender's side of ACKs: SND.UNA,
  // RTT, congestion control, NewReno (tcp/sender.ts)
  // ===========================================================================

  applySynOptions(options: TcpOption[]): void { nego.applySynOptions(this, options); }

  /** RFC 6928 initial window, RFC 5681 §3.1 ssthresh "arbitrarily high". */
  initCongestion(): void {
    // The controller is created (and initialised with the negotiated MSS) on
    // first use; forget any created before the handshake finished.
    this.ccImpl = null;
  }

  onAckAdvance(ack: number, tsecr = 0): void { sender.onAckAdvance(this, ack, tsecr); }
  onDupAck(): void { sender.onDupAck(this); }
  retransmitFirst(kind: 'fast' | 'rto'): void { sender.retransmitFirst(this, kind); }

  // ===========================================================================
  // Segment processing: the rest of SegmentTcb (tcp/segment-arrives.ts)
  // ===========================================================================

  /** Tells the owner (host.event). */
  signal(ev: ConnectionEvent): void {
    this.host.event(this, ev);
  }

  /** A segment (or part of one) was dropped: counted by the stack. */
  drop(reason: DropReason): void {
    this.host.drop?.(this, reason);
  }

  /** "Send an acknowledgment": one ACK goes for the whole batch, after it (MUST-58/MUST-59), piggybacked on data when possible. */
  acknowledge(): void {
    this.ackNow = true;
  }

  /** "ISS should be selected" (RFC 6528, by the host), and the send variables set from it. */
  selectIss(): void {
    this.initSend(this.host.chooseIss(this));
  }

  /**
   * The segment passed the acceptability tests and its ACK is valid: the
   * peer is alive. RFC 1122 §4.2.3.6: "keep-alive packets MUST only be sent
   * when no data or acknowledgement packets have been received for the
   * connection within an interval". Any answer also resets the count of
   * unanswered zero-window probes (RFC 1122 §4.2.2.17).
   */
  heardFromPeer(): void {
    this.lastRecvAt = this.now;
    this.keepAliveProbes = 0;
    this.zeroWindowProbes = 0;
  }

  recordPeerSyn(seg: TcpRepr, ecnSetup: boolean, advertised: number): void { nego.recordPeerSyn(this, seg, ecnSetup, advertised); }
  initSendWindow(seg: TcpRepr, wl2: number): void { sender.initSendWindow(this, seg, wl2); }
  processAck(seg: TcpRepr): void { sender.processAck(this, seg); }
  transmitSyn(withAck: boolean, timed: boolean): void { out.transmitSyn(this, withAck, timed); }
  acceptWindow(): number { return rcv.acceptWindow(this); }
  holding(): boolean { return rcv.holding(this); }
  hold(seq: number, payload: Uint8Array, report: boolean): boolean { return rcv.hold(this, seq, payload, report); }
  takeHeld(): boolean { return rcv.takeHeld(this); }
  holdFin(seq: number): boolean { return rcv.holdFin(this, seq); }
  takeHeldFin(): boolean { return rcv.takeHeldFin(this); }
  deliver(payload: Uint8Array): void { rcv.deliver(this, payload); }
  ackData(immediate: boolean, len?: number): void { rcv.ackData(this, immediate, len); }
  receiveFin(): void { rcv.receiveFin(this); }
  receiveUrgent(up: number): void { rcv.receiveUrgent(this, up); }
  ecnReceived(cwr: boolean, text: boolean): void { rcv.ecnReceived(this, cwr, text); }

  // ===========================================================================
  // SACK scoreboard, RACK-TLP: tcp/sender.ts on tcp/recovery.ts
  // ===========================================================================

  onAckForRecovery(ack: number, blocks: Array<[number, number]> | undefined): void { sender.onAckForRecovery(this, ack, blocks); }
  rackDetectLoss(): void { sender.rackDetectLoss(this); }
  pipe(board: Scoreboard): number { return sender.pipe(this, board); }
  retransmitLost(board: Scoreboard): void { sender.retransmitLost(this, board); }


  armTlp(): void { sender.armTlp(this); }
  onTailLossProbe(): void { sender.onTailLossProbe(this); }
}
