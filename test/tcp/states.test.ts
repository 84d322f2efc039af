/**
 * One test per arrow of RFC 9293 Figure 5 and per rule of §3.10, named
 * after the state, the event and the outcome.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACK, FIN, RST, SYN, LOCAL, REMOTE, LOCAL_ISS, REMOTE_ISS, Fixture, expectSeg, text, str,
  inListen, inSynSent, inSynReceived, inEstablished, inFinWait1, inFinWait2, inCloseWait, inLastAck, inClosing, inTimeWait, seqAdd } from './harness.ts';
import { FIGURE_5 } from '../../src/tcp/state.ts';
import { isSynackError } from '../../src/errors.ts';

const L1 = seqAdd(LOCAL_ISS, 1);
const R1 = seqAdd(REMOTE_ISS, 1);

describe('CLOSED', () => {
  test('CLOSED: passive OPEN enters LISTEN and sends nothing (§3.10.1)', () => {
    const f = new Fixture();
    const { sent } = f.call((c, now) => c.listen(LOCAL, now));
    assert.equal(f.state, 'LISTEN');
    assert.equal(sent.length, 0);
  });
  test('CLOSED: active OPEN sends <SEQ=ISS><CTL=SYN> with MSS and enters SYN-SENT (§3.10.1)', () => {
    const f = new Fixture();
    const { sent } = f.call((c, now) => c.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, now));
    assert.equal(f.state, 'SYN-SENT');
    expectSeg(sent[0], { flags: SYN, seq: LOCAL_ISS, exact: true });
    assert.deepEqual(sent[0]!.options[0], { kind: 'mss', value: 1460 });
    assert.equal(f.conn.sndUna >>> 0, LOCAL_ISS);
    assert.equal(f.conn.sndNxt >>> 0, L1);
  });
  test('CLOSED: SEND, RECEIVE-less CLOSE return "connection does not exist" (§3.10.2, §3.10.4)', () => {
    const f = new Fixture();
    assert.throws(() => f.conn.send(text('x'), 0), (e) => isSynackError(e) && /does not exist/.test(e.message));
    assert.throws(() => f.conn.close(0), (e) => isSynackError(e) && /does not exist/.test(e.message));
  });
});

describe('LISTEN', () => {
  test('LISTEN: SYN → SYN-RECEIVED with <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> (§3.10.7.2)', () => {
    const f = inListen();
    const sent = f.peer({ flags: SYN, seq: REMOTE_ISS, ack: 0 });
    assert.equal(f.state, 'SYN-RECEIVED');
    expectSeg(sent[0], { flags: SYN | ACK, seq: LOCAL_ISS, ack: R1 });
    assert.equal(f.conn.irs >>> 0, REMOTE_ISS);
  });
  test('LISTEN: RST is ignored (§3.10.7.2 first)', () => {
    const f = inListen();
    const sent = f.peer({ flags: RST, seq: 5, ack: 0 });
    assert.equal(f.state, 'LISTEN');
    assert.equal(sent.length, 0);
  });
  test('LISTEN: ACK elicits <SEQ=SEG.ACK><CTL=RST> (§3.10.7.2 second)', () => {
    const f = inListen();
    const sent = f.peer({ flags: ACK, seq: 7, ack: 12345 });
    assert.equal(f.state, 'LISTEN');
    expectSeg(sent[0], { flags: RST, seq: 12345, exact: true });
  });
  test('LISTEN: a segment with neither SYN, ACK nor RST is dropped (§3.10.7.2 fourth)', () => {
    const f = inListen();
    const sent = f.peer({ flags: FIN, seq: 7, ack: 0 });
    assert.equal(sent.length, 0);
    assert.equal(f.state, 'LISTEN');
  });
  test('LISTEN: CLOSE deletes the TCB and enters CLOSED (§3.10.4)', () => {
    const f = inListen();
    f.conn.close(0);
    assert.equal(f.state, 'CLOSED');
  });
  test('LISTEN: active OPEN (SEND with remote socket) changes to SYN-SENT and sends SYN (§3.10.1)', () => {
    const f = inListen();
    const { sent } = f.call((c, now) => c.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, now));
    assert.equal(f.state, 'SYN-SENT');
    expectSeg(sent[0], { flags: SYN, seq: LOCAL_ISS });
  });
  test('LISTEN: data on a SYN is queued and delivered once ESTABLISHED (§3.10.7.2 third)', () => {
    const f = inListen();
    f.peer({ flags: SYN, seq: REMOTE_ISS, ack: 0, payload: 'early' });
    assert.equal(f.conn.readable(), 0);
    f.peer({ flags: ACK, seq: R1 + 5, ack: L1 });
    assert.equal(f.state, 'ESTABLISHED');
    assert.equal(str(f.conn.read(100, 0)), 'early');
  });
});

describe('SYN-SENT', () => {
  test('SYN-SENT: SYN,ACK → ESTABLISHED and <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (§3.10.7.3 fourth)', () => {
    const f = inSynSent();
    const sent = f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1 });
    assert.equal(f.state, 'ESTABLISHED');
    expectSeg(sent[0], { flags: ACK, seq: L1, ack: R1 });
    assert.ok(f.host.events.some((e) => e.type === 'connected'));
  });
  test('SYN-SENT: SYN (simultaneous open) → SYN-RECEIVED with <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> (§3.10.7.3)', () => {
    const f = inSynSent();
    const sent = f.peer({ flags: SYN, seq: REMOTE_ISS, ack: 0 });
    assert.equal(f.state, 'SYN-RECEIVED');
    expectSeg(sent[0], { flags: SYN | ACK, seq: LOCAL_ISS, ack: R1 });
    // ...and the peer's SYN,ACK <SEQ=IRS><ACK=ISS+1> completes it (Figure 8 line 6).
    const ack = f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1 });
    assert.equal(f.state, 'ESTABLISHED');
    assert.equal(ack.filter((s) => s.flags & SYN).length, 0, 'no SYN,ACK ping-pong');
  });
  test('SYN-RECEIVED (active): a plain ACK of our SYN also completes a simultaneous open (§3.10.7.4 fifth)', () => {
    const f = inSynSent();
    f.peer({ flags: SYN, seq: REMOTE_ISS, ack: 0 });
    f.peer({ flags: ACK, seq: R1, ack: L1 });
    assert.equal(f.state, 'ESTABLISHED');
  });
  test('SYN-SENT: an ACK not acknowledging our SYN elicits <SEQ=SEG.ACK><CTL=RST> (§3.10.7.3 first)', () => {
    const f = inSynSent();
    const sent = f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: seqAdd(LOCAL_ISS, 5) });
    assert.equal(f.state, 'SYN-SENT');
    expectSeg(sent[0], { flags: RST, seq: seqAdd(LOCAL_ISS, 5), exact: true });
  });
  test('SYN-SENT: an ACK =< ISS elicits a RST (§3.10.7.3 first)', () => {
    const f = inSynSent();
    const sent = f.peer({ flags: ACK, seq: REMOTE_ISS, ack: LOCAL_ISS });
    expectSeg(sent[0], { flags: RST, seq: LOCAL_ISS, exact: true });
  });
  test('SYN-SENT: RST with an acceptable ACK signals "connection refused" and enters CLOSED (§3.10.7.3 second)', () => {
    const f = inSynSent();
    f.peer({ flags: RST | ACK, seq: 0, ack: L1 });
    assert.equal(f.state, 'CLOSED');
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'refused' });
  });
  test('SYN-SENT: RST without ACK is dropped (§3.10.7.3 second)', () => {
    const f = inSynSent();
    f.peer({ flags: RST, seq: 0, ack: 0 });
    assert.equal(f.state, 'SYN-SENT');
  });
  test('SYN-SENT: a bad ACK with RST is dropped without a reply (§3.10.7.3 first)', () => {
    const f = inSynSent();
    const sent = f.peer({ flags: RST | ACK, seq: 0, ack: seqAdd(LOCAL_ISS, 9) });
    assert.equal(sent.length, 0);
    assert.equal(f.state, 'SYN-SENT');
  });
  test('SYN-SENT: a segment with neither SYN nor RST is dropped (§3.10.7.3 fifth)', () => {
    const f = inSynSent();
    const sent = f.peer({ flags: ACK, seq: REMOTE_ISS, ack: L1 });
    assert.equal(sent.length, 0);
    assert.equal(f.state, 'SYN-SENT');
  });
  test('SYN-SENT: CLOSE deletes the TCB (§3.10.4)', () => {
    const f = inSynSent();
    f.conn.close(0);
    assert.equal(f.state, 'CLOSED');
  });
  test('SYN-SENT: SEND queues data until ESTABLISHED (§3.10.2)', () => {
    const f = inSynSent();
    const { sent } = f.call((c, now) => c.send(text('queued'), now));
    assert.equal(sent.length, 0);
    const out = f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1 });
    expectSeg(out[0], { flags: ACK, seq: L1, ack: R1, len: 6 });
  });
  test('SYN-SENT: SYN,ACK carrying data and FIN → ESTABLISHED, then CLOSE-WAIT with the data delivered (§3.10.7.3)', () => {
    const f = inSynSent();
    f.peer({ flags: SYN | ACK | FIN, seq: REMOTE_ISS, ack: L1, payload: 'hi' });
    assert.equal(f.state, 'CLOSE-WAIT');
    assert.equal(str(f.conn.read(10, 0)), 'hi');
    assert.equal(f.conn.rcvNxt >>> 0, seqAdd(REMOTE_ISS, 4));
  });
});

describe('SYN-RECEIVED', () => {
  test('SYN-RECEIVED: ACK of SYN → ESTABLISHED (§3.10.7.4 fifth)', () => {
    const f = inSynReceived();
    f.peer({ flags: ACK, seq: R1, ack: L1 });
    assert.equal(f.state, 'ESTABLISHED');
  });
  test('SYN-RECEIVED: RST returns to LISTEN when opened passively (§3.10.7.4 second)', () => {
    const f = inSynReceived();
    f.peer({ flags: RST, seq: R1, ack: 0 });
    assert.equal(f.state, 'LISTEN');
    assert.ok(!f.host.events.some((e) => e.type === 'closed'), 'the user need not be informed');
    assert.equal(f.conn.nextDeadline(), Infinity, 'the retransmission queue is flushed');
  });
  test('SYN-RECEIVED: RST signals "connection refused" when opened actively (§3.10.7.4 second)', () => {
    const f = inSynSent();
    f.peer({ flags: SYN, seq: REMOTE_ISS, ack: 0 });
    f.peer({ flags: RST, seq: R1, ack: 0 });
    assert.equal(f.state, 'CLOSED');
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'refused' });
  });
  test('SYN-RECEIVED: an unacceptable ACK elicits <SEQ=SEG.ACK><CTL=RST> (§3.10.7.4 fifth)', () => {
    const f = inSynReceived();
    const sent = f.peer({ flags: ACK, seq: R1, ack: seqAdd(LOCAL_ISS, 50) });
    assert.equal(f.state, 'SYN-RECEIVED');
    expectSeg(sent[0], { flags: RST, seq: seqAdd(LOCAL_ISS, 50), exact: true });
  });
  test('SYN-RECEIVED: a SYN in the window returns a passive connection to LISTEN (§3.10.7.4 fourth)', () => {
    const f = inSynReceived();
    f.peer({ flags: SYN, seq: seqAdd(R1, 10), ack: 0 });
    assert.equal(f.state, 'LISTEN');
  });
  test('SYN-RECEIVED: a retransmitted SYN is answered with the SYN,ACK again (§3.10.7.4 first)', () => {
    const f = inSynReceived();
    const sent = f.peer({ flags: SYN, seq: REMOTE_ISS, ack: 0 });
    expectSeg(sent[0], { flags: SYN | ACK, seq: LOCAL_ISS, ack: R1 });
    assert.equal(f.state, 'SYN-RECEIVED');
  });
  test('SYN-RECEIVED: CLOSE sends FIN and enters FIN-WAIT-1 (§3.10.4)', () => {
    const f = inSynReceived();
    const { sent } = f.call((c, now) => c.close(now));
    assert.equal(f.state, 'FIN-WAIT-1');
    expectSeg(sent[0], { flags: FIN | ACK, seq: L1 });
    f.peer({ flags: ACK, seq: R1, ack: seqAdd(L1, 1) });
    assert.equal(f.state, 'FIN-WAIT-2');
    assert.ok(f.host.events.some((e) => e.type === 'connected'));
  });
  test('SYN-RECEIVED: the SYN,ACK is retransmitted on timeout (§3.10.8)', () => {
    const f = inSynReceived();
    const sent = f.tick(f.conn.nextDeadline());
    expectSeg(sent[0], { flags: SYN | ACK, seq: LOCAL_ISS, ack: R1 });
  });
  test('SYN-RECEIVED: ABORT sends <SEQ=SND.NXT><CTL=RST> (§3.10.5)', () => {
    const f = inSynReceived();
    const { sent } = f.call((c, now) => c.abort(now));
    expectSeg(sent[0], { flags: RST, seq: L1, exact: true });
    assert.equal(f.state, 'CLOSED');
  });
});

describe('ESTABLISHED', () => {
  test('ESTABLISHED: CLOSE sends FIN and enters FIN-WAIT-1 (§3.10.4)', () => {
    const f = inEstablished();
    const { sent } = f.call((c, now) => c.close(now));
    assert.equal(f.state, 'FIN-WAIT-1');
    expectSeg(sent[0], { flags: FIN | ACK, seq: L1, ack: R1 });
  });
  test('ESTABLISHED: FIN → CLOSE-WAIT and the FIN is acknowledged (§3.10.7.4 eighth)', () => {
    const f = inEstablished();
    const sent = f.peer({ flags: FIN | ACK });
    assert.equal(f.state, 'CLOSE-WAIT');
    expectSeg(sent[0], { flags: ACK, ack: seqAdd(R1, 1) });
    assert.ok(f.host.events.some((e) => e.type === 'end'));
  });
  test('ESTABLISHED: in-order text is delivered and acknowledged (§3.10.7.4 seventh)', () => {
    const f = inEstablished({ delayedAckUs: 0 });
    const sent = f.peer({ flags: ACK | 0x08, payload: 'hello' });
    assert.equal(str(f.conn.read(100, 0)), 'hello');
    expectSeg(sent[0], { flags: ACK, ack: seqAdd(R1, 5) });
  });
  test('ESTABLISHED: RST at RCV.NXT resets the connection (§3.10.7.4 second)', () => {
    const f = inEstablished();
    f.peer({ flags: RST, seq: R1 });
    assert.equal(f.state, 'CLOSED');
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'reset' });
  });
  test('ESTABLISHED: RST in the window but not at RCV.NXT elicits a challenge ACK (RFC 5961 §3.2)', () => {
    const f = inEstablished();
    const sent = f.peer({ flags: RST, seq: seqAdd(R1, 100) });
    assert.equal(f.state, 'ESTABLISHED');
    expectSeg(sent[0], { flags: ACK, seq: L1, ack: R1 });
  });
  test('ESTABLISHED: RST outside the window is silently dropped (RFC 5961 §3.2)', () => {
    const f = inEstablished();
    const sent = f.peer({ flags: RST, seq: seqAdd(R1, 1_000_000) });
    assert.equal(f.state, 'ESTABLISHED');
    assert.equal(sent.length, 0);
  });
  test('ESTABLISHED: SYN elicits a challenge ACK and is dropped (RFC 5961 §4.2, §3.10.7.4 fourth)', () => {
    const f = inEstablished();
    const sent = f.peer({ flags: SYN, seq: R1 });
    assert.equal(f.state, 'ESTABLISHED');
    expectSeg(sent[0], { flags: ACK, seq: L1, ack: R1 });
  });
  test('ESTABLISHED: SYN in the window resets when RFC 5961 is off (RFC 793 behaviour)', () => {
    const f = inEstablished({ rfc5961Syn: false });
    const sent = f.peer({ flags: SYN, seq: R1 });
    expectSeg(sent[0], { flags: RST | ACK, seq: L1, ack: R1, exact: true });
    assert.equal(f.state, 'CLOSED');
  });
  test('ESTABLISHED: an unacceptable segment elicits <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (§3.10.7.4 first)', () => {
    const f = inEstablished();
    const sent = f.peer({ flags: ACK, seq: seqAdd(R1, -1000), payload: 'old' });
    expectSeg(sent[0], { flags: ACK, seq: L1, ack: R1 });
    assert.equal(f.conn.readable(), 0);
  });
  test('ESTABLISHED: an ACK of data not yet sent is answered with an ACK and dropped (§3.10.7.4 fifth)', () => {
    const f = inEstablished();
    const sent = f.peer({ flags: ACK, ack: seqAdd(L1, 500), payload: 'x' });
    expectSeg(sent[0], { flags: ACK, seq: L1, ack: R1 });
    assert.equal(f.conn.readable(), 0, 'the text is not processed');
  });
  test('ESTABLISHED: an ACK older than SND.UNA - MAX.SND.WND is dropped with an ACK (RFC 5961 §5.2)', () => {
    const f = inEstablished();
    const sent = f.peer({ flags: ACK, ack: seqAdd(L1, -200000), payload: 'x' });
    expectSeg(sent[0], { flags: ACK, seq: L1, ack: R1 });
    assert.equal(f.conn.readable(), 0);
  });
  test('RFC 5961 §7: challenge ACKs are limited per connection — a burst of in-window RSTs draws one, the next comes 500 ms later', () => {
    const f = inEstablished();
    let acks = 0;
    for (let i = 0; i < 10; i++) acks += f.peer({ flags: RST, seq: seqAdd(R1, 100 + i), at: 1_000_000 + i * 1000 }).length;
    assert.equal(acks, 1, 'one challenge ACK for the burst of ten');
    assert.equal(f.host.drops.filter((d) => d === 'tcp-challenge-ack-limited').length, 9, 'the other nine are counted');
    const later = f.peer({ flags: RST, seq: seqAdd(R1, 200), at: 1_600_000 });
    expectSeg(later[0], { flags: ACK, seq: L1, ack: R1 }, 'a challenge ACK again after 500 ms');
    assert.equal(f.state, 'ESTABLISHED');
  });
  test('RFC 5961 §4, §7: the challenge ACK to an out-of-window SYN goes through the same per-connection limit', () => {
    const f = inEstablished();
    let acks = 0;
    for (let i = 0; i < 10; i++) acks += f.peer({ flags: SYN, seq: seqAdd(R1, 5_000_000 + i), ack: 0, at: 1_000_000 + i }).length;
    assert.equal(acks, 1, 'one challenge ACK for ten out-of-window SYNs');
    assert.equal(f.host.drops.filter((d) => d === 'tcp-challenge-ack-limited').length, 9);
    assert.equal(f.state, 'ESTABLISHED');
  });
  test('RFC 5961 §5, §7: replies to ACKs of data never sent are limited per connection, also for an old duplicate (§3.10.7.4 fifth)', () => {
    const f = inEstablished();
    let acks = 0;
    // An old duplicate (wholly before RCV.NXT) still has its ACK field processed; its ACK is beyond SND.NXT.
    for (let i = 0; i < 5; i++) acks += f.peer({ flags: ACK, seq: seqAdd(R1, -100), ack: seqAdd(L1, 5000), at: 1_000_000 + i }).length;
    // And in-window data whose ACK is beyond SND.NXT.
    for (let i = 0; i < 5; i++) acks += f.peer({ flags: ACK, ack: seqAdd(L1, 5000), payload: 'x', at: 1_000_100 + i }).length;
    assert.equal(acks, 1, 'one ACK in reply within 500 ms, not one per segment');
    assert.equal(f.conn.readable(), 0, 'no text was accepted');
  });
  test('RFC 5961 §7: with FreeBSD-like limits (challengeAckPerConn 5 per second) the sixth challenge ACK in a second is suppressed', () => {
    const f = inEstablished({ challengeAckPerConn: 5, challengeAckIntervalUs: 1_000_000 });
    let acks = 0;
    for (let i = 0; i < 8; i++) acks += f.peer({ flags: RST, seq: seqAdd(R1, 100 + i), at: 1_000_000 + i * 100_000 }).length;
    assert.equal(acks, 5);
    acks = f.peer({ flags: RST, seq: seqAdd(R1, 300), at: 2_000_001 }).length;
    assert.equal(acks, 1, 'a new interval');
  });
  test('ESTABLISHED: a segment without ACK is dropped (§3.10.7.4 fifth)', () => {
    const f = inEstablished();
    f.peer({ flags: 0, payload: 'noack' });
    assert.equal(f.conn.readable(), 0);
  });
  test('ESTABLISHED: the send window follows SND.WL1/SND.WL2 and ignores older segments (§3.10.7.4 fifth)', () => {
    const f = inEstablished();
    f.peer({ flags: ACK, window: 1000, payload: 'a' });
    assert.equal(f.conn.sndWnd, 1000);
    f.peer({ flags: ACK, seq: seqAdd(R1, -1), window: 50 }); // older SEG.SEQ than SND.WL1: its ACK is processed (RFC 9293 A.2), its window is not
    assert.equal(f.conn.sndWnd, 1000);
  });
  test('ESTABLISHED: out-of-order text is held, ACKed at once, and delivered when the hole fills (§3.10.7.4, RFC 5681 §4.2)', () => {
    const f = inEstablished();
    const dup = f.peer({ flags: ACK, seq: seqAdd(R1, 3), payload: 'def' });
    expectSeg(dup[0], { flags: ACK, ack: R1 });
    assert.equal(f.conn.readable(), 0);
    const fill = f.peer({ flags: ACK, seq: R1, payload: 'abc' });
    expectSeg(fill[0], { flags: ACK, ack: seqAdd(R1, 6) });
    assert.equal(str(f.conn.read(100, 0)), 'abcdef');
  });
  test('ESTABLISHED: a segment straddling RCV.NXT has only its new part processed (§3.10.7.4 first)', () => {
    const f = inEstablished();
    f.peer({ flags: ACK, seq: R1, payload: 'abc' });
    f.peer({ flags: ACK, seq: R1, payload: 'abcdef' });
    assert.equal(str(f.conn.read(100, 0)), 'abcdef');
  });
  test('ESTABLISHED: urgent data is signalled and delivered in-line (§3.10.7.4 sixth, §3.8.5)', () => {
    const f = inEstablished();
    f.peer({ flags: ACK | 0x20, payload: 'xyz!', urgentPointer: 4 });
    assert.ok(f.host.events.some((e) => e.type === 'urgent'));
    assert.equal(str(f.conn.read(100, 0)), 'xyz!');
  });
  test('ESTABLISHED: SEND with URGENT sets URG and the urgent pointer past the urgent data (§3.10.2)', () => {
    const f = inEstablished({ noDelay: true });
    const { sent } = f.call((c, now) => c.send(text('!!'), now, true));
    assert.ok(sent[0]!.flags & 0x20);
    assert.equal(sent[0]!.urgentPointer, 2);
  });
  test('ESTABLISHED: ABORT sends <SEQ=SND.NXT><CTL=RST> and deletes the TCB (§3.10.5)', () => {
    const f = inEstablished();
    const { sent } = f.call((c, now) => c.abort(now));
    expectSeg(sent[0], { flags: RST, seq: L1, exact: true });
    assert.equal(f.state, 'CLOSED');
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'aborted' });
  });
  test('ESTABLISHED: STATUS reports the state and the TCB (§3.10.6)', () => {
    const f = inEstablished();
    const s = f.conn.status();
    assert.equal(s.state, 'ESTABLISHED');
    assert.equal(s.sndNxt, L1);
    assert.equal(s.rcvNxt, R1);
  });
  test('ESTABLISHED: OPEN again returns "connection already exists" (§3.10.1)', () => {
    const f = inEstablished();
    assert.throws(() => f.conn.open({ ...LOCAL, ...REMOTE }, 1, 0), /already exists/);
  });
});

describe('FIN-WAIT-1', () => {
  test('FIN-WAIT-1: ACK of FIN → FIN-WAIT-2 (§3.10.7.4 fifth)', () => {
    const f = inFinWait1();
    f.peer({ flags: ACK, ack: seqAdd(L1, 1) });
    assert.equal(f.state, 'FIN-WAIT-2');
  });
  test('FIN-WAIT-1: FIN without ACK of our FIN → CLOSING (§3.10.7.4 eighth)', () => {
    const f = inFinWait1();
    f.peer({ flags: FIN | ACK, ack: L1 });
    assert.equal(f.state, 'CLOSING');
  });
  test('FIN-WAIT-1: FIN acknowledging our FIN → TIME-WAIT (§3.10.7.4 eighth)', () => {
    const f = inFinWait1();
    const sent = f.peer({ flags: FIN | ACK, ack: seqAdd(L1, 1) });
    assert.equal(f.state, 'TIME-WAIT');
    expectSeg(sent[0], { flags: ACK, ack: seqAdd(R1, 1) });
  });
  test('FIN-WAIT-1: SEND returns "connection closing" (§3.10.2)', () => {
    const f = inFinWait1();
    assert.throws(() => f.conn.send(text('x'), 0), /connection closing/);
  });
  test('FIN-WAIT-1: a second CLOSE emits no second FIN (§3.10.4)', () => {
    const f = inFinWait1();
    const { sent } = f.call((c, now) => c.close(now));
    assert.equal(sent.length, 0);
  });
  test('FIN-WAIT-1: text is still received (half-close) (§3.10.7.4 seventh)', () => {
    const f = inFinWait1();
    f.peer({ flags: ACK, payload: 'late', ack: L1 });
    assert.equal(str(f.conn.read(10, 0)), 'late');
  });
  test('FIN-WAIT-1: the FIN is retransmitted on timeout (§3.10.8)', () => {
    const f = inFinWait1();
    const sent = f.tick(f.conn.nextDeadline());
    expectSeg(sent[0], { flags: FIN | ACK, seq: L1 });
  });
  test('FIN-WAIT-1: RST resets (§3.10.7.4 second)', () => {
    const f = inFinWait1();
    f.peer({ flags: RST, seq: R1 });
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'reset' });
  });
});

describe('FIN-WAIT-2', () => {
  test('FIN-WAIT-2: FIN → TIME-WAIT with an ACK (§3.10.7.4 eighth)', () => {
    const f = inFinWait2();
    const sent = f.peer({ flags: FIN | ACK });
    assert.equal(f.state, 'TIME-WAIT');
    expectSeg(sent[0], { flags: ACK, ack: seqAdd(R1, 1) });
  });
  test('FIN-WAIT-2: text is still received (half-close) (§3.10.7.4 seventh)', () => {
    const f = inFinWait2();
    f.peer({ flags: ACK, payload: 'more' });
    assert.equal(str(f.conn.read(10, 0)), 'more');
  });
  test('FIN-WAIT-2: RST resets (§3.10.7.4 second)', () => {
    const f = inFinWait2();
    f.peer({ flags: RST, seq: R1 });
    assert.equal(f.state, 'CLOSED');
  });
  test('FIN-WAIT-2: data after close (the connection released) gets a RST and the TCB is deleted (RFC 1122 4.2.2.13)', () => {
    const f = inFinWait2();
    f.call((c, now) => c.orphan(now));
    const sent = f.peer({ flags: ACK, payload: 'late' });
    expectSeg(sent[0], { flags: RST | ACK, seq: seqAdd(L1, 1), ack: seqAdd(R1, 4), exact: true });
    assert.equal(f.state, 'CLOSED');
  });
  test('FIN-WAIT-2: an orphaned connection times out rather than waiting forever', () => {
    const f = inFinWait2({ mslUs: 1_000_000 });
    f.conn.orphan(0);
    f.tick(f.conn.nextDeadline());
    assert.equal(f.state, 'CLOSED');
  });
});

describe('CLOSE-WAIT', () => {
  test('CLOSE-WAIT: CLOSE sends FIN and enters LAST-ACK (§3.10.4)', () => {
    const f = inCloseWait();
    const { sent } = f.call((c, now) => c.close(now));
    assert.equal(f.state, 'LAST-ACK');
    expectSeg(sent[0], { flags: FIN | ACK, seq: L1 });
  });
  test('CLOSE-WAIT: SEND still works (half-close) (§3.10.2)', () => {
    const f = inCloseWait({ noDelay: true });
    const { sent } = f.call((c, now) => c.send(text('reply'), now));
    expectSeg(sent[0], { flags: ACK, seq: L1, len: 5 });
  });
  test('CLOSE-WAIT: RST resets (§3.10.7.4 second)', () => {
    const f = inCloseWait();
    f.peer({ flags: RST, seq: f.conn.rcvNxt });
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'reset' });
  });
  test('CLOSE-WAIT: RECEIVE returns the data on hand, then the stream is at EOF (§3.10.3)', () => {
    const f = inEstablished();
    f.peer({ flags: ACK | FIN, payload: 'bye' });
    assert.equal(f.state, 'CLOSE-WAIT');
    assert.equal(str(f.conn.read(10, 0)), 'bye');
    assert.ok(f.conn.eof);
  });
});

describe('CLOSING', () => {
  test('CLOSING: ACK of FIN → TIME-WAIT (§3.10.7.4 fifth)', () => {
    const f = inClosing();
    f.peer({ flags: ACK, ack: seqAdd(L1, 1) });
    assert.equal(f.state, 'TIME-WAIT');
  });
  test('CLOSING: an ACK not covering our FIN is ignored (§3.10.7.4 fifth)', () => {
    const f = inClosing();
    f.peer({ flags: ACK, ack: L1 });
    assert.equal(f.state, 'CLOSING');
  });
  test('CLOSING: RST enters CLOSED (§3.10.7.4 second)', () => {
    const f = inClosing();
    f.peer({ flags: RST, seq: f.conn.rcvNxt });
    assert.equal(f.state, 'CLOSED');
  });
});

describe('LAST-ACK', () => {
  test('LAST-ACK: ACK of FIN → CLOSED (§3.10.7.4 fifth)', () => {
    const f = inLastAck();
    f.peer({ flags: ACK, ack: seqAdd(L1, 1) });
    assert.equal(f.state, 'CLOSED');
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: null });
  });
  test('LAST-ACK: RST enters CLOSED (§3.10.7.4 second)', () => {
    const f = inLastAck();
    f.peer({ flags: RST, seq: f.conn.rcvNxt });
    assert.equal(f.state, 'CLOSED');
  });
  test('LAST-ACK: the FIN is retransmitted on timeout (§3.10.8)', () => {
    const f = inLastAck();
    const sent = f.tick(f.conn.nextDeadline());
    expectSeg(sent[0], { flags: FIN | ACK, seq: L1 });
  });
});

describe('TIME-WAIT', () => {
  test('TIME-WAIT: the 2MSL timeout deletes the TCB (§3.10.8)', () => {
    const f = inTimeWait({ mslUs: 1_000_000 });
    assert.equal(f.conn.nextDeadline(), f.now + 2_000_000);
    f.tick(f.now + 1_999_999);
    assert.equal(f.state, 'TIME-WAIT');
    f.tick(f.now + 1);
    assert.equal(f.state, 'CLOSED');
  });
  test('TIME-WAIT: a retransmitted FIN is acknowledged and restarts the 2MSL timeout (§3.10.7.4)', () => {
    const f = inTimeWait({ mslUs: 1_000_000 });
    f.now = 500_000;
    const sent = f.peer({ flags: FIN | ACK, seq: seqAdd(f.peerSeq, -1) });
    expectSeg(sent[0], { flags: ACK, ack: f.peerSeq });
    assert.equal(f.conn.nextDeadline(), 500_000 + 2_000_000);
  });
  test('TIME-WAIT: RST enters CLOSED per RFC 9293, or is ignored with RFC 1337 protection', () => {
    const f = inTimeWait();
    f.peer({ flags: RST, seq: f.peerSeq });
    assert.equal(f.state, 'CLOSED');
    const g = inTimeWait({ rfc1337: true });
    g.peer({ flags: RST, seq: g.peerSeq });
    assert.equal(g.state, 'TIME-WAIT');
  });
  test('TIME-WAIT: ABORT responds ok and deletes the TCB (§3.10.5)', () => {
    const f = inTimeWait();
    const { sent } = f.call((c, now) => c.abort(now));
    assert.equal(sent.length, 0);
    assert.equal(f.state, 'CLOSED');
  });
  test('TIME-WAIT: CLOSE returns "connection closing" (§3.10.4)', () => {
    const f = inTimeWait();
    assert.throws(() => f.conn.close(0), /connection closing/);
  });
});

describe('Figure 5 coverage', () => {
  test('every arrow of RFC 9293 Figure 5 is taken by the fixtures above', () => {
    const seen = new Set<string>();
    const record = (f: Fixture): void => {
      let from = 'CLOSED';
      for (const to of f.host.states()) {
        seen.add(`${from}>${to}`);
        from = to;
      }
    };
    const runs: Fixture[] = [];
    const run = (f: Fixture, fn?: (f: Fixture) => void): void => {
      fn?.(f);
      runs.push(f);
    };
    run(inListen(), (f) => f.conn.close(0));
    run(inListen(), (f) => f.conn.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, 0));
    run(inSynSent(), (f) => f.conn.close(0));
    run(inSynSent(), (f) => f.peer({ flags: SYN, seq: REMOTE_ISS, ack: 0 }));
    run(inSynReceived(), (f) => f.peer({ flags: RST, seq: R1 }));
    run(inSynReceived(), (f) => f.conn.close(0));
    run(inEstablished(), (f) => f.peer({ flags: FIN | ACK }));
    run(inClosing(), (f) => f.peer({ flags: ACK, ack: seqAdd(L1, 1) }));
    run(inTimeWait({ mslUs: 1000 }), (f) => f.tick(10_000));
    run(inLastAck(), (f) => f.peer({ flags: ACK, ack: seqAdd(L1, 1) }));
    run(inSynReceived(), (f) => f.peer({ flags: ACK, seq: R1, ack: L1 }));
    for (const f of runs) record(f);
    const missing = FIGURE_5.filter((t) => !seen.has(`${t.from}>${t.to}`)).map((t) => `${t.from} → ${t.to}`);
    assert.deepEqual(missing, []);
  });
});
