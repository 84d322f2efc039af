/**
 * `synack gateway`: user-mode networking for a guest (issue 15) — the
 * command form of createGateway (synack/gateway). Prints a line containing
 * `ready` on stdout once the downstream listens, logs to stderr, stops
 * cleanly on SIGINT/SIGTERM (every forwarded connection is reset and every
 * host socket closed; a second signal exits at once).
 */
import { createGateway, parsePublish, type Gateway, type PublishSpec } from '../gateway/gateway.ts';
import { parseCidr } from '../gateway/policy.ts';
import { parseWebSocketListen, WEBSOCKET_DEFAULT_MAX_GUESTS } from '../gateway/websocket-gateway.ts';
import { defaultDnsUpstream, parseDnsUpstream } from '../gateway/dns.ts';
import { loadGatewayPage } from '../viz/gateway-page.ts';
import { capYoungGeneration, keepYoungGenerationSmall, GATEWAY_NEW_SPACE_CAP, nativeTrimMemory, trimMemoryWhenIdle } from '../gateway/heap.ts';
import { restartInPlace } from './restart.ts';
import { numberOption, parseOptions, UsageError, type CliIo, type Command } from './options.ts';

const GATEWAY_HELP = `Usage: synack gateway --qemu-socket PATH [options]
       synack gateway --netns PATH [--userns PATH] [--tap NAME] [options]
       synack gateway --websocket HOST:PORT [options]

User-mode networking: every TCP connection and UDP flow the guest makes is
terminated by synack's stack and re-created with ordinary host sockets (as
slirp4netns and passt do). Addressing as slirp4netns: network 10.0.2.0/24,
gateway 10.0.2.2 (the host's 127.0.0.1 unless --disable-host-loopback),
DNS 10.0.2.3, guest 10.0.2.100; with --ipv6 also fd00::/64, gateway fd00::2
(the host's ::1), DNS fd00::3.
A DHCP server on the downstream gives the guest 10.0.2.100/24 (the first of
16 addresses), router 10.0.2.2, DNS 10.0.2.3, the MTU and a one-day lease.
Prints a line containing "ready" once listening; logs go to stderr;
SIGINT/SIGTERM stop it, closing every forwarded connection.

Downstream:
  --qemu-socket PATH      listen on a Unix stream socket speaking QEMU's
                          -netdev stream framing (each Ethernet frame after
                          its length, 4 octets big-endian)
  --netns PATH            the network namespace at PATH (/run/netns/NAME,
                          /proc/PID/ns/net), like slirp4netns --configure
                          --netns-type=path: create a TAP device in it, give
                          it 10.0.2.100/24, the MTU and a default route via
                          10.0.2.2, bring it and lo up, and serve it from
                          here (needs root: CAP_SYS_ADMIN, CAP_NET_ADMIN;
                          without root, see --userns)
  --userns PATH           with --netns: the user namespace that owns it
                          (/proc/PID/ns/user), for a rootless container's
                          network namespace, like slirp4netns --userns-path:
                          a forked child joins both, makes and configures
                          the device and passes it back; no root needed —
                          only owning the user namespace and a /dev/net/tun
                          everyone may open (mode 0666)
  --tap NAME              the TAP device's name in the namespace (default
                          tap0; with --netns)
  --websocket HOST:PORT   a WebSocket server (RFC 6455) in the protocol of
                          v86's relay_url: one Ethernet frame per binary
                          message; each client is its own guest network
                          (10.0.2.0/24, DHCP, its own connections); a bare
                          PORT listens on 127.0.0.1
  --max-guests N          WebSocket clients at once (default 16); beyond it
                          the handshake gets 503
  --websocket-origin O    allow pages of origin O (exactly, e.g.
                          http://localhost:8000; * for any; repeatable).
                          Default: clients without an Origin header and
                          pages on a loopback host (localhost, 127.0.0.0/8,
                          [::1]); others get 403

Options:
  --mtu N                 MTU of the guest link (default 1500; 1280..65520)
  --dns-upstream ADDR[:PORT]
                          the resolver the DNS forwarder at 10.0.2.3 (UDP
                          and TCP port 53) relays to ([V6]:PORT for IPv6;
                          default the first nameserver in /etc/resolv.conf);
                          answers come back unchanged; --allow/--deny do not
                          apply to it
  --ipv6                  IPv6 too (off by default, as slirp4netns): fd00::2,
                          DNS fd00::3, router advertisements for fd00::/64
                          with the MTU and RDNSS fd00::3; with --netns the
                          device also gets fd00::100/64 and a default route
                          via fd00::2
  --no-dhcp               no DHCP server on the guest's link (by default one
                          hands out 10.0.2.100.., router 10.0.2.2, DNS
                          10.0.2.3 and the MTU); the guest is configured by
                          hand
  --publish SPEC          [HOSTADDR:]HOSTPORT:GUESTPORT[/tcp|/udp]: the host
                          listens on HOSTADDR (default 127.0.0.1) and each
                          connection or flow is opened toward the guest's
                          GUESTPORT (repeatable)
  --disable-host-loopback connections to the gateway address do not reach
                          the host's loopback
  --allow CIDR            only these destinations (repeatable)
  --deny CIDR             never these destinations; deny wins (repeatable)
  --max-connections N     forwarded TCP connections at once (default 4096)
  --max-pending-connects N
                          host connects under way at once (default 256);
                          further guest SYNs wait their turn in order
  --max-buffered-bytes N  bytes all forwarded connections may hold together
                          (default 268435456, 256 MiB); at or above it new
                          connections are refused with RST until they drain
  --keepalive SECONDS     probe the guest of a forwarded connection idle for
                          SECONDS with TCP keepalives (every min(SECONDS, 75)
                          s; 9 unanswered: the connection is reset and its
                          host socket closed); default off
  --max-echo-flows N      ICMP echo flows (guest, destination, identifier)
                          relayed at once, each through a host echo socket
                          (default 256); requests of new flows beyond it are
                          dropped and counted
  --pcap FILE             write the guest's frames to FILE (LINKTYPE_ETHERNET)
  --viz PORT              watch the guest's connections live in a browser at
                          http://127.0.0.1:PORT/ (0: any free port; the URL
                          is in the ready line): a table (state, bytes, rate,
                          the host socket each maps to) and, for the one you
                          click, the ladder of its segments and both sides
                          in RFC 9293's state diagram; the UDP flows too.
                          Loopback only.
  --stats                 print the counters as one JSON line ("stats {...}")
                          on stdout at exit and on SIGUSR1 or SIGUSR2
  --host-sockets KIND     the host side of forwarded TCP connections:
                          native (the default where the addon is built):
                          plain sockets in one epoll set; node: a node:net
                          Socket per connection
  --small-heap            keep V8's young generation at its initial size
                          (by default it may grow to 4 MiB of new space, not
                          V8's 16–32 MiB, which a burst of connections would
                          leave behind as RSS)
  --no-idle-trim          keep the memory a burst touched: by default, when
                          the process goes quiet after being busy, a full GC
                          and malloc_trim give it back to the system
  -h, --help              this help

ICMP echo to other destinations than the gateway is relayed through
unprivileged host echo sockets (net.ipv4.ping_group_range must include the
gateway's group; otherwise it is dropped, counted and logged once).

The command runs with one glibc malloc arena: unless MALLOC_ARENA_MAX is set
in its environment, it restarts itself in place at start (execve: the same
PID) with MALLOC_ARENA_MAX=1, which saves ~1 KB of RSS per connection.

Not yet: --publish, --pcap and --viz with --websocket.

Example:
  synack gateway --qemu-socket /tmp/vm.sock --publish 8080:80 &
  qemu-system-x86_64 ... -netdev stream,id=n0,server=off,addr.type=unix,addr.path=/tmp/vm.sock \\
    -device virtio-net-pci,netdev=n0
  ip netns add sandbox
  synack gateway --netns /run/netns/sandbox &
  ip netns exec sandbox curl http://10.0.2.2:8000/   # the host's 127.0.0.1:8000
  ip netns exec sandbox dig @10.0.2.3 example.com    # through the host's resolver
  unshare --user --map-root-user --net sleep infinity &    # rootless, as yourself
  synack gateway --netns /proc/$!/ns/net --userns /proc/$!/ns/user &
  synack gateway --websocket 127.0.0.1:8086 &
  # in the page: net_device: { type: "ne2k", relay_url: "ws://127.0.0.1:8086/" }`;

