/**
 * `npm run fuzz [-- --seconds N --seed N]` — the segment fuzzer (fuzzer.ts)
 * for a wall-clock budget (default 300 s). Each distinct failure is
 * minimized and written as a regression fixture to test/fuzz/fixtures/
 * (replayed by test/fuzz/regressions.test.ts); exit status 1 if any.
 *
 *   --seconds N     budget (default 300)
 *   --seed N        the fuzzer's seed (default: random, printed)
 *   --execs N       stop after N inputs instead
 *   --replay FILE   replay a fixture and print the result
 *   --no-save       do not write fixtures
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fuzz, minimize, replayInputs, type FuzzFailure, type Input } from './fuzzer.ts';
import { Target } from './target.ts';
import { exitUsage, parseScriptArgs } from '../cli/options.ts';

const HELP = `Usage: npm run fuzz -- [--seconds N] [--seed N] [--execs N] [--no-save]
       npm run fuzz -- --replay FILE

Feeds random and mutated segments into a stack holding connections in every
state, for a wall-clock budget. Each distinct failure is minimized and saved
to test/fuzz/fixtures/ (replayed by npm test). Exit status 1 if any.

  --seconds N     budget in seconds (default 300)
  --seed N        the fuzzer's seed (default: random, printed)
  --execs N       stop after N inputs instead
  --replay FILE   replay a saved fixture and print the result
  --no-save       do not write fixtures
  -h, --help      this help`;

const SPEC = {
  name: 'fuzz',
  invocation: 'npm run fuzz --',
  help: HELP,
  options: { seconds: { type: 'string' }, seed: { type: 'string' }, execs: { type: 'string' }, replay: { type: 'string' }, 'no-save': { type: 'boolean' } },
} as const;
const { values } = parseScriptArgs(SPEC);
function num(name: 'seconds' | 'seed' | 'execs'): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) exitUsage(SPEC, `--${name} expects a non-negative number, got '${raw}'`);
  return n;
}

const replay = values.replay;
if (replay) {
  const f = JSON.parse(readFileSync(replay, 'utf8')) as { seed: number; checksums: boolean; inputs: Input[] };
  const r = replayInputs(f.seed, f.checksums, f.inputs);
  console.log(r ? `FAIL ${r.kind}\n${r.message}` : 'ok: no exception, invariants hold');
  process.exit(r ? 1 : 0);
}

const seconds = num('seconds') ?? 300;
const seed = num('seed') !== undefined ? num('seed')! >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const execs = num('execs');
const save = values['no-save'] !== true;
const probe = new Target({ seed, checksums: false });
console.log(`fuzz: seed ${seed}, ${execs !== undefined ? `${execs} execs` : `${seconds}s`}; target states: ${probe.states().join(' ')}`);
const start = performance.now();
let last = start;
const found: FuzzFailure[] = [];
const { stats } = fuzz({
  seed,
  ...(execs !== undefined ? { execs } : {}),
  ms: seconds * 1000,
  now: () => performance.now(),
  keepGoing: true,
  onFailure: (f) => {
    console.log(`\nFAIL ${f.kind} (target seed ${f.seed}, checksums ${f.checksums}, after ${f.inputs.length} inputs)\n  ${f.message.split('\n').slice(0, 4).join('\n  ')}`);
    found.push(f);
  },
  onProgress: (s) => {
    const now = performance.now();
    if (now - last > 10_000) {
      last = now;
      const secs = (now - start) / 1000;
      console.log(`  ${s.execs} execs in ${secs.toFixed(0)}s: ${(s.execs / secs).toFixed(0)} execs/s, ${s.targets} targets, ${s.failures} failing inputs`);
    }
  },
});
const secs = (performance.now() - start) / 1000;
console.log(`${stats.execs} execs in ${secs.toFixed(1)}s: ${(stats.execs / secs).toFixed(0)} execs/s; ${stats.targets} targets rebuilt, ${stats.packetsOut} packets answered, ${stats.drops} inputs dropped with a counted reason, ${stats.failures} failing`);
for (const f of found) {
  const m = minimize(f);
  console.log(`\nminimized ${f.kind}: ${f.inputs.length} → ${m.inputs.length} inputs`);
  for (const i of m.inputs) console.log(`  ${JSON.stringify(i)}`);
  if (save) {
    const dir = new URL('../../test/fuzz/fixtures/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    const name = `crash-${m.kind.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}-${m.seed}.json`;
    writeFileSync(new URL(name, dir), JSON.stringify({ kind: m.kind, message: m.message.split('\n')[0], seed: m.seed, checksums: m.checksums, inputs: m.inputs, todo: 'core bug: (describe)' }, null, 1) + '\n');
    console.log(`  saved test/fuzz/fixtures/${name} (replayed by test/fuzz/regressions.test.ts)`);
  }
}
process.exit(found.length ? 1 : 0);
