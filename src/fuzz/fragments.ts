/**
 * The fragment fuzzer: one stack (IPv4 and IPv6 on one link) holding
 * established connections from several peers of both families, fed TCP
 * data segments cut into IP fragments — shuffled, partly lost, duplicated
 * with conflicting contents at overlapping offsets, interleaved with junk
 * fragments from many sources — all from one seed, under a virtual clock.
 *
 * After every input it checks:
 *  - every byte a connection delivers is the byte the peer sent at that
 *    stream offset (a reassembly that took a forged overlap would deliver
 *    different bytes);
 *  - a datagram that received an overlapping fragment delivers nothing
 *    (RFC 5722 §4: "the entire datagram (and any constituent fragments)
 *    MUST be silently discarded"; the same rule for IPv4);
 *  - the reassembler holds no more than its global and per-source byte
 *    limits, and after the reassembly timeout it holds nothing.
 */
import { Stack } from '../stack/stack.ts';
import type { Connection } from '../tcp/connection.ts';
import { VirtualClock } from '../base/time.ts';
import { Rng } from '../base/rng.ts';
import { emitIpv4Tcp, emitIpv6Tcp, parseTcp } from '../wire/tcp.ts';
import { parseIpv4 } from '../wire/ipv4.ts';
import { parseIpv6, type IpAddr, type Ipv6Addr, ipv6FromWords } from '../wire/ipv6.ts';
import { fragmentIpv4, fragmentIpv6 } from '../ip/fragment.ts';
import { REASSEMBLY_DEFAULTS, type ReassemblyLimits } from '../ip/reassembly.ts';
import { ACK, SYN, CHECKSUM_FULL, type TcpRepr } from '../wire/types.ts';
import { CaptureLink } from './target.ts';

const TARGET4 = ((10 << 24) | (9 << 16) | 1) >>> 0;
const TARGET6: Ipv6Addr = ipv6FromWords([0xfd09, 0, 0, 0, 0, 0, 0, 1]);
const peer4 = (i: number): number => ((10 << 24) | (9 << 16) | (2 + i)) >>> 0;
const peer6 = (i: number): Ipv6Addr => ipv6FromWords([0xfd09, 0, 0, 0, 0, 0, 0, 2 + i]);

export interface FragmentFuzzResult {
  seed: number;
  /** Data datagrams sent in fragments. */
  datagrams: number;
  fragments: number;
  /** Datagrams that got a forged overlapping fragment (and must deliver nothing). */
  overlapped: number;
  /** Stream bytes delivered to the connections (all of them checked). */
  delivered: number;
  /** Most bytes the reassembler held at once. */
  maxHeld: number;
  /** The first broken invariant, or null. */
  failure: string | null;
}

interface Flow {
  src: IpAddr;
  srcPort: number;
  /** The peer's ISS + 1: sequence number of stream offset 0. */
  seq0: number;
  /** The target's ISS + 1 (what the peer acknowledges). */
  ack: number;
  /** Stream bytes the peer sent so far (in order). */
  sent: number;
  stream: Uint8Array;
  conn: Connection | null;
  /** Bytes the target delivered (read) so far. */
  got: number;
}

