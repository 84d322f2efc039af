/**
 * IPv6 against IPv4 connection cycles, alternated in one process (issue 12:
 * within 5 %): `npx tsx bench/cycles-v6-ab.ts [cycles per run] [pairs]`.
 * Prints medians, ranges and the interquartile range of the per-pair ratio,
 * by wall clock and by process CPU time (steadier on a shared machine).
 */
import { synackCycles } from './cycles.ts';
const n = Number(process.argv[2] ?? 5000), reps = Number(process.argv[3] ?? 7);
const q = (x: number[], p: number) => [...x].sort((a, b) => a - b)[Math.floor(p * (x.length - 1))];
synackCycles(3000, true, 4); synackCycles(3000, true, 6);
const run = (f: 4 | 6) => { const c0 = process.cpuUsage(); const r = synackCycles(n, true, f); const c = process.cpuUsage(c0); return { wall: r.perSec, cpu: n / ((c.user + c.system) / 1e6) }; };
const w4: number[] = [], w6: number[] = [], rw: number[] = [], c4: number[] = [], c6: number[] = [], rc: number[] = [];
for (let i = 0; i < reps; i++) {
  let a, b;
  if (i % 2) { b = run(6); a = run(4); } else { a = run(4); b = run(6); }
  w4.push(a.wall); w6.push(b.wall); rw.push(b.wall / a.wall); c4.push(a.cpu); c6.push(b.cpu); rc.push(b.cpu / a.cpu);
}
const med = (x: number[]) => { const s = [...x].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const f = (x: number[]) => `${Math.round(med(x))} [${Math.round(Math.min(...x))}–${Math.round(Math.max(...x))}]`;
const g = (x: number[]) => `${med(x).toFixed(3)} [${Math.min(...x).toFixed(3)}–${Math.max(...x).toFixed(3)}] IQR ${q(x, 0.25).toFixed(3)}–${q(x, 0.75).toFixed(3)}`;
console.log(`wall: v4 ${f(w4)}/s v6 ${f(w6)}/s ratio ${g(rw)}`);
console.log(`cpu:   v4 ${f(c4)}/s v6 ${f(c6)}/s ratio ${g(rc)}`);
