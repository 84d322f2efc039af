/**
 * A million established connections in one process (issue 14, item 5).
 * Run in a child process with `--expose-gc` and a large heap (bench/main.ts
 * does this):
 *
 *   node --expose-gc --max-old-space-size=8192 --import tsx bench/million.ts 500000
 *
 * N pairs: one server stack listening on port 80 and ceil(N / 60000) client
 * stacks (a stack's ephemeral ports are 1024..65535 here, so one client
 * address holds at most 64,512 connections — as for one Linux source
 * address towards one server port), all on one in-memory hub under the
 * virtual clock. Each pair is two Connections, so N = 500,000 is 1,000,000
 * connections.
 *
 * It measures: the wall time to establish all of them (3-way handshakes,
 * connected in batches), the heap per connection after full GCs, the
 * timers still armed after a virtual minute of idleness (must be 0: an idle
 * connection arms none), and that every connection still works at the end:
 * each client sends one byte and every server-side connection receives it.
 * Prints one JSON line.
 */
import { Network } from '../src/sim/network.ts';
import type { Connection } from '../src/tcp/connection.ts';
import type { Stack } from '../src/stack/stack.ts';
import { parseIpv4Addr } from '../src/wire/bytes.ts';

export interface MillionResult {
  pairs: number;
  connections: number;
  clients: number;
  establishSec: number;
  handshakesPerSec: number;
  heapPerConn: number;
  rssPerConn: number;
  armedTimersIdle: number;
  carriedByte: number;
  byteSec: number;
}

const PER_CLIENT = 60_000;
const gc = (globalThis as { gc?: () => void }).gc;

async function settle(): Promise<void> {
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

export async function million(pairs: number): Promise<MillionResult> {
  const net = new Network({ seed: 1 });
  const hub = net.addHub({ mtu: 1500, checksumOffload: true });
  // Default TCP configuration (no keepalive): an idle connection needs no timer.
  const server = net.addStack({ name: 'server', maxConnections: pairs + 16 });
  net.attach(server, hub, parseIpv4Addr('10.0.0.1')!, 8);
  const nClients = Math.ceil(pairs / PER_CLIENT);
  const clients: Stack[] = [];
  for (let i = 0; i < nClients; i++) {
    const c = net.addStack({ name: `client${i}`, ephemeralPorts: [1024, 65535], portSeed: i + 2 });
    net.attach(c, hub, parseIpv4Addr(`10.1.${i >> 8}.${(i & 255) + 1}`)!, 8);
    clients.push(c);
  }
  const serverAddr = parseIpv4Addr('10.0.0.1')!;
  const accepted: Connection[] = [];
  server.listen(80, { backlog: 65535, onConnection: (c) => accepted.push(c) });

  await settle();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const conns: Connection[] = new Array(pairs);
  const BATCH = 1024;
  for (let i = 0; i < pairs; i++) {
    conns[i] = clients[Math.floor(i / PER_CLIENT)]!.connect(serverAddr, 80);
    if (i % BATCH === BATCH - 1) net.runDue();
  }
  net.runUntil(() => accepted.length === pairs);
  const establishSec = (performance.now() - t0) / 1000;
  for (const c of conns) if (c.state !== 'ESTABLISHED') throw new Error(`a client connection is ${c.state}`);
  for (const c of accepted) if (c.state !== 'ESTABLISHED') throw new Error(`a server connection is ${c.state}`);

  // A virtual minute of idleness: delayed ACKs and every short timer fire.
  net.runFor(60_000_000);
  let armed = server.armedTimers;
  for (const c of clients) armed += c.armedTimers;
  await settle();
  const after = process.memoryUsage();

  // Every connection still carries a byte.
  const one = new Uint8Array([0x2a]);
  const t1 = performance.now();
  for (let i = 0; i < pairs; i++) {
    clients[Math.floor(i / PER_CLIENT)]!.send(conns[i]!, one);
    if (i % BATCH === BATCH - 1) net.runDue();
  }
  net.runUntilIdle();
  const byteSec = (performance.now() - t1) / 1000;
  let carried = 0;
  // RCV.NXT = IRS + 1 (the SYN) + 1 (the byte).
  for (const c of accepted) if (((c.rcvNxt - c.irs) >>> 0) === 2) carried++;
  if (carried !== pairs) {
    throw new Error(`only ${carried} of ${pairs} server connections received their byte`);
  }
  return {
    pairs,
    connections: 2 * pairs,
    clients: nClients,
    establishSec,
    handshakesPerSec: pairs / establishSec,
    heapPerConn: (after.heapUsed - before.heapUsed) / (2 * pairs),
    rssPerConn: (after.rss - before.rss) / (2 * pairs),
    armedTimersIdle: armed,
    carriedByte: carried,
    byteSec,
  };
}

if (process.argv[1]?.endsWith('million.ts')) {
  const pairs = Number(process.argv[2] ?? 500_000);
  console.log(JSON.stringify(await million(pairs)));
  process.exit(0);
}
