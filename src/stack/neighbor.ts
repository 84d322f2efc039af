/**
 * The neighbour cache of one Ethernet interface, shared by ARP (RFC 826,
 * IPv4) and Neighbor Discovery (RFC 4861, IPv6): IP address → MAC, with
 * the RFC 4861 §7.3.2 reachability states reused for both families, the
 * packets waiting for a resolution (RFC 1122 §2.3.2.2), retries, and a
 * global bound on entries. Sans I/O: it asks its owner (stack/ethernet.ts)
 * to solicit, to send and to count drops, and is driven by `poll(now)`
 * from the stack's timers.
 *
 * States (RFC 4861 §7.3.2): INCOMPLETE "Address resolution is being
 * performed and the link-layer address has not yet been determined.";
 * REACHABLE "Positive confirmation was received within the last
 * ReachableTime milliseconds that the forward path to the neighbor was
 * functioning properly."; STALE "More than ReachableTime milliseconds have
 * elapsed since the last positive confirmation was received that the
 * forward path was functioning properly."; DELAY "More than ReachableTime
 * milliseconds have elapsed since the last positive confirmation was
 * received that the forward path was functioning properly, and a packet
 * was sent within the last DELAY_FIRST_PROBE_TIME seconds."; PROBE "A
 * reachability confirmation is actively sought by retransmitting Neighbor
 * Solicitations every RetransTimer milliseconds until a reachability
 * confirmation is received." synack's TCP gives no upper-layer reachability
 * hints, so an entry in use is re-confirmed by unicast probes about every
 * ReachableTime (Linux without dst_confirm does the same); ARP entries
 * follow the same machine (Linux's ARP is the same neighbour code).
 */
import type { Instant } from '../base/time.ts';
import type { MacAddr } from '../wire/ethernet.ts';
import type { DropReason } from '../wire/types.ts';
import type { IpAddr } from '../wire/ipv6.ts';

export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe';

export interface NeighborEntry {
  mac: MacAddr;
  state: NeighborState;
  /** INCOMPLETE: when the next solicitation is due; REACHABLE: when it becomes STALE; STALE: when it may be collected. */
  at: Instant;
  /** Solicitations sent (INCOMPLETE). */
  tries: number;
  /** Packets waiting for the resolution (INCOMPLETE only). */
  pending: Uint8Array[] | null;
}

export interface NeighborLimits {
  /**
   * RFC 1122 §2.3.2.1: "A mechanism to prevent ARP flooding (repeatedly
   * sending an ARP Request for the same IP address, at a high rate) MUST be
   * included. The recommended maximum rate is 1 per second per destination."
   * RFC 4861 §10: RETRANS_TIMER 1,000 milliseconds. µs.
   */
  retransUs: number;
  /** RFC 4861 §10: MAX_MULTICAST_SOLICIT 3 transmissions (Linux mcast_solicit = 3 for ARP too). */
  maxSolicit: number;
  /** RFC 4861 §10: REACHABLE_TIME 30,000 milliseconds. µs. */
  reachableUs: number;
  /** RFC 4861 §10: DELAY_FIRST_PROBE_TIME 5 seconds. µs. */
  delayUs: number;
  /** RFC 4861 §10: MAX_UNICAST_SOLICIT 3 transmissions (Linux ucast_solicit = 3). */
  maxUnicastSolicit: number;
  /** How long an unused STALE entry is kept (Linux gc_stale_time: 60 s). µs. */
  staleUs: number;
  /** Packets queued per unresolved neighbour (Linux: 3 packets, unres_qlen_bytes aside). */
  queueLen: number;
  /** Entries at most (Linux gc_thresh3 = 1024; smaller here: one link). */
  maxEntries: number;
}

export const NEIGHBOR_DEFAULTS: Readonly<NeighborLimits> = Object.freeze({
  retransUs: 1_000_000,
  maxSolicit: 3,
  reachableUs: 30_000_000,
  delayUs: 5_000_000,
  maxUnicastSolicit: 3,
  staleUs: 60_000_000,
  queueLen: 3,
  maxEntries: 512,
});

/** What the cache asks of its owner. */
export interface NeighborIo {
  /**
   * Sends solicitation number `attempt` (1-based) for `ip`; `packet` is the
   * oldest one waiting (its source chooses ours). `unicast`: a PROBE to the
   * cached address instead of a multicast (broadcast) one.
   */
  solicit(ip: IpAddr, attempt: number, packet: Uint8Array | null, unicast?: MacAddr): void;
  /** Sends `packet` to `mac`. */
  send(mac: MacAddr, packet: Uint8Array): void;
  drop(reason: DropReason): void;
  /** Resolution of `ip` failed; `packets` were waiting for it (already counted as drops). */
  unreachable(ip: IpAddr, packets: Uint8Array[]): void;
}

export class NeighborCache {
  readonly limits: NeighborLimits;
  private readonly entries = new Map<IpAddr, NeighborEntry>();
  /** The earliest `at` of any entry (may be early, never late). */
  private next: Instant = Infinity;
  /** Entries evicted to make room, resolutions that failed. */
  evicted = 0;
  failed = 0;

