/**
 * Congestion control laws: NewReno (RFC 5681) and CUBIC (RFC 9438).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NewReno, Cubic } from '../../src/tcp/congestion/index.ts';
import { initialWindow } from '../../src/tcp/congestion/controller.ts';

const MSS = 1000;

describe('initial window', () => {
  test('IW = min(10*MSS, max(2*MSS, 14600)) (RFC 6928 §2)', () => {
    assert.equal(initialWindow(1460, 10), 14600);
    assert.equal(initialWindow(536, 10), 5360);
    assert.equal(initialWindow(9000, 10), 18000);
  });
});

describe('NewReno (RFC 5681)', () => {
  test('slow start grows by at most 2*SMSS per ACK (RFC 3465 L=2), congestion avoidance by one SMSS per window', () => {
    const c = new NewReno();
    c.init(MSS, 10, 0);
    c.onAck(10 * MSS, MSS, 0, 0);
    assert.equal(c.cwnd, 12 * MSS, 'a stretch ACK of 10 segments counts as 2');
    c.onCongestionEvent(20 * MSS, MSS, 0);
    assert.equal(c.ssthresh, 10 * MSS);
    for (let i = 0; i < 10; i++) c.onAck(MSS, MSS, 0, 0);
    assert.equal(c.cwnd, 11 * MSS, 'one window of ACKs adds one segment');
  });
  test('an RTO sets cwnd to one segment and ssthresh to half the flight (RFC 5681 §3.1)', () => {
    const c = new NewReno();
    c.init(MSS, 10, 0);
    c.onRto(40 * MSS, MSS, 0);
    assert.equal(c.cwnd, MSS);
    assert.equal(c.ssthresh, 20 * MSS);
  });
});

describe('CUBIC (RFC 9438)', () => {
  test('a loss reduces the window by beta_cubic = 0.7 (§4.6)', () => {
    const c = new Cubic();
    c.init(MSS, 10, 0);
    c.cwnd = 100 * MSS;
    c.onCongestionEvent(100 * MSS, MSS, 0);
    assert.equal(c.cwnd, 70 * MSS);
    assert.equal(c.ssthresh, 70 * MSS);
  });
  test('after a loss the window climbs back towards W_max concavely, then probes beyond it (§4.2)', () => {
    const c = new Cubic();
    c.init(MSS, 10, 0);
    c.cwnd = 100 * MSS;
    c.onCongestionEvent(100 * MSS, MSS, 0);
    const rtt = 100_000;
    const samples: number[] = [];
    let now = 0;
    for (let r = 0; r < 120; r++) {
      const w = c.cwnd;
      for (let i = 0; i < w / MSS; i++) c.onAck(MSS, MSS, now, rtt);
      now += rtt;
      samples.push(c.cwnd / MSS);
    }
    // K = cbrt(W_max (1 - beta) / C) = cbrt(100 * 0.3 / 0.4) ≈ 4.2 s ≈ 42 RTTs.
    const growthEarly = samples[10]! - samples[0]!;
    const growthPlateau = samples[42]! - samples[32]!;
    assert.ok(growthEarly > growthPlateau, `concave: ${growthEarly} > ${growthPlateau}`);
    assert.ok(Math.abs(samples[42]! - 100) < 8, `near W_max at K: ${samples[42]}`);
    assert.ok(samples[110]! > 110, `convex probing beyond W_max: ${samples[110]}`);
  });
  test('fast convergence lowers W_max when losses come before the old maximum (§4.7)', () => {
    const c = new Cubic();
    c.init(MSS, 10, 0);
    c.cwnd = 100 * MSS;
    c.onCongestionEvent(100 * MSS, MSS, 0);
    c.onCongestionEvent(70 * MSS, MSS, 0);
    assert.equal(c.cwnd, 49 * MSS);
  });
});

import { ACK, LOCAL_ISS, seqAdd, inEstablished, inSynSent, REMOTE_ISS, SYN } from './harness.ts';

describe('connection-level congestion rules', () => {
  const L1 = seqAdd(LOCAL_ISS, 1);
  test('limited transmit: each of the first two duplicate ACKs releases one new segment beyond cwnd (RFC 3042)', () => {
    const f = inEstablished({ noDelay: true, sack: false, initialCwndSegments: 2 });
    f.conn.send(new Uint8Array(6 * 1460), 0);
    assert.equal(f.host.sent.length, 2, 'cwnd of two segments');
    const d1 = f.peer({ flags: ACK, ack: L1 });
    assert.equal(d1.filter((s) => s.payload.length > 0).length, 1, 'first duplicate ACK: one new segment');
    const d2 = f.peer({ flags: ACK, ack: L1 });
    assert.equal(d2.filter((s) => s.payload.length > 0).length, 1, 'second duplicate ACK: one more');
  });
  test('restart after idle: after more than an RTO without sending, cwnd falls back to the initial window (RFC 5681 §4.1)', () => {
    const f = inEstablished({ noDelay: true });
    // Grow cwnd with a few round trips, every segment acknowledged.
    let acked = 0;
    for (let i = 0; i < 3; i++) {
      const before = f.host.sent.length;
      f.conn.send(new Uint8Array(10 * 1460), f.now);
      f.now += 10_000;
      for (const seg of f.host.sent.slice(before)) {
        acked += seg.payload.length;
        f.peer({ flags: ACK, ack: seqAdd(L1, acked) });
      }
    }
    const grown = f.conn.cwnd;
    assert.ok(grown > 14600, `cwnd grew to ${grown}`);
    f.now += 10_000_000;
    f.conn.send(new Uint8Array(100), f.now);
    assert.ok(f.conn.cwnd <= 14600, `restarted at ${f.conn.cwnd}`);
  });
  test('D-SACK: a duplicate segment is reported in the first SACK block (RFC 2883 §4)', () => {
    const f = inSynSent();
    f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1, options: [{ kind: 'mss', value: 1460 }, { kind: 'sack-permitted' }] });
    const R1 = seqAdd(REMOTE_ISS, 1);
    f.peer({ flags: ACK, seq: R1, payload: new Uint8Array(100) });
    const dup = f.peer({ flags: ACK, seq: R1, payload: new Uint8Array(100) });
    const sack = dup.at(-1)!.options.find((o) => o.kind === 'sack') as { blocks: Array<[number, number]> } | undefined;
    assert.ok(sack, 'the ACK of a duplicate carries a SACK option');
    assert.deepEqual(sack.blocks[0], [R1, seqAdd(R1, 100)]);
  });
});
