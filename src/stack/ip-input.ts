/**
 * The IP input of a stack, both families: header checks, martian sources,
 * "is it for us", fragment reassembly (ip/reassembly.ts, IPv4 and IPv6), the
 * IPv6 extension-header walk (RFC 8200 §4) with the ICMPv6 errors it asks
 * for, and the hand-off to TCP (tcp-input.ts) or ICMP (icmp.ts). Every
 * packet that goes no further is counted as a drop with a reason.
 */
import type { Instant } from '../base/time.ts';
import type { Ipv4Addr } from '../wire/types.ts';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from '../wire/types.ts';
import { parseIpv4 } from '../wire/ipv4.ts';
import { getU32 } from '../wire/bytes.ts';
import { ipv4InSubnet } from '../wire/bytes.ts';
import {
  IPPROTO_ICMPV6,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
  isIpv6V4Mapped,
  parseIpv6,
  walkIpv6,
  type Ipv6Addr,
  type Ipv6Repr,
} from '../wire/ipv6.ts';
import { receiveTcp } from './tcp-input.ts';
import { receiveUdp } from './udp.ts';
import { receiveIcmpV4, receiveIcmpV6, sendIcmpv6Error } from './icmp.ts';
import { forwardEcho } from './forward.ts';
import { parseIcmp } from '../wire/icmp.ts';
import { parseIcmpv6 } from '../wire/icmpv6.ts';
import type { NetInterface, Stack } from './stack.ts';

/** What a host of synack delivers over IPv6: TCP, UDP and ICMPv6 (any other Next Header is unrecognised). */
const V6_UPPER: ReadonlySet<number> = new Set([IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6]);

/** One IP packet from a link, either version. Ownership of `bytes` passes to the stack. */
export function receiveIp(s: Stack, iface: NetInterface, bytes: Uint8Array, now: Instant): void {
  if (bytes.length > 0 && bytes[0]! >>> 4 === 6) receiveIpv6(s, iface, bytes, now, false);
  else receiveIpv4(s, iface, bytes, now, false);
}

function receiveIpv4(s: Stack, iface: NetInterface, bytes: Uint8Array, now: Instant, reassembled: boolean): void {
  const ip = parseIpv4(bytes, iface.caps);
  if (!ip.ok) {
    // parseIpv4 checks the fragment bits last: a fragment passed every other
    // header check.
    if (ip.reason === 'ipv4-fragment' && !reassembled) {
      const src = getU32(bytes, 12);
      const dst = getU32(bytes, 16);
      if (!checkV4Addresses(s, iface, src, dst, bytes[9]!)) return;
      const r = s.reassembler().addV4(bytes, now);
      if (r.kind === 'dropped') s.drop(null, r.reason);
      else if (r.kind === 'complete') {
        s.counters.reassembled++;
        receiveIpv4(s, iface, r.packet, now, true);
      }
      s.armReassembly();
      return;
    }
    s.drop(null, ip.reason);
    return;
  }
  const h = ip.value.header;
  if (!reassembled && !checkV4Addresses(s, iface, h.src, h.dst, h.protocol)) return;
  if (h.protocol === IPPROTO_TCP) {
    receiveTcp(s, iface, h.src, h.dst, ip.value.payload, bytes, now, h.tos);
    s.flushDeferred();
  } else if (h.protocol === IPPROTO_UDP) {
    receiveUdp(s, iface, h.src, h.dst, ip.value.payload, bytes, now, !s.isLocalAddr(h.dst) && s.isBroadcastOrMulticast(h.dst));
  } else if (h.protocol === IPPROTO_ICMP) {
    if (!s.isLocalAddr(h.dst)) forwardIcmpV4(s, iface, h.src, h.dst, ip.value.payload, h.ttl, bytes);
    else receiveIcmpV4(s, iface, h.src, h.dst, ip.value.payload);
  } else {
    s.drop(null, 'ipv4-unknown-protocol');
  }
}

