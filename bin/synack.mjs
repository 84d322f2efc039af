#!/usr/bin/env node
// The `synack` command: runs src/cli/main.ts through tsx's ESM loader, in
// this process (no child process, so signals and exit codes pass through).
// tsx is resolved from this package, so `npx synack …` works in the repo.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
