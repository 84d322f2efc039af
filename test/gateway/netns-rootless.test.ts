/**
 * `synack gateway --netns PATH --userns PATH` without root (rootless
 * containers, as `slirp4netns --userns-path=… --netns-type=path`): root is
 * used only to set the stage — /dev/net/tun is made mode 0666 for the
 * file's duration (the mode most distributions ship; here it is 0600) and
 * its mode restored afterwards, also on failure. Everything else runs as
 * the unprivileged user 65534 (setpriv): a holder process `unshare --user
 * --map-root-user --net sleep` owns a user namespace and a network
 * namespace, the gateway serves them (`--netns /proc/PID/ns/net --userns
 * /proc/PID/ns/user`), and clients inside them (nsenter --user --net
 * --preserve-credentials, python3) fetch bytes from a host server on
 * 127.0.0.1 through 10.0.2.2 (SHA-256 compared), resolve a name through
 * 10.0.2.3 against a DNS server of the test on the host's loopback, and
 * reach the host's ::1 through fd00::2 (--ipv6). Without --userns the same
 * user gets a clear error naming EPERM and suggesting --userns; with
 * /dev/net/tun back at 0600, one naming EACCES and the mode it needs.
 * Traffic stays on loopback and inside the namespaces the test makes;
 * every process is killed by PID.
 *
 * Needs root (for the setup), /dev/net/tun, setpriv, unshare, nsenter,
 * python3, the addon, unprivileged user namespaces and a checkout user
 * 65534 can read: outside CI it skips saying which is missing; in CI it
 * must run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, skipUnlessReady } from '../interop/helpers.ts';
import { inCi } from '../support/ci.ts';
import { hostServer, pattern, sha256 } from './helpers.ts';
import { hostSpawn, killByPid, type HostProc } from './host-proc.ts';
import { startUpstream, type TestUpstream } from './dns-upstream.ts';

const UID = 65534;
const TUN = '/dev/net/tun';
/** The unprivileged user, with an environment of its own (root's PATH may point into /root). */
const AS_USER = ['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--', 'env', '-i', 'HOME=/tmp', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NO_COLOR=1'];
const MTU = 9000;
const BYTES = 3 * 1024 * 1024 + 124; // pattern() fills whole 32-bit words

/** Folders above the checkout given o+x so user 65534 can reach it (CI only), with their modes to put back. */
const opened: Array<[string, number]> = [];
const closeOpened = (): void => {
  for (const [dir, mode] of opened.splice(0)) chmodSync(dir, mode);
};

/** Whether user 65534 can read the checkout and run node. */
const userCanRead = (): boolean =>
  spawnSync(AS_USER[0]!, [...AS_USER.slice(1), 'sh', '-c', 'test -r "$1" && test -x "$2"', 'sh', join(ROOT, 'src/cli/main.ts'), process.execPath], { timeout: 10_000 }).status === 0;

/** Why the rootless setup cannot work here (beyond the interop prerequisites), or null. */
function rootlessMissing(): string | null {
  const probe = spawnSync(AS_USER[0]!, [...AS_USER.slice(1), 'unshare', '--user', '--map-root-user', '--net', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0) return `user ${UID} cannot make a user and network namespace (unshare --user --map-root-user --net): ${(probe.stderr || String(probe.error ?? probe.status)).trim()}`;
  if (!userCanRead() && inCi() && process.getuid?.() === 0) {
    // A CI checkout in a private folder (mktemp -d makes it 0700): let the
    // unprivileged user pass through the folders above it (search only, no
    // listing) for the file's duration; every mode is put back afterwards.
    process.once('exit', closeOpened);
    for (let dir = dirname(ROOT); ; dir = dirname(dir)) {
      const mode = statSync(dir).mode & 0o7777;
      if ((mode & 0o001) === 0) {
        opened.push([dir, mode]);
        chmodSync(dir, mode | 0o001);
      }
      if (dir === dirname(dir)) break;
    }
  }
  if (!userCanRead()) return `user ${UID} cannot read the checkout (${ROOT}) or run ${process.execPath}`;
  return null;
}

function skipRootless(): string | false {
  const base = skipUnlessReady(['setpriv', 'unshare', 'nsenter']);
  if (base) return base;
  const why = rootlessMissing();
  if (why === null) return false;
  if (inCi()) throw new Error(`interop tests must run in CI, but: ${why}`);
  return `interop tests skipped: ${why}`;
}

const skip = skipRootless();

describe('synack gateway --netns --userns: a rootless namespace served by an unprivileged user', { skip }, () => {
  let tunMode = -1;
  let holder: HostProc | null = null;
  let gw: HostProc | null = null;
  let up: TestUpstream | null = null;
  const data = pattern(BYTES, 7);
  const closers: Array<() => void> = [];
  let nsNet = '';
  let nsUser = '';
  /** The host servers' ports: 127.0.0.1 (the bytes) and ::1. */
  const ports = { v4: 0, v6: 0 };

  /** Puts /dev/net/tun's mode back (idempotent; also from process 'exit'). */
  const restoreTun = (): void => {
    if (tunMode >= 0) {
      chmodSync(TUN, tunMode);
      tunMode = -1;
    }
  };

  /** Runs argv as the unprivileged user to its end. */
  async function runAsUser(argv: string[], timeoutMs = 30_000): Promise<{ code: number | string; out: string; err: string }> {
    const p = hostSpawn([...AS_USER, ...argv], timeoutMs);
    const code = await p.exited;
    return { code, out: p.out(), err: p.err() };
  }

  /** Runs argv inside the holder's user and network namespaces, as the unprivileged user (uid 0 in there). */
  function inNs(argv: string[], timeoutMs = 30_000): Promise<{ code: number | string; out: string; err: string }> {
    return runAsUser(['nsenter', `--target=${holder!.child.pid}`, '--user', '--net', '--preserve-credentials', '--', ...argv], timeoutMs);
  }

  before(async () => {
    tunMode = statSync(TUN).mode & 0o7777;
    process.once('exit', restoreTun);
    chmodSync(TUN, 0o666);

    const h = await hostServer((s) => s.end(data));
    closers.push(() => h.server.close());
    const h6 = await hostServer((s) => s.end('hello via ::1'), '::1');
    closers.push(() => h6.server.close());
    ports.v4 = h.port;
    ports.v6 = h6.port;
    up = await startUpstream('127.0.0.1');

    holder = hostSpawn([...AS_USER, 'unshare', '--user', '--map-root-user', '--net', 'sleep', '600'], 600_000);
    const pid = holder.child.pid!;
    nsNet = `/proc/${pid}/ns/net`;
    nsUser = `/proc/${pid}/ns/user`;
    // setpriv, env and unshare each exec the next, so the PID is sleep's once
    // unshare has made the namespaces and written the ID maps.
    const end = Date.now() + 10_000;
    for (;;) {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        // not there yet, or gone
      }
      if (comm === 'sleep' && readlinkSync(nsUser) !== readlinkSync('/proc/self/ns/user') && readlinkSync(nsNet) !== readlinkSync('/proc/self/ns/net')) break;
      if (Date.now() > end) throw new Error(`the namespace holder did not start: ${holder.err()}`);
      await new Promise((r) => setTimeout(r, 20));
    }

    gw = hostSpawn(
      [...AS_USER, process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'gateway', '--netns', nsNet, '--userns', nsUser, '--mtu', String(MTU), '--ipv6', '--dns-upstream', `127.0.0.1:${up.port}`, '--stats'],
      300_000,
    );
    await gw.waitFor(/ready on tap0/, 60_000);
  });

  after(async () => {
    killByPid(gw);
    killByPid(holder);
    for (const c of closers) c();
    await up?.close();
    restoreTun();
    closeOpened();
  });

  test('the gateway runs as the unprivileged user, without capabilities, and says where it serves', () => {
    const status = readFileSync(`/proc/${gw!.child.pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${UID}\\s+${UID}\\s+${UID}\\s+${UID}$`, 'm'));
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.ok(gw!.out().includes(`ready on tap0 in ${nsNet} (user namespace ${nsUser})`), gw!.out());
  });

  test('inside the namespace: tap0 has 10.0.2.100/24, the MTU and a default route via 10.0.2.2 (configured by the forked child), and fd00::100/64', async () => {
    const addr = await inNs(['ip', '-o', 'addr', 'show', 'dev', 'tap0']);
    assert.equal(addr.code, 0, addr.err);
    assert.match(addr.out, /inet 10\.0\.2\.100\/24 /);
    assert.match(addr.out, /inet6 fd00::100\/64 /);
    const link = await inNs(['ip', '-o', 'link', 'show', 'dev', 'tap0']);
    assert.match(link.out, new RegExp(`mtu ${MTU} `));
    assert.match(link.out, /[<,]UP[,>]/);
    const route = await inNs(['ip', 'route', 'show', 'default']);
    assert.match(route.out, /default via 10\.0\.2\.2 dev tap0/);
    const lo = await inNs(['ip', '-o', 'link', 'show', 'dev', 'lo']);
    assert.match(lo.out, /[<,]UP[,>]/);
  });

  test('a client in the namespace fetches 3 MiB from the host\'s 127.0.0.1 through 10.0.2.2, byte for byte (SHA-256)', async () => {
    const py = [
      'import hashlib, socket, sys',
      's = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)',
      'h = hashlib.sha256(); n = 0',
      'while True:',
      '    d = s.recv(65536)',
      '    if not d: break',
      '    h.update(d); n += len(d)',
      'print(n, h.hexdigest())',
    ].join('\n');
    const r = await inNs(['python3', '-c', py, '10.0.2.2', String(ports.v4)], 60_000);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), `${BYTES} ${sha256(data)}`);
  });

  test('a name resolves through the DNS forwarder at 10.0.2.3 (the test\'s zone server on the host\'s loopback)', async () => {
    const py = [
      'import socket, struct',
      "q = struct.pack('>HHHHHH', 0x5a5a, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(l)]) + l for l in b'www.example.test'.split(b'.')) + b'\\0' + struct.pack('>HH', 1, 1)",
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(10)',
      "s.sendto(q, ('10.0.2.3', 53))",
      'r, _ = s.recvfrom(4096)',
      "print(r[:2] == q[:2], r[3] & 15, struct.unpack('>H', r[6:8])[0], socket.inet_aton('192.0.2.10') in r[len(q):])",
    ].join('\n');
    const before = up!.udpQueries;
    const r = await inNs(['python3', '-c', py]);
    assert.equal(r.code, 0, r.err);
    // same id, rcode 0, one answer, 192.0.2.10 in it
    assert.equal(r.out.trim(), 'True 0 1 True');
    assert.equal(up!.udpQueries, before + 1);
  });

  test('--ipv6: a client in the namespace reaches a server on the host\'s ::1 through fd00::2', async () => {
    const py = [
      'import socket, sys',
      "s = socket.create_connection(('fd00::2', int(sys.argv[1])), timeout=20)",
      "b = b''",
      'while True:',
      '    d = s.recv(4096)',
      '    if not d: break',
      '    b += d',
      'print(b.decode())',
    ].join('\n');
    const r = await inNs(['python3', '-c', py, String(ports.v6)]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), 'hello via ::1');
  });

  test('SIGTERM: the gateway stops cleanly (exit 0) and tap0 is gone from the namespace', async () => {
    gw!.kill('SIGTERM');
    assert.equal(await gw!.exited, 0, gw!.err());
    assert.match(gw!.out(), /^stats \{/m);
    const link = await inNs(['ip', 'link', 'show', 'dev', 'tap0']);
    assert.notEqual(link.code, 0, link.out);
  });

  test('with /dev/net/tun at 0600 (as on this kind of host), --userns fails with EACCES from open, saying the device node must be mode 0666', async () => {
    chmodSync(TUN, 0o600);
    try {
      const r = await runAsUser([process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'gateway', '--netns', nsNet, '--userns', nsUser], 60_000);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, new RegExp(`permission denied opening /dev/net/tun from the user namespace ${nsUser.replace(/\//g, '\\/')}: .*mode 0666`));
      assert.match(r.err, /\(EACCES\)/);
      assert.doesNotMatch(r.err, /--userns \/proc\/PID/, 'no hint to give --userns: it was given');
      assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace');
    } finally {
      chmodSync(TUN, 0o666);
    }
  });

  test('without --userns the same user gets a clear error (EPERM on setns) suggesting --userns, not a crash', async () => {
    const r = await runAsUser([process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'gateway', '--netns', nsNet], 60_000);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.err, new RegExp(`cannot enter the network namespace ${nsNet.replace(/\//g, '\\/')}: Operation not permitted`));
    assert.match(r.err, /EPERM/);
    assert.match(r.err, /--userns \/proc\/PID\/ns\/user/);
    assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace');
    assert.doesNotMatch(r.out, /ready/);
  });
});
