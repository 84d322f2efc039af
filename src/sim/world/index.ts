/**
 * The deterministic simulator: whole systems from one seed (see world.ts
 * for the invariants, scenario.ts for what a history is, shrink.ts for
 * shrinking). Pure: the CLI lives in src/fuzz/sim-main.ts.
 */
export { World, runHistory, streamKey, addrOf, type Failure, type RunResult, type RunStats, type RunOptions } from './world.ts';
export { worldFromSeed, actionsFromSeed, randomImpairments, PORTS, type Action, type History, type WorldSpec, type StackSpec, type HubSpec } from './scenario.ts';
export { shrinkHistory, type ShrinkResult } from './shrink.ts';
export { streamBytes, streamSeed, verifyStream, mix32 } from './stream.ts';

import { actionsFromSeed, worldFromSeed, type History } from './scenario.ts';

/** Default number of actions in a history. */
export const DEFAULT_STEPS = 60;

/** The history of `seed` with `steps` actions. */
export function historyFromSeed(seed: number, steps = DEFAULT_STEPS): History {
  return { seed: seed >>> 0, actions: actionsFromSeed(seed >>> 0, worldFromSeed(seed >>> 0), steps) };
}