/** Martian source and "for us" checks of an IPv4 packet; false when it was dropped. */
function checkV4Addresses(s: Stack, iface: NetInterface, src: Ipv4Addr, dst: Ipv4Addr, protocol: number): boolean {
  // RFC 1122 §3.2.1.3 (a): { 0, 0 } "MUST NOT be sent, except as a source
  // address as part of an initialization procedure by which the host learns
  // its own IP address" — DHCP's: RFC 2131 §4.1 "DHCP messages broadcast by
  // a client prior to that client obtaining its IP address must have the
  // source address field in the IP header set to 0." Like Linux
  // (ip_route_input_slow: "Accept zero addresses only to limited
  // broadcast"), a UDP datagram from 0.0.0.0 is taken when it is addressed to
  // 255.255.255.255; from 0.0.0.0 to anything else it is a martian.
  if (src === 0 && dst === 0xffffffff && protocol === IPPROTO_UDP) return true;
  if (isMartianSource(s, iface, src)) {
    s.drop(null, 'ipv4-martian-source');
    return false;
  }
  // RFC 1122 §3.2.1.3 (g): 127.0.0.0/8 "MUST NOT appear outside a host":
  // addressed to it, a packet from a link is not for us (only the loopback
  // interface carries such packets; Linux drops them as martian destinations).
  if (!s.isLocalAddr(dst) || (dst >>> 24 === 127 && !iface.loopback)) {
    // RFC 1122 §3.3.6: "When a host sends a datagram to a link-layer
    // broadcast address, the IP destination address MUST be a legal IP
    // broadcast or IP multicast address" — and a host receives them: UDP
    // takes a datagram to 255.255.255.255 or a subnet broadcast of ours
    // (udp.ts delivers it to every socket on the port). synack joins no
    // multicast group.
    if (protocol === IPPROTO_UDP && dst >>> 28 !== 0xe && s.isBroadcastOrMulticast(dst)) return true;
    // A forwarding interface (forward.ts) takes TCP and UDP to any unicast
    // destination — not 127.0.0.0/8 from a link (above), 0.0.0.0/8 ("this
    // network", RFC 1122 §3.2.1.3 (a)), multicast, class E or a broadcast.
    // With an `echo` callback it takes ICMP too (echo requests, forwardIcmpV4).
    if (
      (protocol === IPPROTO_TCP || protocol === IPPROTO_UDP || (protocol === IPPROTO_ICMP && s.forwarding?.get(iface)?.config.echo !== undefined)) &&
      s.forwarding?.has(iface) &&
      dst >>> 24 !== 127 &&
      dst >>> 24 !== 0 &&
      dst >>> 28 < 0xe &&
      !s.isBroadcastOrMulticast(dst)
    ) {
      return true;
    }
    // RFC 1122 §4.2.3.10: "A TCP implementation MUST silently discard an
    // incoming SYN segment that is addressed to a broadcast or multicast
    // address." No TCP segment of ours is ever addressed to one.
    s.drop(null, protocol === IPPROTO_TCP && s.isBroadcastOrMulticast(dst) ? 'tcp-broadcast' : 'ipv4-not-for-us');
    return false;
  }
  return true;
}

/**
 * An ICMP message to an address that is not ours on a forwarding interface
 * with an `echo` callback (forward.ts): an echo request is handed to it (the
 * gateway relays it through a host echo socket); anything else is not ours.
 */
function forwardIcmpV4(s: Stack, iface: NetInterface, src: Ipv4Addr, dst: Ipv4Addr, payload: Uint8Array, ttl: number, packet: Uint8Array): void {
  const fw = s.forwarding?.get(iface);
  const r = parseIcmp(payload, iface.caps);
  if (!r.ok) {
    s.drop(null, r.reason);
    return;
  }
  if (!fw || r.value.type !== 'echo-request' || !forwardEcho(fw, src, dst, r.value.ident, r.value.seqNo, r.value.data, ttl, packet)) {
    s.drop(null, 'ipv4-not-for-us');
    return;
  }
  s.counters.icmpIn++;
}

/** The host-part bits of a /prefixLen subnet (all ones = the directed broadcast). */
export function subnetMask(prefixLen: number): number {
  return prefixLen >= 32 ? 0 : (0xffffffff >>> prefixLen) >>> 0;
}