const GATEWAY_OPTIONS = {
  'qemu-socket': { type: 'string' },
  netns: { type: 'string' },
  tap: { type: 'string' },
  userns: { type: 'string' },
  websocket: { type: 'string' },
  'max-guests': { type: 'string' },
  'websocket-origin': { type: 'string', multiple: true },
  mtu: { type: 'string' },
  publish: { type: 'string', multiple: true },
  'disable-host-loopback': { type: 'boolean' },
  allow: { type: 'string', multiple: true },
  deny: { type: 'string', multiple: true },
  'max-connections': { type: 'string' },
  'max-echo-flows': { type: 'string' },
  'max-pending-connects': { type: 'string' },
  'max-buffered-bytes': { type: 'string' },
  keepalive: { type: 'string' },
  pcap: { type: 'string' },
  'dns-upstream': { type: 'string' },
  ipv6: { type: 'boolean' },
  'no-dhcp': { type: 'boolean' },
  stats: { type: 'boolean' },
  'small-heap': { type: 'boolean' },
  'no-idle-trim': { type: 'boolean' },
  'host-sockets': { type: 'string' },
  viz: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function runGateway(argv: string[], io: CliIo): Promise<number> {
  const { values: v } = parseOptions('gateway', argv, GATEWAY_OPTIONS);
  if (v.help) {
    io.stdout(GATEWAY_HELP);
    return 0;
  }
  const path = v['qemu-socket'];
  const netns = v.netns;
  const wsText = v.websocket;
  if (!path && !netns && !wsText) throw new UsageError('a downstream is required: --qemu-socket PATH, --netns PATH or --websocket HOST:PORT', 'gateway');
  if ([path, netns, wsText].filter((x) => x !== undefined).length > 1) throw new UsageError('one downstream at a time: --qemu-socket, --netns or --websocket', 'gateway');
  let wsListen: { host: string; port: number } | null = null;
  if (wsText !== undefined) {
    try {
      wsListen = parseWebSocketListen(wsText);
    } catch (e) {
      throw new UsageError(`--websocket: ${(e as Error).message}`, 'gateway');
    }
    if (v.publish || v.pcap) throw new UsageError('--publish and --pcap are not available with --websocket (each client is its own guest network)', 'gateway');
  } else if (v['max-guests'] !== undefined || v['websocket-origin'] !== undefined) {
    throw new UsageError('--max-guests and --websocket-origin go with --websocket', 'gateway');
  }
  const maxGuests = numberOption('gateway', 'max-guests', v['max-guests'], WEBSOCKET_DEFAULT_MAX_GUESTS, (n) => Number.isInteger(n) && n >= 1 && n <= 4096, 'an integer 1..4096');
  if (v.tap !== undefined && !netns) throw new UsageError('--tap names the TAP device of --netns', 'gateway');
  const userns = v.userns;
  if (userns !== undefined && !netns) throw new UsageError('--userns names the user namespace that owns the --netns namespace: give --netns PATH too', 'gateway');
  if (userns === '') throw new UsageError('--userns: the path of a user namespace is required (e.g. /proc/PID/ns/user)', 'gateway');
  if (v.tap !== undefined && !/^[A-Za-z0-9_.:-]{1,15}$/.test(v.tap)) throw new UsageError(`--tap: not an interface name: ${JSON.stringify(v.tap)} (1..15 characters)`, 'gateway');
  const mtu = numberOption('gateway', 'mtu', v.mtu, 1500, (n) => Number.isInteger(n) && n >= 1280 && n <= 65520, 'an integer 1280..65520');
  const maxConnections = numberOption('gateway', 'max-connections', v['max-connections'], 4096, (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
  const maxEchoFlows = numberOption('gateway', 'max-echo-flows', v['max-echo-flows'], 256, (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
  const maxPendingConnects = numberOption('gateway', 'max-pending-connects', v['max-pending-connects'], 256, (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
  const maxBufferedBytes = numberOption('gateway', 'max-buffered-bytes', v['max-buffered-bytes'], 256 * 1024 * 1024, (n) => Number.isSafeInteger(n) && n >= 1, 'a positive integer');
  const keepalive = v.keepalive === undefined ? null : numberOption('gateway', 'keepalive', v.keepalive, 0, (n) => Number.isFinite(n) && n >= 1 && n <= 86_400, 'seconds, 1..86400');
  const checked = <T>(what: string, list: string[] | undefined, parse: (s: string) => T): T[] =>
    (list ?? []).map((s) => {
      try {
        return parse(s);
      } catch (e) {
        throw new UsageError(`--${what}: ${(e as Error).message}`, 'gateway');
      }
    });
  const hostSockets = v['host-sockets'];
  if (hostSockets !== undefined && hostSockets !== 'native' && hostSockets !== 'node') throw new UsageError(`--host-sockets: 'native' or 'node', got ${JSON.stringify(hostSockets)}`, 'gateway');
  const vizPort = v.viz === undefined ? null : numberOption('gateway', 'viz', v.viz, 0, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port 0..65535');
  const publish: PublishSpec[] = checked('publish', v.publish, parsePublish);
  checked('allow', v.allow, parseCidr);
  checked('deny', v.deny, parseCidr);
  const dnsUpstream = v['dns-upstream'];
  if (dnsUpstream !== undefined) checked('dns-upstream', [dnsUpstream], parseDnsUpstream);

  // One glibc malloc arena: threads that allocate at the same time get
  // arenas of their own (up to 8 per core), and V8's compiler threads left
  // their zones in theirs — ~1 KB of RSS per forwarded connection on top of
  // the ~1.7 KB the rest costs (docs/PERFORMANCE.md, "The gateway"). The
  // variable is read once, at the process's first allocation (mallopt at
  // run time leaves the arenas threads already have), so the command
  // restarts itself in place, before it opens anything; no cost in
  // throughput or connections/s was measured. Returns here when it did
  // not (set already, or not the process's own command line).
  restartInPlace(['gateway', ...argv], { env: { MALLOC_ARENA_MAX: '1' } });

  // --viz: the page (prebuilt in the package, else bundled now) served by the gateway on 127.0.0.1.
  const page = vizPort === null ? null : await loadGatewayPage();
  // V8's young generation: a burst of connections would grow it to 16–32 MiB
  // of RSS that stays; the command (which owns its process) caps it at 4 MiB
  // of new space, --small-heap keeps it at its initial size (gateway/heap.ts).
  if (v['small-heap']) keepYoungGenerationSmall();
  else capYoungGeneration(GATEWAY_NEW_SPACE_CAP);
  let gw: Gateway;
  try {
    gw = createGateway({
      downstream: wsListen
        ? { websocket: { ...wsListen, maxGuests, ...(v['websocket-origin'] ? { origins: v['websocket-origin'] } : {}) } }
        : netns
          ? { netns, ...(v.tap !== undefined ? { tap: v.tap } : {}), ...(userns !== undefined ? { userns } : {}) }
          : { qemuSocket: path! },
      mtu,
      maxConnections,
      maxEchoFlows,
      maxPendingConnects,
      maxBufferedBytes,
      ...(keepalive !== null ? { keepAlive: { idleMs: keepalive * 1000 } } : {}),
      publish,
      ...(v.allow ? { allow: v.allow } : {}),
      ...(v.deny ? { deny: v.deny } : {}),
      ...(v['disable-host-loopback'] ? { disableHostLoopback: true } : {}),
      ...(v['no-dhcp'] ? { dhcp: false } : {}),
      ...(v.pcap ? { pcap: v.pcap } : {}),
      ...(dnsUpstream !== undefined ? { dnsUpstream } : {}),
      ...(v.ipv6 ? { ipv6: true } : {}),
      ...(hostSockets !== undefined ? { hostSockets } : {}),
      ...(page ? { viz: { port: vizPort!, page } } : {}),
      log: (line) => io.stderr(`synack gateway: ${line}`),
    });
  } catch (e) {
    const err = e as Error & { code?: string; syscall?: string };
    io.stderr(`synack gateway: ${err.message}${err.code && /^E[A-Z]+$/.test(err.code) && !err.message.includes(err.code) ? ` (${err.code})` : ''}`);
    // Not allowed into the network namespace: a rootless container's belongs to a user namespace.
    if (netns && userns === undefined && err.code === 'EPERM' && err.syscall === 'setns') {
      io.stderr(`synack gateway: without root, give the user namespace that owns ${netns} too: --userns /proc/PID/ns/user (PID: the process whose network namespace it is)`);
    }
    return 1;
  }
  try {
    await gw.ready;
  } catch (e) {
    // A published port could not be bound: nothing is left open (the TAP device goes with it).
    io.stderr(`synack gateway: ${(e as Error).message}`);
    await gw.close();
    return 1;
  }
  const viz = gw.viz;
  // Memory back to the system once startup is done and whenever the process
  // goes quiet after a burst (gateway/heap.ts); --no-idle-trim keeps it.
  const trim = v['no-idle-trim'] ? null : nativeTrimMemory();
  const trimming = trim ? trimMemoryWhenIdle(trim) : null;
  const printStats = (): void => io.stdout(`stats ${JSON.stringify(gw.stats())}`);
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      io.stderr(`synack gateway: ${sig} again, exiting now`);
      process.exit(130);
    }
    io.stderr(`synack gateway: ${sig}, shutting down`);
    gw.close().then(
      () => resolveDone(0),
      () => resolveDone(1),
    );
  };
  // Every handler is installed before "ready" is printed: a script that
  // signals as soon as it reads it must never meet a signal's default action
  // (termination, with no clean stop), and a SIGUSR1 never starts Node's
  // inspector.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (v.stats) {
    process.on('SIGUSR1', printStats);
    process.on('SIGUSR2', printStats);
  }
  const pub = publish.map((p) => ` publish ${p.hostAddr ?? '127.0.0.1'}:${p.hostPort}->${p.guestPort}/${p.proto ?? 'tcp'}`).join('');
  const wsAddr = gw.websocket?.address();
  const where = netns
    ? `${gw.tap!.name} in ${netns}${userns !== undefined ? ` (user namespace ${userns})` : ''} (guest 10.0.2.100/24${v.ipv6 ? ', fd00::100/64' : ''}, default route via 10.0.2.2${v.ipv6 ? ', fd00::2' : ''})`
    : wsAddr
      ? `ws://${wsAddr.address.includes(':') ? `[${wsAddr.address}]` : wsAddr.address}:${wsAddr.port}/ (each client its own guest network, at most ${maxGuests})`
      : path!;
  // With --websocket each guest network has its own forwarder, all to the same upstream.
  let up: { address: string; port: number } | null = null;
  try {
    up = gw.websocket ? parseDnsUpstream(dnsUpstream ?? defaultDnsUpstream()) : gw.dns.upstream;
  } catch {
    up = null;
  }
  const dnsTo = up === null ? 'no upstream' : up.address.includes(':') ? `[${up.address}]:${up.port}` : `${up.address}:${up.port}`;
  io.stdout(`synack gateway: ready on ${where} (mtu ${mtu}; gateway 10.0.2.2${v.ipv6 ? ', fd00::2' : ''}; dns 10.0.2.3${v.ipv6 ? ', fd00::3' : ''} -> ${dnsTo})${pub}${viz ? ` viz ${viz.url}` : ''}`);
  if (viz) io.stderr(`synack gateway: watch the guest's connections at ${viz.url}`);

  try {
    const code = await done;
    if (v.stats) printStats();
    const st = gw.stats();
    io.stderr(`synack gateway: stopped (${st.tcp.opened} TCP connections forwarded, ${st.tcp.refused} refused, ${st.tcp.denied} denied; ${st.udp.flows} UDP flows; ${st.dns.queries} DNS queries relayed)`);
    // Everything is closed: the process should end by itself now. A watchdog
    // (unref'd: it never keeps the process alive) ends it if something left
    // running does not let it, and says so.
    setTimeout(() => {
      io.stderr('synack gateway: still running 5 s after stopping; exiting');
      process.exit(code);
    }, 5000).unref();
    return code;
  } finally {
    trimming?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGUSR1', printStats);
    process.off('SIGUSR2', printStats);
  }
}

export const gatewayCommand: Command = {
  name: 'gateway',
  summary: 'user-mode networking for a guest (a network namespace, QEMU -netdev stream, v86 over a WebSocket): its connections through host sockets',
  help: GATEWAY_HELP,
  run: runGateway,
};
