/**
 * What a connection sends (RFC 9293 §3.7, §3.8.6): the segmentizer
 * (`output`: windows, Nagle, sender SWS avoidance, FIN), ACKs, SYNs and
 * RSTs, the header of every segment (`emit`: window, urgent pointer,
 * timestamps, SACK and D-SACK blocks, ECN marks), and the receive window we
 * advertise (receiver SWS avoidance, the stack-wide memory budget).
 * Connection's methods of the same names call these.
 */
import type { TcpOption } from '../wire/types.ts';
import { ACK, CWR, ECE, FIN, PSH, SYN, URG } from '../wire/types.ts';
import type { Connection } from './connection.ts';
import { EMPTY } from './send-buffer.ts';
import { seqAdd, seqDiff, seqGe, seqGt, seqLt, seqMax } from './seq.ts';
import { segmentOptions, synOptions } from './options.ts';
import { Scoreboard } from './recovery.ts';
import { tcpOptionsLen } from '../wire/tcp-options.ts';
import * as plpmtud from './mtu-probe.ts';

const NEVER = Infinity;
const NO_OPTIONS: TcpOption[] = [];
/** Most views one new segment's payload is sent as (ConnectionHost.transmitParts); beyond, it is joined. */
const MAX_PARTS = 16;

/**
 * Sends whatever the state, windows and queues allow, then an ACK if one
 * is owed and nothing else carried it (MUST-58: one ACK per batch).
 */
