/**
 * `npm run sim` — the deterministic simulator's command line.
 *
 *   npm run sim -- --seed N [--steps K]       one history (K actions, default 60)
 *   npm run sim -- --seeds A..B [--steps K]   a range of seeds
 *   npm run sim -- --long SECONDS [--seed N]  random seeds for a wall-clock duration; reports histories/s
 *   npm run sim -- --replay FILE              replay a saved (shrunk) history exactly
 *   npm run sim -- --seed N --actions JSON    replay seed N with this action list
 *   options: --verbose (print every action), --no-shrink, --max-steps N
 *
 * A failure prints the seed, the failure, and the history shrunk to the
 * actions that still cause it; the shrunk history is saved to a file that
 * `--replay` runs again, bit for bit. Exit status 1 on any failure.
 *
 * (This file lives outside src/sim because sim/ is the pure core: no node:
 * imports there, see test/arch/purity.test.ts.)
 */
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitUsage } from '../cli/options.ts';
import { DEFAULT_STEPS, historyFromSeed, runHistory, shrinkHistory, worldFromSeed, type Action, type Failure, type History, type RunOptions } from '../sim/world/index.ts';

interface Args {
  seed: number | null;
  seeds: [number, number] | null;
  steps: number;
  long: number;
  replay: string | null;
  actions: string | null;
  verbose: boolean;
  shrink: boolean;
  maxSteps: number | undefined;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seed: null, seeds: null, steps: DEFAULT_STEPS, long: 0, replay: null, actions: null, verbose: false, shrink: true, maxSteps: undefined, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) usage(`${k} needs a value`);
      return x;
    };
    if (k === '--seed') a.seed = Number(v()) >>> 0;
    else if (k === '--seeds') {
      const m = /^(\d+)\.\.(\d+)$/.exec(v());
      if (!m) usage('--seeds takes A..B');
      a.seeds = [Number(m[1]), Number(m[2])];
    } else if (k === '--steps') a.steps = Math.max(1, Number(v()) | 0);
    else if (k === '--long') a.long = Number(v());
    else if (k === '--replay') a.replay = v();
    else if (k === '--actions') a.actions = v();
    else if (k === '--verbose' || k === '-v') a.verbose = true;
    else if (k === '--no-shrink') a.shrink = false;
    else if (k === '--max-steps') a.maxSteps = Number(v());
    else if (k === '--json') a.json = true;
    else if (k === '--help' || k === '-h') usage(null);
    else usage(`unknown option ${k}`);
  }
  return a;
}

const SIM_HELP = `Usage: npm run sim -- [--seed N | --seeds A..B | --long SECONDS | --replay FILE] [options]

Runs whole random systems under the virtual clock (2-4 dual-stack stacks,
impaired links, applications acting at random over IPv4, IPv6 and the
loopback interface), checking the invariants after every
step. A failure prints the seed and a shrunk history that --replay runs
again, bit for bit. Exit status 1 on any failure.

  --seed N          one history from seed N
  --seeds A..B      the seeds A to B
  --long SECONDS    random seeds for SECONDS of wall-clock time; reports histories/s
  --replay FILE     replay a saved (shrunk) history exactly
  --actions JSON    with --seed: replay seed N with this action list
  --steps K         actions per history (default ${DEFAULT_STEPS})
  --max-steps N     bound on simulator steps per history
  --verbose, -v     print every action and segment
  --no-shrink       do not shrink a failing history
  --json            one JSON summary line per history
  -h, --help        this help`;

function usage(err: string | null): never {
  if (err === null) {
    process.stdout.write(SIM_HELP + '\n');
    process.exit(0);
  }
  exitUsage({ name: 'sim', invocation: 'npm run sim --' }, err);
}

function describeWorld(seed: number): string {
  const w = worldFromSeed(seed);
  const stacks = w.stacks.map((s, i) => `s${i}@hub${s.hubs.join('+')} ${s.reader} rcv=${s.tcp.recvBufferBytes} snd=${s.tcp.sendBufferBytes} ${s.tcp.congestionControl}${s.tcp.sack ? ' sack' : ''}${s.tcp.timestamps ? ' ts' : ''}${s.tcp.windowScaling ? ' ws' : ''}`);
  const hubs = w.hubs.map((h, i) => `hub${i} mtu=${h.mtu} ${JSON.stringify(h.impair)}`);
  return `world of seed ${seed}: ${w.durationUs / 1e6}s active\n  ${stacks.join('\n  ')}\n  ${hubs.join('\n  ')}`;
}

