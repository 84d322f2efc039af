/**
 * The segment fuzzer: random and mutated IP packets into a live stack
 * holding connections in every state (target.ts). Inputs come from three
 * generators —
 *   template  a well-formed segment for one of the target's 4-tuples with
 *             seq/ack at window edges (RCV.NXT ± 1, RCV.ADV ± 1, SND.UNA,
 *             SND.MAX ± 1, SND.UNA − MAX.SND.WND, far away), every flag
 *             combination (SYN+FIN, RST+data, SYN+RST, URG, none), random
 *             windows, urgent pointers, option lists and payloads;
 *   mutation  a captured real packet (the setup trace, the target's own
 *             output reflected) with bit flips, byte sets, field changes
 *             (IHL, total length, data offset, flags, seq/ack), option
 *             garbage, truncation and extension, checksums fixed or not;
 *   random    random bytes with a plausible IPv4 header;
 *   ip        (ipgen.ts) the rest of the IP layer: TCP over IPv6 inside
 *             random extension-header chains, ICMPv6 (Packet Too Big,
 *             errors quoting real connections, echo, unknown and NDP
 *             types) and ICMPv4 errors, UDP of both families, and
 *             fragment trains of either version (shuffled, lost,
 *             duplicated, overlapping, atomic, tiny).
 * After every input: no exception may escape, the stack's invariants hold
 * (sim/world/invariants.ts), and memory stays bounded — connection
 * buffers, UDP receive queues, the reassembler (within its limits), the
 * PMTU cache. Time advances now
 * and then so the target's timers fire under fuzz state; the target is
 * rebuilt every `rebuildEvery` inputs.
 *
 * A failure is reproduced from (target seed, checksums, the inputs since
 * the last rebuild) and minimized by delta debugging to the fewest inputs
 * that still fail the same way.
 */
import { Rng } from '../base/rng.ts';
import { checkStack } from '../sim/world/invariants.ts';
import { Target, PEER_ADDR, PEER_ADDR6, TARGET_ADDR, TARGET_ADDR6, type PeerConn } from './target.ts';
import { emitIpv4Tcp } from '../wire/tcp.ts';
import { ACK, FIN, PSH, RST, SYN, URG, CHECKSUM_FULL, IPPROTO_TCP, type TcpOption, type TcpRepr } from '../wire/types.ts';
import { PMTU_CACHE_MAX } from '../stack/pmtu.ts';
import { ICMPV6_RATE_LIMIT_DEFAULT } from '../wire/icmpv6.ts';
import { fixChecksums, fragmentTrain, icmpv4ErrorPacket, icmpv6Packet, tcp6, udpPacket, type Quotable } from './ipgen.ts';
import { ipv6FromWords, IPV6_HEADER_LEN, type IpAddr } from '../wire/ipv6.ts';

/** One fuzz input: a packet (hex), a clock advance (µs), or "the application reads everything". */
export type Input = { p: string } | { t: number } | { r: 1 };

export interface FuzzFailure {
  kind: string;
  message: string;
  seed: number;
  checksums: boolean;
  inputs: Input[];
}

export interface FuzzStats {
  execs: number;
  targets: number;
  failures: number;
  packetsOut: number;
  drops: number;
}

const MAX_CONNS = 256;
/** Per-stack bound on buffered bytes: connections × (send + receive + out-of-order). */
function memoryBound(t: Target): number {
  const c = t.stack.tcpConfig;
  return MAX_CONNS * (c.sendBufferBytes + c.recvBufferBytes + (c.maxOutOfOrderBytes || c.recvBufferBytes) + 65536);
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(s: string): Uint8Array {
  const b = new Uint8Array(s.length >> 1);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return b;
}

// =============================================================================
// Generators
// =============================================================================

const FLAG_SETS = [SYN, SYN | ACK, ACK, ACK | PSH, FIN | ACK, RST, RST | ACK, SYN | FIN, SYN | RST, FIN | RST | ACK, SYN | FIN | RST | ACK, 0, URG | ACK, FIN, FIN | PSH | ACK, SYN | ACK | FIN];

function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[r.int(0, xs.length - 1)]!;
}

