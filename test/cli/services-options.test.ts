/**
 * `synack serve`'s service options (issue 13): --dns / --dns-upstream (a
 * DNS forwarder), --dhcp-server START-END (a DHCP server), --dhcp (synack's
 * own address by DHCP). Parsed (usage errors, exit 2, before anything is
 * opened) and started on in-memory Ethernet hosts under the virtual clock;
 * over a real TAP device after the TAP link lands.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.ts';
import { parseServicesArgs, startServices, SERVICES_OPTIONS, ServiceError } from '../../src/cli/services-options.ts';
import { parseOptions, UsageError } from '../../src/cli/options.ts';
import { parseLinkArgs } from '../../src/cli/tun-host.ts';
import { createMemoryNetwork } from '../../src/index.ts';
import { memIo } from './mem-io.ts';

const parse = (argv: string[]) => parseServicesArgs('serve', parseOptions('serve', argv, SERVICES_OPTIONS).values);

describe('serve: --dns, --dhcp-server, --dhcp', () => {
  it('parses the options: ports, upstream with and without a port, the pool, router, domain, lease', () => {
    assert.deepEqual(parse(['--dns', '53', '--dns-upstream', '127.0.0.1:5353']), { dnsPort: 53, dnsUpstream: { address: '127.0.0.1', port: 5353 }, dhcpServer: null, dhcp: false });
    assert.deepEqual(parse(['--dns', '5353', '--dns-upstream', '[fd00::1]:53']).dnsUpstream, { address: 'fd00::1', port: 53 });
    assert.deepEqual(parse(['--dns', '53', '--dns-upstream', '10.0.0.1']).dnsUpstream, { address: '10.0.0.1', port: 53 });
    assert.deepEqual(parse(['--dhcp-server', '192.168.7.100-192.168.7.199', '--dhcp-router', '192.168.7.1', '--dhcp-domain', 'lan.test', '--dhcp-lease', '600']).dhcpServer, {
      start: '192.168.7.100', end: '192.168.7.199', router: '192.168.7.1', domain: 'lan.test', leaseTime: 600,
    });
    assert.equal(parse(['--dhcp']).dhcp, true);
  });

  it('bad values and combinations are usage errors that say what is wrong', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--dns', '0', '--dns-upstream', '10.0.0.1'], /--dns expects a port in 1\.\.65535, got '0'/],
      [['--dns', '53'], /--dns needs --dns-upstream/],
      [['--dns-upstream', '10.0.0.1'], /--dns-upstream is used only with --dns/],
      [['--dns', '53', '--dns-upstream', 'resolver.example'], /--dns-upstream expects ADDR or ADDR:PORT/],
      [['--dns', '53', '--dns-upstream', '10.0.0.1:99999'], /--dns-upstream expects ADDR or ADDR:PORT/],
      [['--dhcp-server', '192.168.7.100'], /--dhcp-server expects START-END/],
      [['--dhcp-server', '192.168.7.200-192.168.7.100'], /the end 192\.168\.7\.100 is below the start/],
      [['--dhcp-server', '192.168.7.1-192.168.7.9', '--dhcp-lease', '5'], /--dhcp-lease expects seconds \(at least 60\)/],
      [['--dhcp-server', '192.168.7.1-192.168.7.9', '--dhcp-router', 'gw'], /--dhcp-router expects an IPv4 address/],
      [['--dhcp-router', '192.168.7.1'], /--dhcp-router is used only with --dhcp-server/],
      [['--dhcp', '--dhcp-server', '192.168.7.1-192.168.7.9'], /--dhcp and --dhcp-server exclude each other/],
    ];
    for (const [argv, re] of cases) assert.throws(() => parse(argv), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
  });

  it('synack serve reports them as usage errors (exit 2) and lists them in --help', async () => {
    const io = memIo();
    assert.equal(await main(['serve', '--tun', 'tun0', '--addr', '10.9.0.2/24', '--dns', '53'], io), 2);
    assert.match(io.err.join('\n'), /--dns needs --dns-upstream/);
    const tun = memIo();
    assert.equal(await main(['serve', '--tun', 'tun0', '--addr', '10.9.0.2/24', '--dhcp-server', '10.9.0.100-10.9.0.120'], tun), 2);
    assert.match(tun.err.join('\n'), /--dhcp-server needs an Ethernet link \(--tap IF\)/);
    const tun2 = memIo();
    assert.equal(await main(['serve', '--tun', 'tun0', '--dhcp', '--http', '80'], tun2), 2);
    assert.match(tun2.err.join('\n'), /--dhcp needs an Ethernet link \(--tap IF\)/);
    // With --tap, --dhcp stands in for --addr (nothing is opened by parsing).
    assert.deepEqual(parseLinkArgs('serve', { tap: 'tap0', dhcp: true }).addrs, []);
    const noAddr = memIo();
    assert.equal(await main(['serve', '--tap', 'tap-none-9', '--http', '80'], noAddr), 2);
    assert.match(noAddr.err.join('\n'), /--addr CIDR is required .*serve --dhcp/);
    const help = memIo();
    assert.equal(await main(['serve', '--help'], help), 0);
    for (const o of ['--dns PORT', '--dns-upstream ADDR[:PORT]', '--dhcp-server START-END', '--dhcp-router', '--dhcp-lease', '--dhcp ']) assert.ok(help.out.join('\n').includes(o), o);
  });

  it('started on in-memory Ethernet hosts: a server with --dhcp-server and --dns 53, a second synack with --dhcp gets a lease naming it as DNS server and resolves through it', async () => {
    const l = createMemoryNetwork({ seed: 11, virtualTime: true, ethernet: true });
    const srv = l.host('192.168.7.1');
    const up = l.host('192.168.7.2');
    const zone = up.dnsZone({ port: 5353, origin: 'lan.test', names: { 'web.lan.test': '192.168.7.2' } });
    const s = await startServices(parse(['--dns', '53', '--dns-upstream', '192.168.7.2:5353', '--dhcp-server', '192.168.7.100-192.168.7.150', '--dhcp-router', '192.168.7.1', '--dhcp-lease', '600']),
      { stack: srv.stack, driver: l.driver, net: srv.net, eth: srv.eth }, 1);
    assert.equal(s.describe, 'dns=53 dhcp-server=192.168.7.100-192.168.7.150');
    const cli = l.host(null);
    const c = await startServices(parse(['--dhcp']), { stack: cli.stack, driver: l.driver, net: cli.net, eth: cli.eth }, 2);
    assert.equal(c.address, '192.168.7.100');
    assert.equal(c.describe, 'dhcp=192.168.7.100/24 gw=192.168.7.1 dns-servers=192.168.7.1 mtu=1500');
    // The --dhcp side resolves names through the forwarder the lease named (its own resolver, from option 6).
    const found = await new Promise<unknown>((done) => lookupVia(c, 'web.lan.test', done));
    assert.equal(found, '192.168.7.2');
    assert.equal(s.dns!.forwarder.answered['upstream'], 1);
    c.stop();
    s.stop();
    zone.close();
    l.stop();
  });

  it('--dhcp and --dhcp-server need an Ethernet link: a layer-3 host refuses them', async () => {
    const l = createMemoryNetwork({ seed: 12, virtualTime: true });
    const h = l.host('10.0.0.1');
    await assert.rejects(startServices(parse(['--dhcp']), { stack: h.stack, driver: l.driver, net: h.net, eth: h.eth }, 1), (e: unknown) => e instanceof ServiceError && /--dhcp needs an Ethernet link/.test((e as Error).message));
    l.stop();
  });
});

/** A dns.lookup through the resolver the --dhcp client configured. */
function lookupVia(c: Awaited<ReturnType<typeof startServices>>, name: string, done: (a: unknown) => void): void {
  const r = c.resolver;
  assert.ok(r, 'option 6 configured a resolver');
  r.lookup(name, { family: 4 }, (err, address) => done(err ?? address));
}
