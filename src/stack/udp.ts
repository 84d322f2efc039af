/**
 * UDP in a stack, both IP versions (RFC 768, RFC 1122 §4.1, RFC 8200 §8.1):
 * datagrams in (checksum, length, demux to the socket table of udp/table.ts,
 * ICMP port unreachable for a port nobody listens on), datagrams out (with
 * the checksum, fragmented by ip-output.ts when larger than the MTU), and
 * ICMP errors about datagrams we sent go to a connected socket (icmp.ts).
 */
import type { Instant } from '../base/time.ts';
import type { Ipv4Addr } from '../wire/types.ts';
import { IPPROTO_UDP } from '../wire/types.ts';
import { emitIpv4 } from '../wire/ipv4.ts';
import { emitIpv6, IPV6_HEADER_LEN, ipv6MappedToV4, type IpAddr, type Ipv6Addr } from '../wire/ipv6.ts';
import { emitUdp, parseUdp, UDP_HEADER_LEN, type UdpPseudo } from '../wire/udp.ts';
import { deliver, type UdpSocket } from '../udp/table.ts';
import type { MacAddr } from '../wire/ethernet.ts';
import { sendIcmpV4Unreachable, sendIcmpv6Error } from './icmp.ts';
import { forwardUdp } from './forward.ts';
import type { NetInterface, Stack } from './stack.ts';
import { checksumComputed } from './rx-verified.ts';

/** Caps for a datagram whose checksum the link has just computed (stack/rx-verified.ts): no second pass. */
const COMPUTED = Object.freeze({ verifyRx: false, fillTx: true });

/** The pseudo-header address sum of either family (an Ipv6Addr is eight 16-bit code units). */
function pseudo(src: IpAddr, dst: IpAddr): UdpPseudo {
  if (typeof src === 'number') {
    const d = dst as Ipv4Addr;
    return { v6: false, addrSum: (src >>> 16) + (src & 0xffff) + (d >>> 16) + (d & 0xffff) };
  }
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += src.charCodeAt(i) + (dst as Ipv6Addr).charCodeAt(i);
  return { v6: true, addrSum: sum };
}

/**
 * One UDP datagram (the IP payload) addressed to us, or — `broadcast` — to
 * a broadcast address of ours. `packet` is the IP packet from its first
 * octet (quoted by an ICMP error).
 */
export function receiveUdp(s: Stack, iface: NetInterface, src: IpAddr, dst: IpAddr, payload: Uint8Array, packet: Uint8Array, now: Instant, broadcast = false): void {
  // RFC 1122 §4.1.3.4: "UDP MUST pass to the application layer all ICMP
  // error messages that it receives from the IP layer" (below), and
  // §4.1.3.6: "a UDP datagram with an invalid IP source address (e.g., a
  // broadcast or multicast address) must be discarded by UDP or by the IP
  // layer" — ip-input.ts drops martian sources for every protocol.
  // RFC 1122 §4.1.3.4: "If a UDP datagram is received with a checksum that
  // is non-zero and invalid, UDP MUST silently discard the datagram."
  // RFC 8200 §8.1: a zero checksum over IPv6 is discarded (wire/udp.ts).
  const u = parseUdp(payload, pseudo(src, dst), iface.caps.verifyRx && checksumComputed(payload) ? COMPUTED : iface.caps);
  if (!u.ok) {
    s.drop(null, u.reason);
    return;
  }
  const d = u.value;
  s.counters.udpIn++;
  if (broadcast) {
    // RFC 1122 §4.1.3.5 / §3.3.6: a broadcast datagram goes to every socket
    // bound to the port (on the wildcard address); no ICMP error is ever
    // sent about it (§3.2.2: "An ICMP error message MUST NOT be sent as the
    // result of receiving: ... a datagram destined to an IP broadcast or IP
    // multicast address").
    const all = s.udp.lookupAll(dst, d.dstPort, src, d.srcPort);
    if (all.length === 0) s.drop(null, 'udp-no-port');
    for (const sock of all) enqueue(s, sock, src, d.srcPort, d.payload);
    return;
  }
  // On a forwarding interface (forward.ts) a datagram to an address that is
  // not ours is never delivered to our sockets (a wildcard-bound one would
  // take it otherwise), and one no socket takes goes to the forwarder.
  const fw = s.forwarding?.get(iface);
  const sock = fw && !s.isLocalAddr(dst) ? null : s.udp.lookup(dst, d.dstPort, src, d.srcPort);
  if (sock) {
    enqueue(s, sock, src, d.srcPort, d.payload);
    return;
  }
  if (fw && forwardUdp(fw, src, d.srcPort, dst, d.dstPort, d.payload, packet)) return;
  // RFC 1122 §4.1.3.1: "If a datagram arrives addressed to a UDP port for
  // which there is no pending LISTEN call, UDP SHOULD send an ICMP Port
  // Unreachable message." RFC 4443 §3.1: "If the transport protocol has no
  // listener, the destination node SHOULD send a Destination Unreachable
  // message with Code 4 (port unreachable)." Both are rate limited.
  s.drop(null, 'udp-no-port');
  if (typeof src === 'number') sendIcmpV4Unreachable(s, iface, 3, packet, now);
  else sendIcmpv6Error(s, iface, { type: 1, code: 4 }, packet, now);
}

