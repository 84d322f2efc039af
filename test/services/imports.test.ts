/** services/ sits above stack/ in the layer table but, until the UDP wiring lands, imports only base/ and wire/ (issue 13). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';

test('services/ imports only base/, wire/ and its own files', () => {
  const dir = new URL('../../src/services/', import.meta.url).pathname;
  const bad: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    for (const m of readFileSync(dir + f, 'utf8').matchAll(/from\s+'([^']+)'/g)) {
      if (!/^\.\.\/(base|wire)\/|^\.\/[\w-]+\.ts$/.test(m[1]!)) bad.push(`${f}: ${m[1]}`);
    }
  }
  assert.deepEqual(bad, []);
});
