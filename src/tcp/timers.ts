/**
 * The connection's timers, in one place: when each may run, what arms it,
 * and what it does on expiry. The deadlines live in the TCB (Connection),
 * most of them in lazily made boxes so an idle connection carries none;
 * the stack files the earliest (nextDeadline) in its one timer heap and
 * calls fireTimers when it is due. Everything here is sans-I/O: `c.now` is
 * the only clock.
 *
 * | timer | field | may run | armed when | on expiry |
 * |---|---|---|---|---|
 * | retransmission (RFC 6298, RFC 9293 §3.8.1) | `rtxAt` | SYN-SENT, SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, CLOSE-WAIT, CLOSING, LAST-ACK | a SYN, data or FIN is unacknowledged and the persist timer is not running (never both) | user timeout or connection-establishment timeout passed → CLOSED; peer's window zero with data outstanding → persist (no retry counted); retries > synRetries / dataRetries (R2) → CLOSED; else back off (5.5), go back N from SND.UNA |
 * | connection-establishment timeout | `rtxAt` (clamped) | SYN-SENT, SYN-RECEIVED | `connectTimeoutUs` > 0: the retransmission deadline never lies past `openedAt + connectTimeoutUs` | CLOSED (`timeout`) |
 * | persist: zero-window probe (RFC 1122 §4.2.2.17, RFC 9293 §3.8.6.1) | `persistAt` (box) | ESTABLISHED, CLOSE-WAIT, FIN-WAIT-1, CLOSING, LAST-ACK | SND.WND = 0, data queued, nothing in flight but a probe byte; or the retransmission timer expired at a zero window with data or our FIN outstanding | R2 unanswered probes, or probes unanswered for the user timeout, or the window closed for `persistTimeoutUs` → CLOSED; else one byte at SND.UNA (our FIN when no data is left), interval doubles up to `maxRtoUs` (120 s). Any acceptable ACK resets the unanswered count; the window reopening cancels it and resumes from SND.UNA |
 * | persist: SWS override (RFC 9293 §3.8.6.2.1 (4)) | `persistAt` (box) | same | SND.WND > 0 but SWS avoidance holds the queued data, nothing in flight | send min(D, U) now; 0.1–1.0 s after arming |
 * | RACK reordering (RFC 8985 §6) | `rackAt` (scoreboard) | SACK connections with data outstanding | a SACKed segment makes an older one a loss suspect | mark lost, maybe enter recovery, retransmit |
 * | tail loss probe (RFC 8985 §7) | `tlpAt` (scoreboard) | SACK connections, data outstanding, not in recovery, not persisting | after new data is sent or an ACK arrives | one new segment if the window allows, else the last one again |
 * | keepalive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4) | `keepAliveAt` (box) | ESTABLISHED, CLOSE-WAIT; `keepAlive` on | on ESTABLISHED and setKeepAlive; not moved per segment | heard from (an acceptable segment) within the idle time → sleep until idle time after it; data outstanding → sleep; keepAliveCount unanswered probes → CLOSED; else probe <SEQ=SND.NXT-1> |
 * | delayed ACK (RFC 5681 §4.2, RFC 9293 §3.8.6.3) | `delAckAt` | any synchronized state | in-order data arrived and no ACK owed at once | send the ACK |
 * | TIME-WAIT (RFC 9293 §3.10.8) | `closeAt` | TIME-WAIT | on entering TIME-WAIT (the other timers are turned off); a retransmitted FIN restarts it | CLOSED |
 * | orphaned FIN-WAIT-2 | `closeAt` | FIN-WAIT-2, orphaned | the application released the connection | CLOSED (`timeout`) |
 * | path MTU reprobe (RFC 4821 §7.3) | none of its own (state in tcp/mtu-probe.ts) | ESTABLISHED, CLOSE-WAIT after a black-hole fallback | the probe search converged | checked when data is sent: 10 min after converging, the search range reopens |
 * | user timeout (RFC 9293 §3.10.8) | none of its own | data states | checked when the retransmission timer expires (oldest unacknowledged data older than `userTimeoutUs`) and when the persist timer expires (probes unanswered that long) | CLOSED (`timeout`) |
 *
 * Order of expiry within one call (fireTimers): TIME-WAIT / FIN-WAIT-2
 * (end of life, nothing else runs), RACK, TLP (only if the RTO is not also
 * due), retransmission, persist, keepalive, delayed ACK, then output() once.
 */