function randomOptions(r: Rng, near: number): TcpOption[] {
  const out: TcpOption[] = [];
  const n = r.int(0, 4);
  let len = 0;
  for (let i = 0; i < n; i++) {
    let o: TcpOption;
    switch (r.int(0, 8)) {
      case 0: o = { kind: 'mss', value: pick(r, [0, 1, 88, 536, 1460, 65535, r.int(0, 65535)]) }; break;
      case 1: o = { kind: 'window-scale', shift: pick(r, [0, 7, 14, 15, 255, r.int(0, 255)]) }; break;
      case 2: o = { kind: 'sack-permitted' }; break;
      case 3: {
        const blocks: Array<[number, number]> = [];
        for (let k = r.int(1, 4); k > 0; k--) {
          const a = (near + r.int(-70_000, 70_000)) >>> 0;
          blocks.push(r.chance(0.2) ? [a, (a - r.int(1, 100)) >>> 0] : [a, (a + r.int(0, 3000)) >>> 0]);
        }
        o = { kind: 'sack', blocks };
        break;
      }
      case 4: o = { kind: 'timestamp', tsval: r.chance(0.5) ? r.nextU32() : r.int(0, 5000), tsecr: r.chance(0.5) ? 0 : r.nextU32() }; break;
      case 5: o = { kind: 'nop' }; break;
      case 6: o = { kind: 'eol' }; break;
      default: {
        const d = new Uint8Array(r.int(0, 6));
        r.fill(d);
        o = { kind: 'unknown', code: pick(r, [6, 7, 9, 19, 28, 29, 30, 34, 254, r.int(9, 255)]), data: d };
      }
    }
    const l = o.kind === 'sack' ? 2 + 8 * o.blocks.length : o.kind === 'unknown' ? 2 + o.data.length : o.kind === 'timestamp' ? 10 : o.kind === 'mss' ? 4 : o.kind === 'window-scale' ? 3 : o.kind === 'sack-permitted' ? 2 : 1;
    if (len + l > 40) break;
    len += l;
    out.push(o);
  }
  return out;
}

/** A well-formed segment aimed at one of the target's connections (or a random 4-tuple), either family. */
function templatePacket(t: Target, r: Rng): Uint8Array {
  const { seg, pc } = templateSegment(t, r);
  const v6 = pc ? typeof pc.peer === 'string' : r.chance(0.3);
  if (v6) {
    const src = r.chance(0.97) ? PEER_ADDR6 : pick(r, [TARGET_ADDR6, ipv6FromWords([0, 0, 0, 0, 0, 0, 0, 1]), ipv6FromWords([0xff02, 0, 0, 0, 0, 0, 0, 1]), ipv6FromWords([0, 0, 0, 0, 0, 0xffff, 0x0a09, 2]), ipv6FromWords([0xfd09, 0, 0, 0, 0, 0, 0, r.int(0, 0xffff)])]);
    return tcp6(r, src, TARGET_ADDR6, seg);
  }
  const src = r.chance(0.97) ? PEER_ADDR : pick(r, [TARGET_ADDR, 0, 0xffffffff, r.nextU32()]);
  return emitIpv4Tcp({ src, dst: TARGET_ADDR, ttl: 64, tos: 0, ident: r.int(0, 65535), dontFragment: r.chance(0.9) }, seg, CHECKSUM_FULL);
}

