/**
 * DHCPv4 on running synack hosts (issue 13): the client and server engines
 * bound to the stacks' UDP ports by services/udp-service.ts and polled on
 * the stacks' virtual clock, over the in-memory Ethernet switch
 * (createMemoryNetwork({ ethernet: true })), impairments included.
 * Everything here steps the simulated network synchronously: same seed,
 * same history.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryNetwork, type MemoryNetwork } from '../../src/index.ts';
import { seconds } from '../../src/base/time.ts';
import { Rng } from '../../src/base/rng.ts';
import { ipv4Addr, ipv4ToString, parseIpv4Addr } from '../../src/wire/bytes.ts';
import { BOOTREQUEST, buildDhcp, DHCP_FLAG_BROADCAST, DHCPDISCOVER, parseDhcp, dhcpMessageType } from '../../src/wire/dhcp.ts';
import { macToBytes, parseEthernet } from '../../src/wire/ethernet.ts';
import { parseArp, type ArpRepr } from '../../src/wire/arp.ts';
import { getU32 } from '../../src/wire/bytes.ts';
import { DhcpClientHost, DhcpServerHost } from '../../src/services/dhcp-host.ts';
import type { DhcpClientEvent } from '../../src/services/dhcp-client.ts';
import { UdpService } from '../../src/services/udp-service.ts';
import type { Impairments } from '../../src/links/memory.ts';

const LEASE = 600;
/**
 * How long binding may take: up to 10 s before the first DISCOVER (RFC 2131
 * §4.4.1), the exchange, then up to 7 s of ARP probing of the offered
 * address (RFC 5227 §2.1.1: ≤ PROBE_WAIT 1 s, two gaps of ≤ PROBE_MAX 2 s,
 * ANNOUNCE_WAIT 2 s).
 */
const BIND_US = seconds(25);

function lan(seed = 1, impair?: Partial<Impairments>): MemoryNetwork {
  return createMemoryNetwork({ seed, virtualTime: true, ethernet: true, ...(impair ? { impair } : {}) });
}

function serve(l: MemoryNetwork, extra: Record<string, unknown> = {}) {
  const srv = l.host('192.168.7.1', { name: 'srv' });
  const dhcp = srv.dhcpServer({
    poolStart: '192.168.7.100', poolEnd: '192.168.7.199', router: '192.168.7.1', dns: ['192.168.7.1'],
    domainName: 'lan.test', mtu: 1400, leaseTime: LEASE, ...extra,
  });
  return { srv, dhcp };
}

/** A client host without an address, its DHCP client (not holding the driver: the test steps the network), and a log of its states and events. */
function client(l: MemoryNetwork, mac?: string, name?: string, arpProbe = true) {
  const host = l.host(null, { ...(mac ? { mac } : {}), ...(name ? { name } : {}) });
  const events: Array<{ at: number; ev: DhcpClientEvent }> = [];
  const h = host.dhcp({ ref: false, arpProbe, onEvent: (ev) => events.push({ at: host.stack.clock.now(), ev }) });
  return { host, h, events };
}

/** The DHCP datagrams a host sends and receives: time, direction, IP source and destination, message type. */
function dhcpLog(host: { eth: { tap: ((dir: 'in' | 'out', frame: Uint8Array) => void) | null } | null; stack: { clock: { now(): number } } }) {
  const log: Array<{ at: number; dir: 'in' | 'out'; src: number; dst: number; type: number | undefined }> = [];
  host.eth!.tap = (dir, frame) => {
    const f = parseEthernet(frame);
    if (!f.ok || f.value.header.ethertype !== 0x0800) return;
    const p = f.value.payload;
    if (p[9] !== 17) return;
    const ihl = (p[0]! & 15) * 4;
    const m = parseDhcp(p.subarray(ihl + 8));
    if (!m.ok) return;
    log.push({ at: host.stack.clock.now(), dir, src: getU32(p, 12), dst: getU32(p, 16), type: dhcpMessageType(m.value) });
  };
  return log;
}

const bounds = (events: Array<{ at: number; ev: DhcpClientEvent }>) => events.filter((e) => e.ev.type === 'bound');

