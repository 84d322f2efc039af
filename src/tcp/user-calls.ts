/**
 * The user calls of RFC 9293 §3.10.1 – §3.10.6 (OPEN, SEND, RECEIVE,
 * CLOSE, ABORT, STATUS) and the socket options that change a live
 * connection, for one Connection. Connection's methods of the same names
 * call these; each takes `now` as an input (sans I/O).
 */
import type { TcpOption } from '../wire/types.ts';
import { RST } from '../wire/types.ts';
import type { Duration, Instant } from '../base/time.ts';
import { SynackError } from '../errors.ts';
import type { TcpConfig } from './config.ts';
import type { Connection, Endpoints, TcbStatus } from './connection.ts';
import { SendBuffer } from './send-buffer.ts';
import { seqAdd, seqDiff } from './seq.ts';

/** An unarmed timer (Connection.delAckAt). */
const NEVER = Infinity;

/**
 * OPEN, passive (§3.10.1): "If passive, enter the LISTEN state and return."
 * The stack uses this for each connection a listener spawns.
 */
export function listen(c: Connection, ep: Pick<Endpoints, 'localAddr' | 'localPort'>, now: Instant): void {
  c.now = now;
  if (c.state !== 'CLOSED') throw new SynackError('ERR_SYNACK_CONNECTION_EXISTS', 'error: connection already exists');
  c.localAddr = ep.localAddr;
  c.localPort = ep.localPort;
  c.passiveOpen = true;
  c.setState('LISTEN', 'passive OPEN');
}

/**
 * OPEN, active (§3.10.1): "An initial send sequence number (ISS) is
 * selected. A SYN segment of the form <SEQ=ISS><CTL=SYN> is sent. Set
 * SND.UNA to ISS, SND.NXT to ISS+1, enter SYN-SENT state, and return."
 * From LISTEN the connection changes from passive to active.
 */
export function open(c: Connection, ep: Endpoints, iss: number, now: Instant): void {
  c.now = now;
  if (c.state !== 'CLOSED' && c.state !== 'LISTEN') {
    throw new SynackError('ERR_SYNACK_CONNECTION_EXISTS', 'error: connection already exists');
  }
  c.localAddr = ep.localAddr;
  c.localPort = ep.localPort;
  c.remoteAddr = ep.remoteAddr;
  c.remotePort = ep.remotePort;
  c.passiveOpen = false;
  initSend(c, iss);
  c.setState('SYN-SENT', 'active OPEN');
  c.transmitSyn(false, true);
}

/**
 * Recreates the SYN-RECEIVED state a SYN cookie stood for (RFC 4987 §3.6):
 * nothing is sent; the stack then feeds the ACK that carried the cookie.
 * `synOptions` are the peer's SYN options as far as the cookie kept them.
 */
export function restoreFromCookie(c: Connection, ep: Endpoints, iss: number, irs: number, synOptions: TcpOption[], tsOffset: number | null, now: Instant): void {
  c.now = now;
  c.localAddr = ep.localAddr;
  c.localPort = ep.localPort;
  c.remoteAddr = ep.remoteAddr;
  c.remotePort = ep.remotePort;
  c.passiveOpen = true;
  c.irs = irs | 0;
  c.rcvNxt = seqAdd(irs, 1);
  c.rcvUp = c.rcvNxt;
  c.applySynOptions(synOptions);
  initSend(c, iss);
  if (tsOffset !== null) c.tsOffset = tsOffset;
  // What our stateless SYN,ACK advertised (never scaled).
  c.rcvAdv = seqAdd(c.rcvNxt, Math.min(65535, c.config.recvBufferBytes));
  c.lastAckSent = c.rcvNxt;
  c.state = 'LISTEN';
  c.setState('SYN-RECEIVED', 'SYN cookie');
}

/** Called by the LISTEN processing of a SYN and by open(): ISS and the send variables. */
export function initSend(c: Connection, iss: number): void {
  c.iss = iss | 0;
  c.sndUna = c.iss;
  c.sndNxt = seqAdd(c.iss, 1);
  c.sndMax = c.sndNxt;
  c.bufSeq = c.sndNxt;
  c.sndUp = c.bufSeq;
  c.recover = c.iss;
  c.openedAt = c.now;
  c.tsOffset = Math.imul(c.iss ^ 0x5bd1e995, 0x9e3779b1) | 0;
}

