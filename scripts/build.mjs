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
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

// The page of `synack gateway --viz` (src/viz/gateway-app.ts), bundled for
// the browser into dist/viz/gateway/: the installed package has no esbuild
// (a development dependency), so viz/gateway-page.ts reads these files.
const { build } = await import('esbuild');
const page = join(dist, 'viz', 'gateway');
mkdirSync(page, { recursive: true });
await build({
  entryPoints: [join(root, 'src/viz/gateway-app.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  outfile: join(page, 'app.js'),
});
copyFileSync(join(root, 'src/viz/gateway.html'), join(page, 'index.html'));
copyFileSync(join(root, 'src/viz/style.css'), join(page, 'style.css'));
console.log(`build: dist/ written (${files} declaration files; the gateway --viz page in dist/viz/gateway/)`);
