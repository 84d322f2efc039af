/**
 * Interop test helpers: a network namespace of the test's own, holding a TUN
 * device whose kernel side is .1/24 of a private /24 and whose synack side
 * (.2) is a `synack` CLI process running inside the namespace; kernel-side
 * peers (test/interop/peer.py, curl, ping, tshark) run there too. Traffic
 * never leaves the namespace.
 *
 * Every process is started by PID with a time limit and killed by PID in
 * `cleanup()`, which also deletes the namespace (call it from `after`).
 *
 * Outside CI the tests skip (with the reason) when not root, without
 * /dev/net/tun, `ip`, python3 or the addon; in CI (any non-empty CI, test/support/ci.ts) they must run, so
 * the same conditions fail instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tunAvailable } from '../../src/links/tun.ts';
import { inCi } from '../support/ci.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PEER = join(ROOT, 'test/interop/peer.py');
const MAIN = join(ROOT, 'src/cli/main.ts');

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Why the interop tests cannot run here, or null. */
export function missingPrerequisite(tools: string[] = []): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (network namespaces and TUN devices need root)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  for (const t of ['ip', 'python3', ...tools]) if (!have(t)) return `${t} is not installed`;
  if (!tunAvailable()) return 'the TUN addon (synack-tun, the workspace native/) is not built: npm run build:native';
  return null;
}

/**
 * The `skip` option for describe(): a reason outside CI, false otherwise.
 * In CI a missing prerequisite throws, so the suite fails rather
 * than skipping.
 */
export function skipUnlessReady(tools: string[] = []): string | false {
  const why = missingPrerequisite(tools);
  if (why === null) return false;
  if (inCi()) {
    throw new Error(`interop tests must run in CI, but: ${why}`);
  }
  return `interop tests skipped: ${why}`;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** Resolves when stdout+stderr match `re` (rejects after timeoutMs or on exit). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(sig?: NodeJS.Signals): void;
  /** Writes to stdin and ends it. */
  input(data: Uint8Array | string | null): void;
}

export interface NetnsOptions {
  /** A short tag for the namespace name. */
  tag: string;
  /** The namespace's whole name instead of synack-TAG-PID (e.g. one prefixed by its test's owner). */
  name?: string;
  /** Third octet of 10.213.X.0/24 (any: each namespace is separate). */
  subnet?: number;
  mtu?: number;
  /**
   * Dual stack: tun0 also gets fd13:X::1/64 on the kernel's side (nodad)
   * and synack fd13:X::2/64 (a second --addr). The kernel's side of tun0
   * sends no router solicitations (router_solicitations=0, accept_ra=0) and
   * makes no link-local address (addr_gen_mode=1): on this point-to-point
   * link they would only reach synack as drops.
   */
  ipv6?: boolean;
  /**
   * The namespace's kernel forwards IPv6 (net.ipv6.conf.all.forwarding=1)
   * while its interfaces, tun0 first, are hosts (default.forwarding=0,
   * before tun0 exists): a forwarding interface joins the all-routers
   * groups, and the MLD reports for them (from ::, tun0 has no link-local
   * address) would reach synack as drops — now and then, as their
   * retransmission races synack's attaching to the device.
   */
  router6?: boolean;
  /**
   * A TAP device (Ethernet frames, issue 13) named tap0 instead of tun0;
   * `synack()` passes --tap. With `ipv6`, synack gets fd13:X::2/64 but the
   * kernel's side no static IPv6 address and keeps its IPv6 defaults (a
   * link-local address, router solicitations, SLAAC from advertisements).
   */
  tap?: boolean;
  /**
   * Only the namespace: no device, lo left down (`synack gateway --netns`
   * makes and configures its TAP device and brings lo up itself).
   */
  bare?: boolean;
}

