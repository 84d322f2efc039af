/**
 * Forwarding hooks of a stack: one interface of it can take TCP connections
 * and UDP datagrams addressed to ANY destination, so a program above (the
 * gateway, src/gateway/) can terminate them and re-create them with host
 * sockets — user-mode networking, as gVisor's netstack does for
 * gvisor-tap-vsock (a promiscuous, spoofing NIC and a TCP forwarder that
 * holds the SYN until the application decides).
 *
 * TCP: a SYN that finds neither a connection nor (for one of our own
 * addresses) a listener becomes a `TcpForwardRequest` handed to the
 * interface's `tcp` callback with its 4-tuple. Nothing is sent until the
 * application decides:
 *  - `accept()`: the connection is created in LISTEN for exactly that
 *    4-tuple and the held SYN is processed as RFC 9293 §3.10.7.2 says, so
 *    the SYN,ACK goes out only now;
 *  - `reject()`: the RST of a CLOSED port (§3.10.7.1), the guest sees
 *    ECONNREFUSED;
 *  - `unreachable(kind)`: an ICMP Destination Unreachable (RFC 792 / RFC
 *    1122 §3.2.2.1; ICMPv6 RFC 4443 §3.1) quoting the SYN.
 * Retransmitted SYNs while the decision is pending are absorbed (counted,
 * no second callback); a RST from the guest for the tuple cancels the
 * request (`oncancel`). Pending requests are bounded per interface: when
 * full, requests older than the pending timeout are evicted, else the new
 * SYN is dropped (counted). Listeners, their backlog and SYN cookies are not
 * involved: a forwarded SYN never meets them.
 *
 * UDP: a datagram to a destination that is not ours, or to a port of ours
 * no socket is bound to, goes to the `udp` callback with (src, dst);
 * `sendForwardedUdp` sends the reply from any address (the one the guest
 * sent to); `sendForwardedPortUnreachable` answers one with an ICMP port
 * unreachable quoting it.
 *
 * ICMP echo: with an `echo` callback, an echo request (ICMP or ICMPv6) to a
 * unicast destination that is not ours goes to it (ForwardedEcho), and
 * `sendForwardedEchoReply` sends the reply from the address pinged.
 *
 * Pure: no node: import, no wall clock.
 */
import type { Instant } from '../base/time.ts';
import type { TcpRepr } from '../wire/types.ts';
import { ACK, FIN, IPPROTO_UDP, RST, SYN } from '../wire/types.ts';
import { emitIpv4 } from '../wire/ipv4.ts';
import { emitIpv6, IPV6_HEADER_LEN, type IpAddr, type Ipv6Addr } from '../wire/ipv6.ts';
import { emitUdp, UDP_HEADER_LEN, type UdpPseudo } from '../wire/udp.ts';
import { emitIcmpEcho, icmpEchoLen } from '../wire/icmp.ts';
import { emitIcmpv6, icmpv6Len } from '../wire/icmpv6.ts';
import { IPPROTO_ICMP, CHECKSUM_FULL } from '../wire/types.ts';
import { checksum } from '../wire/checksum.ts';
import { getU32, setU16 } from '../wire/bytes.ts';
import { IPPROTO_ICMPV6 } from '../wire/ipv6.ts';
import { Connection } from '../tcp/connection.ts';
import { deriveTcpConfig, type TcpConfig } from '../tcp/config.ts';
import { seqAdd } from '../tcp/seq.ts';
import { EMPTY } from '../tcp/send-buffer.ts';
import { Listener, type ConnectionObserver, type NetInterface } from './types.ts';
import { sendIcmpV4Unreachable, sendIcmpv6Error } from './icmp.ts';
import type { Stack } from './stack.ts';

/** Why a forwarded connection could not be made, as the ICMP Destination Unreachable sent for it. */
export type UnreachableKind = 'net' | 'host' | 'port' | 'admin';

