/**
 * Builds the page: bundles src/viz/app.ts (the core, the in-memory link and
 * the page code) for browsers with esbuild — platform "browser", so a Node
 * built-in anywhere in the graph fails the build — and writes index.html,
 * style.css and app.js to a folder.
 */
import { build } from 'esbuild';
import { mkdirSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export interface BuiltPage {
  dir: string;
  /** The bundle's text. */
  js: string;
  bytes: number;
}

/** Bundles the page into `dir` (created if needed). Throws when esbuild reports an error. */
export async function buildPage(dir: string, opts: { minify?: boolean; sourcemap?: boolean } = {}): Promise<BuiltPage> {
  mkdirSync(dir, { recursive: true });
  const r = await build({
    entryPoints: [join(here, 'app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: opts.minify ?? false,
    sourcemap: opts.sourcemap ? 'inline' : false,
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    outfile: join(dir, 'app.js'),
  });
  const out = r.outputFiles.find((f) => f.path.endsWith('app.js'));
  if (!out) throw new Error('esbuild produced no app.js');
  writeFileSync(out.path, out.contents);
  copyFileSync(join(here, 'index.html'), join(dir, 'index.html'));
  copyFileSync(join(here, 'style.css'), join(dir, 'style.css'));
  return { dir, js: out.text, bytes: out.contents.length };
}

/**
 * The page of `synack gateway --viz` (gateway-app.ts, gateway.html), in
 * memory: index.html, style.css and app.js by name. scripts/build.mjs
 * writes the same files to dist/viz/gateway/ for the package.
 */
export async function buildGatewayPage(opts: { minify?: boolean } = {}): Promise<Record<string, Uint8Array>> {
  const r = await build({
    entryPoints: [join(here, 'gateway-app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: opts.minify ?? true,
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    outfile: 'app.js',
  });
  const out = r.outputFiles[0];
  if (!out) throw new Error('esbuild produced no app.js');
  return { 'index.html': readFileSync(join(here, 'gateway.html')), 'style.css': readFileSync(join(here, 'style.css')), 'app.js': out.contents };
}