/**
 * RFC 1122 §3.2.1.3: "A host MUST silently discard an incoming datagram
 * containing an IP source address that is invalid by the rules of this
 * section." Invalid are { 0, 0 } and { 0, <Host-number> } ("MUST NOT be
 * sent, except as a source address as part of an initialization
 * procedure"), { -1, -1 } and { <Network-number>, -1 } ("It MUST NOT be
 * used as a source address"), and { 127, <any> } ("Addresses of this form
 * MUST NOT appear outside a host") — accepted on a loopback interface only.
 * RFC 1112 §4: "A host group address must never be placed in the source
 * address field" (224.0.0.0/4); class E (240.0.0.0/4, RFC 1112 §4
 * "reserved for future addressing modes") is no host's source either. A
 * packet claiming our own address arrived from outside (the "land" attack;
 * Linux's fib_validate_source drops it as a martian too) — except on a
 * loopback interface, where it is ours.
 * RFC 1122 §4.2.3.10: "An incoming SYN with an invalid source address must
 * be ignored either by TCP or by the IP layer (see Section 3.2.1.3)." We
 * do it in the IP layer, for every protocol (no echo reply to a broadcast
 * source either).
 */
function isMartianSource(s: Stack, iface: NetInterface, src: Ipv4Addr): boolean {
  const top = src >>> 24;
  if (top === 0 || top >= 224) return true;
  const loopback = iface.loopback;
  if (top === 127) return !loopback;
  if (loopback) return false;
  for (const i of s.interfaces) {
    for (const a of i.addrs) {
      if (typeof a.addr !== 'number') continue;
      if (a.addr === src) return true;
      if (a.prefixLen <= 30 && ipv4InSubnet(src, a.addr, a.prefixLen) && ((src | subnetMask(a.prefixLen)) >>> 0) === src) return true;
    }
  }
  return false;
}

/**
 * An IPv6 source no packet from outside may carry:
 * RFC 4291 §2.7: "Multicast addresses must not be used as source addresses
 * in IPv6 packets or appear in any Routing header."
 * RFC 4291 §2.5.2: the unspecified address "indicates the absence of an
 * address" (a node without one, before it has learned its address — never
 * the source of a TCP segment or an echo request).
 * RFC 4291 §2.5.3: "The loopback address must not be used as the source
 * address in IPv6 packets that are sent outside of a single node."
 * IPv4-mapped addresses "represent the addresses of IPv4 nodes" (RFC 4291
 * §2.5.5.2) and never appear on the wire (RFC 4038 §5.1; Linux drops them
 * in ipv6_rcv). Our own address from outside is the "land" attack, as for
 * IPv4.
 */
function isMartianSourceV6(s: Stack, iface: NetInterface, src: Ipv6Addr): boolean {
  if (isIpv6Multicast(src) || isIpv6Unspecified(src) || isIpv6V4Mapped(src)) return true;
  if (iface.loopback) return false;
  return isIpv6Loopback(src) || s.isLocalAddr(src);
}

