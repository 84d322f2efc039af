import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/base/rng.ts';
import { seconds } from '../../src/base/time.ts';
import { ipv4Addr, ipv4ToString } from '../../src/wire/bytes.ts';
import {
  BOOTREQUEST, buildDhcp, DHCP_FLAG_BROADCAST, DHCPACK, DHCPDISCOVER, DHCPINFORM, DHCPNAK, DHCPREQUEST,
  dhcpMessageType, findDhcpOption, parseDhcp,
} from '../../src/wire/dhcp.ts';
import type { DhcpMessage, DhcpOption } from '../../src/wire/dhcp.ts';
import { macToBytes } from '../../src/wire/ethernet.ts';
import { DhcpClient } from '../../src/services/dhcp-client.ts';
import { DhcpServer } from '../../src/services/dhcp-server.ts';
import type { DhcpServerConfig } from '../../src/services/dhcp-server.ts';
import { DhcpWorld } from './dhcp-exchange.ts';

const SERVER = ipv4Addr(192, 168, 7, 1);
const MAC = 0x02_00_00_00_00_01;
const LEASE = 600;

function server(extra: Partial<DhcpServerConfig> = {}): DhcpServer {
  return new DhcpServer({
    serverId: SERVER, prefixLen: 24, poolStart: ipv4Addr(192, 168, 7, 100), poolEnd: ipv4Addr(192, 168, 7, 199),
    router: SERVER, dns: [SERVER, ipv4Addr(192, 168, 7, 2)], domainName: 'lan.test', mtu: 1400, leaseTime: LEASE, ...extra,
  });
}

function world(opts: { seed?: number; remembered?: number; srv?: DhcpServer; mac?: number } = {}): DhcpWorld {
  const client = new DhcpClient({ mac: opts.mac ?? MAC, rng: new Rng(opts.seed ?? 1), ...(opts.remembered === undefined ? {} : { rememberedAddr: opts.remembered }) });
  return new DhcpWorld(client, opts.srv ?? server(), ipv4ToString(SERVER));
}

function request(mac: number, type: number, options: DhcpOption[], fields: Partial<DhcpMessage> = {}): Uint8Array {
  return buildDhcp({
    op: BOOTREQUEST, htype: 1, hops: 0, xid: 0x1234, secs: 0, flags: DHCP_FLAG_BROADCAST, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr: macToBytes(mac), sname: '', file: '', options: [{ kind: 'message-type', type }, ...options], ...fields,
  });
}

