#!/usr/bin/env node
// Builds the addon from source with node-gyp (npm runs this as the package's
// install script). No downloads: node-gyp compiles against the headers of
// the running Node (its --nodedir is found beside the node binary when npm
// has none configured). Exits non-zero on failure; the package is an
// optional dependency of synack, so npm then goes on without it.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

if (process.platform !== 'linux') {
  console.error('synack-tun: TUN devices are Linux-only; skipping the build');
  process.exit(1);
}

const args = ['rebuild'];
const env = { ...process.env };
if (!env.npm_config_nodedir) {
  // <prefix>/bin/node → <prefix>/include/node/node_api.h
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) && existsSync(path.join(prefix, 'include', 'node', 'common.gypi'))) {
    args.push(`--nodedir=${prefix}`);
  }
}

// npm tells scripts where its bundled node-gyp is; otherwise use PATH.
let cmd = 'node-gyp';
let cmdArgs = args;
const bundled = env.npm_config_node_gyp;
if (bundled && existsSync(bundled)) {
  cmd = process.execPath;
  cmdArgs = [bundled, ...args];
}
const r = spawnSync(cmd, cmdArgs, { cwd: __dirname, stdio: 'inherit', env });
if (r.error) {
  console.error(`synack-tun: cannot run node-gyp (${r.error.message}); TUN support will be unavailable`);
  process.exit(1);
}
if (r.status !== 0) {
  console.error('synack-tun: the build failed; TUN support will be unavailable (the rest of synack works without it)');
}
process.exit(r.status ?? 1);
