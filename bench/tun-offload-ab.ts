/**
 * TUN offloads on beside off, interleaved in one run (root; network
 * namespaces made here and deleted at the end): two `synack serve`
 * processes, one with offloads and one with --no-offload, each probed in
 * turn kernel → synack (discard) and synack → kernel (chargen) for SECS
 * seconds, REPS times; prints medians of wall-clock Gbit/s with their range
 * and Gbit moved per CPU-second of the synack process (user + system from
 * /proc: steadier than wall time on a shared machine).
 *
 *   MTU=1500 REPS=3 SECS=2 npx tsx bench/tun-offload-ab.ts
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, ROOT, ready } from '../test/interop/helpers.ts';
const TPUT = join(ROOT, 'test/interop/tput.py');
const mtu = Number(process.env.MTU ?? 1500);
const reps = Number(process.env.REPS ?? 3);
const secs = Number(process.env.SECS ?? 2);
const cpu = (pid: number): number => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
const modes = [true, false];
const nss = modes.map((o, i) => new Netns({ tag: `tunoffab${o ? 'on' : 'off'}`, subnet: 90 + i, mtu }));
const serves = [];
for (const [i, ns] of nss.entries()) { ns.setup(); const s = ns.synack('serve', ['--discard', '9', '--chargen', '19', '--window', String(4 << 20), ...(modes[i] ? [] : ['--no-offload'])], { timeoutMs: 600_000 }); await ready(s); serves.push(s); }
// Alternate the modes so that both see the same minutes of machine load.
const res: Record<string, { g: number[]; c: number[] }> = {};
try {
  for (let r = 0; r < reps; r++) for (const [i, ns] of nss.entries()) for (const dir of ['send', 'recv']) {
    const port = dir === 'send' ? '9' : '19';
    const pid = serves[i]!.pid; const c0 = cpu(pid);
    const out = spawnSync('ip', ['netns', 'exec', ns.name, 'python3', TPUT, dir, ns.synackAddr, port, String(secs)], { encoding: 'utf8', timeout: 60_000 });
    const c1 = cpu(pid);
    const j = JSON.parse(out.stdout.trim().split('\n').pop()!);
    const k = `${modes[i] ? 'on ' : 'off'} ${dir === 'send' ? 'kernel→synack' : 'synack→kernel'}`;
    (res[k] ??= { g: [], c: [] }).g.push(j.bps / 1e9);
    res[k].c.push((j.bps * j.seconds) / 1e9 / Math.max(0.01, c1 - c0));
  }
} finally { for (const s of serves) s.kill('SIGTERM'); for (const ns of nss) await ns.cleanup(); }
const med = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const [k, v] of Object.entries(res)) console.log(`MTU ${mtu} offloads ${k}: ${med(v.g).toFixed(2)} Gbit/s [${Math.min(...v.g).toFixed(2)}–${Math.max(...v.g).toFixed(2)}], ${med(v.c).toFixed(2)} Gbit per synack CPU-second`);
