/**
 * IPv4 Address Conflict Detection's probe (RFC 5227 §2.1.1) on an Ethernet
 * interface of a stack: before an address is configured, ask the link
 * whether anyone uses it. The DHCP client host (dhcp-host.ts) runs one on
 * each newly offered address, as RFC 2131 §4.4.1 asks: "The client SHOULD
 * perform a check on the suggested address to ensure that the address is
 * not already in use. For example, if the client is on a network that
 * supports ARP, the client may issue an ARP request for the suggested
 * request."
 *
 * RFC 5227 §2.1.1: "When ready to begin probing, the host should then wait
 * for a random time interval selected uniformly in the range zero to
 * PROBE_WAIT seconds, and should then send PROBE_NUM probe packets, each of
 * these probe packets spaced randomly and uniformly, PROBE_MIN to PROBE_MAX
 * seconds apart." (§1.1: PROBE_WAIT 1 s, PROBE_NUM 3, PROBE_MIN 1 s,
 * PROBE_MAX 2 s, ANNOUNCE_WAIT 2 s.) "If during this period, from the
 * beginning of the probing process until ANNOUNCE_WAIT seconds after the
 * last probe packet is sent, the host receives any ARP packet (Request *or*
 * Reply) on the interface where the probe is being performed, where the
 * packet's 'sender IP address' is the address being probed for, then the
 * host MUST treat this address as being in use by some other host" — "In
 * addition, if during this period the host receives any ARP Probe where the
 * packet's 'target IP address' is the address being probed for, and the
 * packet's 'sender hardware address' is not the hardware address of any of
 * the host's interfaces, then the host SHOULD similarly treat this as an
 * address conflict".
 *
 * On the stack's clock (a StackTimer), random delays from the seeded Rng it
 * is given: deterministic under the virtual clock.
 */
import type { Duration, Instant } from '../base/time.ts';
import { US_PER_S } from '../base/time.ts';
import type { Rng } from '../base/rng.ts';
import type { EthernetInterface } from '../stack/ethernet.ts';
import { isArpProbe, type ArpRepr } from '../wire/arp.ts';
import type { MacAddr } from '../wire/ethernet.ts';
import type { Ipv4Addr } from '../wire/types.ts';
import { StackTimer } from './udp-service.ts';

/** RFC 5227 §1.1's constants (µs, and a count). */
export interface ArpProbeTiming {
  probeWait: Duration;
  probeNum: number;
  probeMin: Duration;
  probeMax: Duration;
  announceWait: Duration;
}

export const RFC5227_TIMING: ArpProbeTiming = {
  probeWait: 1 * US_PER_S,
  probeNum: 3,
  probeMin: 1 * US_PER_S,
  probeMax: 2 * US_PER_S,
  announceWait: 2 * US_PER_S,
};

export type ArpProbeResult = { conflict: false } | { conflict: true; mac: MacAddr; how: 'sender' | 'probe' };

export class ArpProbe {
  private readonly timer: StackTimer;
  private readonly watcher: (r: ArpRepr) => void;
  private sent = 0;
  private done = false;
  /** A conflict seen in the receive path, reported from the next poll (not from inside the stack). */
  private conflict: ArpProbeResult | null = null;

  constructor(
    private readonly eth: EthernetInterface,
    readonly addr: Ipv4Addr,
    private readonly rng: Rng,
    private readonly timing: ArpProbeTiming,
    private readonly onResult: (r: ArpProbeResult) => void,
  ) {
    this.watcher = (r) => this.watch(r);
    eth.arpWatchers.add(this.watcher);
    this.timer = new StackTimer(eth.stack, (now) => this.step(now));
    const now = eth.stack.clock.now();
    this.timer.set(now + this.rng.int(0, timing.probeWait));
  }

  /** Stops without a result (the lease it was for went away). */
  cancel(): void {
    this.finish(null);
  }

  private step(now: Instant): void {
    if (this.done) return;
    if (this.conflict !== null) {
      this.finish(this.conflict);
      return;
    }
    const t = this.timing;
    if (this.sent < t.probeNum) {
      this.eth.sendArpProbe(this.addr);
      this.sent++;
      this.timer.set(now + (this.sent < t.probeNum ? this.rng.int(t.probeMin, t.probeMax) : t.announceWait));
      return;
    }
    // ANNOUNCE_WAIT after the last probe without a conflict: the address is ours to use.
    this.finish({ conflict: false });
  }

  private watch(r: ArpRepr): void {
    if (this.done || this.conflict !== null) return;
    if (r.senderIp === this.addr && r.senderMac !== this.eth.mac) this.conflict = { conflict: true, mac: r.senderMac, how: 'sender' };
    else if (isArpProbe(r) && r.targetIp === this.addr && r.senderMac !== this.eth.mac) this.conflict = { conflict: true, mac: r.senderMac, how: 'probe' };
    else return;
    this.timer.set(this.eth.stack.clock.now());
  }

  private finish(r: ArpProbeResult | null): void {
    if (this.done) return;
    this.done = true;
    this.eth.arpWatchers.delete(this.watcher);
    this.timer.dispose();
    if (r !== null) this.onResult(r);
  }
}
