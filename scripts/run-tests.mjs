#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test through the tsx loader.
// Node 20's --test does not glob .ts files, so the list is built here.
// Usage: npm test [-- FILTER...]  (a FILTER keeps the files whose path contains it)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(relative(root, p));
  }
})(join(root, 'test'));
const chosen = filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files;
if (chosen.length === 0) {
  console.error('no test files matched', filters);
  process.exit(1);
}
const args = [
  '--import', 'tsx',
  '--test',
  `--test-concurrency=${Math.max(2, availableParallelism())}`,
  '--test-reporter=spec',
  ...chosen,
];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