function templateSegment(t: Target, r: Rng): { seg: TcpRepr; pc: PeerConn | null } {
  let srcPort: number;
  let dstPort: number;
  let rcvNxt: number;
  let rcvAdv: number;
  let una: number;
  let max: number;
  let maxWnd: number;
  const pcs = t.conns;
  const pc = pcs.length && r.chance(0.9) ? pick(r, pcs) : null;
  const c = pc ? t.stack.lookup(pc.local, pc.targetPort, pc.peer, pc.peerPort) : null;
  if (pc && c) {
    srcPort = pc.peerPort;
    dstPort = pc.targetPort;
    rcvNxt = c.rcvNxt >>> 0;
    rcvAdv = c.rcvAdv >>> 0;
    una = c.sndUna >>> 0;
    max = c.sndMax >>> 0;
    maxWnd = c.maxSndWnd;
  } else if (pc) {
    srcPort = pc.peerPort;
    dstPort = pc.targetPort;
    rcvNxt = pc.peerNxt;
    rcvAdv = (pc.peerNxt + 65535) >>> 0;
    una = max = r.nextU32();
    maxWnd = 65535;
  } else {
    srcPort = r.int(0, 65535);
    dstPort = pick(r, [80, 81, r.int(0, 65535)]);
    rcvNxt = r.nextU32();
    rcvAdv = rcvNxt;
    una = max = r.nextU32();
    maxWnd = 0;
  }
  const seq = pick(r, [rcvNxt, rcvNxt - 1, rcvNxt + 1, rcvAdv, rcvAdv - 1, rcvAdv + 1, rcvNxt + r.int(0, 70_000), rcvNxt - r.int(0, 70_000), rcvNxt + 0x80000000, r.nextU32()]) >>> 0;
  const ack = pick(r, [una, max, max + 1, una - 1, una - maxWnd, una - maxWnd - 1, max + r.int(0, 70_000), una - r.int(0, 70_000), r.nextU32()]) >>> 0;
  const flags = r.chance(0.6) ? pick(r, FLAG_SETS) : r.int(0, 255);
  const plen = pick(r, [0, 0, 0, 1, 2, r.int(0, 100), r.int(0, 1460), r.int(0, 4000)]);
  const payload = new Uint8Array(plen);
  if (plen) r.fill(payload);
  const seg: TcpRepr = {
    srcPort,
    dstPort,
    seq,
    ack,
    flags,
    window: pick(r, [0, 1, 1024, 65535, r.int(0, 65535)]),
    urgentPointer: flags & URG ? pick(r, [0, 1, plen, plen + 1, 65535, r.int(0, 65535)]) : r.chance(0.05) ? r.int(0, 65535) : 0,
    options: r.chance(0.5) ? randomOptions(r, r.chance(0.5) ? rcvNxt : una) : [],
    payload,
  };
  return { seg, pc };
}

/** A connection of the target as an ICMP error would quote it (the segment it sent, SND.UNA onward). */
function quotable(t: Target, r: Rng, v6: boolean): Quotable | null {
  const pcs = t.conns.filter((pc) => (typeof pc.peer === 'string') === v6);
  if (!pcs.length) return null;
  const pc = pick(r, pcs);
  const c = t.stack.lookup(pc.local, pc.targetPort, pc.peer, pc.peerPort);
  const una = c ? c.sndUna >>> 0 : r.nextU32();
  return { local: pc.local, remote: pc.peer, localPort: pc.targetPort, remotePort: pc.peerPort, seq: pick(r, [una, una + 1, una - 1, (c?.sndMax ?? una) >>> 0, r.nextU32()]) >>> 0, ack: (c?.rcvNxt ?? 0) >>> 0 };
}

/**
 * One input of the rest of the IP layer (ipgen.ts), or a train of
 * fragments (queued and fed one per input).
 */
