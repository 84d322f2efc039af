/**
 * Every command answers --help with its usage (exit 0) and refuses an
 * unknown option with a message that names it (exit 2) — the `synack`
 * command and each subcommand, and every npm script (demo, viz, synack,
 * bench, conformance, sim, fuzz), run as package.json runs them. Until
 * this test, `npm run fuzz -- --help` started a 300 s fuzzing run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { main, COMMANDS } from '../../src/cli/main.ts';
import { memIo } from './mem-io.ts';

const root = new URL('../../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('package.json', `file://${root}`), 'utf8')) as { scripts: Record<string, string> };

test('synack --help and each subcommand --help print their usage and exit 0; an unknown option exits 2 naming it', async () => {
  const top = memIo();
  assert.equal(await main(['--help'], top), 0);
  assert.match(top.out.join('\n'), /^Usage: synack <command>/);
  const names = [...COMMANDS.keys()];
  assert.ok(names.includes('demo') && names.includes('serve') && names.includes('connect') && names.includes('get') && names.includes('trace'));
  for (const name of names) {
    const io = memIo();
    assert.equal(await main([name, '--help'], io), 0, `${name} --help: ${io.err.join('\n')}`);
    assert.match(io.out.join('\n'), /^Usage: synack /, `${name} --help prints its usage`);
    const bad = memIo();
    assert.equal(await main([name, '--no-such-option'], bad), 2, `${name} --no-such-option`);
    assert.match(bad.err.join('\n'), /no-such-option/, `${name}: the message names the option`);
    assert.match(bad.err.join('\n'), /--help|synack help/);
  }
  const bad = memIo();
  assert.equal(await main(['--no-such-option'], bad), 2);
  assert.match(bad.err.join('\n'), /no-such-option/);
});

/** The command line package.json gives `npm run NAME`, with tsx run as Node's loader. */
function scriptArgv(name: string): string[] {
  const cmd = pkg.scripts[name];
  assert.ok(cmd, `npm script ${name}`);
  const parts = cmd.split(/\s+/);
  assert.equal(parts[0], 'tsx', `npm run ${name} runs tsx`);
  return ['--import', 'tsx', ...parts.slice(1)];
}

function run(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const SCRIPTS = ['demo', 'viz', 'synack', 'bench', 'conformance', 'sim', 'fuzz'];

test('every npm script (demo, viz, synack, bench, conformance, sim, fuzz) answers --help with its usage and exit 0, and an unknown option with exit 2', async () => {
  const results = await Promise.all(
    SCRIPTS.flatMap((name) => [
      run([...scriptArgv(name), '--help']).then((r) => ({ name, kind: 'help', ...r })),
      run([...scriptArgv(name), '--no-such-option']).then((r) => ({ name, kind: 'bad', ...r })),
    ]),
  );
  for (const r of results) {
    if (r.kind === 'help') {
      assert.equal(r.code, 0, `npm run ${r.name} -- --help exits 0 (stderr: ${r.stderr.slice(0, 500)})`);
      assert.match(r.stdout, /^Usage: /m, `npm run ${r.name} -- --help prints a usage`);
    } else {
      assert.equal(r.code, 2, `npm run ${r.name} -- --no-such-option exits 2 (stdout: ${r.stdout.slice(0, 300)})`);
      assert.match(r.stderr, /no-such-option/, `npm run ${r.name}: the message names the unknown option`);
      assert.match(r.stderr, /--help/, `npm run ${r.name}: the message points to --help`);
    }
  }
});
