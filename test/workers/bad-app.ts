/** A worker module whose setup fails (test/workers/pool.test.ts: the pool does not start). */
export function setup(): void {
  throw new Error('setup refused');
}
