/**
 * Martian sources and broadcast destinations (RFC 1122 §3.2.1.3, §4.2.3.10):
 * a SYN from an address no host may send from gets no SYN,ACK and no TCB,
 * and the drop is counted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { parseIpv4 } from '../../src/wire/ipv4.ts';
import { emitIpv4Tcp } from '../../src/wire/tcp.ts';
import { SYN, CHECKSUM_FULL } from '../../src/wire/types.ts';
import type { TcpRepr } from '../../src/wire/types.ts';

const B = parseIpv4Addr('10.0.0.2')!;
const EVIL = parseIpv4Addr('10.0.0.66')!;

function rig() {
  const net = new Network({ seed: 5 });
  const hub = net.addHub({ checksumOffload: false });
  const b = net.addStack({ name: 'b' });
  net.attach(b, hub, B);
  b.listen(80);
  const raw = hub.attach(EVIL);
  let sent = 0;
  raw.onReceive = (bytes) => {
    assert.ok(parseIpv4(bytes, CHECKSUM_FULL).ok);
    sent++;
  };
  /** Injects a SYN with any source/destination address; the hub delivers it to B's port. */
  const syn = (src: number, dst = B): void => {
    const seg: TcpRepr = { srcPort: 40000, dstPort: 80, seq: 1000, ack: 0, flags: SYN, window: 65535, urgentPointer: 0, options: [], payload: new Uint8Array(0) };
    const bytes = emitIpv4Tcp({ src, dst, ttl: 64, tos: 0, ident: 1, dontFragment: true }, seg, CHECKSUM_FULL);
    // Hand the packet straight to B's interface: a hub routes by destination,
    // and a broadcast or multicast destination must still reach the stack.
    b.receive(b.interfaces[0]!, bytes);
    net.runDue();
  };
  return { net, b, syn, sent: () => sent };
}

describe('martian sources (RFC 1122 §3.2.1.3, §4.2.3.10)', () => {
  const cases: Array<[string, string]> = [
    ['limited broadcast 255.255.255.255', '255.255.255.255'],
    ['multicast 224.0.0.1', '224.0.0.1'],
    ['multicast 239.1.2.3', '239.1.2.3'],
    ['this host 0.0.0.0', '0.0.0.0'],
    ['this network 0.1.2.3', '0.1.2.3'],
    ['loopback 127.0.0.1 on a non-loopback link', '127.0.0.1'],
    ['class E 240.0.0.1', '240.0.0.1'],
    ["the subnet's directed broadcast 10.0.0.255", '10.0.0.255'],
    ["the stack's own address (land attack)", '10.0.0.2'],
  ];
  for (const [name, addr] of cases) {
    test(`RFC 1122 §4.2.3.10: a SYN from ${name} gets no SYN,ACK and no TCB, counted as ipv4-martian-source`, () => {
      const r = rig();
      r.syn(parseIpv4Addr(addr)!);
      assert.equal(r.sent(), 0, 'nothing is sent back');
      assert.equal(r.b.connectionCount, 0, 'no TCB');
      assert.equal(r.b.counters.drops['ipv4-martian-source'], 1);
    });
  }

  test('a SYN from an ordinary unicast address is still answered (control)', () => {
    const r = rig();
    r.syn(EVIL);
    assert.equal(r.sent(), 1);
    assert.equal(r.b.connectionCount, 1);
    assert.equal(r.b.counters.drops['ipv4-martian-source'] ?? 0, 0);
  });

  test('127.0.0.0/8 sources are accepted on the loopback interface', () => {
    const net = new Network({ seed: 5 });
    const hub = net.addHub({ checksumOffload: false });
    const s = net.addStack({ name: 's' });
    net.attach(s, hub, B);
    const LO = parseIpv4Addr('127.0.0.1')!;
    s.listen(80);
    const client = s.connect(LO, 80);
    net.runFor(1_000_000);
    assert.equal(client.state, 'ESTABLISHED');
    assert.equal(s.counters.drops['ipv4-martian-source'] ?? 0, 0);
  });
});

describe('segments to broadcast or multicast destinations (RFC 1122 §4.2.3.10)', () => {
  for (const [name, addr] of [
    ['limited broadcast 255.255.255.255', '255.255.255.255'],
    ['multicast 224.0.0.1', '224.0.0.1'],
    ["the subnet's directed broadcast 10.0.0.255", '10.0.0.255'],
  ] as const) {
    test(`RFC 1122 §4.2.3.10: a SYN addressed to ${name} is silently discarded, counted as tcp-broadcast`, () => {
      const r = rig();
      r.syn(EVIL, parseIpv4Addr(addr)!);
      assert.equal(r.sent(), 0, 'no SYN,ACK and no RST');
      assert.equal(r.b.connectionCount, 0);
      assert.equal(r.b.counters.drops['tcp-broadcast'], 1);
    });
  }
});

describe('active OPEN to an invalid remote address (RFC 1122 §4.2.3.10)', () => {
  for (const addr of ['255.255.255.255', '224.0.0.1', '10.0.0.255', '0.0.0.0', '240.0.0.1']) {
    test(`RFC 1122 §4.2.3.10: connect() to ${addr} is rejected as an error and sends nothing`, () => {
      const r = rig();
      assert.throws(() => r.b.connect(parseIpv4Addr(addr)!, 80), { code: 'ERR_SYNACK_NO_ROUTE' });
      r.net.runFor(10_000);
      assert.equal(r.sent(), 0);
      assert.equal(r.b.connectionCount, 0);
    });
  }
});
