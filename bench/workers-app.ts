/**
 * The module each worker of the `workers` bench imports (bench/workers.ts):
 * on every worker's shard of the sharded server host 10.0.0.2, a cycle
 * server (port 80: an 18 B request, a 40 B response, close) and a bulk sink
 * (port 5001); clients on the sharded host 10.0.0.1 of the same worker,
 * through host.net sockets on the real clock.
 */
import type { Socket } from '../src/api/socket.ts';
import type { WorkerShard } from '../src/workers/shard.ts';
import { REQUEST, RESPONSE, synackCycles } from './cycles.ts';

const SERVER = '10.0.0.2';
const CLIENT = '10.0.0.1';
const CHUNK = 256 * 1024;

export function setup(shard: WorkerShard): void {
  const net = shard.host(SERVER).net;
  net
    .createServer((s: Socket) => {
      let n = 0;
      s.setNoDelay(true);
      s.on('data', (d: Uint8Array) => {
        n += d.length;
        if (n >= REQUEST.length) s.end(RESPONSE);
      });
      s.on('error', () => {});
    })
    .listen(80, SERVER);
  net
    .createServer((s: Socket) => {
      s.on('data', () => {});
      s.on('error', () => {});
    })
    .listen(5001, SERVER);
}

/** `count` cycles in `concurrency` chains; the seconds this worker took. */
export async function cycles(shard: WorkerShard, arg: { count: number; concurrency: number }): Promise<{ cycles: number; seconds: number }> {
  const net = shard.host(CLIENT).net;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      let got = 0;
      const c = net.connect({ port: 80, host: SERVER, noDelay: true }, () => c.write(REQUEST));
      c.on('data', (d: Uint8Array) => (got += d.length));
      c.on('end', () => c.end());
      c.on('error', reject);
      c.on('close', () => (got >= RESPONSE.length ? resolve() : reject(new Error('short response'))));
    });
  let left = arg.count;
  const chain = async (): Promise<void> => {
    while (left > 0) {
      left--;
      await one();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: arg.concurrency }, chain));
  return { cycles: arg.count, seconds: (performance.now() - t0) / 1000 };
}

/** `conns` connections at once, each writing `bytes / conns` in 256 KiB writes with backpressure; done when the server has read every byte and both FINs are exchanged. */
export async function bulk(shard: WorkerShard, arg: { bytes: number; conns: number }): Promise<{ bytes: number; seconds: number }> {
  const net = shard.host(CLIENT).net;
  const buf = new Uint8Array(CHUNK);
  for (let i = 0; i < buf.length; i++) buf[i] = i * 7;
  const per = Math.floor(arg.bytes / arg.conns);
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const c = net.connect({ port: 5001, host: SERVER, noDelay: true }, () => {
        let sent = 0;
        const pump = (): void => {
          while (sent < per) {
            const n = Math.min(CHUNK, per - sent);
            sent += n;
            if (!c.write(n === CHUNK ? buf : buf.subarray(0, n))) {
              c.once('drain', pump);
              return;
            }
          }
          c.end();
        };
        pump();
      });
      c.on('data', () => {});
      c.on('error', reject);
      // The server ends its side once it has read our FIN, so every byte has arrived by 'close'.
      c.on('close', () => resolve());
    });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: arg.conns }, one));
  return { bytes: per * arg.conns, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The machine's ceiling: the core's sequential cycle loop (bench/cycles.ts:
 * two stacks of its own on a virtual clock, synchronous — no event loop, no
 * messages, nothing shared), run in each worker as it would run alone.
 */
export function coreCycles(_shard: WorkerShard, arg: { count: number }): { cycles: number; seconds: number } {
  const r = synackCycles(arg.count, true);
  return { cycles: r.cycles, seconds: r.seconds };
}
