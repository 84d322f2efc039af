/**
 * Packetization-layer path MTU discovery upward (RFC 4821 §7,
 * tcp/mtu-probe.ts): after a black-hole fallback the connection probes for
 * a larger MSS. Two stacks on the in-memory hub under the virtual clock;
 * the hub's `mtu` drops larger packets silently (a tunnel that sends no
 * ICMP: a black hole).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Network } from '../../src/sim/network.ts';
import { Rng } from '../../src/base/rng.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import type { Connection } from '../../src/tcp/connection.ts';
import type { TcpConfig } from '../../src/tcp/config.ts';
import type { ConnectionEvent } from '../../src/tcp/events.ts';
import { MTU_PROBE_THRESHOLD, MTU_REPROBE_US } from '../../src/tcp/mtu-probe.ts';

const A = parseIpv4Addr('10.0.0.1')!;
const B = parseIpv4Addr('10.0.0.2')!;

type ProbeEvent = Extract<ConnectionEvent, { type: 'pmtu-probe' }>;

/** Stacks A (sender) and B (receiver) on a hub with 5 ms of delay each way. */
function rig(tcp: Partial<TcpConfig> = {}, seed = 21, impair: Record<string, number> = {}) {
  const net = new Network({ seed });
  const hub = net.addHub({ checksumOffload: false, impair: { delayUs: 5000, ...impair } });
  const cfg = { sendBufferBytes: 256 * 1024, recvBufferBytes: 256 * 1024, ...tcp };
  const a = net.addStack({ name: 'a', tcp: cfg });
  const b = net.addStack({ name: 'b', tcp: cfg });
  net.attach(a, hub, A);
  net.attach(b, hub, B);
  return { net, hub, a, b };
}

/**
 * A bulk transfer A → B of `size` bytes. Records A's probe events with the
 * congestion state at each, and the largest data packet A sent.
 */
function bulk(r: ReturnType<typeof rig>, size: number, initialLimit = size) {
  const data = new Uint8Array(size);
  new Rng(7).fill(data);
  const got = createHash('sha256');
  let received = 0;
  r.b.listen(80, {
    onConnection: (c) => {
      c.user = {
        onEvent: (conn: Connection, ev: { type: string }) => {
          if (ev.type === 'readable') for (const chunk of r.b.read(conn)) {
            got.update(chunk);
            received += chunk.length;
          }
        },
      };
    },
  });
  const conn = r.a.connect(B, 80);
  const probes: Array<ProbeEvent & { cwnd: number; ssthresh: number; at: number }> = [];
  let off = 0;
  /** The application writes no further than this (to pause the transfer). */
  let limit = initialLimit;
  let pumping = false;
  // Events come synchronously from inside send() too (a probe goes out):
  // the pump must not re-enter itself.
  const pump = (): void => {
    if (pumping) return;
    pumping = true;
    while (off < limit && conn.state === 'ESTABLISHED') {
      const n = r.a.send(conn, data.subarray(off, Math.min(limit, off + 65536)));
      if (n === 0) break;
      off += n;
    }
    pumping = false;
  };
  conn.user = {
    onEvent: (c: Connection, ev: ConnectionEvent) => {
      if (ev.type === 'pmtu-probe') {
        const st = c.status();
        probes.push({ ...ev, cwnd: st.cwnd, ssthresh: st.ssthresh, at: r.net.clock.now() });
      }
      pump();
    },
  };
  return {
    conn,
    probes,
    done: () => received === size,
    /** Lets the application write up to `bytes` of the stream. */
    release: (bytes: number) => {
      limit = Math.min(size, bytes);
      pump();
    },
    received: () => received,
    sameBytes: () => got.copy().digest('hex') === createHash('sha256').update(data).digest('hex'),
  };
}

