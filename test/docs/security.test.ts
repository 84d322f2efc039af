/**
 * docs/SECURITY.md names, in its table's "test" column, the tests that back
 * each defence. Every quoted name must be (part of) a real test title in
 * test/, and every file path it names must exist: a claim without its test
 * fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

function testSources(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) testSources(p, out);
    else if (n.endsWith('.test.ts')) out.push(readFileSync(p, 'utf8'));
  }
  return out;
}

test('every test docs/SECURITY.md names in its table exists', () => {
  const doc = readFileSync(join(root, 'docs/SECURITY.md'), 'utf8');
  const rows = doc.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| defence') && !l.startsWith('|---'));
  assert.ok(rows.length >= 10);
  const sources = testSources(join(root, 'test')).join('\n');
  const missing: string[] = [];
  for (const row of rows) {
    const cell = row.split(' | ').at(-1)!;
    for (const m of cell.matchAll(/"([^"]+)"/g)) if (!sources.includes(m[1]!)) missing.push(m[1]!);
    for (const m of cell.matchAll(/`(test\/[^`*]+\.ts)`/g)) if (!existsSync(join(root, m[1]!))) missing.push(m[1]!);
  }
  assert.deepEqual(missing, [], `named in docs/SECURITY.md but not found in test/: ${missing.join('; ')}`);
});
