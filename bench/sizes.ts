/**
 * Package sizes: the browser bundles of `synack/core` and `synack/net`
 * (esbuild, --platform=browser, minified, every export kept), raw and
 * gzipped, and the published tarball (`npm pack --dry-run` after a build:
 * packed and unpacked bytes, file count).
 */
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

export interface BundleSize {
  entry: string;
  bytes: number;
  gzipBytes: number;
  /** Whether the bundle contains a node: import (it must not). */
  nodeImport: boolean;
}

export async function bundleSizes(root: string): Promise<BundleSize[]> {
  const out: BundleSize[] = [];
  for (const entry of ['core', 'net']) {
    const r = await build({
      stdin: { contents: `export * from './src/${entry}.ts';`, resolveDir: root, loader: 'ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      write: false,
      logLevel: 'silent',
    });
    const bytes = r.outputFiles[0]!.contents;
    out.push({ entry: `synack/${entry}`, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length, nodeImport: /["']node:/.test(r.outputFiles[0]!.text) });
  }
  return out;
}

export interface TarballSize {
  size: number;
  unpackedSize: number;
  files: number;
}

/** Builds dist/ and asks npm what `npm pack` would publish. */
export function tarballSize(root: string): TarballSize {
  const b = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed: ${r.stderr}`);
  const [p] = JSON.parse(r.stdout) as Array<{ size: number; unpackedSize: number; files: unknown[] }>;
  return { size: p!.size, unpackedSize: p!.unpackedSize, files: p!.files.length };
}