/** One UDP datagram addressed to a forwarding interface (src: the guest; dst: where it was sent). */
export interface ForwardedDatagram {
  readonly iface: NetInterface;
  readonly src: IpAddr;
  readonly srcPort: number;
  readonly dst: IpAddr;
  readonly dstPort: number;
  /** The payload (a copy the callback may keep). */
  readonly data: Uint8Array;
  /** The datagram's first octets from its IP header (a copy, at most 548 / 1232), to quote in an ICMP error. */
  readonly quote?: Uint8Array;
}

/** One ICMP / ICMPv6 echo request to a destination that is not ours (src: the guest). */
export interface ForwardedEcho {
  readonly iface: NetInterface;
  readonly src: IpAddr;
  readonly dst: IpAddr;
  readonly ident: number;
  readonly seq: number;
  /** The echo data (a copy the callback may keep). */
  readonly data: Uint8Array;
  /** The request's TTL / hop limit as it arrived. */
  readonly ttl: number;
  /** The request's first octets from its IP header (a copy, at most 548 / 1232), to quote in an ICMP error. */
  readonly quote?: Uint8Array;
}

export interface ForwardingConfig {
  /** SYNs to any destination with no connection or listener. Called after the segment's processing (never inside the TCB). */
  tcp?: (req: TcpForwardRequest) => void;
  /** UDP datagrams to any destination no socket takes. Called synchronously: it must not re-enter the stack. */
  udp?: (d: ForwardedDatagram) => void;
  /** ICMP / ICMPv6 echo requests to any unicast destination that is not ours. Called synchronously: it must not re-enter the stack. */
  echo?: (e: ForwardedEcho) => void;
  /** Pending TCP requests at most (default 1024). */
  maxPending?: number;
  /** After this long a pending request may be evicted to make room (default 75 s, µs). */
  pendingTimeoutUs?: number;
}

/** What a forwarding interface counts. */
export interface ForwardingStats {
  /** SYNs that became a request (one per handshake attempt, not per retransmission). */
  synRequests: number;
  /** Retransmitted SYNs absorbed while their request was pending. */
  synAbsorbed: number;
  accepted: number;
  refused: number;
  unreachable: number;
  /** Requests cancelled by a RST from the guest. */
  cancelled: number;
  /** Requests evicted after the pending timeout. */
  expired: number;
  /** SYNs dropped because the pending table was full. */
  pendingFull: number;
  udpIn: number;
  udpOut: number;
  echoIn: number;
  echoOut: number;
}

/** The forwarding state of one interface (made by Stack.enableForwarding). */
export class Forwarding {
  readonly pending = new Map<string, TcpForwardRequest>();
  readonly stats: ForwardingStats = { synRequests: 0, synAbsorbed: 0, accepted: 0, refused: 0, unreachable: 0, cancelled: 0, expired: 0, pendingFull: 0, udpIn: 0, udpOut: 0, echoIn: 0, echoOut: 0 };
  readonly maxPending: number;
  readonly pendingTimeoutUs: number;
  constructor(
    readonly stack: Stack,
    readonly iface: NetInterface,
    readonly config: ForwardingConfig,
  ) {
    this.maxPending = Math.max(1, config.maxPending ?? 1024);
    this.pendingTimeoutUs = config.pendingTimeoutUs ?? 75_000_000;
  }
}

/** The pending-table key of a 4-tuple: both addresses of one family (an Ipv6Addr is 8 code units, so the fields never run into each other). */
function tupleKey(src: IpAddr, srcPort: number, dst: IpAddr, dstPort: number): string {
  return typeof src === 'number' ? `${src}:${srcPort}>${dst as number}:${dstPort}` : `${src}${dst as string}${srcPort}:${dstPort}`;
}

export interface ForwardAcceptOptions {
  /** TcpConfig overrides of the new connection. */
  tcp?: Partial<TcpConfig>;
  /** Called once the handshake completes (ESTABLISHED), after the segment that completed it was processed. */
  onEstablished: (conn: Connection) => void;
  /** Hears the connection's events until onEstablished (a RST or timeout in SYN-RECEIVED ends it there). */
  observer?: ConnectionObserver;
}

