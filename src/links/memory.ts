/**
 * The in-memory network: a hub that carries IP packets between two or more
 * stacks with configurable one-way delay, jitter, bandwidth, loss,
 * duplication, reordering and bit corruption, all drawn from a seeded RNG.
 * Under a virtual clock the same seed gives the same trace.
 *
 * Pure: no node: imports; packets in flight wait in an EventQueue that the
 * owner (sim/network.ts) drains.
 */
import type { Link } from '../stack/link.ts';
import type { ChecksumCaps } from '../wire/types.ts';
import { CHECKSUM_FULL, CHECKSUM_OFFLOAD } from '../wire/types.ts';
import { checksum } from '../wire/checksum.ts';
import type { Clock, Duration, Instant } from '../base/time.ts';
import type { EventQueue } from '../base/event-queue.ts';
import { Rng } from '../base/rng.ts';
import { SynackError } from '../errors.ts';
import { readIpv6Addr, type IpAddr } from '../wire/ipv6.ts';
import { joinPartialTcp } from '../wire/tcp.ts';

export interface Impairments {
  /** One-way propagation delay, µs. */
  delayUs: Duration;
  /** Extra uniformly random delay in [0, jitterUs], µs (may reorder). */
  jitterUs: Duration;
  /** Bottleneck bandwidth in bits per second (0 = unlimited). */
  bandwidthBps: number;
  /** Probability that a packet is lost. */
  loss: number;
  /** Probability that a packet is delivered twice. */
  duplicate: number;
  /** Probability that a packet is held back by `reorderDelayUs` (so later ones overtake it). */
  reorder: number;
  reorderDelayUs: Duration;
  /** Probability that one random bit of a packet is flipped. */
  corrupt: number;
  /** Packets queued at the bottleneck beyond which new ones are dropped (0 = unbounded). */
  queueLimit: number;
  /**
   * RFC 3168 marking: when at least this many packets wait at the bottleneck,
   * an ECN-capable packet is marked CE instead of queueing silently (0 = off).
   */
  ecnMarkThreshold: number;
}

export const NO_IMPAIRMENTS: Readonly<Impairments> = Object.freeze({
  delayUs: 0,
  jitterUs: 0,
  bandwidthBps: 0,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayUs: 0,
  corrupt: 0,
  queueLimit: 0,
  ecnMarkThreshold: 0,
});

export interface MemoryHubOptions {
  mtu?: number;
  seed?: number;
  impair?: Partial<Impairments>;
  /**
   * Skip checksums (like Linux loopback). Defaults to true when the hub
   * cannot corrupt packets, false otherwise.
   */
  checksumOffload?: boolean;
  /**
   * Segmentation offload (as Linux's veth and loopback with TSO/GSO and
   * GRO): a stack sends new TCP data as one super-segment of up to 64 KiB
   * (several MSS) and the hub carries it whole to the receiving stack,
   * which takes it as one segment — per-segment work once per 64 KiB at any
   * MTU. Off by default here (createMemoryNetwork turns it on); offered
   * only while the hub has no impairment, no pending `dropNext` (those act
   * per packet) and no `tap`, and never to a stack with hooks attached
   * (traces and captures see every MSS-sized segment).
   */
  segmentationOffload?: boolean;
}

export interface HubStats {
  sent: number;
  /** Packets marked Congestion Experienced (RFC 3168). */
  ceMarked: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  queueDrops: number;
  unroutable: number;
  bytes: number;
}

/** The largest super-segment the hub carries whole: an IPv4 packet's largest (RFC 791 Total Length). */
const HUB_GSO_MAX_BYTES = 65535;

/** One attachment point of a hub: a Link for one stack interface. */
export class MemoryPort implements Link {
  onReceive: ((packet: Uint8Array) => void) | null = null;
  /** Addresses this port receives for (set with `claim`): IPv4 u32s and `Ipv6Addr` strings. */
  readonly addrs = new Set<IpAddr>();
  /** Per-direction bottleneck: when the transmitter is next free. */
  busyUntil: Instant = 0;
  queued = 0;

  /** Link.transmitGso: present when the hub offers segmentation offload. */
  readonly transmitGso?: (head: Uint8Array, payload: readonly Uint8Array[], l4Off: number, gsoSize: number) => void;

  constructor(
    private readonly hub: MemoryHub,
    readonly mtu: number,
    readonly checksum: ChecksumCaps,
  ) {
    if (hub.segmentationOffload) this.transmitGso = (head, payload, l4Off, gsoSize) => hub.carryGso(this, head, payload, l4Off, gsoSize);
  }

  /**
   * Link.tsoMaxBytes: the largest super-segment the hub carries whole, while
   * it may (segmentation offload on, no impairment, no drop pending); else
   * undefined and the stack sends MSS-sized segments.
   */
  get tsoMaxBytes(): number | undefined {
    return this.transmitGso !== undefined && this.hub.carriesWhole() ? HUB_GSO_MAX_BYTES : undefined;
  }

