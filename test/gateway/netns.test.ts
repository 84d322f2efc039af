/**
 * `synack gateway --netns PATH` with real Linux clients (issue 15, real
 * client 1): the test makes a bare network namespace (`ip netns add`), starts
 * ONE gateway process on the host for the whole file, and runs curl, busybox
 * wget and nc, python3 and iperf3 inside the namespace against servers on
 * the host's 127.0.0.1, reached through the gateway address 10.0.2.2; a
 * guest server is reached from the host through --publish. Traffic stays on
 * loopback and inside the namespace. Every process is killed by PID and the
 * namespace deleted at the end.
 *
 * Needs root, /dev/net/tun, ip, python3, curl, busybox, iperf3 and the addon
 * (with network namespace support): outside CI it skips saying which is
 * missing; in CI (.ci/run installs them) it must run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as nodeNet from 'node:net';
import { Netns, skipUnlessReady, type Proc } from '../interop/helpers.ts';
import { closedPort, collect, hostServer } from './helpers.ts';
import { hostSpawn, killByPid, type HostProc } from './host-proc.ts';
import { pattern as blob } from '../api/helpers.ts';
import { createGateway } from '../../src/gateway/gateway.ts';

const skip = skipUnlessReady(['curl', 'busybox', 'iperf3']);
const MTU = 65520;
const GUEST_PORT = 8080;

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Runs a command in the namespace to its end; stdout as bytes, stderr and the exit code. */
async function run(ns: Netns, argv: string[], opts: { timeoutMs?: number; stdin?: Uint8Array } = {}): Promise<{ code: number | string; out: Buffer; err: string; proc: Proc }> {
  const p = ns.spawn(argv, { timeoutMs: opts.timeoutMs ?? 60_000, stdin: opts.stdin !== undefined });
  if (opts.stdin !== undefined) p.input(opts.stdin);
  const code = await p.exited;
  return { code, out: Buffer.from(p.stdout(), 'latin1'), err: p.stderr(), proc: p };
}

/**
 * A host server that hashes what it reads and, at the client's EOF, answers
 * "LENGTH SHA256" and closes; `slowUntil`: for that many bytes it pauses 2
 * ms after every read (the host socket fills, the relay waits).
 */
async function hashingServer(slowUntil = 0): Promise<Awaited<ReturnType<typeof hostServer>>> {
  return hostServer((s) => {
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
      if (n < slowUntil) {
        s.pause();
        setTimeout(() => s.resume(), 2);
      }
    });
    s.on('end', () => s.end(`${n} ${h.digest('hex')}`));
  });
}

/** A python3 guest client: connects to 10.0.2.2:PORT, sends its stdin, shuts down its sending side and prints what comes back until EOF. */
const sendAndReadReply = (port: number, timeoutS: number): string =>
  [
    'import socket, sys',
    `s = socket.create_connection(("10.0.2.2", ${port}), timeout=${timeoutS})`,
    's.sendall(sys.stdin.buffer.read())',
    's.shutdown(socket.SHUT_WR)',
    'reply = b""',
    'while True:',
    '  d = s.recv(65536)',
    '  if not d: break',
    '  reply += d',
    'sys.stdout.write(reply.decode())',
  ].join('\n');