/**
 * SEND (§3.10.2). Returns the number of bytes accepted (the send buffer
 * is bounded; the rest must be offered again after a 'writable' event).
 * Takes ownership of `data` (no copy): the caller must not modify it —
 * unless `copy`, when the bytes taken are copied into pooled blocks
 * (SendBuffer.pushCopy) and the caller keeps its buffer.
 */
export function send(c: Connection, data: Uint8Array, now: Instant, urgent = false, copy = false): number {
  c.now = now;
  switch (c.state) {
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
  if (c.finQueued) throw new SynackError('ERR_SYNACK_CONNECTION_CLOSING', 'error: connection closing');
  const buf = (c.sendBuf ??= new SendBuffer());
  const room = c.config.sendBufferBytes - buf.length;
  if (room <= 0 || data.length === 0) return 0;
  const take = data.length <= room ? data : data.subarray(0, room);
  if (copy) buf.pushCopy(take);
  else buf.push(take);
  if (urgent) {
    // "If the URGENT flag is set, then SND.UP <- SND.NXT and set the urgent
    // pointer in the outgoing segments." (pointing past the urgent data)
    c.sndUp = c.dataEnd();
    c.sndUrgent = true;
  }
  // "SYN-SENT / SYN-RECEIVED: Queue the data for transmission after
  // entering ESTABLISHED state." output() honours the state.
  c.output();
  return take.length;
}

/**
 * RECEIVE (§3.10.3): up to `max` in-order bytes. Reading opens the
 * window; a window update goes out when it grew enough (§3.8.6.2.2).
 */
export function read(c: Connection, max: number, now: Instant): Uint8Array[] {
  c.now = now;
  const rb = c.recvBuf;
  if (!rb || rb.length === 0) return [];
  const before = c.rcvWndAvailable();
  const chunks = rb.readChunks(max);
  // Everything was read: an idle TCB keeps no receive buffer (the next
  // delivery makes one; tcp/receiver.ts).
  if (rb.length === 0) c.recvBuf = null;
  c.recharge();
  if (c.state !== 'CLOSED' && c.state !== 'TIME-WAIT' && !c.finReceived) {
    const after = c.rcvWndAvailable();
    const advertised = Math.max(0, seqDiff(c.rcvAdv, c.rcvNxt));
    // "When the TCP endpoint takes responsibility for delivering data to the
    // user, that fact must be communicated to the sender via an
    // acknowledgment." Receiver SWS avoidance (§3.8.6.2.2): the right edge
    // advances only when the window grows by min(half the buffer, one MSS)
    // beyond what was advertised. When the ACK carrying it goes out is the
    // delayed-ACK rule's — the two "combine to determine when an ACK
    // segment containing the current window will really be sent" — and,
    // close to how Linux's tcp_cleanup_rbuf decides it, at once when
    //   - the window the sender knows is half the buffer or less (the
    //     sender may be waiting on it; Linux asks in addition that the read
    //     doubles that window, which left a sender that had filled a 4 MiB
    //     window waiting for the delayed-ACK timer between doublings on
    //     host.net streams: 0.7 against 3.2 Gbit/s), or
    //   - an ACK was owed already (the delayed-ACK timer runs) and this read
    //     emptied the buffer (a request read whole: its answer may take a
    //     while, the sender need not wait for the timer),
    // otherwise within delayedAckUs (§3.8.6.3) unless an ACK of arriving
    // data carries the window first. A bulk receiver that reads as data
    // arrives (its window stays above half the buffer) then sends no
    // window update of its own per read: from a guest over the gateway's
    // TAP at MTU 65520, 0.53 ACKs per received 64 KiB segment instead of
    // 0.82 (docs/PERFORMANCE.md).
    const threshold = Math.min(c.config.recvBufferBytes >> 1, c.advMss);
    if (after - advertised >= threshold && before - advertised < threshold) {
      const senderMayWait = 2 * advertised <= c.config.recvBufferBytes;
      const owedAndDrained = c.delAckAt !== NEVER && c.recvBuf === null;
      if (senderMayWait || owedAndDrained || c.config.delayedAckUs === 0) {
        c.ackNow = true;
        c.output();
      } else if (c.delAckAt === NEVER) c.delAckAt = now + c.config.delayedAckUs;
    }
  }
  return chunks;
}

/**
 * CLOSE (§3.10.4): a half-close. Queued data is sent first, then a FIN.
 */
export function close(c: Connection, now: Instant): void {
  c.now = now;
  switch (c.state) {
    case 'CLOSED':
      throw new SynackError('ERR_SYNACK_INVALID_STATE', 'error: connection does not exist');
    case 'LISTEN':
      // "Any outstanding RECEIVEs are returned with "error: closing"
      // responses. Delete TCB, enter CLOSED state, and return."
      c.terminate(null, 'CLOSE in LISTEN');
      return;
    case 'SYN-SENT':
      // "Delete the TCB and return "error: closing" responses to any queued
      // SENDs, or RECEIVEs."
      c.terminate(null, 'CLOSE in SYN-SENT');
      return;
    case 'SYN-RECEIVED':
      // "If no SENDs have been issued and there is no pending data to send,
      // then form a FIN segment and send it, and enter FIN-WAIT-1 state;
      // otherwise, queue for processing after entering ESTABLISHED state."
      c.finQueued = true;
      if (c.sendQueued() === 0) {
        c.setState('FIN-WAIT-1', 'CLOSE');
        c.output();
      }
      return;
    case 'ESTABLISHED':
      // "Queue this until all preceding SENDs have been segmentized, then
      // form a FIN segment and send it. In any case, enter FIN-WAIT-1 state."
      c.finQueued = true;
      c.setState('FIN-WAIT-1', 'CLOSE');
      c.output();
      return;
    case 'CLOSE-WAIT':
      // "Queue this request until all preceding SENDs have been
      // segmentized; then send a FIN segment, enter LAST-ACK state."
      c.finQueued = true;
      c.setState('LAST-ACK', 'CLOSE');
      c.output();
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
export function abort(c: Connection, now: Instant): void {
  c.now = now;
  switch (c.state) {
    case 'CLOSED':
      return;
    case 'SYN-RECEIVED':
    case 'ESTABLISHED':
    case 'FIN-WAIT-1':
    case 'FIN-WAIT-2':
    case 'CLOSE-WAIT':
      c.sendRst(c.sndNxt, 0, RST);
      break;
    default:
      // LISTEN, SYN-SENT: no RST. CLOSING, LAST-ACK, TIME-WAIT: "Respond with "ok"".
      break;
  }
  c.terminate('aborted', 'ABORT');
}

/** STATUS (§3.10.6). */
export function status(c: Connection): TcbStatus {
  return {
    state: c.state,
    localAddr: c.localAddr,
    localPort: c.localPort,
    remoteAddr: c.remoteAddr,
    remotePort: c.remotePort,
    iss: c.iss >>> 0,
    irs: c.irs >>> 0,
    sndUna: c.sndUna >>> 0,
    sndNxt: c.sndNxt >>> 0,
    sndWnd: c.sndWnd,
    rcvNxt: c.rcvNxt >>> 0,
    rcvWnd: Math.max(0, seqDiff(c.rcvAdv, c.rcvNxt)),
    sndMss: c.sndMss,
    sndWndShift: c.sndWndShift,
    rcvWndShift: c.rcvWndShift,
    srttUs: Math.round(c.rtt.srtt),
    rttvarUs: Math.round(c.rtt.rttvar),
    rtoUs: c.rtt.currentRto(),
    cwnd: c.cwnd,
    ssthresh: c.ssthresh,
    bytesInFlight: seqDiff(c.sndNxt, c.sndUna),
    sendQueued: c.sendQueued(),
    recvQueued: c.readable(),
    outOfOrderBytes: c.ooo?.byteCount ?? 0,
    retransmits: c.retransmits,
  };
}

/**
 * PUSH of what earlier SENDs queued without it (§3.9.1.2: "the data may be
 * combined with data from subsequent SENDs"): whatever the windows allow
 * goes now — the end of a Stack.cork batch.
 */
export function push(c: Connection, now: Instant): void {
  c.now = now;
  c.output();
}

export function setNoDelay(c: Connection, on: boolean, now: Instant): void {
  c.now = now;
  (c as { config: TcpConfig }).config = { ...c.config, noDelay: on };
  if (on) c.output();
}

export function setKeepAlive(c: Connection, on: boolean, idleUs: Duration | undefined, now: Instant): void {
  c.now = now;
  const patch: Partial<TcpConfig> = { keepAlive: on };
  if (idleUs !== undefined && idleUs > 0) patch.keepAliveIdleUs = idleUs;
  (c as { config: TcpConfig }).config = { ...c.config, ...patch };
  c.armKeepAlive();
}

/** The application let go of the connection: it finishes in the background. */
export function orphan(c: Connection, now: Instant): void {
  c.now = now;
  c.orphaned = true;
  if (c.state === 'FIN-WAIT-2') c.finWait2At = now + c.config.mslUs / 2;
}