export function output(c: Connection, force = false): void {
  const st = c.state;
  if (st === 'CLOSED' || st === 'LISTEN' || st === 'SYN-SENT') {
    if (c.ackNow) c.ackNow = false;
    return;
  }
  if (st === 'SYN-RECEIVED') {
    if (c.ackNow) sendAck(c);
    return;
  }
  if (st === 'TIME-WAIT' || st === 'FIN-WAIT-2') {
    if (c.ackNow) sendAck(c);
    return;
  }
  // ESTABLISHED, CLOSE-WAIT, FIN-WAIT-1, CLOSING, LAST-ACK: data and FIN.
  const dataEnd = c.dataEnd();
  const mss = c.sndMss - c.optionOverhead();
  if (c.sndNxt === c.sndUna && seqDiff(dataEnd, c.sndNxt) > 0 && c.lastDataSendAt > 0 && c.now - c.lastDataSendAt > c.rtt.currentRto()) {
    // RFC 5681 §4.1: after an idle period longer than the RTO, restart
    // from at most the initial window.
    c.cc.onIdleRestart(c.sndMss, c.config.initialCwndSegments, c.now);
  }
  // RFC 3042 limited transmit: the first two duplicate ACKs each allow one
  // new segment beyond cwnd (still within the peer's window).
  const limited = c.inRecovery ? 0 : Math.min(c.dupAcks, 2) * c.sndMss;
  const board = c.board;
  if (board && board.lostBytes > 0) c.retransmitLost(board);
  // Only a connection that met a black hole probes (RFC 4821): its MSS is
  // below the one it advertises.
  const probing = c.sndMss < c.advMss && plpmtud.mtuProbeState(c) !== undefined;
  // A link that segments TCP itself (TSO) takes new data as super-segments
  // (asked once per call, when there is a full segment of new data to send).
  let gsoMax = c.host.gsoMaxSegment !== undefined && c.host.transmitParts !== undefined && !probing ? -1 : 0;
  // RFC 9293 §3.9.1.2 SEND: "If the PUSH flag is not set, the data may be
  // combined with data from subsequent SENDs for transmission efficiency."
  // While the owner sends without PUSH (Stack.cork: a relay's batch of
  // reads), a short tail of new data waits for the batch's end, Nagle or
  // not — so a relay that reads 64 KiB at a time toward an MSS of 65,468
  // sends one segment per read, not a full one and a 68-octet one.
  const corked = c.host.corked === true;
  let heldByCork = false;
  for (;;) {
    const avail = seqDiff(dataEnd, c.sndNxt);
    if (avail > 0) {
      const inFlight = seqDiff(c.sndNxt, c.sndUna);
      // With a scoreboard, cwnd bounds the pipe (RFC 6675), the peer's
      // window bounds everything outstanding.
      const usable = board
        ? Math.min(c.sndWnd - inFlight, c.cwnd + limited - c.pipe(board))
        : Math.min(c.sndWnd, c.cwnd + limited) - inFlight;
      let len = Math.min(avail, mss);
      if (usable < len) len = Math.max(0, usable);
      if (len === 0) break;
      if (gsoMax !== 0 && len === mss && seqGe(c.sndNxt, c.sndMax)) {
        if (gsoMax < 0) gsoMax = c.host.gsoMaxSegment!(c);
      }
      if (gsoMax > 0 && len === mss && seqGe(c.sndNxt, c.sndMax)) {
        const slen = superSegmentLength(c, avail, usable, mss, gsoMax, corked);
        if (slen > 0) {
          const seq = c.sndNxt;
          const last = slen === avail;
          let flags = ACK;
          if (last) flags |= PSH;
          if (last && c.finQueued) flags |= FIN;
          const off = seqDiff(seq, c.bufSeq);
          const parts = c.sendBuf!.views(off, slen, MAX_PARTS);
          if (parts !== null) emit(c, seq, flags, parts[0]!, NO_OPTIONS, parts.length > 1 ? parts.slice(1) : null, mss);
          else emit(c, seq, flags, c.sendBuf!.slice(off, slen), NO_OPTIONS, null, mss);
          afterSend(c, seq, slen + (flags & FIN ? 1 : 0), mss);
          c.lastDataSendAt = c.now;
          force = false;
          continue;
        }
      }
      if (probing && len === mss) {
        // RFC 4821 §7.5: a probe larger than the current MSS, from queued
        // data, when its preconditions hold (tcp/mtu-probe.ts).
        const plen = plpmtud.probeLength(c, avail, usable, mss);
        if (plen > 0) {
          const seq = c.sndNxt;
          emit(c, seq, ACK, c.sendBuf!.slice(seqDiff(seq, c.bufSeq), plen));
          afterSend(c, seq, plen);
          c.lastDataSendAt = c.now;
          plpmtud.probeSent(c, seq, plen, mss);
          force = false;
          continue;
        }
      }
      if (len < mss) {
        const all = len === avail;
        // Sender SWS avoidance (§3.8.6.2.1): a short segment goes only
        // when it carries all queued data, or half the peer's largest
        // window — or when the override timeout forces it (persist timer).
        // Nagle (§3.7.4): "if there is unacknowledged data (i.e., SND.NXT >
        // SND.UNA), then the sending TCP endpoint buffers all user data
        // ... until the outstanding data has been acknowledged or until
        // the TCP endpoint can send a full-sized segment". A queued FIN
        // flushes (as Linux does on close).
        const pushed = !corked || force;
        const held = (!all && len < c.maxSndWnd >> 1 && !force) || (all && (!pushed || (!c.config.noDelay && inFlight > 0)) && !c.finQueued);
        if (held) {
          if (!pushed && all) {
            // Sent at uncork(), within this turn: no persist timer for it.
            c.host.holdCorked!(c);
            heldByCork = true;
          }
          // Both rules are about new data: §3.8.6.2.1 — "If D is the amount
          // of data queued in the sending TCP endpoint but not yet sent,
          // then the following set of rules is recommended." After a
          // go-back-N (an RTO, or a path MTU decrease resegmenting the
          // flight at a smaller MSS) the bytes up to SND.MAX were sent
          // already: when what is left of them fits, the short piece that
          // completes the resend goes at once (as BSD's tcp_output: "we
          // need to retransmit" — goto send), never held a round trip. A
          // short piece of new data still waits.
          const resend = seqDiff(c.sndMax, c.sndNxt);
          if (resend <= 0 || resend > len) break;
          len = resend;
        }
      }
      const seq = c.sndNxt;
      const last = len === avail;
      let flags = ACK;
      if (last) flags |= PSH;
      if (last && c.finQueued) flags |= FIN;
      const off = seqDiff(seq, c.bufSeq);
      const parts = c.host.transmitParts !== undefined ? c.sendBuf!.views(off, len, MAX_PARTS) : null;
      if (parts !== null && parts.length > 1) emit(c, seq, flags, parts[0]!, NO_OPTIONS, parts.slice(1));
      else emit(c, seq, flags, parts !== null ? parts[0]! : c.sendBuf!.slice(off, len));
      afterSend(c, seq, len + (flags & FIN ? 1 : 0));
      c.lastDataSendAt = c.now;
      force = false;
      continue;
    }
    if (avail === 0 && c.finQueued && !seqGt(c.sndNxt, dataEnd)) {
      // All data sent: the FIN alone (it needs no window).
      const seq = c.sndNxt;
      emit(c, seq, ACK | FIN, EMPTY);
      afterSend(c, seq, 1);
    }
    break;
  }
  if (c.ackNow) sendAck(c);
  // Whatever is outstanding is covered by the retransmission timer (RFC
  // 6298 5.1), even when a window update cleared the persist timer.
  if (c.rtxAt === NEVER && c.persistAt === NEVER && seqGt(c.sndMax, c.sndUna)) c.armRtx();
  // Data waiting and nothing in flight, held by a zero window (probe,
  // §3.8.6.1) or by SWS avoidance (override timeout, §3.8.6.2.1): persist.
  if (!heldByCork && c.rtxAt === NEVER && c.persistAt === NEVER && seqDiff(dataEnd, c.sndNxt) > 0 && c.sndNxt === c.sndUna) {
    c.armPersist();
  }
}

