/**
 * Zero windows and small windows on a long-lived connection: persistent
 * zero-window probing (RFC 1122 §4.2.2.17, RFC 9293 §3.8.6.1), what counts
 * as a duplicate ACK (RFC 5681 §2), the receiver's ACK of a probe at a zero
 * window (RFC 9293 §3.10.7.4), a fast retransmission that stays within
 * SND.MAX, and the sender's SWS override timer (RFC 9293 §3.8.6.2.1).
 *
 * The test plays the peer with a small scripted receiver: it takes in-order
 * bytes while its window is open and answers every segment with an ACK.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ACK, SYN, LOCAL_ISS, REMOTE_ISS, Fixture, inEstablished, inSynSent, seqAdd, expectSeg } from './harness.ts';
import type { TcpConfig } from '../../src/tcp/config.ts';
import type { TcpRepr } from '../../src/wire/types.ts';
import { Network } from '../../src/sim/network.ts';
import { Rng } from '../../src/base/rng.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import type { Connection } from '../../src/tcp/connection.ts';

const L1 = seqAdd(LOCAL_ISS, 1);
const MIN = 60_000_000;

function pattern(n: number): Uint8Array {
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = (i * 7 + (i >> 8)) & 0xff;
  return d;
}

/** ESTABLISHED with SACK negotiated (the peer's SYN,ACK offers it). */
function inEstablishedSack(cfg: Partial<TcpConfig> = {}): Fixture {
  const f = inSynSent(cfg);
  f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: L1, options: [{ kind: 'mss', value: 1460 }, { kind: 'sack-permitted' }] });
  f.peerSeq = seqAdd(REMOTE_ISS, 1);
  f.host.sent.length = 0;
  assert.ok(f.conn.sackEnabled);
  return f;
}

/** The scripted receiver: its stream offset (from L1), what it got, its window. */
class Receiver {
  nxt = 0;
  readonly got: Uint8Array;
  window = 65535;
  answering = true;
  constructor(size: number) {
    this.got = new Uint8Array(size);
  }
  /** Takes the in-order part of `s` that fits the window; returns whether it answers. */
  take(s: TcpRepr): void {
    const off = (s.seq - L1) >>> 0;
    if (this.window === 0 || s.payload.length === 0) return;
    if (off <= this.nxt && off + s.payload.length > this.nxt) {
      const from = this.nxt - off;
      const n = Math.min(s.payload.length - from, this.window);
      this.got.set(s.payload.subarray(from, from + n), this.nxt);
      this.nxt += n;
    }
  }
  get ack(): number {
    return seqAdd(L1, this.nxt);
  }
}

/**
 * Runs the connection's timers until `until` (virtual µs); the receiver
 * answers each segment at once. Returns the times of segments that carried
 * data (probes, while the window is closed).
 */
function runTimers(f: Fixture, r: Receiver, until: number): number[] {
  const dataTimes: number[] = [];
  for (let guard = 0; guard < 100_000; guard++) {
    const t = f.conn.nextDeadline();
    if (t === Infinity || t > until || f.state === 'CLOSED') return dataTimes;
    const sent = f.tick(t);
    deliver(f, r, sent, t, dataTimes);
  }
  throw new Error('timer loop did not settle');
}

