#!/usr/bin/env node
// `npm run build` (and `prepack`): compiles src/ to dist/ — ESM JavaScript,
// .d.ts types and source maps (sources inlined) — with tsc and
// tsconfig.build.json, from the package's entry points (src/index.ts,
// core.ts, net.ts, tun.ts, gateway.ts and the CLI), so dist/ holds only what they reach.
//
// The sources import each other with .ts extensions (run directly by tsx in
// development); tsc rewrites them to .js in the JavaScript
// (rewriteRelativeImportExtensions) but keeps them in declarations, so the
// declarations are rewritten here too: a consumer's TypeScript then
// resolves './x.js' to './x.d.ts' under every moduleResolution.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build: tsc failed');
  process.exit(r.status ?? 1);
}

/** `from './x.ts'`, `import('./x.ts')`: relative specifiers only. */
const TS_SPECIFIER = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g;
let files = 0;
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.d.ts')) {
      const src = readFileSync(p, 'utf8');
      const out = src.replace(TS_SPECIFIER, '$1$2.js$3');
      if (out !== src) writeFileSync(p, out);
      files++;
    }
  }
})(dist);
console.log(`build: dist/ written (${files} declaration files)`);