function ipPackets(t: Target, r: Rng): Uint8Array[] {
  const k = r.int(0, 9);
  if (k <= 2) {
    const src = r.chance(0.95) ? PEER_ADDR6 : ipv6FromWords([0xfe80, 0, 0, 0, 0, 0, 0, r.int(1, 9)]);
    return [icmpv6Packet(r, src, r.chance(0.95) ? TARGET_ADDR6 : ipv6FromWords([0xff02, 0, 0, 0, 0, 0, 0, 1]), quotable(t, r, true))];
  }
  if (k === 3) return [icmpv4ErrorPacket(r, r.chance(0.9) ? PEER_ADDR : r.nextU32(), TARGET_ADDR, quotable(t, r, false))];
  if (k <= 5) {
    const v6 = r.chance(0.5);
    const ports = [53, 5353, 0, 7, r.int(0, 65535), ...t.udpSockets.map((u) => u.localPort)];
    const src: IpAddr = v6 ? PEER_ADDR6 : PEER_ADDR;
    const dst: IpAddr = v6 ? TARGET_ADDR6 : TARGET_ADDR;
    return [udpPacket(r, src, dst, pick(r, [5353, 53, r.int(0, 65535)]), pick(r, ports))];
  }
  if (k === 6 && r.chance(0.3)) {
    // A flood of first fragments from many sources (never completed): their
    // timeouts come at one instant, and so would as many Time Exceeded messages.
    const out: Uint8Array[] = [];
    for (let n = r.int(10, 60); n > 0; n--) {
      const v6 = r.chance(0.5);
      const seg: TcpRepr = { srcPort: r.int(1024, 65535), dstPort: 80, seq: r.nextU32(), ack: 0, flags: ACK, window: 1000, urgentPointer: 0, options: [], payload: new Uint8Array(1400) };
      const p = v6
        ? tcp6(r, ipv6FromWords([0xfd09, 0, 0, 0, 0, 0, r.int(1, 0xffff), r.int(1, 0xffff)]), TARGET_ADDR6, seg)
        : emitIpv4Tcp({ src: ((10 << 24) | (9 << 16) | r.int(3, 0xfffe)) >>> 0, dst: TARGET_ADDR, ttl: 64, tos: 0, ident: r.int(0, 65535), dontFragment: false }, seg, CHECKSUM_FULL);
      const first = fragmentTrain(r, p).find((f) => (isV6(f) ? f[6] === 44 && (f[42]! << 8 | f[43]!) >> 3 === 0 : ((f[6]! & 0x1f) << 8 | f[7]!) === 0));
      if (first) out.push(first);
    }
    return out;
  }
  // A fragment train: a template segment (either family), a UDP datagram, or an echo request.
  const base = r.chance(0.7) ? templatePacket(t, r) : r.chance(0.5) ? udpPacket(r, PEER_ADDR6, TARGET_ADDR6, 5353, pick(r, [53, 9])) : icmpv6Packet(r, PEER_ADDR6, TARGET_ADDR6, null);
  return fragmentTrain(r, base);
}

/** Whether `p` is an IPv6 packet (else IPv4 offsets apply). */
function isV6(p: Uint8Array): boolean {
  return p.length > 0 && p[0]! >>> 4 === 6;
}