/**
 * How much new data to send as one super-segment, in octets: 0 for none
 * (then segments of the MSS go as before), else more than one MSS.
 *
 * RFC 9293 §3.7.1: "TCP endpoints MUST implement both sending and
 * receiving the MSS Option (MUST-14)" and "the maximum size of a segment
 * that a TCP endpoint really sends, the 'effective send MSS', MUST be the
 * smaller (MUST-16) of the send MSS (that reflects the available
 * reassembly buffer size at the remote host, the EMTU_R) and the largest
 * transmission size permitted by the IP layer (EMTU_S)". A super-segment
 * keeps that rule on the wire: the link (a TUN/TAP device with TSO) cuts
 * it into segments of `mss` payload octets — "Eff.snd.MSS =
 * min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize", where "TCPhdrsize
 * is the size of the fixed TCP header and any options" (§3.7.1): the
 * options every segment carries are already off — each with these
 * headers, so the peer receives the segments we would have sent one by
 * one.
 *
 * Only full segments, and only what the windows allow right now (cwnd and
 * the peer's window, §3.8.6; RFC 5681 §3.1), so that nothing here sends
 * more, or sooner, than the loop of MSS-sized segments would: n full
 * segments (n ≥ 2), plus, when what follows is the last of the queued
 * data and shorter than the MSS, that short tail — but only when the
 * loop would send it at once: with `noDelay` (and not corked), or a FIN queued. Otherwise
 * §3.7.4 (Nagle: "if there is unacknowledged data ... then the sending TCP
 * endpoint buffers all user data ... until the outstanding data has been
 * acknowledged or until the TCP endpoint can send a full-sized segment")
 * holds it, and the loop decides about it as before. Never while the
 * segment would need per-segment treatment the device does not give:
 * urgent data (the pointer moves per segment), a pending CWR (RFC 3168
 * §6.1.2: on one segment only), SACK or D-SACK blocks (trimmed per
 * segment, D-SACK only once: RFC 2883 §4).
 *
 * How Linux does it (described, not copied): tcp_write_xmit asks
 * tcp_tso_autosize for a size goal — about one millisecond of data at the
 * pacing rate, at least two segments, at most the device's gso_max_size —
 * then tcp_tso_should_defer may wait for more; one skb of several MSS goes
 * to the device with gso_size = the MSS. We do not pace, so the goal here
 * is what cwnd, the peer's window and the queue allow, capped by the
 * link's largest packet. Linux's cwnd and packets_out count segments; ours
 * count bytes, as before.
 */
function superSegmentLength(c: Connection, avail: number, usable: number, mss: number, gsoMax: number, corked: boolean): number {
  if (c.sndUrgent || c.ecnCwrPending || (c.sackEnabled && ((c.ooo && !c.ooo.isEmpty) || c.dsack))) return 0;
  // The payload a segment of gsoMax octets carries: less the TCP header with our options.
  const room = gsoMax - 20 - c.optionOverhead();
  const bound = Math.min(avail, usable, room);
  const n = Math.floor(bound / mss);
  if (n < 2) return 0;
  let len = n * mss;
  const rest = avail - len;
  if (rest > 0 && rest < mss && len + rest <= usable && len + rest <= room && ((c.config.noDelay && !corked) || c.finQueued)) len += rest;
  return len;
}

/**
 * Bookkeeping after new (or go-back-N re-)transmission of [seq, seq+len).
 * `piece` (> 0): it went as one super-segment that the link cut into
 * segments of `piece` payload octets; the scoreboard records those
 * segments one by one, as the peer receives, SACKs and loses them (Linux
 * instead keeps one skb and splits it, tcp_fragment, when a SACK or a loss
 * falls inside it). Every retransmission, whatever asks for it (RTO,
 * fast retransmit, RACK, TLP, persist), goes in segments of the MSS from
 * the send buffer (tcp/sender.ts resend, retransmitFirst).
 */
