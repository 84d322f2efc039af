/**
 * The TAP link options (issue 13): `--tap IF` instead of `--tun IF` on
 * `synack serve`, `connect` and `get`, with `--mac` and `--ra PREFIX/64`
 * (router advertisements), and `serve --udp-echo PORT`. Bad values are
 * usage errors (exit 2) that say what is wrong, decided before any device
 * is opened, so these run anywhere (no root). The devices themselves:
 * test/interop/tap.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.ts';
import { parseLinkArgs, formatCidr } from '../../src/cli/tun-host.ts';
import { formatIpAddr } from '../../src/wire/ipv6.ts';
import { memIo } from './mem-io.ts';

describe('TAP link options', () => {
  it('--tap IF with --mac and --ra: a TAP host with its MAC address and the /64 prefixes it advertises', () => {
    const a = parseLinkArgs('serve', { tap: 'tap0', addr: ['10.9.0.2/24', 'fd09::2/64'], mac: '02:00:00:00:00:0A', ra: ['fd09::/64', 'FD0A:1:2:3::/64'] });
    assert.equal(a.kind, 'tap');
    assert.equal(a.tun, 'tap0');
    assert.equal(a.mac, 0x02000000000a);
    assert.deepEqual(a.raPrefixes.map(formatIpAddr), ['fd09::', 'fd0a:1:2:3::']);
    assert.deepEqual(a.addrs.map(formatCidr), ['10.9.0.2/24', 'fd09::2/64']);
    const t = parseLinkArgs('serve', { tun: 'tun0', addr: ['10.9.0.2/24'] });
    assert.equal(t.kind, 'tun');
    assert.equal(t.mac, null);
    assert.deepEqual(t.raPrefixes, []);
  });

  it('bad TAP options are usage errors (exit 2) that say what is wrong; nothing is opened', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--tun', 'tun-none-9', '--tap', 'tap-none-9', '--addr', '10.9.0.2/24'], /--tun and --tap cannot be combined/],
      [['--addr', '10.9.0.2/24'], /--tun IF or --tap IF is required/],
      [['--tun', 'tun-none-9', '--addr', '10.9.0.2/24', '--mac', '02:00:00:00:00:01'], /--mac needs --tap/],
      [['--tun', 'tun-none-9', '--addr', '10.9.0.2/24', '--ra', 'fd09::/64'], /--ra needs --tap/],
      [['--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--mac', '02:00:00:00:01'], /--mac expects a MAC address like 02:00:00:00:00:02, got '02:00:00:00:01'/],
      [['--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--mac', '01:00:5e:00:00:01'], /multicast address/],
      [['--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--ra', 'fd09::/48'], /--ra expects an IPv6 prefix of length 64.*only from \/64 prefixes \(RFC 4862 §5\.5\.3\)/],
      [['--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--ra', 'fd09::'], /only from \/64 prefixes/],
      [['--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--ra', '10.9.0.0/24'], /not an IPv6 prefix/],
      [['--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--ra', 'fe80::/64'], /the link-local prefix is not advertised/],
      [['--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--ra', 'fd09::1/64'], /the interface-identifier half must be zero/],
      [['--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--ra', 'fd09::/64', '--ra', 'fd09:0::/64'], /--ra fd09:0::\/64 is given twice/],
      [['--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--ra', 'fd09::/64', '--mtu', '1000'], /--mtu 1000 is too small for IPv6 \(--ra\)/],
      [['--tap', 'tap-none-9'], /--addr CIDR is required/],
    ];
    for (const cmd of ['serve', 'connect', 'get']) {
      const tail = cmd === 'serve' ? ['--echo', '7'] : cmd === 'connect' ? ['10.9.0.1:7'] : ['http://10.9.0.1/'];
      for (const [args, re] of cases) {
        const io = memIo();
        const code = await main([cmd, ...args, ...tail], io);
        assert.equal(code, 2, `${cmd} ${args.join(' ')}: ${io.err.join('\n')}`);
        assert.match(io.err[0]!, re, `${cmd} ${args.join(' ')}`);
      }
    }
  });

  it('serve --udp-echo takes a port (1..65535) and counts as a service; the same port may serve TCP echo too', async () => {
    for (const bad of ['0', '65536', 'x', '7.5']) {
      const io = memIo();
      assert.equal(await main(['serve', '--tap', 'tap-none-9', '--addr', '10.9.0.2/24', '--udp-echo', bad], io), 2);
      assert.match(io.err[0]!, new RegExp(`--udp-echo expects a port in 1\\.\\.65535, got '${bad.replace('.', '\\.')}'`));
    }
    const none = memIo();
    assert.equal(await main(['serve', '--tap', 'tap-none-9', '--addr', '10.9.0.2/24'], none), 2);
    assert.match(none.err[0]!, /--http or --udp-echo PORT/);
  });

  it('--help of serve, connect and get documents --tap, --mac and --ra; serve\'s documents --udp-echo', async () => {
    for (const cmd of ['serve', 'connect', 'get']) {
      const io = memIo();
      assert.equal(await main([cmd, '--help'], io), 0);
      const text = io.out.join('\n');
      assert.match(text, /--tun IF \| --tap IF/);
      assert.match(text, /--tap IF {2,}or a TAP device \(Ethernet frames/);
      assert.match(text, /--mac MAC/);
      assert.match(text, /--ra PREFIX\/64/);
      if (cmd === 'serve') assert.match(text, /--udp-echo PORT +UDP echo \(RFC 862 over UDP\)/);
    }
  });
});
