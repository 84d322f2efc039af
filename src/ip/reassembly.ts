/**
 * IP fragment reassembly for IPv4 (RFC 791 §3.2, RFC 815) and IPv6 (RFC 8200
 * §4.5), sans I/O: it is given fragments and `now`, returns completed
 * datagrams, and has `nextDeadline()` / `onTimeout(now)` like the rest of
 * the core.
 *
 * - Keys: (src, dst, Identification, Protocol) for IPv4 — RFC 791: "the
 *   internet identification field (ID) ... together with source and
 *   destination address, and the protocol fields, are used to identify
 *   datagram fragments for reassembly" — and (src, dst, Identification) for
 *   IPv6 — RFC 8200 §4.5: "Fragments of one original packet are
 *   identified by ... the Source Address, Destination Address, and Fragment
 *   Identification".
 * - Each datagram keeps its fragments as a list of disjoint [start, end)
 *   ranges sorted by start (an equivalent of RFC 815's hole list: the
 *   datagram is complete when the ranges cover [0, total) — with no overlap
 *   allowed, when their lengths add up to the total). An insert is a binary
 *   search and one splice; fragments per datagram are bounded
 *   (`maxFragmentsPerDatagram`), so a flood of 8-octet fragments costs
 *   O(max²) at worst per datagram.
 * - Overlaps discard the whole datagram (RFC 5722, for both families); an
 *   exact duplicate is dropped alone (RFC 8200 §4.5 allows it).
 * - Ownership: like a packet handed to the stack by a link
 *   (stack/link.ts), a fragment passed in belongs to the reassembler, which
 *   keeps views of it (no copy) until the datagram completes; the completed
 *   datagram is one fresh buffer, each octet copied once.
 * - Memory is bounded per source and globally, in datagrams and in bytes
 *   (each fragment costs its whole packet plus `FRAGMENT_OVERHEAD`); a
 *   fragment over a bound is dropped and counted, queues already started
 *   are kept.
 * - Every drop is counted in `drops` with a reason and, when it happens in
 *   `addV4`/`addV6`, returned too.
 */

import type { Duration, Instant } from '../base/time.ts';
import { seconds } from '../base/time.ts';
import { getU16, getU32, setU16 } from '../wire/bytes.ts';
import { checksum } from '../wire/checksum.ts';
import { findUpperLayer, IPV6_HEADER_LEN, readIpv6Addr, type Ipv6FragmentInfo, type Ipv6ParamProblem } from '../wire/ipv6.ts';
import type { DropReason } from '../wire/types.ts';

export interface ReassemblyLimits {
  /** IPv4: Linux's net.ipv4.ipfrag_time, 30 s. */
  timeoutV4: Duration;
  /** IPv6: RFC 8200 §4.5's 60 s. */
  timeoutV6: Duration;
  /** Bytes held at once, all sources (Linux's ipfrag_high_thresh is 4 MiB). */
  maxBytes: number;
  /** Datagrams being reassembled at once, all sources (discarded ones waiting out their timeout count too). */
  maxDatagrams: number;
  maxBytesPerSource: number;
  maxDatagramsPerSource: number;
  /** FreeBSD's net.inet.ip.maxfragsperpacket is 16, net.inet6.ip6.maxfragsperpacket 64. */
  maxFragmentsPerDatagram: number;
}

export const REASSEMBLY_DEFAULTS: ReassemblyLimits = Object.freeze({
  timeoutV4: seconds(30),
  timeoutV6: seconds(60),
  maxBytes: 4 * 1024 * 1024,
  maxDatagrams: 1024,
  maxBytesPerSource: 512 * 1024,
  maxDatagramsPerSource: 64,
  maxFragmentsPerDatagram: 64,
});

/** Bytes charged per fragment beyond its packet (the range record), and per datagram. */
export const FRAGMENT_OVERHEAD = 64;
export const DATAGRAM_OVERHEAD = 256;

/** The IPv4 datagram, and the IPv6 Payload Length, are at most 65,535 octets. */
const MAX_LEN = 0xffff;

export type FragmentResult =
  /** The reassembled packet: a fresh buffer, a whole IPv4 or IPv6 packet without fragmentation. */
  | { kind: 'complete'; packet: Uint8Array }
  | { kind: 'pending' }
  /** The fragment was dropped (and counted); `icmp` is the IPv6 Parameter Problem RFC 8200 asks for, if any. */
  | { kind: 'dropped'; reason: DropReason; icmp: Ipv6ParamProblem | null };

