/**
 * `synack connect`: like nc, over synack on a TUN device. stdin goes to the
 * connection and the connection to stdout; EOF on stdin sends FIN (a
 * half-close: the peer's data still arrives); exits 0 when the peer has
 * closed, non-zero with a message on refusal, reset or timeout.
 *
 * Must be imported through main.ts (it imports main.ts for UsageError).
 */
import type { Socket } from '../api/socket.ts';
import { parseIpv4Addr } from '../wire/bytes.ts';
import { parseIpv6Addr } from '../wire/ipv6.ts';
import { parseOptions, UsageError, type CliIo, type Command } from './options.ts';
import { LINK_HELP, LINK_OPTIONS, HostError, openTunHost, parseLinkArgs, type TunHost } from './tun-host.ts';

const CONNECT_HELP = `Usage: synack connect (--tun IF | --tap IF) --addr CIDR [--addr CIDR] [options] HOST:PORT

Opens a TCP connection from synack's stack (on a TUN or TAP device) to HOST:PORT
(HOST a dotted IPv4 address, or an IPv6 one in brackets: [fd09::1]:7), like nc: stdin goes to the connection, the connection to stdout. EOF on
stdin sends FIN (a half-close: what the peer still sends is printed). Exits
0 once the peer has closed; 1 with a message if the connection is refused,
reset or times out.

Options:
  --local-port P          connect from this port (default: an ephemeral one)
  --timeout SEC           give up if not connected within SEC seconds (default 30)
  --idle-timeout SEC      give up after SEC seconds without traffic (default: none)

${LINK_HELP}

Examples:
  echo hello | synack connect --tun tun0 --addr 10.9.0.2/24 10.9.0.1:7
  echo hello | synack connect --tun tun0 --addr fd09::2/64 [fd09::1]:7`;

const CONNECT_OPTIONS = {
  ...LINK_OPTIONS,
  'local-port': { type: 'string' },
  timeout: { type: 'string' },
  'idle-timeout': { type: 'string' },
} as const;

/** "10.9.0.1:7" or "[fd09::1]:7" (RFC 3986 §3.2.2: an IPv6 literal in brackets). */
export function parseHostPort(cmd: string, raw: string | undefined): { host: string; port: number } {
  if (raw === undefined) throw new UsageError('HOST:PORT is required', cmd);
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw);
  const port = m ? Number(m[3]) : NaN;
  const host = m ? (m[1] ?? m[2]!) : '';
  const ok = m !== null && (m[1] !== undefined ? parseIpv6Addr(host) !== null : parseIpv4Addr(host) !== null);
  if (!ok || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`expected HOST:PORT with a dotted IPv4 host or a bracketed IPv6 one, like 10.9.0.1:7 or [fd09::1]:7, got '${raw}'`, cmd);
  }
  return { host, port };
}

function seconds(cmd: string, name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (raw.trim() === '' || !(n >= 0) || !Number.isFinite(n)) throw new UsageError(`--${name} expects seconds, got '${raw}'`, cmd);
  return n;
}

export async function runConnect(argv: string[], io: CliIo, stdin: NodeJS.ReadableStream = process.stdin, stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values: v, positionals } = parseOptions('connect', argv, CONNECT_OPTIONS, true);
  if (v.help) {
    io.stdout(CONNECT_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`one HOST:PORT expected, got ${positionals.length}`, 'connect');
  const target = parseHostPort('connect', positionals[0]);
  const link = parseLinkArgs('connect', v);
  let localPort: number | undefined;
  if (v['local-port'] !== undefined) {
    localPort = Number(v['local-port']);
    if (!Number.isInteger(localPort) || localPort < 1 || localPort > 65535) throw new UsageError(`--local-port expects a port in 1..65535, got '${v['local-port']}'`, 'connect');
  }
  const timeoutS = seconds('connect', 'timeout', v.timeout, 30);
  const idleS = seconds('connect', 'idle-timeout', v['idle-timeout'], 0);

  let host: TunHost;
  let fail: (msg: string) => void = () => {};
  try {
    host = openTunHost('connect', link, {
      log: (line) => io.stderr(line),
      onLinkError: (err) => fail(err.message),
    });
  } catch (e) {
    if (e instanceof HostError) {
      io.stderr(`synack connect: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const dest = target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
  const code = await new Promise<number>((resolve) => {
    let finished = false;
    const socket: Socket = host.net.connect({ host: target.host, port: target.port, ...(localPort ? { localPort } : {}), allowHalfOpen: true });
    const finish = (c: number, msg?: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(connectTimer);
      if (msg) io.stderr(`synack connect: ${msg}`);
      stdin.unpipe(socket as unknown as NodeJS.WritableStream);
      if (typeof (stdin as { pause?: () => void }).pause === 'function') stdin.pause();
      resolve(c);
    };
    fail = (msg) => {
      socket.destroy();
      finish(1, msg);
    };
    const connectTimer = setTimeout(() => {
      if (!socket.connecting) return;
      socket.destroy();
      finish(1, `connecting to ${dest} timed out after ${timeoutS} s (ETIMEDOUT)`);
    }, timeoutS * 1000);
    if (idleS > 0) {
      socket.setTimeout(idleS * 1000, () => {
        socket.destroy();
        finish(1, `no traffic for ${idleS} s; giving up (ETIMEDOUT)`);
      });
    }
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      // EOF on stdin ends our side (FIN); pipe() calls socket.end().
      stdin.pipe(socket as unknown as NodeJS.WritableStream);
    });
    socket.on('data', (chunk: Buffer) => {
      if (!stdout.write(chunk)) {
        socket.pause();
        stdout.once('drain', () => socket.resume());
      }
    });
    socket.once('end', () => {
      // The peer closed: stop reading stdin, close our side too, and exit when done.
      stdin.unpipe(socket as unknown as NodeJS.WritableStream);
      socket.end();
    });
    socket.once('error', (e: Error & { code?: string }) => {
      const what =
        e.code === 'ECONNREFUSED'
          ? `connection to ${dest} refused (ECONNREFUSED)`
          : e.code === 'ECONNRESET'
            ? `connection to ${dest} reset by peer (ECONNRESET)`
            : e.code === 'ETIMEDOUT'
              ? `connection to ${dest} timed out (ETIMEDOUT)`
              : `${dest}: ${e.code ?? ''} ${e.message}`.trim();
      finish(1, what);
    });
    socket.once('close', (hadError: boolean) => {
      if (!hadError) finish(0);
    });
  });
  // Let stdout drain; stop reading stdin (it may still be open) so the process can exit.
  await new Promise<void>((r) => stdout.write('', () => r()));
  if (stdin === process.stdin) process.stdin.destroy();
  await host.close();
  return code;
}

export const connectCommand: Command = {
  name: 'connect',
  summary: 'nc over synack on a TUN or TAP device: stdin to a TCP connection, the connection to stdout',
  help: CONNECT_HELP,
  run: (argv, io) => runConnect(argv, io),
};