  constructor(
    private readonly io: NeighborIo,
    limits: Partial<NeighborLimits> = {},
  ) {
    this.limits = { ...NEIGHBOR_DEFAULTS, ...limits };
  }

  get size(): number {
    return this.entries.size;
  }

  /** Packets waiting for resolutions, all entries (O(entries): for checks and status, not the data path). */
  get pendingPackets(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.pending?.length ?? 0;
    return n;
  }

  get(ip: IpAddr): NeighborEntry | undefined {
    return this.entries.get(ip);
  }

  /**
   * The link-layer address to send a packet for `ip` to now, or null while
   * it is unknown (no entry, or INCOMPLETE: `output` queues and solicits).
   * Sending to it is a use of the entry: RFC 4861 §7.3.3, "The first time a
   * node sends a packet to a neighbor whose entry is STALE, the sender
   * changes the state to DELAY and sets a timer to expire in
   * DELAY_FIRST_PROBE_TIME seconds."
   */
  resolved(ip: IpAddr, now: Instant): MacAddr | null {
    const e = this.entries.get(ip);
    if (!e || e.state === 'incomplete') return null;
    if (e.state === 'stale') {
      e.state = 'delay';
      e.at = now + this.limits.delayUs;
      this.arm(e.at);
    }
    return e.mac;
  }

  /** Every entry's address, link-layer address (null while INCOMPLETE) and state, for reports (`synack serve --stats`). */
  list(): Array<{ ip: IpAddr; mac: MacAddr | null; state: NeighborState }> {
    return [...this.entries].map(([ip, e]) => ({ ip, mac: e.state === 'incomplete' ? null : e.mac, state: e.state }));
  }

  nextDeadline(): Instant {
    return this.next;
  }

  private arm(at: Instant): void {
    if (at < this.next) this.next = at;
  }

  /**
   * Room for one more entry: RFC 4861 §11.2 warns that a flood of packets
   * from many sources can fill the cache ("a denial-of-service attack ...
   * filling up the Neighbor Cache with bogus entries"); a full cache evicts
   * its oldest STALE entry (in insertion order), else refuses.
   */
  private makeRoom(): boolean {
    if (this.entries.size < this.limits.maxEntries) return true;
    for (const [ip, e] of this.entries) {
      if (e.state === 'stale') {
        this.entries.delete(ip);
        this.evicted++;
        return true;
      }
    }
    return false;
  }

  /**
   * Sends `packet` to neighbour `ip`: at once when its address is known
   * (REACHABLE or STALE), else queued while it is resolved.
   *
   * RFC 1122 §2.3.2.2: "The link layer SHOULD save (rather than discard) at
   * least one (the latest) packet of each set of packets destined to the
   * same unresolved IP address, and transmit the saved packet when the
   * address has been resolved." The latest `queueLen` are kept: when the
   * queue is full its oldest packet is dropped ('neigh-queue-full'), as
   * Linux's __neigh_event_send does.
   */
  output(ip: IpAddr, packet: Uint8Array, now: Instant): void {
    const mac = this.resolved(ip, now);
    if (mac !== null) {
      this.io.send(mac, packet);
      return;
    }
    let e = this.entries.get(ip);
    if (!e) {
      if (!this.makeRoom()) {
        this.io.drop('neigh-table-full');
        return;
      }
      e = { mac: 0, state: 'incomplete', at: now + this.limits.retransUs, tries: 1, pending: [packet] };
      this.entries.set(ip, e);
      this.arm(e.at);
      this.io.solicit(ip, 1, packet);
      return;
    }
    const q = (e.pending ??= []);
    if (q.length >= this.limits.queueLen) {
      q.shift();
      this.io.drop('neigh-queue-full');
    }
    q.push(packet);
  }

