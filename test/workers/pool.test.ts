/**
 * createWorkerPool (src/workers/): two worker threads, each a shard of one
 * in-memory network. Flows go to the worker their 4-tuple's hash names;
 * packets sent in another worker are forwarded there and counted; bytes
 * arrive intact; the threads end when the pool closes. No timing is
 * asserted: only who served what, byte counts, digests and counters.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWorkerPool, type WorkerPool } from '../../src/workers/pool.ts';
import { settledStats } from './helpers.ts';
import type { ClientResult, Served } from './app.ts';

const APP = new URL('./app.ts', import.meta.url);
const CLIENT = '10.0.0.1';
const SERVER = '10.0.0.2';
const PINNED = '10.0.0.9';

let pool: WorkerPool;

before(async () => {
  pool = await createWorkerPool({
    workers: 2,
    module: APP,
    seed: 0x5eed,
    hosts: [{ address: CLIENT }, { address: SERVER }, { address: PINNED, worker: 0 }],
    tcp: { sendBufferBytes: 256 * 1024, recvBufferBytes: 256 * 1024 },
  });
});

after(async () => {
  await pool.call('stop');
  assert.deepEqual(await pool.close(), [0, 0], 'both workers end by themselves');
});

test('the flow hash is symmetric: both directions of a flow name the same worker', () => {
  let ones = 0;
  for (let p = 40000; p < 40200; p++) {
    const w = pool.flowWorker(CLIENT, p, SERVER, 7);
    assert.equal(pool.flowWorker(SERVER, 7, CLIENT, p), w);
    ones += w;
  }
  assert.ok(ones > 60 && ones < 140, `both workers get flows (${ones} of 200 on worker 1)`);
});

test('every flow of a sharded client is opened and served by the worker its hash names, with no packet crossing workers', async () => {
  const before = await pool.stats();
  const results = (await pool.call<ClientResult[]>('clients', { from: CLIENT, count: 24, bytes: 3000 })).flat();
  assert.equal(results.length, 48);
  for (const r of results) {
    const named = pool.flowWorker(r.localAddress, r.localPort, SERVER, 7);
    assert.equal(r.worker, named, `flow from port ${r.localPort} opened by worker ${r.worker}, hash names ${named}`);
    assert.equal(r.servedBy, named, `flow from port ${r.localPort} served by worker ${r.servedBy}, hash names ${named}`);
    assert.ok(r.intact);
  }
  const served = (await pool.call<Served[]>('servedFlows')).flat().filter((s) => s.remoteAddress === CLIENT);
  const keys = served.map((s) => `${s.remotePort}`);
  assert.equal(new Set(keys).size, served.length, 'each flow served once');
  for (const r of results) assert.equal(served.filter((s) => s.remotePort === r.localPort && s.worker === r.worker).length, 1);
  for (const s of served) assert.equal(s.worker, pool.flowWorker(s.remoteAddress, s.remotePort, SERVER, s.localPort));
  const afterStats = await pool.stats();
  for (let i = 0; i < 2; i++) {
    assert.equal(afterStats[i]!.forwardedOut - before[i]!.forwardedOut, 0, `worker ${i} forwarded nothing`);
    assert.ok(afterStats[i]!.local > before[i]!.local);
  }
});

test('the bytes of many connections across two workers arrive intact (lengths and SHA-256)', async () => {
  const results = (await pool.call<ClientResult[]>('clients', { from: CLIENT, count: 32, bytes: 200_000 })).flat();
  assert.equal(results.length, 64);
  assert.deepEqual(
    results.filter((r) => !r.intact),
    [],
  );
  assert.deepEqual(new Set(results.map((r) => r.servedBy)), new Set([0, 1]), 'both workers served');
});

test('a pinned client’s packets for flows another worker owns are forwarded there, counted, and served by that worker', async () => {
  // Local ports of the pinned client (worker 0): the first 10 whose flow hashes to worker 1, and 10 that hash to worker 0.
  const to1: number[] = [];
  const to0: number[] = [];
  for (let p = 20000; to1.length < 10 || to0.length < 10; p++) {
    const w = pool.flowWorker(PINNED, p, SERVER, 7);
    if (w === 1 && to1.length < 10) to1.push(p);
    if (w === 0 && to0.length < 10) to0.push(p);
  }
  const before = await settledStats(pool);
  const ports = [...to1, ...to0];
  const results = await pool.callOne<ClientResult[]>(0, 'clients', { from: PINNED, count: ports.length, bytes: 50_000, ports });
  for (const r of results) {
    assert.ok(r.intact, `port ${r.localPort}`);
    assert.equal(r.servedBy, to1.includes(r.localPort) ? 1 : 0, `port ${r.localPort} served by its hash's worker`);
  }
  const s = await settledStats(pool);
  const out0 = s[0]!.forwardedOut - before[0]!.forwardedOut;
  const in1 = s[1]!.forwardedIn - before[1]!.forwardedIn;
  const out1 = s[1]!.forwardedOut - before[1]!.forwardedOut;
  const in0 = s[0]!.forwardedIn - before[0]!.forwardedIn;
  // Each flow to worker 1 sends at least a SYN, an ACK, 50 KB of data and a FIN from worker 0; its replies come back.
  assert.ok(out0 >= 10 * 4, `worker 0 forwarded ${out0} packets`);
  assert.equal(in1, out0, 'every packet worker 0 forwarded arrived at worker 1');
  assert.ok(out1 >= 10 * 3, `worker 1 forwarded ${out1} replies`);
  assert.equal(in0, out1);
  assert.ok(s[0]!.messagesOut - before[0]!.messagesOut <= out0, 'forwarded packets travel in batches');
});

test('a sharded stack refuses an explicit local port whose flow another worker owns (a typed error)', async () => {
  let mine = 0;
  let theirs = 0;
  for (let p = 30000; !mine || !theirs; p++) {
    const w = pool.flowWorker(CLIENT, p, SERVER, 7);
    if (w === 0 && !mine) mine = p;
    if (w === 1 && !theirs) theirs = p;
  }
  assert.equal(await pool.callOne(0, 'openOnPort', { from: CLIENT, localPort: theirs }), 'ERR_SYNACK_INVALID_ARG');
  assert.equal(await pool.callOne(0, 'openOnPort', { from: CLIENT, localPort: mine }), 'opened');
});

test('the pool validates its options with typed errors', async () => {
  await assert.rejects(createWorkerPool({ workers: 0, module: APP, hosts: [{ address: CLIENT }] }), { code: 'ERR_SYNACK_INVALID_ARG' });
  await assert.rejects(createWorkerPool({ workers: 2, module: APP, hosts: [{ address: 'nope' }] }), { code: 'ERR_SYNACK_INVALID_ARG' });
  await assert.rejects(createWorkerPool({ workers: 2, module: APP, hosts: [{ address: CLIENT, worker: 2 }] }), { code: 'ERR_SYNACK_INVALID_ARG' });
  await assert.rejects(createWorkerPool({ workers: 2, module: APP, hosts: [{ address: CLIENT }, { address: CLIENT }] }), { code: 'ERR_SYNACK_ADDRESS_IN_USE' });
  await assert.rejects(createWorkerPool({ workers: 2, module: APP, hosts: [{ address: CLIENT }], tun: { name: 'x', peers: [CLIENT] } }), { code: 'ERR_SYNACK_ADDRESS_IN_USE' });
  await assert.rejects(createWorkerPool({ workers: 2, module: APP, hosts: [{ address: CLIENT }], tun: { name: 'x', peers: ['nope'] } }), { code: 'ERR_SYNACK_INVALID_ARG' });
});

test('a call of a missing export rejects with the worker and the name; the pool goes on serving', async () => {
  await assert.rejects(pool.callOne(1, 'noSuchExport'), /worker 1: the worker module has no export 'noSuchExport'/);
  assert.equal((await pool.call<ClientResult[]>('clients', { from: CLIENT, count: 2, bytes: 100 })).flat().every((r) => r.intact), true);
});

test('a module whose setup throws: the pool does not start, its threads are ended, and the error says why', async () => {
  await assert.rejects(
    createWorkerPool({ workers: 2, module: new URL('./bad-app.ts', import.meta.url), hosts: [{ address: CLIENT }] }),
    /setup refused/,
  );
});

test('a process that uses a pool and closes it exits by itself (no thread left behind)', () => {
  const script = `
    import { createWorkerPool } from ${JSON.stringify(new URL('../../src/workers/pool.ts', import.meta.url).href)};
    const pool = await createWorkerPool({ workers: 2, module: ${JSON.stringify(APP.href)}, hosts: [{ address: '10.0.0.1' }, { address: '10.0.0.2' }] });
    const r = (await pool.call('clients', { from: '10.0.0.1', count: 4, bytes: 1000 })).flat();
    await pool.call('stop');
    console.log(JSON.stringify({ intact: r.every((x) => x.intact), codes: await pool.close() }));
  `;
  // The bound only keeps a hung child from hanging the suite; exiting is what is asserted.
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../../', import.meta.url).pathname, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, null, `the child exited by itself (stderr: ${r.stderr})`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim()), { intact: true, codes: [0, 0] });
});
