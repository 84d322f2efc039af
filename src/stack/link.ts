/**
 * What the stack needs from a link: send an IP packet, receive IP packets,
 * and say its MTU and checksum capabilities. Links live in src/links/.
 */
import type { ChecksumCaps } from '../wire/types.ts';
import type { MacAddr } from '../wire/ethernet.ts';

export interface Link {
  /** Largest IP packet the link carries, in bytes. */
  readonly mtu: number;
  /** Whether checksums must be filled on send and verified on receive. */
  readonly checksum: ChecksumCaps;
  /** Sends one IP packet. The link takes ownership of `packet`. */
  transmit(packet: Uint8Array): void;
  /**
   * Present on a link that completes TCP checksums on the way out (a TAP or
   * TUN device with checksum offload): sends one IP packet made of `head`
   * (its IP and TCP headers, a packet of the stack's pool, the TCP checksum
   * field holding the folded pseudo-header sum) followed by the `payload`
   * parts (views of the sender's bytes, never written; at most 16 — the
   * addon's writev takes 64 parts per packet), the TCP header at `l4Off` of `head`. The link takes
   * ownership of `head` and writes the payload by reference (gather), so the
   * stack neither copies nor sums it. A link that keeps payload views past
   * the call, queued for a write later in the turn, holds the send buffer's
   * pool until that write (tcp/send-buffer.ts `holdSendBlocks` …
   * `releaseSendBlocks`); one that would keep them for an unknown time pins
   * them (`pinSendBytes`): that block is then never reused.
   */
  transmitPartial?(head: Uint8Array, payload: readonly Uint8Array[], l4Off: number): void;
  /**
   * Present on a link that segments TCP itself (a TUN or TAP device with
   * TSO, IFF_VNET_HDR + TUNSETOFFLOAD, and no impairment stage on the way
   * out): the largest IP packet (headers included) `transmitGso` takes.
   */
  readonly tsoMaxBytes?: number;
  /**
   * With `tsoMaxBytes`: as `transmitPartial`, but the packet is a TCP
   * super-segment of up to `tsoMaxBytes` octets that the device cuts into
   * segments of `gsoSize` payload octets (the last may be shorter), every
   * one with `head`'s headers but for the lengths, the sequence number,
   * the checksums and PSH/FIN (on the last only) — a virtio_net_hdr with
   * gso_type TCPV4/TCPV6, gso_size `gsoSize` and NEEDS_CSUM. `head` is an
   * IPv4 or IPv6 packet (no extension headers) whose lengths count the
   * whole payload.
   */
  transmitGso?(head: Uint8Array, payload: readonly Uint8Array[], l4Off: number, gsoSize: number): void;
  /** A link with link-layer addresses (Ethernet): sends one IP packet to `mac` without resolving its next hop (DHCP's unicast before ARP, RFC 2131 §4.1). */
  transmitTo?(mac: MacAddr, packet: Uint8Array): void;
  /** Set by the stack: called with each received IP packet (ownership passes to the stack). */
  onReceive: ((packet: Uint8Array) => void) | null;
  /**
   * Optional: the link hands packets over in batches (those one read of a
   * device, one chunk of a stream brought) and calls `onReceiveEnd` after
   * each. The stack then treats a batch as the "series of queued segments"
   * of RFC 9293 §3.10.7.4: "if the TCP endpoint is processing a series of
   * queued segments, it MUST process them all before sending any ACK
   * segments (MUST-59)" — each connection's ACK and data go once, at the
   * batch's end.
   */
  readonly receivesInBatches?: boolean;
  /** Set by the stack when `receivesInBatches`: the link calls it after each batch's last onReceive. */
  onReceiveEnd?: (() => void) | null;
  /**
   * Set to true by the stack when it takes the link's packets: it then
   * accepts, during the delivery, a packet the link marked as carrying the
   * kernel's partial checksum (stack/rx-verified.ts). Another receiver
   * (left false) gets every checksum completed.
   */
  partialChecksumsIn?: boolean;
}

/**
 * A link that carries Ethernet II frames (a port of the in-memory switch,
 * a TAP device). `mtu` is the largest IP packet a frame carries (1500 on
 * Ethernet, RFC 894), without the 14-octet header. stack/ethernet.ts puts
 * an Ethernet interface (MAC, filters, ARP, NDP) between it and the stack.
 */
export interface FrameLink {
  readonly mtu: number;
  readonly checksum: ChecksumCaps;
  /** Sends one frame (header included, no FCS). The link takes ownership of `frame`. */
  transmit(frame: Uint8Array): void;
  /** As Link.transmitPartial, for a frame: `head` is the link header, IP and TCP headers, the TCP header at `l4Off`. */
  transmitPartial?(head: Uint8Array, payload: readonly Uint8Array[], l4Off: number): void;
  /** As Link.tsoMaxBytes: the largest IP packet (without the link header) `transmitGso` takes. */
  readonly tsoMaxBytes?: number;
  /** As Link.transmitGso, for a frame: `head` is the link header, IP and TCP headers, the TCP header at `l4Off`. */
  transmitGso?(head: Uint8Array, payload: readonly Uint8Array[], l4Off: number, gsoSize: number): void;
  /** Set by the Ethernet interface: called with each received frame. */
  onReceive: ((frame: Uint8Array) => void) | null;
  /** As Link.receivesInBatches: frames come in batches, each followed by `onReceiveEnd`. */
  readonly receivesInBatches?: boolean;
  /** As Link.onReceiveEnd (set by the Ethernet interface). */
  onReceiveEnd?: (() => void) | null;
  /** As Link.partialChecksumsIn, set by the Ethernet interface. */
  partialChecksumsIn?: boolean;
}
