/**
 * `synack gateway --viz PORT` as a process: the ready line carries the
 * visualizer's URL (on 127.0.0.1; --viz 0 picks a free port), the page and
 * the live table are served there while a guest (a synack stack on the qemu
 * socket) connects through the gateway, and SIGTERM stops both. A bad
 * --viz value is a usage error.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { MonitorRow } from '../../src/gateway/monitor.ts';
import { collect, hostServer, waitFor } from '../gateway/helpers.ts';
import { streamGuest } from '../gateway/stream-guest.ts';
import { memIo } from './mem-io.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'synack-gwviz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('synack gateway --viz: a port outside 0..65535 is a usage error (exit 2); --help describes --viz', async () => {
  for (const bad of ['70000', '-1', 'x']) {
    const io = memIo();
    assert.equal(await main(['gateway', '--qemu-socket', join(dir, 'never.sock'), '--viz', bad], io), 2, bad);
    assert.match(io.err.join('\n'), /--viz/);
  }
  const io = memIo();
  assert.equal(await main(['gateway', '--help'], io), 0);
  assert.match(io.out.join('\n'), /--viz PORT/);
});

test('synack gateway --viz PORT on a port already in use: the error on stderr, exit 1, nothing left listening', { timeout: 30_000 }, async () => {
  const busy = await hostServer(() => {});
  const sockPath = join(dir, 'busy.sock');
  try {
    const io = memIo();
    assert.equal(await main(['gateway', '--qemu-socket', sockPath, '--viz', String(busy.port)], io), 1);
    assert.match(io.err.join('\n'), /EADDRINUSE/);
    assert.ok(!io.out.some((l) => /ready/.test(l)), 'no ready line');
    assert.ok(!existsSync(sockPath), 'the qemu socket is closed and removed');
  } finally {
    busy.server.close();
  }
});

test('synack gateway --qemu-socket PATH --viz 0: the ready line gives the URL; the page and the guest connection are served there; SIGTERM stops it', { timeout: 60_000 }, async () => {
  const sockPath = join(dir, 'vm.sock');
  const h = await hostServer((s) => s.end('from the host'));
  const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gateway', '--qemu-socket', sockPath, '--viz', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  try {
    await waitFor('ready', () => /ready/.test(stdout), 30_000);
    const m = / viz (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(stdout);
    assert.ok(m, stdout);
    const url = m[1]!;
    assert.ok(Number(m[2]) > 0);
    // stderr is its own pipe: its line may arrive after stdout's ready line.
    const watchLine = new RegExp(`watch the guest's connections at ${url.replace(/[.]/g, '\\.')}`);
    await waitFor('the URL on stderr', () => watchLine.test(stderr), 30_000);
    assert.match(stderr, watchLine);
    assert.match(await (await fetch(url)).text(), /synack gateway/);
    const g = await streamGuest(sockPath);
    try {
      const sock = g.net.connect(h.port, '10.0.2.2');
      const localPort = await new Promise<number>((resolve) => sock.once('connect', () => resolve(sock.localPort!)));
      assert.equal((await collect(sock)).toString(), 'from the host');
      let rows: MonitorRow[] = [];
      await waitFor('the row with its bytes', () => {
        void fetch(new URL('api/connections', url))
          .then((r) => r.json())
          .then((t) => (rows = (t as { rows: MonitorRow[] }).rows));
        return rows[0]?.bytesDown === 13;
      }, 15_000);
      assert.equal(rows[0]!.guest, `10.0.2.100:${localPort}`);
      assert.equal(rows[0]!.host!.remote, `127.0.0.1:${h.port}`);
    } finally {
      g.close();
    }
    p.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    await assert.rejects(fetch(url), 'the visualizer stopped with the gateway');
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
    h.server.close();
  }
});
