/**
 * Timers and reliable delivery: RFC 6298 RTO with backoff and Karn's
 * algorithm, retransmission limits, persist (zero-window probes), keepalive,
 * delayed ACK, Nagle, the user timeout, fast retransmit.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACK, FIN, SYN, LOCAL, REMOTE, LOCAL_ISS, REMOTE_ISS, Fixture, expectSeg, text, inSynSent, inEstablished, seqAdd } from './harness.ts';
import { RttEstimator } from '../../src/tcp/rtt.ts';

const L1 = seqAdd(LOCAL_ISS, 1);
const R1 = seqAdd(REMOTE_ISS, 1);

describe('RFC 6298 retransmission timer', () => {
  test('RTO: the first sample sets SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR (RFC 6298 §2.2)', () => {
    const r = new RttEstimator(1_000_000, { minRto: 1, maxRto: 60_000_000, slop: 0 });
    r.sample(100_000);
    assert.equal(r.srtt, 100_000);
    assert.equal(r.rttvar, 50_000);
    assert.equal(r.rto, 300_000);
  });
  test('RTO: later samples use alpha = 1/8, beta = 1/4 (RFC 6298 §2.3)', () => {
    const r = new RttEstimator(1_000_000, { minRto: 1, maxRto: 60_000_000, slop: 0 });
    r.sample(100_000);
    r.sample(200_000);
    assert.equal(r.rttvar, 0.75 * 50_000 + 0.25 * 100_000);
    assert.equal(r.srtt, 0.875 * 100_000 + 0.125 * 200_000);
  });
  test('RTO: is clamped to the configured minimum and maximum (RFC 6298 §2.4, §2.5)', () => {
    const r = new RttEstimator(1_000_000, { minRto: 200_000, maxRto: 60_000_000, slop: 0 });
    r.sample(1000);
    assert.equal(r.rto, 200_000);
    r.sample(100_000_000);
    assert.ok(r.rto <= 60_000_000);
  });
  test('SYN-SENT: the SYN is retransmitted with exponential backoff, then the open times out (RFC 6298 §5.5, §3.10.8)', () => {
    const f = inSynSent({ synRetries: 3, initialRtoUs: 1_000_000 });
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = f.conn.nextDeadline();
      times.push(t);
      const sent = f.tick(t);
      expectSeg(sent[0], { flags: SYN, seq: LOCAL_ISS });
    }
    assert.deepEqual(times, [1_000_000, 3_000_000, 7_000_000]);
    f.tick(f.conn.nextDeadline());
    assert.equal(f.state, 'CLOSED');
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'timeout' });
  });
  test('ESTABLISHED: unacknowledged data is retransmitted from SND.UNA on RTO (§3.10.8)', () => {
    const f = inEstablished({ noDelay: true });
    f.conn.send(text('abc'), 0);
    const t = f.conn.nextDeadline();
    const sent = f.tick(t);
    expectSeg(sent[0], { flags: ACK, seq: L1, len: 3 });
    assert.equal(f.conn.retransmits, 1);
  });
  test("ESTABLISHED: Karn's algorithm takes no RTT sample from a retransmitted segment (RFC 6298 §3)", () => {
    const f = inEstablished({ noDelay: true });
    const srtt0 = f.conn.rtt.srtt;
    f.conn.send(text('abc'), 0);
    f.tick(f.conn.nextDeadline());
    f.peer({ flags: ACK, ack: seqAdd(L1, 3), at: 5_000_000 });
    assert.equal(f.conn.rtt.srtt, srtt0);
  });
  test('ESTABLISHED: data retransmissions give up after dataRetries and report a timeout (§3.10.8)', () => {
    const f = inEstablished({ noDelay: true, dataRetries: 2 });
    f.conn.send(text('abc'), 0);
    for (let i = 0; i < 3 && f.state !== 'CLOSED'; i++) f.tick(f.conn.nextDeadline());
    assert.equal(f.state, 'CLOSED');
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'timeout' });
  });
  test('ESTABLISHED: the user timeout aborts a connection whose data stays unacknowledged (§3.10.8 USER TIMEOUT)', () => {
    const f = inEstablished({ noDelay: true, userTimeoutUs: 3_000_000, dataRetries: 100 });
    f.conn.send(text('abc'), 0);
    while (f.state !== 'CLOSED') f.tick(f.conn.nextDeadline());
    assert.ok(f.now >= 3_000_000);
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'timeout' });
  });
  test('ESTABLISHED: an ACK of all data stops the retransmission timer (RFC 6298 §5.2)', () => {
    const f = inEstablished({ noDelay: true });
    f.conn.send(text('abc'), 0);
    f.peer({ flags: ACK, ack: seqAdd(L1, 3), at: 10_000 });
    assert.equal(f.conn.rtxAt, Infinity);
  });
});

describe('fast retransmit', () => {
  test('ESTABLISHED: three duplicate ACKs retransmit the first unacknowledged segment (RFC 5681 §3.2)', () => {
    const f = inEstablished({ noDelay: true });
    f.conn.send(new Uint8Array(5 * 1460), 0);
    const before = f.host.sent.length;
    assert.equal(before, 5);
    f.peer({ flags: ACK, ack: L1 });
    f.peer({ flags: ACK, ack: L1 });
    const third = f.peer({ flags: ACK, ack: L1 });
    expectSeg(third[0], { flags: ACK, seq: L1, len: 1460 });
    assert.ok(f.conn.inRecovery);
  });
});

describe('flow control', () => {
  test('ESTABLISHED: a zero window stops sending and the persist timer probes with one byte (§3.8.6.1)', () => {
    const f = inEstablished({ noDelay: true });
    f.peer({ flags: ACK, window: 0 });
    const { sent } = f.call((c, now) => c.send(text('blocked'), now));
    assert.equal(sent.length, 0);
    assert.ok(f.conn.persistAt < Infinity);
    const probe = f.tick(f.conn.persistAt);
    expectSeg(probe[0], { flags: ACK, seq: L1, len: 1 });
    // The window opens: the rest flows.
    const rest = f.peer({ flags: ACK, ack: seqAdd(L1, 1), window: 1000, at: f.now + 1000 });
    expectSeg(rest[0], { flags: ACK, seq: seqAdd(L1, 1), len: 6 });
  });
  test('ESTABLISHED: persist probes back off while the window stays closed (§3.8.6.1)', () => {
    const f = inEstablished({ noDelay: true });
    f.peer({ flags: ACK, window: 0 });
    f.conn.send(text('x'), 0);
    const t1 = f.conn.persistAt;
    f.tick(t1);
    f.peer({ flags: ACK, window: 0, ack: L1, at: t1 + 1 });
    const t2 = f.conn.persistAt;
    f.tick(t2);
    f.peer({ flags: ACK, window: 0, ack: L1, at: t2 + 1 });
    const t3 = f.conn.persistAt;
    assert.ok(t3 - t2 > t2 - t1, 'intervals grow');
    assert.equal(f.state, 'ESTABLISHED');
  });
  test('ESTABLISHED: the receive window shrinks as data waits unread and reopens on read (§3.8.6.2.2)', () => {
    const f = inEstablished({ recvBufferBytes: 4000, delayedAckUs: 0 });
    const a = f.peer({ flags: ACK, payload: new Uint8Array(3000) });
    assert.equal(a.at(-1)!.window, 1000);
    f.peerSeq = seqAdd(R1, 3000);
    const { sent } = f.call((c, now) => c.read(3000, now));
    expectSeg(sent[0], { flags: ACK, ack: seqAdd(R1, 3000) });
    assert.equal(sent[0]!.window, 4000);
  });
  test('ESTABLISHED: text beyond the advertised window is trimmed, not accepted (§3.10.7.4 first)', () => {
    const f = inEstablished({ recvBufferBytes: 100, delayedAckUs: 0 });
    f.peer({ flags: ACK, payload: new Uint8Array(10) }); // advertises 90
    f.peerSeq = seqAdd(R1, 10);
    f.peer({ flags: ACK, payload: new Uint8Array(200) });
    assert.equal(f.conn.readable(), 100);
  });
  test("ESTABLISHED: Nagle holds a small segment while data is unacknowledged (§3.7.4)", () => {
    const f = inEstablished();
    const first = f.call((c, now) => c.send(text('a'), now)).sent;
    assert.equal(first.length, 1);
    const second = f.call((c, now) => c.send(text('b'), now)).sent;
    assert.equal(second.length, 0, 'held by Nagle');
    const flushed = f.peer({ flags: ACK, ack: seqAdd(L1, 1), at: 1000 });
    expectSeg(flushed[0], { flags: ACK, seq: seqAdd(L1, 1), len: 1 });
  });
  test('ESTABLISHED: setNoDelay sends small segments at once (§3.7.4)', () => {
    const f = inEstablished({ noDelay: true });
    f.conn.send(text('a'), 0);
    const second = f.call((c, now) => c.send(text('b'), now)).sent;
    assert.equal(second.length, 1);
  });
});

describe('delayed ACK', () => {
  test('ESTABLISHED: one segment is ACKed after the delayed-ACK timeout (RFC 5681 §4.2)', () => {
    const f = inEstablished({ delayedAckUs: 40_000 });
    const now = f.peer({ flags: ACK, payload: 'x' });
    assert.equal(now.length, 0);
    assert.equal(f.conn.nextDeadline(), 40_000);
    const later = f.tick(40_000);
    expectSeg(later[0], { flags: ACK, ack: seqAdd(R1, 1) });
  });
  test('ESTABLISHED: every second segment is ACKed at once (RFC 5681 §4.2)', () => {
    const f = inEstablished({ delayedAckUs: 40_000 });
    f.peer({ flags: ACK, payload: new Uint8Array(1460) });
    f.peerSeq = seqAdd(R1, 1460);
    const second = f.peer({ flags: ACK, payload: new Uint8Array(1460) });
    expectSeg(second[0], { flags: ACK, ack: seqAdd(R1, 2920) });
  });
  test('ESTABLISHED: one segment carrying more than a full-sized segment (a GSO/GRO segment from an offloading link) is ACKed at once (RFC 5681 §4.2)', () => {
    const f = inEstablished({ delayedAckUs: 40_000, recvBufferBytes: 1 << 20 });
    // Two and a half MSS in one segment: "at least every second full-sized segment" has passed.
    const now = f.peer({ flags: ACK, payload: new Uint8Array(3650) });
    expectSeg(now[0], { flags: ACK, ack: seqAdd(R1, 3650) });
  });
  test('ESTABLISHED: an ACK piggybacks on data sent before the delayed-ACK timer fires (§3.10.7.4 seventh)', () => {
    const f = inEstablished({ delayedAckUs: 40_000, noDelay: true });
    f.peer({ flags: ACK, payload: 'q' });
    const { sent } = f.call((c, now) => c.send(text('r'), now));
    expectSeg(sent[0], { flags: ACK, ack: seqAdd(R1, 1), len: 1 });
    assert.equal(f.conn.delAckAt, Infinity);
  });
});

describe('keepalive', () => {
  test('ESTABLISHED: keepalive probes <SEQ=SND.NXT-1> after the idle time and drops a dead peer (§3.8.4)', () => {
    const f = inEstablished({ keepAlive: true, keepAliveIdleUs: 10_000_000, keepAliveIntervalUs: 1_000_000, keepAliveCount: 3 });
    const probe = f.tick(10_000_000);
    expectSeg(probe[0], { flags: ACK, seq: LOCAL_ISS, len: 0 });
    f.tick(11_000_000);
    f.tick(12_000_000);
    f.tick(13_000_000);
    assert.equal(f.state, 'CLOSED');
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'timeout' });
  });
  test('ESTABLISHED: an answered keepalive keeps the connection open (§3.8.4)', () => {
    const f = inEstablished({ keepAlive: true, keepAliveIdleUs: 10_000_000, keepAliveIntervalUs: 1_000_000, keepAliveCount: 2 });
    f.tick(10_000_000);
    f.peer({ flags: ACK, at: 10_100_000 });
    f.tick(11_000_000);
    f.tick(12_000_000);
    assert.equal(f.state, 'ESTABLISHED');
  });
});

describe('keepalive: what counts as hearing from the peer', () => {
  test('RFC 1122 §4.2.3.6: segments received refresh the keepalive timer — no probe while the peer talks every 100 ms', () => {
    const f = inEstablished({ keepAlive: true, keepAliveIdleUs: 1_000_000, keepAliveIntervalUs: 1_000_000, keepAliveCount: 3, delayedAckUs: 0 });
    let probes = 0;
    let t = 0;
    for (let i = 1; i <= 300; i++) {
      const at = i * 100_000;
      while (f.conn.nextDeadline() <= at) {
        t = f.conn.nextDeadline();
        probes += f.tick(t).filter((s) => s.seq === LOCAL_ISS && s.payload.length === 0).length;
      }
      f.peer({ flags: ACK, payload: 'x', at });
      f.peerSeq = seqAdd(f.peerSeq, 1);
    }
    assert.equal(probes, 0, 'keep-alive packets only after an idle interval');
    assert.equal(f.state, 'ESTABLISHED');
    // The peer falls silent: now the probes come, one idle interval after the last segment.
    const last = f.now;
    let probe = f.tick(f.conn.nextDeadline());
    while (probe.length === 0 && f.now < last + 10_000_000) probe = f.tick(f.conn.nextDeadline());
    expectSeg(probe[0], { flags: ACK, seq: LOCAL_ISS, len: 0 });
    assert.equal(f.now, last + 1_000_000);
  });
  test('RFC 1122 §4.2.3.6 / RFC 5961: an out-of-window RST every 2 s does not keep a dead peer alive', () => {
    const f = inEstablished({ keepAlive: true, keepAliveIdleUs: 10_000_000, keepAliveIntervalUs: 5_000_000, keepAliveCount: 3 });
    let t = 0;
    for (let guard = 0; f.state !== 'CLOSED' && guard < 1000; guard++) {
      const next = Math.min(f.conn.nextDeadline(), t + 2_000_000);
      if (next === t + 2_000_000) {
        t = next;
        // A blind attacker's RST, far outside the window.
        f.peer({ flags: 0x04, seq: seqAdd(f.peerSeq, 0x40000000), ack: 0, at: t });
      } else {
        t = next;
        f.tick(t);
      }
    }
    assert.equal(f.state, 'CLOSED');
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'timeout' });
    assert.equal(f.now, 10_000_000 + 3 * 5_000_000, 'dropped after the idle time and keepAliveCount unanswered probes');
  });
});

describe('options', () => {
  test('SYN-SENT: the peer MSS limits our segments; without an option 536 is assumed (§3.7.1)', () => {
    const f = inSynSent({ noDelay: true });
    f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1, options: [{ kind: 'mss', value: 1000 }] });
    const { sent } = f.call((c, now) => c.send(new Uint8Array(2500), now));
    assert.deepEqual(sent.map((s) => s.payload.length), [1000, 1000, 500]);
    const g = inSynSent({ noDelay: true });
    g.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1 });
    assert.equal(g.conn.sndMss, 536);
  });
  test('SYN-SENT: window scaling applies only when both SYNs carry the option (RFC 7323 §2.2)', () => {
    const f = new Fixture({ windowScaling: true, recvBufferBytes: 1 << 20 });
    f.conn.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, 0);
    const syn = f.host.sent[0]!;
    const ws = syn.options.find((o) => o.kind === 'window-scale');
    assert.ok(ws && ws.kind === 'window-scale' && ws.shift === 5);
    f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1, options: [{ kind: 'window-scale', shift: 2 }], window: 1000 });
    assert.equal(f.conn.sndWndShift, 2);
    assert.equal(f.conn.sndWnd, 1000, "the SYN's window is not scaled");
    f.peer({ flags: ACK, seq: R1, window: 1000 });
    assert.equal(f.conn.sndWnd, 4000);
    const g = new Fixture({ windowScaling: true, recvBufferBytes: 1 << 20 });
    g.conn.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, 0);
    g.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1, window: 1000 });
    assert.equal(g.conn.rcvWndShift, 0, 'no scaling when the peer did not offer it');
    assert.ok(g.host.sent.at(-1)!.window <= 65535);
  });
  test('SYN-SENT: a window-scale shift above 14 is treated as 14 (RFC 7323 §2.3)', () => {
    const f = new Fixture({ windowScaling: true });
    f.conn.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, 0);
    f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1, options: [{ kind: 'window-scale', shift: 20 }] });
    assert.equal(f.conn.sndWndShift, 14);
  });
});

describe('half-close', () => {
  test('CLOSE-WAIT keeps sending after the peer FIN, then LAST-ACK → CLOSED (§3.10.4 half-close)', () => {
    const f = inEstablished({ noDelay: true });
    f.peer({ flags: FIN | ACK });
    const out = f.call((c, now) => c.send(text('still here'), now)).sent;
    expectSeg(out[0], { flags: ACK, len: 10 });
    f.conn.close(0);
    f.peer({ flags: ACK, seq: seqAdd(R1, 1), ack: seqAdd(L1, 11) });
    assert.equal(f.state, 'CLOSED');
  });
});

describe('RTO slop (FreeBSD rexmit_slop)', () => {
  test('SYN-SENT: with a 200 ms slop the SYN goes at 1 s, then 2.2 s later, then 4.2 s later', () => {
    const f = inSynSent({ initialRtoUs: 1_000_000, minRtoUs: 30_000, rtoSlopUs: 200_000, synRetries: 5 });
    const gaps: number[] = [];
    let last = 0;
    for (let i = 0; i < 3; i++) {
      const t = f.conn.nextDeadline();
      gaps.push(t - last);
      last = t;
      f.tick(t);
    }
    assert.deepEqual(gaps, [1_000_000, 2_200_000, 4_200_000]);
  });
});

describe('persist limit', () => {
  test('a peer that holds its window closed past persistTimeoutUs is dropped (zero-window hold defence)', () => {
    const f = inEstablished({ noDelay: true, persistTimeoutUs: 60_000_000 });
    f.peer({ flags: ACK, window: 0 });
    f.conn.send(text('pinned'), 0);
    let guard = 0;
    while (f.state !== 'CLOSED' && guard++ < 100) {
      const t = f.conn.nextDeadline();
      f.tick(t);
      if (f.state !== 'CLOSED') f.peer({ flags: ACK, window: 0, ack: L1, at: f.now + 1 });
    }
    assert.equal(f.state, 'CLOSED');
    assert.ok(f.now >= 60_000_000 && f.now < 120_000_000, `dropped at ${f.now} µs`);
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'timeout' });
    assert.ok(f.host.drops.includes('tcp-persist-limit'));
  });
});
