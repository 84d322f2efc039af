/**
 * `synack serve`: classic TCP services on a TUN or TAP device — echo (RFC 862),
 * discard (RFC 863), daytime (RFC 867), chargen (RFC 864) and an HTTP/1.1
 * server built with node:http over synack sockets; UDP echo (RFC 862 over
 * UDP, on the host's node:dgram-compatible sockets). ICMP echo is answered by
 * the stack. Prints a line with `ready` once every listener is up;
 * SIGINT/SIGTERM stop it gracefully (a second signal stops it at once).
 *
 * Must be imported through main.ts (it imports main.ts for UsageError).
 */
import http from 'node:http';
import type { Socket } from '../api/socket.ts';
import type { Server } from '../api/server.ts';
import { parseOptions, UsageError, type CliIo, type Command } from './options.ts';
import { LINK_HELP, LINK_OPTIONS, HostError, errorLine, openTunHost, parseLinkArgs, type TunHost } from './tun-host.ts';
import { SERVICES_HELP, SERVICES_OPTIONS, ServiceError, anyService, parseServicesArgs, startServices, type RunningServices } from './services-options.ts';
import { formatIpAddr } from '../wire/ipv6.ts';
import { macToString } from '../wire/ethernet.ts';

const SERVE_HELP = `Usage: synack serve (--tun IF | --tap IF) --addr CIDR [--addr CIDR] [options]

Runs TCP and UDP services on synack's own stack, attached to a TUN device
(IP packets) or a TAP device (Ethernet frames: synack answers ARP and
Neighbor Discovery), and answers ICMP echo (ping). Prints a line containing "ready" once every
listener is up, with every address (--addr may be repeated: IPv4 and
IPv6; the services listen on all of them, and ping -6 is answered too).
SIGINT/SIGTERM stop it gracefully.

Services (at least one):
  --echo PORT       echo (RFC 862): sends back what it receives; after the
                    peer's FIN it finishes echoing, then closes
  --discard PORT    discard (RFC 863): reads and drops everything
  --daytime PORT    daytime (RFC 867): writes the time as one line, then
                    closes (an active close)
  --chargen PORT    chargen (RFC 864): streams the character pattern until
                    the peer closes or resets
  --http PORT       HTTP/1.1 (node:http over synack sockets):
                    GET /         200 with a short text body
                    GET /bytes/N  N bytes (byte i is i mod 256)
  --udp-echo PORT   UDP echo (RFC 862 over UDP): each datagram is sent back
                    to its sender, over IPv4 and IPv6

Limits and reporting:
  --persist-timeout S  drop a connection whose peer keeps a zero window for
                    S seconds while we have data for it (the persist limit;
                    default 900; 0 = never)
  --stats           print the stack's counters as one JSON line
                    ("stats {...}") on stdout at exit and on SIGUSR2

${SERVICES_HELP}

${LINK_HELP}

Example (as root):
  ip tuntap add dev tun0 mode tun
  ip addr add 10.9.0.1/24 dev tun0 && ip link set tun0 up
  synack serve --tun tun0 --addr 10.9.0.2/24 --http 80 --echo 7
  curl http://10.9.0.2/ ; ping 10.9.0.2
Dual stack (the kernel's side gets fd09::1 without duplicate address detection):
  synack serve --tun tun0 --addr 10.9.0.2/24 --addr fd09::2/64 \\
    --peer-addr 10.9.0.1/24 --peer-addr fd09::1/64 --http 80
  curl -6 'http://[fd09::2]/' ; ping -6 fd09::2
On a TAP device, advertising a prefix so the kernel forms its own address:
  ip tuntap add dev tap0 mode tap
  ip addr add 10.9.0.1/24 dev tap0 && ip link set tap0 up
  synack serve --tap tap0 --addr 10.9.0.2/24 --addr fd09::2/64 \
    --ra fd09::/64 --http 80 --udp-echo 7
  ip neigh show dev tap0 ; curl -6 'http://[fd09::2]/'`;

const SERVE_OPTIONS = {
  ...LINK_OPTIONS,
  echo: { type: 'string' },
  discard: { type: 'string' },
  daytime: { type: 'string' },
  chargen: { type: 'string' },
  http: { type: 'string' },
  'udp-echo': { type: 'string' },
  'persist-timeout': { type: 'string' },
  stats: { type: 'boolean' },
  ...SERVICES_OPTIONS,
} as const;

