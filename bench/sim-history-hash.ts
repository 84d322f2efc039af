/**
 * Hashes simulator histories (src/sim/world): every logged line — segment,
 * state change, drop and notable event, with its virtual time — of seeds
 * LO..HI, so two builds can be compared byte for byte:
 *
 *     npx tsx bench/sim-history-hash.ts 1 3000 [ROOT]
 *
 * ROOT (default: this checkout) is the checkout whose src/ is run, so the
 * same script compares another worktree. Prints one line per seed
 * (`seed hash lines`) and a final `all <hash>`.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const lo = Number(process.argv[2] ?? 1);
const hi = Number(process.argv[3] ?? lo);
const root = resolve(process.argv[4] ?? new URL('..', import.meta.url).pathname);
const sim = (await import(pathToFileURL(`${root}/src/sim/world/index.ts`).href)) as typeof import('../src/sim/world/index.ts');
const all = createHash('sha256');
for (let seed = lo; seed <= hi; seed++) {
  const h = createHash('sha256');
  let lines = 0;
  const r = sim.runHistory(sim.historyFromSeed(seed), {
    traceSegments: true,
    log: (line: string) => {
      h.update(line);
      h.update('\n');
      lines++;
    },
  });
  h.update(JSON.stringify(r));
  const d = h.digest('hex').slice(0, 16);
  all.update(d);
  console.log(`${seed} ${d} ${lines}`);
}
console.log(`all ${all.digest('hex')}`);
