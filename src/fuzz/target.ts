/**
 * The fuzz target: one live stack holding connections in every TCP state,
 * driven by a scripted raw peer (packetdrill-style) over a capture link, all
 * under a virtual clock and all from one seed. The fuzzer then feeds it
 * random and mutated IP packets through `inject`.
 *
 * States built (target port ← peer port): LISTEN (80, 81), SYN-RECEIVED,
 * SYN-SENT, ESTABLISHED (passive and active, idle, with data in flight both
 * ways and held out-of-order data, behind a zero window), FIN-WAIT-1,
 * FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT; and UDP: a socket
 * bound to port 53 with a small receive buffer, and one connected to the
 * peer's port 5353 that has sent a datagram (the fuzzer mutates it back).
 *
 * The same interface also has an IPv6 address (issue 12): connections from
 * and to an IPv6 peer (passive and active ESTABLISHED, one with data both
 * ways and held out-of-order data, FIN-WAIT-1, LAST-ACK) and a UDP socket
 * connected to the IPv6 peer. They are built after the IPv4 ones from an RNG
 * of their own, so the IPv4 part of a target is the same as before they were
 * added (saved fixtures replay on the same connections).
 */
import { Stack } from '../stack/stack.ts';
import type { Link } from '../stack/link.ts';
import type { Connection } from '../tcp/connection.ts';
import type { TcpConfig } from '../tcp/config.ts';
import { VirtualClock } from '../base/time.ts';
import { Rng } from '../base/rng.ts';
import { emitIpv4Tcp, parseTcp } from '../wire/tcp.ts';
import { parseIpv4 } from '../wire/ipv4.ts';
import { emitIpv6Tcp } from '../wire/tcp.ts';
import { ipv6FromWords, parseIpv6, type IpAddr, type Ipv6Addr } from '../wire/ipv6.ts';
import { UdpSocket } from '../udp/table.ts';
import { sendUdp } from '../stack/udp.ts';
import { ACK, FIN, SYN, CHECKSUM_FULL, CHECKSUM_OFFLOAD, type ChecksumCaps, type TcpOption, type TcpRepr } from '../wire/types.ts';

export const TARGET_ADDR = ((10 << 24) | (9 << 16) | 1) >>> 0;
export const PEER_ADDR = ((10 << 24) | (9 << 16) | 2) >>> 0;
export const TARGET_ADDR6: Ipv6Addr = ipv6FromWords([0xfd09, 0, 0, 0, 0, 0, 0, 1]);
export const PEER_ADDR6: Ipv6Addr = ipv6FromWords([0xfd09, 0, 0, 0, 0, 0, 0, 2]);

/** A link that hands the target's packets to the fuzzer. */
export class CaptureLink implements Link {
  onReceive: ((packet: Uint8Array) => void) | null = null;
  readonly out: Uint8Array[] = [];
  sent = 0;
  constructor(
    readonly mtu: number,
    readonly checksum: ChecksumCaps,
  ) {}
  /** Called with every packet sent (the harness counts ICMP errors per instant). */
  onTransmit: ((packet: Uint8Array) => void) | null = null;
  transmit(packet: Uint8Array): void {
    this.sent++;
    this.onTransmit?.(packet);
    if (this.out.length < 256) this.out.push(packet);
  }
}

/** What the scripted peer knows of one connection. */
export interface PeerConn {
  label: string;
  /** The peer's address (PEER_ADDR or PEER_ADDR6) and the target's of the same family. */
  peer: IpAddr;
  local: IpAddr;
  peerPort: number;
  targetPort: number;
  /** The peer's next sequence number (what it sends next). */
  peerNxt: number;
  conn: Connection | null;
}

export interface TargetOptions {
  seed: number;
  /** Verify checksums on receive (mutations then mostly die at the checksum unless fixed). */
  checksums: boolean;
}

export class Target {
  readonly clock = new VirtualClock(1_000_000);
  readonly stack: Stack;
  readonly link: CaptureLink;
  readonly conns: PeerConn[] = [];
  readonly rng: Rng;
  /** Every packet seen while building (both directions, the target's reflected): seeds for mutation. */
  readonly corpus: Uint8Array[] = [];
  readonly caps: ChecksumCaps;
  readonly peerOptions: TcpOption[];
  private ident = 0;
  /** When the harness last checked the target, and the ICMP errors sent by then (for the rate-limit check). */
  checkedAt = 0;
  icmpErrorsChecked = 0;
  /** ICMP error packets sent at one virtual instant: the most seen (the token buckets allow a burst each). */
  maxIcmpAtInstant = 0;
  private icmpInstant = -1;
  private icmpAtInstant = 0;
  /** UDP sockets (for the harness: their queues stay within rcvbuf). */
  readonly udpSockets: UdpSocket[] = [];

