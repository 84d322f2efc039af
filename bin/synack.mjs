#!/usr/bin/env node
// The `synack` command. Installed from the package, it runs the compiled
// JavaScript in dist/ on plain Node. In a development checkout (src/ is
// there; the package ships without it) it runs the TypeScript sources
// through tsx's loader instead, so `npx synack` never runs a stale build.
// In this process either way: signals and exit codes pass through.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let entry = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = source;
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