/** Runs `rounds` fragmented datagrams from seed `seed`. Never throws for a broken invariant: it is returned. */
export function fuzzFragments(seed: number, rounds: number, limits: Partial<ReassemblyLimits> = {}): FragmentFuzzResult {
  const rng = new Rng(seed ^ 0x46524147);
  const clock = new VirtualClock(1_000_000);
  const link = new CaptureLink(1500, CHECKSUM_FULL);
  const L: ReassemblyLimits = { ...REASSEMBLY_DEFAULTS, maxBytes: 256 * 1024, maxBytesPerSource: 64 * 1024, ...limits };
  const stack = new Stack({ clock, isnSecret: [rng.nextU32(), rng.nextU32()], portSeed: rng.nextU32(), name: 'frag-target', reassembly: L, tcp: { recvBufferBytes: 1 << 20 } });
  stack.addInterface({ addr: TARGET4, prefixLen: 16, link, more: [{ addr: TARGET6, prefixLen: 64 }] });
  const res: FragmentFuzzResult = { seed, datagrams: 0, fragments: 0, overlapped: 0, delivered: 0, maxHeld: 0, failure: null };
  const flows: Flow[] = [];
  const fail = (m: string): void => {
    res.failure ??= m;
  };

  const drain = (f: Flow): void => {
    const c = f.conn;
    if (!c) return;
    for (const chunk of stack.read(c)) {
      for (let i = 0; i < chunk.length; i++) {
        if (f.got + i >= f.sent || chunk[i] !== f.stream[f.got + i]) {
          fail(`seed ${seed}: wrong byte delivered at stream offset ${f.got + i} of a flow from port ${f.srcPort}`);
          return;
        }
      }
      f.got += chunk.length;
      res.delivered += chunk.length;
    }
  };

  stack.listen(80, {
    onConnection: (c) => {
      const f = flows.find((x) => x.srcPort === c.remotePort && x.src === c.remoteAddr);
      if (!f) return fail(`seed ${seed}: a connection nobody opened`);
      f.conn = c;
      c.user = { onEvent: () => drain(f) };
    },
  });

  const emit = (f: Flow, seg: TcpRepr, df: boolean): Uint8Array =>
    typeof f.src === 'number'
      ? emitIpv4Tcp({ src: f.src, dst: TARGET4, ttl: 64, tos: 0, ident: rng.int(0, 0xffff), dontFragment: df }, seg, CHECKSUM_FULL)
      : emitIpv6Tcp({ src: f.src, dst: TARGET6, hopLimit: 64, trafficClass: 0, flowLabel: 1 }, seg, CHECKSUM_FULL);
  const seg = (f: Flow, flags: number, off: number, payload: Uint8Array): TcpRepr => ({
    srcPort: f.srcPort,
    dstPort: 80,
    seq: (f.seq0 + off - (flags & SYN ? 1 : 0)) >>> 0,
    ack: f.ack >>> 0,
    flags,
    window: 65535,
    urgentPointer: 0,
    options: [],
    payload,
  });
  const inject = (p: Uint8Array): void => {
    link.onReceive!(p);
    stack.poll(clock.now());
    const held = stack.reassembler().bytes;
    res.maxHeld = Math.max(res.maxHeld, held);
    if (held > L.maxBytes) fail(`seed ${seed}: the reassembler holds ${held} bytes, over its limit of ${L.maxBytes}`);
  };

  // Four peers, two of each family, each with one established connection.
  for (let i = 0; i < 4; i++) {
    const f: Flow = { src: i % 2 ? peer6(i) : peer4(i), srcPort: 40000 + i, seq0: (rng.nextU32() + 1) >>> 0, ack: 0, sent: 0, stream: new Uint8Array(rounds * 9000 + 16), conn: null, got: 0 };
    rng.fill(f.stream);
    flows.push(f);
    link.out.length = 0;
    inject(emit(f, seg(f, SYN, 0, new Uint8Array(0)), true));
    const synAck = link.out.find((p) => p.length > 0);
    if (!synAck) return { ...res, failure: `seed ${seed}: no SYN,ACK` };
    const v6 = synAck[0]! >>> 4 === 6;
    const ip = v6 ? parseIpv6(synAck) : parseIpv4(synAck, CHECKSUM_FULL);
    if (!ip.ok) return { ...res, failure: `seed ${seed}: bad SYN,ACK` };
    const t = parseTcp(ip.value.payload, ip.value.header.src, ip.value.header.dst, CHECKSUM_FULL);
    if (!t.ok) return { ...res, failure: `seed ${seed}: bad SYN,ACK TCP` };
    f.ack = (t.value.seq + 1) >>> 0;
    inject(emit(f, seg(f, ACK, 0, new Uint8Array(0)), true));
    if (!f.conn) return { ...res, failure: `seed ${seed}: no connection` };
  }

  for (let round = 0; round < rounds && res.failure === null; round++) {
    const f = flows[rng.int(0, flows.length - 1)]!;
    const len = rng.int(200, 8000);
    const off = f.sent;
    const data = f.stream.subarray(off, off + len);
    f.sent += len;
    const packet = emit(f, seg(f, ACK, off, data), false);
    const mtu = typeof f.src === 'number' ? rng.int(68, 1500) : rng.int(120, 1500);
    const ident = rng.nextU32();
    const frags = typeof f.src === 'number' ? fragmentIpv4(packet, mtu) : fragmentIpv6(packet, mtu, ident);
    res.datagrams++;
    // A forged fragment overlapping a real one, with other bytes.
    let forged: Uint8Array | null = null;
    if (frags.length > 1 && rng.chance(0.4)) {
      const victim = frags[rng.int(0, frags.length - 1)]!.slice();
      const hdr = typeof f.src === 'number' ? (victim[0]! & 0x0f) * 4 : 48;
      for (let i = hdr; i < victim.length; i++) victim[i]! ^= 0x5a;
      forged = victim;
    }
    const order = frags.slice();
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const lose = order.length > 1 && rng.chance(0.15);
    if (lose) order.splice(rng.int(0, order.length - 1), 1);
    // Junk: fragments of datagrams that never complete, from random sources of both families.
    const junk = rng.int(0, 3);
    for (let k = 0; k < junk; k++) {
      const j: Flow = { ...f, src: rng.chance(0.5) ? peer4(10 + rng.int(0, 40)) : peer6(10 + rng.int(0, 40)), srcPort: 50000 };
      const jp = emit(j, seg(j, ACK, 0, f.stream.subarray(0, rng.int(1000, 4000))), false);
      const jf = typeof j.src === 'number' ? fragmentIpv4(jp, 576) : fragmentIpv6(jp, 600, rng.nextU32());
      order.splice(rng.int(0, order.length), 0, jf[0]!);
    }
    if (forged) {
      // Before the last real fragment, so the overlap is seen while the datagram is incomplete.
      let last = order.length - 1;
      while (last > 0 && !frags.includes(order[last]!)) last--;
      order.splice(rng.int(0, last), 0, forged);
    }
    for (const p of order) {
      inject(p);
      res.fragments++;
      if (res.failure) break;
    }
    drain(f);
    if (forged) {
      res.overlapped++;
      // The forged fragment arrived before or after the ones it overlaps: either way no byte of this datagram may be delivered.
      if (f.got > off) fail(`seed ${seed}: a datagram with an overlapping fragment delivered data (RFC 5722)`);
    }
    // A datagram lost, forged, or refused by a full reassembler (counted
    // drops frag-limit-*), or now and then a spurious retransmission.
    if (f.got !== f.sent || rng.chance(0.1)) {
      // The peer retransmits the segment whole (a TCP retransmission after a lost datagram).
      inject(emit(f, seg(f, ACK, off, data), true));
      drain(f);
    }
    if (f.got !== f.sent && !res.failure) fail(`seed ${seed}: ${f.sent - f.got} bytes missing after the datagram at offset ${off} was resent whole`);
    link.out.length = 0;
    clock.advanceBy(rng.int(0, 200_000));
    stack.poll(clock.now());
  }
  // Every incomplete datagram times out (RFC 8200 §4.5: 60 s) and frees its memory.
  clock.advanceBy(L.timeoutV6 + 1_000_000);
  stack.poll(clock.now());
  if (res.failure === null && stack.reassembler().bytes !== 0) fail(`seed ${seed}: ${stack.reassembler().bytes} bytes still held after the reassembly timeout`);
  return res;
}
