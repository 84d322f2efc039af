/**
 * Memory per idle established connection. Run in a child process with
 * `--expose-gc` (bench/main.ts does this):
 *
 *   node --expose-gc --import tsx bench/idle-memory.ts synack 10000
 *   node --expose-gc --import tsx bench/idle-memory.ts node 9000
 *
 * Prints one JSON line. `heapPerPair` is (heapUsed after − before) / pairs
 * after full GCs; for synack a pair is the client's and the server's
 * Connection (plus their table, timer and meta entries) in one process, for
 * node:net a pair is two net.Socket objects (plus their kernel sockets,
 * which only show in RSS).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { idlePairs } from './lib.ts';

export interface IdleMemoryResult {
  kind: 'synack' | 'node';
  pairs: number;
  heapPerPair: number;
  heapPerConn: number;
  rssPerConn: number;
  /** Armed timers left across both stacks (synack only). */
  armedTimers?: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

async function settle(): Promise<void> {
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

async function synackIdle(pairs: number): Promise<IdleMemoryResult> {
  const { before, after, armedTimers } = await idlePairs(pairs, async () => {
    await settle();
    return process.memoryUsage();
  });
  const heap = after.heapUsed - before.heapUsed;
  const rss = after.rss - before.rss;
  return {
    kind: 'synack',
    pairs,
    heapPerPair: heap / pairs,
    heapPerConn: heap / (2 * pairs),
    rssPerConn: rss / (2 * pairs),
    armedTimers,
  };
}

async function nodeIdle(pairs: number): Promise<IdleMemoryResult> {
  const serverSockets: net.Socket[] = [];
  const srv = net.createServer((s) => {
    serverSockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
  const port = (srv.address() as AddressInfo).port;
  const clients: net.Socket[] = [];
  const open = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const c = net.connect({ port, host: '127.0.0.1' }, () => resolve(c));
      c.on('error', reject);
    });
  // Warm-up pair.
  const w = await open();
  while (serverSockets.length < 1) await new Promise((r) => setImmediate(r));
  w.destroy();
  serverSockets.pop()!.destroy();
  await new Promise((r) => setTimeout(r, 50));
  await settle();
  const before = process.memoryUsage();
  const BATCH = 256;
  for (let i = 0; i < pairs; i += BATCH) {
    const n = Math.min(BATCH, pairs - i);
    const batch: Promise<net.Socket>[] = [];
    for (let k = 0; k < n; k++) batch.push(open());
    clients.push(...(await Promise.all(batch)));
  }
  while (serverSockets.length < pairs) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 100));
  await settle();
  const after = process.memoryUsage();
  const heap = after.heapUsed - before.heapUsed;
  const rss = after.rss - before.rss;
  for (const c of clients) c.destroy();
  for (const s of serverSockets) s.destroy();
  srv.close();
  return { kind: 'node', pairs, heapPerPair: heap / pairs, heapPerConn: heap / (2 * pairs), rssPerConn: rss / (2 * pairs) };
}

if (process.argv[1]?.endsWith('idle-memory.ts')) {
  const kind = process.argv[2] === 'node' ? 'node' : 'synack';
  const pairs = Number(process.argv[3] ?? (kind === 'node' ? 9000 : 10000));
  const r = kind === 'node' ? await nodeIdle(pairs) : await synackIdle(pairs);
  console.log(JSON.stringify(r));
  process.exit(0);
}