export function afterSend(c: Connection, seq: number, len: number, piece = 0): void {
  const end = seqAdd(seq, len);
  const isNew = seqGe(seq, c.sndMax);
  if (seqGt(end, c.sndNxt)) c.sndNxt = end;
  if (seqGt(end, c.sndMax)) c.sndMax = end;
  if (!isNew) c.retransmits++;
  // RFC 6298 (5.1): "Every time a packet containing data is sent (including
  // a retransmission), if the timer is not running, start it running".
  if (c.rtxAt === NEVER) c.armRtx();
  c.persistAt = NEVER;
  if (c.unackedSince === NEVER) c.unackedSince = c.now;
  if (c.inRecovery && c.board) c.board.prrOut += len;
  if (c.sackEnabled && c.config.rack) {
    const board = (c.board ??= new Scoreboard(c.rackMinRtt, c.rackReorderingSeen));
    if (piece > 0 && len > piece) {
      // One entry per segment the device makes; a FIN rides on the last.
      const fin = c.finQueued && seqDiff(end, c.dataEnd()) === 1 ? 1 : 0;
      const segs = Math.ceil((len - fin) / piece);
      let s = seq;
      for (let k = 1; k < segs; k++) {
        const e = seqAdd(s, piece);
        board.onSend(s, e, c.now, !isNew);
        s = e;
      }
      board.onSend(s, end, c.now, !isNew);
    } else board.onSend(seq, end, c.now, !isNew);
    c.armTlp();
  }
  // Time one segment at a time, never a retransmission (Karn).
  if (!c.rttTiming && isNew) {
    c.rttTiming = true;
    c.rttSeq = seq;
    c.rttStart = c.now;
  }
}

/** <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> — in SYN-RECEIVED our SYN is not yet acknowledged, so it is a SYN,ACK. */
export function sendAck(c: Connection): void {
  if (!seqGt(c.sndUna, c.iss) && !c.pureAck) {
    // Our SYN,ACK is unacknowledged (SYN-RECEIVED, or FIN-WAIT-1 after a CLOSE there).
    sendSyn(c, true);
    return;
  }
  // BSD's tcp_output: "For ACK only packets, we do not want the sequence
  // number of the retransmitted packet, we want the sequence number of the
  // next unsent octet" — after a go-back-N rollback SND.NXT may lie below
  // the peer's RCV.NXT, and an ACK carrying it would fail the peer's
  // acceptability test (§3.10.7.4 first), which ignores its ACK field.
  if (c.config.finWithAck && !c.pureAck && c.finSent() && !c.finAcked()) {
    // BSD: the ACK carries our unacknowledged FIN again.
    emit(c, c.dataEnd(), ACK | FIN, EMPTY);
    return;
  }
  emit(c, c.sndMax, ACK, EMPTY);
}

/** <SEQ=ISS><CTL=SYN> or <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, with MSS and window-scale options. */
export function sendSyn(c: Connection, withAck: boolean): void {
  const cfg = c.config;
  // RFC 7323 §2.2 / §3.2 and RFC 2018 §2: a SYN,ACK carries window scale,
  // timestamps and SACK-permitted only if the SYN did.
  const options = synOptions(cfg.optionLayout, {
    mss: c.advMss,
    wscale: cfg.windowScaling && (!withAck || c.peerOfferedScale) ? c.offeredShift : undefined,
    sackPermitted: cfg.sack && (!withAck || c.peerSackOk),
    ts: cfg.timestamps && (!withAck || c.peerOfferedTs) ? { tsval: c.tsNow(), tsecr: withAck ? c.tsRecent >>> 0 : 0 } : undefined,
  });
  // RFC 3168 §6.1.1: an ECN-setup SYN carries ECE and CWR; an ECN-setup
  // SYN,ACK carries ECE only.
  let flags = withAck ? SYN | ACK : SYN;
  if (!withAck && cfg.ecn) flags |= ECE | CWR;
  if (withAck && c.ecnEnabled) flags |= ECE;
  emit(c, c.iss, flags, EMPTY, options);
}

