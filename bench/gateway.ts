/**
 * The gateway bench (issue 15): `synack gateway --netns` beside slirp4netns
 * and pasta, measured in the same run on namespaces made the same way — the
 * method rootlesskit publishes for comparing them.
 *
 * For each repetition, each MTU and each gateway: a fresh network namespace
 * (`ip netns add gw-bench-…`), the gateway attached to it
 *   synack      node src/cli/main.ts gateway --netns PATH --mtu N
 *   slirp4netns slirp4netns --configure --mtu=N --netns-type=path PATH tap0
 *   pasta       pasta --config-net --netns PATH -I tap0 (ports: none), the
 *               device's MTU set to N in the namespace
 * and, from inside the namespace, against servers on the host's loopback
 * (through 10.0.2.2 for synack and slirp4netns; through the host's default
 * gateway address for pasta, which it maps to the host's loopback — its
 * man page, "Handling of traffic with local destination and source
 * addresses"):
 *   - RSS per forwarded connection: a python3 client in the namespace holds
 *     250 idle connections (each carried a byte each way), then 1,250; the
 *     gateway's VmRSS is read RSS_SETTLE_MS after each plateau is reached,
 *     and the growth between the two over the 1,000 connections added is
 *     the figure (a slope: what the first connections cost once — code
 *     compiled, buffers first touched — stays out of it, for every gateway);
 *   - connections per second: a python3 client (connect, 64-octet request,
 *     64-octet response, close) for a bounded time, against a node:net
 *     server on 127.0.0.1 in this process, after an uncounted run of
 *     CPS_WARMUP_SECONDS (the steady state: a fresh synack gateway spends
 *     its first seconds compiling the connection path — 1,370–1,530
 *     connections/s over a cold 3 s against 2,300–2,640 after a 1 s run,
 *     and V8 still optimizes functions until ~5 s in); the namespace's
 *     ephemeral ports are 1024–65535, so that the client's TIME-WAIT
 *     sockets (it closes first) do not run out of ports within the probe
 *     (with Linux's 32768–60999, connect() slows ~10× after ~14,000
 *     connections, through every gateway alike);
 *   - iperf3 -t SECONDS guest → host and host → guest (-R) against an
 *     iperf3 server on 127.0.0.1, each after an uncounted transfer of
 *     WARMUP_SECONDS in the same direction (the steady state, as iperf3's
 *     --omit), and the gateway process's CPU time (user + system,
 *     /proc/PID/stat) per GB carried meanwhile — a figure that a machine
 *     shared with other work disturbs less than the rate.
 * Every process is spawned directly (its own PID), bounded in time and
 * killed by PID; the namespaces are deleted at the end. Nothing touches an
 * address outside the namespaces and the loopback.
 *
 * Runnable alone (root): `npx tsx bench/gateway.ts [--seconds 3] [--reps 3]
 * [--mtu 1500,65520] [--only synack,slirp4netns,pasta,synack-base --base DIR]
 * [--prof DIR] [--probes rss,cps,up,down]` prints
 * one JSON line; `npm run bench -- --only gateway` prints the rows.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { hostSpawn } from '../test/gateway/host-proc.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const GATEWAYS = ['synack', 'slirp4netns', 'pasta'] as const;
/** 'synack-base': synack gateway from another checkout (`baseRoot`), for before/after runs. */
export type GatewayName = (typeof GATEWAYS)[number] | 'synack-base';
/** up/down: Gbit/s; upCpu/downCpu: CPU seconds (user + system) of the gateway process per GB carried; cps: connections/s; rss: bytes per idle connection. */
export type Probe = 'up' | 'down' | 'upCpu' | 'downCpu' | 'cps' | 'rss';

export interface GatewayBenchOptions {
  /** iperf3 duration and connections/s duration, seconds (default 3). */
  seconds?: number;
  reps?: number;
  mtus?: number[];
  gateways?: GatewayName[];
  /** The RSS probe's two plateaus of idle connections (default 250 and 1,250): RSS per connection is the growth between them over their difference. */
  idleConns?: [number, number];
  /** Write a V8 CPU profile of every synack gateway process to this folder (node --cpu-prof). */
  profDir?: string;
  /** Which probes to run (default all): a subset of 'rss', 'cps', 'up', 'down' (upCpu/downCpu come with up/down). */
  probes?: Probe[];
  /** Extra arguments for `synack gateway` (A/B runs). */
  synackArgs?: string[];
  /** A checkout (with node_modules) whose `synack gateway` runs as 'synack-base', interleaved with this one (before/after). */
  baseRoot?: string;
  progress?: (msg: string) => void;
}

