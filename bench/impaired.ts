/**
 * Goodput under impairment on the in-memory network, in virtual time: a bulk
 * transfer over a path with a given RTT, bottleneck and random loss, for
 * each congestion controller; and the time one lost segment costs when
 * recovered by RTO, by fast recovery (NewReno, no SACK), and by RACK-TLP.
 * Deterministic (seeded), so the figures are exact for the seed.
 */
import { Network } from '../src/sim/network.ts';
import { parseIpv4Addr } from '../src/wire/bytes.ts';
import type { TcpConfig } from '../src/tcp/config.ts';
import type { Connection } from '../src/tcp/connection.ts';

const A = parseIpv4Addr('10.0.0.1')!;
const B = parseIpv4Addr('10.0.0.2')!;

export interface PathSpec {
  rttMs: number;
  bandwidthMbps: number;
  loss: number;
  /** Bottleneck queue in packets (default: 1.5 × BDP). */
  queue?: number;
}

/** Sends `bytes` from A to B; returns goodput in Mbit/s of virtual time and retransmissions. */
export function transferOver(path: PathSpec, bytes: number, tcp: Partial<TcpConfig>, seed = 1): { mbps: number; seconds: number; retransmits: number } {
  const net = new Network({ seed });
  const bdpPackets = Math.ceil((path.bandwidthMbps * 1e6 * (path.rttMs / 1000)) / 8 / 1500);
  const hub = net.addHub({
    impair: { delayUs: (path.rttMs * 1000) / 2, bandwidthBps: path.bandwidthMbps * 1e6, loss: path.loss, queueLimit: path.queue ?? Math.ceil(bdpPackets * 1.5) },
  });
  const cfg: Partial<TcpConfig> = { recvBufferBytes: 8 << 20, sendBufferBytes: 8 << 20, mslUs: 1000, ...tcp };
  const a = net.addStack({ tcp: cfg });
  const b = net.addStack({ tcp: cfg });
  net.attach(a, hub, A);
  net.attach(b, hub, B);
  let server: Connection | null = null;
  let received = 0;
  b.listen(80, { onConnection: (c) => (server = c) });
  const c = a.connect(B, 80);
  const chunk = new Uint8Array(256 * 1024);
  let sent = 0;
  const start = net.clock.now();
  let guard = 0;
  while (received < bytes) {
    if (++guard > 50_000_000) throw new Error('transfer stalled');
    if (c.state === 'ESTABLISHED') {
      while (sent < bytes) {
        const n = a.send(c, chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
        if (n === 0) break;
        sent += n;
      }
    }
    const s = server as Connection | null;
    if (s) for (const part of b.read(s)) received += part.length;
    if (!net.step()) break;
  }
  const seconds = (net.clock.now() - start) / 1e6;
  return { mbps: (received * 8) / seconds / 1e6, seconds, retransmits: a.counters.retransmits };
}

/**
 * The cost of one lost segment: a short request/response exchange where the
 * n-th data segment of a 10-segment write is dropped; returns the extra
 * completion time versus no loss, in ms.
 */
export function singleLossCost(tcp: Partial<TcpConfig>, dropIndex: number, rttMs = 50): number {
  const run = (drop: boolean): number => {
    const net = new Network({ seed: 5 });
    const hub = net.addHub({ impair: { delayUs: (rttMs * 1000) / 2 } });
    const cfg: Partial<TcpConfig> = { mslUs: 1000, noDelay: true, ...tcp };
    const a = net.addStack({ tcp: cfg });
    const b = net.addStack({ tcp: cfg });
    net.attach(a, hub, A);
    net.attach(b, hub, B);
    let server: Connection | null = null;
    b.listen(80, { onConnection: (c) => (server = c) });
    const c = a.connect(B, 80);
    net.runUntil(() => server !== null && c.state === 'ESTABLISHED');
    // Warm the RTT estimator with one exchange.
    a.send(c, new Uint8Array(100));
    net.runUntil(() => (server as Connection | null)!.readable() === 100);
    b.read(server!);
    net.runUntil(() => c.sndUna === c.sndMax);
    let dataSeen = 0;
    const port = hub.ports[0]!;
    const orig = port.transmit.bind(port);
    port.transmit = (pkt: Uint8Array) => {
      const len = pkt.length - 20 - ((pkt[32]! >> 4) * 4);
      if (len > 0) {
        dataSeen++;
        if (drop && dataSeen === dropIndex) return; // lost on the wire
      }
      orig(pkt);
    };
    const t0 = net.clock.now();
    const total = 10 * 1448;
    a.send(c, new Uint8Array(total));
    let got = 0;
    net.runUntil(() => {
      for (const p of b.read(server!)) got += p.length;
      return got >= total;
    });
    return (net.clock.now() - t0) / 1000;
  };
  return run(true) - run(false);
}