  /** Receive packets addressed to `addr` on this port. */
  claim(addr: IpAddr): this {
    this.addrs.add(typeof addr === 'number' ? addr >>> 0 : addr);
    return this;
  }

  transmit(packet: Uint8Array): void {
    this.hub.carry(this, packet);
  }
}

export class MemoryHub {
  readonly ports: MemoryPort[] = [];
  readonly stats: HubStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0, queueDrops: 0, ceMarked: 0, unroutable: 0, bytes: 0 };
  impair: Impairments;
  /**
   * The largest packet the hub carries; larger ones are lost silently.
   * Lowering it after ports are attached models a path whose MTU shrank
   * behind the link (a tunnel that sends no ICMP: a black hole).
   */
  mtu: number;
  private readonly rng: Rng;
  private readonly caps: ChecksumCaps;
  /** Optional tap: every packet as it leaves a port (before impairment). */
  tap: ((from: MemoryPort, packet: Uint8Array) => void) | null = null;
  /** Drop the next N packets (for "drop the next segment" controls). */
  dropNext = 0;
  /** MemoryHubOptions.segmentationOffload. */
  readonly segmentationOffload: boolean;
  /** Super-segments carried whole (segmentation offload). */
  gsoCarried = 0;

  constructor(
    private readonly clock: Clock,
    private readonly queue: EventQueue,
    opts: MemoryHubOptions = {},
  ) {
    this.mtu = opts.mtu ?? 1500;
    if (!(this.mtu >= 68 && this.mtu <= 65535)) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'mtu must be 68..65535');
    this.rng = new Rng(opts.seed ?? 1);
    this.impair = { ...NO_IMPAIRMENTS, ...opts.impair };
    validateImpairments(this.impair);
    const offload = opts.checksumOffload ?? this.impair.corrupt === 0;
    this.caps = offload ? CHECKSUM_OFFLOAD : CHECKSUM_FULL;
    this.segmentationOffload = opts.segmentationOffload === true;
  }

  /**
   * Whether a super-segment may travel whole now: no impairment acts per
   * packet, and no tap watches (a capture sees the MSS-sized packets a
   * real wire would carry, not Linux-loopback-style 64 KiB segments).
   */
  carriesWhole(): boolean {
    if (this.dropNext > 0 || this.tap !== null) return false;
    const im = this.impair;
    return im.delayUs === 0 && im.jitterUs === 0 && im.bandwidthBps === 0 && im.loss === 0 && im.duplicate === 0 && im.reorder === 0 && im.corrupt === 0;
  }

  /**
   * A super-segment from `from` (Link.transmitGso): its headers (`head`, the
   * TCP header at `l4Off` with the pseudo-header sum in its checksum field)
   * and payload joined into one packet — the whole TCP segment, as a GRO
   * receiver would see the segments a device cut from it — carried past the
   * MTU check to the receiving stack. With full checksums on the hub the
   * checksum is completed (as the device would), else left 0 as every
   * packet's is under offload. When the segments it stands for (headers
   * and `gsoSize` octets each) would not fit the hub's MTU — lowered behind
   * the ports, a black hole — it is lost whole, as they would be.
   */
  carryGso(from: MemoryPort, head: Uint8Array, payload: readonly Uint8Array[], l4Off: number, gsoSize: number): void {
    const packet = joinPartialTcp(head, payload, l4Off, this.caps.fillTx);
    if (head.length + gsoSize > this.mtu) {
      this.stats.sent++;
      this.tap?.(from, packet);
      this.stats.lost++;
      return;
    }
    this.gsoCarried++;
    this.carry(from, packet, true);
  }

  /** A new port; `addr` (optional) is claimed for it. */
  attach(addr?: IpAddr): MemoryPort {
    const p = new MemoryPort(this, this.mtu, this.caps);
    if (addr !== undefined) p.claim(addr);
    this.ports.push(p);
    return p;
  }

  setImpairments(patch: Partial<Impairments>): void {
    const next = { ...this.impair, ...patch };
    validateImpairments(next);
    this.impair = next;
  }

  /** Carries one packet from `from` (`whole`: a super-segment, exempt from the MTU). */
  carry(from: MemoryPort, packet: Uint8Array, whole = false): void {
    this.stats.sent++;
    this.tap?.(from, packet);
    if (packet.length > this.mtu && !whole) {
      this.stats.lost++;
      return;
    }
    // The destination of either version: IPv6 at octet 24, IPv4 at 16.
    const dst: IpAddr =
      packet.length >= 40 && packet[0]! >>> 4 === 6
        ? readIpv6Addr(packet, 24)
        : packet.length >= 20
          ? ((packet[16]! << 24) | (packet[17]! << 16) | (packet[18]! << 8) | packet[19]!) >>> 0
          : 0;
    let to: MemoryPort | null = null;
    for (const p of this.ports) {
      if (p !== from && p.addrs.has(dst)) {
        to = p;
        break;
      }
    }
    if (!to) {
      this.stats.unroutable++;
      return;
    }
    if (this.dropNext > 0) {
      this.dropNext--;
      this.stats.lost++;
      return;
    }
    const fate = impairPacket(packet, this.impair, this.rng, this.clock.now(), from, this.stats);
    if (!fate) return;
    if (fate.departAt > this.clock.now()) {
      // The bottleneck of this direction (the sending port) frees up then.
      this.queue.at(fate.departAt, () => {
        from.queued--;
      });
    }
    const dest = to;
    for (const { at, bytes } of fate.copies) {
      this.queue.at(Math.round(at), () => {
        this.stats.delivered++;
        this.stats.bytes += bytes.length;
        dest.onReceive?.(bytes);
      });
    }
  }
}