export class Netns {
  readonly name: string;
  readonly kernelAddr: string;
  readonly synackAddr: string;
  /** The kernel's and synack's IPv6 addresses (with `ipv6: true`), else null. */
  readonly kernelAddr6: string | null;
  readonly synackAddr6: string | null;
  readonly mtu: number;
  /** The device: tun0, or tap0 with `tap: true`. */
  readonly dev: string;
  readonly tap: boolean;
  private procs: Proc[] = [];
  private created = false;
  private readonly router6: boolean;
  private readonly bare: boolean;

  constructor(opts: NetnsOptions) {
    this.name = opts.name ?? `synack-${opts.tag}-${process.pid}`;
    const x = opts.subnet ?? 1;
    this.kernelAddr = `10.213.${x}.1`;
    this.synackAddr = `10.213.${x}.2`;
    this.tap = opts.tap === true;
    this.dev = this.tap ? 'tap0' : 'tun0';
    this.kernelAddr6 = opts.ipv6 && !this.tap ? `fd13:${x.toString(16)}::1` : null;
    this.synackAddr6 = opts.ipv6 ? `fd13:${x.toString(16)}::2` : null;
    this.mtu = opts.mtu ?? 1500;
    this.router6 = opts.router6 === true;
    this.bare = opts.bare === true;
  }