function enqueue(s: Stack, sock: UdpSocket, src: IpAddr, srcPort: number, payload: Uint8Array): void {
  // The payload is a view of the received packet: copy it, so the queue
  // holds exactly the datagram's bytes and not a whole link buffer.
  if (!deliver(sock, { src, srcPort, data: payload.slice() })) s.drop(null, 'udp-rcvbuf-full');
}

/** Why a send failed, as an errno name (the API shapes it like Node's). */
export type UdpSendError = 'EACCES' | 'EMSGSIZE' | 'ENETUNREACH' | 'EADDRNOTAVAIL';

/**
 * Sends one datagram from `sock` to `dst`:`dstPort` (an IPv4-mapped
 * destination of an IPv6 socket is sent over IPv4). Returns null, or the
 * error of the send: EACCES for a broadcast destination without
 * SO_BROADCAST (Linux's udp_sendmsg), EMSGSIZE for a datagram that does not
 * fit in one IP datagram (RFC 768's 16-bit length; an IPv4 datagram of at
 * most 65535 octets), ENETUNREACH without a route.
 */
export function sendUdp(s: Stack, sock: UdpSocket, dst: IpAddr, dstPort: number, data: Uint8Array, via?: UdpVia): UdpSendError | null {
  if (typeof dst === 'string') dst = ipv6MappedToV4(dst) ?? dst;
  const v6 = typeof dst === 'string';
  const max = v6 ? 0xffff - UDP_HEADER_LEN : 0xffff - 20 - UDP_HEADER_LEN;
  if (data.length > max) return 'EMSGSIZE';
  if (!v6 && s.isBroadcastOrMulticast(dst as number) && (dst as number) >>> 28 !== 0xe && !sock.broadcast) return 'EACCES';
  let r: { iface: NetInterface; src: IpAddr } | null;
  if (via !== undefined) {
    // An explicit interface and source (DHCP, services/udp-service.ts):
    // RFC 2131 §4.1 "DHCP messages broadcast by a client prior to that
    // client obtaining its IP address must have the source address field in
    // the IP header set to 0" — the one use of 0.0.0.0 as a source RFC 1122
    // §3.2.1.3 allows ("as part of an initialization procedure by which the
    // host learns its own IP address"), to the limited broadcast or to a MAC
    // named by the caller only.
    if (v6 || typeof via.src !== 'number') return 'EADDRNOTAVAIL';
    if (via.src === 0 ? dst !== 0xffffffff && via.mac === undefined : !s.isLocalAddr(via.src)) return 'EADDRNOTAVAIL';
    r = { iface: via.iface, src: via.src };
  } else {
    r = s.routeFrom(dst);
  }
  if (!r) return 'ENETUNREACH';
  let src: IpAddr = r.src;
  if (!sock.wildcard && via === undefined) {
    const own = typeof sock.localAddr === 'string' ? (ipv6MappedToV4(sock.localAddr) ?? sock.localAddr) : sock.localAddr;
    if (typeof own !== typeof dst) return 'EADDRNOTAVAIL';
    src = own;
  }
  const iface = r.iface;
  const ttl = sock.ttl || s.ttl;
  const udpLen = UDP_HEADER_LEN + data.length;
  const ipLen = v6 ? IPV6_HEADER_LEN : 20;
  const buf = new Uint8Array(ipLen + udpLen);
  if (v6) emitIpv6({ src: src as Ipv6Addr, dst: dst as Ipv6Addr, trafficClass: 0, flowLabel: 0, payloadLen: udpLen, nextHeader: IPPROTO_UDP, hopLimit: ttl }, buf, 0);
  else emitIpv4({ src: src as number, dst: dst as number, protocol: IPPROTO_UDP, ttl, tos: 0, ident: s.nextIdent(), dontFragment: false, payloadLen: udpLen }, buf, 0, iface.caps);
  emitUdp({ srcPort: sock.localPort, dstPort, payload: data }, pseudo(src, dst), buf, ipLen, iface.caps);
  s.counters.udpOut++;
  if (via?.mac !== undefined && iface.link.transmitTo !== undefined && buf.length <= iface.mtu) {
    // RFC 2131 §4.1: "the server unicasts DHCPOFFER and DHCPACK messages to
    // the client's hardware address and 'yiaddr' address" — a frame to that
    // MAC without asking ARP (the client cannot answer ARP for an address
    // it does not have yet).
    s.counters.packetsOut++;
    if (s.hooks.length) s.trace({ type: 'packet', dir: 'out', time: s.clock.now(), bytes: buf });
    iface.link.transmitTo(via.mac, buf);
    return null;
  }
  // Larger than the MTU: fragmented (RFC 791 §2.3, RFC 8200 §4.5: "the
  // source node may divide the packet into fragments").
  s.sendDatagram(iface, buf);
  return null;
}

/** Where a datagram leaves when the sender chooses (IPv4 only): the interface, the source address (0 allowed, see sendUdp) and optionally the next hop's MAC. */
export interface UdpVia {
  iface: NetInterface;
  src: IpAddr;
  mac?: MacAddr;
}
