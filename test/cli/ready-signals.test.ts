/**
 * `synack gateway` prints its "ready" line only once its signal handlers
 * are in place: scripts (and the tests) send SIGTERM / SIGUSR2 as soon as
 * they read "ready", and a signal that arrives before its handler meets the
 * default action — termination, with no clean stop and no stats line. A
 * test saw it (`synack serve --stats` killed by SIGUSR2 when preempted
 * between printing "ready" and installing the handler; serve.ts now installs
 * them first too). Checked in-process: the moment the ready line is
 * printed, the handlers are already listening.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { memIo } from './mem-io.ts';

test('synack gateway: SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 handlers are installed before the ready line is printed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synack-ready-'));
  const signals = ['SIGINT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2'] as const;
  const base = Object.fromEntries(signals.map((s) => [s, process.listenerCount(s)]));
  let atReady: Record<string, number> | null = null;
  const io = memIo();
  const stdout = io.stdout;
  io.stdout = (line: string) => {
    if (line.includes('ready on') && atReady === null) {
      atReady = Object.fromEntries(signals.map((s) => [s, process.listenerCount(s) - base[s]!]));
      // As a script would: signal at once (here: the handler, as a real SIGTERM would run it).
      setImmediate(() => process.emit('SIGTERM', 'SIGTERM'));
    }
    stdout(line);
  };
  try {
    const code = await main(['gateway', '--qemu-socket', join(dir, 'q.sock'), '--stats', '--no-dhcp'], io);
    assert.equal(code, 0, io.err.join('\n'));
    assert.deepEqual(atReady, { SIGINT: 1, SIGTERM: 1, SIGUSR1: 1, SIGUSR2: 1 });
    assert.ok(io.out.some((l) => l.startsWith('stats ')), 'the clean stop printed its stats');
    assert.ok(io.err.some((l) => /SIGTERM, shutting down/.test(l)));
    // Removed again at exit.
    for (const s of signals) assert.equal(process.listenerCount(s), base[s], s);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
