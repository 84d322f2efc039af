/**
 * The v86 guest harness, proved against a plain WebSocket relay before
 * synack's gateway is plugged in (issue 15, "Real clients in the tests",
 * client 3): v86 (the npm package) with Debian's SeaBIOS in Debian's headless
 * Chromium boots an i386 Debian kernel with a busybox initramfs built from
 * Debian packages; its ne2k NIC's `relay_url` points at a WebSocket server
 * here (the `ws` package on 127.0.0.1), which receives one Ethernet frame per
 * binary message — the guest's DHCP DISCOVER among them. That is the contract
 * `synack gateway --websocket` serves.
 *
 * One boot. In CI (any non-empty CI) the test must run — .ci/run installs
 * Chromium, seabios and the i386 packages; elsewhere it skips when Chromium,
 * SeaBIOS or apt's i386 lists are absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { inCi } from '../support/ci.ts';
import { guestImage } from '../support/guest-image.ts';
import { bootV86, CHROMIUM, SEABIOS } from '../support/v86.ts';
import { withBootLock } from '../support/boot-lock.ts';
import { dhcpDiscover, type Discover } from '../support/frames.ts';

const i386Lists = /Candidate:\s*\d/.test(spawnSync('apt-cache', ['policy', 'busybox-static:i386'], { encoding: 'utf8' }).stdout ?? '');
const missing = [
  !existsSync(CHROMIUM) && `${CHROMIUM} (apt-get install chromium)`,
  !existsSync(SEABIOS) && `${SEABIOS} (apt-get install seabios)`,
  !i386Lists && `apt's i386 lists (dpkg --add-architecture i386 && apt-get update)`,
].filter(Boolean);
const skip = missing.length && !inCi() ? `missing ${missing.join(', ')}` : false;
const log = (s: string) => process.env['SYNACK_GUEST_LOG'] && console.error(s);

test('v86 in Chromium: the i386 Debian guest\'s DHCP DISCOVER reaches the relay as one Ethernet frame per binary WebSocket message', { skip, timeout: 900_000 }, async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;
  const stop = new AbortController();
  const frames: Buffer[] = [];
  const textMessages: string[] = [];
  const discovers: Discover[] = [];
  const clients: WebSocket[] = [];
  wss.on('connection', (ws) => {
    clients.push(ws);
    ws.on('message', (data, isBinary) => {
      if (!isBinary) return void textMessages.push(String(data));
      const f = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
      frames.push(f);
      const d = dhcpDiscover(f);
      if (d) {
        discovers.push(d);
        stop.abort();
      }
    });
  });
  try {
    const run = await withBootLock(async () => {
      const image = guestImage({ arch: 'i386', log: (l) => console.error(l) });
      console.error(`guest i386 ${image.built ? 'built' : 'from the cache'} in ${image.ms} ms (${image.dir})`);
      return bootV86({
        image,
        relayUrl: `ws://127.0.0.1:${port}/`,
        signal: stop.signal,
        timeoutMs: 600_000,
        onLine: (l, ms) => log(`${(ms / 1000).toFixed(1)} ${l}`),
      });
    });
    console.error(`v86: /init at ${run.initMs} ms, first DISCOVER at ${run.ms} ms; ${frames.length} frames`);
    assert.equal(run.timedOut, false, `v86 timed out:\n${run.text}`);
    assert.deepEqual(run.pageErrors, []);
    assert.deepEqual(run.insmodFailures, []);
    assert.equal(clients.length, 1, 'v86 opened one WebSocket');
    assert.deepEqual(textMessages, [], 'frames come as binary messages');
    assert.ok(discovers.length >= 1, `a DHCP DISCOVER among ${frames.length} frames:\n${run.text}`);
    const mac = /SYNACK-GUEST: link ([0-9a-f:]{17})/.exec(run.text)?.[1];
    assert.ok(mac, `the guest printed its MAC:\n${run.text}`);
    assert.deepEqual(discovers[0], { srcMac: mac, clientMac: mac, xid: discovers[0]!.xid });
  } finally {
    for (const c of clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  }
});
