/**
 * TapLink: a FrameLink on a Linux TAP device (IFF_TAP | IFF_NO_PI: each
 * read and write is one Ethernet II frame, without FCS), through the same
 * native addon as the TUN link (package `synack-tun`, `{ tap: true }`).
 *
 * It is the TUN link (links/tun.ts) with a 14-byte link header: the same
 * batched reads into a shared arena, the same impairment stage, the same
 * batched writes and the same offloads (IFF_VNET_HDR with TUNSETOFFLOAD
 * checksum, TSO4, TSO6: the kernel hands over frames carrying TCP segments
 * of up to 64 KiB with partial checksums, completed here; runs of the
 * stack's segments of one flow leave as one TSO write, the Ethernet header
 * in front — virtio_net_hdr offsets count from the frame's start). What it
 * carries is frames, so it is a `FrameLink`: an Ethernet interface
 * (stack/ethernet.ts: MAC address, receive filter, ARP, NDP, DAD, router
 * advertisements) sits between it and the stack — `attachTap` makes both.
 *
 * Its `mtu` is the device's (Linux's MTU of a TAP device, like an Ethernet
 * NIC's, is the largest IP packet; the frame is 14 bytes longer).
 */
import type { FrameLink } from '../stack/link.ts';
import type { Stack } from '../stack/stack.ts';
import { addEthernetInterface, type EthernetInterface, type EthernetInterfaceConfig } from '../stack/ethernet.ts';
import { TunLink, type TunLinkOptions } from './tun.ts';

export type TapLinkOptions = TunLinkOptions;

export class TapLink extends TunLink implements FrameLink {
  /** Opens (attaches to, or creates) the TAP device `opts.name`. */
  constructor(opts: TapLinkOptions) {
    super(opts, 'tap');
  }
}

/**
 * Opens a TAP link and puts an Ethernet interface of `stack` on it (the
 * interface's MTU is the link's). `eth` takes the interface's MAC address,
 * its addresses and the ARP/NDP/SLAAC/router options of stack/ethernet.ts.
 */
export function attachTap(stack: Stack, link: TapOptionsOrLink, eth: Omit<EthernetInterfaceConfig, 'link'>): { link: TapLink; eth: EthernetInterface } {
  const l = link instanceof TapLink ? link : new TapLink(link);
  return { link: l, eth: addEthernetInterface(stack, { ...eth, link: l }) };
}

type TapOptionsOrLink = TapLink | TapLinkOptions;
