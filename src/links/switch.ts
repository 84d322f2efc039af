/**
 * The in-memory Ethernet switch: the Ethernet mode of the in-memory
 * network. Like a real learning bridge (IEEE 802.1D §7.8, §8.7) it learns
 * which port each source MAC address sits behind, forwards a frame to the
 * learned port of its destination, floods broadcast, multicast and unknown
 * unicast frames to every other port, and ages learned entries (default 300
 * s, 802.1D's recommended Ageing Time). The filtering database is bounded
 * (a MAC flood fills it; the oldest entry is evicted, as a switch with a
 * full table simply floods).
 *
 * Each frame leaving the switch towards a port goes through the same
 * impairment stage as the layer-3 hub (links/memory.ts impairPacket):
 * delay, jitter, bandwidth, loss, duplication, reordering, corruption —
 * drawn from a seeded RNG, so the same seed gives the same history. ECN
 * marking is an IP-layer act the switch does not do.
 *
 * Pure: no node: imports; frames in flight wait in the EventQueue.
 */
import type { FrameLink } from '../stack/link.ts';
import type { ChecksumCaps } from '../wire/types.ts';
import { CHECKSUM_FULL, CHECKSUM_OFFLOAD } from '../wire/types.ts';
import type { Clock, Duration, Instant } from '../base/time.ts';
import type { EventQueue } from '../base/event-queue.ts';
import { Rng } from '../base/rng.ts';
import { SynackError } from '../errors.ts';
import { ETH_HEADER_LEN, getMac, isMulticastMac, type MacAddr } from '../wire/ethernet.ts';
import { LINKTYPE_ETHERNET, pcapGlobalHeader, pcapRecord } from '../wire/pcap.ts';
import { impairPacket, NO_IMPAIRMENTS, validateImpairments, type HubStats, type Impairments } from './memory.ts';

export interface EthernetSwitchOptions {
  /** The IP MTU of the LAN (default 1500): frames up to mtu + 14 + 8 (two tags) are carried. */
  mtu?: number;
  seed?: number;
  impair?: Partial<Impairments>;
  checksumOffload?: boolean;
  /** Ageing time of learned addresses, µs (default 300 s). */
  ageUs?: Duration;
  /** Learned addresses at most (default 4096). */
  maxEntries?: number;
}

export interface SwitchStats extends HubStats {
  /** Frames sent to every other port (broadcast, multicast, unknown destination). */
  flooded: number;
  /** Frames whose destination sits behind the port they came from (dropped, as a bridge filters them). */
  filtered: number;
}

/** One port of the switch: the FrameLink of one Ethernet interface. */
export class SwitchPort implements FrameLink {
  onReceive: ((frame: Uint8Array) => void) | null = null;
  busyUntil: Instant = 0;
  queued = 0;
  constructor(
    private readonly sw: EthernetSwitch,
    readonly mtu: number,
    readonly checksum: ChecksumCaps,
  ) {}
  transmit(frame: Uint8Array): void {
    this.sw.carry(this, frame);
  }
}

