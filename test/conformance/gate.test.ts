/**
 * Regression gate: every script listed in expected-pass.json (the scripts of
 * the FreeBSD tcp-testsuite that pass today) must still pass. Outside CI it
 * skips, saying why, when the corpus (../shared/conformance/tcp-testsuite)
 * is not checked out; in CI (any non-empty CI) a missing corpus is a
 * failure, never a skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CORPUS, folderOf, runScriptFile } from '../../src/conformance/runner.ts';
import { PROFILES } from '../../src/conformance/profile.ts';
import { inCi } from '../support/ci.ts';

const list = JSON.parse(readFileSync(new URL('./expected-pass.json', import.meta.url), 'utf8')) as { profile: string; scripts: string[] };

/** The gate's skip option: a reason outside CI when the corpus is missing; in CI never (the test then fails). */
export function gateSkip(corpusPresent: boolean, ci: boolean): string | false {
  if (corpusPresent || ci) return false;
  return `corpus not found at ${DEFAULT_CORPUS} (in CI this fails)`;
}

test('the gate fails, never skips, in CI when the corpus is missing', () => {
  assert.equal(gateSkip(false, true), false, 'in CI: no skip');
  assert.match(String(gateSkip(false, false)), /corpus not found/);
  assert.equal(gateSkip(true, false), false);
});

test('every script in expected-pass.json still passes', { skip: gateSkip(existsSync(DEFAULT_CORPUS), inCi()) }, () => {
  assert.ok(existsSync(DEFAULT_CORPUS), `the conformance corpus is missing at ${DEFAULT_CORPUS}: CI must check out ../shared beside the repository`);
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
