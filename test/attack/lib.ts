/**
 * Shared pieces of the attack tests (test/attack/*.test.ts) and the SYN-flood
 * benchmark (bench/attack.ts): prerequisites, an hping3 SYN flood with
 * spoofed sources inside the test's own subnet, synack's counters (`synack
 * serve --stats`, SIGUSR2) and a process's RSS.
 *
 * Everything runs inside a network namespace the caller created; processes
 * are started and ended by PID (through Netns) and every flood is bounded in
 * time.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, missingPrerequisite, type Netns, type Proc } from '../interop/helpers.ts';
import { inCi } from '../support/ci.ts';

export const ATTACK_PEER = join(ROOT, 'test/attack/peer.py');
export const INJECT = join(ROOT, 'test/attack/inject.py');

/**
 * A python3 that can import scapy: Debian's python3-scapy installs it for
 * /usr/bin/python3, which may not be the `python3` first on PATH (pyenv).
 */
export function scapyPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import scapy.all'], { stdio: 'ignore', timeout: 30_000 });
    if (r.status === 0) return py;
  }
  return null;
}

/** The describe() `skip` option: a reason outside CI; in CI (any non-empty CI) a missing prerequisite throws. */
export function attackSkip(tools: string[], opts: { scapy?: boolean } = {}): string | false {
  let why = missingPrerequisite(tools);
  if (why === null && opts.scapy && scapyPython() === null) why = 'scapy is not installed (Debian: python3-scapy)';
  if (why === null) return false;
  if (inCi()) throw new Error(`attack tests must run in CI, but: ${why}`);
  return `attack tests skipped: ${why}`;
}

export interface FloodResult {
  /** SYNs hping3 reports it sent. */
  sent: number;
  seconds: number;
  /** sent / seconds */
  rate: number;
}

export interface Flood {
  procs: Proc[];
  /** Ends the flood now (SIGINT, so hping3 prints its count). */
  stop(): void;
  done: Promise<FloodResult>;
}

/**
 * A SYN flood at roughly `rate` SYN/s for `seconds` (then SIGINT; bounded
 * also by a SIGKILL 10 s later and by hping3's -c) against `dst:port`, from
 * spoofed sources `sourcePrefix`.`firstSource`… in the test's own /24 that
 * nobody owns (so synack's SYN,ACKs go nowhere and
 * its half-open entries never complete — the worst case for the backlog).
 * Each hping3 process spoofs one address and increments its source port per
 * SYN; the rate is split over ⌈rate / 5000⌉ processes (or `procs`) with
 * interval `-i uN` (or `intervalUs`); `rate: Infinity` runs two (or `procs`)
 * hping3 --flood, as fast as they go.
 * The achieved rate is what hping3 counts; the CPU may hold it below `rate`.
 */
export function synFlood(
  ns: Netns,
  opts: { dst: string; port: number; rate: number; seconds: number; sourcePrefix: string; firstSource?: number; procs?: number; intervalUs?: number },
): Flood {
  const n = opts.procs ?? (Number.isFinite(opts.rate) ? Math.max(1, Math.ceil(opts.rate / 5000)) : 2);
  // hping3 spends ~50-100 µs per packet besides its usleep (more when the CPUs are busy).
  const intervalUs = opts.intervalUs ?? Math.max(1, Math.round((1e6 * n) / opts.rate) - 100);
  const first = opts.firstSource ?? 100;
  // rate Infinity: as fast as hping3 can (--flood).
  const rateArgs = Number.isFinite(opts.rate) ? ['-i', `u${intervalUs}`] : ['--flood'];
  const t0 = Date.now();
  // hping3 is started directly (ip netns exec execs it, so the PID is
  // hping3's): SIGINT after `seconds` ends it with its count printed; the
  // Netns limit SIGKILLs it 10 s later at the latest, and -c bounds it too.
  const perProc = Number.isFinite(opts.rate) ? opts.rate / n : 200_000;
  const count = Math.ceil(perProc * opts.seconds * 2) + 1000;
  const procs = Array.from({ length: n }, (_, i) =>
    ns.spawn(['hping3', '-q', '-S', '-p', String(opts.port), '-a', `${opts.sourcePrefix}.${first + i}`, ...rateArgs, '-c', String(count), opts.dst], {
      timeoutMs: (opts.seconds + 10) * 1000,
    }),
  );
  const stop = (): void => {
    for (const p of procs) p.kill('SIGINT');
  };
  const timer = setTimeout(stop, opts.seconds * 1000);
  const done = Promise.all(procs.map((p) => p.exited)).then(() => {
    clearTimeout(timer);
    const seconds = (Date.now() - t0) / 1000;
    const sent = procs.map((p) => Number(/(\d+) packets transmitted/.exec(p.stderr() + p.stdout())?.[1] ?? 0)).reduce((a, b) => a + b, 0);
    return { sent, seconds, rate: sent / seconds };
  });
  return { procs, done, stop };
}

export type Stats = Record<string, number> & { drops: Record<string, number> };

/** Asks `synack serve --stats` for its counters (SIGUSR2) and waits for the new line. */
export async function readStats(serve: Proc, timeoutMs = 10_000): Promise<Stats> {
  const count = (): number => serve.stdout().split('\nstats ').length;
  const before = count();
  process.kill(serve.pid, 'SIGUSR2');
  const t0 = Date.now();
  while (count() === before) {
    if (Date.now() - t0 > timeoutMs) {
      // Whether the process was still running (a SIGUSR2 before the handler existed would have killed it).
      const c = serve.child;
      const state = c.exitCode !== null || c.signalCode !== null ? `exited (${c.exitCode ?? c.signalCode})` : 'still running';
      throw new Error(`no stats line from synack serve (${state}):\n${serve.stdout().slice(-1000)}\n${serve.stderr().slice(-1000)}`);
    }
    await sleep(20);
  }
  const lines = serve.stdout().split('\n').filter((l) => l.startsWith('stats '));
  return JSON.parse(lines[lines.length - 1]!.slice('stats '.length)) as Stats;
}

/** Resident set size of a process in KiB (VmRSS), or null if it is gone. */
export function rssKiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Starts a kernel-side client of test/attack/peer.py and parses its last JSON line. */
export async function attackPeer(ns: Netns, args: string[], timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const p = ns.spawn(['python3', ATTACK_PEER, ...args], { timeoutMs });
  const code = await p.exited;
  const lines = p.stdout().trim().split('\n');
  if (code !== 0) throw new Error(`attack peer.py ${args.join(' ')} exited ${code}: ${p.stderr().slice(-2000)}`);
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}