describe('synack gateway --netns: a network namespace online through the gateway, with real Linux clients', { skip }, () => {
  const ns = new Netns({ tag: 'gwns', bare: true });
  const down = blob(4 << 20, 7);
  let httpServer: http.Server;
  let httpPort = 0;
  let pubPort = 0;
  let gw: HostProc | null = null;
  let iperf: HostProc | null = null;
  const closers: Array<() => void> = [];

  before(async () => {
    ns.setup();
    httpServer = http.createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/blob') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(down.length) });
        res.end(down);
        return;
      }
      if (req.method === 'POST' && req.url === '/upload') {
        const h = createHash('sha256');
        let n = 0;
        req.on('data', (d: Buffer) => {
          h.update(d);
          n += d.length;
        });
        req.on('end', () => res.end(`${n} ${h.digest('hex')}\n`));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    httpPort = (httpServer.address() as nodeNet.AddressInfo).port;
    closers.push(() => httpServer.close());
    pubPort = await closedPort();
    gw = hostSpawn(
      [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'gateway', '--netns', ns.path, '--mtu', String(MTU), '--publish', `127.0.0.1:${pubPort}:${GUEST_PORT}`, '--stats'],
      300_000,
    );
    await gw.waitFor(/ready on tap0/, 30_000);
  });

  after(async () => {
    killByPid(iperf);
    killByPid(gw);
    for (const c of closers) c();
    httpServer?.closeAllConnections?.();
    await ns.cleanup();
  });

  test('the TAP device is made inside the namespace and configured there: 10.0.2.100/24, the MTU, up, a default route via 10.0.2.2, lo up; nothing in the host namespace', () => {
    const addr = ns.exec(['ip', '-o', '-4', 'addr', 'show', 'dev', 'tap0']);
    assert.match(addr, /inet 10\.0\.2\.100\/24 /);
    const link = ns.exec(['ip', '-o', 'link', 'show', 'dev', 'tap0']);
    assert.match(link, new RegExp(`mtu ${MTU} `));
    assert.match(link, /[<,]UP[,>]/);
    assert.match(ns.exec(['ip', '-o', 'link', 'show', 'dev', 'lo']), /[<,]UP[,>]/);
    assert.match(ns.exec(['ip', '-4', 'route', 'show', 'default']), /default via 10\.0\.2\.2 dev tap0/);
    assert.notEqual(spawnSync('ip', ['link', 'show', 'dev', 'tap0'], { stdio: 'ignore' }).status, 0, 'no tap0 in the host namespace');
  });

  test('curl fetches 4 MiB from a node:http server on the host 127.0.0.1 through 10.0.2.2 and uploads 3 MiB back (SHA-256 equal both ways)', async () => {
    const get = await run(ns, ['curl', '-sS', '--max-time', '60', `http://10.0.2.2:${httpPort}/blob`]);
    assert.equal(get.code, 0, get.err);
    assert.equal(get.out.length, down.length);
    assert.equal(sha(get.out), sha(down));
    const up = blob(3 << 20, 11);
    const post = await run(ns, ['curl', '-sS', '--max-time', '60', '--data-binary', '@-', '-H', 'content-type: application/octet-stream', `http://10.0.2.2:${httpPort}/upload`], { stdin: up });
    assert.equal(post.code, 0, post.err);
    assert.equal(post.out.toString().trim(), `${up.length} ${sha(up)}`);
  });

  test('busybox wget fetches the same 4 MiB (SHA-256 equal)', async () => {
    const r = await run(ns, ['busybox', 'wget', '-q', '-O', '-', `http://10.0.2.2:${httpPort}/blob`]);
    assert.equal(r.code, 0, r.err);
    assert.equal(sha(r.out), sha(down));
  });

  test('busybox nc reads what a host server sends before closing; a connect to a closed host port fails at once with "Connection refused"', async () => {
    const h = await hostServer((s) => s.end('hello from the host\n'));
    closers.push(() => h.server.close());
    const r = await run(ns, ['busybox', 'nc', '10.0.2.2', String(h.port)], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.toString(), 'hello from the host\n');
    const port = await closedPort();
    const refused = await run(ns, ['busybox', 'nc', '10.0.2.2', String(port)], { timeoutMs: 20_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.err, /Connection refused/);
    // python3's connect says the same, with a 10 s timeout it never reaches (a SYN left unanswered would time out instead).
    const py = await run(
      ns,
      ['python3', '-c', `import socket\ntry:\n  socket.create_connection(("10.0.2.2", ${port}), timeout=10)\n  print("connected")\nexcept OSError as e:\n  print(type(e).__name__, e.errno)`],
      { timeoutMs: 20_000 },
    );
    assert.equal(py.out.toString().trim(), 'ConnectionRefusedError 111');
  });

  test('half-close both ways with a python3 client: the guest shuts down its sending side and still reads the reply; the host ends first and still reads what the guest sends after', async () => {
    const payload = blob(1 << 20, 3);
    // The guest's FIN first: the host server replies after the end of what it reads.
    const h1 = await hashingServer();
    closers.push(() => h1.server.close());
    const r1 = await run(ns, ['python3', '-c', sendAndReadReply(h1.port, 30)], { stdin: payload });
    assert.equal(r1.code, 0, r1.err);
    assert.equal(r1.out.toString(), `${payload.length} ${sha(payload)}`);

    // The host's FIN first: the guest reads to EOF, then sends, then closes.
    let late: Promise<string> = Promise.resolve('');
    const h2 = await hostServer((s) => {
      late = collect(s).then((b) => b.toString());
      s.end('the host is done sending');
    });
    closers.push(() => h2.server.close());
    const client2 = [
      'import socket, sys',
      `s = socket.create_connection(("10.0.2.2", ${h2.port}), timeout=30)`,
      'got = b""',
      'while True:',
      '  d = s.recv(65536)',
      '  if not d: break',
      '  got += d',
      's.sendall(b"sent after the host\'s FIN: " + got)',
      's.close()',
      'print("ok")',
    ].join('\n');
    const r2 = await run(ns, ['python3', '-c', client2]);
    assert.equal(r2.code, 0, r2.err);
    assert.equal(await late, "sent after the host's FIN: the host is done sending");
  });

  test('host → guest while the guest reads slowly: the gateway holds MiBs for it (its window full, the host socket paused) in recycled read buffers, handed back only once acknowledged; 24 MiB arrive with the SHA-256 equal', async () => {
    const big = blob(24 << 20, 13);
    const h = await hostServer((s) => s.end(big));
    closers.push(() => h.server.close());
    // Slow for the first 6 MiB (8 KiB reads, a pause every 64 KiB), then as fast as it can.
    const client = [
      'import socket, sys, time, hashlib',
      `s = socket.create_connection(("10.0.2.2", ${h.port}), timeout=60)`,
      's.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)',
      'h = hashlib.sha256(); n = 0',
      'while True:',
      '  d = s.recv(8192 if n < (6 << 20) else 1 << 20)',
      '  if not d: break',
      '  h.update(d); n += len(d)',
      '  if n < (6 << 20) and n % 65536 < 8192: time.sleep(0.002)',
      'print(n, h.hexdigest())',
    ].join('\n');
    const r = await run(ns, ['python3', '-c', client], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.toString().trim(), `${big.length} ${sha(big)}`);
  });

  test('guest → host while the host reads slowly: what the guest sends waits in the TCB in recycled packet buffers, handed back to the TAP link only once the host socket took their bytes; 24 MiB arrive with the SHA-256 equal', async () => {
    const big = blob(24 << 20, 17);
    // Slow for the first 6 MiB.
    const h = await hashingServer(6 << 20);
    closers.push(() => h.server.close());
    const r = await run(ns, ['python3', '-c', sendAndReadReply(h.port, 60)], { stdin: big, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.toString(), `${big.length} ${sha(big)}`);
  });

  test('--publish: a host client reaches a server in the namespace (python3 on port 8080) through 127.0.0.1:HOSTPORT, 2 MiB up with a half-close and the SHA-256 back', async () => {
    const server = [
      'import socket, hashlib, sys',
      's = socket.socket()',
      's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
      `s.bind(("0.0.0.0", ${GUEST_PORT}))`,
      's.listen(1)',
      'print("listening", flush=True)',
      'c, _ = s.accept()',
      'h = hashlib.sha256(); n = 0',
      'while True:',
      '  d = c.recv(65536)',
      '  if not d: break',
      '  h.update(d); n += len(d)',
      'c.sendall(("%d %s" % (n, h.hexdigest())).encode())',
      'c.close()',
    ].join('\n');
    const p = ns.spawn(['python3', '-c', server], { timeoutMs: 60_000 });
    await p.waitFor(/listening/, 15_000);
    const payload = blob(2 << 20, 5);
    const c = nodeNet.connect({ port: pubPort, host: '127.0.0.1', allowHalfOpen: true });
    c.on('connect', () => c.end(payload));
    const reply = (await collect(c)).toString();
    assert.equal(reply, `${payload.length} ${sha(payload)}`);
    assert.equal(await p.exited, 0, p.stderr());
  });

  test('iperf3 for 3 s each way, guest → host and host → guest (-R), to an iperf3 server on the host 127.0.0.1 through 10.0.2.2: bytes arrive both ways', async (t) => {
    const port = await closedPort();
    iperf = hostSpawn(['iperf3', '-s', '--forceflush', '-B', '127.0.0.1', '-p', String(port)], 120_000);
    await iperf.waitFor(/Server listening/, 15_000);
    for (const reverse of [false, true]) {
      const r = await run(ns, ['iperf3', '-c', '10.0.2.2', '-p', String(port), '-t', '3', '-J', ...(reverse ? ['-R'] : [])], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, `${r.out.toString().slice(-2000)}\n${r.err}`);
      const j = JSON.parse(r.out.toString()) as { end: { sum_received: { bytes: number; bits_per_second: number }; sum_sent: { bytes: number } } };
      // Bytes, not speed: at least 1 MiB arrived, and the receiver counted no more than was sent.
      assert.ok(j.end.sum_received.bytes >= 1 << 20, `${reverse ? 'host → guest' : 'guest → host'}: ${j.end.sum_received.bytes} bytes`);
      assert.ok(j.end.sum_received.bytes <= j.end.sum_sent.bytes);
      t.diagnostic(`${reverse ? 'host → guest' : 'guest → host'} at MTU ${MTU}: ${(j.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gbit/s`);
    }
    killByPid(iperf, 'SIGTERM');
    await iperf.exited;
  });

  test('createGateway({ downstream: { netns } }): a path that is no namespace, or not a network namespace, is a typed error naming it (nothing is left open)', () => {
    assert.throws(() => createGateway({ downstream: { netns: `/run/netns/${ns.name}-absent` } }), (e: Error & { code?: string }) => e.code === 'ENOENT' && /cannot open the network namespace/.test(e.message));
    assert.throws(
      () => createGateway({ downstream: { netns: '/proc/self/ns/uts' } }),
      (e: Error & { code?: string }) => e.code === 'EINVAL' && /cannot enter the network namespace \/proc\/self\/ns\/uts/.test(e.message),
    );
    assert.throws(() => createGateway({ downstream: { netns: '' } }), (e: Error & { code?: string }) => e.code === 'ERR_SYNACK_INVALID_ARG');
  });

  test('SIGTERM stops the gateway: exit 0, the --stats line counts what passed, and the TAP device is gone from the namespace', async () => {
    const g = gw!;
    killByPid(g, 'SIGTERM');
    assert.equal(await g.exited, 0, g.err());
    const line = g.out().split('\n').find((l) => l.startsWith('stats '));
    assert.ok(line, g.out());
    const st = JSON.parse(line.slice(6)) as {
      tcp: { opened: number; refused: number; published: number; bytesUp: number; bytesDown: number; buffersRecycled: number };
      tap: { packetsLent: number; packetsDirect: number; packetsBare: number; batches: number };
      driver: { turns: number; settles: number };
    };
    assert.ok(st.tcp.refused >= 2, JSON.stringify(st.tcp));
    assert.equal(st.tcp.published, 1);
    assert.ok(st.tcp.opened >= 8, JSON.stringify(st.tcp));
    assert.ok(st.tcp.bytesDown >= 2 * down.length && st.tcp.bytesUp >= 3 << 20, JSON.stringify(st.tcp));
    // Buffers were reused both ways: host reads of 16 KiB or more (back once acknowledged) and the guest's large packets (back once written to the host).
    assert.ok(st.tcp.buffersRecycled > 0, JSON.stringify(st.tcp));
    // The guest's large packets of a run were read by the device straight into such buffers (no copy out of
    // the read arena), and its segments without payload (ACKs, FINs) were copied into a shared slab.
    assert.ok(st.tap.packetsDirect > 0 && st.tap.packetsDirect <= st.tap.packetsLent, JSON.stringify(st.tap));
    assert.ok(st.tap.packetsBare > 0, JSON.stringify(st.tap));
    // Most batches of guest frames and host socket events ended by re-arming the driver's timer, not with a turn of their own.
    assert.ok(st.driver.settles > st.driver.turns && st.driver.turns < st.tap.batches, JSON.stringify({ driver: st.driver, batches: st.tap.batches }));
    assert.match(g.err(), /stopped/);
    assert.notEqual(spawnSync('ip', ['netns', 'exec', ns.name, 'ip', 'link', 'show', 'dev', 'tap0'], { stdio: 'ignore' }).status, 0, 'tap0 is removed');
  });
});