describe('DHCPv4 client and server engines (RFC 2131)', () => {
  test('RFC 2131 §3.1 / §4.4.1: DISCOVER → OFFER → REQUEST → ACK binds the client with options 1, 3, 6, 15, 26, 51, 54, 58, 59', () => {
    const w = world();
    w.start();
    assert.equal(w.client.state, 'INIT');
    w.runUntil(seconds(11)); // the 1–10 s start delay
    assert.deepEqual(w.types(), ['DISCOVER', 'OFFER', 'REQUEST', 'ACK']);
    assert.equal(w.client.state, 'BOUND');
    const bound = w.clientEvents.find((e) => e.type === 'bound');
    assert.ok(bound && bound.type === 'bound');
    const l = bound.lease;
    assert.equal(ipv4ToString(l.addr), '192.168.7.100');
    assert.equal(l.prefix, 24);
    assert.equal(l.router, SERVER);
    assert.deepEqual(l.dns.map(ipv4ToString), ['192.168.7.1', '192.168.7.2']);
    assert.equal(l.mtu, 1400);
    assert.equal(l.domainName, 'lan.test');
    assert.equal(l.leaseTime, LEASE);
    assert.equal(l.serverId, SERVER);
    assert.equal(l.t1 - bound.at, seconds(LEASE / 2));
    assert.equal(l.t2 - bound.at, seconds(Math.floor(LEASE * 0.875)));
    assert.equal(w.server.binding(l.addr)?.state, 'bound');
    // The broadcast bit was set, so the OFFER and ACK were broadcast (§4.1).
    assert.deepEqual(w.wire.filter((x) => x.from === 'server').map((x) => x.address), ['255.255.255.255', '255.255.255.255']);
  });

  test('RFC 2131 §4.1: without the broadcast bit the OFFER is unicast to yiaddr and the client MAC; a NAK is always broadcast', () => {
    const s = server();
    const offer = s.handle(request(MAC, DHCPDISCOVER, [], { flags: 0 }), 0).out[0]!;
    assert.equal(offer.address, '192.168.7.100');
    assert.equal(offer.mac, MAC);
    assert.equal(offer.broadcast, undefined);
    const nak = s.handle(request(MAC, DHCPREQUEST, [{ kind: 'requested-ip', addr: ipv4Addr(10, 0, 0, 5) }], { flags: 0 }), 0).out[0]!;
    assert.equal(dhcpMessageType((parseDhcp(nak.payload) as { ok: true; value: DhcpMessage }).value), DHCPNAK);
    assert.equal(nak.address, '255.255.255.255');
  });

  test('RFC 2131 §4.4.5: at T1 the client renews by unicast with the server and stays bound with a new lease', () => {
    const w = world();
    w.start();
    w.runUntil(seconds(11));
    const first = w.client.lease!;
    w.runUntil(first.t1 + seconds(1));
    const renew = w.wire.filter((x) => x.at === first.t1);
    assert.deepEqual(renew.map((x) => x.type), ['REQUEST', 'ACK']);
    assert.equal(renew[0]!.address, '192.168.7.1', 'renewing is unicast to the server');
    assert.equal(renew[0]!.ciaddr, '192.168.7.100');
    assert.equal(renew[1]!.address, '192.168.7.100', 'the ACK is unicast to ciaddr');
    assert.equal(w.client.state, 'BOUND');
    assert.equal(w.client.lease!.expires, first.t1 + seconds(LEASE));
    assert.equal(w.clientEvents.filter((e) => e.type === 'bound').length, 2);
  });

  test('RFC 2131 §4.4.5: with the server gone, the client retransmits in RENEWING, broadcasts in REBINDING at T2, and a server that answers rebinds it', () => {
    const srv = server();
    const w = world({ srv });
    w.start();
    w.runUntil(seconds(11));
    const l = w.client.lease!;
    w.serverUp = false;
    w.runUntil(l.t2 - 1);
    assert.equal(w.client.state, 'RENEWING');
    const renewing = w.wire.filter((x) => x.at >= l.t1);
    assert.ok(renewing.length >= 2, 'retransmitted while renewing');
    assert.ok(renewing.every((x) => x.address === '192.168.7.1'));
    // Retransmission waits half the time to T2, at least 60 s.
    assert.ok(renewing.every((x, i) => i === 0 || x.at - renewing[i - 1]!.at >= seconds(60)));
    w.serverUp = true;
    w.runUntil(l.t2);
    const rebind = w.wire.filter((x) => x.at === l.t2);
    assert.deepEqual(rebind.map((x) => x.type), ['REQUEST', 'ACK']);
    assert.equal(rebind[0]!.address, '255.255.255.255', 'rebinding is broadcast');
    assert.equal(w.client.state, 'BOUND');
    assert.equal(w.client.lease!.addr, l.addr);
  });

  test('RFC 2131 §4.4.5: with no server until the lease ends, the client reports the lease expired and returns to INIT', () => {
    const w = world();
    w.start();
    w.runUntil(seconds(11));
    const l = w.client.lease!;
    w.serverUp = false;
    w.runUntil(l.expires + seconds(1));
    const expired = w.clientEvents.find((e) => e.type === 'expired');
    assert.ok(expired);
    assert.equal(expired.at, l.expires);
    assert.equal(w.client.lease, null);
    assert.equal(w.client.state, 'SELECTING');
    assert.equal(w.wire.at(-1)!.type, 'DISCOVER');
    // The server also let the unrenewed lease go, remembering the client (§4.3.1).
    w.runUntil(l.expires + seconds(2));
    assert.equal(w.server.binding(l.addr)?.state, 'free');
    w.serverUp = true;
    w.runUntil(l.expires + seconds(200));
    assert.equal(w.client.state, 'BOUND');
    assert.equal(w.client.lease!.addr, l.addr, 'the client gets its previous address back');
  });

  test('RFC 2131 §4.1: DISCOVERs are retransmitted after 4, 8, 16, 32, 64, 64 s, each ±1 s from the seeded rng', () => {
    const w = world({ seed: 7 });
    w.serverUp = false;
    w.start();
    w.runUntil(seconds(300));
    const at = w.wire.map((x) => x.at);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    const bases = [4, 8, 16, 32, 64, 64];
    assert.ok(gaps.length >= bases.length);
    bases.forEach((b, i) => assert.ok(Math.abs(gaps[i]! - seconds(b)) <= seconds(1), `gap ${i}: ${gaps[i]} vs ${b} s`));
    assert.ok(new Set(gaps.map((g, i) => g - seconds(bases[i] ?? 64))).size > 1, 'the jitter varies');
    // Same seed, same history.
    const w2 = world({ seed: 7 });
    w2.serverUp = false;
    w2.start();
    w2.runUntil(seconds(300));
    assert.deepEqual(w2.wire.map((x) => x.at), at);
  });

  test('RFC 2131 §3.2 / §4.3.2: INIT-REBOOT with a wrong address is NAKed and the client restarts with DISCOVER', () => {
    const w = world({ remembered: ipv4Addr(10, 9, 9, 9) });
    w.start();
    assert.deepEqual(w.types().slice(0, 2), ['REQUEST', 'NAK']);
    assert.ok(w.clientEvents.some((e) => e.type === 'nak'));
    w.runUntil(seconds(20));
    assert.deepEqual(w.types().slice(2), ['DISCOVER', 'OFFER', 'REQUEST', 'ACK']);
    assert.equal(w.client.state, 'BOUND');
  });

  test('RFC 2131 §4.3.2: INIT-REBOOT with the address the server holds for the client is ACKed; an unknown client gets silence', () => {
    const srv = server();
    const w = world({ srv });
    w.start();
    w.runUntil(seconds(11));
    const addr = w.client.lease!.addr;
    const again = world({ srv, remembered: addr, seed: 2 });
    again.now = w.now;
    again.start();
    assert.deepEqual(again.types(), ['REQUEST', 'ACK']);
    assert.equal(again.client.lease!.addr, addr);
    const stranger = world({ srv, remembered: ipv4Addr(192, 168, 7, 150), seed: 3, mac: 0x02_00_00_00_00_99 });
    stranger.now = w.now;
    stranger.start();
    assert.deepEqual(stranger.types(), ['REQUEST']);
    assert.equal(srv.drops['init-reboot-unknown'], 1);
  });

  test('RFC 2131 §4.3.2: a REQUEST in SELECTING for an address that was not offered to the client is NAKed', () => {
    const s = server();
    const r = s.handle(request(MAC, DHCPREQUEST, [{ kind: 'server-id', addr: SERVER }, { kind: 'requested-ip', addr: ipv4Addr(192, 168, 7, 123) }]), 0);
    assert.equal(dhcpMessageType((parseDhcp(r.out[0]!.payload) as { ok: true; value: DhcpMessage }).value), DHCPNAK);
    assert.equal(s.binding(ipv4Addr(192, 168, 7, 123)), undefined);
  });

  test('RFC 2131 §4.3.3 / §4.4.1: DECLINE marks the address unusable for a while; the client waits 10 s and gets another address', () => {
    const srv = server({ declineHold: seconds(100) });
    const w = world({ srv });
    w.start();
    w.runUntil(seconds(11));
    const bad = w.client.lease!.addr;
    const t = w.now;
    w.fromClient(w.client.decline(w.now));
    assert.equal(w.wire.at(-1)!.type, 'DECLINE');
    assert.equal(srv.binding(bad)?.state, 'declined');
    w.runUntil(t + seconds(9));
    assert.equal(w.wire.at(-1)!.type, 'DECLINE', 'nothing within 10 s');
    w.runUntil(t + seconds(30));
    assert.equal(w.client.state, 'BOUND');
    assert.notEqual(w.client.lease!.addr, bad);
    w.runUntil(t + seconds(101));
    assert.equal(srv.binding(bad)?.state, 'free', 'usable again after the hold');
  });

  test('RFC 2131 §4.3.4: RELEASE frees the address and the server remembers the client for its next DISCOVER', () => {
    const srv = server();
    const w = world({ srv });
    w.start();
    w.runUntil(seconds(11));
    const addr = w.client.lease!.addr;
    w.fromClient(w.client.release(w.now));
    assert.equal(w.wire.at(-1)!.type, 'RELEASE');
    assert.equal(srv.binding(addr)?.state, 'free');
    // Another client takes a fresh address, not the released one.
    const other = srv.handle(request(0x02_00_00_00_00_42, DHCPDISCOVER, []), w.now).out[0]!;
    assert.notEqual((parseDhcp(other.payload) as { ok: true; value: DhcpMessage }).value.yiaddr, addr);
    const back = srv.handle(request(MAC, DHCPDISCOVER, []), w.now).out[0]!;
    assert.equal((parseDhcp(back.payload) as { ok: true; value: DhcpMessage }).value.yiaddr, addr);
  });

  test('RFC 2131 §4.3.5: INFORM is answered by a unicast ACK to ciaddr without a lease time', () => {
    const s = server();
    const r = s.handle(request(MAC, DHCPINFORM, [], { ciaddr: ipv4Addr(192, 168, 7, 50), flags: 0 }), 0);
    assert.equal(r.out.length, 1);
    assert.equal(r.out[0]!.address, '192.168.7.50');
    const m = (parseDhcp(r.out[0]!.payload) as { ok: true; value: DhcpMessage }).value;
    assert.equal(dhcpMessageType(m), DHCPACK);
    assert.equal(findDhcpOption(m, 'lease-time'), undefined);
    assert.equal(m.yiaddr, 0);
    assert.equal(findDhcpOption(m, 'dns-servers')?.addrs.length, 2);
  });

  test('RFC 2131 §4.3.1: a DISCOVER flood from random MACs holds at most maxOffers offers (counted drops); after the hold a real client is served', () => {
    const srv = server({ maxOffers: 16, offerHold: seconds(30) });
    const rng = new Rng(99);
    const N = 10_000;
    let offers = 0;
    for (let i = 0; i < N; i++) {
      const mac = (0x02_00_00_00_00_00 + rng.nextU32()) ;
      offers += srv.handle(request(mac, DHCPDISCOVER, []), seconds(i / 1000)).out.length;
    }
    assert.equal(offers, 16);
    assert.equal(srv.pendingOffers, 16);
    assert.equal(srv.drops['offer-limit'], N - 16);
    assert.ok(srv.size <= 100, 'no more bindings than pool addresses');
    const w = world({ srv });
    w.now = seconds(41);
    w.start();
    w.runUntil(seconds(60));
    assert.equal(w.client.state, 'BOUND');
    assert.ok(srv.pendingOffers <= 16);
  });

  test('RFC 2131 §4.4.1: replies with a wrong xid or chaddr are ignored (counted)', () => {
    const srv = server();
    const w = world({ srv });
    w.start();
    w.runUntil(seconds(10)); // DISCOVER sent and answered… let it bind, then craft stale replies
    const c = w.client;
    const ack = srv.handle(request(MAC, DHCPREQUEST, [], { ciaddr: c.lease!.addr, xid: 1 }), w.now).out[0]!;
    c.handle(ack.payload, w.now);
    assert.equal(c.drops['wrong-xid'], 1);
    const other = new DhcpClient({ mac: 0x02_00_00_00_00_77, rng: new Rng(5), startDelay: false });
    const step = other.start(0);
    const offer = srv.handle(step.out[0]!.payload, 0).out[0]!;
    const bytes = offer.payload.slice();
    bytes[28 + 5] ^= 1; // chaddr's last byte
    other.handle(bytes, 0);
    assert.equal(other.drops['wrong-chaddr'], 1);
    assert.equal(other.state, 'SELECTING');
  });

  test('RFC 2131 §4.2: relayed messages (giaddr set) are not supported and are counted drops', () => {
    const s = server();
    assert.equal(s.handle(request(MAC, DHCPDISCOVER, [], { giaddr: ipv4Addr(10, 0, 0, 1) }), 0).out.length, 0);
    assert.equal(s.drops['relay-unsupported'], 1);
  });
});