  /** The namespace's path (/run/netns/NAME, as `ip netns add` makes it). */
  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /** ip netns add; tun0 inside with the kernel's address; lo up. */
  setup(): void {
    spawnSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    this.sh(['ip', 'netns', 'add', this.name], false);
    this.created = true;
    // Fallback cleanup if the test process dies before `after` runs.
    process.once('exit', () => this.cleanupSync());
    if (this.bare) return;
    this.exec(['ip', 'link', 'set', 'lo', 'up']);
    if (this.router6) this.exec(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1', 'net.ipv6.conf.default.forwarding=0']);
    this.exec(['ip', 'tuntap', 'add', 'dev', this.dev, 'mode', this.tap ? 'tap' : 'tun']);
    this.exec(['ip', 'link', 'set', this.dev, 'mtu', String(this.mtu)]);
    this.exec(['ip', 'addr', 'add', `${this.kernelAddr}/24`, 'dev', this.dev]);
    if (this.kernelAddr6) {
      this.exec(['sysctl', '-qw', 'net.ipv6.conf.tun0.accept_ra=0', 'net.ipv6.conf.tun0.router_solicitations=0', 'net.ipv6.conf.tun0.addr_gen_mode=1']);
      // nodad: usable at once, not "tentative" for a second of Duplicate Address Detection (RFC 4862 §5.4).
      this.exec(['ip', '-6', 'addr', 'add', `${this.kernelAddr6}/64`, 'dev', 'tun0', 'nodad']);
    }
    this.exec(['ip', 'link', 'set', this.dev, 'up']);
  }

  private sh(argv: string[], inNs = true, timeoutMs = 20_000): string {
    const full = inNs ? ['ip', 'netns', 'exec', this.name, ...argv] : argv;
    const r = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8', timeout: timeoutMs });
    if (r.status !== 0) throw new Error(`${full.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
    return r.stdout;
  }

  /** Runs a command inside the namespace synchronously; returns stdout (throws on failure). */
  exec(argv: string[], timeoutMs = 20_000): string {
    return this.sh(argv, true, timeoutMs);
  }

  /** Starts a process inside the namespace. It is killed after `timeoutMs` and in cleanup(). */
  spawn(argv: string[], opts: { timeoutMs?: number; stdin?: boolean } = {}): Proc {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], {
      cwd: ROOT,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('latin1');
    child.stderr!.setEncoding('utf8');
    const waiters: Array<() => void> = [];
    const poke = (): void => {
      for (const w of waiters.splice(0)) w();
    };
    child.stdout!.on('data', (d: string) => {
      out += d;
      poke();
    });
    child.stderr!.on('data', (d: string) => {
      err += d;
      poke();
    });
    const limit = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    limit.unref();
    let done = false;
    const exited = new Promise<number | string>((resolve) => {
      child.once('close', (code, sig) => {
        done = true;
        clearTimeout(limit);
        poke();
        resolve(code ?? sig ?? 'unknown');
      });
    });
    const p: Proc = {
      child,
      pid: child.pid!,
      stdout: () => out,
      stderr: () => err,
      exited,
      waitFor(re, timeoutMs = 15_000) {
        return new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${out.slice(-2000)}\n--- stderr:\n${err.slice(-2000)}`)), timeoutMs);
          const check = (): void => {
            const m = (out + '\n' + err).match(re);
            if (m) {
              clearTimeout(t);
              resolve(m);
            } else if (done) {
              clearTimeout(t);
              reject(new Error(`process exited before ${re} appeared:\n${out.slice(-2000)}\n--- stderr:\n${err.slice(-2000)}`));
            } else {
              waiters.push(check);
            }
          };
          check();
        });
      },
      kill(sig = 'SIGTERM') {
        if (!done && child.pid) {
          try {
            process.kill(child.pid, sig);
          } catch {
            // already gone
          }
        }
      },
      input(data) {
        if (data !== null) child.stdin!.write(data);
        child.stdin!.end();
      },
    };
    this.procs.push(p);
    return p;
  }

  /** `synack CMD --tun tun0 (or --tap tap0) --addr .2/24 [--addr fd13:X::2/64] ARGS…` inside the namespace. */
  synack(cmd: string, args: string[], opts: { timeoutMs?: number; stdin?: boolean; mtu?: number } = {}): Proc {
    const v6 = this.synackAddr6 ? ['--addr', `${this.synackAddr6}/64`] : [];
    return this.spawn(
      [process.execPath, '--import', 'tsx', MAIN, cmd, this.tap ? '--tap' : '--tun', this.dev, '--addr', `${this.synackAddr}/24`, ...v6, '--mtu', String(opts.mtu ?? this.mtu), ...args],
      opts,
    );
  }

  /** Runs test/interop/peer.py inside the namespace and parses its last JSON line. */
  async peer(args: string[], timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const p = this.spawn(['python3', PEER, ...args], { timeoutMs });
    const code = await p.exited;
    const lines = p.stdout().trim().split('\n');
    if (code !== 0) throw new Error(`peer.py ${args.join(' ')} exited ${code}: ${p.stderr().slice(-2000)}`);
    return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
  }

  /** Starts a kernel-side peer.py server and waits until it listens. */
  async peerServer(args: string[], timeoutMs = 120_000): Promise<Proc> {
    const p = this.spawn(['python3', PEER, ...args], { timeoutMs });
    await p.waitFor(/"listening"/);
    return p;
  }

  /** Kills every process this namespace started (by PID) and deletes the namespace. */
  async cleanup(): Promise<void> {
    for (const p of this.procs) p.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 3000))])));
    this.cleanupSync();
  }

  private cleanupSync(): void {
    for (const p of this.procs) p.kill('SIGKILL');
    if (this.created) {
      spawnSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
      this.created = false;
    }
  }
}

/** Waits for a synack serve process to print its ready line. */
export async function ready(p: Proc): Promise<void> {
  await p.waitFor(/ready on /, 20_000);
}

export function mbits(bytes: number, seconds: number): string {
  return `${((bytes * 8) / seconds / 1e6).toFixed(0)} Mbit/s`;
}

/**
 * The counters of a `serve --stats`, asked for with SIGUSR2: waits (up to
 * 10 s) for a fresh "stats {…}" line and returns it parsed.
 */
export async function serveStats<T = Record<string, number> & { drops: Record<string, number> }>(p: Proc): Promise<T> {
  const count = (): number => (p.stdout().match(/^stats /gm) ?? []).length;
  const before = count();
  p.kill('SIGUSR2');
  const deadline = Date.now() + 10_000;
  while (count() === before) {
    if (Date.now() > deadline) throw new Error(`no stats line after SIGUSR2:\n${p.stdout().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const lines = p.stdout().match(/^stats (\{.*\})$/gm)!;
  return JSON.parse(lines[lines.length - 1]!.slice('stats '.length)) as T;
}