/** A datagram that timed out after its first fragment (offset 0) arrived: the stack may send a Time Exceeded. */
export interface ReassemblyTimeout {
  family: 4 | 6;
  /**
   * The ICMP message to send: IPv4 type 11 code 1 (RFC 792, RFC 1122
   * §3.3.2), IPv6 type 3 code 1 (RFC 4443 §3.3, "fragment reassembly time
   * exceeded").
   */
  icmp: { type: 11 | 3; code: 1 };
  /** The first fragment as it was received (the stack quotes it and sends the error to its source). */
  invoking: Uint8Array;
}

interface Frag {
  start: number;
  end: number;
  data: Uint8Array;
}

interface Queue {
  family: 4 | 6;
  key: string;
  srcKey: string;
  deadline: Instant;
  /** Disjoint, sorted by start. */
  frags: Frag[];
  /** The datagram's data length once the last fragment (M = 0) arrived, else -1. */
  total: number;
  /** Data octets held. */
  received: number;
  /** Bytes charged to the bounds. */
  cost: number;
  /** The fragment with offset 0, as received. */
  first: Uint8Array | null;
  /** IPv4: the header length of the first fragment; IPv6: the length of its Unfragmentable Part. */
  firstHeaderLen: number;
  /** IPv6: the Next Header field to rewrite, and the value from the first Fragment header. */
  nextHeaderAt: number;
  fragNextHeader: number;
  /** An overlap (or too many fragments) discarded it: later fragments are dropped until the deadline. */
  dead: boolean;
}

interface SourceUse {
  bytes: number;
  datagrams: number;
}

export class Reassembler {
  readonly limits: ReassemblyLimits;
  /** Drops by reason (add them into the stack's counters). */
  readonly drops: Partial<Record<DropReason, number>> = {};
  /** Datagrams delivered whole. */
  reassembled = 0;
  /** Bytes charged now (all queues). */
  bytes = 0;
  // Two maps so that each is in deadline order: a queue's deadline is fixed
  // when it is made (RFC 8200: "within 60 seconds of the reception of the
  // first-arriving fragment"), `now` never goes back, and a Map iterates in
  // insertion order.
  private readonly v4 = new Map<string, Queue>();
  private readonly v6 = new Map<string, Queue>();
  private readonly sources = new Map<string, SourceUse>();
  private lastNow: Instant = -Infinity;

  constructor(limits: Partial<ReassemblyLimits> = {}) {
    this.limits = { ...REASSEMBLY_DEFAULTS, ...limits };
  }

  /** Datagrams being reassembled (or waiting out their timeout after a discard). */
  get datagrams(): number {
    return this.v4.size + this.v6.size;
  }

  private drop(reason: DropReason, icmp: Ipv6ParamProblem | null = null): FragmentResult {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    return { kind: 'dropped', reason, icmp };
  }

  private clock(now: Instant): Instant {
    if (now > this.lastNow) this.lastNow = now;
    return this.lastNow;
  }

  /**
   * One IPv4 fragment: `packet` is the whole IPv4 packet whose header passed
   * `parseIpv4`'s checks but the fragment one (version, IHL, total length,
   * checksum), with MF set or a non-zero offset. A packet that is not a
   * fragment is returned as it is.
   *
   * RFC 791 §3.2: "If the internet datagram is fragmented, its data portion
   * must be broken on 8 octet boundaries." — a fragment with MF set whose
   * data is not a multiple of 8 octets, or is empty, is 'frag-bad-length';
   * one that would end past 65,535 octets is 'frag-too-big'.
   */
  addV4(packet: Uint8Array, now: Instant): FragmentResult {
    now = this.clock(now);
    if (packet.length < 20) return this.drop('frag-truncated');
    const ihl = (packet[0]! & 0x0f) * 4;
    const totalLen = getU16(packet, 2);
    if (ihl < 20 || totalLen < ihl || totalLen > packet.length) return this.drop('frag-truncated');
    const ff = getU16(packet, 6);
    const more = (ff & 0x2000) !== 0;
    const start = (ff & 0x1fff) * 8;
    if (!more && start === 0) return { kind: 'complete', packet };
    const data = packet.subarray(ihl, totalLen);
    if (more && (data.length === 0 || data.length % 8 !== 0)) return this.drop('frag-bad-length');
    const end = start + data.length;
    if (ihl + end > MAX_LEN) return this.drop('frag-too-big');
    const src = getU32(packet, 12);
    const dst = getU32(packet, 16);
    const key = `${src}.${dst}.${getU16(packet, 4)}.${packet[9]!}`;
    return this.insert(4, key, `${src}`, now, start, end, more, data, packet, ihl, 0, 0);
  }

