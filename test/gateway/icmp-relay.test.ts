/**
 * The stack side of the gateway's ICMP echo relay and UDP port unreachables
 * (stack/forward.ts: the `echo` callback, sendForwardedEchoReply,
 * sendForwardedPortUnreachable), the relay's flow table
 * (gateway/echo-relay.ts), and the gateway's policy for echo — in memory: a
 * synack guest and a forwarding "gateway" stack on the in-memory Ethernet
 * switch under the virtual clock, or the whole gateway on a memory
 * downstream where no host echo socket is opened (--deny). The host echo
 * sockets themselves are exercised for real in netns-icmp.test.ts (they
 * need a network namespace whose ping_group_range the test may set).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import type { ForwardedDatagram, ForwardedEcho } from '../../src/stack/forward.ts';
import { sendForwardedEchoReply, sendForwardedPortUnreachable } from '../../src/stack/forward.ts';
import type { EchoReply } from '../../src/stack/echo.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { parseIpv6Addr, type Ipv6Addr } from '../../src/wire/ipv6.ts';
import { linkLocalFor } from '../../src/wire/ndp.ts';
import { emitIpv4 } from '../../src/wire/ipv4.ts';
import { emitIcmpEcho } from '../../src/wire/icmp.ts';
import { CHECKSUM_FULL, IPPROTO_ICMP } from '../../src/wire/types.ts';
import { UdpSocket } from '../../src/udp/table.ts';
import { sendUdp } from '../../src/stack/udp.ts';
import { EchoFlowTable, echoFlowKey, type EchoFlow } from '../../src/gateway/echo-relay.ts';
import * as dgram from 'node:dgram';
import { memoryGateway } from './helpers.ts';

/** A loopback UDP port nobody listens on (bound, then closed). */
async function closedPortUdp(): Promise<number> {
  const u = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => u.bind(0, '127.0.0.1', resolve));
  const port = u.address().port;
  await new Promise<void>((resolve) => u.close(() => resolve()));
  return port;
}

const ip4 = (s: string): number => parseIpv4Addr(s)!;
const v6 = (s: string): Ipv6Addr => parseIpv6Addr(s)!;
const GUEST4 = ip4('10.0.2.100');
const GW4 = ip4('10.0.2.2');
const GUEST6 = v6('fd00::100');
const GW6 = v6('fd00::2');
const FAR4 = ip4('198.51.100.7');
const FAR6 = v6('2001:db8::7');

function setup(withEcho = true) {
  const net = new Network({ seed: 3 });
  const sw = net.addSwitch({ checksumOffload: false, impair: { delayUs: 1000 } });
  const guest = net.addStack({ name: 'guest' });
  const gEth = net.attachEthernet(guest, sw, [{ addr: GUEST4 }, { addr: GUEST6 }], { dadTransmits: 0 });
  const gw = net.addStack({ name: 'gateway' });
  const gwEth = net.attachEthernet(gw, sw, [{ addr: GW4 }, { addr: GW6 }], { dadTransmits: 0 });
  gEth.gatewayV4 = GW4;
  gEth.defaultRouter = linkLocalFor(gwEth.mac);
  const echoes: ForwardedEcho[] = [];
  const datagrams: ForwardedDatagram[] = [];
  const fw = gw.enableForwarding(gwEth.iface, { udp: (d) => datagrams.push(d), ...(withEcho ? { echo: (e: ForwardedEcho) => echoes.push(e) } : {}) });
  return { net, guest, gEth, gw, fw, echoes, datagrams };
}

