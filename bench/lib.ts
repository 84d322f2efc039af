/**
 * Shared helpers for the benchmarks: a two-stack in-memory network on a
 * VirtualClock with zero delay and unlimited bandwidth, and a driver loop
 * that runs it as fast as possible.
 */
import { Network } from '../src/sim/network.ts';
import type { Stack } from '../src/stack/stack.ts';
import type { Connection } from '../src/tcp/connection.ts';
import type { TcpConfig } from '../src/tcp/config.ts';
import { parseIpv4Addr } from '../src/wire/bytes.ts';
import { parseIpAddr, type IpAddr } from '../src/wire/ipv6.ts';

export const CLIENT_ADDR = parseIpv4Addr('10.0.0.1')!;
export const SERVER_ADDR = parseIpv4Addr('10.0.0.2')!;
export const CLIENT_ADDR6 = parseIpAddr('fd00::1')!;
export const SERVER_ADDR6 = parseIpAddr('fd00::2')!;
export type Family = 4 | 6;
/** The server's address in `family`. */
export const serverAddr = (family: Family): IpAddr => (family === 6 ? SERVER_ADDR6 : SERVER_ADDR);

export interface PairOptions {
  mtu: number;
  /** Skip checksums on the in-memory hub (the default when it cannot corrupt). */
  checksumOffload: boolean;
  tcp: Partial<TcpConfig>;
  /** The addresses both stacks get (default 4: 10.0.0.1 and 10.0.0.2; 6: fd00::1 and fd00::2). */
  family?: Family;
}

export interface Pair {
  net: Network;
  client: Stack;
  server: Stack;
}

/** Two stacks on one hub: zero link delay, unlimited bandwidth, no impairment. */
export function makePair(opts: PairOptions): Pair {
  const net = new Network({ seed: 1 });
  const hub = net.addHub({ mtu: opts.mtu, checksumOffload: opts.checksumOffload });
  const client = net.addStack({ name: 'client', tcp: opts.tcp });
  const server = net.addStack({ name: 'server', tcp: opts.tcp });
  const v6 = opts.family === 6;
  net.attach(client, hub, v6 ? CLIENT_ADDR6 : CLIENT_ADDR, v6 ? 64 : undefined);
  net.attach(server, hub, v6 ? SERVER_ADDR6 : SERVER_ADDR, v6 ? 64 : undefined);
  return { net, client, server };
}

export const MiB = 1024 * 1024;

/** Seconds since an arbitrary origin (monotonic). */
export function nowSec(): number {
  return performance.now() / 1000;
}

/**
 * `pairs` idle connection pairs on one in-memory network (default
 * TcpConfig: idle connections allocate no buffers): one warm-up cycle
 * first (code paths, lazily made structures), then `measure('before')`,
 * the pairs established, a virtual second for delayed ACKs and short
 * timers, `measure('after')`. Returns both measurements; everything stays
 * reachable until after the second (bench/idle-memory.ts,
 * bench/heap-breakdown.ts).
 */
export async function idlePairs<T>(pairs: number, measure: () => T | Promise<T>, opts: { late?: boolean } = {}): Promise<{ before: T; after: T; armedTimers: number }> {
  const { net: network, client, server } = makePair({ mtu: 1500, checksumOffload: true, tcp: {} });
  // --late: a clock past 2^32 µs (fields holding times no longer fit a small integer).
  if (opts.late) network.runFor(2 ** 32);
  const accepted: Connection[] = [];
  server.listen(80, { backlog: 65535, onConnection: (c) => accepted.push(c) });
  const w = client.connect(SERVER_ADDR, 80);
  network.runUntil(() => accepted.length === 1 && w.state === 'ESTABLISHED');
  client.abort(w);
  network.runUntilIdle();
  accepted.length = 0;
  const conns: Connection[] = new Array(pairs);
  const before = await measure();
  for (let i = 0; i < pairs; i++) {
    conns[i] = client.connect(SERVER_ADDR, 80);
    if (i % 256 === 255) network.runDue();
  }
  network.runUntil(() => accepted.length === pairs);
  network.runFor(1_000_000);
  const after = await measure();
  for (const c of conns) if (c.state !== 'ESTABLISHED') throw new Error(`not established: ${c.state}`);
  const armedTimers = client.armedTimers + server.armedTimers;
  // Keep everything alive until after the measurement.
  if (conns.length + accepted.length < 0) console.log(network);
  return { before, after, armedTimers };
}