export type ForwardRequestState = 'pending' | 'accepted' | 'refused' | 'unreachable' | 'cancelled' | 'expired';

/** A SYN to a forwarding interface, waiting for the application's decision. */
export class TcpForwardRequest {
  state: ForwardRequestState = 'pending';
  /** Set by the application: the request ended without its decision (the guest reset it, or it expired). */
  oncancel: ((why: 'reset' | 'expired') => void) | null = null;
  /** @internal */ syn: TcpRepr;
  /** @internal The invoking IP packet (its first octets), for an ICMP error. */ quote: Uint8Array;
  constructor(
    private readonly fw: Forwarding,
    /** @internal */ readonly key: string,
    /** The guest (the SYN's source). */
    readonly remoteAddr: IpAddr,
    readonly remotePort: number,
    /** Where the guest sent the SYN (the original destination). */
    readonly localAddr: IpAddr,
    readonly localPort: number,
    syn: TcpRepr,
    packet: Uint8Array,
    readonly at: Instant,
  ) {
    this.syn = copySyn(syn);
    // RFC 1812 §4.3.2.3 bounds an ICMPv4 error at 576 octets (icmp.ts);
    // ICMPv6's quote is cut by icmpv6Quote to fit 1280.
    this.quote = packet.slice(0, Math.min(packet.length, typeof remoteAddr === 'number' ? 548 : 1232));
  }

  get iface(): NetInterface {
    return this.fw.iface;
  }

  /**
   * Creates the connection and sends the SYN,ACK. RFC 9293 §3.10.7.2, LISTEN
   * STATE, "Third, check for a SYN": "Set RCV.NXT to SEG.SEQ+1, IRS is set
   * to SEG.SEQ, and any other control or text should be queued for
   * processing later. ISS should be selected and a SYN segment sent of the
   * form: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>" — the forwarder defers this
   * step until the host side has connected, so the guest's connect()
   * succeeds only when the real one did: the SYN is held (not answered)
   * meanwhile and processed now by a TCB in LISTEN for exactly its 4-tuple
   * ("If the listen was not fully specified ... the unspecified fields
   * should be filled in now"). Null if the request is no longer pending or
   * the stack is at its connection limit (then the guest gets a RST).
   */
  accept(opts: ForwardAcceptOptions): Connection | null {
    if (this.state !== 'pending') return null;
    const s = this.fw.stack;
    this.settle('accepted');
    if (s.connectionCount >= s.maxConnections || s.lookup(this.localAddr, this.localPort, this.remoteAddr, this.remotePort)) {
      s.drop(null, 'tcp-stack-connection-limit');
      this.sendRst();
      return null;
    }
    const now = s.clock.now();
    const cfg = opts.tcp ? deriveTcpConfig(s.tcpConfig, opts.tcp) : s.tcpConfig;
    // A listener of this one connection (never in the stack's table): it
    // carries the handover to onEstablished (Stack.onStateChange).
    const l = new Listener(s, this.localAddr, this.localPort, 1, cfg, opts.onEstablished);
    const conn = new Connection(s, cfg, s.connectionMtu(this.fw.iface, this.remoteAddr));
    s.meta.set(conn, { listener: l, accepted: false });
    if (opts.observer) conn.user = opts.observer;
    conn.listen({ localAddr: this.localAddr, localPort: this.localPort }, now);
    conn.remoteAddr = this.remoteAddr;
    conn.remotePort = this.remotePort;
    s.insert(conn);
    conn.onSegment(this.syn, now);
    if (conn.state === 'LISTEN') {
      s.remove(conn);
      return null;
    }
    this.fw.stats.accepted++;
    s.reschedule(conn);
    s.flushDeferred();
    return conn;
  }

  /**
   * Refuses: the reply of a port nobody listens on. RFC 9293 §3.10.7.1:
   * "If the ACK bit is off, sequence number zero is used,
   * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>" — the guest's connect()
   * fails with ECONNREFUSED at once.
   */
  reject(): boolean {
    if (this.state !== 'pending') return false;
    this.settle('refused');
    this.fw.stats.refused++;
    this.sendRst();
    return true;
  }

