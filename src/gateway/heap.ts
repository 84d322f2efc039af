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
 * `synack gateway --small-heap` only, off by default for that price (a
 * command owns its process; a library must not change V8's flags under its
 * host).
 */
import { setFlagsFromString } from 'node:v8';

export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
