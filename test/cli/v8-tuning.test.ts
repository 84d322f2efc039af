/**
 * links/v8-tuning.ts: once `sweepArrayBuffersOnMainThread()` ran, V8 frees
 * dead ArrayBuffers inside the scavenge that finds them, on the main
 * thread — and the `synack` command runs it (nodeIo). The first case is a
 * child process with --expose-gc: 20 rounds of 200 young 64 KiB buffers,
 * dropped, one minor GC, then node's count of ArrayBuffer memory read at
 * once. With V8's default (concurrent sweeping) a helper thread frees them
 * later, so the count usually still holds them then (0–5 rounds of 20 freed
 * in runs on an idle machine, more when the helpers are quick); with the
 * setting the scavenge itself frees them (20 of 20 on an idle machine; at
 * least 15 asked here, as a loaded machine may start a full marking that
 * keeps a round's buffers). Nothing here is timed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const root = new URL('../../', import.meta.url).pathname;

function child(script: string, flags: string[] = []): string {
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').pop()!;
}

test('sweepArrayBuffersOnMainThread: a minor GC frees the dead buffers before it returns', () => {
  const out = child(
    `const { sweepArrayBuffersOnMainThread } = await import(${JSON.stringify(root + 'src/tun.ts')});
    sweepArrayBuffersOnMainThread();
    sweepArrayBuffersOnMainThread();
    const freed = [];
    for (let round = 0; round < 20; round++) {
      let held = [];
      for (let i = 0; i < 200; i++) held.push(new Uint8Array(65536));
      const before = process.memoryUsage().arrayBuffers;
      held = null;
      globalThis.gc({ type: 'minor' });
      freed.push((before - process.memoryUsage().arrayBuffers) / (200 * 65536));
    }
    console.log(JSON.stringify(freed));`,
    ['--expose-gc'],
  );
  const freed = JSON.parse(out) as number[];
  assert.ok(freed.filter((f) => f > 0.95).length >= 15, `freed fractions per round: ${freed.join(', ')}`);
});

test('the synack command sweeps on the main thread: nodeIo() applies it, a library import alone does not', () => {
  const tuning = JSON.stringify(root + 'src/links/v8-tuning.ts');
  assert.equal(child(`const t = await import(${tuning}); await import(${JSON.stringify(root + 'src/cli/main.ts')}); console.log(t.sweepsArrayBuffersOnMainThread());`), 'false');
  assert.equal(child(`const t = await import(${tuning}); const { nodeIo } = await import(${JSON.stringify(root + 'src/cli/main.ts')}); nodeIo(); console.log(t.sweepsArrayBuffersOnMainThread());`), 'true');
});