/** A mutated copy of `base`. */
function mutate(base: Uint8Array, r: Rng): Uint8Array {
  let p = base.slice();
  const n = r.int(1, 4);
  for (let i = 0; i < n; i++) {
    const v6 = isV6(p);
    const ihl = v6 ? IPV6_HEADER_LEN : p.length ? (p[0]! & 15) * 4 : 20;
    const tcp = Math.min(ihl, p.length);
    switch (r.int(0, 11)) {
      case 0: // bit flips
        for (let k = r.int(1, 8); k > 0 && p.length; k--) {
          const bit = r.int(0, p.length * 8 - 1);
          p[bit >> 3]! ^= 1 << (bit & 7);
        }
        break;
      case 1: // a random byte
        if (p.length) p[r.int(0, p.length - 1)] = r.int(0, 255);
        break;
      case 2: // flags
        if (p.length > tcp + 13) p[tcp + 13] = r.chance(0.5) ? pick(r, FLAG_SETS) : r.int(0, 255);
        break;
      case 3: // seq or ack nudged
        if (p.length > tcp + 12) {
          const off = tcp + (r.chance(0.5) ? 4 : 8);
          const v = ((((p[off]! << 24) | (p[off + 1]! << 16) | (p[off + 2]! << 8) | p[off + 3]!) >>> 0) + pick(r, [1, -1, 2, 65535, -65535, 0x80000000, r.int(-100_000, 100_000)])) >>> 0;
          p[off] = v >>> 24;
          p[off + 1] = (v >>> 16) & 255;
          p[off + 2] = (v >>> 8) & 255;
          p[off + 3] = v & 255;
        }
        break;
      case 4: // data offset
        if (p.length > tcp + 12) p[tcp + 12] = (r.int(0, 15) << 4) | (p[tcp + 12]! & 15);
        break;
      case 5: // IHL / total length (IPv6: payload length)
        if (v6 && p.length >= 6) {
          const pl = pick(r, [0, 1, p.length - 41, p.length - 39, 65535, r.int(0, 65535)]) & 0xffff;
          p[4] = pl >> 8;
          p[5] = pl & 255;
        } else if (p.length >= 4) {
          if (r.chance(0.5)) p[0] = (p[0]! & 0xf0) | r.int(0, 15);
          else {
            const tl = pick(r, [0, 19, 20, p.length - 1, p.length + 1, 65535, r.int(0, 65535)]);
            p[2] = tl >> 8;
            p[3] = tl & 255;
          }
        }
        break;
      case 6: // truncate
        p = p.subarray(0, r.int(0, p.length)).slice();
        break;
      case 7: { // extend with garbage
        const extra = new Uint8Array(r.int(1, r.chance(0.1) ? 3000 : 64));
        r.fill(extra);
        const q = new Uint8Array(p.length + extra.length);
        q.set(p);
        q.set(extra, p.length);
        p = q;
        break;
      }
      case 8: // option area garbage
        if (p.length > tcp + 20) {
          const doff = ((p[tcp + 12]! >> 4) * 4) | 0;
          const end = Math.min(p.length, tcp + Math.max(doff, 24));
          for (let k = tcp + 20; k < end; k++) if (r.chance(0.5)) p[k] = pick(r, [0, 1, 2, 3, 4, 5, 8, 255, r.int(0, 255)]);
        }
        break;
      case 9: // window / urgent pointer
        if (p.length > tcp + 19) {
          const off = tcp + (r.chance(0.5) ? 14 : 18);
          p[off] = r.int(0, 255);
          p[off + 1] = r.int(0, 255);
        }
        break;
      case 10: // IP fragment bits, protocol, version (IPv6: next header, hop limit, version)
        if (v6 && p.length >= 8) {
          const k = r.int(0, 2);
          if (k === 0) p[6] = pick(r, [0, 6, 17, 43, 44, 58, 59, 60, 135, 139, r.int(0, 255)]);
          else if (k === 1) p[7] = pick(r, [0, 1, 255]);
          else p[0] = (r.int(0, 15) << 4) | (p[0]! & 15);
        } else if (p.length >= 10) {
          const k = r.int(0, 2);
          if (k === 0) p[6] = r.int(0, 255);
          else if (k === 1) p[9] = pick(r, [1, 6, 17, r.int(0, 255)]);
          else p[0] = (r.int(0, 15) << 4) | (p[0]! & 15);
        }
        break;
      default: // splice in part of another field's bytes
        if (p.length > 8) {
          const a = r.int(0, p.length - 4);
          const b = r.int(0, p.length - 4);
          p.copyWithin(a, b, b + r.int(1, 4));
        }
    }
  }
  if (r.chance(0.8)) fixChecksums(p);
  return p;
}

