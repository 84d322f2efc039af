/**
 * Super-segments (issue 14 items 2-3), A/B in one run (root; network
 * namespaces made here and deleted at the end): two `synack serve`
 * processes with TUN offloads on — one running BASE's src/ (a checkout of
 * the code before, e.g. `git archive main | tar -x -C /tmp/base`, with
 * native/ and node_modules/ linked to this checkout's), one this
 * checkout's — each probed in turn synack → kernel (chargen) and kernel →
 * synack (discard) for SECS seconds, REPS times, alternating so that both
 * see the same minutes of machine load. Prints medians of wall-clock
 * Gbit/s with their range, Gbit moved per CPU-second of the synack process
 * (user + system from /proc), and the after/before ratios.
 *
 *   BASE=/tmp/base MTU=1500 REPS=5 SECS=3 FAMILY=4 [DIRS=recv,send] npx tsx bench/tun-superseg-ab.ts
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, ROOT, ready, type Proc } from '../test/interop/helpers.ts';

const TPUT = join(ROOT, 'test/interop/tput.py');
const base = process.env.BASE;
if (!base) throw new Error('BASE: the checkout of the code before (see the comment at the top)');
const mtu = Number(process.env.MTU ?? 1500);
const reps = Number(process.env.REPS ?? 3);
const secs = Number(process.env.SECS ?? 2);
const family = Number(process.env.FAMILY ?? 4);
const cpu = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const sides = [
  { name: 'before', main: join(base, 'src/cli/main.ts') },
  { name: 'after', main: join(ROOT, 'src/cli/main.ts') },
];
const nss = sides.map((s, i) => new Netns({ tag: `ssab${s.name}`, subnet: 93 + i, mtu, ipv6: family === 6 }));
const serves: Proc[] = [];
const res: Record<string, { g: number[]; c: number[] }> = {};
try {
  for (const [i, ns] of nss.entries()) {
    ns.setup();
    const v6 = ns.synackAddr6 ? ['--addr', `${ns.synackAddr6}/64`] : [];
    const s = ns.spawn([process.execPath, '--import', 'tsx', sides[i]!.main, 'serve', '--tun', ns.dev, '--addr', `${ns.synackAddr}/24`, ...v6, '--mtu', String(mtu), '--discard', '9', '--chargen', '19', '--window', String(4 << 20)], { timeoutMs: 900_000 });
    await ready(s);
    serves.push(s);
  }
  for (let r = 0; r < reps; r++)
    for (const [i, ns] of nss.entries())
      for (const dir of (process.env.DIRS ?? 'recv,send').split(',')) {
        const port = dir === 'send' ? '9' : '19';
        const pid = serves[i]!.pid;
        const c0 = cpu(pid);
        const addr = family === 6 ? ns.synackAddr6! : ns.synackAddr;
        const out = spawnSync('ip', ['netns', 'exec', ns.name, 'python3', TPUT, dir, addr, port, String(secs)], { encoding: 'utf8', timeout: 120_000 });
        const c1 = cpu(pid);
        const j = JSON.parse(out.stdout.trim().split('\n').pop()!) as { bps: number; seconds: number };
        const k = `${dir === 'send' ? 'kernel→synack' : 'synack→kernel'} ${sides[i]!.name}`;
        (res[k] ??= { g: [], c: [] }).g.push(j.bps / 1e9);
        res[k].c.push((j.bps * j.seconds) / 1e9 / Math.max(0.01, c1 - c0));
      }
} finally {
  for (const s of serves) s.kill('SIGTERM');
  for (const ns of nss) await ns.cleanup();
}
const med = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const [k, v] of Object.entries(res)) console.log(`IPv${family} MTU ${mtu} ${k}: ${med(v.g).toFixed(2)} Gbit/s [${Math.min(...v.g).toFixed(2)}–${Math.max(...v.g).toFixed(2)}], ${med(v.c).toFixed(2)} Gbit per synack CPU-s (all: ${v.g.map((x) => x.toFixed(2)).join(' ')})`);
for (const dir of ['synack→kernel', 'kernel→synack']) {
  const b = res[`${dir} before`];
  const a = res[`${dir} after`];
  if (!a || !b) continue;
  console.log(`IPv${family} MTU ${mtu} ${dir}: after/before ${(med(a.g) / med(b.g)).toFixed(2)}× wall, ${(med(a.c) / med(b.c)).toFixed(2)}× per CPU-s`);
}
