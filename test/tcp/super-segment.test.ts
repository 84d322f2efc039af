/**
 * Super-segments (issue 14 items 2-3): on a path whose link segments TCP
 * itself (ConnectionHost.gsoMaxSegment > 0: a TUN/TAP device with TSO), new
 * data leaves as one segment of several MSS with a gso_size of the MSS;
 * cut as the device cuts it (PSH and FIN on the last piece only), it must
 * be exactly the segments the connection sends one by one without the
 * capability. Retransmissions (fast, RACK, TLP, RTO go-back-N, persist)
 * are always segments of at most one MSS.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Connection } from '../../src/tcp/connection.ts';
import { ACK, FIN, PSH, SYN, type TcpRepr } from '../../src/wire/types.ts';
import { Fixture, LOCAL, LOCAL_ISS, REMOTE, REMOTE_ISS, seqAdd, TestHost } from './harness.ts';
import type { TcpConfig } from '../../src/tcp/config.ts';
import { concatBytes } from '../../src/wire/bytes.ts';

interface Sent {
  seg: TcpRepr;
  /** The whole payload (seg.payload then the `more` views). */
  payload: Uint8Array;
  gsoSize: number;
}

/** A host whose path takes super-segments of up to `max` octets (TCP header and payload). */
class GsoHost extends TestHost {
  out: Sent[] = [];
  constructor(readonly max: number) {
    super();
  }
  override transmit(c: Connection, seg: TcpRepr): void {
    super.transmit(c, seg);
    this.out.push({ seg, payload: seg.payload, gsoSize: 0 });
  }
  transmitParts(c: Connection, seg: TcpRepr, more: readonly Uint8Array[] | null, _ipEcn: number, gsoSize = 0): void {
    const payload = concatBytes([seg.payload, ...(more ?? [])]).slice();
    const whole = { ...seg, payload };
    super.transmit(c, whole);
    this.out.push({ seg: whole, payload, gsoSize });
  }
  gsoMaxSegment(): number {
    return this.max;
  }
}

/** What the device makes of what was sent: every super-segment cut into segments of gso_size, PSH/FIN on the last only. */
function wire(out: Sent[]): TcpRepr[] {
  const segs: TcpRepr[] = [];
  for (const s of out) {
    if (s.gsoSize === 0 || s.payload.length <= s.gsoSize) {
      segs.push({ ...s.seg, payload: s.payload });
      continue;
    }
    for (let off = 0; off < s.payload.length; off += s.gsoSize) {
      const last = off + s.gsoSize >= s.payload.length;
      segs.push({ ...s.seg, seq: (s.seg.seq + off) >>> 0, flags: last ? s.seg.flags : s.seg.flags & ~(PSH | FIN), payload: s.payload.slice(off, off + s.gsoSize) });
    }
  }
  return segs;
}

/** A connection in ESTABLISHED with `host` (MSS 1460 both ways; SACK when asked). */
function established(host: TestHost, cfg: Partial<TcpConfig>, sack: boolean): Fixture {
  const f = new Fixture(cfg, host);
  f.conn.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, 0);
  f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: seqAdd(LOCAL_ISS, 1), window: 65535, options: [{ kind: 'mss', value: 1460 }, ...(sack ? [{ kind: 'sack-permitted' as const }] : [])] });
  f.peerSeq = seqAdd(REMOTE_ISS, 1);
  host.sent.length = 0;
  if (host instanceof GsoHost) host.out.length = 0;
  return f;
}

function data(n: number, salt = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + salt) & 0xff;
  return b;
}

/** The same user calls and peer ACKs against two hosts; ACKs acknowledge what the plain host sent (the same sequence space). */
type Step = (f: Fixture, sentSoFar: TcpRepr[]) => void;

function runBoth(cfg: Partial<TcpConfig>, sack: boolean, steps: Step[]): { plain: TcpRepr[]; gso: Sent[]; cut: TcpRepr[] } {
  const plainHost = new TestHost();
  const gsoHost = new GsoHost(65535 - 20);
  const a = established(plainHost, cfg, sack);
  const b = established(gsoHost, cfg, sack);
  for (const st of steps) {
    st(a, plainHost.sent);
    st(b, wire(gsoHost.out));
  }
  return { plain: plainHost.sent, gso: gsoHost.out, cut: wire(gsoHost.out) };
}

const mss = (f: Fixture): number => f.conn.sndMss - (f.conn as unknown as { optionOverhead(): number }).optionOverhead();