  /**
   * Answers with an ICMP Destination Unreachable quoting the SYN. RFC 792:
   * "If, according to the information in the gateway's routing tables, the
   * network specified in the internet destination field of a datagram is
   * unreachable, e.g., the distance to the network is infinity, the
   * gateway may send a destination unreachable message to the internet
   * source host of the datagram." RFC 1122 §3.2.2.1 lists the codes (0
   * net, 1 host, 3 port unreachable); RFC 1812 §5.2.7.1 code 13,
   * Communication Administratively Prohibited. ICMPv6, RFC 4443 §3.1: code
   * 0 no route to destination, 1 administratively prohibited, 3 address
   * unreachable, 4 port unreachable.
   */
  unreachable(kind: UnreachableKind): boolean {
    if (this.state !== 'pending') return false;
    this.settle('unreachable');
    this.fw.stats.unreachable++;
    const s = this.fw.stack;
    const now = s.clock.now();
    if (typeof this.remoteAddr === 'number') {
      sendIcmpV4Unreachable(s, this.fw.iface, kind === 'net' ? 0 : kind === 'host' ? 1 : kind === 'port' ? 3 : 13, this.quote, now);
    } else {
      sendIcmpv6Error(s, this.fw.iface, { type: 1, code: kind === 'net' ? 0 : kind === 'host' ? 3 : kind === 'port' ? 4 : 1 }, this.quote, now);
    }
    return true;
  }

  /** @internal A retransmission (or a new SYN of the same tuple) while pending: keep the newest. */
  update(seg: TcpRepr, packet: Uint8Array): void {
    if (seg.seq !== this.syn.seq) {
      this.syn = copySyn(seg);
      this.quote = packet.slice(0, this.quote.length);
    }
  }

  /** @internal The guest reset it, or it expired. */
  cancel(why: 'reset' | 'expired'): void {
    if (this.state !== 'pending') return;
    this.settle(why === 'reset' ? 'cancelled' : 'expired');
    if (why === 'reset') this.fw.stats.cancelled++;
    else this.fw.stats.expired++;
    this.oncancel?.(why);
  }

  private settle(state: ForwardRequestState): void {
    this.state = state;
    if (this.fw.pending.get(this.key) === this) this.fw.pending.delete(this.key);
  }

  private sendRst(): void {
    const seg = this.syn;
    const segLen = seg.payload.length + 1 + (seg.flags & FIN ? 1 : 0);
    this.fw.stack.sendRst(this.localAddr, this.remoteAddr, this.localPort, this.remotePort, 0, seqAdd(seg.seq, segLen), RST | ACK);
  }
}

/** The pseudo-header address sum (as udp.ts's, which imports this file). */
function udpPseudo(src: IpAddr, dst: IpAddr): UdpPseudo {
  let sum = 0;
  if (typeof src === 'number') {
    const d = dst as number;
    sum = (src >>> 16) + (src & 0xffff) + (d >>> 16) + (d & 0xffff);
    return { v6: false, addrSum: sum };
  }
  for (let i = 0; i < 8; i++) sum += src.charCodeAt(i) + (dst as Ipv6Addr).charCodeAt(i);
  return { v6: true, addrSum: sum };
}

function copySyn(seg: TcpRepr): TcpRepr {
  // A SYN rarely carries data: an empty payload shares one empty array (a
  // slice would be an ArrayBuffer of its own per SYN).
  return { ...seg, options: seg.options.slice(), payload: seg.payload.length === 0 ? EMPTY : seg.payload.slice() };
}

/**
 * A segment that found no connection on a forwarding interface (and no
 * listener). Returns true when it was handled here (a SYN became or joined a
 * request; a RST cancelled one), false for the CLOSED-state reply.
 */
