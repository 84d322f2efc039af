/**
 * The program each worker thread of a pool runs (pool.ts starts it): it
 * builds the worker's shard (shard.ts), imports the embedder's module,
 * calls its `setup(shard, data)` if it has one, says it is ready, then
 * runs calls — `pool.call(name, arg)` runs the module's export `name(shard,
 * arg)` here — until the pool closes it. Closing stops the shard's driver
 * and closes every channel, so the thread ends by itself once the
 * application has closed its sockets and servers.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { WorkerShard, type ShardInit } from './shard.ts';

/** Messages from the pool to a worker. */
export type ToWorker = { t: 'call'; id: number; fn: string; arg: unknown } | { t: 'stats'; id: number } | { t: 'close' };
/** Messages from a worker to the pool. */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'ret'; id: number; ok: true; value: unknown }
  | { t: 'ret'; id: number; ok: false; message: string; code?: string };

interface WorkerData {
  init: ShardInit;
  module: string;
  data: unknown;
  peers: Array<MessagePort | null>;
}

type AppFn = (shard: WorkerShard, arg: unknown) => unknown;

const port = parentPort!;
const wd = workerData as WorkerData;
const shard = new WorkerShard(wd.init, wd.peers);
const app = (await import(wd.module)) as Record<string, unknown>;
if (typeof app.setup === 'function') await (app.setup as AppFn)(shard, wd.data);

function reply(m: FromWorker): void {
  port.postMessage(m);
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'close') {
    shard.close();
    port.close();
    return;
  }
  if (m.t === 'stats') {
    reply({ t: 'ret', id: m.id, ok: true, value: { ...shard.stats } });
    return;
  }
  const fn = app[m.fn];
  void (async () => {
    try {
      if (typeof fn !== 'function') throw new Error(`the worker module has no export '${m.fn}'`);
      reply({ t: 'ret', id: m.id, ok: true, value: await (fn as AppFn)(shard, m.arg) });
    } catch (e) {
      const err = e as { message?: string; code?: string };
      reply({ t: 'ret', id: m.id, ok: false, message: String(err?.message ?? e), ...(typeof err?.code === 'string' ? { code: err.code } : {}) });
    }
  })();
});
reply({ t: 'ready' });
