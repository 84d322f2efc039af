/**
 * SACK-based loss recovery with RACK-TLP (RFC 8985) and PRR (RFC 6937).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Scoreboard, prrSndcnt } from '../../src/tcp/recovery.ts';
import { transferOver, singleLossCost } from '../../bench/impaired.ts';

describe('scoreboard (RFC 8985)', () => {
  test('RACK: a segment sent before a SACKed one is lost once RACK.rtt + reo_wnd has passed', () => {
    const b = new Scoreboard();
    b.onSend(0, 100, 0);
    b.onSend(100, 200, 10);
    b.onSend(200, 300, 20);
    // At t=1000 the third segment is SACKed: RACK.rtt = 980.
    assert.equal(b.onAck(0, [[200, 300]], 1000), 100);
    const r1 = b.detectLoss(1000, 0);
    // seg 0 deadline = 0 + 980 = 980 ≤ 1000: lost; seg 1 deadline 990: lost too.
    assert.equal(r1.newlyLost, 200);
    assert.equal(b.firstLost()!.start, 0);
    assert.equal(b.pipe(0, 300), 0);
  });
  test('RACK: within the reordering window a segment is not yet lost, and a timer is due', () => {
    const b = new Scoreboard();
    b.onSend(0, 100, 0);
    b.onSend(100, 200, 500);
    b.onAck(0, [[100, 200]], 1500);
    const r = b.detectLoss(1500, 800);
    assert.equal(r.newlyLost, 0);
    assert.equal(r.timeoutAt, 0 + 1000 + 800);
  });
  test('RACK: reordering is noticed when a hole fills without a retransmission', () => {
    const b = new Scoreboard();
    b.onSend(0, 100, 0);
    b.onSend(100, 200, 1);
    b.onAck(0, [[100, 200]], 50);
    b.onAck(0, [[0, 200]], 60);
    assert.equal(b.reorderingSeen, true);
  });
  test('retransmitted segments never give RTT samples shorter than the minimum (RFC 8985 §6.2 step 2)', () => {
    const b = new Scoreboard();
    b.onSend(0, 100, 0);
    b.onAck(100, undefined, 100);
    b.onSend(100, 200, 200);
    b.onSend(100, 200, 250, true);
    b.onAck(200, undefined, 260);
    assert.equal(b.minRtt, 100);
  });
});

/**
 * RFC 6937 §3.1 "Examples": "cwnd = FlightSize = pipe = 20 segments, so
 * ssthresh will be set to 10 at the beginning of recovery. We also assume
 * standard Fast Retransmit and Limited Transmit [RFC3042], so TCP will send
 * 2 new segments followed by 1 retransmit in response to the first 3
 * duplicate ACKs following the losses." Units are segments (MSS = 1); each
 * returning ACK SACKs one segment (DeliveredData = 1); pipe is RFC 6675's
 * (sent − SACKed − lost + retransmitted). Recovery starts at the third
 * duplicate ACK, whose DeliveredData counts ("On every ACK during recovery").
 */
function prrExample(lost: number, conservative: boolean): { sent: Map<number, number>; pipeBefore: Map<number, number>; pipeAfter: Map<number, number> } {
  const ssthresh = 10;
  const recoverFs = 20;
  let pipe = 20;
  let dupAcks = 0;
  let prrDelivered = 0;
  let prrOut = 0;
  const sent = new Map<number, number>();
  const pipeBefore = new Map<number, number>();
  const pipeAfter = new Map<number, number>();
  for (let seg = lost; seg < 20; seg++) {
    // The ACK triggered by segment `seg`: a duplicate ACK SACKing it.
    dupAcks++;
    pipe -= 1;
    let n: number;
    if (dupAcks < 3) {
      n = 1; // limited transmit: one new segment per duplicate ACK
    } else {
      if (dupAcks === 3) pipe -= lost; // the holes are now deemed lost
      prrDelivered += 1;
      pipeBefore.set(seg, pipe);
      n = Math.max(0, prrSndcnt({ prrDelivered, prrOut, recoverFs, ssthresh, pipe, deliveredData: 1, mss: 1, conservative }));
      prrOut += n;
    }
    pipe += n;
    if (n > 0) sent.set(seg, n);
    pipeAfter.set(seg, pipe);
  }
  return { sent, pipeBefore, pipeAfter };
}