/** SACK blocks for an ACK, the block holding the latest out-of-order arrival first (RFC 2018 §4). */
export function sackBlocks(c: Connection): Array<[number, number]> | null {
  const ooo = c.ooo;
  if (!c.sackEnabled) return null;
  const out: Array<[number, number]> = [];
  // RFC 2883 §4: "the first SACK block ... MUST specify the contiguous
  // sequence space of the duplicate segment that triggered the ACK".
  if (c.dsack) out.push([c.dsack[0], c.dsack[1]]);
  if (!ooo || ooo.isEmpty) return out.length ? wireBlocks(c, out) : null;
  const ranges = ooo.ranges();
  for (const s of c.sackMru ?? []) {
    const r = ranges.find((x) => seqGe(s, x[0]) && seqLt(s, x[1]));
    if (r && !out.includes(r)) out.push(r);
  }
  for (const r of ranges) if (!out.includes(r)) out.push(r);
  return wireBlocks(c, out);
}

export function wireBlocks(c: Connection, blocks: Array<[number, number]>): Array<[number, number]> {
  for (const r of blocks) {
    r[0] >>>= 0;
    r[1] >>>= 0;
  }
  return blocks;
}

export function sendRst(c: Connection, seq: number, ack: number, flags: number): void {
  c.host.transmit(c, {
    srcPort: c.localPort,
    dstPort: c.remotePort,
    seq: seq >>> 0,
    ack: flags & ACK ? ack >>> 0 : 0,
    flags,
    window: 0,
    urgentPointer: 0,
    options: NO_OPTIONS,
    payload: EMPTY,
  });
}

/**
 * Builds and transmits one segment; every segment we send acknowledges
 * RCV.NXT except a bare SYN. `more`: further payload after `payload`
 * (views, for ConnectionHost.transmitParts). `gsoSize` (> 0): a
 * super-segment, cut by the link into segments of that many payload
 * octets (ConnectionHost.gsoMaxSegment).
 */
export function emit(c: Connection, seq: number, flags: number, payload: Uint8Array, options: TcpOption[] = NO_OPTIONS, more: readonly Uint8Array[] | null = null, gsoSize = 0): void {
  let payloadLen = payload.length;
  if (more !== null) for (const p of more) payloadLen += p.length;
  let window: number;
  if (flags & SYN) {
    // RFC 7323 §2.2: "The window field in a segment where the SYN bit is set
    // (i.e., a <SYN> or <SYN,ACK>) MUST NOT be scaled."
    window = Math.min(65535, c.config.recvBufferBytes);
    c.rcvAdv = seqAdd(c.rcvNxt, window);
    recharge(c);
  } else {
    window = advertiseWindow(c);
  }
  let urgentPointer = 0;
  if (c.sndUrgent && flags & ACK && !(flags & SYN)) {
    const up = seqDiff(c.sndUp, seq);
    if (up > 0) {
      flags |= URG;
      urgentPointer = Math.min(up, 65535);
    }
  }
  if (!(flags & SYN) && options === NO_OPTIONS && (c.tsEnabled || (c.sackEnabled && ((c.ooo && !c.ooo.isEmpty) || c.dsack)))) {
    const ts = c.tsEnabled ? { tsval: c.tsNow(), tsecr: c.tsRecent >>> 0 } : null;
    let sack = flags & ACK ? sackBlocks(c) : null;
    if (sack) {
      // Never let SACK blocks push a segment past our MTU.
      while (sack.length > 0 && payloadLen + tcpOptionsLen(segmentOptions(ts, sack)) > c.advMss) sack = sack.slice(0, -1);
    }
    options = segmentOptions(ts, sack);
  }
  if (flags & ACK) {
    c.ackNow = false;
    c.delAckAt = NEVER;
    c.segsSinceAck = 0;
    c.lastAckSent = c.rcvNxt;
    c.pureAck = false;
    c.dsack = null;
  }
  let ipEcn = 0;
  if (c.ecnEnabled && !(flags & SYN)) {
    // RFC 3168 §6.1.3: ECE on every ACK until the peer's CWR.
    if (flags & ACK && c.ecnEcho) flags |= ECE;
    // §6.1.5: only new data is ECT; retransmissions and pure ACKs are not.
    if (payloadLen > 0 && seqGe(seq, c.sndMax)) {
      ipEcn = 2;
      if (c.ecnCwrPending) {
        flags |= CWR;
        c.ecnCwrPending = false;
      }
    }
  }
  const seg = {
    srcPort: c.localPort,
    dstPort: c.remotePort,
    seq: seq >>> 0,
    ack: flags & ACK ? c.rcvNxt >>> 0 : 0,
    flags,
    window,
    urgentPointer,
    options,
    payload,
  };
  if (gsoSize > 0) c.host.transmitParts!(c, seg, more, ipEcn, gsoSize);
  else if (more !== null) c.host.transmitParts!(c, seg, more, ipEcn);
  else c.host.transmit(c, seg, ipEcn);
}

