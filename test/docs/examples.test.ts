/**
 * The README's code examples (kept in examples/) run and print what the
 * README says they print.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const root = new URL('../../', import.meta.url).pathname;
const run = (file: string) => spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 60_000 });

test('README example: node:net echo and node:http over synack print their replies and exit', () => {
  const r = run('examples/readme-net.ts');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /echo: hello/);
  assert.match(r.stdout, /hi from synack/);
});

test('README example: the core under a virtual clock walks the server through LISTEN → SYN-RECEIVED → ESTABLISHED', () => {
  const r = run('examples/readme-core.ts');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /CLOSED → LISTEN\nLISTEN → SYN-RECEIVED\nSYN-RECEIVED → ESTABLISHED/);
  assert.match(r.stdout, /state: 'ESTABLISHED'/);
});
