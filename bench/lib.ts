/**
 * Shared helpers for the benchmarks: a two-stack in-memory network on a
 * VirtualClock with zero delay and unlimited bandwidth, and a driver loop
 * that runs it as fast as possible.
 */
import { Network } from '../src/sim/network.ts';
import type { Stack } from '../src/stack/stack.ts';
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