  /**
   * One IPv6 fragment: `packet` is the IPv6 packet cut to 40 + Payload
   * Length (`parseIpv6(...).packet`) and `frag` what `walkIpv6` found.
   */
  addV6(packet: Uint8Array, frag: Ipv6FragmentInfo, now: Instant): FragmentResult {
    now = this.clock(now);
    const dataAt = frag.headerAt + 8;
    if (packet.length < IPV6_HEADER_LEN || dataAt > packet.length || frag.nextHeaderAt >= frag.headerAt) return this.drop('frag-truncated');
    const data = packet.subarray(dataAt);
    const start = frag.offset;
    const end = start + data.length;
    // RFC 6946 §4: "A host that receives an IPv6 packet that includes a
    // Fragment Header with the "Fragment Offset" equal to 0 and the "M" bit
    // equal to 0 MUST process such packet in isolation from any other
    // packets/fragments, even if such packets/fragments contain the same set
    // {IPv6 Source Address, IPv6 Destination Address, Fragment
    // Identification}. A received atomic fragment should be "reassembled"
    // from the contents of that sole fragment."
    if (start === 0 && !frag.more) {
      this.reassembled++;
      return { kind: 'complete', packet: buildV6([{ start: 0, end, data }], packet, frag.headerAt, frag.nextHeaderAt, frag.nextHeader, end) };
    }
    // RFC 8200 §4.5: "If the length of a fragment, as derived from the
    // fragment packet's Payload Length field, is not a multiple of 8 octets
    // and the M flag of that fragment is 1, then that fragment must be
    // discarded and an ICMP Parameter Problem, Code 0, message should be
    // sent to the source of the fragment, pointing to the Payload Length
    // field of the fragment packet." (An empty non-last fragment is refused
    // too, without an error: it carries nothing and would cost a record.)
    if (frag.more && data.length % 8 !== 0) return this.drop('frag-bad-length', { type: 4, code: 0, pointer: 4, multicastExempt: false });
    if (frag.more && data.length === 0) return this.drop('frag-bad-length');
    // "If the length and offset of a fragment are such that the Payload
    // Length of the packet reassembled from that fragment would exceed
    // 65,535 octets, then that fragment must be discarded and an ICMP
    // Parameter Problem, Code 0, message should be sent to the source of the
    // fragment, pointing to the Fragment Offset field of the fragment
    // packet."
    if (frag.headerAt - IPV6_HEADER_LEN + end > MAX_LEN) return this.drop('frag-too-big', { type: 4, code: 0, pointer: frag.headerAt + 2, multicastExempt: false });
    // "If the first fragment does not include all headers through an
    // Upper-Layer header, then that fragment should be discarded and an ICMP
    // Parameter Problem, Code 3, message should be sent to the source of the
    // fragment, with the Pointer field set to zero." (RFC 7112 §5: "When a
    // host receives a first-fragment that does not contain the entire IPv6
    // Header Chain, it SHOULD discard the packet".)
    if (start === 0 && findUpperLayer(packet, frag.nextHeader, dataAt).kind === 'truncated') {
      return this.drop('frag-incomplete-header-chain', { type: 4, code: 3, pointer: 0, multicastExempt: false });
    }
    const src = readIpv6Addr(packet, 8);
    const key = `${src}${readIpv6Addr(packet, 24)}${frag.ident}`;
    return this.insert(6, key, src, now, start, end, frag.more, data, packet, frag.headerAt, frag.nextHeaderAt, frag.nextHeader);
  }