import { ACK, FIN } from '../wire/types.ts';
import type { Instant } from '../base/time.ts';
import type { Connection } from './connection.ts';
import { EMPTY } from './send-buffer.ts';
import { seqAdd, seqDiff, seqGt, seqLt, seqMax } from './seq.ts';
import * as plpmtud from './mtu-probe.ts';

const NEVER = Infinity;

/** Fires every timer whose deadline is at or before `now` (a no-op when early). */
export function fireTimers(c: Connection, now: Instant): void {
  c.now = now;
  if (c.closeAt <= now && c.state !== 'TIME-WAIT' && c.state !== 'FIN-WAIT-2') c.closeAt = NEVER;
  if (c.timeWaitAt <= now) {
    // "TIME-WAIT TIMEOUT: If the time-wait timeout expires on a connection,
    // delete the TCB, enter the CLOSED state, and return."
    c.timeWaitAt = NEVER;
    c.terminate(null, 'Timeout=2MSL');
    return;
  }
  if (c.finWait2At <= now) {
    c.finWait2At = NEVER;
    c.terminate('timeout', 'FIN-WAIT-2 timeout (orphaned)');
    return;
  }
  if (c.rackAt <= now) {
    c.rackAt = NEVER;
    c.rackDetectLoss();
  }
  if (c.tlpAt <= now && c.rtxAt > now) {
    c.tlpAt = NEVER;
    c.onTailLossProbe();
  }
  if (c.rtxAt <= now) {
    c.rtxAt = NEVER;
    onRetransmissionTimeout(c);
    if (c.state === 'CLOSED') return;
  }
  if (c.persistAt <= now) {
    c.persistAt = NEVER;
    onPersistTimeout(c);
    if (c.state === 'CLOSED') return;
  }
  if (c.keepAliveAt <= now) {
    c.keepAliveAt = NEVER;
    onKeepAliveTimeout(c);
    if (c.state === 'CLOSED') return;
  }
  if (c.delAckAt <= now) {
    c.delAckAt = NEVER;
    c.ackNow = true;
  }
  c.output();
}

/** The earliest armed deadline, or Infinity. */
export function nextDeadline(c: Connection): Instant {
  return Math.min(c.rtxAt, c.persistAt, c.delAckAt, c.keepAliveAt, c.closeAt, c.rackAt, c.tlpAt);
}

/** All timers off (CLOSED, LISTEN, TIME-WAIT's "turn off the other timers"). */
export function clearTimers(c: Connection): void {
  c.rackAt = NEVER;
  c.tlpAt = NEVER;
  c.rtxAt = NEVER;
  c.persistAt = NEVER;
  c.delAckAt = NEVER;
  c.keepAliveAt = NEVER;
  c.closeAt = NEVER;
}

/** The retransmission timer (RFC 6298 (5.1)), clamped by the connection-establishment timeout. */
export function armRtx(c: Connection): void {
  c.rtxAt = c.now + c.rtt.currentRto();
  if (c.config.connectTimeoutUs > 0 && (c.state === 'SYN-SENT' || c.state === 'SYN-RECEIVED')) {
    c.rtxAt = Math.min(c.rtxAt, c.openedAt + c.config.connectTimeoutUs);
  }
}

/**
 * The persist timer. With a zero window: the next probe, the interval
 * doubling from the RTO (§3.8.6.1: "SHOULD increase exponentially the
 * interval between successive probes (SHLD-30)") up to maxRtoUs (120 s,
 * Linux's TCP_RTO_MAX), and never past the user timeout of unanswered
 * probes. With a window too small to use: the SWS override, "in the
 * range 0.1 - 1.0 seconds" (§3.8.6.2.1; "It may be convenient to combine
 * this timer with the timer used to probe zero windows").
 */
