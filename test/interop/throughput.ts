/**
 * TUN throughput and connection rate, each beside Linux → Linux over a veth
 * pair between two namespaces, measured in the same run (for `npm run
 * bench`; also runnable alone, as root: `npx tsx test/interop/throughput.ts`).
 *
 * For each MTU and each of IPv4 and IPv6 (issue 12: one dual-stack synack
 * serve, one dual-stack veth pair): one connection kernel → synack discard,
 * one connection synack chargen → kernel, and sequential connections per
 * second kernel → synack echo; the same three against kernel servers across
 * the veth pair. Each IPv6 row also carries synack's IPv4 figure of the
 * same probe, for the IPv6/IPv4 ratio. On TUN with offloads, also curl
 * downloading GET /bytes/N from `synack serve --http` (node:http over
 * synack sockets), beside synack chargen on the same link in the same run
 * (issue 14 item 3: ≥ 0.8× the chargen rate).
 * Every probe is bounded in time (`seconds` each). Traffic stays inside the
 * namespaces made here, which are deleted at the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Netns, ROOT, ready, missingPrerequisite } from './helpers.ts';

const TPUT = join(ROOT, 'test/interop/tput.py');

export interface TunBenchRow {
  /** The device synack is on: TUN (IP packets) or TAP (Ethernet frames, issue 13). */
  link: 'tun' | 'tap';
  mtu: number;
  family: 4 | 6;
  /** TUN offloads (IFF_VNET_HDR: checksum, TSO/GSO) on, or --no-offload. */
  offload: boolean;
  what: 'kernel → synack discard' | 'synack chargen → kernel' | 'kernel → synack echo, connections/s' | 'curl GET /bytes/N from synack serve --http';
  unit: 'Gbit/s' | 'conn/s';
  synack: number;
  kernel: number;
  /** synack / kernel-over-veth (the curl row: / synack chargen, which `kernel` then holds) */
  ratio: number;
  /** For an IPv6 row: synack's figure of the same probe over IPv4, same run. */
  synackV4?: number;
}

function run(argv: string[], timeoutMs: number): Record<string, number> {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, number>;
}

