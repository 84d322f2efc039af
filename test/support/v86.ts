/**
 * Boots an i386 guest from `guest-image.ts` in v86 (the npm package, an x86
 * emulator in WebAssembly) inside Debian's headless Chromium, driven by
 * playwright-core (never a browser download), and returns its serial console.
 *
 * A static server on 127.0.0.1 serves one page, v86's libv86.js and
 * v86.wasm, Debian's SeaBIOS (`seabios`: /usr/share/seabios/bios.bin and the
 * Bochs-VBE VGA BIOS vgabios-stdvga.bin), the kernel and the initramfs. v86's
 * NIC (ne2k, its default) is attached to `relayUrl`: a `ws://` URL makes v86
 * open a WebSocket there and exchange one Ethernet frame per binary message —
 * the contract `synack gateway --websocket` serves.
 *
 *   bootV86({ image: guestImage({ arch: 'i386' }), relayUrl: `ws://127.0.0.1:${port}/`, run: '…' })
 *
 * The guest cannot power the emulator off: the boot ends when the console
 * shows `SYNACK-GUEST: exit N`, when `signal` aborts, or at the timeout; then
 * the browser is closed.
 */
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'playwright-core';
import { CHROMIUM, launchChromium } from './chromium.ts';
import { guestCmdline, parseTranscript, type GuestImage, type Transcript } from './guest-image.ts';

export { CHROMIUM };
export const SEABIOS = '/usr/share/seabios/bios.bin';
export const VGABIOS = '/usr/share/seabios/vgabios-stdvga.bin';
const V86_BUILD = new URL('../../node_modules/v86/build/', import.meta.url).pathname;

export interface V86BootOptions {
  image: GuestImage;
  /** v86's net_device.relay_url, e.g. ws://127.0.0.1:PORT/ */
  relayUrl: string;
  run?: string;
  dhcp?: boolean;
  /** default 128 */
  memMb?: number;
  /** default 300 s */
  timeoutMs?: number;
  signal?: AbortSignal;
  onLine?: (line: string, ms: number) => void;
}

export interface V86Run extends Transcript {
  timedOut: boolean;
  aborted: boolean;
  /** ms from page load to the end */
  ms: number;
  initMs?: number;
  leaseMs?: number;
  /** errors the page reported */
  pageErrors: string[];
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>synack guest</title>
<script src="/libv86.js"></script>
<script>
window.startGuest = (cfg) => {
  let line = '';
  const emulator = new V86({
    wasm_path: '/v86.wasm',
    memory_size: cfg.memMb * 1024 * 1024,
    vga_memory_size: 2 * 1024 * 1024,
    bios: { url: '/bios.bin' },
    vga_bios: { url: '/vgabios.bin' },
    bzimage: { url: '/bzimage' },
    initrd: { url: '/initrd' },
    cmdline: cfg.cmdline,
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    net_device: { type: 'ne2k', relay_url: cfg.relayUrl },
  });
  emulator.add_listener('serial0-output-byte', (b) => {
    const c = String.fromCharCode(b);
    if (c === '\\n') { window.guestLine(line); line = ''; }
    else if (c !== '\\r') line += c;
  });
  window.emulator = emulator;
};
</script>`;

function serveAssets(image: GuestImage): Promise<Server> {
  const files: Record<string, [string, string]> = {
    '/libv86.js': [join(V86_BUILD, 'libv86.js'), 'text/javascript'],
    '/v86.wasm': [join(V86_BUILD, 'v86.wasm'), 'application/wasm'],
    '/bios.bin': [SEABIOS, 'application/octet-stream'],
    '/vgabios.bin': [VGABIOS, 'application/octet-stream'],
    '/bzimage': [image.kernel, 'application/octet-stream'],
    '/initrd': [image.initrd, 'application/octet-stream'],
  };
  const server = createServer((req, res) => {
    if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (req.url === '/favicon.ico') return void res.writeHead(204).end();
    const f = files[req.url ?? ''];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f[1], 'content-length': statSync(f[0]).size });
    createReadStream(f[0]).pipe(res);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

export async function bootV86(o: V86BootOptions): Promise<V86Run> {
  if (o.image.arch !== 'i386' || o.image.nic !== 'ne2k') throw new Error('bootV86 boots i386 images built for ne2k');
  for (const f of [CHROMIUM, SEABIOS, VGABIOS, join(V86_BUILD, 'v86.wasm')]) if (!existsSync(f)) throw new Error(`${f} is missing`);
  const server = await serveAssets(o.image);
  const profile = mkdtempSync(join(tmpdir(), 'synack-v86-chromium-'));
  let ctx: BrowserContext | undefined;
  const pageErrors: string[] = [];
  let raw = '';
  let initMs: number | undefined;
  let leaseMs: number | undefined;
  let timedOut = false;
  let aborted = false;
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  try {
    ctx = await launchChromium(profile);
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    page.on('requestfailed', (r) => pageErrors.push(`request failed: ${r.url()}`));
    page.on('response', (r) => {
      if (r.status() >= 400) pageErrors.push(`${r.status()} ${r.url()}`);
    });
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    await page.exposeFunction('guestLine', (line: string) => {
      raw += line + '\n';
      const t = ms();
      if (initMs === undefined && line.includes('SYNACK-GUEST: init')) initMs = t;
      if (leaseMs === undefined && line.includes('SYNACK-GUEST: lease')) leaseMs = t;
      o.onLine?.(line, t);
      if (/SYNACK-GUEST: exit \d+/.test(line)) finish();
    });
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
    }, o.timeoutMs ?? 300_000);
    const onAbort = () => {
      aborted = true;
      finish();
    };
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    await page.evaluate((cfg) => (window as unknown as { startGuest(c: unknown): void }).startGuest(cfg), {
      memMb: o.memMb ?? 128,
      relayUrl: o.relayUrl,
      cmdline: guestCmdline({ console: 'ttyS0', run: o.run, dhcp: o.dhcp }),
    });
    await finished;
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    await page.evaluate(() => (window as unknown as { emulator?: { stop(): void } }).emulator?.stop()).catch(() => {});
  } finally {
    await ctx?.close().catch(() => {});
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(profile, { recursive: true, force: true });
  }
  return { ...parseTranscript(raw), timedOut, aborted, ms: ms(), initMs, leaseMs, pageErrors };
}
