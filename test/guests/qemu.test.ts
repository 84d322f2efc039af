/**
 * The QEMU guest harness, proved against QEMU's own networks before synack's
 * gateway is plugged in (issue 15, "Real clients in the tests", client 2):
 *
 *  1. `-netdev user` (QEMU's slirp, the reference user-mode network): the
 *     guest, a Debian kernel with a busybox initramfs built from Debian
 *     packages, gets 10.0.2.15 by DHCP and fetches a page from a node:http
 *     server on the host's 127.0.0.1 through 10.0.2.2 (loopback traffic).
 *  2. `-netdev stream,server=off,addr.type=unix` (QEMU 7.2's stream backend,
 *     the one `synack gateway --qemu-socket` serves): a Unix server here
 *     reads the 4-byte big-endian length framing and the guest's DHCP
 *     DISCOVER arrives in it as one whole Ethernet frame.
 *
 * One boot per test, TCG (no KVM); the image is built once per run and cached
 * outside git (test/support/guest-image.ts). In CI (any non-empty CI) the
 * tests must run — .ci/run installs qemu-system-x86; elsewhere they skip
 * when QEMU is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { inCi } from '../support/ci.ts';
import { guestImage, type GuestImage } from '../support/guest-image.ts';
import { bootQemu, type QemuBootOptions, type QemuRun } from '../support/qemu.ts';
import { withBootLock } from '../support/boot-lock.ts';
import { StreamDeframer, dhcpDiscover, type Discover } from '../support/frames.ts';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }).status === 0;
const skip = !hasQemu && !inCi() ? 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' : false;
const log = (s: string) => process.env['SYNACK_GUEST_LOG'] && console.error(s);

let image: GuestImage | undefined;
/** Builds (once) and boots the x86_64 guest, one guest on the machine at a time. */
function boot(o: Omit<QemuBootOptions, 'image'>): Promise<QemuRun> {
  return withBootLock(async () => {
    if (!image) {
      image = guestImage({ arch: 'x86_64', log: (l) => console.error(l) });
      console.error(`guest x86_64 ${image.built ? 'built' : 'from the cache'} in ${image.ms} ms (${image.dir})`);
    }
    return bootQemu({ image, ...o });
  });
}

/** 100 000 bytes from a fixed-seed generator: the page the guest fetches. */
function page(): Buffer {
  const b = Buffer.alloc(100_000);
  let x = 0x2545f491;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

test('QEMU -netdev user: the Debian guest gets 10.0.2.15 by DHCP and fetches a page from the host through 10.0.2.2', { skip, timeout: 600_000 }, async () => {
  const body = page();
  const requests: string[] = [];
  const http = createHttpServer((req, res) => {
    requests.push(`${req.method} ${req.url} from ${req.socket.remoteAddress}`);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  try {
    const run = await boot({
      netdev: 'user,id=n0',
      run: `wget -q -O /tmp/page http://10.0.2.2:${port}/page && sha256sum /tmp/page`,
      onLine: (l, ms) => log(`${(ms / 1000).toFixed(1)} ${l}`),
    });
    console.error(`qemu user: /init at ${run.initMs} ms, lease at ${run.leaseMs} ms, exit at ${run.ms} ms`);
    assert.equal(run.timedOut, false, `QEMU timed out:\n${run.text}`);
    assert.deepEqual(run.insmodFailures, []);
    assert.ok(run.lease, `a lease:\n${run.text}`);
    assert.equal(run.lease.ip, '10.0.2.15');
    assert.equal(run.lease.router, '10.0.2.2');
    assert.equal(run.lease.dns, '10.0.2.3');
    assert.equal(run.exit, 0, `the fetch succeeded:\n${run.text}`);
    assert.match(run.output, new RegExp(`^${createHash('sha256').update(body).digest('hex')}  /tmp/page$`, 'm'));
    assert.deepEqual(requests, ['GET /page from 127.0.0.1']);
    assert.equal(run.code, 0, 'QEMU exited after the guest powered off');
  } finally {
    http.close();
  }
});

test('QEMU -netdev stream (Unix, client): the guest\'s DHCP DISCOVER arrives as one length-prefixed Ethernet frame', { skip, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'synack-qemu-stream-'));
  const path = join(dir, 'qemu.sock');
  const stop = new AbortController();
  const frames: Buffer[] = [];
  const discovers: Discover[] = [];
  let connections = 0;
  let deframer: StreamDeframer | undefined;
  const sockets: Socket[] = [];
  const server = createNetServer((s) => {
    connections++;
    sockets.push(s);
    deframer = new StreamDeframer((f) => {
      frames.push(Buffer.from(f));
      const d = dhcpDiscover(f);
      if (d) {
        discovers.push(d);
        stop.abort();
      }
    });
    s.on('data', (c) => deframer!.push(c));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  const mac = '52:54:00:0a:0b:0c';
  try {
    const run = await boot({
      netdev: `stream,id=n0,server=off,addr.type=unix,addr.path=${path}`,
      mac,
      signal: stop.signal,
      onLine: (l, ms) => log(`${(ms / 1000).toFixed(1)} ${l}`),
    });
    console.error(`qemu stream: /init at ${run.initMs} ms, first DISCOVER at ${run.ms} ms; ${frames.length} frames`);
    assert.equal(run.timedOut, false, `QEMU timed out:\n${run.text}\n${run.stderr}`);
    assert.equal(connections, 1, 'QEMU connected once');
    assert.equal(deframer?.bad, 0, 'every length field was in range');
    assert.ok(discovers.length >= 1, `a DHCP DISCOVER among ${frames.length} frames:\n${run.text}\n${run.stderr}`);
    assert.deepEqual(discovers[0], { srcMac: mac, clientMac: mac, xid: discovers[0]!.xid });
    assert.match(run.text, new RegExp(`SYNACK-GUEST: link ${mac}`));
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