export class EthernetSwitch {
  readonly ports: SwitchPort[] = [];
  readonly stats: SwitchStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, corrupted: 0, queueDrops: 0, ceMarked: 0, unroutable: 0, bytes: 0, flooded: 0, filtered: 0 };
  impair: Impairments;
  readonly mtu: number;
  /** Every frame as it enters the switch (before impairment). */
  tap: ((from: SwitchPort, frame: Uint8Array) => void) | null = null;
  private pcap: Uint8Array[] | null = null;
  private readonly fdb = new Map<MacAddr, { port: SwitchPort; at: Instant }>();
  private readonly rng: Rng;
  private readonly caps: ChecksumCaps;
  private readonly ageUs: Duration;
  private readonly maxEntries: number;

  constructor(
    private readonly clock: Clock,
    private readonly queue: EventQueue,
    opts: EthernetSwitchOptions = {},
  ) {
    this.mtu = opts.mtu ?? 1500;
    if (!(this.mtu >= 68 && this.mtu <= 65535)) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'mtu must be 68..65535');
    this.rng = new Rng(opts.seed ?? 1);
    this.impair = { ...NO_IMPAIRMENTS, ...opts.impair };
    this.checkImpair(this.impair);
    this.caps = (opts.checksumOffload ?? this.impair.corrupt === 0) ? CHECKSUM_OFFLOAD : CHECKSUM_FULL;
    this.ageUs = opts.ageUs ?? 300_000_000;
    this.maxEntries = opts.maxEntries ?? 4096;
  }

  private checkImpair(im: Impairments): void {
    validateImpairments(im);
    if (im.ecnMarkThreshold > 0) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'the Ethernet switch does no ECN marking (ecnMarkThreshold must be 0)');
  }

  attach(): SwitchPort {
    const p = new SwitchPort(this, this.mtu, this.caps);
    this.ports.push(p);
    return p;
  }

  setImpairments(patch: Partial<Impairments>): void {
    const next = { ...this.impair, ...patch };
    this.checkImpair(next);
    this.impair = next;
  }

  /**
   * Records every frame entering the switch (before impairment) as a pcap
   * file with LINKTYPE_ETHERNET (1) and the clock's timestamps; returns a
   * function that gives the file so far (tshark, Wireshark and `synack
   * trace` read it). The records stay in memory until the switch goes.
   */
  capture(): () => Uint8Array {
    this.pcap ??= [pcapGlobalHeader(65535, LINKTYPE_ETHERNET)];
    const chunks = this.pcap;
    return () => {
      let n = 0;
      for (const c of chunks) n += c.length;
      const out = new Uint8Array(n);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return out;
    };
  }

  /** Learned address → port (for tests). */
  lookup(mac: MacAddr): SwitchPort | null {
    const e = this.fdb.get(mac);
    return e && this.clock.now() - e.at < this.ageUs ? e.port : null;
  }

  get learned(): number {
    return this.fdb.size;
  }

  carry(from: SwitchPort, frame: Uint8Array): void {
    this.stats.sent++;
    this.tap?.(from, frame);
    this.pcap?.push(pcapRecord(this.clock.now(), frame));
    if (frame.length < ETH_HEADER_LEN || frame.length > this.mtu + ETH_HEADER_LEN + 8) {
      this.stats.lost++;
      return;
    }
    const now = this.clock.now();
    const dst = getMac(frame, 0);
    const src = getMac(frame, 6);
    // Learning (802.1D §8.7): the source address is behind the port the
    // frame came in on. A group address is never a source.
    if (!isMulticastMac(src)) {
      const e = this.fdb.get(src);
      if (e) {
        e.port = from;
        e.at = now;
      } else {
        if (this.fdb.size >= this.maxEntries) this.evict(now);
        this.fdb.set(src, { port: from, at: now });
      }
    }
    let out: SwitchPort[];
    const known = isMulticastMac(dst) ? null : this.lookup(dst);
    if (known) {
      if (known === from) {
        this.stats.filtered++;
        return;
      }
      out = [known];
    } else {
      out = this.ports.filter((p) => p !== from);
      this.stats.flooded++;
    }
    for (let i = 0; i < out.length; i++) this.deliver(from, out[i]!, i === 0 ? frame : frame.slice(), now);
  }

  private evict(now: Instant): void {
    for (const [mac, e] of this.fdb) {
      if (now - e.at >= this.ageUs) this.fdb.delete(mac);
    }
    if (this.fdb.size >= this.maxEntries) {
      const oldest = this.fdb.keys().next();
      if (!oldest.done) this.fdb.delete(oldest.value);
    }
  }

  private deliver(from: SwitchPort, to: SwitchPort, frame: Uint8Array, now: Instant): void {
    const fate = impairPacket(frame, this.impair, this.rng, now, from, this.stats);
    if (!fate) return;
    if (fate.departAt > now) {
      this.queue.at(fate.departAt, () => {
        from.queued--;
      });
    }
    for (const { at, bytes } of fate.copies) {
      this.queue.at(Math.round(at), () => {
        this.stats.delivered++;
        this.stats.bytes += bytes.length;
        to.onReceive?.(bytes);
      });
    }
  }
}
