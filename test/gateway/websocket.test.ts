/**
 * The WebSocket downstream (createGateway({ downstream: { websocket } }),
 * RFC 6455) with a real client: the `ws` package carries the Ethernet frames
 * of a synack guest stack (one frame per binary message, v86's relay_url
 * protocol); the guest configures itself by DHCP from the gateway and opens
 * TCP to node:net servers on the host's 127.0.0.1 through 10.0.2.2. Each
 * client is its own guest network. Only loopback traffic; every wait is
 * bounded.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as nodeNet from 'node:net';
import WebSocket from 'ws';
import { createGateway, type Gateway } from '../../src/gateway/gateway.ts';
import { collect, hostServer, pattern, sha256, waitFor } from './helpers.ts';
import { wsGuest } from './websocket-guest.ts';

async function wsGateway(extra: { maxGuests?: number; origins?: string[] } = {}): Promise<{ gw: Gateway; url: string }> {
  const gw = createGateway({ downstream: { websocket: { port: 0, ...extra } } });
  await gw.ready;
  const a = gw.websocket!.address()!;
  assert.equal(a.address, '127.0.0.1', 'listens on loopback by default');
  return { gw, url: `ws://127.0.0.1:${a.port}/` };
}

/** The HTTP status line a raw handshake gets. */
async function rawHandshake(port: number, headers: string): Promise<string> {
  const s = nodeNet.connect(port, '127.0.0.1');
  s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${headers}\r\n`);
  const got = await collect(s);
  return got.toString('latin1').split('\r\n')[0]!;
}

const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

describe('gateway: the WebSocket downstream (RFC 6455, v86 relay_url protocol)', { timeout: 60_000 }, () => {
  test('a synack guest over a ws client gets 10.0.2.100/24, router 10.0.2.2, DNS 10.0.2.3 by DHCP, then 1 MiB each way through 10.0.2.2 to a host server arrives intact (SHA-256)', async () => {
    const up = pattern(1 << 20, 31);
    const down = pattern(1 << 20, 32);
    let gotUp: Promise<Buffer> | null = null;
    const h = await hostServer((s) => {
      gotUp = collect(s);
      s.end(down);
    });
    const { gw, url } = await wsGateway();
    const g = await wsGuest(url);
    try {
      const cfg = await g.bound;
      assert.deepEqual(cfg, { address: '10.0.2.100', prefixLen: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'], domainName: null, mtu: 1500 });
      const sock = g.net.connect(h.port, '10.0.2.2');
      const gotDown = collect(sock);
      sock.once('connect', () => sock.end(up));
      assert.equal(sha256(await gotDown), sha256(down));
      await waitFor('the host server got the upload', () => gotUp !== null);
      assert.equal(sha256(await gotUp!), sha256(up));
      const st = gw.stats();
      assert.equal(st.websocket!.guests, 1);
      assert.equal(st.tcp.opened, 1);
      assert.equal(st.dhcp!.acks, 1);
      assert.equal(g.textMessages, 0, 'every frame came as a binary message');
    } finally {
      g.close();
      await gw.close();
      h.server.close();
    }
  });

  test('each client is its own guest network: two clients both lease 10.0.2.100 and each reaches the host; a client closing takes only its own network', async () => {
    const h = await hostServer((s) => s.end(`hello ${s.remotePort}`));
    const { gw, url } = await wsGateway();
    const a = await wsGuest(url, 0x020000000a01);
    const b = await wsGuest(url, 0x020000000b01);
    try {
      assert.equal((await a.bound).address, '10.0.2.100');
      assert.equal((await b.bound).address, '10.0.2.100');
      assert.equal(gw.guests().length, 2);
      for (const g of [a, b]) assert.match((await collect(g.net.connect(h.port, '10.0.2.2'))).toString(), /^hello \d+$/);
      a.ws.close(1000);
      await waitFor('the first guest network is gone', () => gw.guests().length === 1);
      assert.match((await collect(b.net.connect(h.port, '10.0.2.2'))).toString(), /^hello \d+$/);
      await waitFor('the first guest network closed', () => gw.stats().tcp.opened === 3);
    } finally {
      a.close();
      b.close();
      await gw.close();
      h.server.close();
    }
  });

  test('--max-guests: beyond the cap the handshake is answered 503 and no guest network is made', async () => {
    const { gw, url } = await wsGateway({ maxGuests: 1 });
    const a = await wsGuest(url);
    try {
      const second = new WebSocket(url);
      second.on('error', () => {});
      const status = await new Promise<number>((resolve) => second.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
      second.terminate();
      assert.equal(status, 503);
      assert.equal(gw.stats().websocket!.refusedFull, 1);
      assert.equal(gw.guests().length, 1);
    } finally {
      a.close();
      await gw.close();
    }
  });

  test('RFC 6455 §10.2: an Origin that is not allowed gets 403; a listed origin is accepted; plain HTTP gets 426', async () => {
    const { gw } = await wsGateway({ origins: ['http://app.test'] });
    try {
      const port = gw.websocket!.address()!.port;
      assert.equal(await rawHandshake(port, `${upgrade}Origin: https://evil.test\r\n`), 'HTTP/1.1 403 Forbidden');
      assert.equal(await rawHandshake(port, upgrade), 'HTTP/1.1 403 Forbidden', 'with a list, a request without Origin is refused');
      assert.equal(gw.stats().websocket!.refusedOrigin, 2);
      const ok = new WebSocket(`ws://127.0.0.1:${port}/`, { origin: 'http://app.test' });
      await new Promise<void>((resolve, reject) => ok.once('open', () => resolve()).once('error', reject));
      ok.close();
      assert.equal(await rawHandshake(port, ''), 'HTTP/1.1 426 Upgrade Required');
    } finally {
      await gw.close();
    }
  });

  test('RFC 6455 §5.5.2: a ping is answered by a pong with the same data; §7.4.1: a text message closes the connection with 1003', async () => {
    const { gw, url } = await wsGateway();
    const ws = new WebSocket(url);
    try {
      await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
      const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
      ws.ping(Buffer.from('are you there'));
      assert.equal((await pong).toString(), 'are you there');
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send('not a frame');
      assert.equal(await closed, 1003);
      await waitFor('the guest network is gone', () => gw.guests().length === 0);
    } finally {
      ws.terminate();
      await gw.close();
    }
  });

  test('the gateway closing sends every client a Close with 1001 (going away)', async () => {
    const { gw, url } = await wsGateway();
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await gw.close();
    assert.equal(await closed, 1001);
  });
});
