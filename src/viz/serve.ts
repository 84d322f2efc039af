/**
 * `npm run viz`: builds the page and serves it on 127.0.0.1 with node:http,
 * printing the URL. `npm run viz -- --build DIR` writes the static files
 * instead; `--port N` picks the port (default 8088; 0 for any free port).
 */
import http from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, normalize, resolve } from 'node:path';
import { buildPage } from './build.ts';
import { isEntryPoint, parseScriptArgs } from '../cli/options.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.pcap': 'application/vnd.tcpdump.pcap',
};

export interface VizServer {
  url: string;
  port: number;
  dir: string;
  close(): Promise<void>;
}

/** Builds the page into a temporary folder and serves it on 127.0.0.1. */
export async function startVizServer(port = 8088): Promise<VizServer> {
  const dir = mkdtempSync(join(tmpdir(), 'synack-viz-'));
  await buildPage(dir);
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const rel = path === '/' ? 'index.html' : normalize(path).replace(/^[/\\]+/, '');
    const file = join(dir, rel);
    if (!file.startsWith(dir) || rel.includes('..')) {
      res.writeHead(403).end();
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const ext = rel.slice(rel.lastIndexOf('.'));
    res.writeHead(200, { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    dir,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

const VIZ_HELP = `Usage: npm run viz [-- --port N]
       npm run viz -- --build DIR

Serves the visualizer: two synack stacks on the in-memory network in a web
page, with the ladder diagram, RFC 9293's state diagram, a segment
inspector and a pcap viewer.

Options:
  --port N      listen on 127.0.0.1:N (default 8088; 0 picks a free port)
  --build DIR   write the static page (index.html, style.css, app.js) to DIR instead
  -h, --help    this help`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseScriptArgs({ name: 'viz', invocation: 'npm run viz --', help: VIZ_HELP, options: { build: { type: 'string' }, port: { type: 'string' } } }, argv);
  if (values.build !== undefined) {
    const dir = resolve(values.build);
    const b = await buildPage(dir, { minify: true });
    console.log(`synack viz: wrote ${dir}/index.html, style.css and app.js (${(b.bytes / 1024).toFixed(0)} KiB); open index.html through any static file server`);
    return 0;
  }
  const port = values.port === undefined ? 8088 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port expects 0..65535, got '${values.port}'`);
    return 2;
  }
  const s = await startVizServer(port);
  console.log(`synack viz: serving the visualizer at ${s.url}  (Ctrl-C stops it)`);
  const stop = () => void s.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1;
}

if (isEntryPoint(import.meta.url)) {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exitCode = code;
}
