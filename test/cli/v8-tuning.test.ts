/**
 * links/v8-tuning.ts: dead ArrayBuffers are freed inside the scavenge that
 * finds them, on the main thread, once `sweepArrayBuffersOnMainThread()`
 * ran — and the `synack` command runs it (nodeIo). Each case is a child
 * process with --expose-gc: 200 young 64 KiB buffers, dropped, one minor
 * GC, then node's count of ArrayBuffer memory read at once. With V8's
 * default (concurrent sweeping) that count usually still holds the 13 MB
 * then, because a helper thread frees them later; asked twenty times in a
 * row it practically never drops every time. Nothing here is timed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const root = new URL('../../', import.meta.url).pathname;

function probe(setup: string): number[] {
  const script = `
    ${setup}
    const out = [];
    for (let round = 0; round < 20; round++) {
      let held = [];
      for (let i = 0; i < 200; i++) held.push(new Uint8Array(65536));
      const before = process.memoryUsage().arrayBuffers;
      held = null;
      globalThis.gc({ type: 'minor' });
      out.push((before - process.memoryUsage().arrayBuffers) / (200 * 65536));
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as number[];
}

test('sweepArrayBuffersOnMainThread: a minor GC frees the dead buffers before it returns (every round)', () => {
  const freed = probe(`const { sweepArrayBuffersOnMainThread } = await import(${JSON.stringify(root + 'src/tun.ts')}); sweepArrayBuffersOnMainThread(); sweepArrayBuffersOnMainThread();`);
  for (const f of freed) assert.ok(f > 0.95, `freed fractions ${freed.join(', ')}`);
});

test('the synack command sweeps on the main thread: nodeIo() applies it', () => {
  const freed = probe(`const { nodeIo } = await import(${JSON.stringify(root + 'src/cli/main.ts')}); nodeIo();`);
  for (const f of freed) assert.ok(f > 0.95, `freed fractions ${freed.join(', ')}`);
});