describe('DHCPv4 on synack hosts (RFC 2131) over the in-memory Ethernet switch', () => {
  test('RFC 2131 §4.4.1: a host without an address is bound by DISCOVER → OFFER → REQUEST → ACK and configures address, mask, gateway, MTU (option 26) and DNS', () => {
    const l = lan();
    const { srv, dhcp } = serve(l);
    const c = client(l, undefined, 'laptop');
    assert.equal(c.host.address, '');
    assert.equal(l.hosts.get('laptop'), undefined);
    assert.deepEqual(c.host.eth!.iface.addrs, []);
    l.network.runUntil(() => c.h.config !== null, { until: BIND_US });
    assert.equal(c.h.client.state, 'BOUND');
    assert.equal(c.host.address, '192.168.7.100');
    assert.equal(l.hosts.get('laptop'), '192.168.7.100', 'its name now resolves on the LAN');
    assert.deepEqual(c.host.eth!.iface.addrs, [{ addr: ipv4Addr(192, 168, 7, 100), prefixLen: 24 }]);
    assert.equal(c.host.eth!.gatewayV4, ipv4Addr(192, 168, 7, 1));
    assert.equal(c.host.eth!.iface.mtu, 1400);
    assert.deepEqual(c.h.config, { address: '192.168.7.100', prefixLen: 24, gateway: '192.168.7.1', dns: ['192.168.7.1'], domainName: 'lan.test', mtu: 1400 });
    // Option 6 configured the stub resolver.
    assert.ok(c.host.resolver);
    assert.equal(dhcp.server.binding(ipv4Addr(192, 168, 7, 100))?.state, 'bound');
    // The server learned the client's MAC from its gratuitous ARP or the exchange; the client's address now answers TCP.
    srv.stack.listen(7);
    const conn = srv.stack.connect(ipv4Addr(192, 168, 7, 100), 9);
    l.network.runUntil(() => conn.state === 'CLOSED', { until: l.network.clock.now() + seconds(5) });
    assert.equal(srv.eth!.neighbors.get(ipv4Addr(192, 168, 7, 100))?.mac, c.host.eth!.mac);
    l.stop();
  });

  test('RFC 2131 §4.1: the client broadcasts from 0.0.0.0 before it is bound; the server answers the broadcast bit by broadcast', () => {
    const l = lan(2);
    serve(l);
    const c = client(l);
    const frames = dhcpLog(c.host);
    l.network.runUntil(() => c.h.config !== null, { until: BIND_US });
    assert.deepEqual(frames.map((f) => f.type), [1, 2, 3, 5]); // DISCOVER, OFFER, REQUEST, ACK
    for (const f of frames) assert.equal(f.dst, 0xffffffff);
    assert.equal(frames[0]!.src, 0);
    assert.equal(frames[2]!.src, 0);
    assert.equal(frames[1]!.src, ipv4Addr(192, 168, 7, 1));
    l.stop();
  });

  test('RFC 2131 §4.4.5: at T1 the client renews by unicast to its server and stays bound, at the same address', () => {
    const l = lan(3);
    const { dhcp } = serve(l);
    const c = client(l);
    const log = dhcpLog(c.host);
    l.network.runUntil(() => c.h.config !== null, { until: BIND_US });
    const first = bounds(c.events)[0]!.ev as Extract<DhcpClientEvent, { type: 'bound' }>;
    l.network.runUntil(() => bounds(c.events).length === 2, { until: first.lease.t1 + seconds(5) });
    const second = bounds(c.events)[1]!;
    assert.ok(second.at >= first.lease.t1 && second.at < first.lease.t2, 'renewed between T1 and T2');
    assert.equal((second.ev as typeof first).lease.addr, first.lease.addr);
    const renew = log.find((x) => x.dir === 'out' && x.at >= first.lease.t1)!;
    assert.deepEqual([renew.type, renew.src, renew.dst], [3, first.lease.addr, ipv4Addr(192, 168, 7, 1)], 'DHCPREQUEST from the leased address to the server');
    assert.equal(c.h.client.state, 'BOUND');
    // The lease was extended on the server too.
    assert.ok(dhcp.server.binding(first.lease.addr)!.expires > first.lease.expires);
    l.stop();
  });

  test('RFC 2131 §4.4.5: no answer to the renewal → REBINDING at T2 by broadcast, answered by the server back with its lease database', () => {
    const l = lan(4);
    const { srv, dhcp } = serve(l);
    const c = client(l);
    const log = dhcpLog(c.host);
    const states: string[] = [];
    l.network.runUntil(() => c.h.config !== null, { until: BIND_US });
    const lease = c.h.client.lease!;
    dhcp.stop(); // the server goes away before T1 …
    l.network.runUntil(() => l.network.clock.now() >= lease.t1 - seconds(1), { until: lease.t1 });
    l.network.runFor(seconds(1));
    states.push(c.h.client.state);
    // … and comes back with its database (a restart that kept the lease file), after the last renewal attempt (T2 − 52.5 s) and before T2.
    l.network.runFor(lease.t2 - seconds(10) - l.network.clock.now());
    states.push(c.h.client.state);
    const back = new DhcpServerHost(srv.eth!, { engine: dhcp.server } as never);
    l.network.runUntil(() => bounds(c.events).length === 2, { until: lease.t2 + seconds(5) });
    const renewed = bounds(c.events)[1]!;
    assert.deepEqual(states, ['RENEWING', 'RENEWING']);
    assert.ok(renewed.at >= lease.t2, 'the answer came to the broadcast of REBINDING, after T2');
    const sent = log.filter((x) => x.dir === 'out' && x.at >= lease.t1).map((x) => [Math.round((x.at - lease.t1) / 1e5) / 10, x.dst === 0xffffffff ? 'broadcast' : 'unicast']);
    // Renewing: at T1, then half the time left to T2 (≥ 60 s): +112.5 s, +172.5 s, then T2 (+225 s) rebinding by broadcast.
    assert.deepEqual(sent, [[0, 'unicast'], [112.5, 'unicast'], [172.5, 'unicast'], [225, 'broadcast']]);
    assert.equal(c.h.client.state, 'BOUND');
    assert.equal(c.host.address, ipv4ToString(lease.addr));
    back.stop();
    l.stop();
  });

  test('RFC 2131 §4.4.5: the lease expires without an answer: the address, gateway and MTU go, TCP connections from it are aborted, and the client starts over', () => {
    const l = lan(5);
    const { srv, dhcp } = serve(l);
    const c = client(l);
    l.network.runUntil(() => c.h.config !== null, { until: BIND_US });
    const lease = c.h.client.lease!;
    srv.stack.listen(80);
    const conn = c.host.stack.connect(ipv4Addr(192, 168, 7, 1), 80);
    l.network.runUntil(() => conn.state === 'ESTABLISHED', { until: l.network.clock.now() + seconds(5) });
    const peer = srv.stack.connections().find((x) => x.state === 'ESTABLISHED')!;
    dhcp.stop();
    l.network.runUntil(() => c.events.some((e) => e.ev.type === 'expired'), { until: lease.expires + seconds(1) });
    const expired = c.events.find((e) => e.ev.type === 'expired')!;
    assert.ok(expired.at >= lease.expires);
    assert.deepEqual(c.host.eth!.iface.addrs, []);
    assert.equal(c.host.stack.isLocalAddr(lease.addr), false);
    assert.equal(c.host.eth!.gatewayV4, null);
    assert.equal(c.host.eth!.iface.mtu, 1500);
    assert.equal(c.h.config, null);
    assert.equal(c.host.resolver, null);
    assert.equal(conn.state, 'CLOSED');
    assert.equal(c.h.client.abortedConnections, 1);
    l.network.runFor(seconds(1));
    assert.equal(peer.state, 'CLOSED', 'the peer got the RST');
    assert.equal(c.h.client.state, 'SELECTING');
    l.stop();
  });

  test('RFC 2131 §4.3.2: a restarted server that gave the address to another client NAKs the renewal; the client drops the address and gets a new one', () => {
    const l = lan(6);
    const { srv, dhcp } = serve(l);
    const a = client(l, '02:00:00:00:00:a1');
    l.network.runUntil(() => a.h.config !== null, { until: BIND_US });
    assert.equal(a.host.address, '192.168.7.100');
    const lease = a.h.client.lease!;
    // The server restarts without its lease database; a second client asks first and gets .100
    // (one that does not probe the address: RFC 2131 §4.4.1's check is a SHOULD; with it, see the next test).
    dhcp.stop();
    const fresh = srv.dhcpServer({ poolStart: '192.168.7.100', poolEnd: '192.168.7.199', router: '192.168.7.1', leaseTime: LEASE });
    const b = client(l, '02:00:00:00:00:b2', undefined, false);
    l.network.runUntil(() => b.h.config !== null, { until: l.network.clock.now() + BIND_US });
    assert.equal(b.host.address, '192.168.7.100');
    // At T1, A's renewal (ciaddr .100) meets B's binding: DHCPNAK.
    l.network.runUntil(() => a.events.some((e) => e.ev.type === 'nak'), { until: lease.t1 + seconds(5) });
    const kinds = a.events.map((e) => e.ev.type);
    assert.deepEqual(kinds.slice(0, 3), ['bound', 'nak', 'expired']);
    assert.equal(a.host.stack.isLocalAddr(lease.addr), false);
    l.network.runUntil(() => bounds(a.events).length === 2, { until: l.network.clock.now() + BIND_US });
    assert.equal(a.host.address, '192.168.7.101');
    assert.equal(fresh.server.binding(ipv4Addr(192, 168, 7, 101))?.state, 'bound');
    l.stop();
  });

  test('RFC 2131 §4.1: with 30 % frame loss the client retransmits (4 s, 8 s, … ±1 s) until it is bound', () => {
    const l = lan(7, { loss: 0.3, delayUs: 1000 });
    const { dhcp } = serve(l);
    const offers: number[] = [];
    const c = client(l);
    void dhcp;
    let sent = 0;
    c.host.eth!.tap = (dir, frame) => {
      if (dir !== 'out') return;
      const f = parseEthernet(frame);
      if (f.ok && f.value.header.ethertype === 0x0800 && f.value.payload[9] === 17) sent++;
    };
    l.network.runUntil(() => c.h.config !== null, { until: seconds(200) });
    void offers;
    assert.ok(l.switch!.stats.lost > 0, 'frames were lost');
    assert.ok(sent > 2, `the client retransmitted (${sent} datagrams for one lease)`);
    assert.equal(c.h.client.state, 'BOUND');
    assert.equal(c.host.address, '192.168.7.100');
    l.stop();
  });

  test('RFC 2131 §4.3.1, bounded state: a DISCOVER flood from 5000 random MACs holds at most maxOffers offers, every other DISCOVER is a counted drop, and a real client is served once offers time out', () => {
    const l = lan(8);
    const { dhcp } = serve(l, { maxOffers: 16 });
    const attacker = l.host('192.168.7.66');
    const out = new UdpService(attacker.stack, { port: 68, iface: attacker.eth!.iface, broadcast: true }, () => {});
    const rng = new Rng(99);
    const N = 5000;
    for (let i = 0; i < N; i++) {
      const mac = 0x020000000000 + (rng.nextU32() & 0xffffff);
      const payload = buildDhcp({
        op: BOOTREQUEST, htype: 1, hops: 0, xid: rng.nextU32(), secs: 0, flags: DHCP_FLAG_BROADCAST, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
        chaddr: macToBytes(mac), sname: '', file: '', options: [{ kind: 'message-type', type: DHCPDISCOVER }],
      });
      out.send({ payload, address: '255.255.255.255', port: 67, srcPort: 68, srcAddress: '0.0.0.0', broadcast: true });
      if (i % 100 === 99) l.network.runFor(1000);
    }
    l.network.runFor(seconds(1));
    const drops = dhcp.server.drops;
    const rcvbuf = dhcp.udp.socket; // receive-buffer overflow is the stack's own counted drop
    const stackDrops = l.network.stacks[0]!.counters.drops as Record<string, number>;
    const offersMade = N - (drops['offer-limit'] ?? 0) - (stackDrops['udp-rcvbuf-full'] ?? 0);
    assert.ok(dhcp.server.pendingOffers <= 16);
    assert.ok(dhcp.server.size <= 100, `bindings bounded by the pool (${dhcp.server.size})`);
    assert.equal(offersMade, 16, 'every DISCOVER but the 16 offered is counted: offer-limit or a full receive buffer');
    assert.equal(dhcp.server.pendingOffers, 16);
    if (process.env['SYNACK_VERBOSE']) console.log({ offersMade, drops, rcvbufFull: stackDrops['udp-rcvbuf-full'] ?? 0, pending: dhcp.server.pendingOffers, size: dhcp.server.size });
    assert.equal(rcvbuf.queue.length, 0);
    // The offers expire (30 s) and a real client gets a lease.
    const c = client(l);
    l.network.runUntil(() => c.h.config !== null, { until: l.network.clock.now() + seconds(120) });
    assert.equal(c.h.client.state, 'BOUND');
    out.close();
    l.stop();
  });

  test('the client, server and their timers leave the stack when stopped; release gives the address back (RFC 2131 §4.4.6)', () => {
    const l = lan(9);
    const { dhcp } = serve(l);
    const c = client(l);
    l.network.runUntil(() => c.h.config !== null, { until: BIND_US });
    const addr = parseIpv4Addr(c.host.address)!;
    c.h.release();
    l.network.runFor(seconds(1));
    assert.equal(dhcp.server.binding(addr)?.state, 'free');
    assert.equal(c.host.stack.isLocalAddr(addr), false);
    // Only the Ethernet interface's own timers remain: the client's port and timer, and the resolver option 6 made, are gone.
    assert.deepEqual(c.host.stack.linkTimers, [c.host.eth]);
    assert.equal(c.host.stack.udp.size, 0);
    l.stop();
  });
});

