/**
 * Shared by the visualizer tests: tshark's verdicts on a capture, and the
 * observer's verdicts mapped onto tshark's field names.
 */
import { spawnSync } from 'node:child_process';
import { analyzeCapture, RETRANSMISSION_VERDICTS, type Verdict } from '../../src/viz/observer.ts';

export type TsharkFlag = 'retransmission' | 'out_of_order' | 'zero_window' | 'reset';
export const TSHARK_FLAGS: readonly TsharkFlag[] = ['retransmission', 'out_of_order', 'zero_window', 'reset'];

export function hasTshark(): boolean {
  return spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** frame number → the tcp.analysis flags (and RST) tshark reports for it. */
export function tsharkVerdicts(file: string): Map<number, Set<TsharkFlag>> {
  const r = spawnSync(
    'tshark',
    ['-r', file, '-Y', 'tcp', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', '-e', 'tcp.analysis.retransmission', '-e', 'tcp.analysis.out_of_order', '-e', 'tcp.analysis.zero_window', '-e', 'tcp.flags.reset'],
    { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
  );
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  const out = new Map<number, Set<TsharkFlag>>();
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const [frame, rtx, ooo, zw, rst] = line.split('|');
    const s = new Set<TsharkFlag>();
    if (rtx) s.add('retransmission');
    if (ooo) s.add('out_of_order');
    if (zw) s.add('zero_window');
    if (rst === '1' || rst === 'True') s.add('reset');
    out.set(Number(frame), s);
  }
  return out;
}

/** The observer's verdicts on the same file, named like tshark's. */
export function observerVerdicts(bytes: Uint8Array): Map<number, Set<TsharkFlag>> {
  const a = analyzeCapture(bytes);
  if (!a.ok) throw new Error(a.error);
  const out = new Map<number, Set<TsharkFlag>>();
  for (const c of a.connections) {
    for (const s of c.segments) {
      const v = new Set<TsharkFlag>();
      const has = (x: Verdict) => s.verdicts.includes(x);
      if (RETRANSMISSION_VERDICTS.some(has)) v.add('retransmission');
      if (has('out-of-order')) v.add('out_of_order');
      if (has('zero-window')) v.add('zero_window');
      if (has('reset')) v.add('reset');
      out.set(s.frame, v);
    }
  }
  return out;
}

/** Frames where the two disagree, as readable lines (empty when they agree). */
export function disagreements(ours: Map<number, Set<TsharkFlag>>, theirs: Map<number, Set<TsharkFlag>>): string[] {
  const frames = new Set([...ours.keys(), ...theirs.keys()]);
  const out: string[] = [];
  for (const f of [...frames].sort((a, b) => a - b)) {
    const a = [...(ours.get(f) ?? [])].sort().join(',');
    const b = [...(theirs.get(f) ?? [])].sort().join(',');
    if (a !== b) out.push(`frame ${f}: observer [${a}] tshark [${b}]`);
  }
  return out;
}

/** How many frames carry each flag. */
export function tally(m: Map<number, Set<TsharkFlag>>): Record<TsharkFlag, number> {
  const t: Record<TsharkFlag, number> = { retransmission: 0, out_of_order: 0, zero_window: 0, reset: 0 };
  for (const s of m.values()) for (const f of s) t[f]++;
  return t;
}