  /**
   * A link-layer address learned for `ip`. `solicited`: a reply to our
   * solicitation (ARP reply, NA with the S flag) — REACHABLE; otherwise
   * (RFC 4861 §7.2.3: an NS "the entry's reachability state MUST be set to
   * STALE"; RFC 826's merge of any ARP packet) STALE if the address
   * changed or the entry is new. `create`: make an entry if there is none
   * (RFC 826: only when we are the target; RFC 4861 §7.2.5: an
   * advertisement without an entry "SHOULD be silently discarded").
   * Returns whether an entry exists afterwards.
   */
  learn(ip: IpAddr, mac: MacAddr, now: Instant, solicited: boolean, create: boolean, override = true): boolean {
    let e = this.entries.get(ip);
    if (!e) {
      if (!create || !this.makeRoom()) {
        if (create) this.io.drop('neigh-table-full');
        return false;
      }
      e = { mac, state: 'stale', at: now + this.limits.staleUs, tries: 0, pending: null };
      this.entries.set(ip, e);
      if (solicited) {
        e.state = 'reachable';
        e.at = now + this.limits.reachableUs;
      }
      this.arm(e.at);
      return true;
    }
    if (e.state === 'incomplete') {
      // RFC 4861 §7.2.5: "If the target's Neighbor Cache entry is in the
      // INCOMPLETE state ... record the link-layer address in the Neighbor
      // Cache entry. ... If the advertisement's Solicited flag is set, the
      // state of the entry is set to REACHABLE; otherwise, it is set to
      // STALE." and "sends any packets queued for the neighbor awaiting
      // address resolution."
      e.mac = mac;
      e.state = solicited ? 'reachable' : 'stale';
      e.at = now + (solicited ? this.limits.reachableUs : this.limits.staleUs);
      e.tries = 0;
      const q = e.pending;
      e.pending = null;
      this.arm(e.at);
      if (q) for (const p of q) this.io.send(mac, p);
      return true;
    }
    if (mac !== e.mac) {
      // RFC 4861 §7.2.5: "If the Override flag is clear and the supplied
      // link-layer address differs from that in the cache, then one of two
      // actions takes place: a. If the state of the entry is REACHABLE, set
      // it to STALE, but do not update the entry in any other way. b.
      // Otherwise, the received advertisement should be ignored". With it
      // set (and for ARP, whose merge always takes the sender's address),
      // the address is taken and "If the link-layer address was updated
      // with a different address, the state MUST be set to STALE" unless
      // the message was solicited.
      if (!override) {
        if (e.state === 'reachable') {
          e.state = 'stale';
          e.at = now + this.limits.staleUs;
        }
        return true;
      }
      e.mac = mac;
      e.tries = 0;
      e.state = 'stale';
      e.at = now + this.limits.staleUs;
    }
    if (solicited) {
      // "If the Solicited flag is set, the state of the entry MUST be set to
      // REACHABLE" (a confirmation, also out of DELAY and PROBE).
      e.state = 'reachable';
      e.tries = 0;
      e.at = now + this.limits.reachableUs;
    } else if (e.state === 'stale') {
      e.at = now + this.limits.staleUs;
    }
    this.arm(e.at);
    return true;
  }

  /** Forgets `ip` (its waiting packets are dropped). */
  delete(ip: IpAddr): void {
    const e = this.entries.get(ip);
    if (!e) return;
    if (e.pending) for (let i = 0; i < e.pending.length; i++) this.io.drop('neigh-unresolved');
    this.entries.delete(ip);
  }

  /** Retries, failures, REACHABLE → STALE, DELAY → PROBE, probes, collection of unused STALE entries. */
  poll(now: Instant): void {
    if (now < this.next) return;
    let next = Infinity;
    for (const [ip, e] of this.entries) {
      if (e.at <= now) {
        if (e.state === 'incomplete') {
          if (e.tries >= this.limits.maxSolicit) {
            // RFC 4861 §7.2.2: "If no Neighbor Advertisement is received
            // after MAX_MULTICAST_SOLICIT solicitations, address resolution
            // has failed. The sender MUST return ICMP destination
            // unreachable indications with code 3 (Address Unreachable) for
            // each packet queued awaiting address resolution." The packets
            // are ours (a host does not forward): they are counted drops,
            // and the owner reports the failure to their senders.
            this.failed++;
            const q = e.pending ?? [];
            this.delete(ip);
            this.io.unreachable(ip, q);
            continue;
          }
          e.tries++;
          e.at = now + this.limits.retransUs;
          this.io.solicit(ip, e.tries, e.pending?.[0] ?? null);
        } else if (e.state === 'reachable') {
          // RFC 4861 §7.3.3: "When ReachableTime milliseconds have passed
          // since receipt of the last reachability confirmation for a
          // neighbor, the Neighbor Cache entry's state changes from
          // REACHABLE to STALE."
          e.state = 'stale';
          e.at = now + this.limits.staleUs;
        } else if (e.state === 'delay' || e.state === 'probe') {
          // "If the entry is still in the DELAY state when the timer
          // expires, the entry's state changes to PROBE." ... "Upon entering
          // the PROBE state, a node sends a unicast Neighbor Solicitation
          // message to the neighbor using the cached link-layer address."
          // RFC 4861 §7.3.3: "If no response is received after waiting
          // RetransTimer milliseconds after sending the MAX_UNICAST_SOLICIT
          // solicitations, retransmissions cease and the entry SHOULD be
          // deleted."
          if (e.state === 'probe' && e.tries >= this.limits.maxUnicastSolicit) {
            this.failed++;
            this.entries.delete(ip);
            continue;
          }
          if (e.state === 'delay') {
            e.state = 'probe';
            e.tries = 0;
          }
          e.tries++;
          e.at = now + this.limits.retransUs;
          this.io.solicit(ip, e.tries, null, e.mac);
        } else {
          // An unused STALE entry (a used one went to DELAY): collected.
          this.entries.delete(ip);
          continue;
        }
      }
      if (e.at < next) next = e.at;
    }
    this.next = next;
  }
}