/** Two namespaces joined by a veth pair (10.214.1.1 ↔ 10.214.1.2, fd14:1::1 ↔ fd14:1::2), MTU `mtu`. */
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
  for (const [ns, dev, addr, addr6] of [
    [a, 'veth0', '10.214.1.1/24', 'fd14:1::1/64'],
    [b, 'veth1', '10.214.1.2/24', 'fd14:1::2/64'],
  ] as const) {
    sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', dev, 'mtu', String(mtu)]);
    sh(['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', addr, 'dev', dev]);
    sh(['ip', 'netns', 'exec', ns, 'ip', '-6', 'addr', 'add', addr6, 'dev', dev, 'nodad']);
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

/**
 * `link: 'tap'` (issue 13) measures synack on a TAP device instead (Ethernet
 * frames through its Ethernet interface; IPv4 only: the kernel's side has
 * no static IPv6 address there), beside the same veth reference.
 */
export async function benchTun(
  opts: { link?: 'tun' | 'tap'; mtus?: number[]; offloads?: boolean[]; seconds?: number; windowBytes?: number; log?: (s: string) => void } = {},
): Promise<TunBenchRow[]> {
  const link = opts.link ?? 'tun';
  const why = missingPrerequisite();
  if (why) throw new Error(`${link.toUpperCase()} benchmark needs: ${why}`);
  const mtus = opts.mtus ?? [1500, 65520];
  const secs = opts.seconds ?? 3;
  const window = opts.windowBytes ?? 4 << 20;
  const log = opts.log ?? (() => {});
  const offloads = opts.offloads ?? [true, false];
  const rows: TunBenchRow[] = [];
  for (const mtu of mtus) {
    // synack over TUN with offloads on (dual stack: the same serve answers
    // both families) and off (--no-offload, IPv4 only).
    const tuns = new Map<boolean, Record<4 | 6, Record<string, number>[]>>();
    // curl's download rate and synack chargen's, same serve, same run (TUN, offloads on, IPv4).
    let curlRun: { curl: number; chargen: number } | null = null;
    for (const offload of offloads) {
      const families: Array<4 | 6> = offload && link === 'tun' ? [4, 6] : [4];
      const ns = new Netns({ tag: `bench${link === 'tap' ? 'a' : ''}${mtu}${offload ? 'o' : 'p'}`, subnet: 8, mtu, ipv6: link === 'tun', tap: link === 'tap' });
      const tun: Record<4 | 6, Record<string, number>[]> = { 4: [], 6: [] };
      tuns.set(offload, tun);
      try {
        ns.setup();
        const withHttp = offload && link === 'tun';
        const serve = ns.synack('serve', ['--discard', '9', '--chargen', '19', '--echo', '7', ...(withHttp ? ['--http', '80'] : []), '--window', String(window), ...(offload ? [] : ['--no-offload'])], {
          timeoutMs: (secs * 9 + 60) * 1000,
        });
        await ready(serve);
        const tmo = (secs + 20) * 1000;
        const addr = { 4: ns.synackAddr, 6: ns.synackAddr6! };
        const probe = (family: 4 | 6, mode: string, port: string, seconds: number): Record<string, number> =>
          run(['ip', 'netns', 'exec', ns.name, 'python3', TPUT, mode, addr[family], port, String(seconds)], tmo);
        // Warm up (JIT) both families' paths before measuring; then each probe
        // runs IPv4 and IPv6 back to back, so neither family gets the warmer
        // (or the noisier) half of the run.
        for (const family of families) {
          probe(family, 'send', '9', 1);
          probe(family, 'cps', '7', 0.5);
        }
        for (const [mode, port] of [
          ['send', '9'],
          ['recv', '19'],
          ['cps', '7'],
        ] as const) {
          for (const family of families) tun[family].push(probe(family, mode, port, secs));
        }
        if (withHttp) {
          // As many bytes as chargen carried in `secs` (so both run about as
          // long), from a warmed-up server; curl's average speed.
          const chargenBps = tun[4][1]!['bps']!;
          const curl = (n: number): number => {
            const r = spawnSync('ip', ['netns', 'exec', ns.name, 'curl', '-s', '-o', '/dev/null', '--max-time', String(secs * 3 + 10), '-w', '%{size_download} %{speed_download}', `http://${ns.synackAddr}/bytes/${n}`], { encoding: 'utf8', timeout: (secs * 3 + 20) * 1000 });
            const [size, speed] = r.stdout.trim().split(' ').map(Number);
            if (r.status !== 0 || size !== n) throw new Error(`curl /bytes/${n}: exit ${r.status ?? r.signal}, ${size} bytes: ${r.stderr}`);
            return speed! * 8;
          };
          curl(Math.round(chargenBps / 8 / 3));
          curlRun = { curl: curl(Math.round((chargenBps / 8) * secs)), chargen: chargenBps };
        }
        serve.kill('SIGTERM');
        await serve.exited;
      } finally {
        await ns.cleanup();
      }
    }
    // kernel ↔ kernel over veth
    const v = vethPair(mtu);
    const kern: Record<4 | 6, Record<string, number>[]> = { 4: [], 6: [] };
    try {
      const stops = [v.server('discard', 9), v.server('chargen', 19), v.server('echo', 7)];
      const tmo = (secs + 20) * 1000;
      for (const [family, K] of [
        [4, '10.214.1.2'],
        [6, 'fd14:1::2'],
      ] as const) {
        kern[family] = [
          run(['ip', 'netns', 'exec', v.a, 'python3', TPUT, 'send', K, '9', String(secs)], tmo),
          run(['ip', 'netns', 'exec', v.a, 'python3', TPUT, 'recv', K, '19', String(secs)], tmo),
          run(['ip', 'netns', 'exec', v.a, 'python3', TPUT, 'cps', K, '7', String(secs)], tmo),
        ];
      }
      for (const s of stops) s();
    } finally {
      v.cleanup();
    }
    const g = (r: Record<string, number>): number => r['bps']! / 1e9;
    const c = (r: Record<string, number>): number => r['per_second']!;
    const probes: Array<[TunBenchRow['what'], TunBenchRow['unit'], (r: Record<string, number>) => number]> = [
      ['kernel → synack discard', 'Gbit/s', g],
      ['synack chargen → kernel', 'Gbit/s', g],
      ['kernel → synack echo, connections/s', 'conn/s', c],
    ];
    if (curlRun) {
      const row: TunBenchRow = { link, mtu, family: 4, offload: true, what: 'curl GET /bytes/N from synack serve --http', unit: 'Gbit/s', synack: curlRun.curl / 1e9, kernel: curlRun.chargen / 1e9, ratio: curlRun.curl / curlRun.chargen };
      rows.push(row);
      log(`${link.toUpperCase()} MTU ${mtu} IPv4 offloads on   ${row.what.padEnd(38)} curl ${row.synack.toFixed(2)} Gbit/s  synack chargen ${row.kernel.toFixed(2)} Gbit/s  ratio ${row.ratio.toFixed(2)}`);
    }
    for (const [offload, tun] of tuns) {
      probes.forEach(([what, unit, f], i) => {
        for (const family of [4, 6] as const) {
          if (tun[family].length === 0) continue;
          const s = f(tun[family][i]!);
          const k = f(kern[family][i]!);
          const row: TunBenchRow = { link, mtu, family, offload, what, unit, synack: s, kernel: k, ratio: k > 0 ? s / k : 0 };
          if (family === 6) row.synackV4 = f(tun[4][i]!);
          rows.push(row);
          const d = unit === 'Gbit/s' ? 2 : 0;
          const v6 = row.synackV4 !== undefined ? `  IPv6/IPv4 ${(row.synackV4 > 0 ? s / row.synackV4 : 0).toFixed(2)}` : '';
          log(`${link.toUpperCase()} MTU ${mtu} IPv${family} offloads ${offload ? 'on ' : 'off'}  ${what.padEnd(38)} synack ${s.toFixed(d)} ${unit}  kernel/veth ${k.toFixed(d)} ${unit}  ratio ${row.ratio.toFixed(2)}${v6}`);
        }
      });
    }
  }
  return rows;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const seconds = Number(process.env['SECONDS_PER_PROBE'] ?? 3);
  const link = process.env['LINK'] === 'tap' ? 'tap' : 'tun';
  await benchTun({ link, seconds, log: (s) => console.log(s) });
}
