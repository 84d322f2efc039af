/**
 * A short A/B harness for performance changes (not part of `npm run bench`):
 * medians of a few bulk and cycle runs of synack alone, in Gbit/s and
 * cycles/s. `npx tsx bench/quick-compare.ts [reps]`
 */
import { synackBulk } from './bulk.ts';
import { synackCycles } from './cycles.ts';
import { MiB } from './lib.ts';

const reps = Number(process.argv[2] ?? 5);
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
synackBulk(32 * MiB, 1500, true);
synackBulk(32 * MiB, 65535, true);
synackCycles(3000, true);
const b1: number[] = [];
const b64: number[] = [];
const b1f: number[] = [];
const cy: number[] = [];
for (let r = 0; r < reps; r++) {
  b1.push(synackBulk(256 * MiB, 1500, true).gbps);
  b1f.push(synackBulk(256 * MiB, 1500, false).gbps);
  b64.push(synackBulk(512 * MiB, 65535, true).gbps);
  cy.push(synackCycles(30000, true).perSec);
}
console.log(
  `bulk1500 ${med(b1).toFixed(2)} Gbit/s  bulk1500-csum ${med(b1f).toFixed(2)} Gbit/s  bulk64k ${med(b64).toFixed(2)} Gbit/s  cycles ${Math.round(med(cy))}/s`,
);
