/**
 * The qemu-socket downstream: the gateway listens on a Unix stream socket
 * speaking QEMU's `-netdev stream` framing (a 4-octet big-endian length
 * before each Ethernet frame). Tested without QEMU: a synack guest stack
 * connects to the socket through the same framing (gateway/stream-link.ts),
 * and a raw client writes malformed records.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nodeNet from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type Gateway } from '../../src/gateway/gateway.ts';
import { encodeFrame } from '../../src/links/stream-framing.ts';
import { collect, hostServer, pattern, sha256, waitFor } from './helpers.ts';
import { streamGuest } from './stream-guest.ts';

const dir = mkdtempSync(join(tmpdir(), 'synack-gw-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function gatewayAt(name: string): Promise<Gateway> {
  const gw = createGateway({ downstream: { qemuSocket: join(dir, name) } });
  await gw.ready;
  return gw;
}

describe('gateway: the qemu socket downstream', { timeout: 60_000 }, () => {
  test('a guest on the Unix socket reaches a host server through 10.0.2.2; 2 MiB each way arrive intact (SHA-256)', async () => {
    const up = pattern(2 << 20, 5);
    const down = pattern(2 << 20, 6);
    let gotUp: Promise<Buffer> | null = null;
    const h = await hostServer((s) => {
      gotUp = collect(s);
      s.end(down);
    });
    const gw = await gatewayAt('a.sock');
    const g = await streamGuest(gw.socketPath!);
    try {
      const sock = g.net.connect(h.port, '10.0.2.2');
      const gotDown = collect(sock);
      sock.once('connect', () => sock.end(up));
      assert.equal(sha256(await gotDown), sha256(down));
      await waitFor('upload', () => gotUp !== null);
      assert.equal(sha256(await gotUp!), sha256(up));
      const st = gw.stats();
      assert.ok(st.link!.framesIn > 0 && st.link!.framesOut > 0);
      assert.equal(st.tcp.opened, 1);
    } finally {
      g.close();
      await gw.close();
      h.server.close();
    }
  });

  test('malformed records are counted and dropped: a zero length is skipped, a runt or unknown frame is a counted drop, an oversize length closes that connection — and the next guest is served', async () => {
    const gw = await gatewayAt('b.sock');
    try {
      const raw = nodeNet.connect(gw.socketPath!);
      await new Promise<void>((resolve) => raw.once('connect', resolve));
      const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
      raw.on('error', () => {});
      raw.resume(); // read (and discard) what the gateway sends, so its close is seen
      const runt = new Uint8Array(10).fill(0xab);
      const unknown = new Uint8Array(60);
      unknown.set([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x02, 0, 0, 0, 0, 9, 0x88, 0xb5]); // to the gateway's MAC, EtherType 0x88b5
      raw.write(Buffer.concat([Buffer.from([0, 0, 0, 0]), encodeFrame(runt), encodeFrame(unknown)]));
      await waitFor('the frames were read', () => gw.stats().link!.framesIn === 2);
      const st = gw.stats();
      assert.equal(st.link!.emptyIn, 1);
      assert.equal(st.drops['eth-truncated'], 1);
      assert.equal(st.drops['eth-unknown-ethertype'], 1);
      // A length no frame can have (above MTU + 22): the stream cannot be resynchronised.
      raw.write(Buffer.from([0x00, 0x10, 0x00, 0x00]));
      await closed;
      assert.equal(gw.stats().link!.oversizeIn, 1);
      // The gateway serves the next connection.
      const h = await hostServer((s) => s.end('still here'));
      const g = await streamGuest(gw.socketPath!);
      try {
        const sock = g.net.connect(h.port, '10.0.2.2');
        assert.equal((await collect(sock)).toString(), 'still here');
      } finally {
        g.close();
        h.server.close();
      }
    } finally {
      await gw.close();
    }
  });
});