/** A direction's bottleneck: when its transmitter is next free, and how many packets wait for it. */
export interface Bottleneck {
  busyUntil: Instant;
  queued: number;
}

/** What impairPacket counts. */
export interface ImpairCounters {
  ceMarked?: number;
  lost: number;
  duplicated: number;
  reordered: number;
  corrupted: number;
  queueDrops: number;
}

/**
 * The fate of one packet under `im`, shared by the in-memory hub and the
 * real-time stage for TUN (links/impair.ts): null when it is lost or finds
 * the bottleneck queue full; otherwise when it leaves the bottleneck (the
 * caller decrements `link.queued` then, if it is later than `now`) and the
 * copies that arrive, each with its time (duplicates and corruption copy the
 * bytes; the first copy is the packet itself).
 */
export function impairPacket(
  packet: Uint8Array,
  im: Impairments,
  rng: Rng,
  now: Instant,
  link: Bottleneck,
  stats: ImpairCounters,
): { departAt: Instant; copies: Array<{ at: Instant; bytes: Uint8Array }> } | null {
  if (rng.chance(im.loss)) {
    stats.lost++;
    return null;
  }
  // Serialization at the bottleneck.
  let departAt = now;
  if (im.bandwidthBps > 0) {
    if (im.queueLimit > 0 && link.queued >= im.queueLimit) {
      stats.queueDrops++;
      return null;
    }
    // IPv4 only: an IPv6 packet keeps its ECN bits elsewhere (the Traffic
    // Class straddles octets 0–1) and has no header checksum to fix; it
    // queues unmarked.
    if (im.ecnMarkThreshold > 0 && link.queued >= im.ecnMarkThreshold && packet.length >= 20 && packet[0]! >>> 4 === 4 && (packet[1]! & 3) !== 0 && (packet[1]! & 3) !== 3) {
      // Congestion Experienced: set both ECN bits and fix the header checksum.
      packet[1] = packet[1]! | 3;
      packet[10] = 0;
      packet[11] = 0;
      const ck = checksum(packet, 0, Math.min(packet.length, (packet[0]! & 0x0f) * 4));
      packet[10] = ck >> 8;
      packet[11] = ck & 0xff;
      stats.ceMarked = (stats.ceMarked ?? 0) + 1;
    }
    const txTime = (packet.length * 8 * 1_000_000) / im.bandwidthBps;
    departAt = Math.max(now, link.busyUntil) + txTime;
    link.busyUntil = departAt;
    link.queued++;
  }
  const n = rng.chance(im.duplicate) ? 2 : 1;
  if (n === 2) stats.duplicated++;
  const copies: Array<{ at: Instant; bytes: Uint8Array }> = [];
  for (let i = 0; i < n; i++) {
    let at = departAt + im.delayUs;
    if (im.jitterUs > 0) at += rng.int(0, im.jitterUs);
    if (rng.chance(im.reorder)) {
      at += im.reorderDelayUs;
      stats.reordered++;
    }
    let bytes = i === 0 ? packet : packet.slice();
    if (rng.chance(im.corrupt)) {
      if (bytes === packet) bytes = packet.slice();
      const bit = rng.int(0, bytes.length * 8 - 1);
      bytes[bit >> 3]! ^= 1 << (bit & 7);
      stats.corrupted++;
    }
    copies.push({ at, bytes });
  }
  return { departAt, copies };
}

export function validateImpairments(im: Impairments): void {
  for (const k of ['loss', 'duplicate', 'reorder', 'corrupt'] as const) {
    const v = im[k];
    if (!(v >= 0 && v <= 1)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `impairment ${k} must be a probability in [0, 1], got ${String(v)}`);
  }
  for (const k of ['delayUs', 'jitterUs', 'bandwidthBps', 'reorderDelayUs', 'queueLimit', 'ecnMarkThreshold'] as const) {
    const v = im[k];
    if (!(v >= 0 && Number.isFinite(v))) throw new SynackError('ERR_SYNACK_INVALID_ARG', `impairment ${k} must be a non-negative number, got ${String(v)}`);
  }
}
