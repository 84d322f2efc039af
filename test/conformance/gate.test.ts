/**
 * Regression gate: every script listed in expected-pass.json (the scripts of
 * the FreeBSD tcp-testsuite that pass today) must still pass. Skipped when
 * the corpus (../shared/conformance/tcp-testsuite) is not checked out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CORPUS, folderOf, runScriptFile } from '../../src/conformance/runner.ts';
import { PROFILES } from '../../src/conformance/profile.ts';

const list = JSON.parse(readFileSync(new URL('./expected-pass.json', import.meta.url), 'utf8')) as { profile: string; scripts: string[] };

test('every script in expected-pass.json still passes', { skip: existsSync(DEFAULT_CORPUS) ? false : `corpus not found at ${DEFAULT_CORPUS}` }, () => {
  const profile = PROFILES[list.profile];
  assert.ok(profile, `unknown profile ${list.profile}`);
  assert.ok(list.scripts.length > 0);
  const failures: string[] = [];
  for (const script of list.scripts) {
    const abs = join(DEFAULT_CORPUS, script);
    if (!existsSync(abs)) {
      failures.push(`${script}: missing`);
      continue;
    }
    const r = runScriptFile({ script, abs, folder: folderOf(abs) }, { profile });
    if (!r.passed) failures.push(`${script}:${r.line} ${r.reason}`);
  }
  assert.deepEqual(failures, [], `${failures.length} of ${list.scripts.length} gated scripts regressed`);
});