function randomPacket(r: Rng): Uint8Array {
  const p = new Uint8Array(r.int(0, 120));
  r.fill(p);
  if (p.length >= 20 && r.chance(0.8)) {
    p[0] = 0x45;
    p[2] = p.length >> 8;
    p[3] = p.length & 255;
    p[6] = 0x40;
    p[7] = 0;
    p[9] = IPPROTO_TCP;
    p[12] = PEER_ADDR >>> 24;
    p[13] = (PEER_ADDR >>> 16) & 255;
    p[14] = (PEER_ADDR >>> 8) & 255;
    p[15] = PEER_ADDR & 255;
    p[16] = TARGET_ADDR >>> 24;
    p[17] = (TARGET_ADDR >>> 16) & 255;
    p[18] = (TARGET_ADDR >>> 8) & 255;
    p[19] = TARGET_ADDR & 255;
    fixChecksums(p);
  }
  return p;
}

// =============================================================================
// Running inputs and checking
// =============================================================================

class FuzzCheck extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An extra invariant checked with the built-in ones: a message when it is
 * broken, else null. The harness's self-test passes a deliberately wrong one
 * (test/fuzz/regressions.test.ts) to show that failures are found, minimized
 * and replayed.
 */
export type ExtraInvariant = (t: Target) => string | null;

/** Applies one input to the target; throws FuzzCheck (invariant) or whatever the core threw. */
export function applyInput(t: Target, inp: Input, check: boolean, extra?: ExtraInvariant): void {
  if ('p' in inp) t.inject(fromHex(inp.p));
  else if ('t' in inp) t.advance(inp.t);
  else readAll(t);
  t.link.out.length = 0;
  if (check) checkTarget(t, extra);
}

function applyBytes(t: Target, bytes: Uint8Array): void {
  t.inject(bytes);
}

function readAll(t: Target): void {
  for (const c of t.stack.connections()) if (c.readable() > 0) t.stack.read(c);
}

export function checkTarget(t: Target, extra?: ExtraInvariant): void {
  // Timers due now fire first (a delayed ACK of 0 µs is due at once).
  t.stack.poll(t.now);
  const v = checkStack(t.stack, t.now, MAX_CONNS);
  if (v) throw new FuzzCheck(v.kind, v.message);
  const x = extra?.(t);
  if (x) throw new FuzzCheck('extra-invariant', x);
  let buffered = 0;
  for (const c of t.stack.connections()) buffered += c.readable() + c.sendQueued() + (c.ooo?.byteCount ?? 0);
  if (buffered > memoryBound(t)) throw new FuzzCheck('memory', `${buffered} bytes buffered in ${t.stack.connectionCount} connections`);
  // Reassembly memory (RFC 8200 §4.5, RFC 815): within the reassembler's limits.
  const ra = t.stack.reassembler();
  if (ra.bytes > ra.limits.maxBytes) throw new FuzzCheck('memory', `the reassembler holds ${ra.bytes} bytes (limit ${ra.limits.maxBytes})`);
  if (ra.datagrams > ra.limits.maxDatagrams) throw new FuzzCheck('memory', `the reassembler holds ${ra.datagrams} datagrams (limit ${ra.limits.maxDatagrams})`);
  if (t.stack.pmtu.size > PMTU_CACHE_MAX) throw new FuzzCheck('memory', `${t.stack.pmtu.size} PMTU cache entries`);
  // RFC 8201 §4: "A node MUST NOT reduce its estimate of the Path MTU below the IPv6 minimum link MTU".
  const mtu6 = t.stack.pmtu.get(PEER_ADDR6);
  if (mtu6 !== undefined && mtu6 < 1280) throw new FuzzCheck('pmtu', `the path MTU to the IPv6 peer is ${mtu6}, below 1280`);
  // RFC 4443 §2.4 (f) and RFC 1812 §4.3.2.8: ICMP errors are rate limited,
  // one token bucket per family (10 a second, bursts of 10): between two
  // checks the target sends at most two full buckets plus the refill.
  const secs = (t.now - t.checkedAt) / 1e6;
  const errors = t.stack.counters.icmpErrorsOut - t.icmpErrorsChecked;
  const allowed = 2 * (ICMPV6_RATE_LIMIT_DEFAULT.burst + ICMPV6_RATE_LIMIT_DEFAULT.perSecond * secs);
  if (errors > allowed) throw new FuzzCheck('icmp-rate', `${errors} ICMP errors sent in ${secs.toFixed(3)} s (two token buckets allow ${Math.floor(allowed)})`);
  t.checkedAt = t.now;
  t.icmpErrorsChecked = t.stack.counters.icmpErrorsOut;
  if (t.maxIcmpAtInstant > 2 * ICMPV6_RATE_LIMIT_DEFAULT.burst) throw new FuzzCheck('icmp-rate', `${t.maxIcmpAtInstant} ICMP errors sent at one instant (two token buckets of ${ICMPV6_RATE_LIMIT_DEFAULT.burst})`);
  for (const u of t.udpSockets) {
    if (u.queuedBytes > u.rcvbuf + 65_536) throw new FuzzCheck('memory', `a UDP socket queues ${u.queuedBytes} bytes (rcvbuf ${u.rcvbuf})`);
  }
}

