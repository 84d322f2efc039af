/**
 * `synack get URL`: an HTTP GET over synack on a TUN device — node:http's
 * client with `createConnection` returning a synack socket. Prints the body
 * on stdout; on a TTY stderr, large bodies get a progress bar.
 *
 * Must be imported through main.ts (it imports main.ts for UsageError).
 */
import http from 'node:http';
import { parseIpv4Addr } from '../wire/bytes.ts';
import { parseIpv6Addr } from '../wire/ipv6.ts';
import { parseOptions, UsageError, type CliIo, type Command } from './options.ts';
import { LINK_HELP, LINK_OPTIONS, HostError, errorLine, openTunHost, parseLinkArgs, type TunHost } from './tun-host.ts';

const GET_HELP = `Usage: synack get (--tun IF | --tap IF) --addr CIDR [--addr CIDR] [options] URL

Fetches URL (http://A.B.C.D[:PORT]/PATH, or http://[X:X::X][:PORT]/PATH
for IPv6) with node:http over synack's stack
on a TUN or TAP device and prints the body on stdout. On a terminal, bodies over
1 MiB show a progress bar on stderr. Exits 0 for a 2xx/3xx answer, 1 for
an error status or a failed connection.

Options:
  --include               print the status line and headers first (like curl -i)
  --timeout SEC           give up after SEC seconds without progress (default 30)

${LINK_HELP}

Examples:
  synack get --tun tun0 --addr 10.9.0.2/24 http://10.9.0.1:8000/
  synack get --tun tun0 --addr fd09::2/64 http://[fd09::1]:8000/`;

const GET_OPTIONS = {
  ...LINK_OPTIONS,
  include: { type: 'boolean' },
  timeout: { type: 'string' },
} as const;

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(2)} GiB`;
}

/** One progress line: "[#####.....]  42%  4.2 MiB / 10.0 MiB  3.1 MiB/s". */
export function progressLine(got: number, total: number | null, elapsedS: number, width = 30): string {
  const rate = elapsedS > 0 ? `${fmtBytes(got / elapsedS)}/s` : '';
  if (total === null || total <= 0) return `${fmtBytes(got)}  ${rate}`;
  const f = Math.min(1, got / total);
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(f * 100)).padStart(3)}%  ${fmtBytes(got)} / ${fmtBytes(total)}  ${rate}`;
}

export async function runGet(
  argv: string[],
  io: CliIo,
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WriteStream | null = process.stderr.isTTY ? process.stderr : null,
): Promise<number> {
  const { values: v, positionals } = parseOptions('get', argv, GET_OPTIONS, true);
  if (v.help) {
    io.stdout(GET_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'URL is required' : `one URL expected, got ${positionals.length}`, 'get');
  let url: URL;
  try {
    url = new URL(positionals[0]!);
  } catch {
    throw new UsageError(`not a URL: '${positionals[0]}'`, 'get');
  }
  if (url.protocol !== 'http:') throw new UsageError(`only http:// URLs are supported, got ${url.protocol}`, 'get');
  // WHATWG URL keeps the brackets of an IPv6 host (RFC 3986 §3.2.2 "IP-literal").
  const bracketed = /^\[(.+)\]$/.exec(url.hostname);
  const hostname = bracketed ? bracketed[1]! : url.hostname;
  if (bracketed ? parseIpv6Addr(hostname) === null : parseIpv4Addr(hostname) === null) {
    throw new UsageError(`the URL's host must be a dotted IPv4 address or a bracketed IPv6 address, got '${url.hostname}'`, 'get');
  }
  const timeoutS = v.timeout === undefined ? 30 : Number(v.timeout);
  if (!(timeoutS > 0) || !Number.isFinite(timeoutS)) throw new UsageError(`--timeout expects seconds, got '${v.timeout}'`, 'get');
  const link = parseLinkArgs('get', v);

  let host: TunHost;
  let fail: (msg: string) => void = () => {};
  try {
    host = openTunHost('get', link, { log: (line) => io.stderr(line), onLinkError: (err) => fail(err.message) });
  } catch (e) {
    if (e instanceof HostError) {
      io.stderr(`synack get: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const port = url.port ? Number(url.port) : 80;
  const code = await new Promise<number>((resolve) => {
    let done = false;
    const finish = (c: number, msg?: string): void => {
      if (done) return;
      done = true;
      if (msg) io.stderr(`synack get: ${msg}`);
      resolve(c);
    };
    const req = http.get(
      {
        host: hostname,
        port,
        path: url.pathname + url.search,
        // No agent (not even `agent: false`, which makes a fresh kernel-socket Agent): node:http then
        // calls this createConnection, so the request runs over synack.
        headers: { 'user-agent': 'synack-get', connection: 'close' },
        createConnection: () => host.net.createConnection({ host: hostname, port }) as unknown as import('node:net').Socket,
      },
      (res) => {
        if (v.include) {
          stdout.write(`HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}\r\n`);
          for (let i = 0; i < res.rawHeaders.length; i += 2) stdout.write(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`);
          stdout.write('\r\n');
        }
        const lenHeader = res.headers['content-length'];
        const total = lenHeader !== undefined && /^\d+$/.test(lenHeader) ? Number(lenHeader) : null;
        const showBar = stderr !== null && (total === null || total > 1 << 20);
        const t0 = Date.now();
        let got = 0;
        let lastDraw = 0;
        const draw = (final: boolean): void => {
          if (!showBar) return;
          const now = Date.now();
          if (!final && now - lastDraw < 100) return;
          lastDraw = now;
          stderr.write(`\r${progressLine(got, total, (now - t0) / 1000)}\x1b[K${final ? '\n' : ''}`);
        };
        res.on('data', (chunk: Buffer) => {
          got += chunk.length;
          draw(false);
          if (!stdout.write(chunk)) {
            res.pause();
            stdout.once('drain', () => res.resume());
          }
        });
        res.on('end', () => {
          draw(true);
          if (total !== null && got !== total) return finish(1, `body cut short: ${got} of ${total} bytes`);
          const status = res.statusCode ?? 0;
          if (status >= 400) return finish(1, `HTTP ${status} ${res.statusMessage ?? ''}`.trim());
          finish(0);
        });
        res.on('error', (e) => finish(1, errorLine(e)));
      },
    );
    req.setTimeout(timeoutS * 1000, () => {
      req.destroy(Object.assign(new Error(`no progress for ${timeoutS} s`), { code: 'ETIMEDOUT' }));
    });
    req.on('error', (e: Error & { code?: string }) => {
      const msg =
        e.code === 'ECONNREFUSED'
          ? `connection to ${url.hostname}:${port} refused (ECONNREFUSED)`
          : e.code === 'ECONNRESET'
            ? `connection to ${url.hostname}:${port} reset by peer (ECONNRESET)`
            : e.code === 'ETIMEDOUT'
              ? `${url.hostname}:${port} timed out (ETIMEDOUT): ${e.message}`
              : errorLine(e);
      finish(1, msg);
    });
    fail = (msg) => {
      req.destroy();
      finish(1, msg);
    };
  });
  await new Promise<void>((r) => stdout.write('', () => r()));
  await host.close();
  return code;
}

export const getCommand: Command = {
  name: 'get',
  summary: 'HTTP GET over synack on a TUN or TAP device (node:http with createConnection)',
  help: GET_HELP,
  run: (argv, io) => runGet(argv, io),
};
