/**
 * `synack gateway`'s limit and relay options (issue 15): --max-pending-connects,
 * --max-buffered-bytes, --keepalive and --max-echo-flows are documented in
 * --help and their bad values are usage errors (exit 2) naming the option.
 * What they do is tested on the library (test/gateway/limits.test.ts,
 * icmp-relay.test.ts) and through the CLI in a namespace
 * (test/gateway/netns-icmp.test.ts runs with --max-echo-flows, --keepalive,
 * --max-pending-connects and --max-buffered-bytes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.ts';
import { memIo } from './mem-io.ts';

test('synack gateway --help documents the limits, keepalive and the ICMP echo relay', async () => {
  const io = memIo();
  assert.equal(await main(['gateway', '--help'], io), 0);
  const help = io.out.join('\n');
  for (const opt of ['--max-pending-connects N', '--max-buffered-bytes N', '--keepalive SECONDS', '--max-echo-flows N', '--host-sockets KIND', '--no-idle-trim']) assert.ok(help.includes(opt), opt);
  assert.match(help, /ping_group_range/);
  assert.doesNotMatch(help, /Not yet:[^]*ICMP echo/);
});

test('synack gateway: bad limit values are usage errors (exit 2) naming the option', async () => {
  for (const [argv, re] of [
    [['--max-pending-connects', '0'], /--max-pending-connects/],
    [['--max-buffered-bytes', 'lots'], /--max-buffered-bytes/],
    [['--keepalive', '0'], /--keepalive/],
    [['--keepalive', '1e9'], /--keepalive/],
    [['--max-echo-flows', '-1'], /--max-echo-flows/],
    [['--host-sockets', 'kernel'], /--host-sockets/],
  ] as Array<[string[], RegExp]>) {
    const io = memIo();
    assert.equal(await main(['gateway', '--qemu-socket', '/nonexistent/x', ...argv], io), 2, argv.join(' '));
    assert.match(io.err.join('\n'), re);
  }
});