function classify(e: unknown): { kind: string; message: string } {
  if (e instanceof FuzzCheck) return { kind: e.kind, message: e.message };
  const err = e instanceof Error ? e : new Error(String(e));
  // The kind of an exception is its type and the top frame, so minimization keeps the same crash.
  const frame = (err.stack ?? '').split('\n').find((l) => l.includes(' at ')) ?? '';
  const where = /at (\S+)/.exec(frame)?.[1] ?? '?';
  return { kind: `exception:${err.name}@${where}`, message: `${err.name}: ${err.message}\n${err.stack ?? ''}` };
}

/** Replays `inputs` on a fresh target; returns the failure or null. */
export function replayInputs(seed: number, checksums: boolean, inputs: readonly Input[], extra?: ExtraInvariant): { kind: string; message: string } | null {
  try {
    const t = new Target({ seed, checksums });
    for (const inp of inputs) applyInput(t, inp, true, extra);
    return null;
  } catch (e) {
    return classify(e);
  }
}

/** Delta debugging over the inputs: the fewest that still fail with the same kind. */
export function minimize(f: FuzzFailure, maxRuns = 2000, extra?: ExtraInvariant): FuzzFailure {
  let inputs = f.inputs.slice();
  let runs = 0;
  let message = f.message;
  const fails = (cand: Input[]): boolean => {
    runs++;
    const r = replayInputs(f.seed, f.checksums, cand, extra);
    if (r && r.kind === f.kind) {
      message = r.message;
      return true;
    }
    return false;
  };
  let n = 2;
  while (inputs.length > 1 && runs < maxRuns) {
    const size = Math.ceil(inputs.length / n);
    let removed = false;
    for (let i = 0; i < inputs.length && runs < maxRuns; i += size) {
      const cand = inputs.slice(0, i).concat(inputs.slice(i + size));
      if (fails(cand)) {
        inputs = cand;
        n = Math.max(2, n - 1);
        removed = true;
        break;
      }
    }
    if (!removed) {
      if (size <= 1) break;
      n = Math.min(inputs.length, n * 2);
    }
  }
  return { ...f, inputs, message };
}

export interface FuzzOptions {
  seed: number;
  /** Stop after this many execs … */
  execs?: number;
  /** … or this many milliseconds (whichever comes first); `now` measures it. */
  ms?: number;
  now?: () => number;
  rebuildEvery?: number;
  /** Stop at the first failure (default) or keep going, collecting distinct kinds. */
  keepGoing?: boolean;
  onFailure?: (f: FuzzFailure) => void;
  onProgress?: (s: FuzzStats) => void;
  /** An extra invariant, checked with the built-in ones. */
  invariant?: ExtraInvariant;
}

