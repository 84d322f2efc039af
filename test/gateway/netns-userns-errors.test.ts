/**
 * The rootless path's errors (`userns`, native/src/netns.cc), without root
 * and without making any device: a bad user namespace path, a file that is
 * not a user namespace, a network namespace path that is not one — each a
 * TunError naming the step (syscall), the errno (code) and the path, as
 * reported by the forked child or found before forking; and the option
 * checks of TapLink and createGateway. The working rootless setup is in
 * netns-rootless.test.ts.
 *
 * Needs the addon: outside CI it skips saying so; in CI it must run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TapLink } from '../../src/links/tap.ts';
import { TunError, tunAvailable } from '../../src/links/tun.ts';
import { createGateway } from '../../src/gateway/gateway.ts';
import { inCi } from '../support/ci.ts';

function addonSkip(): string | false {
  if (process.platform === 'linux' && tunAvailable()) return false;
  const why = process.platform !== 'linux' ? 'not Linux' : 'the TUN addon (synack-tun, the workspace native/) is not built: npm run build:native';
  if (inCi()) throw new Error(`these tests must run in CI, but: ${why}`);
  return `skipped: ${why}`;
}

/** The TunError `fn` throws. */
function tunErrorOf(fn: () => unknown): TunError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TunError, `not a TunError: ${String(e)}`);
    return e;
  }
  assert.fail('no error');
}

describe('TapLink { netns, userns }: errors name the step, the errno and the path', { skip: addonSkip() }, () => {
  test('a user namespace path that does not exist: ENOENT from open, before any fork', () => {
    const e = tunErrorOf(() => new TapLink({ name: 'synrl0', netns: '/proc/self/ns/net', userns: '/nonexistent/ns/user' }));
    assert.equal(e.code, 'ENOENT');
    assert.equal(e.syscall, 'open');
    assert.equal(e.path, '/nonexistent/ns/user');
    assert.match(e.message, /cannot open the user namespace \/nonexistent\/ns\/user: No such file or directory/);
  });

  test('a file that is not a user namespace: EINVAL from the child\'s setns(CLONE_NEWUSER), reported back', () => {
    const e = tunErrorOf(() => new TapLink({ name: 'synrl0', netns: '/proc/self/ns/net', userns: '/proc/self/ns/net' }));
    assert.equal(e.code, 'EINVAL');
    assert.equal(e.syscall, 'setns');
    assert.equal(e.path, '/proc/self/ns/net');
    assert.match(e.message, /cannot enter the user namespace \/proc\/self\/ns\/net: Invalid argument \(is it a user namespace/);
  });

  test('this process\'s own user namespace is not re-entered; a "network namespace" that is not one: EINVAL from setns(CLONE_NEWNET)', () => {
    const e = tunErrorOf(() => new TapLink({ name: 'synrl0', netns: '/proc/self/ns/user', userns: '/proc/self/ns/user' }));
    assert.equal(e.code, 'EINVAL');
    assert.equal(e.syscall, 'setns');
    assert.equal(e.path, '/proc/self/ns/user');
    assert.match(e.message, /cannot enter the network namespace \/proc\/self\/ns\/user from the user namespace \/proc\/self\/ns\/user: Invalid argument \(is it a network namespace/);
  });
});

describe('userns option checks (no addon needed)', () => {
  test('TapLink: userns without netns, configure without userns', () => {
    assert.equal(tunErrorOf(() => new TapLink({ name: 'synrl0', userns: '/proc/self/ns/user' })).code, 'ERR_SYNACK_INVALID_ARG');
    assert.equal(tunErrorOf(() => new TapLink({ name: 'synrl0', netns: '/proc/self/ns/net', configure: { mtu: 1500, address: '10.0.2.100', prefixLen: 24 } })).code, 'ERR_SYNACK_INVALID_ARG');
  });

  test('createGateway: downstream.userns must be a non-empty path', () => {
    assert.throws(() => createGateway({ downstream: { netns: '/proc/self/ns/net', userns: '' } }), { code: 'ERR_SYNACK_INVALID_ARG', message: /downstream\.userns/ });
  });
});
