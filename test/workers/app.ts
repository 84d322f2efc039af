/**
 * The module every worker of the pool tests imports (test/workers/pool.test.ts):
 * a digest server on every worker's shard of the server host, and clients
 * that send seeded bytes and check the digest that comes back.
 */
import { createHash } from 'node:crypto';
import type { Socket } from '../../src/api/socket.ts';
import type { WorkerShard } from '../../src/workers/shard.ts';

export const SERVER = '10.0.0.2';
export const PORT = 7;

/** A flow as the server saw it, and which worker served it. */
export interface Served {
  worker: number;
  remoteAddress: string;
  remotePort: number;
  localPort: number;
  bytes: number;
}

export interface ClientResult {
  /** The worker that opened the connection. */
  worker: number;
  localAddress: string;
  localPort: number;
  /** The worker the server reported (its shard index). */
  servedBy: number;
  /** The server's length and digest equal the client's. */
  intact: boolean;
}

const served: Served[] = [];
let server: { close(cb: () => void): unknown } | null = null;

/** Deterministic bytes for connection `id`: an xorshift stream. */
export function payload(id: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = (id * 2654435761) ^ 0x9e3779b9 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** The digest server on every worker's shard of `data.server` (default SERVER), port PORT. */
export function setup(shard: WorkerShard, data?: { server?: string }): void {
  const srv = shard.host(data?.server ?? SERVER).net.createServer({ allowHalfOpen: true }, (s: Socket) => {
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (d: Uint8Array) => {
      h.update(d);
      n += d.length;
    });
    s.on('end', () => {
      served.push({ worker: shard.index, remoteAddress: s.remoteAddress!, remotePort: s.remotePort!, localPort: s.localPort!, bytes: n });
      s.end(`${shard.index} ${n} ${h.digest('hex')}\n`);
    });
    s.on('error', () => {});
  });
  srv.listen(PORT, data?.server ?? SERVER);
  server = srv;
}

/** Opens `count` connections at once from `from` (to `to` or SERVER, port PORT), each sending `bytes` seeded bytes; explicit `ports` pick the local ports. */
export async function clients(shard: WorkerShard, arg: { from: string; to?: string; count: number; bytes: number; ports?: number[] }): Promise<ClientResult[]> {
  const net = shard.host(arg.from).net;
  const one = (i: number): Promise<ClientResult> =>
    new Promise((resolve, reject) => {
      const data = payload(shard.index * 100_000 + i, arg.bytes + i);
      const want = `${data.length} ${createHash('sha256').update(data).digest('hex')}`;
      const port = arg.ports?.[i];
      const c = net.connect({ port: PORT, host: arg.to ?? SERVER, ...(port ? { localPort: port } : {}) }, () => {
        c.end(data);
      });
      let text = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => (text += d));
      c.on('error', reject);
      c.on('close', () => {
        const [w, ...rest] = text.trim().split(' ');
        resolve({ worker: shard.index, localAddress: c.localAddress ?? '', localPort: c.localPort ?? 0, servedBy: Number(w), intact: rest.join(' ') === want });
      });
    });
  return Promise.all(Array.from({ length: arg.count }, (_, i) => one(i)));
}

/** The flows this worker's server has served so far. */
export function servedFlows(): Served[] {
  return served;
}

/** Tries to open a connection from `from` on an explicit local port; the error code, or 'opened'. */
export function openOnPort(shard: WorkerShard, arg: { from: string; localPort: number }): string {
  const h = shard.host(arg.from);
  try {
    const c = h.stack.connect(0x0a000002, PORT, { localPort: arg.localPort });
    h.stack.abort(c);
    return 'opened';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

/** Closes the server, so the worker can end. */
export function stop(): Promise<void> {
  return new Promise((r) => (server ? server.close(() => r()) : r()));
}

/** The worker's TUN queue counters (packets in and out), if it has one. */
export function tunStats(shard: WorkerShard): unknown {
  return shard.tun ? { ...shard.tun.stats, hub: { ...shard.hub.stats } } : null;
}
