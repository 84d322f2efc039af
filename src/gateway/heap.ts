/**
 * The gateway process's young generation, kept at V8's initial size.
 *
 * Measured (docs/PERFORMANCE.md, "The gateway"): of the ~28 KB of RSS an
 * idle forwarded connection seemed to cost, the objects of the connection
 * are about 12 KB (heap snapshots at 0 and 500 connections); the rest was
 * V8's new space growing, under the allocation rate of a burst of
 * connects, from its initial 1 MiB semi-spaces to 16 MiB ones (32 MiB of
 * RSS that stays). V8 grows a semi-space by `--semi-space-growth-factor`
 * whenever a scavenge finds it busy, and reads that flag each time, so
 * setting it to 1 at run time keeps the new space at its initial size:
 * scavenges are more frequent and each one shorter, objects that live past
 * two of them move to the old generation sooner.
 *
 * For the `synack gateway` process only (a command owns its process; a
 * library must not change V8's flags under its host).
 */
import { setFlagsFromString } from 'node:v8';

export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
