/**
 * SACK-based loss recovery with RACK-TLP (RFC 8985) and PRR (RFC 6937).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Scoreboard } from '../../src/tcp/recovery.ts';
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
