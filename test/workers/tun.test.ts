/**
 * A worker pool on a multi-queue TUN device (IFF_MULTI_QUEUE), in a network
 * namespace this test creates (root; in CI it must run, elsewhere it skips
 * with the reason): each of 2 workers opens one queue; connections from the
 * kernel are served by the worker their flow hash names (a first SYN that
 * the kernel put on the other queue is forwarded there); connections the
 * pool opens leave on their worker's queue and the kernel's flow steering
 * brings their replies back to it — all but, at times, the first (the
 * SYN,ACK), which is forwarded. No timing asserted.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.ts';
import type { ShardStats } from '../../src/workers/shard.ts';
import { settledStats } from './helpers.ts';
import { Netns, skipUnlessReady, type Proc } from '../interop/helpers.ts';
import type { ClientResult } from './app.ts';

const APP = new URL('./app.ts', import.meta.url);
const PEER = fileURLToPath(new URL('./kernel-peer.mjs', import.meta.url));
const KERNEL = '10.214.7.1';
const SYNACK = '10.214.7.2';
const DEV = 'wq0';

describe('a worker pool on a multi-queue TUN device', { skip: skipUnlessReady() }, () => {
  const ns = new Netns({ tag: 'mq', name: `workers-mq-${process.pid}`, bare: true });
  let pool: WorkerPool;
  let kernelServer: Proc;

  before(async () => {
    ns.setup();
    pool = await createWorkerPool({
      workers: 2,
      module: APP,
      data: { server: SYNACK },
      seed: 0x7e57,
      hosts: [{ address: SYNACK }],
      tun: { name: DEV, peers: [KERNEL], netns: ns.path },
    });
    ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    ns.exec(['ip', 'addr', 'add', `${KERNEL}/24`, 'dev', DEV]);
    ns.exec(['ip', 'link', 'set', DEV, 'up']);
    kernelServer = ns.spawn([process.execPath, PEER, 'server', KERNEL, '7'], { timeoutMs: 120_000 });
    await kernelServer.waitFor(/listening/);
  });

  after(async () => {
    try {
      if (pool) {
        await pool.call('stop');
        assert.deepEqual(await pool.close(), [0, 0], 'both workers end by themselves');
      }
    } finally {
      await ns.cleanup();
    }
  });

  const forwarded = (s: ShardStats[]): number => s[0]!.forwardedOut + s[1]!.forwardedOut;

  test('the device has one queue per worker', () => {
    const queues = ns.exec(['ls', `/sys/class/net/${DEV}/queues`]).split(/\s+/).filter(Boolean).sort();
    assert.deepEqual(queues, ['rx-0', 'rx-1', 'tx-0', 'tx-1']);
  });

  test('connections from the kernel are served by the worker their hash names, bytes intact, and every forwarded packet arrives', async (t) => {
    const before = await settledStats(pool);
    const p = ns.spawn([process.execPath, PEER, 'clients', SYNACK, '7', '24', '60000'], { timeoutMs: 120_000 });
    assert.equal(await p.exited, 0, p.stderr());
    const results = JSON.parse(p.stdout().trim().split('\n').pop()!) as Array<{ localPort: number; servedBy: number; intact: boolean }>;
    assert.equal(results.length, 24);
    for (const r of results) {
      assert.ok(r.intact, `flow from port ${r.localPort}`);
      assert.equal(r.servedBy, pool.flowWorker(KERNEL, r.localPort, SYNACK, 7), `flow from port ${r.localPort}`);
    }
    assert.deepEqual(new Set(results.map((r) => r.servedBy)), new Set([0, 1]), 'both workers served');
    const after = await settledStats(pool);
    assert.equal(after[0]!.forwardedOut, after[1]!.forwardedIn);
    assert.equal(after[1]!.forwardedOut, after[0]!.forwardedIn);
    t.diagnostic(`forwarded: ${forwarded(after) - forwarded(before)} packets (a flow's packets the kernel queued before it knew the flow's queue: its SYN, and its ACK when sent inside the SYN,ACK's write)`);
  });

  test('connections the pool opens to the kernel come back on their own worker’s queue, but for at most the first reply of each', async (t) => {
    const before = await settledStats(pool);
    const results = (await pool.call<ClientResult[]>('clients', { from: SYNACK, to: KERNEL, count: 12, bytes: 60_000 })).flat();
    assert.equal(results.length, 24);
    for (const r of results) {
      assert.ok(r.intact, `flow from port ${r.localPort}`);
      assert.equal(r.servedBy, -1, 'served by the kernel');
      assert.equal(pool.flowWorker(SYNACK, r.localPort, KERNEL, 7), r.worker, 'opened on a port its worker owns');
    }
    // The kernel records a flow's queue (tun_flow_update) only after the written packet went through its stack, so
    // the SYN,ACK to a SYN is steered before the flow is known: it may arrive on the other queue, and is forwarded.
    // Every later packet of the flow comes back on the queue that wrote the flow's last packet.
    const after = await settledStats(pool);
    const n = forwarded(after) - forwarded(before);
    assert.ok(n <= results.length, `${n} packets forwarded for ${results.length} flows`);
    t.diagnostic(`forwarded: ${n} packets for ${results.length} flows`);
  });
});
