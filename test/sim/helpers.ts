/** Replays a saved simulator history (seed, world, actions) for the repro and regression tests. */
import { readFileSync } from 'node:fs';
import { runHistory, type Action, type RunResult, type WorldSpec } from '../../src/sim/world/index.ts';

export interface SavedHistory {
  seed: number;
  world: WorldSpec;
  actions: Action[];
}

export function loadHistory(name: string): SavedHistory {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as SavedHistory;
}

export function replay(h: SavedHistory): RunResult {
  return runHistory({ seed: h.seed, actions: h.actions }, { world: h.world });
}

export function describe(r: RunResult): string {
  return r.failure ? `${r.failure.kind} at t=${r.failure.atUs}µs: ${r.failure.message.split('\n')[0]}` : 'ok';
}
