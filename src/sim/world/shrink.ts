/**
 * Shrinking a failing history to the few actions that still make it fail
 * the same way (same failure kind): delta debugging over the action list
 * (remove halves, quarters, … single actions), then smaller writes and
 * reads and fewer impairment fields. The world (from the seed) is kept, so
 * the result replays exactly with `--replay` or `--seed N --actions …`.
 */
import type { Action, History } from './scenario.ts';
import { runHistory, type Failure, type RunOptions } from './world.ts';

export interface ShrinkResult {
  history: History;
  failure: Failure;
  runs: number;
}

export function shrinkHistory(h: History, failure: Failure, opts: RunOptions & { maxRuns?: number } = {}): ShrinkResult {
  const maxRuns = opts.maxRuns ?? 600;
  let runs = 0;
  let best = failure;
  const fails = (actions: Action[]): boolean => {
    if (runs >= maxRuns) return false;
    runs++;
    const r = runHistory({ seed: h.seed, actions }, opts);
    if (r.failure && r.failure.kind === failure.kind) {
      best = r.failure;
      return true;
    }
    return false;
  };
  let actions = h.actions.slice();
  // ddmin: remove chunks while the failure persists.
  let n = 2;
  while (actions.length > 0 && runs < maxRuns) {
    const size = Math.ceil(actions.length / n);
    let removed = false;
    for (let i = 0; i < actions.length; i += size) {
      const cand = actions.slice(0, i).concat(actions.slice(i + size));
      if (fails(cand)) {
        actions = cand;
        n = Math.max(2, n - 1);
        removed = true;
        break;
      }
    }
    if (!removed) {
      if (size <= 1) break;
      n = Math.min(actions.length, n * 2);
    }
  }
  // Simplify what is left.
  for (let i = 0; i < actions.length && runs < maxRuns; i++) {
    const a = actions[i]!;
    if (a.op === 'write' || a.op === 'read') {
      let cur = a.n;
      while (cur > 1 && runs < maxRuns) {
        const next = Math.floor(cur / 2);
        const cand = actions.slice();
        cand[i] = { ...a, n: next };
        if (!fails(cand)) break;
        actions = cand;
        cur = next;
      }
    } else if (a.op === 'impair') {
      for (const k of Object.keys(a.im) as Array<keyof typeof a.im>) {
        const cur = actions[i] as typeof a;
        const im = { ...cur.im };
        delete im[k];
        const cand = actions.slice();
        cand[i] = { ...cur, im };
        if (fails(cand)) actions = cand;
      }
    }
  }
  // Earlier is simpler: pull each action back to time 0 where that keeps the failure... too costly; keep times.
  return { history: { seed: h.seed, actions }, failure: best, runs };
}