export interface GatewayBenchResult {
  /** figures[gateway][mtu][probe] = one value per repetition (NaN: the probe failed, see failures). */
  figures: Record<string, Record<number, Record<Probe, number[]>>>;
  failures: string[];
  installed: string[];
  /** The address each gateway's guest reaches the host's loopback by. */
  hostAddr: Record<string, string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** apt-get installs what is missing (Debian only); returns what it installed. */
function ensureTools(gateways: readonly GatewayName[], progress: (m: string) => void): string[] {
  const want: Array<[string, string]> = [['iperf3', 'iperf3']];
  if (gateways.includes('slirp4netns')) want.push(['slirp4netns', 'slirp4netns']);
  if (gateways.includes('pasta')) want.push(['pasta', 'passt']);
  const missing = want.filter(([cmd]) => !have(cmd)).map(([, pkg]) => pkg);
  if (missing.length === 0) return [];
  if (!existsSync('/etc/debian_version')) throw new Error(`missing ${missing.join(', ')} (not Debian: install them by hand)`);
  progress(`gateway: apt-get install ${missing.join(' ')} (missing)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', timeout: 300_000, env });
  const r = spawnSync('apt-get', ['install', '-y', '-q', ...missing], { encoding: 'utf8', timeout: 600_000, env });
  if (r.status !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed: ${r.stderr}`);
  return missing;
}

function sh(argv: string[], timeoutMs = 20_000): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

/** CPU seconds (user + system) a process has used (/proc/PID/stat, USER_HZ = 100). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function vmRssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** The host's IPv4 default gateway: pasta's guest reaches the host's loopback by it. */
function hostDefaultGateway(): string {
  const m = /default via (\d+\.\d+\.\d+\.\d+)/.exec(sh(['ip', '-4', 'route', 'show', 'default']));
  if (!m) throw new Error('pasta needs an IPv4 default route on the host (it copies the host addressing)');
  return m[1]!;
}

/** A free port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const s = nodeNet.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as nodeNet.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

const CPS_CLIENT = `
import socket, sys, time
host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
req = b"q" * 64
n = 0
t0 = time.monotonic()
end = t0 + secs
while time.monotonic() < end:
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(req)
    got = 0
    while got < 64:
        d = s.recv(64 - got)
        if not d: raise SystemExit("short response")
        got += len(d)
    s.close()
    n += 1
print(n / (time.monotonic() - t0))
`;

const HOLD_CLIENT = `
import socket, sys, resource, time
host, port, n1, n2, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
resource.setrlimit(resource.RLIMIT_NOFILE, (n2 + 64, n2 + 64))
socks = []
def hold(n, label):
    fresh = [socket.create_connection((host, port), timeout=10) for i in range(n)]
    for s in fresh:
        s.sendall(b"x")
    for s in fresh:
        if s.recv(1) != b"y": raise SystemExit("no reply")
    socks.extend(fresh)
    print(label, flush=True)
hold(n1, "held1")
time.sleep(pause)
hold(n2 - n1, "held2")
time.sleep(120)
`;

/** One gateway attached to a fresh namespace. */
interface Attached {
  pid: number;
  /** The address the guest reaches the host's 127.0.0.1 by. */
  hostAddr: string;
  stop(): Promise<void>;
}

let seq = 0;

/** The uncounted run before each iperf3 probe (a transfer in the same direction), in seconds (every gateway alike). */
const WARMUP_SECONDS = 1;

/**
 * The uncounted run before the connections/s probe, in seconds (every
 * gateway alike). Under this load a synack gateway's V8 optimized 212,
 * 74, 42 and 16 functions in its first four seconds and 0–10 a second
 * after (--trace-opt); after a 1 s run its compiler threads still took
 * ~30 µs of CPU per connection in the counted run, on a 2-CPU machine
 * where the guest's client and the host's server need the other CPU —
 * after 5 s, 4–6 µs (+6 to +9 % connections/s in 3 alternating pairs).
 * pasta's rate is the same after 2 s as after 13 s.
 */
const CPS_WARMUP_SECONDS = 5;

/** The guest namespace's ephemeral port range (see the connections/s probe above). */
const GUEST_EPHEMERAL_PORTS = '1024 65535';

/** How long an RSS plateau is left idle before VmRSS is read (synack gateway trims its memory once quiet, gateway/heap.ts). */
const RSS_SETTLE_MS = 1500;

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
async function stopProc(p: { kill(sig: NodeJS.Signals): void; exited: Promise<unknown> }, graceMs: number): Promise<void> {
  p.kill('SIGTERM');
  await Promise.race([p.exited, sleep(graceMs)]);
  p.kill('SIGKILL');
}

async function attach(name: GatewayName, nsName: string, mtu: number, opts: GatewayBenchOptions): Promise<Attached> {
  const path = `/run/netns/${nsName}`;
  if (name === 'synack' || name === 'synack-base') {
    const node = [process.execPath];
    if (opts.profDir) node.push('--cpu-prof', '--cpu-prof-dir', opts.profDir);
    const main = name === 'synack' ? 'src/cli/main.ts' : join(opts.baseRoot ?? ROOT, 'src/cli/main.ts');
    const p = hostSpawn([...node, '--import', 'tsx', main, 'gateway', '--netns', path, '--mtu', String(mtu), ...(opts.synackArgs ?? [])], 600_000);
    await p.waitFor(/ready on tap0/, 30_000);
    return {
      pid: p.child.pid!,
      hostAddr: '10.0.2.2',
      // SIGTERM: a clean stop (the CPU profile is written at exit).
      stop: () => stopProc(p, 10_000),
    };
  }
  if (name === 'slirp4netns') {
    // --ready-fd=3: slirp4netns writes "1" there once the namespace is configured.
    const p = hostSpawn(['slirp4netns', '--configure', `--mtu=${mtu}`, '--netns-type=path', '--ready-fd=3', path, 'tap0'], 600_000, 1);
    await p.waitFor(/1/, 30_000);
    return {
      pid: p.child.pid!,
      hostAddr: '10.0.2.2',
      stop: () => stopProc(p, 5_000),
    };
  }
  // pasta: as root it would switch to nobody and could not join the
  // namespace (--runas 0); no port forwarding either way (it would bind ports
  // on the host); IPv4 only; foreground (-f) so its PID is the one spawned.
  const p = hostSpawn(['pasta', '--runas', '0', '--config-net', '-f', '-q', '-4', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '-I', 'tap0', '--netns', path], 600_000);
  const gw = hostDefaultGateway();
  for (let i = 0; ; i++) {
    const r = spawnSync('ip', ['netns', 'exec', nsName, 'ip', '-4', 'route', 'show', 'default'], { encoding: 'utf8' });
    if (r.stdout.includes(`via ${gw} dev tap0`)) break;
    if (i > 200 || p.child.exitCode !== null) throw new Error(`pasta did not configure the namespace: ${p.err()}`);
    await sleep(50);
  }
  sh(['ip', 'netns', 'exec', nsName, 'ip', 'link', 'set', 'tap0', 'mtu', String(mtu)]);
  return {
    pid: p.child.pid!,
    hostAddr: gw,
    stop: () => stopProc(p, 5_000),
  };
}

/** A node:net server on 127.0.0.1: answers each 64-octet request with 64 octets; `hold` mode answers "x" with "y" and keeps the connection. */
async function hostServer(): Promise<{ port: number; sockets: Set<nodeNet.Socket>; close(): void }> {
  const sockets = new Set<nodeNet.Socket>();
  const resp = Buffer.alloc(64, 'r');
  const srv = nodeNet.createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => {});
    let got = 0;
    s.on('data', (d: Buffer) => {
      if (d.length === 1 && d[0] === 0x78 && got === 0) {
        s.write('y');
        return;
      }
      got += d.length;
      if (got >= 64) {
        got -= 64;
        s.write(resp);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', 1024, r));
  return {
    port: (srv.address() as nodeNet.AddressInfo).port,
    sockets,
    close() {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

async function nsRun(nsName: string, argv: string[], timeoutMs: number): Promise<{ code: number | string; out: string; err: string }> {
  const p = hostSpawn(['ip', 'netns', 'exec', nsName, ...argv], timeoutMs);
  const code = await p.exited;
  return { code, out: p.out(), err: p.err() };
}

async function iperf(nsName: string, addr: string, port: number, seconds: number, reverse: boolean): Promise<{ gbps: number; bytes: number }> {
  const r = await nsRun(nsName, ['iperf3', '-c', addr, '-p', String(port), '-t', String(seconds), '-J', '--connect-timeout', '5000', ...(reverse ? ['-R'] : [])], (seconds + 20) * 1000);
  if (r.code !== 0) throw new Error(`iperf3${reverse ? ' -R' : ''} exited ${r.code}: ${r.out.slice(-300)} ${r.err.slice(-300)}`);
  const j = JSON.parse(r.out) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
  return { gbps: j.end.sum_received.bits_per_second / 1e9, bytes: j.end.sum_received.bytes };
}

/** Runs the probes against each gateway: RSS per idle connection, connections/s, iperf3 up and down. */
export async function benchGateway(opts: GatewayBenchOptions = {}): Promise<GatewayBenchResult> {
  const progress = opts.progress ?? (() => {});
  const seconds = opts.seconds ?? 3;
  const reps = opts.reps ?? 3;
  const mtus = opts.mtus ?? [1500, 65520];
  const gateways = opts.gateways ?? [...GATEWAYS];
  const idleConns = opts.idleConns ?? [250, 1250];
  const probes = new Set<Probe>(opts.probes ?? ['rss', 'cps', 'up', 'down']);
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error('needs root on Linux (network namespaces)');
  const installed = ensureTools(gateways, progress);
  if (gateways.includes('synack-base') && !opts.baseRoot) throw new Error("'synack-base' needs baseRoot");
  const res: GatewayBenchResult = { figures: {}, failures: [], installed, hostAddr: {} };
  const add = (g: string, mtu: number, probe: Probe, v: number): void => {
    const byMtu = (res.figures[g] ??= {});
    const f = (byMtu[mtu] ??= { up: [], down: [], upCpu: [], downCpu: [], cps: [], rss: [] });
    f[probe].push(v);
  };
  const server = await hostServer();
  const iperfPort = await freePort();
  const iperfd = hostSpawn(['iperf3', '-s', '--forceflush', '-B', '127.0.0.1', '-p', String(iperfPort)], 3_600_000);
  const namespaces = new Set<string>();
  const delNs = (n: string): void => {
    spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    namespaces.delete(n);
  };
  const onExit = (): void => {
    iperfd.kill();
    for (const n of [...namespaces]) delNs(n);
  };
  process.once('exit', onExit);
  try {
    await iperfd.waitFor(/Server listening/, 15_000);
    for (let r = 0; r < reps; r++) {
      for (const mtu of mtus) {
        for (const g of gateways) {
          const nsName = `gw-bench-${g.slice(0, 5)}-${process.pid}-${seq++}`;
          progress(`gateway ${g}, MTU ${mtu}, repetition ${r + 1}/${reps}`);
          delNs(nsName);
          sh(['ip', 'netns', 'add', nsName]);
          namespaces.add(nsName);
          sh(['ip', 'netns', 'exec', nsName, 'sysctl', '-qw', `net.ipv4.ip_local_port_range=${GUEST_EPHEMERAL_PORTS}`]);
          let a: Attached | null = null;
          try {
            a = await attach(g, nsName, mtu, opts);
            res.hostAddr[g] = a.hostAddr;
            // RSS per forwarded connection, first (before bulk transfers grow the heap).
            if (probes.has('rss')) {
              // The slope between two idle plateaus: one-time costs of the
              // first connections (code compiled, buffers first touched)
              // fall in the first plateau, for every gateway alike.
              const [n1, n2] = idleConns;
              const hold = hostSpawn(['ip', 'netns', 'exec', nsName, 'python3', '-c', HOLD_CLIENT, a.hostAddr, String(server.port), String(n1), String(n2), String((RSS_SETTLE_MS + 500) / 1000)], 120_000);
              try {
                await hold.waitFor(/held1/, 60_000);
                await sleep(RSS_SETTLE_MS);
                const r1 = vmRssKiB(a.pid);
                await hold.waitFor(/held2/, 60_000);
                await sleep(RSS_SETTLE_MS);
                add(g, mtu, 'rss', ((vmRssKiB(a.pid) - r1) * 1024) / (n2 - n1));
              } catch (e) {
                add(g, mtu, 'rss', NaN);
                res.failures.push(`${g} MTU ${mtu} rss: ${(e as Error).message.slice(0, 200)}`);
              } finally {
                hold.kill();
                await hold.exited;
              }
              await sleep(300);
            }
            if (probes.has('cps')) {
              if (CPS_WARMUP_SECONDS > 0) await nsRun(nsName, ['python3', '-c', CPS_CLIENT, a.hostAddr, String(server.port), String(CPS_WARMUP_SECONDS)], (CPS_WARMUP_SECONDS + 30) * 1000);
              const c = await nsRun(nsName, ['python3', '-c', CPS_CLIENT, a.hostAddr, String(server.port), String(seconds)], (seconds + 30) * 1000);
              if (c.code === 0) add(g, mtu, 'cps', Number(c.out.trim()));
              else {
                add(g, mtu, 'cps', NaN);
                res.failures.push(`${g} MTU ${mtu} cps: exit ${c.code} ${c.err.slice(-200)}`);
              }
            }
            for (const reverse of [false, true]) {
              if (!probes.has(reverse ? 'down' : 'up')) continue;
              try {
                // A transfer in the same direction first, not counted (as
                // iperf3's --omit, but with the CPU window aligned to the
                // bytes counted): the figures are the steady state — TCP's
                // slow start, and synack's JIT compiling that direction's
                // code, out of them — for every gateway alike.
                if (WARMUP_SECONDS > 0) await iperf(nsName, a.hostAddr, iperfPort, WARMUP_SECONDS, reverse).catch(() => undefined);
                const cpu0 = cpuSeconds(a.pid);
                const t = await iperf(nsName, a.hostAddr, iperfPort, seconds, reverse);
                add(g, mtu, reverse ? 'down' : 'up', t.gbps);
                add(g, mtu, reverse ? 'downCpu' : 'upCpu', (cpuSeconds(a.pid) - cpu0) / (t.bytes / 1e9));
              } catch (e) {
                add(g, mtu, reverse ? 'down' : 'up', NaN);
                add(g, mtu, reverse ? 'downCpu' : 'upCpu', NaN);
                res.failures.push(`${g} MTU ${mtu} ${reverse ? 'down' : 'up'}: ${(e as Error).message.slice(0, 300)}`);
                // A stalled iperf3 test can keep the server busy: give it a moment.
                await sleep(1000);
              }
            }
          } catch (e) {
            res.failures.push(`${g} MTU ${mtu}: ${(e as Error).message.slice(0, 300)}`);
          } finally {
            await a?.stop();
            delNs(nsName);
          }
        }
      }
    }
  } finally {
    server.close();
    iperfd.kill();
    await iperfd.exited;
    for (const n of [...namespaces]) delNs(n);
    process.off('exit', onExit);
  }
  return res;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    options: { seconds: { type: 'string' }, reps: { type: 'string' }, mtu: { type: 'string' }, only: { type: 'string' }, prof: { type: 'string' }, base: { type: 'string' }, probes: { type: 'string' }, 'synack-arg': { type: 'string', multiple: true } },
  });
  const r = await benchGateway({
    ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
    ...(values.reps ? { reps: Number(values.reps) } : {}),
    ...(values.mtu ? { mtus: values.mtu.split(',').map(Number) } : {}),
    ...(values.only ? { gateways: values.only.split(',') as GatewayName[] } : {}),
    ...(values.prof ? { profDir: resolve(values.prof) } : {}),
    ...(values.probes ? { probes: values.probes.split(',') as Probe[] } : {}),
    ...(values.base ? { baseRoot: resolve(values.base) } : {}),
    ...(values['synack-arg'] ? { synackArgs: values['synack-arg'] } : {}),
    progress: (m) => process.stderr.write(`  … ${m}\n`),
  });
  console.log(JSON.stringify(r));
}