export function armPersist(c: Connection): void {
  // Persisting, nothing but a probe is in flight: no tail loss probe (it
  // would resend into the closed window and arm the retransmission timer).
  c.tlpAt = NEVER;
  const base = Math.max(c.rtt.currentRto(), c.config.minRtoUs);
  if (c.sndWnd > 0) {
    c.persistAt = c.now + Math.min(1_000_000, Math.max(100_000, base));
    return;
  }
  let d = Math.min(c.config.maxRtoUs, base * (1 << Math.min(c.persistBackoff, 30)));
  const ut = c.config.userTimeoutUs;
  if (ut > 0 && c.zeroWindowProbes > 0) d = Math.max(0, Math.min(d, c.persistState().probeSince + ut - c.now));
  c.persistAt = c.now + d;
}

/** The keepalive timer: the idle time after the peer was last heard from (RFC 9293 §3.8.4). */
export function armKeepAlive(c: Connection): void {
  if (c.config.keepAlive && (c.state === 'ESTABLISHED' || c.state === 'CLOSE-WAIT')) {
    c.keepAliveAt = c.lastRecvAt + c.config.keepAliveIdleUs;
    if (c.keepAliveAt < c.now) c.keepAliveAt = c.now + c.config.keepAliveIdleUs;
  } else {
    c.keepAliveAt = NEVER;
  }
}

/** RETRANSMISSION TIMEOUT (RFC 9293 §3.10.8, RFC 6298 §5). */
function onRetransmissionTimeout(c: Connection): void {
  if (c.sndWnd === 0 && seqGt(c.sndUna, c.iss) && seqGt(c.sndMax, c.sndUna) && c.state !== 'SYN-RECEIVED') {
    enterPersist(c);
    return;
  }
  // "USER TIMEOUT: For any state if the user timeout expires, flush all
  // queues, signal the user "error: connection aborted due to user
  // timeout" in general and for any outstanding calls, delete the TCB,
  // enter the CLOSED state, and return."
  if (c.config.userTimeoutUs > 0 && c.now - c.unackedSince >= c.config.userTimeoutUs) {
    c.terminate('timeout', 'user timeout');
    return;
  }
  const opening = c.state === 'SYN-SENT' || c.state === 'SYN-RECEIVED';
  if (opening && c.config.connectTimeoutUs > 0 && c.now - c.openedAt >= c.config.connectTimeoutUs) {
    c.terminate('timeout', 'connection-establishment timeout');
    return;
  }
  c.retries++;
  const limit = opening ? c.config.synRetries : c.config.dataRetries;
  if (c.retries > limit) {
    c.terminate('timeout', 'retransmission limit');
    return;
  }
  // (5.5) back off the timer; (5.6) start it again; Karn: stop timing.
  c.rtt.onTimeout();
  c.rttTiming = false;
  // "RETRANSMISSION TIMEOUT: ... send the segment at the front of the
  // retransmission queue again, reinitialize the retransmission timer".
  if (c.state === 'SYN-SENT') {
    c.retransmits++;
    c.host.event(c, { type: 'retransmit', kind: 'syn', seq: c.iss, len: 0 });
    c.sendSyn(false);
    armRtx(c);
    return;
  }
  if (!seqGt(c.sndUna, c.iss)) {
    // Our SYN,ACK is unacknowledged (SYN-RECEIVED, or FIN-WAIT-1 after a CLOSE there).
    c.retransmits++;
    c.host.event(c, { type: 'retransmit', kind: 'syn', seq: c.iss, len: 0 });
    c.sendSyn(true);
    armRtx(c);
    return;
  }
  // RFC 5681 §3.1 (4): ssthresh reduced for the loss; cwnd = 1 SMSS. On a
  // repeated timeout, or one during recovery, ssthresh is held (it was
  // already reduced for this loss episode; a collapsed cwnd says nothing
  // about the path).
  const flight = seqDiff(c.sndMax, c.sndUna);
  // RFC 4821 §7.6.2: "When only the probe is lost, it is treated as an
  // indication that the Path MTU is smaller than the probe size. In this
  // case alone, the loss SHOULD NOT be interpreted as congestion signal."
  // The timeout found the path MTU probe at SND.UNA: its ceiling falls,
  // and cwnd and ssthresh stay (tcp/mtu-probe.ts); the go-back-N below
  // resends it in segments of the current MSS.
  const probeLost = c.sndMss < c.advMss && plpmtud.headLost(c);
  if (!probeLost) {
    if (c.retries === 1 && !c.inRecovery) c.cc.onRto(flight, c.sndMss, c.now);
    else c.cwnd = c.sndMss;
  }
  c.inRecovery = false;
  c.recover = c.sndMax;
  // RFC 2018 §8: after a retransmission timeout, forget what was SACKed
  // (the receiver may have discarded it); go back N from SND.UNA.
  c.board?.clear();
  c.rackAt = NEVER;
  c.tlpAt = NEVER;
  c.tlpInFlight = false;
  c.dupAcks = 0;
  // Go back N: resend from SND.UNA. The host may lower the MSS on this
  // event (RFC 4821 §7.7 black-hole detection, stack/pmtu.ts): then the
  // search for a larger one starts (tcp/mtu-probe.ts).
  const mssBefore = c.sndMss;
  c.host.event(c, { type: 'retransmit', kind: 'rto', seq: c.sndUna, len: Math.min(flight, c.sndMss) });
  if (c.sndMss < mssBefore && c.state !== 'CLOSED') plpmtud.onBlackholeFallback(c, mssBefore);
  c.sndNxt = c.sndUna;
  c.output();
  if (c.rtxAt === NEVER && seqGt(c.sndMax, c.sndUna)) armRtx(c);
}