  private insert(
    family: 4 | 6,
    key: string,
    srcKey: string,
    now: Instant,
    start: number,
    end: number,
    more: boolean,
    data: Uint8Array,
    packet: Uint8Array,
    headerLen: number,
    nextHeaderAt: number,
    fragNextHeader: number,
  ): FragmentResult {
    const map = family === 4 ? this.v4 : this.v6;
    const L = this.limits;
    const cost = packet.length + FRAGMENT_OVERHEAD;
    let q = map.get(key);
    let use = this.sources.get(srcKey);
    if (q === undefined) {
      if (this.datagrams >= L.maxDatagrams) return this.drop('frag-limit-global');
      if (use !== undefined && use.datagrams >= L.maxDatagramsPerSource) return this.drop('frag-limit-source');
      if (this.bytes + DATAGRAM_OVERHEAD + cost > L.maxBytes) return this.drop('frag-limit-global');
      if ((use?.bytes ?? 0) + DATAGRAM_OVERHEAD + cost > L.maxBytesPerSource) return this.drop('frag-limit-source');
      if (use === undefined) {
        use = { bytes: 0, datagrams: 0 };
        this.sources.set(srcKey, use);
      }
      q = {
        family,
        key,
        srcKey,
        deadline: now + (family === 4 ? L.timeoutV4 : L.timeoutV6),
        frags: [],
        total: -1,
        received: 0,
        cost: DATAGRAM_OVERHEAD,
        first: null,
        firstHeaderLen: 0,
        nextHeaderAt: 0,
        fragNextHeader: 0,
        dead: false,
      };
      map.set(key, q);
      use.datagrams++;
      use.bytes += DATAGRAM_OVERHEAD;
      this.bytes += DATAGRAM_OVERHEAD;
    }
    use = use!;
    // RFC 5722 §4: "When reassembling an IPv6 datagram, if one or more its
    // constituent fragments is determined to be an overlapping fragment, the
    // entire datagram (and any constituent fragments, including those not
    // yet received) MUST be silently discarded." — so a discarded datagram
    // leaves a record without data until its deadline, and its later
    // fragments are dropped ('frag-after-overlap'). (Erratum 3089 drops
    // "including those not yet received"; keeping the record is the
    // stricter reading and costs no data.)
    if (q.dead) return this.drop('frag-after-overlap');
    // The last fragment fixes the length; a second, different end, or data
    // past it, means the fragments cannot belong together.
    if (!more) {
      if ((q.total >= 0 && q.total !== end) || (q.frags.length > 0 && q.frags[q.frags.length - 1]!.end > end)) return this.discard(q, 'frag-inconsistent-end');
    } else if (q.total >= 0 && end > q.total) {
      return this.discard(q, 'frag-inconsistent-end');
    }
    // Where it goes: the first fragment whose start is ≥ this start.
    const fs = q.frags;
    let lo = 0;
    let hi = fs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (fs[mid]!.start < start) lo = mid + 1;
      else hi = mid;
    }
    const prev = lo > 0 ? fs[lo - 1]! : null;
    const next = lo < fs.length ? fs[lo]! : null;
    if ((prev !== null && prev.end > start) || (next !== null && next.start < end)) {
      // RFC 8200 §4.5: "It should be noted that fragments may be duplicated
      // in the network. Instead of treating these exact duplicate fragments
      // as overlapping fragments, an implementation may choose to detect
      // this case and drop exact duplicate fragments while keeping the other
      // fragments belonging to the same packet." A duplicate here is the
      // same range with the same octets; anything else that overlaps —
      // including the same range with other octets — is an overlap:
      // "If any of the fragments being reassembled overlap with any other
      // fragments being reassembled for the same packet, reassembly of that
      // packet must be abandoned and all the fragments that have been
      // received for that packet must be discarded, and no ICMP error
      // messages should be sent."
      //
      // The same rule for IPv4, as issue 12 asks and Linux does since 4.19
      // (inet_frag_queue_insert cites RFC 5722 for both families): RFC 791
      // let a later fragment's octets replace earlier ones, which lets
      // overlapping fragments rewrite a TCP header past a filter (RFC 1858
      // §4, "Overlapping Fragment Attack").
      if (next !== null && next.start === start && next.end === end && sameBytes(next.data, data)) return this.drop('frag-duplicate');
      return this.discard(q, 'frag-overlap');
    }
    if (fs.length >= L.maxFragmentsPerDatagram) return this.discard(q, 'frag-too-many-fragments');
    if (this.bytes + cost > L.maxBytes) return this.drop('frag-limit-global');
    if (use.bytes + cost > L.maxBytesPerSource) return this.drop('frag-limit-source');
    fs.splice(lo, 0, { start, end, data });
    q.received += end - start;
    q.cost += cost;
    use.bytes += cost;
    this.bytes += cost;
    if (!more) q.total = end;
    if (start === 0) {
      q.first = packet;
      q.firstHeaderLen = headerLen;
      q.nextHeaderAt = nextHeaderAt;
      q.fragNextHeader = fragNextHeader;
    }
    // Disjoint ranges inside [0, total) that add up to total cover it.
    if (q.total < 0 || q.received !== q.total || q.first === null) return { kind: 'pending' };
    if (q.firstHeaderLen + q.total > (family === 4 ? MAX_LEN : MAX_LEN + IPV6_HEADER_LEN)) return this.discard(q, 'frag-too-big');
    const out = family === 4 ? buildV4(fs, q.first, q.firstHeaderLen, q.total) : buildV6(fs, q.first, q.firstHeaderLen, q.nextHeaderAt, q.fragNextHeader, q.total);
    this.remove(q);
    this.reassembled++;
    return { kind: 'complete', packet: out };
  }

  /** Drops a datagram's fragments and leaves a record that refuses later ones until its deadline. */
  private discard(q: Queue, reason: DropReason): FragmentResult {
    const use = this.sources.get(q.srcKey)!;
    const freed = q.cost - DATAGRAM_OVERHEAD;
    use.bytes -= freed;
    this.bytes -= freed;
    q.cost = DATAGRAM_OVERHEAD;
    q.frags = [];
    q.first = null;
    q.received = 0;
    q.dead = true;
    return this.drop(reason);
  }

  private remove(q: Queue): void {
    (q.family === 4 ? this.v4 : this.v6).delete(q.key);
    const use = this.sources.get(q.srcKey)!;
    use.bytes -= q.cost;
    use.datagrams--;
    this.bytes -= q.cost;
    if (use.datagrams === 0) this.sources.delete(q.srcKey);
  }

  /** The earliest deadline, or Infinity when nothing is held. */
  nextDeadline(): Instant {
    let t = Infinity;
    for (const q of this.v4.values()) {
      t = q.deadline;
      break;
    }
    for (const q of this.v6.values()) {
      if (q.deadline < t) t = q.deadline;
      break;
    }
    return t;
  }

  /**
   * Abandons the datagrams whose time is up. RFC 8200 §4.5: "If insufficient
   * fragments are received to complete reassembly of a packet within 60
   * seconds of the reception of the first-arriving fragment of that packet,
   * reassembly of that packet must be abandoned and all the fragments that
   * have been received for that packet must be discarded. If the first
   * fragment (i.e., the one with a Fragment Offset of zero) has been
   * received, an ICMP Time Exceeded -- Fragment Reassembly Time Exceeded
   * message should be sent to the source of that fragment." RFC 1122
   * §3.3.2 says the same for IPv4 ("an ICMP Time Exceeded message sent to
   * the source host (if fragment zero has been received)"). Returns those
   * messages to send; each abandoned datagram with data counts one
   * 'frag-timeout'.
   */
  onTimeout(now: Instant): ReassemblyTimeout[] {
    now = this.clock(now);
    const out: ReassemblyTimeout[] = [];
    for (const map of [this.v4, this.v6]) {
      for (const q of map.values()) {
        if (q.deadline > now) break;
        this.remove(q);
        if (q.dead) continue;
        this.drops['frag-timeout'] = (this.drops['frag-timeout'] ?? 0) + 1;
        if (q.first !== null) out.push({ family: q.family, icmp: q.family === 4 ? { type: 11, code: 1 } : { type: 3, code: 1 }, invoking: q.first });
      }
    }
    return out;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * RFC 791 §3.2 (reassembly): the datagram takes the first fragment's
 * header — "the header of the first fragment" carries the options copied on
 * fragmentation and the ones that are not — with the total length of the
 * whole, MF and the offset cleared, and a new header checksum.
 */
function buildV4(fs: readonly Frag[], first: Uint8Array, ihl: number, total: number): Uint8Array {
  const out = new Uint8Array(ihl + total);
  out.set(first.subarray(0, ihl), 0);
  for (const f of fs) out.set(f.data, ihl + f.start);
  setU16(out, 2, ihl + total);
  setU16(out, 6, getU16(out, 6) & 0x4000);
  setU16(out, 10, 0);
  setU16(out, 10, checksum(out, 0, ihl));
  return out;
}

/**
 * RFC 8200 §4.5: "The Unfragmentable Part of the reassembled packet consists
 * of all headers up to, but not including, the Fragment header of the first
 * fragment packet (that is, the packet whose Fragment Offset is zero), with
 * the following two changes: The Next Header field of the last header of the
 * Unfragmentable Part is obtained from the Next Header field of the first
 * fragment's Fragment header. The Payload Length of the reassembled packet
 * is computed from the length of the Unfragmentable Part and the length and
 * offset of the last fragment." "The Fragmentable Part of the reassembled
 * packet is constructed from the fragments following the Fragment headers in
 * each of the fragment packets." "The Fragment header is not present in the
 * final, reassembled packet."
 */
function buildV6(fs: readonly Frag[], first: Uint8Array, unfragLen: number, nextHeaderAt: number, fragNextHeader: number, total: number): Uint8Array {
  const out = new Uint8Array(unfragLen + total);
  out.set(first.subarray(0, unfragLen), 0);
  out[nextHeaderAt] = fragNextHeader;
  setU16(out, 4, unfragLen - IPV6_HEADER_LEN + total);
  for (const f of fs) out.set(f.data, unfragLen + f.start);
  return out;
}