void DhcpClientHost;

/** The ARP packets a host sends and receives, with the time. */
function arpLog(host: { eth: { tap: ((dir: 'in' | 'out', frame: Uint8Array) => void) | null } | null; stack: { clock: { now(): number } } }) {
  const log: Array<{ at: number; dir: 'in' | 'out'; dst: number; arp: ArpRepr }> = [];
  host.eth!.tap = (dir, frame) => {
    const f = parseEthernet(frame);
    if (!f.ok || f.value.header.ethertype !== 0x0806) return;
    const a = parseArp(f.value.payload);
    if (a.ok) log.push({ at: host.stack.clock.now(), dir, dst: f.value.header.dst, arp: a.value });
  };
  return log;
}

describe('DHCPv4: the ARP probe of the offered address (RFC 2131 §4.4.1, RFC 5227 §2.1.1)', () => {
  const ADDR = ipv4Addr(192, 168, 7, 100);

  test('RFC 5227 §2.1.1: after the DHCPACK the client sends 3 ARP Probes (sender 0.0.0.0, target the address, broadcast) 1–2 s apart, and uses the address only 2 s after the last', () => {
    const l = lan(11);
    serve(l);
    const c = client(l);
    const arp = arpLog(c.host);
    let onIfaceWhileProbing = false;
    l.network.runUntil(() => {
      if (c.h.client.probingAddr !== null && c.host.stack.isLocalAddr(ADDR)) onIfaceWhileProbing = true;
      return c.h.config !== null;
    }, { until: BIND_US });
    const ack = c.events.length; // bound is reported once, after the probe
    assert.equal(ack, 1);
    const probes = arp.filter((x) => x.dir === 'out' && x.arp.senderIp === 0);
    assert.equal(probes.length, 3);
    for (const p of probes) {
      assert.equal(p.arp.op, 'request');
      assert.equal(p.arp.targetIp, ADDR);
      assert.equal(p.arp.senderMac, c.host.eth!.mac);
      assert.equal(p.arp.targetMac, 0);
      assert.equal(p.dst, 0xffffffffffff, 'broadcast');
    }
    for (let i = 1; i < 3; i++) {
      const gap = probes[i]!.at - probes[i - 1]!.at;
      assert.ok(gap >= seconds(1) && gap <= seconds(2), `gap ${gap} µs (PROBE_MIN..PROBE_MAX)`);
    }
    const bound = c.events[0]!;
    assert.equal(bound.at - probes[2]!.at, seconds(2), 'ANNOUNCE_WAIT after the last probe');
    assert.ok(!onIfaceWhileProbing, 'the address is not ours while it is probed');
    // Then the announcement (RFC 5227 §2.3): sender and target the new address.
    assert.ok(arp.some((x) => x.dir === 'out' && x.at === bound.at && x.arp.senderIp === ADDR && x.arp.targetIp === ADDR));
    assert.equal(c.host.eth!.stats.arpProbesOut, 3);
    l.stop();
  });

  test('RFC 2131 §4.4.1: a host already using the offered address answers the probe → DHCPDECLINE, the address is never configured, and ≥ 10 s later the client binds another one', () => {
    const l = lan(12);
    const { dhcp } = serve(l);
    // A host configured by hand with .100, unknown to the DHCP server.
    const squatter = l.host('192.168.7.100');
    const c = client(l);
    const log = dhcpLog(c.host);
    let everConfigured = false;
    l.network.runUntil(() => {
      if (c.host.stack.isLocalAddr(ADDR)) everConfigured = true;
      return c.h.config !== null;
    }, { until: BIND_US + seconds(30) });
    const kinds = c.events.map((e) => e.ev.type);
    assert.deepEqual(kinds, ['declined', 'bound']);
    const declined = c.events[0]!;
    assert.equal((declined.ev as { lease: { addr: number } }).lease.addr, ADDR);
    assert.ok(!everConfigured, 'the conflicting address was never put on the interface');
    assert.equal(c.h.client.conflicts, 1);
    // The DHCPDECLINE (type 4) went to the server by broadcast from 0.0.0.0.
    const decline = log.find((x) => x.dir === 'out' && x.type === 4)!;
    assert.ok(decline, JSON.stringify(log));
    assert.deepEqual([decline.src, decline.dst], [0, 0xffffffff]);
    assert.equal(dhcp.server.binding(ADDR)?.state, 'declined');
    // RFC 2131 §4.4.1: "The client SHOULD wait a minimum of ten seconds before restarting".
    const nextDiscover = log.find((x) => x.dir === 'out' && x.type === 1 && x.at > decline.at)!;
    assert.ok(nextDiscover.at - decline.at >= seconds(10));
    assert.equal(c.host.address, '192.168.7.101');
    assert.ok(squatter.stack.isLocalAddr(ADDR), 'the other host keeps its address');
    l.stop();
  });

  test('RFC 5227 §2.1.1: another host probing the same address at the same time is a conflict too (SHOULD)', () => {
    const l = lan(13);
    serve(l);
    const other = l.host('192.168.7.50');
    const c = client(l);
    l.network.runUntil(() => c.h.client.probingAddr !== null, { until: BIND_US });
    other.eth!.sendArpProbe(ADDR);
    l.network.runUntil(() => c.events.length > 0, { until: l.network.clock.now() + seconds(10) });
    assert.equal(c.events[0]!.ev.type, 'declined');
    assert.equal(c.h.client.conflicts, 1);
    l.stop();
  });

  test('a renewal of the address in use is not probed again; arpProbe: false binds without probing', () => {
    const l = lan(14);
    serve(l);
    const c = client(l);
    l.network.runUntil(() => c.h.config !== null, { until: BIND_US });
    const lease = c.h.client.lease!;
    l.network.runUntil(() => bounds(c.events).length === 2, { until: lease.t1 + seconds(5) });
    assert.equal(c.host.eth!.stats.arpProbesOut, 3, 'only the first binding was probed');
    const quick = client(l, '02:00:00:00:00:c3', undefined, false);
    l.network.runUntil(() => quick.h.config !== null, { until: l.network.clock.now() + BIND_US });
    assert.equal(quick.host.eth!.stats.arpProbesOut, 0);
    l.stop();
  });
});

describe('DHCPv4 on the real clock (the Driver arms Node timers for the services\' deadlines)', () => {
  test('a host without an address is bound over a real-clock Ethernet LAN (no start delay), then serves TCP at the leased address', async () => {
    const l = createMemoryNetwork({ seed: 21, ethernet: true });
    const srv = l.host('192.168.9.1');
    const dhcp = srv.dhcpServer({ poolStart: '192.168.9.50', poolEnd: '192.168.9.60', leaseTime: 3600 });
    const c = l.host(null);
    const h = c.dhcp({ startDelay: false });
    const cfg = await h.bound;
    assert.equal(cfg.address, '192.168.9.50');
    const server = c.net.createServer((s) => s.end('leased\n'));
    server.listen(80);
    const sock = srv.net.connect(80, '192.168.9.50');
    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    await new Promise((done) => sock.on('close', done));
    assert.equal(Buffer.concat(chunks).toString(), 'leased\n');
    server.close();
    h.stop();
    dhcp.stop();
    l.stop();
  });
});
