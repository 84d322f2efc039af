/** The CI detection every must-run test uses (test/support/ci.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inCi } from './ci.ts';

test('any non-empty CI (1, true, yes) counts as CI; unset, empty, false and 0 do not', () => {
  for (const v of ['1', 'true', 'TRUE', 'yes', 'github']) assert.equal(inCi({ CI: v }), true, `CI=${v}`);
  for (const v of [undefined, '', 'false', '0']) assert.equal(inCi({ CI: v }), false, `CI=${String(v)}`);
});

test('issue 10: every CI check goes through inCi — no test, script or bench reads process.env.CI itself', async () => {
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
  const { join, relative } = await import('node:path');
  const root = new URL('../../', import.meta.url).pathname;
  const own = [join(root, 'test/support/ci.ts'), join(root, 'test/support/ci.test.ts')];
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'fixtures') continue;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mjs|js)$/.test(name) && !own.includes(p) && /\benv(\.CI\b|\[\s*['"]CI['"]\s*\])/.test(readFileSync(p, 'utf8'))) offenders.push(relative(root, p));
    }
  };
  for (const d of ['test', 'scripts', 'bench', 'src']) walk(join(root, d));
  assert.deepEqual(offenders, [], 'read CI through inCi() from test/support/ci.ts (any non-empty CI but false/0 is CI)');
});