export function forwardTcp(s: Stack, fw: Forwarding, src: IpAddr, dst: IpAddr, seg: TcpRepr, packet: Uint8Array, now: Instant): boolean {
  const cb = fw.config.tcp;
  if (!cb) return false;
  const key = tupleKey(src, seg.srcPort, dst, seg.dstPort);
  const pending = fw.pending.get(key);
  if (seg.flags & RST) {
    if (!pending) return false;
    s.drop(null, 'tcp-forward-cancelled');
    pending.cancel('reset');
    return true;
  }
  if ((seg.flags & (SYN | ACK)) !== SYN) return false;
  if (pending) {
    // The guest's SYN retransmission (RFC 6298 §5, 1 s then doubling) while
    // the host connect is still under way: one request per attempt.
    fw.stats.synAbsorbed++;
    s.drop(null, 'tcp-forward-syn-pending');
    pending.update(seg, packet);
    return true;
  }
  if (fw.pending.size >= fw.maxPending) {
    for (const r of fw.pending.values()) {
      if (now - r.at < fw.pendingTimeoutUs) break; // insertion order: the rest are younger
      s.drop(null, 'tcp-forward-expired');
      r.cancel('expired');
    }
    if (fw.pending.size >= fw.maxPending) {
      fw.stats.pendingFull++;
      s.drop(null, 'tcp-forward-pending-full');
      return true;
    }
  }
  const req = new TcpForwardRequest(fw, key, src, seg.srcPort, dst, seg.dstPort, seg, packet, now);
  fw.pending.set(key, req);
  fw.stats.synRequests++;
  s.defer(() => cb(req));
  return true;
}

/** A UDP datagram no socket took, on a forwarding interface with a `udp` callback. Returns true if the callback took it. */
export function forwardUdp(fw: Forwarding, src: IpAddr, srcPort: number, dst: IpAddr, dstPort: number, payload: Uint8Array, packet?: Uint8Array): boolean {
  const cb = fw.config.udp;
  if (!cb) return false;
  fw.stats.udpIn++;
  const quote = packet ? packet.slice(0, Math.min(packet.length, typeof src === 'number' ? 548 : 1232)) : undefined;
  cb({ iface: fw.iface, src, srcPort, dst, dstPort, data: payload.slice(), ...(quote ? { quote } : {}) });
  return true;
}

/** An echo request to an address that is not ours, on a forwarding interface with an `echo` callback. Returns true if the callback took it. */
export function forwardEcho(fw: Forwarding, src: IpAddr, dst: IpAddr, ident: number, seq: number, data: Uint8Array, ttl: number, packet?: Uint8Array): boolean {
  const cb = fw.config.echo;
  if (!cb) return false;
  fw.stats.echoIn++;
  const quote = packet ? packet.slice(0, Math.min(packet.length, typeof src === 'number' ? 548 : 1232)) : undefined;
  cb({ iface: fw.iface, src, dst, ident, seq, data: data.slice(), ttl, ...(quote ? { quote } : {}) });
  return true;
}

/**
 * Sends an echo reply from `src` (the address the guest pinged) to `dst`
 * out of a forwarding interface, fragmented when larger than the MTU. RFC
 * 792: "The identifier and sequence number may be used by the echo sender
 * to aid in matching the replies with the echo requests ... The echoer
 * returns these same values in the echo reply." RFC 4443 §4.2: "The source
 * address of an Echo Reply sent in response to a unicast Echo Request
 * message MUST be the same as the destination address of that Echo Request
 * message." `ttl` is the IP TTL / hop limit the reply leaves with (the one
 * the host's reply arrived with, when known).
 */
