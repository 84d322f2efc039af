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
 *   --fragments     run the fragment fuzzer (fragments.ts) instead, from
 *                   consecutive seeds, for the same budget
 *   --link          run the link-layer and services fuzzer (link.ts) instead
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fuzz, minimize, replayInputs, type FuzzFailure, type Input } from './fuzzer.ts';
import { Target } from './target.ts';
import { exitUsage, parseScriptArgs } from '../cli/options.ts';
import { fuzzFragments } from './fragments.ts';
import { fuzzLink } from './link.ts';

const HELP = `Usage: npm run fuzz -- [--seconds N] [--seed N] [--execs N] [--no-save]
       npm run fuzz -- --replay FILE
       npm run fuzz -- --fragments | --link [--seconds N] [--seed N] [--execs RUNS]

Feeds random and mutated segments into a stack holding connections in every
state, for a wall-clock budget. Each distinct failure is minimized and saved
to test/fuzz/fixtures/ (replayed by npm test). Exit status 1 if any.

  --seconds N     budget in seconds (default 300)
  --seed N        the fuzzer's seed (default: random, printed)
  --execs N       stop after N inputs instead
  --replay FILE   replay a saved fixture and print the result
  --no-save       do not write fixtures
  --fragments     the fragment fuzzer instead: TCP data of IPv4 and IPv6
                  peers in shuffled, lost and overlapping fragments among
                  junk; every byte checked, reassembly memory bounded
  --link          the link-layer and services fuzzer instead: Ethernet, ARP,
                  NDP, UDP, DHCP and DNS frames, floods and malformed input
  -h, --help      this help`;

const SPEC = {
  name: 'fuzz',
  invocation: 'npm run fuzz --',
  help: HELP,
  options: { seconds: { type: 'string' }, seed: { type: 'string' }, execs: { type: 'string' }, replay: { type: 'string' }, 'no-save': { type: 'boolean' }, fragments: { type: 'boolean' }, link: { type: 'boolean' } },
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

/** The fragment and link fuzzers: one run per seed (consecutive from `seed`) until the budget or --execs runs. */
function runSeeds(name: string, one: (seed: number) => { failure: string | null; line: string }): never {
  console.log(`fuzz --${name}: seeds from ${seed}, ${execs !== undefined ? `${execs} runs` : `${seconds}s`}`);
  const start = performance.now();
  let last = start;
  let n = 0;
  let failures = 0;
  for (let s = seed; (execs === undefined || n < execs) && performance.now() - start < seconds * 1000; s = (s + 1) >>> 0) {
    const r = one(s);
    n++;
    if (r.failure) {
      failures++;
      console.log(`FAIL seed ${s}: ${r.failure}
  replay: npm run fuzz -- --${name} --seed ${s} --execs 1`);
    }
    const now = performance.now();
    if (now - last > 10_000 || execs === 1) {
      last = now;
      console.log(`  ${n} runs in ${((now - start) / 1000).toFixed(0)}s, ${failures} failing; last: ${r.line}`);
    }
  }
  const secs = (performance.now() - start) / 1000;
  console.log(`${n} runs (seeds ${seed}..${(seed + n - 1) >>> 0}) in ${secs.toFixed(1)}s, ${failures} failing`);
  process.exit(failures ? 1 : 0);
}

if (values.fragments) {
  runSeeds('fragments', (s) => {
    const r = fuzzFragments(s, 300);
    return { failure: r.failure, line: `${r.datagrams} datagrams in ${r.fragments} fragments, ${r.overlapped} overlapped, ${r.delivered} bytes checked, reassembler peak ${r.maxHeld} bytes` };
  });
}
if (values.link) {
  runSeeds('link', (s) => {
    const r = fuzzLink(s, 20_000);
    return { failure: r.failure, line: `${r.inputs} inputs, ${r.drops} counted drops, neighbour cache peak ${r.maxNeighbors}, DHCP leases peak ${r.maxLeases}` };
  });
}

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
