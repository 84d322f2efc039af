/**
 * TUN throughput and connection rate, each beside Linux → Linux over a veth
 * pair between two namespaces, measured in the same run (for `npm run
 * bench`; also runnable alone, as root: `npx tsx test/interop/throughput.ts`).
 *
 * For each MTU: one connection kernel → synack discard, one connection
 * synack chargen → kernel, and sequential connections per second kernel →
 * synack echo; the same three against kernel servers across the veth pair.
 * Every probe is bounded in time (`seconds` each). Traffic stays inside the
 * namespaces made here, which are deleted at the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Netns, ROOT, ready, missingPrerequisite } from './helpers.ts';

const TPUT = join(ROOT, 'test/interop/tput.py');

export interface TunBenchRow {
  mtu: number;
  /** TUN offloads (IFF_VNET_HDR, checksum, TSO) on, or --no-offload. */
  offload: boolean;
  what: 'kernel → synack discard' | 'synack chargen → kernel' | 'kernel → synack echo, connections/s';
  unit: 'Gbit/s' | 'conn/s';
  synack: number;
  kernel: number;
  /** synack / kernel-over-veth */
  ratio: number;
}

function run(argv: string[], timeoutMs: number): Record<string, number> {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, number>;
}

/** Two namespaces joined by a veth pair (10.214.1.1 ↔ 10.214.1.2), MTU `mtu`. */
function vethPair(mtu: number): { a: string; b: string; server: (kind: string, port: number) => () => void; cleanup: () => void } {
  const a = `synack-vetha-${process.pid}`;
  const b = `synack-vethb-${process.pid}`;
  const sh = (argv: string[]): void => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  const cleanup = (): void => {
    spawnSync('ip', ['netns', 'del', a], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', b], { stdio: 'ignore' });
  };
  cleanup();
  sh(['ip', 'netns', 'add', a]);
  sh(['ip', 'netns', 'add', b]);
  sh(['ip', 'netns', 'exec', a, 'ip', 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', b]);
  for (const [ns, dev, addr] of [
    [a, 'veth0', '10.214.1.1/24'],
    [b, 'veth1', '10.214.1.2/24'],
  ] as const) {
    sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', dev, 'mtu', String(mtu)]);
    sh(['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', addr, 'dev', dev]);
    sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', dev, 'up']);
    sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  }
  const server = (kind: string, port: number): (() => void) => {
    const child = spawn('ip', ['netns', 'exec', b, 'python3', TPUT, 'server', String(port), kind], { stdio: ['ignore', 'pipe', 'ignore'] });
    // Wait for its listening line (synchronously enough: poll ss).
    for (let i = 0; i < 100; i++) {
      const r = spawnSync('ip', ['netns', 'exec', b, 'ss', '-Hltn', `sport = :${port}`], { encoding: 'utf8' });
      if (r.stdout.includes(`:${port}`)) break;
      spawnSync('sleep', ['0.05']);
    }
    return () => {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    };
  };
  return { a, b, server, cleanup };
}

export async function benchTun(opts: { mtus?: number[]; offloads?: boolean[]; seconds?: number; windowBytes?: number; log?: (s: string) => void } = {}): Promise<TunBenchRow[]> {
  const why = missingPrerequisite();
  if (why) throw new Error(`TUN benchmark needs: ${why}`);
  const mtus = opts.mtus ?? [1500, 65520];
  const secs = opts.seconds ?? 3;
  const window = opts.windowBytes ?? 4 << 20;
  const log = opts.log ?? (() => {});
  const offloads = opts.offloads ?? [true, false];
  const rows: TunBenchRow[] = [];
  for (const mtu of mtus) {
    // synack over TUN, with offloads on and off
    const tuns = new Map<boolean, Record<string, number>[]>();
    for (const offload of offloads) {
      const ns = new Netns({ tag: `bench${mtu}${offload ? 'o' : 'p'}`, subnet: 8, mtu });
      let tun: Record<string, number>[] = [];
      try {
        ns.setup();
        const serve = ns.synack('serve', ['--discard', '9', '--chargen', '19', '--echo', '7', '--window', String(window), ...(offload ? [] : ['--no-offload'])], { timeoutMs: (secs * 3 + 30) * 1000 });
        await ready(serve);
        const S = ns.synackAddr;
        const tmo = (secs + 20) * 1000;
        // Warm up (JIT) before measuring.
        run(['ip', 'netns', 'exec', ns.name, 'python3', TPUT, 'send', S, '9', '1'], tmo);
        tun = [
          run(['ip', 'netns', 'exec', ns.name, 'python3', TPUT, 'send', S, '9', String(secs)], tmo),
          run(['ip', 'netns', 'exec', ns.name, 'python3', TPUT, 'recv', S, '19', String(secs)], tmo),
          run(['ip', 'netns', 'exec', ns.name, 'python3', TPUT, 'cps', S, '7', String(secs)], tmo),
        ];
        serve.kill('SIGTERM');
        await serve.exited;
      } finally {
        await ns.cleanup();
      }
      tuns.set(offload, tun);
    }
    // kernel ↔ kernel over veth
    const v = vethPair(mtu);
    let kern: Record<string, number>[] = [];
    try {
      const stops = [v.server('discard', 9), v.server('chargen', 19), v.server('echo', 7)];
      const tmo = (secs + 20) * 1000;
      const K = '10.214.1.2';
      kern = [
        run(['ip', 'netns', 'exec', v.a, 'python3', TPUT, 'send', K, '9', String(secs)], tmo),
        run(['ip', 'netns', 'exec', v.a, 'python3', TPUT, 'recv', K, '19', String(secs)], tmo),
        run(['ip', 'netns', 'exec', v.a, 'python3', TPUT, 'cps', K, '7', String(secs)], tmo),
      ];
      for (const s of stops) s();
    } finally {
      v.cleanup();
    }
    const g = (r: Record<string, number>): number => r['bps']! / 1e9;
    for (const [offload, tun] of tuns) {
      const add = (what: TunBenchRow['what'], unit: TunBenchRow['unit'], s: number, k: number): void => {
        rows.push({ mtu, offload, what, unit, synack: s, kernel: k, ratio: k > 0 ? s / k : 0 });
        log(`MTU ${mtu} offloads ${offload ? 'on ' : 'off'}  ${what.padEnd(38)} synack ${s.toFixed(unit === 'Gbit/s' ? 2 : 0)} ${unit}  kernel/veth ${k.toFixed(unit === 'Gbit/s' ? 2 : 0)} ${unit}  ratio ${(k > 0 ? s / k : 0).toFixed(2)}`);
      };
      add('kernel → synack discard', 'Gbit/s', g(tun[0]!), g(kern[0]!));
      add('synack chargen → kernel', 'Gbit/s', g(tun[1]!), g(kern[1]!));
      add('kernel → synack echo, connections/s', 'conn/s', tun[2]!['per_second']!, kern[2]!['per_second']!);
    }
  }
  return rows;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const seconds = Number(process.env['SECONDS_PER_PROBE'] ?? 3);
  await benchTun({ seconds, log: (s) => console.log(s) });
}