describe('super-segments: new data as one segment the link cuts', () => {
  test('100 KB written with cwnd 10 MSS: one write of 10 × MSS with gso_size = MSS (no per-MSS segment); cut, the very segments sent without the capability', () => {
    const { plain, gso, cut } = runBoth({ noDelay: false }, false, [(f) => f.conn.send(data(100_000), f.now)]);
    assert.equal(gso.length, 1, 'one transmission');
    const m = 1460; // no timestamps negotiated
    assert.equal(gso[0]!.gsoSize, m);
    assert.equal(gso[0]!.payload.length, 10 * m);
    assert.equal(gso[0]!.seg.flags, ACK, 'no PSH: more data follows');
    assert.equal(plain.length, 10);
    assert.deepEqual(cut, plain);
  });

  test('a whole exchange (slow start over several ACKs, a short tail, FIN): cut super-segments equal the segments sent one by one, ACK for ACK', () => {
    const steps: Step[] = [(f) => f.conn.send(data(300_001, 3), f.now)];
    for (let i = 0; i < 30; i++) {
      steps.push((f, sent) => {
        // The peer acknowledges everything sent so far, 1 ms later.
        const last = sent[sent.length - 1];
        if (!last) return;
        const end = seqAdd(last.seq, last.payload.length + (last.flags & FIN ? 1 : 0));
        f.peer({ ack: end, at: f.now + 1000 });
        if (i === 20) f.conn.close(f.now);
      });
    }
    for (const noDelay of [false, true]) {
      const { plain, gso, cut } = runBoth({ noDelay }, false, steps);
      assert.deepEqual(cut, plain, `noDelay ${noDelay}`);
      assert.ok(gso.some((s) => s.gsoSize > 0 && s.payload.length >= 20 * s.gsoSize), 'some super-segments of 20 MSS or more');
      assert.ok(gso.length < plain.length / 5, `${gso.length} transmissions for ${plain.length} segments`);
    }
  });

  test('the short tail rides in the super-segment only when it would go at once (noDelay or FIN), else Nagle holds it as before', () => {
    const m = 1460;
    const nagle = runBoth({ noDelay: false }, false, [(f) => f.conn.send(data(5 * m + 100), f.now)]);
    assert.equal(nagle.gso.length, 1);
    assert.equal(nagle.gso[0]!.payload.length, 5 * m, 'the 100-octet tail waits (Nagle, RFC 9293 §3.7.4)');
    assert.deepEqual(nagle.cut, nagle.plain);
    const nd = runBoth({ noDelay: true }, false, [(f) => f.conn.send(data(5 * m + 100), f.now)]);
    assert.equal(nd.gso.length, 1);
    assert.equal(nd.gso[0]!.payload.length, 5 * m + 100);
    assert.equal(nd.gso[0]!.seg.flags, ACK | PSH, 'PSH on the super-segment: the device keeps it on the last piece only');
    assert.deepEqual(nd.cut, nd.plain);
    // The data and the FIN queued while the peer's window is closed: when
    // it opens, the tail and the FIN ride on the super-segment.
    const fin = runBoth({ noDelay: false }, false, [
      (f) => f.peer({ ack: f.conn.sndNxt, window: 0, at: 1000 }),
      (f) => {
        f.conn.send(data(5 * m + 100), f.now);
        f.conn.close(f.now);
      },
      (f) => f.peer({ ack: f.conn.sndUna, window: 65535, at: 2000 }),
    ]);
    const last = fin.gso[fin.gso.length - 1]!;
    assert.equal(last.payload.length, 5 * m + 100);
    assert.equal(last.gsoSize, m);
    assert.equal(last.seg.flags, ACK | PSH | FIN);
    assert.deepEqual(fin.cut, fin.plain);
  });

  test('a single segment of data, or a capability of 0, goes as before (no gso_size)', () => {
    const one = runBoth({}, false, [(f) => f.conn.send(data(1000), f.now)]);
    assert.deepEqual(one.gso.map((s) => s.gsoSize), [0]);
    const host = new GsoHost(0);
    const f = established(host, {}, false);
    f.conn.send(data(50_000), f.now);
    assert.ok(host.out.every((s) => s.gsoSize === 0 && s.payload.length <= mss(f)));
    assert.equal(host.out.length, 10);
  });

  test('cwnd and in-flight stay in bytes: SND.NXT advances by the whole super-segment, the scoreboard holds one entry per MSS piece', () => {
    const host = new GsoHost(65535 - 20);
    const f = established(host, {}, true);
    f.conn.send(data(100_000), f.now);
    assert.equal(host.out.length, 1);
    const m = mss(f);
    assert.equal(f.conn.sndNxt, seqAdd(LOCAL_ISS, 1 + 10 * m));
    const board = (f.conn as unknown as { board: { pipe(a: number, b: number): number; firstLost(): unknown } }).board;
    assert.equal(board.pipe(f.conn.sndUna, f.conn.sndNxt), 10 * m);
    const segs = (board as unknown as { segsArr: Array<{ start: number; end: number }> }).segsArr;
    assert.equal(segs.length, 10);
    assert.ok(segs.every((s) => ((s.end - s.start) >>> 0) === m));
  });
});