  constructor(readonly opts: TargetOptions) {
    this.rng = new Rng(opts.seed ^ 0x7f4a7c15);
    const r = this.rng;
    this.caps = opts.checksums ? CHECKSUM_FULL : CHECKSUM_OFFLOAD;
    this.link = new CaptureLink(1500, this.caps);
    const tcp: Partial<TcpConfig> = {
      recvBufferBytes: r.chance(0.5) ? 4096 : 65_535,
      sendBufferBytes: 16_384,
      maxOutOfOrderBytes: 8192,
      maxOutOfOrderRanges: 8,
      mslUs: 2_000_000,
      maxRtoUs: 4_000_000,
      windowScaling: r.chance(0.7),
      timestamps: r.chance(0.7),
      sack: r.chance(0.7),
      finWithAck: r.chance(0.2),
      rfc1337: r.chance(0.3),
      receiverSws: r.chance(0.7) ? 'rfc9293' : 'bsd',
      congestionControl: r.chance(0.5) ? 'cubic' : 'newreno',
      noDelay: r.chance(0.5),
      userTimeoutUs: 30_000_000,
    };
    this.stack = new Stack({ clock: this.clock, isnSecret: [r.nextU32(), r.nextU32()], portSeed: r.nextU32(), tcp, name: 'target', defaultBacklog: 8, maxConnections: 256 });
    this.stack.addInterface({ addr: TARGET_ADDR, prefixLen: 16, link: this.link, more: [{ addr: TARGET_ADDR6, prefixLen: 64 }] });
    // The peer's SYN options: a random subset of what real stacks send.
    const o: TcpOption[] = [{ kind: 'mss', value: r.chance(0.8) ? 1460 : r.int(1, 2000) }];
    if (r.chance(0.6)) o.push({ kind: 'window-scale', shift: r.chance(0.9) ? r.int(0, 14) : r.int(15, 255) });
    if (r.chance(0.6)) o.push({ kind: 'sack-permitted' });
    if (r.chance(0.6)) o.push({ kind: 'timestamp', tsval: r.nextU32(), tsecr: 0 });
    this.peerOptions = o;
    this.build();
    this.checkedAt = this.clock.now();
    this.icmpErrorsChecked = this.stack.counters.icmpErrorsOut;
    this.link.onTransmit = (p) => {
      if (!isIcmpError(p)) return;
      const now = this.clock.now();
      if (now !== this.icmpInstant) {
        this.icmpInstant = now;
        this.icmpAtInstant = 0;
      }
      this.maxIcmpAtInstant = Math.max(this.maxIcmpAtInstant, ++this.icmpAtInstant);
    };
  }

  get now(): number {
    return this.clock.now();
  }

  /** Feeds one IP packet to the target (as the link would). */
  inject(bytes: Uint8Array): void {
    this.link.onReceive!(bytes);
  }

  /** Advances the clock and fires the target's timers. */
  advance(us: number): void {
    this.clock.advanceBy(us);
    this.stack.poll(this.clock.now());
  }

  /** Emits a segment from the peer (address PEER_ADDR + `peerHost`) to the target. */
  packet(tcp: TcpRepr, src: IpAddr = PEER_ADDR): Uint8Array {
    this.ident = (this.ident + 1) & 0xffff;
    if (typeof src === 'string') return emitIpv6Tcp({ src, dst: TARGET_ADDR6, hopLimit: 64, trafficClass: 0, flowLabel: this.ident }, tcp, CHECKSUM_FULL);
    return emitIpv4Tcp({ src, dst: TARGET_ADDR, ttl: 64, tos: 0, ident: this.ident, dontFragment: true }, tcp, CHECKSUM_FULL);
  }