describe('forwarding interface: ICMP echo to other destinations', () => {
  for (const [family, far, src] of [
    ['IPv4 (RFC 792)', FAR4, GUEST4],
    ['IPv6 (RFC 4443 §4.2)', FAR6, GUEST6],
  ] as const) {
    test(`${family}: an echo request to any address goes to the echo callback with identifier, sequence number, data and TTL; the reply leaves from the pinged address with the guest's identifier`, () => {
      const r = setup();
      const got: EchoReply[] = [];
      const port = r.guest.echoPorts().open((reply) => (got.push({ ...reply, data: reply.data.slice() }), true));
      const data = new Uint8Array(3000).map((_, i) => (i * 7) & 0xff);
      assert.notEqual(port.send(far, 5, data), null);
      r.net.runUntil(() => r.echoes.length === 1);
      const e = r.echoes[0]!;
      assert.equal(e.src, src);
      assert.equal(e.dst, far);
      assert.equal(e.ident, port.ident);
      assert.equal(e.seq, 5);
      assert.deepEqual(e.data, data, 'fragments reassembled, data whole');
      assert.equal(e.ttl, r.guest.ttl);
      assert.equal(r.gw.counters.icmpEchoReplies, 0, 'the gateway did not answer for the far host itself');
      // The relay's answer: the far host's reply, with the guest's identifier, from the address pinged.
      assert.equal(sendForwardedEchoReply(r.fw, far, src, e.ident, e.seq, e.data, 57), null);
      r.net.runUntil(() => got.length === 1);
      assert.equal(got[0]!.from, far);
      assert.equal(got[0]!.seq, 5);
      assert.deepEqual(got[0]!.data, data);
      assert.equal(r.fw.stats.echoIn, 1);
      assert.equal(r.fw.stats.echoOut, 1);
    });
  }

  test('echo requests to the gateway\'s own addresses are answered by the stack, never handed to the callback', () => {
    const r = setup();
    let replies = 0;
    const port = r.guest.echoPorts().open(() => (replies++, true));
    port.send(GW4, 1, new Uint8Array(8));
    port.send(GW6, 2, new Uint8Array(8));
    r.net.runUntil(() => replies === 2);
    assert.equal(r.echoes.length, 0);
    assert.equal(r.gw.counters.icmpEchoReplies, 2);
  });

  test('ICMP to another address that is no good echo request is a counted drop, never a callback: a bad checksum, an echo reply, an error type', () => {
    const r = setup();
    const icmp = (body: Uint8Array): Uint8Array => {
      const pkt = new Uint8Array(20 + body.length);
      emitIpv4({ src: GUEST4, dst: FAR4, protocol: IPPROTO_ICMP, ttl: 64, tos: 0, ident: 9, dontFragment: false, payloadLen: body.length }, pkt, 0, CHECKSUM_FULL);
      pkt.set(body, 20);
      return pkt;
    };
    const good = new Uint8Array(12);
    emitIcmpEcho({ type: 'echo-request', ident: 1, seqNo: 1, data: new Uint8Array(4) }, good, 0);
    const badSum = good.slice();
    badSum[9] = badSum[9]! ^ 0xff;
    const reply = new Uint8Array(12);
    emitIcmpEcho({ type: 'echo-reply', ident: 1, seqNo: 1, data: new Uint8Array(4) }, reply, 0);
    const unreach = new Uint8Array(8);
    unreach[0] = 3;
    unreach[2] = 0xfc; // the checksum of 03 00 .. 00: ~0x0300 = 0xfcff
    unreach[3] = 0xff;
    for (const body of [badSum, reply, unreach]) r.gEth.transmit(icmp(body));
    r.net.runFor(50_000);
    assert.equal(r.echoes.length, 0);
    assert.equal(r.gw.counters.drops['icmp-bad-checksum'], 1);
    assert.equal(r.gw.counters.drops['icmp-unsupported'], 1);
    assert.ok((r.gw.counters.drops['ipv4-not-for-us'] ?? 0) >= 1, 'a reply to another address is not ours');
    // And a good one still goes through.
    r.gEth.transmit(icmp(good));
    r.net.runUntil(() => r.echoes.length === 1);
  });

  test('without an echo callback, echo to other addresses is not ours: counted drops (ipv4-not-for-us, ipv6-not-for-us), no reply', () => {
    const r = setup(false);
    let replies = 0;
    const port = r.guest.echoPorts().open(() => (replies++, true));
    port.send(FAR4, 1, new Uint8Array(8));
    port.send(FAR6, 2, new Uint8Array(8));
    r.net.runFor(50_000);
    assert.equal(replies, 0);
    assert.ok((r.gw.counters.drops['ipv4-not-for-us'] ?? 0) >= 1);
    assert.ok((r.gw.counters.drops['ipv6-not-for-us'] ?? 0) >= 1);
  });
});

