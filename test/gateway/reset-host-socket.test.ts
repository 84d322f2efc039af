/**
 * The gateway resets a host socket when the guest's side fails or the
 * gateway stops (RFC 9293 §3.10.7.1 carried across: a reset from one side
 * becomes a reset on the other). libuv refuses uv_tcp_close_reset() while a
 * shutdown (our FIN) is in flight, and Node 20 then keeps the handle open
 * forever: `synack gateway` spun at 100 % CPU after "stopped" when SIGTERM
 * came while a forwarded connection was half-closed. resetHostSocket closes
 * such a socket instead; the process exits by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const root = new URL('../../', import.meta.url).pathname;

test('resetHostSocket on a host socket whose FIN is in flight closes it without an error, and the process exits by itself', { timeout: 60_000 }, async () => {
  const p = spawn(process.execPath, ['--import', 'tsx', 'test/gateway/reset-while-shutting.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  // A process that never exits is killed by PID after 30 s: the test then fails on the signal.
  const guard = setTimeout(() => p.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => p.once('close', (c, s) => resolve([c, s])));
  clearTimeout(guard);
  assert.equal(signal, null, `the process did not exit by itself:\n${out}`);
  assert.equal(code, 0, out);
  assert.match(out, /^shutting true$/m);
  assert.match(out, /^closed$/m);
  assert.doesNotMatch(out, /^error/m);
});