  /** Sends a segment from the peer, keeps it (and the replies, reflected) in the corpus. */
  private send(pc: PeerConn, flags: number, ack: number, payload: Uint8Array = new Uint8Array(0), options: TcpOption[] = []): void {
    const seg: TcpRepr = { srcPort: pc.peerPort, dstPort: pc.targetPort, seq: pc.peerNxt >>> 0, ack: ack >>> 0, flags, window: 65535, urgentPointer: 0, options, payload };
    const bytes = this.packet(seg, pc.peer);
    this.corpus.push(bytes.slice());
    this.inject(bytes);
    pc.peerNxt = (pc.peerNxt + payload.length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0)) >>> 0;
    this.collect();
  }

  /** Moves the target's output into the corpus, reflected to look like the peer's. */
  collect(): void {
    for (const p of this.link.out) {
      if (this.corpus.length < 4096) this.corpus.push(reflect(p));
    }
    this.link.out.length = 0;
  }

  private conn(pc: PeerConn): Connection | null {
    return this.stack.lookup(pc.local, pc.targetPort, pc.peer, pc.peerPort);
  }

  /** Passive open from the peer; returns after the state `upTo` is reached. */
  private passive(label: string, peerPort: number, complete: boolean, peer: IpAddr = PEER_ADDR, r: Rng = this.rng): PeerConn {
    const pc: PeerConn = { label, peer, local: typeof peer === 'string' ? TARGET_ADDR6 : TARGET_ADDR, peerPort, targetPort: 80, peerNxt: r.nextU32(), conn: null };
    const ts = this.peerOptions.map((o) => (o.kind === 'timestamp' ? { ...o, tsval: (this.now / 1000) >>> 0 } : o));
    this.send(pc, SYN, 0, undefined, ts);
    pc.conn = this.conn(pc);
    if (complete && pc.conn) this.send(pc, ACK, (pc.conn.sndNxt >>> 0));
    this.conns.push(pc);
    return pc;
  }

  private active(label: string, peerPort: number, answer: boolean, peer: IpAddr = PEER_ADDR, r: Rng = this.rng): PeerConn {
    const c = this.stack.connect(peer, peerPort);
    const pc: PeerConn = { label, peer, local: typeof peer === 'string' ? TARGET_ADDR6 : TARGET_ADDR, peerPort, targetPort: c.localPort, peerNxt: r.nextU32(), conn: c };
    this.collect();
    if (answer) this.send(pc, SYN | ACK, c.sndNxt >>> 0, undefined, this.peerOptions);
    this.conns.push(pc);
    return pc;
  }

  private ack(pc: PeerConn): number {
    return (pc.conn?.sndMax ?? 0) >>> 0;
  }

  private build(): void {
    const st = this.stack;
    st.listen(80, { onConnection: () => {} });
    st.listen(81);
    const r = this.rng;
    this.passive('SYN-RECEIVED', 1001, false);
    this.passive('ESTABLISHED', 1002, true);
    this.active('SYN-SENT', 2001, false);
    this.active('ESTABLISHED(active)', 2002, true);
    // ESTABLISHED with data both ways, a hole and held out-of-order data.
    const busy = this.passive('ESTABLISHED(busy)', 1003, true);
    if (busy.conn) {
      st.send(busy.conn, fill(r, 3000));
      this.collect();
      this.send(busy, ACK, this.ack(busy), fill(r, 500));
      const hole = { ...busy, peerNxt: (busy.peerNxt + 300) >>> 0 };
      this.send(hole, ACK, this.ack(busy), fill(r, 200));
    }
    // Behind a zero window: the peer advertises 0; the target has data to send.
    const zw = this.passive('ESTABLISHED(zero-window)', 1004, true);
    if (zw.conn) {
      const seg: TcpRepr = { srcPort: zw.peerPort, dstPort: 80, seq: zw.peerNxt, ack: this.ack(zw), flags: ACK, window: 0, urgentPointer: 0, options: [], payload: new Uint8Array(0) };
      this.inject(this.packet(seg, zw.peer));
      st.send(zw.conn, fill(r, 2000));
      this.collect();
    }
    const fw1 = this.passive('FIN-WAIT-1', 1005, true);
    if (fw1.conn) st.close(fw1.conn);
    const fw2 = this.passive('FIN-WAIT-2', 1006, true);
    if (fw2.conn) {
      st.close(fw2.conn);
      this.send(fw2, ACK, this.ack(fw2));
    }
    const cw = this.passive('CLOSE-WAIT', 1007, true);
    if (cw.conn) this.send(cw, ACK | FIN, this.ack(cw));
    const la = this.passive('LAST-ACK', 1008, true);
    if (la.conn) {
      this.send(la, ACK | FIN, this.ack(la));
      st.close(la.conn);
    }
    const cl = this.passive('CLOSING', 1009, true);
    if (cl.conn) {
      const before = cl.conn.sndUna >>> 0;
      st.close(cl.conn);
      this.send(cl, ACK | FIN, before);
    }
    const tw = this.passive('TIME-WAIT', 1010, true);
    if (tw.conn) {
      st.close(tw.conn);
      this.send(tw, ACK, this.ack(tw));
      this.send(tw, ACK | FIN, this.ack(tw));
    }
    // UDP (RFC 768): a bound socket whose 4 KiB receive buffer overflows, and
    // a connected one whose datagram the fuzzer reflects and mutates (port
    // unreachables about it reach the socket).
    const udp = new UdpSocket(4);
    udp.rcvbuf = 4096;
    st.udp.bind(udp, 0, 53);
    const udpConn = new UdpSocket(4);
    st.udp.bind(udpConn, 0, 0);
    udpConn.remoteAddr = PEER_ADDR;
    udpConn.remotePort = 5353;
    sendUdp(st, udpConn, PEER_ADDR, 5353, fill(r, 100));
    this.collect();
    this.udpSockets.push(udp, udpConn);
    this.buildV6();
  }

  /** The IPv6 connections and socket (issue 12), from an RNG of their own (see the header). */
  private buildV6(): void {
    const st = this.stack;
    const r = new Rng(this.opts.seed ^ 0x1b873593);
    this.passive('ESTABLISHED(v6)', 1102, true, PEER_ADDR6, r);
    this.active('ESTABLISHED(v6,active)', 2102, true, PEER_ADDR6, r);
    const busy = this.passive('ESTABLISHED(v6,busy)', 1103, true, PEER_ADDR6, r);
    if (busy.conn) {
      st.send(busy.conn, fill(r, 3000));
      this.collect();
      this.send(busy, ACK, this.ack(busy), fill(r, 500));
      const hole = { ...busy, peerNxt: (busy.peerNxt + 300) >>> 0 };
      this.send(hole, ACK, this.ack(busy), fill(r, 200));
    }
    const fw1 = this.passive('FIN-WAIT-1(v6)', 1105, true, PEER_ADDR6, r);
    if (fw1.conn) st.close(fw1.conn);
    const la = this.passive('LAST-ACK(v6)', 1108, true, PEER_ADDR6, r);
    if (la.conn) {
      this.send(la, ACK | FIN, this.ack(la));
      st.close(la.conn);
    }
    const u6 = new UdpSocket(6);
    u6.rcvbuf = 4096;
    st.udp.bind(u6, 0, 0);
    u6.remoteAddr = PEER_ADDR6;
    u6.remotePort = 5353;
    sendUdp(st, u6, PEER_ADDR6, 5353, fill(r, 100));
    this.collect();
    this.udpSockets.push(u6);
  }

  /** Labels of the states actually reached (for the report). */
  states(): string[] {
    return this.conns.map((pc) => `${pc.label}:${pc.conn ? pc.conn.state : 'none'}`);
  }
}