export function sendForwardedEchoReply(fw: Forwarding, src: IpAddr, dst: IpAddr, ident: number, seq: number, data: Uint8Array, ttl: number): 'EMSGSIZE' | 'EAFNOSUPPORT' | null {
  const s = fw.stack;
  const iface = fw.iface;
  const v6 = typeof dst === 'string';
  if (v6 !== (typeof src === 'string')) return 'EAFNOSUPPORT';
  if (data.length > (v6 ? 0xffff - 8 : 0xffff - 28)) return 'EMSGSIZE';
  const hop = ttl >= 1 && ttl <= 255 ? ttl : s.ttl;
  let buf: Uint8Array;
  if (v6) {
    const m = { kind: 'echo-reply' as const, code: 0, ident, seq, data };
    const len = icmpv6Len(m);
    buf = new Uint8Array(IPV6_HEADER_LEN + len);
    emitIpv6({ src: src as Ipv6Addr, dst: dst as Ipv6Addr, trafficClass: 0, flowLabel: 0, payloadLen: len, nextHeader: IPPROTO_ICMPV6, hopLimit: hop }, buf, 0);
    emitIcmpv6(m, src as Ipv6Addr, dst as Ipv6Addr, buf, IPV6_HEADER_LEN, CHECKSUM_FULL);
  } else {
    const m = { type: 'echo-reply' as const, ident, seqNo: seq, data };
    const len = icmpEchoLen(m);
    buf = new Uint8Array(20 + len);
    emitIpv4({ src: src as number, dst: dst as number, protocol: IPPROTO_ICMP, ttl: hop, tos: 0, ident: s.nextIdent(), dontFragment: false, payloadLen: len }, buf, 0, CHECKSUM_FULL);
    emitIcmpEcho(m, buf, 20);
  }
  fw.stats.echoOut++;
  s.sendDatagram(iface, buf);
  return null;
}

/**
 * The host's socket for a forwarded UDP flow learnt that the destination
 * port is closed (ECONNREFUSED): the guest gets the port unreachable its
 * destination would have sent, quoting its datagram, from the address it
 * sent to. RFC 1122 §3.2.2.1: "A host SHOULD generate Destination
 * Unreachable messages with code: ... 3 (Port Unreachable), if the
 * designated transport protocol (e.g., UDP) is unable to demultiplex the
 * datagram but has no protocol mechanism to inform the sender". RFC 4443
 * §3.1: "If the transport protocol has no listener, the destination node
 * SHOULD send a Destination Unreachable message with Code 4 (port
 * unreachable)." Rate-limited as every ICMP error of the stack (icmp.ts).
 * False when the datagram has no quote.
 */
export function sendForwardedPortUnreachable(fw: Forwarding, d: ForwardedDatagram): boolean {
  return sendForwardedUnreachable(fw, d, 'port');
}

/**
 * A Destination Unreachable about a forwarded datagram (or echo request), of the kind the
 * host learnt (codes as TcpForwardRequest.unreachable: RFC 1122 §3.2.2.1
 * 0 net, 1 host, 3 port; RFC 1812 §5.2.7.1 13 administratively
 * prohibited; ICMPv6 RFC 4443 §3.1 0, 3, 4, 1). ICMPv4 ones come from
 * the destination (as sendIcmpV4Unreachable sends every one); an ICMPv6
 * port unreachable from the destination, the others from the gateway.
 */
export function sendForwardedUnreachable(fw: Forwarding, d: { readonly src: IpAddr; readonly dst: IpAddr; readonly quote?: Uint8Array }, kind: UnreachableKind): boolean {
  if (!d.quote) return false;
  const s = fw.stack;
  const now = s.clock.now();
  if (typeof d.src === 'number') {
    sendIcmpV4Unreachable(s, fw.iface, kind === 'net' ? 0 : kind === 'host' ? 1 : kind === 'port' ? 3 : 13, d.quote, now);
  } else {
    const code = kind === 'net' ? 0 : kind === 'host' ? 3 : kind === 'port' ? 4 : 1;
    sendIcmpv6Error(s, fw.iface, { type: 1, code }, d.quote, now, kind === 'port' ? (d.dst as Ipv6Addr) : undefined);
  }
  return true;
}

/**
 * Sends a UDP datagram from any address and port (`src`, typically the
 * address the guest sent its datagram to) out of a forwarding interface,
 * fragmented when larger than the MTU. Returns null, or 'EMSGSIZE' (more
 * than one IP datagram holds) / 'EAFNOSUPPORT' (mixed families).
 */