describe('super-segments: every retransmission is cut to the MSS', () => {
  test('a loss inside a super-segment, SACKed around: RACK / fast retransmit resends that one MSS, as a plain segment', () => {
    const host = new GsoHost(65535 - 20);
    const f = established(host, { rack: true }, true);
    const m = mss(f);
    f.conn.send(data(200_000), f.now);
    assert.equal(host.out.length, 1);
    const base = seqAdd(LOCAL_ISS, 1);
    // Piece 2 (of 10) is lost; the peer SACKs pieces 3.. as they arrive.
    f.peer({ ack: seqAdd(base, 2 * m), at: 10_000 });
    host.out.length = 0;
    for (let k = 3; k <= 9; k++) {
      f.peer({ ack: seqAdd(base, 2 * m), at: 10_000 + k * 100, options: [{ kind: 'sack', blocks: [[seqAdd(base, 3 * m), seqAdd(base, (k + 1) * m)]] }] });
    }
    f.tick(400_000);
    const rtx = host.out.filter((s) => ((s.seg.seq - base) >>> 0) < 10 * m && s.seg.seq !== undefined && ((s.seg.seq - base) >>> 0) >= 2 * m && ((s.seg.seq - base) >>> 0) < 3 * m);
    assert.ok(rtx.length >= 1, 'the lost piece was retransmitted');
    for (const s of rtx) {
      assert.equal(s.gsoSize, 0, 'a retransmission is never a super-segment');
      assert.ok(s.payload.length <= m);
    }
    assert.equal(rtx[0]!.seg.seq, seqAdd(base, 2 * m));
    assert.equal(rtx[0]!.payload.length, m);
    // Nothing SACKed went again.
    assert.ok(!host.out.some((s) => s.gsoSize === 0 && ((s.seg.seq - base) >>> 0) >= 3 * m && ((s.seg.seq - base) >>> 0) < 10 * m), 'no SACKed piece resent');
  });

  test('an RTO: go-back-N from SND.UNA in segments of the MSS, never a super-segment below SND.MAX', () => {
    for (const sack of [false, true]) {
      const host = new GsoHost(65535 - 20);
      const f = established(host, {}, sack);
      const m = mss(f);
      f.conn.send(data(200_000), f.now);
      assert.equal(host.out.length, 1);
      const sndMax = f.conn.sndMax;
      host.out.length = 0;
      // Nothing is acknowledged: the retransmission timer fires (and again, backed off).
      f.tick(1_100_000);
      f.peer({ ack: seqAdd(LOCAL_ISS, 1 + m), at: 1_200_000 });
      f.peer({ ack: seqAdd(LOCAL_ISS, 1 + 3 * m), at: 1_300_000 });
      const below = host.out.filter((s) => s.seg.payload.length > 0 && ((sndMax - s.seg.seq) >>> 0) > 0 && ((sndMax - s.seg.seq) >>> 0) < 0x80000000);
      assert.ok(below.length >= 2, `sack ${sack}: retransmissions happened`);
      for (const s of below) {
        assert.equal(s.gsoSize, 0, `sack ${sack}: no super-segment below SND.MAX`);
        assert.ok(s.payload.length <= m);
      }
    }
  });

  test('a tail loss probe and a zero-window probe are single segments', () => {
    const host = new GsoHost(65535 - 20);
    const f = established(host, { rack: true }, true);
    const m = mss(f);
    f.conn.send(data(5 * m), f.now);
    // An RTT sample first, so that a PTO is armed.
    f.peer({ ack: seqAdd(LOCAL_ISS, 1 + m), at: 20_000 });
    host.out.length = 0;
    f.tick(1_000_000);
    assert.ok(host.out.length >= 1);
    assert.ok(host.out.every((s) => s.gsoSize === 0 && s.payload.length <= m), 'probe of at most one MSS');
    // Zero window: everything acknowledged, the window closed, more data queued.
    const g = established(new GsoHost(65535 - 20), {}, false);
    const gh = g.host as GsoHost;
    g.conn.send(data(3 * m), g.now);
    g.peer({ ack: seqAdd(LOCAL_ISS, 1 + 3 * m), window: 0, at: 10_000 });
    g.conn.send(data(20 * m), g.now);
    gh.out.length = 0;
    for (let t = 1; t <= 5; t++) g.tick(t * 2_000_000);
    assert.ok(gh.out.length >= 1, 'persist probes went');
    assert.ok(gh.out.every((s) => s.gsoSize === 0 && s.payload.length <= 1));
  });
});
