/**
 * `synack gateway --netns PATH`'s DHCP server with a real Linux client
 * (RFC 2131): the test makes its own network namespace, spawns the CLI on
 * it, removes the address the gateway configured on tap0 and lets Debian's
 * busybox udhcpc ask for one; it configures what it got and fetches a page
 * from a node:http server on the host's 127.0.0.1 through 10.0.2.2. Traffic
 * stays on loopback and inside the namespace; the gateway is killed by PID
 * and the namespace deleted at the end.
 *
 * Needs root, /dev/net/tun, ip, busybox and the addon: outside CI it skips
 * saying which is missing; in CI (.ci/run installs busybox) it must run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT, skipUnlessReady } from '../interop/helpers.ts';

const skip = skipUnlessReady(['busybox']);
const NS = `gw-ws-dhcp-${process.pid}`;
const MTU = 9000;

function nsExec(argv: string[], timeoutMs = 30_000): { code: number | null; out: string; error?: Error | undefined } {
  const r = spawnSync('ip', ['netns', 'exec', NS, ...argv], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

/** Like nsExec, without blocking this process's event loop (the host server answers from it). */
function nsRun(argv: string[], timeoutMs = 30_000): Promise<{ code: number | string | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn('ip', ['netns', 'exec', NS, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const t = setTimeout(() => c.pid && c.exitCode === null && process.kill(c.pid, 'SIGKILL'), timeoutMs);
    c.once('close', (code, sig) => {
      clearTimeout(t);
      resolve({ code: code ?? sig, out });
    });
  });
}

describe('synack gateway --netns: busybox udhcpc in the namespace gets its lease from the gateway (RFC 2131)', { skip, timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-ws-dhcp-'));
  let gw: ChildProcess | null = null;
  let out = '';
  let server: http.Server;
  let port = 0;

  before(async () => {
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    assert.equal(spawnSync('ip', ['netns', 'add', NS]).status, 0);
    server = http.createServer((_req, res) => res.end('hello through the gateway\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    gw = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gateway', '--netns', `/run/netns/${NS}`, '--mtu', String(MTU)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    gw.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    gw.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const end = Date.now() + 60_000;
    while (!/ready on tap0/.test(out)) {
      if (Date.now() > end || gw.exitCode !== null) throw new Error(`the gateway did not get ready:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(() => {
    if (gw?.pid && gw.exitCode === null && gw.signalCode === null) process.kill(gw.pid, 'SIGKILL');
    server?.close();
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  test('RFC 2131 §4.3.1/§4.3.2, RFC 2132 §3.3/§3.5/§3.8/§5.1/§9.2/§9.7: udhcpc is offered and acknowledged 10.0.2.100, mask 255.255.255.0, router 10.0.2.2, DNS 10.0.2.3, the MTU, one day, server 10.0.2.2; with that lease busybox wget reaches the host', async () => {
    // Forget what --netns configured: the address comes from DHCP now.
    nsExec(['ip', 'addr', 'flush', 'dev', 'tap0']);
    const script = join(dir, 'udhcpc.script');
    // udhcpc runs its script with the lease in the environment ("bound" for an ACK).
    writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "LEASE ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu lease=$lease serverid=$serverid"\nexit 0\n');
    chmodSync(script, 0o755);
    const r = nsExec(['busybox', 'udhcpc', '-i', 'tap0', '-f', '-q', '-n', '-t', '5', '-T', '2', '-O', 'mtu', '-s', script]);
    assert.equal(r.code, 0, `${r.out} ${String(r.error)}`);
    const m = /LEASE (.*)/.exec(r.out);
    assert.ok(m, r.out);
    assert.equal(m[1], `ip=10.0.2.100 mask=24 router=10.0.2.2 dns=10.0.2.3 mtu=${MTU} lease=86400 serverid=10.0.2.2`);
    nsExec(['ip', 'addr', 'add', '10.0.2.100/24', 'dev', 'tap0']);
    nsExec(['ip', 'route', 'add', 'default', 'via', '10.0.2.2']);
    const w = await nsRun(['busybox', 'wget', '-q', '-O', '-', `http://10.0.2.2:${port}/`]);
    assert.equal(w.code, 0, w.out);
    assert.equal(w.out, 'hello through the gateway\n');
  });
});
