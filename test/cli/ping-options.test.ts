/**
 * `synack ping` usage (issue 13): bad DEST, counts, sizes and times, and a
 * DEST of a family no --addr has, are usage errors (exit 2) decided before
 * any device is opened, so these run anywhere. The pings themselves:
 * test/interop/ping.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.ts';
import { memIo } from './mem-io.ts';

test('synack ping: bad arguments exit 2 with a message naming the problem; nothing is opened', async () => {
  const base = ['ping', '--tun', 'tun-none-9', '--addr', '10.9.0.2/24'];
  const cases: Array<[string[], RegExp]> = [
    [[], /one DEST address expected, got 0/],
    [['10.9.0.1', '10.9.0.3'], /one DEST address expected, got 2/],
    [['example.com'], /DEST must be an IPv4 or IPv6 address, got 'example\.com'/],
    [['fd09::1'], /DEST fd09::1 is IPv6, and no --addr of that family is given/],
    [['-c', '0', '10.9.0.1'], /--count expects an integer in 1\.\.65536, got '0'/],
    [['-s', '65508', '10.9.0.1'], /--size expects an integer in 0\.\.65507, got '65508'/],
    [['--interval=-1', '10.9.0.1'], /--interval expects seconds in 0\.\.3600/],
    [['-W', 'x', '10.9.0.1'], /--timeout expects seconds in 0\.\.3600/],
  ];
  for (const [args, re] of cases) {
    const io = memIo();
    assert.equal(await main([...base, ...args], io), 2, `${args.join(' ')}: ${io.err.join('\n')}`);
    assert.match(io.err[0]!, re, args.join(' '));
    assert.match(io.err.join('\n'), /Run 'synack ping --help'/);
  }
  const io = memIo();
  assert.equal(await main(['ping', '--tun', 'tun-none-9', '--addr', 'fd09::2/64', '-s', '65528', 'fd09::1'], io), 2);
  assert.match(io.err[0]!, /--size expects an integer in 0\.\.65527/);
});
