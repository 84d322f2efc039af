/**
 * The `synack gateway --viz` page in a real browser: Debian's Chromium
 * (/usr/bin/chromium) driven by playwright-core, loading the page from
 * serveGatewayViz on 127.0.0.1 while a synack guest on an in-memory
 * Ethernet link makes a connection through the gateway to a node:net
 * server on 127.0.0.1. The row appears live; a click draws its ladder (the
 * three-way handshake first) and both sides' states in RFC 9293's state
 * diagram (the guest's inferred from its segments), following the close; a
 * UDP flow shows in its own table. Screenshot in test-output/.
 *
 * In CI (any non-empty CI) the test must run; elsewhere it skips when Chromium is absent.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { CHROMIUM, collectPageErrors, launchChromium } from '../support/chromium.ts';
import * as dgram from 'node:dgram';
import type * as nodeNet from 'node:net';
import type { Socket as SynackSocket } from '../../src/api/socket.ts';
import { serveGatewayViz, type GatewayVizServer } from '../../src/gateway/viz-server.ts';
import { loadGatewayPage } from '../../src/viz/gateway-page.ts';
import { hostServer, memoryGateway, type MemorySetup } from '../gateway/helpers.ts';
import { inCi } from '../support/ci.ts';

const skip = !existsSync(CHROMIUM) && !inCi() ? `${CHROMIUM} is not installed (apt-get install chromium)` : false;
const outDir = new URL('../../test-output/', import.meta.url).pathname;
const profile = mkdtempSync(join(tmpdir(), 'synack-gw-viz-chromium-'));

let ctx: BrowserContext | null = null;
let srv: GatewayVizServer | null = null;
let r: MemorySetup | null = null;
let h: Awaited<ReturnType<typeof hostServer>> | null = null;
after(async () => {
  await ctx?.close().catch(() => {});
  await srv?.close().catch(() => {});
  await r?.close().catch(() => {});
  h?.server.close();
  rmSync(profile, { recursive: true, force: true });
});

test('in Chromium: a guest connection appears in the table live; clicking it draws its ladder (SYN, SYN+ACK, ACK) and both sides in the state diagram, following the close to CLOSED and TIME-WAIT', { skip, timeout: 90_000 }, async () => {
  const hostSide: nodeNet.Socket[] = [];
  h = await hostServer((s) => {
    hostSide.push(s);
    s.resume();
    s.write('hello from the host');
  });
  r = memoryGateway();
  const mon = r.gw.watch();
  srv = await serveGatewayViz(mon, { port: 0, page: await loadGatewayPage() });
  ctx = await launchChromium(profile, { width: 1600, height: 1200 });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const errors = collectPageErrors(page);
  await page.goto(srv.url);
  await page.waitForFunction(() => document.getElementById('feed-status')!.textContent === 'live', null, { timeout: 10_000 });
  assert.equal(await page.$$eval('#conns tbody tr', (rows) => rows.length), 0);

  // The guest connects after the page is open: the row arrives through the event stream.
  const sock = await new Promise<SynackSocket>((resolve, reject) => {
    const s = r!.guest.net.connect(h!.port, '10.0.2.2');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  sock.resume();
  sock.write('hello from the guest');
  await page.waitForSelector('#conns tbody tr[data-state="ESTABLISHED"]', { timeout: 10_000 });
  await page.waitForFunction(() => /127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+/.test(document.querySelector('#conns tbody tr .host')?.textContent ?? ''), null, { timeout: 10_000 });
  const cells = await page.$$eval('#conns tbody tr td', (tds) => tds.map((td) => td.textContent));
  assert.equal(cells[2], `10.0.2.100:${sock.localPort}`);
  assert.equal(cells[3], `10.0.2.2:${h.port}`);
  assert.equal(cells[9], `127.0.0.1:${hostSide[0]!.remotePort} → 127.0.0.1:${h.port}`);

  await page.click('#conns tbody tr');
  await page.waitForSelector('#ladder svg .seg', { timeout: 10_000 });
  const flags = () => page.$$eval('#ladder .seg', (gs) => gs.map((g) => `${(g as SVGGElement).dataset['from']}:${(g as SVGGElement).dataset['flags']}`));
  assert.deepEqual((await flags()).slice(0, 3), ['guest:SYN', 'gateway:SYN+ACK', 'guest:ACK']);
  assert.ok(await page.$('#state-diagram .sd-node.at-client.at-server[data-state="ESTABLISHED"]'), 'both sides highlighted on ESTABLISHED: the gateway\'s state and the guest\'s (inferred)');
  const ladderText = (await page.textContent('#ladder svg'))!;
  assert.match(ladderText, /SYN-RECEIVED[\s\S]*ESTABLISHED/);
  assert.match(ladderText, /SYN-SENT/, 'the guest side\'s states, inferred from its segments');

  // A UDP flow appears in its own table.
  const echo = dgram.createSocket('udp4');
  echo.on('message', (m, rinfo) => echo.send(m, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
  const u = r.guest.dgram.createSocket('udp4');
  u.on('message', () => {});
  u.send(Buffer.from('ping'), (echo.address() as { port: number }).port, '10.0.2.2');
  await page.waitForFunction(() => (document.querySelector('#udp tbody tr')?.textContent ?? '').includes('10.0.2.2'), null, { timeout: 10_000 });
  const udpCells = await page.$$eval('#udp tbody tr td', (tds) => tds.map((td) => td.textContent));
  assert.equal(udpCells[1], `10.0.2.2:${(echo.address() as { port: number }).port}`);
  u.close();
  echo.close();

  // The guest closes, then the host: the selected connection follows live to CLOSED.
  sock.end();
  await page.waitForSelector('#state-diagram .sd-node.at-server[data-state="CLOSE-WAIT"]', { timeout: 10_000 });
  hostSide[0]!.end();
  await page.waitForSelector('#state-diagram .sd-node.at-server[data-state="CLOSED"]', { timeout: 10_000 });
  // RFC 9293 §3.6: the side that closed first (the guest) waits in TIME-WAIT.
  await page.waitForSelector('#state-diagram .sd-node.at-client[data-state="TIME-WAIT"]', { timeout: 10_000 });
  await page.waitForSelector('#conns tbody tr.closed[data-state="CLOSED"]', { timeout: 10_000 });
  const all = await flags();
  assert.ok(all.some((f) => f.startsWith('guest:') && f.includes('FIN')) && all.some((f) => f.startsWith('gateway:') && f.includes('FIN')), all.join(' '));
  assert.match((await page.textContent('#transitions'))!, /CLOSE-WAIT → LAST-ACK/);
  mkdirSync(outDir, { recursive: true });
  await page.screenshot({ path: join(outDir, 'gateway-viz.png'), fullPage: true });
  assert.deepEqual(errors, []);
  mon.close();
});
