/**
 * The addressing DHCP needs from the stack (RFC 2131 §4.1, RFC 1122
 * §3.2.1.3): datagrams from 0.0.0.0 to the limited broadcast are taken (and
 * nothing else from 0.0.0.0), and a datagram can go to a MAC address
 * without ARP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from '../../src/sim/network.ts';
import { ipv4Addr } from '../../src/wire/bytes.ts';
import { UdpSocket } from '../../src/udp/table.ts';
import { sendUdp } from '../../src/stack/udp.ts';

function pair() {
  const net = new Network({ seed: 3 });
  const sw = net.addSwitch();
  const a = net.addStack({ name: 'a' });
  const b = net.addStack({ name: 'b' });
  const ea = net.attachEthernet(a, sw, [], { unconfigured: true, mac: 0x020000000001 });
  const eb = net.attachEthernet(b, sw, [{ addr: ipv4Addr(10, 0, 0, 2) }], { mac: 0x020000000002 });
  const rx = new UdpSocket(4);
  b.udp.bind(rx, 0, 67);
  const tx = new UdpSocket(4);
  tx.broadcast = true;
  a.udp.bind(tx, 0, 68);
  return { net, a, b, ea, eb, rx, tx };
}

test('RFC 1122 §3.2.1.3 / RFC 2131 §4.1: a UDP datagram from 0.0.0.0 to 255.255.255.255 (DHCP before the host has an address) is delivered', () => {
  const { net, a, ea, rx, tx } = pair();
  assert.equal(sendUdp(a, tx, 0xffffffff, 67, new Uint8Array([1, 2, 3]), { iface: ea.iface, src: 0 }), null);
  net.runUntilIdle();
  assert.equal(rx.queue.length, 1);
  assert.deepEqual([rx.queue[0]!.src, rx.queue[0]!.srcPort, [...rx.queue[0]!.data]], [0, 68, [1, 2, 3]]);
});

test('RFC 1122 §3.2.1.3: from 0.0.0.0 to a unicast address is a martian (counted drop), as Linux accepts zero sources to the limited broadcast only', () => {
  const { net, a, b, ea, eb, rx, tx } = pair();
  // Sent to B's MAC directly: the one case sendUdp lets 0.0.0.0 go to a unicast address.
  assert.equal(sendUdp(a, tx, ipv4Addr(10, 0, 0, 2), 67, new Uint8Array([1]), { iface: ea.iface, src: 0, mac: eb.mac }), null);
  net.runUntilIdle();
  assert.equal(rx.queue.length, 0);
  assert.equal(b.counters.drops['ipv4-martian-source'], 1);
  // Without a MAC to send to, a unicast from 0.0.0.0 is refused at the sender.
  assert.equal(sendUdp(a, tx, ipv4Addr(10, 0, 0, 2), 67, new Uint8Array([1]), { iface: ea.iface, src: 0 }), 'EADDRNOTAVAIL');
});

test('RFC 2131 §4.1: a datagram sent to a MAC address leaves without an ARP request and reaches that MAC', () => {
  const { net, a, b, ea, eb } = pair();
  const srv = new UdpSocket(4);
  b.udp.bind(srv, 0, 1067);
  net.runFor(1_000_000); // the gratuitous ARPs of attach
  const before = eb.stats.arpRequestsOut;
  const framesIn = ea.stats.framesIn;
  assert.equal(sendUdp(b, srv, ipv4Addr(10, 0, 0, 100), 68, new Uint8Array([9]), { iface: eb.iface, src: ipv4Addr(10, 0, 0, 2), mac: ea.mac }), null);
  net.runFor(1_000_000);
  assert.equal(eb.stats.arpRequestsOut, before);
  assert.equal(ea.stats.framesIn, framesIn + 1);
  // A has no address yet: the IP layer does not take it (the client sets the broadcast bit for that reason).
  assert.equal(a.counters.drops['ipv4-not-for-us'], 1);
});

test('RFC 1122 §3.3.1.1: with a gateway (DHCP option 3), an off-link destination is sent to the gateway\'s MAC, never ARPed for itself', () => {
  const net = new Network({ seed: 4 });
  const sw = net.addSwitch();
  const a = net.addStack({ name: 'a' });
  const g = net.addStack({ name: 'gw' });
  const ea = net.attachEthernet(a, sw, [{ addr: ipv4Addr(10, 0, 0, 5) }]);
  const eg = net.attachEthernet(g, sw, [{ addr: ipv4Addr(10, 0, 0, 1) }]);
  ea.gatewayV4 = ipv4Addr(10, 0, 0, 1);
  const tx = new UdpSocket(4);
  a.udp.bind(tx, 0, 5000);
  net.runFor(1_000_000);
  const gIn = eg.stats.framesIn;
  assert.equal(sendUdp(a, tx, ipv4Addr(192, 0, 2, 9), 53, new Uint8Array([1])), null);
  net.runFor(1_000_000);
  assert.equal(ea.neighbors.get(ipv4Addr(10, 0, 0, 1))?.mac, eg.mac, 'ARP asked for the gateway');
  assert.equal(ea.neighbors.get(ipv4Addr(192, 0, 2, 9)), undefined, 'never for the off-link destination');
  assert.ok(eg.stats.framesIn > gIn);
  assert.equal(g.counters.drops['ipv4-not-for-us'], 1, 'the gateway got the datagram (synack does not forward)');
});
