/**
 * Received packets whose transport checksum a link has just computed.
 *
 * A TAP/TUN device with checksum offload hands over the guest kernel's TCP
 * and UDP packets with a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM: the
 * field holds the pseudo-header sum). The link completes it (links/tun.ts),
 * as a NIC would — one pass over the bytes — and verifying it again in the
 * stack would be a second pass over the same bytes with a known result. So
 * the link marks such a packet, and the stack's TCP and UDP input skip the
 * verification for it (as Linux skips it for a CHECKSUM_UNNECESSARY skb).
 * A packet is marked by its ArrayBuffer, which it must own alone (the link
 * copies each packet out of its read arena into a buffer of its own), so
 * the mark holds for every view of it (the IP payload, the TCP segment).
 * A link with an impairment stage on the way in does not mark (a byte it
 * corrupts after the completion must meet the verification).
 */
const verified = new WeakSet<ArrayBufferLike>();

/** Marks `packet` (which owns its ArrayBuffer) as carrying a transport checksum just computed from its bytes. */
export function markChecksumComputed(packet: Uint8Array): void {
  verified.add(packet.buffer);
}

/** Whether `bytes` is (a view of) a packet marked by markChecksumComputed. */
export function checksumComputed(bytes: Uint8Array): boolean {
  return verified.has(bytes.buffer);
}
