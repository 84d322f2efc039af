/**
 * The loopback interface every stack has: 127.0.0.0/8 and ::1, MTU 65536
 * (as Linux's `lo`). A packet a stack sends to one of its own addresses —
 * any configured address, 127.0.0.0/8, ::1 — never reaches a link: the
 * loopback link queues it, and the stack's next `poll()` hands it back to
 * its own input (`nextDeadline()` is "now" while the queue holds packets),
 * so input is never re-entered from inside output and the order of events
 * stays that of the virtual clock.
 *
 * RFC 1122 §3.2.1.3 (g): "{ 127, <any> } Internal host loopback address.
 * Addresses of this form MUST NOT appear outside a host."
 * RFC 4291 §2.5.3: "The unicast address 0:0:0:0:0:0:0:1 is called the
 * loopback address. It may be used by a node to send an IPv6 packet to
 * itself. It must not be assigned to any physical interface. It is treated
 * as having Link-Local scope, and may be thought of as the Link-Local
 * unicast address of a virtual interface (typically called the 'loopback
 * interface') to an imaginary link that goes nowhere."
 * RFC 1122 §3.3.4.2 (multihoming): a datagram "addressed to one of the
 * host's own IP addresses" is looped back internally (as every kernel does:
 * Linux routes its own addresses through `lo` — the `local` routing table).
 */
import type { ChecksumCaps } from '../wire/types.ts';
import { CHECKSUM_FULL } from '../wire/types.ts';
import type { Link } from './link.ts';

/** Linux's loopback MTU (drivers/net/loopback.c: 64 KiB since 3.16). */
export const LOOPBACK_MTU = 65536;
/**
 * Packets the loopback queue holds before it drops (counted
 * `loopback-queue-full`): Linux's per-CPU backlog, net.core.netdev_max_backlog.
 */
export const LOOPBACK_QUEUE_MAX = 1000;

/** 127.0.0.0/8, the IPv4 loopback network (RFC 1122 §3.2.1.3 (g)). */
export function isIpv4Loopback(a: number): boolean {
  return a >>> 24 === 127;
}

/** 127.0.0.1, the source of our packets to 127.0.0.0/8 (Linux: `local 127.0.0.0/8 dev lo src 127.0.0.1`). */
export const IPV4_LOOPBACK = 0x7f000001;

export class LoopbackLink implements Link {
  readonly mtu = LOOPBACK_MTU;
  /**
   * Checksums are filled and checked as on any link (Linux skips them on
   * `lo`; keeping them makes a loopback capture valid for tshark and costs
   * little next to the copy a kernel would do).
   */
  readonly checksum: ChecksumCaps = CHECKSUM_FULL;
  onReceive: ((packet: Uint8Array) => void) | null = null;
  private queue: Uint8Array[] = [];
  /** Called when a packet could not be queued (the stack counts the drop). */
  onOverflow: (() => void) | null = null;

  transmit(packet: Uint8Array): void {
    if (this.queue.length >= LOOPBACK_QUEUE_MAX) {
      this.onOverflow?.();
      return;
    }
    this.queue.push(packet);
  }

  /** Packets waiting for the stack's next poll. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Delivers the packets queued so far to the stack's input; packets sent
   * while doing so wait for the next poll (no recursion, no starvation).
   */
  deliver(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    for (const p of batch) this.onReceive?.(p);
  }
}