/**
 * The retransmission timer expired while the peer's window is zero. RFC
 * 9293 §3.8.6: the sender "SHOULD NOT time out the connection if data
 * beyond the right window edge is not acknowledged (SHLD-17). If the
 * window shrinks to zero, the TCP implementation MUST probe it in the
 * standard way (described below) (MUST-35)." The data beyond SND.UNA lay
 * outside the peer's window: it is no longer counted as in flight (go back
 * to SND.UNA, as after any RTO), the retransmission timer gives way to the
 * persist timer, and the first probe goes now. The retransmission limit
 * does not apply: probes have their own (onPersistTimeout). Not a
 * congestion signal (the peer answered), so cwnd is left alone.
 */
function enterPersist(c: Connection): void {
  c.rttTiming = false;
  c.board?.clear();
  c.rackAt = NEVER;
  c.tlpAt = NEVER;
  c.tlpInFlight = false;
  c.dupAcks = 0;
  c.inRecovery = false;
  c.recover = c.sndMax;
  c.sndNxt = c.sndUna;
  onPersistTimeout(c);
}

/**
 * The persist timer: a zero-window probe when the peer's window is zero,
 * the sender's SWS override when it is open but too small to use.
 */
function onPersistTimeout(c: Connection): void {
  if (c.sndWnd > 0) {
    // RFC 9293 §3.8.6.2.1 "Send data: ... (4) or if the override timeout
    // occurs." — send what the window allows now, however small.
    c.output(true);
    return;
  }
  // RFC 1122 §4.2.2.17 / RFC 9293 §3.8.6.1: "A TCP implementation MAY keep
  // its offered receive window closed indefinitely (MAY-8). As long as the
  // receiving TCP peer continues to send acknowledgments in response to
  // the probe segments, the sending TCP peer MUST allow the connection to
  // stay open (MUST-37)." So only unanswered probes end it, as Linux's
  // tcp_probe_timer: after R2 (dataRetries, tcp_retries2) probes without an
  // answer, or once probes have gone unanswered for the user timeout
  // (§3.10.8 USER TIMEOUT). Any acceptable ACK resets the count
  // (segment-arrives.ts, fifth step).
  const probes = c.zeroWindowProbes;
  if (probes >= Math.max(1, c.config.dataRetries)) {
    c.terminate('timeout', 'zero-window probes unanswered');
    return;
  }
  if (c.config.userTimeoutUs > 0 && probes > 0 && c.now - c.persistState().probeSince >= c.config.userTimeoutUs) {
    c.terminate('timeout', 'user timeout (zero-window probes unanswered)');
    return;
  }
  // Persist limit (a resource-management defence, which §3.8.6.1 allows:
  // "The behavior is subject to the implementation's resource management
  // concerns"): a peer that keeps its window closed for longer than
  // persistTimeoutUs while we have data for it is dropped, so that a
  // zero-window hold cannot pin our buffers forever.
  if (c.zeroWindowSince < 0) c.zeroWindowSince = c.now;
  if (c.config.persistTimeoutUs > 0 && c.now - c.zeroWindowSince >= c.config.persistTimeoutUs) {
    c.host.drop?.(c, 'tcp-persist-limit');
    c.terminate('timeout', 'persist limit (zero window)');
    return;
  }
  // "The sending TCP peer must regularly transmit at least one octet of new
  // data (if available), or retransmit to the receiving TCP peer even if
  // the send window is zero, in order to "probe" the window."
  // With no data left, our FIN is the probe (a zero-window receiver does not
  // take it — it occupies sequence space — but answers it).
  const avail = seqDiff(c.dataEnd(), c.sndUna);
  const finProbe = avail <= 0 && c.finQueued && !c.finAcked();
  if (avail <= 0 && !finProbe) return;
  c.persistBackoff++;
  c.host.event(c, { type: 'retransmit', kind: 'probe', seq: c.sndUna, len: finProbe ? 0 : 1 });
  if (finProbe) c.emit(c.sndUna, ACK | FIN, EMPTY);
  else c.emit(c.sndUna, ACK, c.sendBuf!.slice(seqDiff(c.sndUna, c.bufSeq), 1));
  // The probe byte (or FIN) counts as sent: an ACK that takes it is valid.
  if (seqLt(c.sndNxt, seqAdd(c.sndUna, 1))) c.sndNxt = seqAdd(c.sndUna, 1);
  c.sndMax = seqMax(c.sndMax, c.sndNxt);
  if (c.unackedSince === NEVER) c.unackedSince = c.now;
  const p = c.persistState();
  if (p.probes++ === 0) p.probeSince = c.now;
  armPersist(c);
}