describe('PRR (RFC 6937 §3.1 examples)', () => {
  for (const conservative of [false, true]) {
    const name = conservative ? 'PRR-CRB' : 'PRR-SSRB';
    test(`${name}, a single loss: one transmission per two ACKs while pipe > ssthresh, the flight ends at ssthresh (pipe row of the RFC's figure)`, () => {
      const r = prrExample(1, conservative);
      // "PRR with either of the Reduction Bounds algorithms has identical
      // behavior when there is a single loss."
      // ACKs 1, 2: limited transmit; 3: the fast retransmit; then every other ACK.
      assert.deepEqual([...r.sent.entries()], [[1, 1], [2, 1], [3, 1], [5, 1], [7, 1], [9, 1], [11, 1], [13, 1], [15, 1], [17, 1]]);
      // The figure's pipe row after each ACK (ACKs 4..19). Its "sent" row
      // draws the last two transmissions under ACKs 18 and 19, which its own
      // pipe row (12 after ACK 17, 11, 10) contradicts: the pipe row and the
      // formula agree on ACK 17.
      const row = [18, 18, 17, 17, 16, 16, 15, 15, 14, 14, 13, 13, 12, 12, 11, 10];
      assert.deepEqual(row.map((_, i) => r.pipeAfter.get(i + 4)), row);
      // "PRR will converge to exactly the target window chosen by the congestion control algorithm."
      assert.equal(r.pipeAfter.get(19), 10);
    });
  }
  test('PRR-CRB, 15 consecutive losses: one retransmission per ACK, pipe stays at 4 (RB: banked, prr_delivered − prr_out)', () => {
    const r = prrExample(15, true);
    assert.deepEqual([...r.sent.entries()], [[15, 1], [16, 1], [17, 1], [18, 1], [19, 1]]);
    assert.deepEqual([17, 18, 19].map((a) => r.pipeBefore.get(a)), [4, 4, 4]);
  });
  test('PRR-SSRB, 15 consecutive losses: two retransmissions per ACK, pipe 4, 5, 6 (RB: DeliveredData + MSS, slow start)', () => {
    const r = prrExample(15, false);
    assert.deepEqual([...r.sent.entries()], [[15, 1], [16, 1], [17, 2], [18, 2], [19, 2]]);
    assert.deepEqual([17, 18, 19].map((a) => r.pipeBefore.get(a)), [4, 5, 6]);
  });
  test('prrSndcnt: above ssthresh the proportional part, CEIL(prr_delivered × ssthresh / RecoverFS) − prr_out', () => {
    assert.equal(prrSndcnt({ prrDelivered: 3, prrOut: 1, recoverFs: 20, ssthresh: 10, pipe: 17, deliveredData: 1, mss: 1 }), 1);
    assert.equal(prrSndcnt({ prrDelivered: 2, prrOut: 1, recoverFs: 20, ssthresh: 10, pipe: 18, deliveredData: 1, mss: 1 }), 0);
    // In bytes: 5 × 1448 delivered of a 20-segment RecoverFS, ssthresh 7 segments.
    assert.equal(prrSndcnt({ prrDelivered: 5 * 1448, prrOut: 1448, recoverFs: 20 * 1448, ssthresh: 7 * 1448, pipe: 15 * 1448, deliveredData: 1448, mss: 1448 }), Math.ceil((5 * 7 * 1448) / 20) - 1448);
  });
});

describe('recovery end to end (virtual time)', () => {
  test('a slow-start overshoot into a drop-tail queue is repaired by SACK recovery without a timeout, at most once per loss', () => {
    const r = transferOver({ rttMs: 50, bandwidthMbps: 100, loss: 0 }, 8 << 20, {});
    assert.ok(r.mbps > 40, `goodput ${r.mbps.toFixed(1)} Mbit/s`);
    const plain = transferOver({ rttMs: 50, bandwidthMbps: 100, loss: 0 }, 8 << 20, { sack: false, rack: false });
    assert.ok(r.mbps > 5 * plain.mbps, `SACK+RACK ${r.mbps.toFixed(1)} vs NewReno without SACK ${plain.mbps.toFixed(1)} Mbit/s`);
  });
  test('a lost tail segment costs a probe timeout with TLP, an RTO without (RFC 8985 §7)', () => {
    const tlp = singleLossCost({}, 10);
    const rto = singleLossCost({ sack: false, rack: false }, 10);
    assert.ok(tlp < rto, `TLP ${tlp} ms < RTO ${rto} ms`);
    assert.ok(tlp <= 3.5 * 50, `TLP recovers within about 2·SRTT + RTT (${tlp} ms)`);
  });
  test('a lost middle segment is repaired in about one RTT, by RACK with SACK and by three duplicate ACKs without', () => {
    assert.ok(singleLossCost({}, 5) <= 60);
    assert.ok(singleLossCost({ sack: false, rack: false }, 5) <= 60);
  });
});
