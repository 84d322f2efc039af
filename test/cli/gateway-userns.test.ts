/**
 * `synack gateway --userns PATH` (rootless namespaces): documented in
 * --help, a usage error (exit 2, naming the option) without --netns or with
 * an empty path. What it does is tested for real in
 * test/gateway/netns-rootless.test.ts (an unprivileged user serving a
 * namespace of `unshare --user --map-root-user --net`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.ts';
import { memIo } from './mem-io.ts';

test('synack gateway --help documents --userns (rootless, like slirp4netns --userns-path)', async () => {
  const io = memIo();
  assert.equal(await main(['gateway', '--help'], io), 0);
  const help = io.out.join('\n');
  assert.match(help, /--netns PATH \[--userns PATH\]/);
  assert.match(help, /--userns PATH {2,}with --netns: the user namespace that owns it/);
  assert.match(help, /slirp4netns --userns-path/);
  assert.match(help, /synack gateway --netns \/proc\/\$!\/ns\/net --userns \/proc\/\$!\/ns\/user/);
});

test('synack gateway --userns: usage errors (exit 2) naming the option', async () => {
  for (const [argv, re] of [
    [['--qemu-socket', '/nonexistent/x', '--userns', '/proc/self/ns/user'], /--userns names the user namespace that owns the --netns namespace/],
    [['--websocket', '127.0.0.1:8086', '--userns', '/proc/self/ns/user'], /--userns names the user namespace/],
    [['--netns', '/proc/self/ns/net', '--userns', ''], /--userns: the path of a user namespace is required/],
  ] as Array<[string[], RegExp]>) {
    const io = memIo();
    assert.equal(await main(['gateway', ...argv], io), 2, argv.join(' '));
    assert.match(io.err.join('\n'), re);
  }
});