function receiveIpv6(s: Stack, iface: NetInterface, bytes: Uint8Array, now: Instant, reassembled: boolean): void {
  const ip = parseIpv6(bytes);
  if (!ip.ok) {
    s.drop(null, ip.reason);
    return;
  }
  const h = ip.value.header;
  // The checks below are a pure function of the source, the destination,
  // the interface and the stack's addresses: a flow's packets in a row repeat
  // the last pair that passed, which skips them until an address changes
  // (`addrGen`). A pair that fails is never remembered.
  if (!reassembled && !(h.src === s.v6OkSrc && h.dst === s.v6OkDst && iface === s.v6OkIface && s.v6OkGen === s.addrGen)) {
    if (isMartianSourceV6(s, iface, h.src)) {
      s.drop(null, 'ipv6-martian-source');
      return;
    }
    // RFC 4291 §2.5.3: "A packet received on an interface with a destination
    // address of loopback must be dropped." (isLocalAddr knows ::1 only on
    // the loopback interface.) synack joins no multicast group yet.
    if (!s.isLocalAddr(h.dst) || (isIpv6Loopback(h.dst) && !iface.loopback)) {
      // A forwarding interface (forward.ts) takes TCP and UDP to any
      // unicast destination (checked after the extension headers, below).
      if (!(s.forwarding?.has(iface) && !isIpv6Loopback(h.dst) && !isIpv6Multicast(h.dst) && !isIpv6Unspecified(h.dst))) {
        s.drop(null, 'ipv6-not-for-us');
        return;
      }
    }
    s.v6OkSrc = h.src;
    s.v6OkDst = h.dst;
    s.v6OkIface = iface;
    s.v6OkGen = s.addrGen;
  }
  const packet = ip.value.packet;
  // No extension header (the common case): the upper-layer header follows
  // the fixed one, which is what the walk would find at once (its first
  // step, "upper"), without its result object and payload view.
  const nh = h.nextHeader;
  const walk = nh === IPPROTO_TCP || nh === IPPROTO_UDP || nh === IPPROTO_ICMPV6 ? null : walkIpv6(packet, V6_UPPER);
  if (walk === null) {
    deliverIpv6(s, iface, h, nh, ip.value.payload, bytes, packet, now);
    return;
  }
  if (!walk.ok) {
    // RFC 8200 §4 (unrecognised Next Header: "discard the packet and send
    // an ICMP Parameter Problem message to the source of the packet, with
    // an ICMP Code value of 1"), §4.2 (options), §4.4 (Routing headers; RFC
    // 5095 for type 0) — the walk decides which, wire/ipv6.ts quotes them.
    s.drop(null, walk.reason);
    if (walk.icmp) sendIcmpv6Error(s, iface, walk.icmp, packet, now);
    return;
  }
  if (walk.kind === 'fragment') {
    if (reassembled) {
      // A Fragment header inside a reassembled packet: nested fragmentation
      // is never needed (the reassembled packet already is the original).
      s.drop(null, 'ipv6-bad-extension-header');
      return;
    }
    // RFC 8200 §4.5: the destination reassembles the fragments.
    const r = s.reassembler().addV6(packet, walk.fragment, now);
    if (r.kind === 'dropped') {
      s.drop(null, r.reason);
      if (r.icmp) sendIcmpv6Error(s, iface, r.icmp, packet, now);
    } else if (r.kind === 'complete') {
      s.counters.reassembled++;
      receiveIpv6(s, iface, r.packet, now, true);
    }
    s.armReassembly();
    return;
  }
  deliverIpv6(s, iface, h, walk.protocol, packet.subarray(walk.offset), bytes, packet, now);
}

/** The upper-layer header `protocol` of an IPv6 packet, at `payload`. */
function deliverIpv6(s: Stack, iface: NetInterface, h: Ipv6Repr, protocol: number, payload: Uint8Array, bytes: Uint8Array, packet: Uint8Array, now: Instant): void {
  if (protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP && !s.isLocalAddr(h.dst)) {
    // Only TCP, UDP and (with an `echo` callback) echo requests are
    // forwarded: other ICMPv6 to another address is not ours to answer.
    const fw = protocol === IPPROTO_ICMPV6 ? s.forwarding?.get(iface) : undefined;
    const m = fw?.config.echo ? parseIcmpv6(payload, h.src, h.dst, iface.caps) : null;
    if (m && !m.ok) {
      s.drop(null, m.reason);
      return;
    }
    if (fw && m?.ok && m.value.kind === 'echo-request' && forwardEcho(fw, h.src, h.dst, m.value.ident, m.value.seq, m.value.data, h.hopLimit, packet)) {
      s.counters.icmpIn++;
      return;
    }
    s.drop(null, 'ipv6-not-for-us');
    return;
  }
  if (protocol === IPPROTO_TCP) {
    // RFC 8200 §7: the Traffic Class holds the ECN field in its two low bits (RFC 3168).
    receiveTcp(s, iface, h.src, h.dst, payload, bytes, now, h.trafficClass & 3);
    s.flushDeferred();
  } else if (protocol === IPPROTO_UDP) {
    receiveUdp(s, iface, h.src, h.dst, payload, packet, now);
  } else {
    receiveIcmpV6(s, iface, h.src, h.dst, payload, now);
  }
}