/** Keepalive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4). */
function onKeepAliveTimeout(c: Connection): void {
  if (!c.config.keepAlive || (c.state !== 'ESTABLISHED' && c.state !== 'CLOSE-WAIT')) return;
  // RFC 1122 §4.2.3.6: "keep-alive packets MUST only be sent when no data
  // or acknowledgement packets have been received for the connection
  // within an interval". The timer is not moved on every segment (that
  // would touch the timer heap per packet): when it fires, it looks at
  // when the peer was last heard from (lastRecvAt, set for acceptable
  // segments only) and sleeps again for the rest of the interval.
  if (c.keepAliveProbes === 0 && c.now - c.lastRecvAt < c.config.keepAliveIdleUs) {
    c.keepAliveAt = c.lastRecvAt + c.config.keepAliveIdleUs;
    return;
  }
  // As Linux's tcp_keepalive_timer: no probes while data is outstanding or
  // waiting — the retransmission and persist timers watch the peer then.
  if (seqGt(c.sndMax, c.sndUna) || c.sendQueued() > 0) {
    c.keepAliveProbes = 0;
    c.keepAliveAt = c.now + c.config.keepAliveIdleUs;
    return;
  }
  if (c.keepAliveProbes >= c.config.keepAliveCount) {
    c.terminate('timeout', 'keepalive');
    return;
  }
  // RFC 9293 §3.8.4 / RFC 1122 4.2.3.6: a probe with SEG.SEQ = SND.NXT-1,
  // which elicits an ACK from a live peer.
  c.keepAliveProbes++;
  c.emit(seqAdd(c.sndNxt, -1), ACK, EMPTY);
  c.keepAliveAt = c.now + c.config.keepAliveIntervalUs;
}
