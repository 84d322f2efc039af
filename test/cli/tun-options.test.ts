/**
 * The link options of the TUN commands (`synack serve`, `connect`, `get`)
 * with IPv6 (issue 12): `--addr` may be repeated and takes IPv4 and IPv6
 * CIDRs, `--peer-addr` likewise; bad CIDRs, an IPv6 address on a link
 * below 1280 octets and IPv6 targets are usage errors (exit 2) with a
 * message saying what is wrong — all decided before any device is opened,
 * so these run anywhere (no root, no /dev/net/tun). The devices themselves:
 * test/interop/ipv6.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.ts';
import { parseLinkArgs, formatCidr } from '../../src/cli/tun-host.ts';
import { parseHostPort } from '../../src/cli/connect.ts';
import { UsageError } from '../../src/cli/options.ts';
import { memIo } from './mem-io.ts';

describe('TUN link options with IPv6', () => {
  it('--addr repeated: an IPv4 and an IPv6 CIDR make one dual-stack interface, in the given order; prefixes default to /24 and /64', () => {
    const a = parseLinkArgs('serve', { tun: 'tun0', addr: ['10.9.0.2/24', 'FD09::2/64', '10.9.1.2', 'fd0a::2'] });
    assert.deepEqual(a.addrs.map(formatCidr), ['10.9.0.2/24', 'fd09::2/64', '10.9.1.2/24', 'fd0a::2/64']);
    const v6only = parseLinkArgs('get', { tun: 'tun0', addr: ['fd09::2/120'], 'peer-addr': ['fd09::1/120', '10.9.0.1/24'] });
    assert.deepEqual(v6only.addrs.map(formatCidr), ['fd09::2/120']);
    assert.deepEqual(v6only.peerAddrs.map(formatCidr), ['fd09::1/120', '10.9.0.1/24']);
  });

  it('bad CIDRs are usage errors (exit 2) that quote the value and say what is wrong; nothing is opened', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--addr', 'fd09::2/129'], /'fd09::2\/129': an IPv6 prefix length is 0\.\.128/],
      [['--addr', 'fd09:::2/64'], /'fd09:::2' is not an IPv6 address/],
      [['--addr', 'fd09::g/64'], /'fd09::g' is not an IPv6 address/],
      [['--addr', 'fd09::2/x'], /the prefix length 'x' is not a number/],
      [['--addr', 'ff02::1/64'], /not a unicast address/],
      [['--addr', '::/0'], /not a unicast address/],
      [['--addr', '::1/128'], /not a unicast address/],
      [['--addr', '::ffff:10.9.0.2/96'], /IPv4-mapped address: give the IPv4 address itself/],
      [['--addr', 'fe80::1%tun0/64'], /is not an IPv6 address/],
      [['--addr', '10.9.0.2/33'], /an IPv4 prefix length is 0\.\.32/],
      [['--addr', '10.9.0/24'], /'10\.9\.0' is not an IPv4 address/],
      [['--addr', '10.9.0.2/24', '--addr', 'fd09::2/64', '--addr', 'FD09:0::2/80'], /--addr fd09::2 is given twice/],
      [['--addr', 'fd09::2/64', '--peer-addr', 'fd09::2/64'], /--peer-addr fd09::2 is synack's own address/],
      [['--addr', '10.9.0.2/24', '--peer-addr', 'fd09::1/200'], /--peer-addr expects .*an IPv6 prefix length is 0\.\.128/],
      [['--addr', '10.9.0.2/24', '--addr', 'fd09::2/64', '--mtu', '1279'], /--mtu 1279 is too small for IPv6 \(--addr fd09::2\/64\): IPv6 needs at least 1280 \(RFC 8200 §5\)/],
    ];
    for (const cmd of ['serve', 'connect', 'get']) {
      const tail = cmd === 'serve' ? ['--echo', '7'] : cmd === 'connect' ? ['[fd09::1]:7'] : ['http://[fd09::1]/'];
      for (const [args, re] of cases) {
        const io = memIo();
        const code = await main([cmd, '--tun', 'tun-none-9', ...args, ...tail], io);
        assert.equal(code, 2, `${cmd} ${args.join(' ')}: ${io.err.join('\n')}`);
        assert.match(io.err[0]!, re, `${cmd} ${args.join(' ')}`);
        assert.match(io.err.join('\n'), new RegExp(`Run 'synack ${cmd} --help'`));
      }
    }
  });

  it('an IPv4-only link may stay below 1280 octets (68 is the IPv4 minimum)', () => {
    const a = parseLinkArgs('serve', { tun: 'tun0', addr: ['10.9.0.2/24'], mtu: '576' });
    assert.equal(a.mtu, 576);
  });

  it('connect takes [IPv6]:PORT; get takes http://[IPv6]:PORT/; unbracketed or bad IPv6 hosts are usage errors', async () => {
    assert.deepEqual(parseHostPort('connect', '[fd09::1]:7'), { host: 'fd09::1', port: 7 });
    assert.deepEqual(parseHostPort('connect', '10.9.0.1:7'), { host: '10.9.0.1', port: 7 });
    for (const bad of ['fd09::1:7', '[fd09::1]', '[fd09:::1]:7', '[10.9.0.1]:7', '[fd09::1]:70000']) {
      assert.throws(() => parseHostPort('connect', bad), UsageError, bad);
    }
    const io = memIo();
    assert.equal(await main(['get', '--tun', 'tun-none-9', '--addr', 'fd09::2/64', 'http://[fd09::zz]/'], io), 2);
    const io2 = memIo();
    assert.equal(await main(['get', '--tun', 'tun-none-9', '--addr', 'fd09::2/64', 'http://example.com/'], io2), 2);
    assert.match(io2.err[0]!, /dotted IPv4 address or a bracketed IPv6 address, got 'example\.com'/);
  });

  it('--help of serve, connect and get documents repeated --addr with IPv6 CIDRs', async () => {
    for (const cmd of ['serve', 'connect', 'get']) {
      const io = memIo();
      assert.equal(await main([cmd, '--help'], io), 0);
      const help = io.out.join('\n');
      assert.match(help, /--addr CIDR/);
      assert.match(help, /Repeat it for a\s+dual-stack host: --addr 10\.9\.0\.2\/24 --addr fd09::2\/64/);
      assert.match(help, /--peer-addr CIDR/);
    }
  });
});
