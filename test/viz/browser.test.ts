/**
 * The page in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
 * playwright-core (never a browser download), loading the page from
 * `startVizServer` on 127.0.0.1. Connect → SYN, SYN+ACK, ACK and both sides
 * ESTABLISHED; send; drop a segment → its retransmission; close → the 4-way
 * close and TIME-WAIT; a capture loaded into the page draws its ladder; the
 * IPv6 toggle runs the same over fd00::1 → fd00::2 (issue 12).
 * Screenshots go to test-output/ (gitignored).
 *
 * In CI (any non-empty CI) the test must run; elsewhere it skips when Chromium is absent.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, collectPageErrors, launchChromium } from '../support/chromium.ts';
import { startVizServer, type VizServer } from '../../src/viz/serve.ts';
import { runDemo } from '../../src/cli/demo.ts';
import { inCi } from '../support/ci.ts';

const skip = !existsSync(CHROMIUM) && !inCi() ? `${CHROMIUM} is not installed (apt-get install chromium)` : false;
const outDir = new URL('../../test-output/', import.meta.url).pathname;
const profile = mkdtempSync(join(tmpdir(), 'synack-viz-chromium-'));

let server: VizServer | null = null;
let ctx: BrowserContext | null = null;
after(async () => {
  await ctx?.close().catch(() => {});
  await server?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
});

async function open(): Promise<Page> {
  // One page at a time: a later test closes the browser and server of the one before.
  await ctx?.close().catch(() => {});
  await server?.close().catch(() => {});
  server = await startVizServer(0);
  ctx = await launchChromium(profile, { width: 1600, height: 1200 });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const errors = collectPageErrors(page);
  await page.goto(server.url);
  await page.waitForSelector('#ladder svg');
  assert.deepEqual(errors, [], 'no errors while loading');
  return page;
}

const flagsOnLadder = (page: Page) => page.$$eval('#ladder .seg', (gs) => gs.map((g) => `${(g as SVGGElement).dataset['from']}:${(g as SVGGElement).dataset['flags']}`));
const stateOf = (page: Page, side: string) => page.textContent(`#state-${side}`);

test('in Chromium: connect, send, drop and retransmit, close with TIME-WAIT; a capture draws its ladder', { skip, timeout: 60_000 }, async () => {
  const page = await open();
  mkdirSync(outDir, { recursive: true });
  // 0.5×: a 40 ms flight takes 80 ms of real time; idle waits (RTO, TIME-WAIT) run 10× faster.
  await page.selectOption('#speed', '0.5');
  assert.equal(await stateOf(page, 'server'), 'LISTEN');
  await page.click('#btn-connect');
  await page.waitForFunction(() => document.getElementById('state-client')!.textContent === 'ESTABLISHED' && document.getElementById('state-server')!.textContent === 'ESTABLISHED', null, { timeout: 10_000 });
  assert.deepEqual((await flagsOnLadder(page)).slice(0, 3), ['client:SYN', 'server:SYN+ACK', 'client:ACK']);
  assert.ok(await page.$('#state-diagram .sd-node.at-client.at-server[data-state="ESTABLISHED"]'), 'both endpoints highlighted on ESTABLISHED');
  assert.match((await page.textContent('#ladder svg'))!, /SYN-SENT[\s\S]*ESTABLISHED/);

  // Send: the server application receives the text.
  await page.fill('#text-client', 'hello, synack');
  await page.click('#btn-send-client');
  await page.waitForFunction(() => /server received 13 bytes/.test(document.getElementById('log')!.textContent ?? ''), null, { timeout: 10_000 });

  // Drop the next segment: the server's reply is lost and retransmitted on RTO.
  await page.click('#btn-drop');
  await page.click('#btn-send-server');
  await page.waitForSelector('#ladder .seg[data-lost="1"]', { timeout: 10_000 });
  await page.waitForSelector('#ladder .seg[data-retx="1"][data-arrived="1"]', { timeout: 20_000 });
  const lostFlags = await page.getAttribute('#ladder .seg[data-lost="1"]', 'data-flags');
  assert.equal(await page.getAttribute('#ladder .seg[data-retx="1"]', 'data-flags'), lostFlags);
  assert.ok(await page.$('#ladder .seg.lost .lost-x'), 'the lost arrow ends in ✗');
  assert.notEqual((await page.textContent('#counters [data-k="retransmits"] [data-side="server"]'))!.trim(), '0');

  // Close: the 4-way close, the client waits in TIME-WAIT (2×MSL = 1 s of virtual time: slow
  // the clock down so that it is still there when we look, and pause it there).
  await page.selectOption('#speed', '0.05');
  await page.click('#btn-close-client');
  await page.waitForFunction(() => document.getElementById('state-client')!.textContent === 'TIME-WAIT' && document.getElementById('state-server')!.textContent === 'CLOSED', null, { timeout: 15_000 });
  await page.click('#btn-play');
  assert.equal(await stateOf(page, 'client'), 'TIME-WAIT');
  const all = await flagsOnLadder(page);
  const fin = all.indexOf('client:FIN+ACK');
  assert.ok(fin > 0, all.join(' '));
  assert.deepEqual(all.slice(fin, fin + 4), ['client:FIN+ACK', 'server:ACK', 'server:FIN+ACK', 'client:ACK']);
  assert.ok(await page.$('#state-diagram .sd-node.at-client[data-state="TIME-WAIT"]'));

  // Inspect the SYN+ACK.
  await page.dispatchEvent('#ladder .seg[data-flags="SYN+ACK"]', 'pointerdown');
  await page.waitForSelector('#inspector table.flags tr.set[data-flag="SYN"]');
  assert.ok(await page.$('#inspector table.flags tr.set[data-flag="ACK"]'));
  assert.equal(await page.$('#inspector table.flags tr.set[data-flag="FIN"]'), null);
  assert.match((await page.textContent('#inspector'))!, /synchronize sequence numbers/);

  await page.evaluate(() => {
    document.getElementById('ladder-scroll')!.style.maxHeight = 'none';
    document.getElementById('ladder-scroll')!.scrollTop = 0;
  });
  await page.screenshot({ path: join(outDir, 'viz-live.png'), fullPage: true });

  // The pcap download carries the session.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-pcap')]);
  const saved = join(outDir, 'viz-session.pcap');
  await download.saveAs(saved);
  assert.ok(existsSync(saved));

  // A capture of the demo with loss, loaded as if dropped on the page.
  const demo = runDemo({ loss: 0.2, seed: 1, pcap: true }, () => {});
  await page.evaluate((bytes) => window.synackViz.loadCapture('demo-loss.pcap', new Uint8Array(bytes)), Array.from(demo.pcap!));
  await page.waitForFunction(() => document.body.dataset['mode'] === 'capture');
  await page.waitForSelector('#ladder .seg[data-frame="1"]');
  const cap = await page.$$eval('#ladder .seg', (gs) => gs.map((g) => `${(g as SVGGElement).dataset['flags']}|${(g as SVGGElement).dataset['verdicts']}`));
  assert.equal(cap[0], 'SYN|');
  assert.ok(cap.some((c) => c.includes('retransmission')), cap.join(' '));
  assert.equal(await stateOf(page, 'client'), 'TIME-WAIT');
  await page.evaluate(() => {
    document.getElementById('ladder-scroll')!.style.maxHeight = 'none';
  });
  await page.screenshot({ path: join(outDir, 'viz-capture.png'), fullPage: true });
  await page.click('#btn-live');
  await page.waitForFunction(() => document.body.dataset['mode'] === 'live');
});

test('in Chromium, issue 12: the IPv6 toggle runs the session over fd00::1 → fd00::2 — handshake, data, the 4-way close; the ladder names the IPv6 endpoints and the inspector shows the IPv6 header', { skip, timeout: 60_000 }, async () => {
  const page = await open();
  mkdirSync(outDir, { recursive: true });
  await page.selectOption('#speed', '0.5');
  await page.check('#chk-ipv6');
  assert.equal(await stateOf(page, 'server'), 'LISTEN');
  await page.click('#btn-connect');
  await page.waitForFunction(() => document.getElementById('state-client')!.textContent === 'ESTABLISHED' && document.getElementById('state-server')!.textContent === 'ESTABLISHED', null, { timeout: 10_000 });
  assert.deepEqual((await flagsOnLadder(page)).slice(0, 3), ['client:SYN', 'server:SYN+ACK', 'client:ACK']);
  const ladder = (await page.textContent('#ladder svg'))!;
  assert.match(ladder, /fd00::1/);
  assert.match(ladder, /\[fd00::2\]:80/);
  await page.fill('#text-client', 'hello over IPv6');
  await page.click('#btn-send-client');
  await page.waitForFunction(() => /server received 15 bytes/.test(document.getElementById('log')!.textContent ?? ''), null, { timeout: 10_000 });
  assert.match((await page.textContent('#log'))!, /connect\(\[fd00::2\]:80\)/);
  await page.selectOption('#speed', '0.05');
  await page.click('#btn-close-client');
  await page.waitForFunction(() => document.getElementById('state-client')!.textContent === 'TIME-WAIT' && document.getElementById('state-server')!.textContent === 'CLOSED', null, { timeout: 15_000 });
  await page.click('#btn-play');
  // The inspector on the SYN: the IPv6 header's fields and addresses.
  await page.dispatchEvent('#ladder .seg[data-flags="SYN"]', 'pointerdown');
  await page.waitForSelector('#inspector table.flags tr.set[data-flag="SYN"]');
  const insp = (await page.textContent('#inspector'))!;
  assert.match(insp, /IPv6 header/i);
  assert.doesNotMatch(insp, /IPv4 header/i);
  assert.match(insp, /Flow Label/);
  assert.match(insp, /Hop Limit/);
  assert.match(insp, /fd00::1/);
  assert.match(insp, /fd00::2/);
  await page.screenshot({ path: join(outDir, 'viz-live-ipv6.png'), fullPage: true });
  // Unticking it goes back to IPv4.
  await page.uncheck('#chk-ipv6');
  await page.click('#btn-connect');
  await page.waitForSelector('#ladder .seg[data-flags="SYN"]');
  assert.match((await page.textContent('#ladder svg'))!, /10\.0\.0\.2:80/);
});