type ServiceName = 'echo' | 'discard' | 'daytime' | 'chargen' | 'http';
const SERVICES: ServiceName[] = ['echo', 'discard', 'daytime', 'chargen', 'http'];

/** The RFC 864 pattern: 95 lines of 72 printable characters, each starting one later; whole cycles, ~64 KiB. */
export function chargenBlock(): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < 95; i++) {
    let s = '';
    for (let j = 0; j < 72; j++) s += String.fromCharCode(32 + ((i + j) % 95));
    lines.push(s + '\r\n');
  }
  const cycle = Buffer.from(lines.join(''), 'latin1'); // 7030 bytes
  return Buffer.concat(Array.from({ length: 10 }, () => cycle));
}

/** N bytes where byte i is i mod 256, in chunks of at most 64 KiB. */
const BYTES_BLOCK = Buffer.from(Array.from({ length: 65536 }, (_, i) => i & 0xff));

function daytime(): string {
  // RFC 867 leaves the format open; this is the common "weekday, month day, year hh:mm:ss-zone" form.
  return new Date().toUTCString();
}

const HTTP_ROOT_BODY = 'hello from synack, a userspace TCP/IP stack\n';
const MAX_HTTP_BYTES = 2 ** 40;

function httpHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' });
    res.end('method not allowed\n');
    return;
  }
  if (url === '/') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(HTTP_ROOT_BODY) });
    res.end(req.method === 'HEAD' ? undefined : HTTP_ROOT_BODY);
    return;
  }
  const m = /^\/bytes\/(\d{1,15})$/.exec(url);
  if (m) {
    const n = Number(m[1]);
    if (n > MAX_HTTP_BYTES) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`at most ${MAX_HTTP_BYTES} bytes\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
    if (req.method === 'HEAD' || n === 0) {
      res.end();
      return;
    }
    let left = n;
    const pump = (): void => {
      while (left > 0) {
        const k = Math.min(left, BYTES_BLOCK.length);
        // Offsets are multiples of 65536, so every block starts at byte value 0.
        const ok = res.write(k === BYTES_BLOCK.length ? BYTES_BLOCK : BYTES_BLOCK.subarray(0, k));
        left -= k;
        if (!ok) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    res.on('close', () => {
      left = 0;
    });
    pump();
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
}

export async function runServe(argv: string[], io: CliIo): Promise<number> {
  const { values: v } = parseOptions('serve', argv, SERVE_OPTIONS);
  if (v.help) {
    io.stdout(SERVE_HELP);
    return 0;
  }
  const link = parseLinkArgs('serve', v);
  const svcArgs = parseServicesArgs('serve', v);
  // DHCP is an Ethernet protocol: refuse it on a layer-3 link before any device is opened.
  if ((svcArgs.dhcp || svcArgs.dhcpServer) && link.kind !== 'tap') {
    throw new UsageError(`${svcArgs.dhcp ? '--dhcp' : '--dhcp-server'} needs an Ethernet link (--tap IF); a TUN device carries no Ethernet frames`, 'serve');
  }
  const ports = new Map<ServiceName, number>();
  for (const s of SERVICES) {
    const raw = v[s];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${s} expects a port in 1..65535, got '${raw}'`, 'serve');
    for (const [other, p] of ports) if (p === n) throw new UsageError(`--${s} and --${other} both use port ${n}`, 'serve');
    ports.set(s, n);
  }
  let udpEchoPort: number | null = null;
  const rawUdpEcho = v['udp-echo'];
  if (rawUdpEcho !== undefined) {
    const n = Number(rawUdpEcho);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--udp-echo expects a port in 1..65535, got '${rawUdpEcho}'`, 'serve');
    udpEchoPort = n;
  }
  if (ports.size === 0 && udpEchoPort === null && !anyService(svcArgs)) {
    throw new UsageError('name at least one service: --echo, --discard, --daytime, --chargen, --http or --udp-echo PORT (or --dns PORT, --dhcp-server START-END)', 'serve');
  }
  let persistTimeoutUs: number | undefined;
  const rawPersist = v['persist-timeout'];
  if (rawPersist !== undefined) {
    const n = Number(rawPersist);
    if (rawPersist.trim() === '' || !Number.isFinite(n) || n < 0 || n > 86_400) throw new UsageError(`--persist-timeout expects seconds in 0..86400, got '${rawPersist}'`, 'serve');
    persistTimeoutUs = Math.round(n * 1e6);
  }

  let stopping = false;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (resolveDone = r));
  let host: TunHost;
  try {
    host = openTunHost('serve', link, {
      log: (line) => io.stdout(line),
      onLinkError: (err) => {
        io.stderr(`synack serve: ${err.message}`);
        void stop(1);
      },
    });
  } catch (e) {
    if (e instanceof HostError) {
      io.stderr(`synack serve: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const { net } = host;
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const chargen = ports.has('chargen') ? chargenBlock() : null;
  const httpServer = ports.has('http') ? http.createServer({ keepAliveTimeout: 5000 }, httpHandler) : null;
  httpServer?.on('clientError', (err, sock) => {
    if (!sock.destroyed) sock.destroy();
    if ((err as { code?: string }).code !== 'ECONNRESET') io.stderr(`synack serve: http: ${errorLine(err)}`);
  });

  const peerOf = (s: Socket): string => `${s.remoteAddress}:${s.remotePort}`;
  const track = (name: ServiceName, s: Socket): void => {
    sockets.add(s);
    const peer = peerOf(s);
    s.on('error', (e) => io.stderr(`synack serve: ${name} ${peer}: ${errorLine(e)}`));
    s.once('close', () => sockets.delete(s));
  };

  const handlers: Record<ServiceName, (s: Socket) => void> = {
    echo: (s) => {
      // allowHalfOpen: after the peer's FIN, pipe() finishes echoing and then ends our side.
      s.pipe(s);
    },
    discard: (s) => {
      s.on('data', () => {});
      s.on('end', () => s.end());
    },
    daytime: (s) => {
      s.on('data', () => {});
      s.end(daytime() + '\r\n');
    },
    chargen: (s) => {
      let open = true;
      const stopGen = (): void => {
        open = false;
      };
      s.on('data', () => {});
      s.on('end', () => {
        stopGen();
        s.end();
      });
      s.on('close', stopGen);
      s.on('error', stopGen);
      const pump = (): void => {
        while (open && !s.destroyed && s.writable) {
          if (!s.write(chargen!)) {
            s.once('drain', pump);
            return;
          }
        }
      };
      pump();
    },
    http: (s) => {
      httpServer!.emit('connection', s);
    },
  };

  const listening: Array<Promise<void>> = [];
  for (const [name, port] of ports) {
    const server = net.createServer({ allowHalfOpen: name !== 'http', ...(persistTimeoutUs !== undefined ? { tcp: { persistTimeoutUs } } : {}) }, (s: Socket) => {
      track(name, s);
      if (stopping) {
        s.destroy();
        return;
      }
      handlers[name](s);
    });
    servers.push(server);
    listening.push(
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, () => {
          server.off('error', reject);
          resolve();
        });
      }),
    );
  }
  // RFC 862, "UDP Based Echo Service": "A server listens for UDP datagrams
  // on UDP port 7. When a datagram is received, the data from it is sent
  // back in an answering datagram." One udp6 socket on :: takes IPv4 too
  // (IPv4-mapped), as node:dgram's does.
  let udpEcho: ReturnType<typeof host.dgram.createSocket> | null = null;
  if (udpEchoPort !== null) {
    const sock = host.dgram.createSocket('udp6');
    udpEcho = sock;
    sock.on('message', (msg, rinfo) => {
      if (!stopping) sock.send(msg, rinfo.port, rinfo.address);
    });
    listening.push(
      new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(udpEchoPort, () => {
          sock.off('error', reject);
          sock.on('error', (e) => io.stderr(`synack serve: udp-echo: ${errorLine(e)}`));
          resolve();
        });
      }),
    );
  }
  try {
    await Promise.all(listening);
  } catch (e) {
    io.stderr(`synack serve: ${errorLine(e)}`);
    await host.close();
    return 1;
  }
  let running: RunningServices | null = null;
  try {
    // A TAP host carries its Ethernet interface; a TUN host has none (DHCP was refused before the device opened).
    running = await startServices(svcArgs, { stack: host.stack, driver: host.driver, net, eth: host.eth }, crypto.getRandomValues(new Uint32Array(1))[0]!);
  } catch (e) {
    io.stderr(`synack serve: ${e instanceof ServiceError ? e.message : errorLine(e)}`);
    for (const s of servers) s.close();
    await host.close();
    return 1;
  }

  async function stop(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    running?.stop();
    for (const s of servers) s.close();
    udpEcho?.close();
    httpServer?.closeIdleConnections?.();
    // Graceful: FIN every open connection, give them a moment to close, then reset the rest.
    for (const s of sockets) s.end();
    const deadline = Date.now() + 1500;
    while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const s of sockets) s.destroy();
    await host.close();
    resolveDone(code);
  }

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      io.stderr(`synack serve: ${sig} again, exiting now`);
      host.pcap?.close();
      process.exit(130);
    }
    io.stderr(`synack serve: ${sig}, shutting down`);
    void stop(0);
  };
  // --stats: the counters as one JSON line, on SIGUSR2 and at exit. Not
  // SIGUSR1: Node reserves it for the inspector, and whether a listener
  // overrides that depends on when the inspector hooked it (nodejs/node#19619;
  // a CI run printed "Debugger listening" instead of the stats line).
  // sendQueuedMax / writableMax: the most bytes any one connection holds in
  // the stack's send buffer and in its stream's write queue (the memory an
  // attacker can make synack hold; test/attack/resources.test.ts).
  const printStats = (): void => {
    let sendQueuedMax = 0;
    for (const c of host.stack.connections()) sendQueuedMax = Math.max(sendQueuedMax, c.status().sendQueued);
    let writableMax = 0;
    for (const s of sockets) writableMax = Math.max(writableMax, s.writableLength);
    // link: the TUN link's offload counters (GSO segments in and out).
    const ls = host.link.stats;
    const link = { offloads: host.link.offloads, gsoIn: ls.gsoIn, largestIn: ls.largestIn, csumCompleted: ls.csumCompleted, csumTrusted: ls.csumTrusted, gsoOut: ls.gsoOut, superOut: ls.superOut, gsoOutSegments: ls.gsoOutSegments, writeCalls: ls.writeCalls, csumOffloadOut: ls.csumOffloadOut };
    // eth (TAP): the Ethernet interface's counters and its neighbour cache.
    const eth = host.eth ? { ...host.eth.stats, neighbors: host.eth.neighbors.list().map((e) => ({ ip: formatIpAddr(e.ip), mac: e.mac === null ? null : macToString(e.mac), state: e.state })) } : undefined;
    io.stdout(`stats ${JSON.stringify({ ...host.stack.counters.snapshot(), openSockets: sockets.size, sendQueuedMax, writableMax, link, ...(eth ? { eth } : {}) })}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (v.stats) process.on('SIGUSR2', printStats);
  // Printed only once the handlers are in place: a script that signals as
  // soon as it reads "ready" must never meet a signal's default action (for
  // SIGUSR2, termination — a test saw it when the process was preempted
  // between the two).
  const list = [...[...ports].map(([n, p]) => `${n}=${p}`), ...(udpEchoPort !== null ? [`udp-echo=${udpEchoPort}`] : []), ...(running.describe ? [running.describe] : [])].join(' ');
  io.stdout(`synack serve: ready on ${host.describe}: ${list}`);
  try {
    const code = await done;
    if (v.stats) printStats();
    const c = host.stack.counters;
    io.stderr(
      `synack serve: stopped (${c.passiveOpens} connections, ${c.packetsIn} packets in, ${c.packetsOut} out, ${c.retransmits} retransmits, ${c.totalDrops} drops; ${host.link.stats.dropsNotIp} non-IP packets dropped)`,
    );
    const drops = Object.entries(c.drops).map(([k, n]) => `${k} ${n}`);
    if (drops.length) io.stderr(`synack serve: drops by reason: ${drops.join(', ')}`);
    const { impairIn, impairOut } = host.link.stats;
    const im = (x: typeof impairIn): string => (x ? `${x.lost} lost, ${x.duplicated} duplicated, ${x.reordered} reordered, ${x.corrupted} corrupted${x.queueDrops ? `, ${x.queueDrops} queue drops` : ''}` : 'none');
    if (impairIn || impairOut) io.stderr(`synack serve: impairments: to the stack: ${im(impairIn)}; to the device: ${im(impairOut)}`);
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGUSR2', printStats);
  }
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run echo/discard/daytime/chargen/HTTP and UDP echo servers on a TUN or TAP device',
  help: SERVE_HELP,
  run: runServe,
};