function deliver(f: Fixture, r: Receiver, sent: TcpRepr[], t: number, dataTimes: number[] = []): void {
  let queue = sent;
  for (let hops = 0; queue.length > 0 && hops < 10_000; hops++) {
    const next: TcpRepr[] = [];
    for (const s of queue) {
      if (s.payload.length > 0) dataTimes.push(t);
      r.take(s);
      if (r.answering && f.state !== 'CLOSED') next.push(...f.peer({ flags: ACK, ack: r.ack, window: r.window, at: t }));
    }
    queue = next;
  }
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The reproduction: 7300 bytes in flight, the peer takes 1460 and closes its window. */
function zeroWindowWithDataInFlight(f: Fixture, size = 7300): { r: Receiver; data: Uint8Array } {
  const data = pattern(size);
  const r = new Receiver(size);
  const sent = f.call((c, now) => c.send(data, now)).sent;
  assert.equal(sent.length, 5, 'five full segments in flight');
  r.take(sent[0]!);
  r.window = 0;
  f.peer({ flags: ACK, ack: r.ack, window: 0, at: 20_000 });
  return { r, data };
}

describe('RFC 1122 §4.2.2.17 / RFC 9293 §3.8.6.1: a zero window with data in flight', () => {
  for (const sack of [false, true]) {
    test(`is probed persistently for 10 minutes while the peer answers, then resumes intact${sack ? ' (SACK and RACK-TLP on)' : ''}`, () => {
      const f = sack ? inEstablishedSack({ noDelay: true }) : inEstablished({ noDelay: true });
      const { r, data } = zeroWindowWithDataInFlight(f);
      const probes = runTimers(f, r, 20_000 + 10 * MIN);
      assert.equal(f.state, 'ESTABLISHED', 'a peer that answers probes is never dropped (MUST-37)');
      assert.ok(probes.length >= 8, `the window was probed (${probes.length} probes)`);
      const gaps = probes.slice(1).map((t, i) => t - probes[i]!);
      for (let i = 1; i < gaps.length; i++) assert.ok(gaps[i]! >= gaps[i - 1]!, `probe intervals never shrink: ${gaps.join(', ')}`);
      assert.ok(gaps.at(-1)! <= 120_000_000, `the interval is capped at 120 s (TCP_RTO_MAX): ${gaps.at(-1)}`);
      assert.ok(gaps.at(-1)! >= 60_000_000, `the interval backs off exponentially: ${gaps.join(', ')}`);
      assert.equal(r.nxt, 1460, 'nothing beyond the closed window was taken');
      // The window opens: the transfer resumes at once (no wait for a timer).
      r.window = 65535;
      const t = f.now + 1000;
      const resumed = f.peer({ flags: ACK, ack: r.ack, window: r.window, at: t });
      assert.ok(resumed.length > 0 && resumed[0]!.payload.length > 0, 'data goes out on the window update itself');
      deliver(f, r, resumed, t);
      runTimers(f, r, t + 10 * MIN);
      assert.equal(r.nxt, data.length, 'every byte arrived');
      assert.equal(sha(r.got), sha(data), 'intact');
      assert.equal(f.state, 'ESTABLISHED');
      assert.equal(f.conn.sndUna >>> 0, seqAdd(L1, data.length));
    });
  }

  test('is dropped only after R2 unanswered probes (dataRetries, as Linux tcp_retries2 counts probes)', () => {
    // (persistTimeoutUs off: the 15-minute zero-window hold limit is tested in timers.test.ts.)
    const f = inEstablished({ noDelay: true, dataRetries: 6, persistTimeoutUs: 0 });
    const { r } = zeroWindowWithDataInFlight(f);
    // The peer answers for a while (counting restarts with every answer) ...
    const answered = runTimers(f, r, 20_000 + 5 * MIN);
    assert.ok(answered.length > 6, `more than R2 probes while answered (${answered.length}), still open`);
    assert.equal(f.state, 'ESTABLISHED');
    // ... then goes silent: after R2 unanswered probes the connection is dropped.
    r.answering = false;
    const silent = runTimers(f, r, Infinity);
    assert.equal(f.state, 'CLOSED');
    assert.equal(silent.length, 6, 'exactly R2 unanswered probes');
    assert.ok(!f.host.drops.includes('tcp-persist-limit'));
    assert.deepEqual(f.host.events.at(-1), { type: 'closed', reason: 'timeout' });
  });

  test('the user timeout drops a connection whose probes go unanswered that long, not one whose probes are answered', () => {
    const f = inEstablished({ noDelay: true, userTimeoutUs: 30_000_000 });
    const { r } = zeroWindowWithDataInFlight(f);
    runTimers(f, r, 20_000 + 5 * MIN);
    assert.equal(f.state, 'ESTABLISHED', 'answered probes: open past the user timeout');
    r.answering = false;
    const since = f.now;
    runTimers(f, r, Infinity);
    assert.equal(f.state, 'CLOSED');
    assert.ok(f.now - since >= 30_000_000 && f.now - since <= 30_000_000 + 120_000_000, `dropped ${f.now - since} µs after the last answer`);
  });
});

describe('RFC 1122 §4.2.2.17: a zero window with only our FIN outstanding', () => {
  test('FIN-WAIT-1 stays open while the peer answers, then the FIN is taken when the window opens', () => {
    // (Hold limit off: a peer that answers may hold its window as long as it likes, MUST-37.)
    const f = inEstablished({ noDelay: true, persistTimeoutUs: 0 });
    const data = pattern(1000);
    const r = new Receiver(1000);
    deliver(f, r, f.call((c, now) => c.send(data, now)).sent, 0);
    assert.equal(r.nxt, 1000);
    // The reader stops: the peer's window is now zero, then we close.
    r.window = 0;
    f.peer({ flags: ACK, ack: r.ack, window: 0, at: 1000 });
    const fin = f.call((c, now) => c.close(now)).sent;
    assert.ok(fin.some((s) => s.flags & 0x01), 'the FIN goes out (it needs no window)');
    // A zero-window receiver does not take the FIN (it occupies sequence space) but ACKs it.
    const probes = runTimers(f, r, 30 * MIN);
    assert.equal(f.state, 'FIN-WAIT-1', 'a peer that answers is not dropped');
    const fins = f.host.sent.filter((s) => s.flags & 0x01);
    assert.ok(fins.length >= 10 && fins.length < 40, `FIN probes back off (${fins.length} in 30 min)`);
    assert.equal(probes.length, 0, 'no data into the closed window');
    r.window = 65535;
    const t = f.now + 1000;
    f.peer({ flags: ACK, ack: r.ack, window: r.window, at: t });
    assert.ok(f.host.sent.at(-1)!.flags & 0x01, 'the FIN goes again at once when the window opens');
    f.peer({ flags: ACK, ack: seqAdd(r.ack, 1), window: r.window, at: t + 1000 });
    assert.equal(f.state, 'FIN-WAIT-2');
  });
});

describe('RFC 5681 §2: replies to zero-window probes are not duplicate ACKs', () => {
  test('several probe replies never trigger a fast retransmit and leave ssthresh alone', () => {
    const f = inEstablished({ noDelay: true });
    f.peer({ flags: ACK, window: 0 });
    f.conn.send(pattern(5000), 0);
    const ssthresh = f.conn.ssthresh;
    const r = new Receiver(5000);
    r.window = 0;
    const probes = runTimers(f, r, 10 * MIN);
    assert.ok(probes.length >= 5, `several probes answered (${probes.length})`);
    const kinds = f.host.events.filter((e) => e.type === 'retransmit').map((e) => (e as { kind: string }).kind);
    assert.ok(!kinds.includes('fast'), `no fast retransmit: ${kinds.join(',')}`);
    assert.ok(!f.host.sent.some((s) => s.payload.length > 1), 'nothing but 1-byte probes went into the closed window');
    assert.equal(f.conn.ssthresh, ssthresh);
    assert.equal(f.conn.dupAcks, 0);
    assert.equal(f.conn.inRecovery, false);
  });
});

describe('RFC 9293 §3.10.7.4: a receiver with RCV.WND = 0', () => {
  test('acknowledges a probe at RCV.NXT (and drops its text)', () => {
    const f = inEstablished({ recvBufferBytes: 1000, delayedAckUs: 40_000 });
    const R1 = seqAdd(REMOTE_ISS, 1);
    f.peer({ flags: ACK, payload: new Uint8Array(1000) });
    f.tick(40_000);
    assert.equal(f.host.sent.at(-1)!.window, 0, 'the window is closed');
    const reply = f.peer({ flags: ACK, seq: seqAdd(R1, 1000), payload: new Uint8Array(1), at: 1_000_000 });
    expectSeg(reply[0], { flags: ACK, ack: seqAdd(R1, 1000) }, 'the probe is answered at once');
    assert.equal(reply[0]!.window, 0);
    assert.equal(f.conn.readable(), 1000, 'the probe byte is not taken');
    assert.ok(f.host.drops.includes('tcp-receive-window-full'), 'the dropped text is counted');
  });
});

describe('fast retransmit stays within SND.MAX', () => {
  test('a fast retransmission carries no never-sent bytes, and the ACK of it is accepted (no stall)', () => {
    const f = inEstablished({ noDelay: true, sack: false });
    // The peer's window is 400 bytes: four 100-byte segments fill it, more waits.
    f.peer({ flags: ACK, window: 400 });
    for (let i = 0; i < 4; i++) f.conn.send(pattern(100), f.now);
    f.conn.send(pattern(3000), f.now);
    const flight = f.host.sent.filter((s) => s.payload.length > 0);
    assert.equal(flight.length, 4);
    const sndMax = f.conn.sndMax;
    // The first is lost; three duplicate ACKs (window unchanged) trigger fast retransmit.
    let rtx: TcpRepr[] = [];
    for (let i = 0; i < 3; i++) rtx = f.peer({ flags: ACK, ack: L1, window: 400, at: 10_000 + i });
    const seg = rtx.find((s) => s.payload.length > 0);
    assert.ok(seg, 'fast retransmit');
    assert.equal(seg.seq, L1);
    assert.equal(seg.payload.length, ((sndMax - L1) >>> 0), 'the retransmission ends at SND.MAX: [SND.UNA, SND.MAX), nothing never sent');
    // The receiver had the other three: it ACKs everything the retransmission completes.
    const end = seqAdd(seg.seq, seg.payload.length);
    f.peer({ flags: ACK, ack: end, window: 400, at: 20_000 });
    assert.ok(!f.host.drops.includes('tcp-bad-ack'), 'the ACK is accepted');
    assert.equal(f.conn.sndUna >>> 0, end);
  });
});

describe('RFC 9293 §3.8.6.2.1 / RFC 1122 §4.2.3.4: the sender SWS override timer', () => {
  test('data held by SWS avoidance goes out within 1 s when the window stays small', () => {
    const f = inEstablished({ noDelay: true });
    // Max(SND.WND) = 65535; the window then stays at 1000 bytes (under half of it, under an MSS).
    f.conn.send(pattern(3000), 0);
    f.peer({ flags: ACK, ack: seqAdd(L1, 3000), window: 1000, at: 10_000 });
    f.conn.send(pattern(5000), f.now);
    assert.equal(f.host.sent.filter((s) => ((s.seq - L1) >>> 0) >= 3000 && s.payload.length > 0).length, 0, 'held by SWS avoidance');
    const t0 = f.now;
    const r = new Receiver(8000);
    r.nxt = 3000;
    r.window = 1000;
    const times = runTimers(f, r, t0 + 1_000_000);
    assert.ok(times.length > 0, 'the override timeout sent data within 1.0 s');
    const first = f.host.sent.find((s) => ((s.seq - L1) >>> 0) === 3000 && s.payload.length > 0)!;
    assert.equal(first.payload.length, 1000, 'min(D, U): all the window allows, not a 1-byte probe');
    assert.ok(times[0]! - t0 >= 100_000, 'not before 0.1 s');
  });
});

describe('the issue 10 "done when": a transfer to a synack peer that holds a zero window for 10 minutes', () => {
  test('resumes intact after the reader comes back; the receiver answered the probes (RFC 9293 §3.8.6.1)', () => {
    const A = parseIpv4Addr('10.0.0.1')!;
    const B = parseIpv4Addr('10.0.0.2')!;
    const net = new Network({ seed: 10 });
    const hub = net.addHub({ impair: { delayUs: 5000 } });
    const a = net.addStack({ name: 'sender' });
    const b = net.addStack({ name: 'reader', tcp: { recvBufferBytes: 65536 } });
    net.attach(a, hub, A);
    net.attach(b, hub, B);
    const data = new Uint8Array(1 << 20);
    new Rng(99).fill(data);
    let server: Connection | null = null;
    b.listen(80, { onConnection: (c) => (server = c) });
    const client = a.connect(B, 80);
    net.runUntil(() => client.state === 'ESTABLISHED' && server !== null);
    let off = 0;
    const push = (): void => {
      while (off < data.length) {
        const n = a.send(client, data.subarray(off, Math.min(data.length, off + 65536)));
        if (n === 0) break;
        off += n;
      }
    };
    let probeReplies = 0;
    b.addHook((ev) => {
      if (ev.type === 'segment' && ev.dir === 'out' && ev.tcp.window === 0 && ev.tcp.payload.length === 0) probeReplies++;
    });
    // Nobody reads for 10 minutes of virtual time.
    const t0 = net.clock.now();
    while (net.clock.now() < t0 + 10 * MIN) {
      push();
      if (!net.step()) break;
    }
    assert.equal(client.state, 'ESTABLISHED');
    assert.equal((server as unknown as Connection).state, 'ESTABLISHED');
    assert.ok(probeReplies >= 5, `the zero-window receiver answered the probes (${probeReplies} zero-window ACKs)`);
    // The reader returns.
    const got = createHash('sha256');
    let n = 0;
    net.runUntil(() => {
      push();
      for (const c of b.read(server!)) {
        got.update(c);
        n += c.length;
      }
      return n === data.length;
    }, { until: net.clock.now() + 5 * MIN });
    assert.equal(n, data.length, 'every byte arrived');
    assert.equal(got.digest('hex'), sha(data));
  });
});
