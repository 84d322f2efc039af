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
});