/** Re-computes this connection's charge to the stack-wide receive budget. */
export function recharge(c: Connection): void {
  const b = c.host.budget;
  if (!b || c.state === 'CLOSED') return;
  const charge = (c.recvBuf?.length ?? 0) + Math.max(0, seqDiff(c.rcvAdv, c.rcvNxt));
  b.used += charge - c.charged;
  c.charged = charge;
}

/** The connection is gone: give its charge back. */
export function releaseBudget(c: Connection): void {
  const b = c.host.budget;
  if (b) b.used -= c.charged;
  c.charged = 0;
}

/**
 * Receive buffer space not yet taken by unread bytes — and by held
 * out-of-order bytes, except under BSD accounting, where the reassembly
 * queue is outside the socket buffer (its own bound applies).
 */
export function rcvWndAvailable(c: Connection): number {
  const ooo = c.config.receiverSws === 'bsd' ? 0 : (c.ooo?.byteCount ?? 0);
  const used = (c.recvBuf?.length ?? 0) + ooo;
  return Math.max(0, c.config.recvBufferBytes - used);
}

/**
 * The window field to send now, after receiver SWS avoidance
 * (§3.8.6.2.2) and without shrinking the right edge (§3.10.7.4: "The total
 * of RCV.NXT and RCV.WND should not be reduced").
 */
export function advertiseWindow(c: Connection): number {
  // 2^shift (shift ≤ 14) as an integer: `2 ** shift` is a call of the
  // library's pow() in V8's optimised code, on every segment.
  const unit = 1 << c.rcvWndShift;
  const current = Math.max(0, seqDiff(c.rcvAdv, c.rcvNxt));
  let avail = rcvWndAvailable(c);
  const maxWnd = 65535 * unit;
  if (avail > maxWnd) avail = maxWnd;
  let wnd = current;
  if (c.config.receiverSws === 'bsd') {
    // FreeBSD tcp_output: all free space, but nothing while it is small.
    const small = avail < c.config.recvBufferBytes / 4 && avail < c.advMss;
    wnd = Math.max(current, small ? 0 : avail);
  } else {
    const threshold = Math.min(c.config.recvBufferBytes >> 1, c.advMss);
    if (avail > current && (avail - current >= threshold || avail === Math.min(c.config.recvBufferBytes, maxWnd))) wnd = avail;
  }
  // Round down to the scale granularity. RFC 7323 §2.4: with a shift the
  // right edge may appear to move left by less than 2^shift through
  // truncation; we keep honouring the edge we promised (RCV.ADV), but never
  // round up — rounding up on every ACK would let the edge creep past the
  // buffer, 2^shift − 1 bytes at a time.
  const budget = c.host.budget;
  if (budget) {
    // Widen only by what the stack-wide budget has left. Under that
    // pressure a window grows to at most 4 MSS (as Linux clamps
    // rcv_ssthresh to 4 × advmss under tcp_memory_pressure), so that one
    // connection cannot take all that is left and starve the others: a
    // promise, once made, is never taken back (the window never shrinks).
    const room = current + Math.max(0, budget.limit - budget.used);
    if (wnd > room) wnd = Math.max(current, Math.min(room, 4 * c.advMss));
  }
  let field = Math.floor(wnd / unit);
  if (field > 65535) field = 65535;
  const edge = seqAdd(c.rcvNxt, field * unit);
  c.rcvAdv = seqMax(edge, c.rcvAdv);
  recharge(c);
  return field;
}

/**
 * Sends our SYN (<SEQ=ISS><CTL=SYN>, or <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>)
 * and starts the retransmission timer; `timed`: it is the first
 * transmission, so its ACK times the RTT (RFC 6298 §3; Karn: never a
 * retransmission).
 */
export function transmitSyn(c: Connection, withAck: boolean, timed: boolean): void {
  sendSyn(c, withAck);
  c.rttTiming = timed;
  if (timed) {
    c.rttSeq = c.iss;
    c.rttStart = c.now;
  }
  c.armRtx();
}