export function sendForwardedUdp(fw: Forwarding, src: IpAddr, srcPort: number, dst: IpAddr, dstPort: number, data: Uint8Array): 'EMSGSIZE' | 'EAFNOSUPPORT' | null {
  const s = fw.stack;
  const iface = fw.iface;
  const v6 = typeof dst === 'string';
  if (v6 !== (typeof src === 'string')) return 'EAFNOSUPPORT';
  const max = v6 ? 0xffff - UDP_HEADER_LEN : 0xffff - 20 - UDP_HEADER_LEN;
  if (data.length > max) return 'EMSGSIZE';
  const udpLen = UDP_HEADER_LEN + data.length;
  const ipLen = v6 ? IPV6_HEADER_LEN : 20;
  const buf = new Uint8Array(ipLen + udpLen);
  if (v6) emitIpv6({ src: src as Ipv6Addr, dst: dst as Ipv6Addr, trafficClass: 0, flowLabel: 0, payloadLen: udpLen, nextHeader: IPPROTO_UDP, hopLimit: s.ttl }, buf, 0);
  else emitIpv4({ src: src as number, dst: dst as number, protocol: IPPROTO_UDP, ttl: s.ttl, tos: 0, ident: s.nextIdent(), dontFragment: false, payloadLen: udpLen }, buf, 0, iface.caps);
  emitUdp({ srcPort, dstPort, payload: data }, udpPseudo(src, dst), buf, ipLen, iface.caps);
  s.counters.udpOut++;
  fw.stats.udpOut++;
  s.sendDatagram(iface, buf);
  return null;
}

/**
 * An ICMP error a router beyond the host sent about a relayed echo request
 * (the host echo socket's error queue), passed on to the guest about ITS
 * request (`quote`: its first octets from the IP header), from the router
 * (`from`). RFC 792: Time Exceeded (type 11) "If the gateway processing a
 * datagram finds the time to live field is zero it must discard the
 * datagram. The gateway may also notify the source host via the time
 * exceeded message"; Destination Unreachable (type 3) with the router's
 * code. RFC 1122 §3.2.2: the message includes "the Internet header and at
 * least the first 8 data octets of the datagram that triggered the error".
 * ICMPv6 (RFC 4443 §3.1, §3.3): types 1 and 3 with their codes. Other types
 * (and Fragmentation Needed, whose MTU the socket does not give) are not
 * relayed: false. Rate-limited as every ICMP error of the stack.
 */
export function sendForwardedIcmpError(fw: Forwarding, from: IpAddr, type: number, code: number, quote: Uint8Array): boolean {
  const s = fw.stack;
  const now = s.clock.now();
  if (typeof from === 'string') {
    if ((type !== 1 && type !== 3) || quote.length < IPV6_HEADER_LEN) return false;
    sendIcmpv6Error(s, fw.iface, { type, code }, quote, now, from);
    return true;
  }
  if (!((type === 3 && code !== 4 && code <= 15) || (type === 11 && code <= 1)) || quote.length < 20) return false;
  if (!s.icmpv4Limiter(now).tryTake(now)) {
    s.drop(null, 'icmp-rate-limited');
    return true;
  }
  const dst = getU32(quote, 12);
  const q = quote.subarray(0, Math.min(quote.length, 576 - 28));
  const len = 8 + q.length;
  const buf = new Uint8Array(20 + len);
  emitIpv4({ src: from, dst, protocol: IPPROTO_ICMP, ttl: s.ttl, tos: 0, ident: s.nextIdent(), dontFragment: false, payloadLen: len }, buf, 0, CHECKSUM_FULL);
  buf[20] = type;
  buf[21] = code;
  buf.set(q, 28);
  setU16(buf, 22, checksum(buf, 20, buf.length));
  s.counters.icmpErrorsOut++;
  s.sendDatagram(fw.iface, buf);
  return true;
}
