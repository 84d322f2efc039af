/** Shared by the worker-pool tests (pool.test.ts, tun.test.ts). */
import type { WorkerPool } from '../../src/workers/pool.ts';
import type { ShardStats } from '../../src/workers/shard.ts';

/** Stats once every forwarded packet has arrived (each worker's out equals the other's in), polled for up to ~5 s. */
export async function settledStats(pool: WorkerPool): Promise<ShardStats[]> {
  for (let i = 0; i < 500; i++) {
    const s = await pool.stats();
    if (s[0]!.forwardedOut === s[1]!.forwardedIn && s[1]!.forwardedOut === s[0]!.forwardedIn) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
  return pool.stats();
}