describe('RFC 4821 §7: path MTU probing after a black hole', () => {
  test('RFC 4821 §7: after a black-hole fallback to 1024 the connection probes upward and regains the path MSS of 1460', () => {
    const r = rig();
    const t = bulk(r, 6_000_000);
    r.net.runUntil(() => t.received() > 100_000);
    r.hub.mtu = 1200; // silently: no ICMP
    r.net.runUntil(() => r.a.counters.pmtuBlackholes === 1, { until: 600_000_000 });
    assert.equal(t.conn.status().sndMss, 1024, 'fell back to the base MSS');
    r.hub.mtu = 1500; // the path heals
    r.net.runUntil(() => t.done(), { until: 600_000_000 });
    assert.ok(t.sameBytes(), 'byte-identical');
    assert.equal(t.conn.status().sndMss, 1460, 'the full MSS is back');
    const outcomes = t.probes.filter((p) => p.outcome === 'success' || p.outcome === 'failure' || p.outcome === 'inconclusive');
    const ok = t.probes.filter((p) => p.outcome === 'success');
    assert.ok(outcomes.length >= 2 && outcomes.length <= 12, `${outcomes.length} probes`);
    assert.equal(ok.at(-1)!.size, 1460);
    // A binary search: each successful probe is larger than the last.
    for (let i = 1; i < ok.length; i++) assert.ok(ok[i]!.size > ok[i - 1]!.size);
  });

  for (const sack of [true, false]) {
    test(`RFC 4821 §7.3: over a 1400-byte path the MSS converges to within the search threshold of 1360 (${sack ? 'SACK/RACK' : 'NewReno'})`, () => {
      const r = rig({ sack });
      const t = bulk(r, 6_000_000);
      r.net.runUntil(() => t.received() > 100_000);
      r.hub.mtu = 1400;
      r.net.runUntil(() => t.done(), { until: 900_000_000 });
      assert.ok(t.sameBytes(), 'byte-identical');
      assert.equal(r.a.counters.pmtuBlackholes, 1);
      const mss = t.conn.status().sndMss;
      assert.ok(mss <= 1360 && mss > 1360 - MTU_PROBE_THRESHOLD, `MSS ${mss}`);
      assert.ok(t.probes.some((p) => p.outcome === 'failure'), 'a probe too large for the path failed');
    });

    test(`RFC 4821 §7.6.2: a lost probe lowers the search ceiling without a congestion response: cwnd and ssthresh unchanged (${sack ? 'SACK/RACK' : 'NewReno'})`, () => {
      const r = rig({ sack });
      const t = bulk(r, 6_000_000);
      r.net.runUntil(() => t.received() > 100_000);
      r.hub.mtu = 1400;
      r.net.runUntil(() => t.done(), { until: 900_000_000 });
      assert.ok(t.sameBytes());
      const failures = t.probes.filter((p) => p.outcome === 'failure');
      assert.ok(failures.length >= 1, 'a probe failed');
      for (const f of failures) {
        assert.ok(f.high < f.size, `search_high ${f.high} fell below the failed probe ${f.size}`);
        // The ceiling is the probe size minus one.
        assert.equal(f.high, f.size - 1);
      }
      // From the first probe on, the only losses on this path are probes too
      // large for it: ssthresh never changes again and cwnd never falls.
      const after = t.probes.filter((p) => p.outcome !== 'start');
      for (const p of after) assert.equal(p.ssthresh, after[0]!.ssthresh, `ssthresh at ${p.outcome} ${p.size}`);
      for (let i = 1; i < after.length; i++) assert.ok(after[i]!.cwnd >= after[i - 1]!.cwnd, `cwnd fell at ${after[i]!.outcome} ${after[i]!.size}`);
      assert.equal(r.a.counters.retransmitTimeouts, 3, 'no timeout after the three that found the black hole');
    });
  }

  test('RFC 4821 §7.6: no byte is lost and the stream stays intact across probes on a lossy path', () => {
    const r = rig({}, 5, { loss: 0.01 });
    const t = bulk(r, 3_000_000);
    r.net.runUntil(() => t.received() > 100_000, { until: 600_000_000 });
    r.hub.mtu = 1300;
    r.net.runUntil(() => t.done(), { until: 3_600_000_000 });
    assert.ok(t.done(), `${t.received()} bytes received`);
    assert.ok(t.sameBytes(), 'byte-identical');
    assert.ok(t.probes.some((p) => p.outcome === 'success'));
    assert.ok(t.conn.status().sndMss <= 1260);
  });

  test('RFC 4821 §7.3: after converging, the search reopens after 10 minutes and finds a path that grew', () => {
    const r = rig();
    const t = bulk(r, 9_000_000, 3_000_000);
    r.net.runUntil(() => t.received() > 100_000);
    r.hub.mtu = 1300;
    r.net.runUntil(() => t.received() === 3_000_000, { until: 600_000_000 });
    const converged = t.conn.status().sndMss;
    assert.ok(converged <= 1260 && converged > 1260 - MTU_PROBE_THRESHOLD, `MSS ${converged}`);
    const t0 = t.probes.filter((p) => p.outcome === 'success' || p.outcome === 'failure').at(-1)!.at;
    r.hub.mtu = 1500; // the path grows back
    // Within the interval the converged search does not probe again.
    r.net.runFor(60_000_000);
    t.release(6_000_000);
    r.net.runUntil(() => t.received() === 6_000_000, { until: 900_000_000 });
    assert.equal(t.conn.status().sndMss, converged, 'no probing before the interval');
    assert.equal(t.probes.filter((p) => p.at > t0).length, 0);
    // After it, the search reopens and finds the whole path.
    r.net.runFor(t0 + MTU_REPROBE_US - r.net.clock.now());
    t.release(9_000_000);
    r.net.runUntil(() => t.done(), { until: 2 * MTU_REPROBE_US });
    assert.ok(t.sameBytes(), 'byte-identical');
    assert.equal(t.conn.status().sndMss, 1460, 'the search reopened and found the whole path');
    // Reopened 10 minutes after the search began: RFC 4821 §7.3's timer and
    // the fallback's path MTU estimate aging out (RFC 1191 §6.3) agree.
    const start = t.probes.find((p) => p.outcome === 'start')!;
    const reprobe = t.probes.find((p) => p.outcome === 'reprobe');
    assert.ok(reprobe && reprobe.at - start.at >= MTU_REPROBE_US, 'reopened after the interval');
  });

  test('RFC 4821: a connection that never met a black hole sends no probe (Linux tcp_mtu_probing=1)', () => {
    const r = rig();
    const t = bulk(r, 1_000_000);
    r.net.runUntil(() => t.done());
    assert.equal(t.probes.length, 0);
    assert.equal(t.conn.status().sndMss, 1460);
  });
});

