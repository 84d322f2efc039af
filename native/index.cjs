'use strict';
// Loads the compiled addon (build/Release/synack_tun.node).
const path = require('node:path');

let binding = null;
let lastError = null;
for (const dir of ['Release', 'Debug']) {
  try {
    binding = require(path.join(__dirname, 'build', dir, 'synack_tun.node'));
    break;
  } catch (e) {
    lastError = e;
  }
}
if (!binding) {
  const e = new Error(
    `synack-tun: the native addon is not built (${lastError && lastError.code === 'MODULE_NOT_FOUND' ? 'no build/Release/synack_tun.node' : String(lastError && lastError.message)}); ` +
      'build it with: npm rebuild synack-tun (needs python3, make and a C++ compiler)',
  );
  e.code = 'ERR_SYNACK_TUN_UNAVAILABLE';
  e.cause = lastError;
  throw e;
}
module.exports = binding;
