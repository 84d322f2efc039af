/**
 * The gateway process's young generation, kept at V8's initial size.
 *
 * Measured (docs/PERFORMANCE.md, "The gateway"): of the ~28 KB of RSS an
 * idle forwarded connection seemed to cost, the heap objects of the
 * connection were about 14 KB (heap snapshots at 0 and 500 connections,
 * compiled code included); most of the rest was V8's new space, grown by
 * the allocation rate of the burst of connects from a few MiB to 32 MiB of
 * RSS that stays. V8 grows a semi-space by `--semi-space-growth-factor`
 * whenever a scavenge finds it busy, and reads that flag each time, so
 * setting it to 1 at run time keeps the new space at its initial size.
 * The price: more frequent scavenges, and objects that live past two of
 * them reach the old generation sooner — more CPU per GB in bulk
 * transfers (measured in the same place).
 *
 * `synack gateway --small-heap` only; by default the command caps the
 * growth instead (capYoungGeneration below). Neither is done by the library
 * (a library must not change V8's flags under its host).
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';

export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** The new space `synack gateway` lets V8 grow to (capYoungGeneration; --small-heap keeps the initial size instead). */
export const GATEWAY_NEW_SPACE_CAP = 4 << 20;

/**
 * The young generation allowed to grow only up to `maxBytes` of new space:
 * after each scavenge (a 'gc' performance entry of kind minor) the new
 * space's size is read, and once it has reached `maxBytes` the growth
 * factor is set to 1 — V8 can then grow it by at most the one step that
 * happened in the scavenge that crossed the line. Between the default (16
 * MiB, whatever a burst of connects asks for) and `keepYoungGenerationSmall`
 * (the initial 1 MiB): fewer scavenges than the latter, less RSS than the
 * former. Returns a function that stops watching.
 */
export function capYoungGeneration(maxBytes: number): () => void {
  const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  let done = false;
  const obs = new PerformanceObserver((list) => {
    if (done) return;
    for (const e of list.getEntries()) {
      if (((e as unknown as { detail?: { kind?: number } }).detail)?.kind !== perfConstants.NODE_PERFORMANCE_GC_MINOR) continue;
      if (newSpace() >= maxBytes) {
        setFlagsFromString('--semi-space-growth-factor=1');
        done = true;
        obs.disconnect();
        return;
      }
    }
  });
  if (newSpace() >= maxBytes) {
    setFlagsFromString('--semi-space-growth-factor=1');
    done = true;
  } else obs.observe({ entryTypes: ['gc'] });
  return () => {
    done = true;
    obs.disconnect();
  };
}
