/**
 * IPv6 against IPv4, alternated in one process (issue 12: within 5 %):
 *
 *   npx tsx bench/cycles-v6-ab.ts [cycles per run] [pairs]          connection cycles
 *   npx tsx bench/cycles-v6-ab.ts bulk[:MTU] [MiB per run] [pairs]   bulk transfer (MTU 1500 by default)
 *
 * Prints medians, ranges and the interquartile range of the per-pair ratio,
 * by wall clock and by process CPU time (steadier on a shared machine).
 * For bulk the ratio is of payload throughput: at MTU 1500 an IPv6 segment
 * carries 1440 octets against 1460 (the 20 octets more of header), so 0.986
 * is the same cost per segment.
 */
import { synackCycles } from './cycles.ts';
import { synackBulk } from './bulk.ts';

const bulkMode = process.argv[2]?.startsWith('bulk') ?? false;
const args = bulkMode ? process.argv.slice(3) : process.argv.slice(2);
const mtu = bulkMode ? Number(process.argv[2]!.split(':')[1] ?? 1500) : 1500;
const n = Number(args[0] ?? (bulkMode ? 64 : 5000));
const reps = Number(args[1] ?? 7);
const q = (x: number[], p: number) => [...x].sort((a, b) => a - b)[Math.floor(p * (x.length - 1))]!;
/** One run: operations (cycles, or MiB) per wall second and per CPU second. */
const once = (f: 4 | 6, size: number): { wall: number; cpu: number } => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (bulkMode) synackBulk(size * 1024 * 1024, mtu, true, f);
  else synackCycles(size, true, f);
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall: size / wall, cpu: size / ((c.user + c.system) / 1e6) };
};
// Warm-up of both paths, not counted.
once(4, bulkMode ? 16 : 3000);
once(6, bulkMode ? 16 : 3000);
const w4: number[] = [], w6: number[] = [], rw: number[] = [], c4: number[] = [], c6: number[] = [], rc: number[] = [];
for (let i = 0; i < reps; i++) {
  let a, b;
  if (i % 2) {
    b = once(6, n);
    a = once(4, n);
  } else {
    a = once(4, n);
    b = once(6, n);
  }
  w4.push(a.wall); w6.push(b.wall); rw.push(b.wall / a.wall); c4.push(a.cpu); c6.push(b.cpu); rc.push(b.cpu / a.cpu);
}
const med = (x: number[]) => { const s = [...x].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const unit = bulkMode ? 'MiB/s' : '/s';
const f = (x: number[]) => `${Math.round(med(x))} [${Math.round(Math.min(...x))}–${Math.round(Math.max(...x))}]`;
const g = (x: number[]) => `${med(x).toFixed(3)} [${Math.min(...x).toFixed(3)}–${Math.max(...x).toFixed(3)}] IQR ${q(x, 0.25).toFixed(3)}–${q(x, 0.75).toFixed(3)}`;
console.log(bulkMode ? `bulk MTU ${mtu}, ${n} MiB per run, ${reps} pairs` : `cycles, ${n} per run, ${reps} pairs`);
console.log(`wall: v4 ${f(w4)} ${unit} v6 ${f(w6)} ${unit} ratio ${g(rw)}`);
console.log(`cpu:   v4 ${f(c4)} ${unit} v6 ${f(c6)} ${unit} ratio ${g(rc)}`);
