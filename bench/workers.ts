/**
 * Many cores (issue 14, item 4): the same work on a worker pool of 1 and of
 * N threads (createWorkerPool, src/workers/), each worker a shard of one
 * in-memory network with sharded client and server hosts (so every flow
 * stays inside its worker). Aggregate rates: all workers' work over the
 * wall time the main thread sees from the call to the last reply.
 *
 *   npx tsx bench/workers.ts [cycles|bulk] [workers] [reps]   one figure per run, JSON on stdout
 */
import { createWorkerPool, type WorkerPool } from '../src/workers/pool.ts';
import { MiB, nowSec } from './lib.ts';
import { sweepArrayBuffersOnMainThread } from '../src/links/v8-tuning.ts';

/** Send/receive buffers of the bulk connections (as the stream rows). */
export const WORKERS_BUFFER_BYTES = 4 * MiB;
export const WORKERS_MTU = 65535;
/**
 * MSL of the pool's stacks, µs: TIME-WAIT lasts 2 ms, so the connection
 * cycles (the server closes first, as in the cycles rows) do not run the
 * ephemeral ports out — a client port comes back while its old tuple would
 * otherwise still wait in the server's TIME-WAIT for 2 × 30 s.
 */
export const WORKERS_MSL_US = 1000;

export function startPool(workers: number): Promise<WorkerPool> {
  return createWorkerPool({
    workers,
    module: new URL('./workers-app.ts', import.meta.url),
    hosts: [{ address: '10.0.0.1' }, { address: '10.0.0.2' }],
    mtu: WORKERS_MTU,
    ...(process.env.WORKERS_YOUNG_MB ? { resourceLimits: { maxYoungGenerationSizeMb: Number(process.env.WORKERS_YOUNG_MB) } } : {}),
    tcp: { mslUs: WORKERS_MSL_US, sendBufferBytes: WORKERS_BUFFER_BYTES, recvBufferBytes: WORKERS_BUFFER_BYTES, maxOutOfOrderBytes: WORKERS_BUFFER_BYTES },
  });
}

export interface WorkersResult {
  workers: number;
  /** Cycles per second or Gbit/s, summed over the workers (all the work over the wall time). */
  rate: number;
  seconds: number;
  /** Packets forwarded between workers during the run (0: every flow stayed in its worker). */
  forwarded: number;
  /** CPU time of the whole process (every thread) over wall time: the cores kept busy. */
  cores: number;
  /** Of that CPU time, the share spent in the kernel (page faults, mmap). */
  systemShare: number;
}

function cpuSince(c0: NodeJS.CpuUsage, seconds: number): { cores: number; systemShare: number } {
  const c = process.cpuUsage(c0);
  return { cores: (c.user + c.system) / 1e6 / seconds, systemShare: c.system / Math.max(1, c.user + c.system) };
}

async function forwarded(pool: WorkerPool): Promise<number> {
  return (await pool.stats()).reduce((a, s) => a + s.forwardedOut, 0);
}

/** `perWorker` connection cycles in every worker, `concurrency` at a time each (`fn` 'coreCycles': the core's synchronous loop instead). */
export async function poolCycles(pool: WorkerPool, perWorker: number, concurrency = 8, fn: 'cycles' | 'coreCycles' = 'cycles'): Promise<WorkersResult> {
  const f0 = await forwarded(pool);
  const c0 = process.cpuUsage();
  const t0 = nowSec();
  const r = await pool.call<{ cycles: number }>(fn, { count: perWorker, concurrency });
  const seconds = nowSec() - t0;
  const total = r.reduce((a, x) => a + x.cycles, 0);
  return { workers: pool.size, rate: total / seconds, seconds, ...cpuSince(c0, seconds), forwarded: (await forwarded(pool)) - f0 };
}

/** `perWorker` bytes of bulk in every worker over `conns` connections each. */
export async function poolBulk(pool: WorkerPool, perWorker: number, conns = 1): Promise<WorkersResult> {
  const f0 = await forwarded(pool);
  const c0 = process.cpuUsage();
  const t0 = nowSec();
  const r = await pool.call<{ bytes: number }>('bulk', { bytes: perWorker, conns });
  const seconds = nowSec() - t0;
  const total = r.reduce((a, x) => a + x.bytes, 0);
  return { workers: pool.size, rate: (total * 8) / seconds / 1e9, seconds, ...cpuSince(c0, seconds), forwarded: (await forwarded(pool)) - f0 };
}

export type WorkersWhat = 'cycles' | 'bulk' | 'ceiling';
export interface WorkersPairResult {
  what: WorkersWhat;
  /** Per repetition, a pool of 1 worker and a pool of 2, alternated. */
  one: WorkersResult[];
  two: WorkersResult[];
}

/**
 * Both pools at once (1 worker and 2), warmed up, then `reps` alternated
 * repetitions: the ratio compares runs of the same minute.
 */
export async function workersPair(what: WorkersWhat, reps: number, perWorker: number): Promise<WorkersPairResult> {
  const pools = [await startPool(1), await startPool(2)];
  const run = (p: WorkerPool, n: number): Promise<WorkersResult> => (what === 'bulk' ? poolBulk(p, n) : what === 'ceiling' ? poolCycles(p, n, 1, 'coreCycles') : poolCycles(p, n));
  try {
    for (const p of pools) await run(p, Math.max(1, Math.floor(perWorker / 4))); // warm-up, not counted
    const one: WorkersResult[] = [];
    const two: WorkersResult[] = [];
    for (let r = 0; r < reps; r++) {
      one.push(await run(pools[0]!, perWorker));
      two.push(await run(pools[1]!, perWorker));
    }
    return { what, one, two };
  } finally {
    for (const p of pools) await p.close();
  }
}

if (process.argv[1]?.endsWith('workers.ts')) {
  const what = process.argv[2] ?? 'cycles';
  if (what === 'pair') {
    // The synack command's V8 setting (links/v8-tuning.ts): each worker's
    // isolate then frees its dead ArrayBuffers on its own thread.
    sweepArrayBuffersOnMainThread();
    // npx tsx bench/workers.ts pair cycles|bulk|ceiling REPS PER_WORKER (bulk: MiB): bench/main.ts runs this in a child process.
    const kind: WorkersWhat = process.argv[3] === 'bulk' ? 'bulk' : process.argv[3] === 'ceiling' ? 'ceiling' : 'cycles';
    const per = Number(process.argv[5] ?? (kind === 'bulk' ? 1024 : 10_000));
    console.log(JSON.stringify(await workersPair(kind, Number(process.argv[4] ?? 3), kind === 'bulk' ? per * MiB : per)));
    process.exit(0);
  }
  const n = Number(process.argv[3] ?? 2);
  const reps = Number(process.argv[4] ?? 3);
  const pool = await startPool(n);
  try {
    if (what === 'bulk') await poolBulk(pool, 32 * MiB);
    else await poolCycles(pool, 1000);
    for (let i = 0; i < reps; i++) console.log(JSON.stringify(what === 'bulk' ? await poolBulk(pool, Number(process.env.WB_MIB ?? 256) * MiB) : await poolCycles(pool, 10_000)));
  } finally {
    await pool.close();
  }
}
