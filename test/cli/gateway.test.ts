/**
 * `synack gateway` as scripts drive it: started as a process, it prints a
 * line containing "ready" once its qemu socket listens; a guest (a synack
 * stack speaking the socket's framing) reaches a host server through
 * 10.0.2.2 and a host client reaches the guest through --publish; SIGTERM
 * stops it with exit code 0 and the --stats line; bad options exit 2.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as nodeNet from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { parsePcap, LINKTYPE_ETHERNET } from '../../src/wire/pcap.ts';
import { closedPort, collect, hostServer, waitFor } from '../gateway/helpers.ts';
import { streamGuest } from '../gateway/stream-guest.ts';
import { memIo } from './mem-io.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'synack-gwcli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('synack gateway: bad options are usage errors (exit 2) naming what is wrong', async () => {
  for (const [argv, re] of [
    [['gateway'], /--qemu-socket/],
    [['gateway', '--qemu-socket', '/x', '--mtu', '70000'], /--mtu/],
    [['gateway', '--qemu-socket', '/x', '--deny', '10.0.0.0/33'], /--deny/],
    [['gateway', '--qemu-socket', '/x', '--publish', '80'], /--publish/],
    [['gateway', '--qemu-socket', '/x', '--netns', '/run/netns/x'], /one downstream at a time/],
    [['gateway', '--qemu-socket', '/x', '--tap', 'tap1'], /--tap names the TAP device of --netns/],
    [['gateway', '--netns', '/run/netns/x', '--tap', 'a-name-far-too-long'], /--tap: not an interface name/],
    [['gateway', '--qemu-socket', '/x', '--dns-upstream', 'resolver'], /--dns-upstream: not a DNS upstream/],
    [['gateway', '--qemu-socket', '/x', '--dns-upstream', '127.0.0.1:99999'], /--dns-upstream/],
  ] as Array<[string[], RegExp]>) {
    const io = memIo();
    assert.equal(await main(argv, io), 2, argv.join(' '));
    assert.match(io.err.join('\n'), re);
  }
});

test('synack gateway --qemu-socket (with --small-heap, --no-dhcp, --no-idle-trim): prints ready, forwards a guest connection to a host server and a published port to the guest, writes the pcap, stops on SIGTERM with its stats', { timeout: 60_000 }, async () => {
  const sockPath = join(dir, 'vm.sock');
  const pcap = join(dir, 'guest.pcap');
  const h = await hostServer((s) => s.end('from the host'));
  const pubPort = await closedPort();
  const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gateway', '--qemu-socket', sockPath, '--publish', `127.0.0.1:${pubPort}:8080`, '--pcap', pcap, '--stats', '--small-heap', '--no-dhcp', '--no-idle-trim'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => (stdout += d));
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  try {
    await waitFor('ready', () => /ready/.test(stdout), 30_000);
    const g = await streamGuest(sockPath);
    try {
      // Guest → host through the gateway address.
      const sock = g.net.connect(h.port, '10.0.2.2');
      assert.equal((await collect(sock)).toString(), 'from the host');
      // Host → guest through the published port.
      g.net.createServer((s) => s.end('from the guest')).listen(8080);
      const c = nodeNet.connect(pubPort, '127.0.0.1');
      assert.equal((await collect(c)).toString(), 'from the guest');
    } finally {
      g.close();
    }
    p.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    const statsLine = stdout.split('\n').find((l) => l.startsWith('stats '));
    assert.ok(statsLine, stdout);
    const st = JSON.parse(statsLine.slice(6)) as { tcp: { opened: number; published: number }; dhcp: unknown };
    assert.equal(st.tcp.opened, 1);
    assert.equal(st.dhcp, null, '--no-dhcp: no DHCP server');
    assert.equal(st.tcp.published, 1);
    assert.match(stderr, /stopped/);
    assert.ok(!existsSync(sockPath), 'the socket file is removed at exit');
    const cap = parsePcap(readFileSync(pcap));
    assert.ok(cap.ok, 'a readable pcap');
    assert.equal(cap.linkType, LINKTYPE_ETHERNET);
    assert.ok(cap.records.length > 10, `${cap.records.length} frames captured`);
  } finally {
    if (p.exitCode === null) p.kill('SIGKILL');
    h.server.close();
  }
});
