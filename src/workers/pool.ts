/**
 * `createWorkerPool()`: one process on every core. N worker threads
 * (node:worker_threads) each run a shard of the same in-memory network —
 * a stack per host, a hub shard, a Driver on the real clock (shard.ts) —
 * and the embedder's module, whose exports the pool calls in every worker:
 *
 *   // app.ts, imported by every worker
 *   export function setup(shard) {
 *     shard.host('10.0.0.2').net.createServer((s) => s.pipe(s)).listen(7);
 *   }
 *   export async function echo(shard, n) { … shard.host('10.0.0.1').net.connect(7, '10.0.0.2') … }
 *
 *   // main thread
 *   const pool = await createWorkerPool({ workers: 2, module: new URL('./app.js', import.meta.url),
 *     hosts: [{ address: '10.0.0.1' }, { address: '10.0.0.2' }] });
 *   const perWorker = await pool.call('echo', 100);
 *   await pool.close();
 *
 * Flows are spread by a symmetric hash of their 4-tuple (flow-hash.ts):
 * every flow is served by the worker its hash names, and a packet sent in
 * another worker is forwarded there over a MessagePort (counted in
 * `stats()`). Node only.
 */
import { MessageChannel, Worker, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import { SynackError } from '../errors.ts';
import { parseIpAddr } from '../wire/ipv6.ts';
import type { TcpConfig } from '../tcp/config.ts';
import type { PoolHost, PoolTun, ShardInit, ShardStats } from './shard.ts';
import type { FromWorker, ToWorker } from './worker-main.ts';
import { tupleWorker } from './flow-hash.ts';

export interface WorkerPoolOptions {
  /** Worker threads (1 … 64); one per core is the point. */
  workers: number;
  /** The module every worker imports (a path or file: URL): its exports are what `call` runs; `setup(shard, data)`, if exported, runs before the pool is ready. */
  module: string | URL;
  /** The hosts of the network: each sharded over every worker, or pinned to one (`worker`). */
  hosts: PoolHost[];
  /** Passed to the module's `setup`. */
  data?: unknown;
  /** The flow-hash seed (the same in every worker); random by default. */
  seed?: number;
  /** MTU of the hub (default 1500). */
  mtu?: number;
  /** TcpConfig overrides for every stack. */
  tcp?: Partial<TcpConfig>;
  /**
   * A multi-queue TUN device to the kernel (Linux, root, the synack-tun
   * addon): each worker opens one queue (workers start one after another,
   * worker 0 creating the device) — see PoolTun. Configure its kernel side
   * (address, up) once the pool is ready.
   */
  tun?: PoolTun;
  /** V8 heap limits of each worker (node:worker_threads `resourceLimits`: e.g. a larger young generation means fewer scavenges). */
  resourceLimits?: ResourceLimits;
  /** How long `close()` waits for a worker to end by itself before terminating it (default 5000 ms). */
  closeTimeoutMs?: number;
}

export interface WorkerPool {
  readonly size: number;
  /** The pool's flow-hash seed. */
  readonly seed: number;
  /** Runs the module's export `fn(shard, arg)` in every worker; the results in worker order. */
  call<T = unknown>(fn: string, arg?: unknown): Promise<T[]>;
  /** Runs it in worker `worker` only. */
  callOne<T = unknown>(worker: number, fn: string, arg?: unknown): Promise<T>;
  /** Each worker's forwarding counters. */
  stats(): Promise<ShardStats[]>;
  /** The worker that serves the TCP flow between these endpoints (both directions give the same). */
  flowWorker(addrA: string, portA: number, addrB: string, portB: number): number;
  /**
   * Stops every worker: its driver and channels close and the thread ends
   * once its sockets and servers are closed; a worker still running after
   * `closeTimeoutMs` is terminated. Resolves with the exit codes (0: ended
   * by itself).
   */
  close(): Promise<number[]>;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** Starts `workers` threads, each with its shard and the module loaded, and resolves when all are ready. */
export async function createWorkerPool(opts: WorkerPoolOptions): Promise<WorkerPool> {
  const n = opts.workers;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new SynackError('ERR_SYNACK_INVALID_ARG', `workers must be an integer 1..64, got ${String(n)}`);
  if (!Array.isArray(opts.hosts) || opts.hosts.length === 0) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'a worker pool needs at least one host');
  const seen = new Set<string>();
  for (const h of opts.hosts) {
    const a = typeof h.address === 'string' ? parseIpAddr(h.address) : null;
    if (a === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `pool host address must be an IPv4 or IPv6 literal, got ${String(h.address)}`);
    if (seen.has(String(a))) throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `${h.address} is already a host of this pool`);
    seen.add(String(a));
    if (h.worker !== undefined && !(Number.isInteger(h.worker) && h.worker >= 0 && h.worker < n)) {
      throw new SynackError('ERR_SYNACK_INVALID_ARG', `host ${h.address}: worker must be 0..${n - 1}, got ${String(h.worker)}`);
    }
  }
  for (const peer of opts.tun?.peers ?? []) {
    const a = typeof peer === 'string' ? parseIpAddr(peer) : null;
    if (a === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `tun peer must be an IPv4 or IPv6 literal, got ${String(peer)}`);
    if (seen.has(String(a))) throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `tun peer ${peer} is a host of the pool`);
  }
  const seed = (opts.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!) >>> 0;
  const moduleUrl = opts.module instanceof URL ? opts.module.href : /^[a-z]+:/i.test(opts.module) ? opts.module : new URL(opts.module, `file://${process.cwd()}/`).href;
  // A channel between every two workers.
  const peers: Array<Array<MessagePort | null>> = Array.from({ length: n }, () => new Array<MessagePort | null>(n).fill(null));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const ch = new MessageChannel();
      peers[i]![j] = ch.port1;
      peers[j]![i] = ch.port2;
    }
  }
  // The worker program next to this file: .ts under tsx (sources), .js from dist/.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const main = new URL(`./worker-main${ext}`, import.meta.url);
  // TypeScript in the thread (these sources under tsx, or an embedder's .ts module): the thread registers tsx's loader
  // before it imports anything — loader hooks given by --import do not reach worker threads on Node 20.
  const tsxApi = ext === '.ts' || /\.[mc]?ts$/.test(new URL(moduleUrl).pathname) ? resolveTsx() : null;
  const pending = new Map<number, Pending>();
  const owner = new Map<number, number>();
  let nextId = 1;
  const exited: Array<Promise<number>> = [];
  const workers: Worker[] = [];
  const ready: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) {
    const init: ShardInit = { index: i, workers: n, seed, hosts: opts.hosts, mtu: opts.mtu ?? 1500, ...(opts.tcp ? { tcp: opts.tcp } : {}), ...(opts.tun ? { tun: opts.tun } : {}) };
    const transfer = peers[i]!.filter((p): p is MessagePort => p !== null);
    const wd = { workerData: { init, module: moduleUrl, data: opts.data, peers: peers[i] }, transferList: transfer, ...(opts.resourceLimits ? { resourceLimits: opts.resourceLimits } : {}) };
    const w = tsxApi ? new Worker(`import(${JSON.stringify(tsxApi)}).then((t) => { t.register(); return import(${JSON.stringify(main.href)}); });`, { ...wd, eval: true }) : new Worker(main, wd);
    workers.push(w);
    let failure: Error | null = null;
    ready.push(
      new Promise<void>((resolve, reject) => {
        w.on('message', (m: FromWorker) => {
          if (m.t === 'ready') resolve();
          else if (m.t === 'ret') {
            const p = pending.get(m.id);
            if (!p) return;
            pending.delete(m.id);
            owner.delete(m.id);
            if (m.ok) p.resolve(m.value);
            else p.reject(Object.assign(new Error(`worker ${i}: ${m.message}`), m.code ? { code: m.code } : {}));
          }
        });
        w.on('error', (e) => {
          failure = e;
          reject(e);
          for (const [id, p] of pending) {
            if (owner.get(id) !== i) continue;
            pending.delete(id);
            p.reject(new Error(`worker ${i} failed: ${e.message}`));
          }
        });
      }),
    );
    exited.push(
      new Promise<number>((resolve) =>
        w.on('exit', (code) => {
          for (const [id, p] of pending) {
            if (owner.get(id) !== i) continue;
            pending.delete(id);
            p.reject(failure ?? new Error(`worker ${i} exited (code ${code})`));
          }
          resolve(code);
        }),
      ),
    );
    if (opts.tun) {
      // One queue at a time: worker 0 creates the device, the others attach to it.
      try {
        await ready[i];
      } catch (e) {
        await Promise.all(workers.map((x) => x.terminate()));
        throw e;
      }
    }
  }
  try {
    await Promise.all(ready);
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  }

  const send = (i: number, m: ToWorker): void => workers[i]!.postMessage(m);
  const callOne = <T>(i: number, fn: string, arg?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      owner.set(id, i);
      send(i, { t: 'call', id, fn, arg });
    });
  let closing: Promise<number[]> | null = null;
  return {
    size: n,
    seed,
    call: <T>(fn: string, arg?: unknown) => Promise.all(workers.map((_, i) => callOne<T>(i, fn, arg))),
    callOne: <T>(worker: number, fn: string, arg?: unknown) => {
      if (!(Number.isInteger(worker) && worker >= 0 && worker < n)) return Promise.reject(new SynackError('ERR_SYNACK_INVALID_ARG', `worker must be 0..${n - 1}`));
      return callOne<T>(worker, fn, arg);
    },
    stats: () =>
      Promise.all(
        workers.map(
          (_, i) =>
            new Promise<ShardStats>((resolve, reject) => {
              const id = nextId++;
              pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
              owner.set(id, i);
              send(i, { t: 'stats', id });
            }),
        ),
      ),
    flowWorker(addrA: string, portA: number, addrB: string, portB: number): number {
      const a = parseIpAddr(addrA);
      const b = parseIpAddr(addrB);
      if (a === null || b === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'flowWorker takes IPv4 or IPv6 literals');
      return tupleWorker(seed, n, a, portA, b, portB);
    },
    close(): Promise<number[]> {
      closing ??= (async () => {
        const limit = opts.closeTimeoutMs ?? 5000;
        workers.forEach((_, i) => send(i, { t: 'close' }));
        return Promise.all(
          workers.map(async (w, i) => {
            let timer: NodeJS.Timeout | undefined;
            const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), limit)));
            const code = await Promise.race([exited[i]!, late]);
            clearTimeout(timer);
            if (code !== 'late') return code;
            await w.terminate();
            return exited[i]!;
          }),
        );
      })();
      return closing;
    },
  };
}

/** tsx's registration API, when it is installed where this file can import it. */
function resolveTsx(): string | null {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return null;
  }
}
