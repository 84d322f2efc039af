/**
 * npm run conformance [-- [--json FILE] [--relax=options,window,rcvbuf] [--define NAME] [--quiet] PATHS…]
 *
 * Runs packetdrill scripts against synack (see executor.ts). PATHS are
 * files or folders, absolute or relative to the current directory; none
 * means the whole corpus (../shared/conformance/tcp-testsuite from the
 * project root). One line per script, then a summary by folder. Exit code
 * 0 only when every script that ran passed.
 *
 * --relax is a diagnostic: it skips a class of comparison to show what else
 * fails; a relaxed pass is reported as such and never counts as strict.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { collectScripts, runScriptFile, summarize, type ScriptOutcome } from './runner.ts';
import { PROFILES } from './profile.ts';
import { exitUsage } from '../cli/options.ts';
import type { Relaxation } from './executor.ts';

const HELP = `Usage: npm run conformance -- [--json FILE] [--profile freebsd] [--define NAME] [--relax=options,window,rcvbuf] [--quiet] [PATHS…]

Runs packetdrill scripts against synack in-process under the virtual clock.
PATHS are .pkt files or folders (relative to the current directory); none
means the whole corpus in ../shared/conformance/tcp-testsuite. Exit status 0
only when every script that ran passed.

  --json FILE        write every result to FILE
  --profile NAME     stack defaults to emulate (default freebsd)
  --define NAME, -D  define a packetdrill symbol
  --relax=LIST       diagnostic: skip comparing options, window and/or rcvbuf
  --quiet, -q        only the summary
  -h, --help         this help`;

function usage(msg: string): never {
  if (msg === 'help') {
    process.stdout.write(HELP + '\n');
    process.exit(0);
  }
  exitUsage({ name: 'conformance', invocation: 'npm run conformance --' }, msg);
}

const argv = process.argv.slice(2);
const paths: string[] = [];
let jsonFile: string | null = null;
let quiet = false;
let profileName = 'freebsd';
const defines: string[] = [];
const relax = new Set<Relaxation>();
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  const val = (name: string): string => {
    if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
    const v = argv[++i];
    if (v === undefined) usage(`${name} needs a value`);
    return v;
  };
  if (a === '--json' || a.startsWith('--json=')) jsonFile = val('--json');
  else if (a === '--profile' || a.startsWith('--profile=')) profileName = val('--profile');
  else if (a === '--define' || a.startsWith('--define=') || a === '-D') defines.push(val('--define'));
  else if (a === '--relax' || a.startsWith('--relax=')) {
    for (const r of val('--relax').split(',')) {
      if (r !== 'options' && r !== 'window' && r !== 'rcvbuf') usage(`unknown relaxation ${r}`);
      relax.add(r);
    }
  } else if (a === '--quiet' || a === '-q') quiet = true;
  else if (a === '--help' || a === '-h') usage('help');
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else paths.push(a);
}
const profile = PROFILES[profileName];
if (!profile) usage(`unknown profile ${profileName} (known: ${Object.keys(PROFILES).join(', ')})`);

// `npm run` changes to the project root; INIT_CWD is where the user ran it.
const cwd = process.env.INIT_CWD || process.cwd();
let refs;
try {
  refs = collectScripts(paths, cwd);
} catch (e) {
  usage((e as Error).message);
}
if (refs.length === 0) usage('no .pkt scripts found');

const t0 = performance.now();
const results: ScriptOutcome[] = [];
for (const ref of refs) {
  const r = runScriptFile(ref, { profile, defines: defines.length ? defines : ['STANDARD'], relax });
  results.push(r);
  if (!quiet || !r.passed) {
    if (r.passed) console.log(`pass  ${r.script}${r.reason ? `  (${r.reason})` : ''}`);
    else console.log(`FAIL  ${r.script}:${r.line}  ${r.reason}`);
  }
}
const wall = (performance.now() - t0) / 1000;
console.log('\nSummary by folder (passed/total):');
let passed = 0;
for (const s of summarize(results)) {
  passed += s.passed;
  console.log(`  ${String(s.passed).padStart(4)}/${String(s.total).padEnd(4)} ${s.folder}`);
}
console.log(`  ${String(passed).padStart(4)}/${String(results.length).padEnd(4)} total (profile ${profile.name}${relax.size ? `, relaxed: ${[...relax].join(',')}` : ''}) in ${wall.toFixed(1)} s`);
if (jsonFile) {
  writeFileSync(resolve(cwd, jsonFile), JSON.stringify(results.map((r) => ({ script: r.script, passed: r.passed, reason: r.reason })), null, 2) + '\n');
}
process.exit(passed === results.length ? 0 : 1);