/** Runs the fuzzer; returns the stats and the (unminimized) failures, one per kind. */
export function fuzz(opts: FuzzOptions): { stats: FuzzStats; failures: FuzzFailure[] } {
  const r = new Rng(opts.seed);
  const now = opts.now ?? ((): number => 0);
  const start = now();
  const maxExecs = opts.execs ?? Infinity;
  const deadline = opts.ms !== undefined ? start + opts.ms : Infinity;
  const rebuildEvery = opts.rebuildEvery ?? 3000;
  const stats: FuzzStats = { execs: 0, targets: 0, failures: 0, packetsOut: 0, drops: 0 };
  const failures: FuzzFailure[] = [];
  const seen = new Set<string>();
  while (stats.execs < maxExecs) {
    const tSeed = r.nextU32();
    const checksums = r.chance(0.3);
    let t: Target;
    try {
      t = new Target({ seed: tSeed, checksums });
    } catch (e) {
      const c = classify(e);
      const f: FuzzFailure = { ...c, seed: tSeed, checksums, inputs: [] };
      failures.push(f);
      stats.failures++;
      opts.onFailure?.(f);
      if (!opts.keepGoing) break;
      continue;
    }
    stats.targets++;
    const log: Array<Input | Uint8Array> = [];
    let failed = false;
    /** The rest of a fragment train, fed one packet per input. */
    const pending: Uint8Array[] = [];
    for (let i = 0; i < rebuildEvery && stats.execs < maxExecs; i++) {
      let inp: Input | null = null;
      let bytes: Uint8Array | null = null;
      const k = pending.length ? -1 : r.next();
      if (k < 0) bytes = pending.shift()!;
      // Now and then past the reassembly timeouts (30 s IPv4, 60 s IPv6), so queued fragments expire under fuzz state.
      else if (k < 0.01) inp = { t: r.chance(0.1) ? pick(r, [31_000_000, 61_000_000]) : pick(r, [1000, 40_000, 200_000, 1_000_000, r.int(0, 5_000_000)]) };
      else if (k < 0.015) inp = { r: 1 };
      else if (k < 0.42) bytes = templatePacket(t, r);
      else if (k < 0.8) bytes = mutate(r.chance(0.5) && t.corpus.length ? pick(r, t.corpus) : templatePacket(t, r), r);
      else if (k < 0.93) {
        const train = ipPackets(t, r);
        bytes = train.shift() ?? new Uint8Array(0);
        pending.push(...(r.chance(0.1) ? train.map((p) => mutate(p, r)) : train));
        if (r.chance(0.05) && bytes.length) bytes = mutate(bytes, r);
      } else bytes = randomPacket(r);
      if (bytes) {
        if (t.corpus.length < 4096 && r.chance(0.002)) t.corpus.push(bytes.slice());
        log.push(bytes);
      } else log.push(inp!);
      stats.execs++;
      try {
        if (bytes) applyBytes(t, bytes);
        else applyInput(t, inp!, false);
        // Harvest the target's replies as new seeds, sparingly.
        if (t.link.out.length && r.chance(0.01)) t.collect();
        t.link.out.length = 0;
        if ((i & 63) === 63 || !bytes) checkTarget(t, opts.invariant);
      } catch (e) {
        const c = classify(e);
        stats.failures++;
        if (!seen.has(c.kind)) {
          seen.add(c.kind);
          const f: FuzzFailure = { ...c, seed: tSeed, checksums, inputs: log.map((x) => (x instanceof Uint8Array ? { p: toHex(x) } : x)) };
          failures.push(f);
          opts.onFailure?.(f);
        }
        failed = true;
        break;
      }
      if ((stats.execs & 4095) === 0) {
        opts.onProgress?.(stats);
        if (now() > deadline) break;
      }
    }
    stats.packetsOut += t.link.sent;
    for (const v of Object.values(t.stack.counters.drops)) stats.drops += v ?? 0;
    if ((failed && !opts.keepGoing) || now() > deadline) break;
  }
  return { stats, failures };
}