function report(h: History, f: Failure, shrink: boolean, opts: RunOptions): void {
  console.log(`\nFAIL seed ${h.seed}: ${f.kind} at t=${f.atUs}µs (step ${f.step})\n  ${f.message.split('\n').join('\n  ')}`);
  console.log(describeWorld(h.seed));
  let out = h;
  if (shrink) {
    const s = shrinkHistory(h, f, opts);
    out = s.history;
    console.log(`shrunk ${h.actions.length} → ${out.actions.length} actions in ${s.runs} runs; failure now: ${s.failure.kind} at t=${s.failure.atUs}µs\n  ${s.failure.message.split('\n')[0]}`);
  }
  const dir = join(tmpdir(), 'synack-sim');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `seed-${h.seed}-${f.kind}.json`);
  writeFileSync(file, JSON.stringify(out, null, 1) + '\n');
  console.log('shrunk trace (replays exactly):');
  for (const a of out.actions) console.log(`  ${JSON.stringify(a)}`);
  console.log(`replay: npm run sim -- --replay ${file}`);
  console.log(`    or: npm run sim -- --seed ${h.seed} --actions '${JSON.stringify(out.actions)}'`);
}

function runOne(h: History, args: Args): boolean {
  const opts: RunOptions = {};
  if (args.maxSteps !== undefined) opts.maxSteps = args.maxSteps;
  const r = runHistory(h, args.verbose ? { ...opts, log: (l) => console.log(l), traceSegments: true } : opts);
  if (r.failure) {
    report(h, r.failure, args.shrink, opts);
    return false;
  }
  const s = r.stats;
  if (args.json) console.log(JSON.stringify({ seed: h.seed, ok: true, ...s }));
  else console.log(`seed ${h.seed}: ok — ${h.actions.length} actions, ${s.steps} steps, ${(s.virtualUs / 1e6).toFixed(1)}s virtual, ${s.connects} connects, ${s.established} established, ${s.bytesVerified} bytes verified (${s.bytesVerifiedV6} over IPv6, ${s.bytesVerifiedLocal} within one stack), ${s.streamsCompleted} streams complete, ${s.packets} packets (${s.lost} lost)`);
  return true;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (args.replay) {
    const h = JSON.parse(readFileSync(args.replay, 'utf8')) as History;
    console.log(describeWorld(h.seed));
    process.exit(runOne(h, { ...args, shrink: false }) ? 0 : 1);
  }
  if (args.actions) {
    if (args.seed === null) usage('--actions needs --seed');
    const h: History = { seed: args.seed, actions: JSON.parse(args.actions) as Action[] };
    process.exit(runOne(h, { ...args, shrink: false }) ? 0 : 1);
  }
  if (args.long > 0) {
    const start = performance.now();
    const end = start + args.long * 1000;
    let seed = args.seed ?? (Math.random() * 2 ** 32) >>> 0;
    let n = 0;
    let failures = 0;
    let steps = 0;
    let bytes = 0;
    let lastReport = start;
    console.log(`sim --long ${args.long}s from seed ${seed} (${args.steps} actions per history)`);
    while (performance.now() < end) {
      const h = historyFromSeed(seed, args.steps);
      const r = runHistory(h, args.maxSteps !== undefined ? { maxSteps: args.maxSteps } : {});
      n++;
      steps += r.stats.steps;
      bytes += r.stats.bytesVerified;
      if (r.failure) {
        failures++;
        report(h, r.failure, args.shrink, {});
      }
      seed = (seed + 1) >>> 0;
      const now = performance.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        const secs = (now - start) / 1000;
        console.log(`  ${n} histories in ${secs.toFixed(0)}s: ${(n / secs).toFixed(1)} histories/s, ${(steps / secs).toFixed(0)} steps/s, ${failures} failing`);
      }
    }
    const secs = (performance.now() - start) / 1000;
    console.log(`${n} histories (seeds ${(seed - n) >>> 0}..${(seed - 1) >>> 0}) in ${secs.toFixed(1)}s: ${(n / secs).toFixed(1)} histories/s, ${(steps / secs).toFixed(0)} steps/s, ${(bytes / 1e6).toFixed(1)} MB verified, ${failures} failing`);
    process.exit(failures ? 1 : 0);
  }
  const [lo, hi] = args.seeds ?? [args.seed ?? 1, args.seed ?? 1];
  let failures = 0;
  for (let s = lo; s <= hi; s++) if (!runOne(historyFromSeed(s, args.steps), args)) failures++;
  if (hi > lo) console.log(`${hi - lo + 1} histories, ${failures} failing`);
  process.exit(failures ? 1 : 0);
}

main();
