/**
 * The gateway's per-connection costs (issue 15, docs/PERFORMANCE.md "The
 * gateway"): what the relay of a forwarded connection adds to a
 * request/response exchange, and the `synack gateway` process's young
 * generation. No timing assertions: outcomes only (what arrived while what
 * was still unacknowledged; the size V8 reports for its new space).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../interop/helpers.ts';
import { hostServer, memoryGateway, waitFor } from './helpers.ts';
import { IdleTrimmer, nativeTrimMemory } from '../../src/gateway/heap.ts';
import { inCi } from '../support/ci.ts';

describe('gateway per-connection costs', () => {
  test('RFC 9293 §3.7.4 (MUST-17): Nagle is off on the gateway side of a forwarded connection (noDelay), unless options.tcp turns it back on', async () => {
    const h = await hostServer((s) => s.write('a'));
    for (const [opts, want] of [
      [{}, true],
      [{ tcp: { noDelay: false } }, false],
    ] as const) {
      const r = memoryGateway(opts);
      try {
        const sock = r.guest.net.connect(h.port, '10.0.2.2');
        let got = '';
        sock.on('data', (d: Buffer) => (got += d.toString()));
        await waitFor("the guest reads 'a'", () => got === 'a');
        const gwConn = r.gw.stack.connections().find((c) => c.state === 'ESTABLISHED');
        assert.ok(gwConn, 'the gateway side of the connection');
        assert.equal(gwConn.config.noDelay, want);
      } finally {
        await r.close();
      }
    }
    h.server.close();
  });

  test('keepYoungGenerationSmall() (`synack gateway --small-heap`) keeps V8 new space at its initial size through a burst of allocations; capYoungGeneration(4 MiB) (the command\'s default) stops its growth at 4 MiB; without either it grows past 8 MiB', () => {
    const script = `
      import v8 from 'node:v8';
      import { capYoungGeneration, keepYoungGenerationSmall } from './src/gateway/heap.ts';
      const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
      const initial = newSpace();
      if (process.argv.includes('small')) keepYoungGenerationSmall();
      if (process.argv.includes('cap')) capYoungGeneration(4 << 20);
      const keep = [];
      // In rounds, so the 'gc' performance entries (delivered between tasks) reach the cap's observer.
      for (let r = 0; r < 20; r++) {
        for (let i = 0; i < 1e5; i++) { const o = { i, a: [i], s: 'x' + i }; if (i % 64 === 0) keep.push(o); }
        await new Promise((resolve) => setImmediate(resolve));
      }
      console.log(JSON.stringify({ initial, after: newSpace(), kept: keep.length }));`;
    const run = (mode: string): { initial: number; after: number } => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, mode], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { initial: number; after: number };
    };
    const small = run('small');
    const capped = run('cap');
    // The cap: growth stops once the new space reached 4 MiB (at most the one step of the scavenge that crossed it).
    assert.ok(capped.after <= 8 << 20, `capped: ${capped.initial} → ${capped.after}`);
    assert.equal(small.after, small.initial);
    const grown = run('default');
    assert.ok(grown.after > grown.initial, `without it the new space grows (${grown.initial} → ${grown.after})`);
    assert.ok(grown.after > 8 << 20, `without a cap it grows past 8 MiB (${grown.after})`);
  });

  test('IdleTrimmer: a trim on the first quiet period after a busy one, only when RSS grew by the threshold since the last trim; its own CPU time is not activity', () => {
    const MiB = 1 << 20;
    const t = new IdleTrimmer(0, 100 * MiB, { idleCpuUs: 2_000, minGrowthBytes: MiB });
    // Quiet from the start: nothing to give back.
    assert.equal(t.sample(500, 100 * MiB), false);
    // Busy (50 ms of CPU in the period), RSS up 8 MiB: no trim while busy.
    assert.equal(t.sample(50_500, 108 * MiB), false);
    // The first quiet period after it: trim.
    assert.equal(t.sample(51_000, 108 * MiB), true);
    t.trimmed(80_000, 101 * MiB); // the trim itself took 29 ms of CPU
    // The next period is measured from after the trim: quiet, and not busy before — no trim.
    assert.equal(t.sample(80_100, 101 * MiB), false);
    // Busy again but RSS grew only 512 KiB since the trim: not worth a full GC.
    assert.equal(t.sample(90_000, 101.5 * MiB), false);
    assert.equal(t.sample(90_100, 101.5 * MiB), false);
    // Busy and grown by 1 MiB: trim.
    assert.equal(t.sample(95_000, 102.5 * MiB), false);
    assert.equal(t.sample(95_500, 102.5 * MiB), true);
    assert.equal(t.trims, 2);
  });

  test('the native trim (synack-tun trimMemory: V8 low-memory GC + malloc_trim, after emptying the send buffers\' pool) gives back what a burst of allocations left resident', { skip: nativeTrimMemory() === null && !inCi() ? 'the synack-tun addon is not built here (npm run build:native)' : false }, () => {
    const script = `
      import { nativeTrimMemory } from './src/gateway/heap.ts';
      import { SendBuffer, sendPoolFreeBlocks } from './src/tcp/send-buffer.ts';
      const trim = nativeTrimMemory();
      if (!trim) throw new Error('no native trim');
      // The send buffers' pool of free blocks (filled by a copy, acknowledged).
      const sb = new SendBuffer();
      sb.pushCopy(new Uint8Array(1 << 20));
      sb.consume(sb.length);
      const pooled = sendPoolFreeBlocks();
      // A burst: young objects of which some survive (the new space grows toward 16 MiB)
      // and 64 MiB of malloc'd buffers, all garbage by the end.
      let keep = [];
      for (let r = 0; r < 40; r++) {
        for (let i = 0; i < 1e5; i++) { const o = { i, a: [i], s: 'x' + i }; if (i % 8 === 0) keep.push(o); }
        if (keep.length > 2e5) keep = [];
        await new Promise((resolve) => setImmediate(resolve));
      }
      let bufs = [];
      for (let i = 0; i < 1024; i++) bufs.push(Buffer.alloc(64 << 10, 1));
      bufs = null;
      keep = null;
      const before = process.memoryUsage.rss();
      trim();
      console.log(JSON.stringify({ before, after: process.memoryUsage.rss(), pooled, pooledAfter: sendPoolFreeBlocks() }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const { before, after, pooled, pooledAfter } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { before: number; after: number; pooled: number; pooledAfter: number };
    assert.ok(before - after > 32 << 20, `RSS ${before >> 20} MiB → ${after >> 20} MiB: at least 32 MiB given back`);
    assert.ok(pooled >= 15, `${pooled} free send blocks before the trim`);
    assert.equal(pooledAfter, 0, 'the send buffers\' pool let go');
  });
});

