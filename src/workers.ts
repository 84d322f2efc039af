/**
 * `synack/workers` — one process on every core (Node): `createWorkerPool`
 * starts worker threads that each run a shard of one in-memory network and
 * the embedder's module; flows are spread over the workers by a symmetric
 * hash of their 4-tuple (src/workers/).
 */
export { createWorkerPool, type WorkerPool, type WorkerPoolOptions } from './workers/pool.ts';
export { WorkerShard, type PoolHost, type PoolTun, type ShardHost, type ShardStats } from './workers/shard.ts';
export { tupleFlowHash, packetFlowHash, workerOf, tupleWorker } from './workers/flow-hash.ts';