/** An ICMPv4 error (types 3, 4, 5, 11, 12) or an ICMPv6 error (type < 128) right after a plain header. */
function isIcmpError(p: Uint8Array): boolean {
  if (p.length < 48) return false;
  if (p[0]! >>> 4 === 6) return p[6] === 58 && p[40]! < 128;
  const ihl = (p[0]! & 15) * 4;
  return p[9] === 1 && [3, 4, 5, 11, 12].includes(p[ihl]!);
}

function fill(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  r.fill(b);
  return b;
}

/**
 * One of the target's packets turned around: addresses and ports swapped,
 * so it arrives as if the peer had sent it (a real segment of a real
 * connection, with plausible options and sequence numbers). Checksums are
 * recomputed by re-emitting when the packet parses.
 */
export function reflect(p: Uint8Array): Uint8Array {
  if (p.length && p[0]! >>> 4 === 6) {
    const ip6 = parseIpv6(p);
    if (!ip6.ok || ip6.value.header.nextHeader !== 6) return p.slice();
    const h = ip6.value.header;
    const t = parseTcp(ip6.value.payload, h.src, h.dst, CHECKSUM_OFFLOAD);
    if (!t.ok) return p.slice();
    const seg = t.value;
    return emitIpv6Tcp({ src: h.dst, dst: h.src, hopLimit: 64, trafficClass: 0, flowLabel: h.flowLabel }, { ...seg, srcPort: seg.dstPort, dstPort: seg.srcPort, payload: seg.payload.slice() }, CHECKSUM_FULL);
  }
  const ip = parseIpv4(p, CHECKSUM_OFFLOAD);
  if (!ip.ok) return p.slice();
  const h = ip.value.header;
  const t = parseTcp(ip.value.payload, h.src, h.dst, CHECKSUM_OFFLOAD);
  if (!t.ok) return p.slice();
  const seg = t.value;
  return emitIpv4Tcp(
    { src: h.dst, dst: h.src, ttl: 64, tos: 0, ident: h.ident, dontFragment: true },
    { ...seg, srcPort: seg.dstPort, dstPort: seg.srcPort, payload: seg.payload.slice() },
    CHECKSUM_FULL,
  );
}
