/**
 * wire/ is pure (STYLE.md convention 1): no Node modules, no wall clock,
 * no timers, no randomness, no Buffer. This scans the sources.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const WIRE = new URL('../../src/wire/', import.meta.url).pathname;
const FORBIDDEN: Array<[RegExp, string]> = [
  [/from\s+['"]node:/, 'node: import'],
  [/import\(\s*['"]node:/, 'node: dynamic import'],
  [/\brequire\s*\(/, 'require()'],
  [/\bDate\.now\b|\bnew Date\b/, 'wall clock'],
  [/\bperformance\.now\b/, 'wall clock'],
  [/\bMath\.random\b/, 'randomness'],
  [/\bcrypto\b/, 'crypto'],
  [/\bset(Timeout|Interval|Immediate)\b/, 'timer'],
  [/\bprocess\./, 'process'],
  [/\bBuffer\b/, 'Buffer'],
];

test('wire/ imports no node: modules and uses no clock, timer, randomness or Buffer', () => {
  const files = readdirSync(WIRE).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 8);
  for (const f of files) {
    const src = readFileSync(join(WIRE, f), 'utf8');
    for (const [re, what] of FORBIDDEN) assert.doesNotMatch(src, re, `${f}: ${what}`);
  }
});
