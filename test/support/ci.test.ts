/** The CI detection every must-run test uses (test/support/ci.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inCi } from './ci.ts';

test('any non-empty CI (1, true, yes) counts as CI; unset, empty, false and 0 do not', () => {
  for (const v of ['1', 'true', 'TRUE', 'yes', 'github']) assert.equal(inCi({ CI: v }), true, `CI=${v}`);
  for (const v of [undefined, '', 'false', '0']) assert.equal(inCi({ CI: v }), false, `CI=${String(v)}`);
});