describe('forwarding interface: UDP port unreachable', () => {
  for (const [family, far, v] of [
    ['RFC 1122 §3.2.2.1 (IPv4, code 3)', FAR4, 4],
    ['RFC 4443 §3.1 (IPv6, code 4)', FAR6, 6],
  ] as const) {
    test(`${family}: the host's ECONNREFUSED for a flow becomes a port unreachable quoting the guest's datagram, and the guest's connected socket reports ECONNREFUSED`, () => {
      const r = setup();
      const sock = new UdpSocket(v);
      r.guest.udp.bind(sock, v === 4 ? 0 : sock.localAddr, 0);
      sock.remoteAddr = far;
      sock.remotePort = 9;
      assert.equal(sendUdp(r.guest, sock, far, 9, new TextEncoder().encode('anyone?')), null);
      r.net.runUntil(() => r.datagrams.length === 1);
      const d = r.datagrams[0]!;
      assert.ok(d.quote && d.quote.length >= (v === 4 ? 28 : 48), 'the datagram keeps its first octets to quote');
      assert.equal(sendForwardedPortUnreachable(r.fw, d), true);
      r.net.runUntil(() => sock.error !== null);
      assert.equal(sock.error, 'ECONNREFUSED');
    });
  }
});

describe('echo flow table (gateway/echo-relay.ts)', () => {
  test('flows are keyed by (guest, destination, identifier); a flow is found again, and its use restarts its idle clock', () => {
    const t = new EchoFlowTable<string>(4, 1000);
    const f = t.add({ src: GUEST4, dst: FAR4, target: '198.51.100.7', ident: 7, sock: 'a' }, 0);
    assert.equal(f.key, echoFlowKey(GUEST4, FAR4, 7));
    assert.notEqual(echoFlowKey(GUEST4, FAR4, 8), f.key);
    assert.notEqual(echoFlowKey(GUEST6, FAR6, 7), f.key);
    assert.equal(t.use(f.key, 900), f);
    assert.deepEqual(t.expire(1500), [], 'used at 900: not idle for 1000 ms yet at 1500');
    assert.deepEqual(t.expire(1900).map((x) => x.sock), ['a']);
    assert.equal(t.size, 0);
  });

  test('bounded: a new flow fits only below maxFlows, after the idle ones expire (least recently used first)', () => {
    const t = new EchoFlowTable<string>(2, 1000);
    t.add({ src: GUEST4, dst: FAR4, target: 'x', ident: 1, sock: 'one' }, 0);
    t.add({ src: GUEST4, dst: FAR4, target: 'x', ident: 2, sock: 'two' }, 100);
    const expired: EchoFlow<string>[] = [];
    assert.equal(t.hasRoom(500, expired), false);
    t.use(echoFlowKey(GUEST4, FAR4, 1), 600);
    assert.equal(t.hasRoom(1100, expired), true, 'flow 2 (last used at 100) expired');
    assert.deepEqual(expired.map((x) => x.sock), ['two']);
    assert.equal(t.size, 1);
  });
});

describe('gateway: UDP port unreachable through host sockets', () => {
  test('RFC 1122 §3.2.2.1: a guest datagram to a closed port of the host (through 10.0.2.2): the connected host socket gets ECONNREFUSED, and so does the guest\'s connected socket', async () => {
    const port = await closedPortUdp();
    const s = memoryGateway();
    try {
      const sock = s.guest.dgram.createSocket('udp4');
      const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
        sock.once('error', resolve);
        sock.connect(port, '10.0.2.2', () => {
          // The first datagram draws the host's port unreachable; the guest learns it at its next operation, as Linux.
          sock.send(Buffer.from('anyone?'));
          const again = setInterval(() => sock.send(Buffer.from('again?'), (e: Error | null) => e && resolve(e as NodeJS.ErrnoException)), 100);
          sock.once('error', () => clearInterval(again));
          setTimeout(() => clearInterval(again), 5000).unref();
        });
      });
      assert.equal(err.code, 'ECONNREFUSED');
      assert.ok(s.gw.stats().udp.portUnreachable >= 1);
      sock.close();
    } finally {
      await s.close();
    }
  });
});

describe('gateway: echo policy', () => {
  test('--deny applies to echo requests before any socket: denied and counted, no reply; the gateway address still answers', async () => {
    const s = memoryGateway({ deny: ['198.51.100.0/24'] });
    try {
      const far = await s.guest.ping('198.51.100.7', { count: 1, timeoutMs: 300 });
      assert.equal(far.received, 0);
      const st = s.gw.stats().icmp;
      assert.equal(st.requests, 1);
      assert.equal(st.denied, 1);
      assert.equal(st.flows, 0);
      const local = await s.guest.ping('10.0.2.2', { count: 1, timeoutMs: 2000 });
      assert.equal(local.received, 1);
      assert.equal(s.gw.stats().icmp.requests, 1, 'answered by the stack, not relayed');
    } finally {
      await s.close();
    }
  });
});
