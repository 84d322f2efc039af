/**
 * Received packets whose transport checksum the stack need not verify.
 *
 * A TAP/TUN device with checksum offload hands over the guest kernel's TCP
 * and UDP packets with a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM: the
 * field holds the pseudo-header sum, the rest "is ours to add"). Such a
 * packet never crossed a wire: it comes from the kernel's memory, which is
 * why the kernel itself does not checksum it (Linux's CHECKSUM_PARTIAL; a
 * local receiver trusts it). Completing the checksum and then verifying it
 * would be two passes over the bytes with a known result. So the link
 * marks such a packet instead (links/tun.ts): the stack's TCP and UDP input
 * skip the verification, and the checksum is completed only where its
 * value is seen — a capture (`completeForCapture`, called by the taps).
 * A link that completes a checksum itself marks the packet computed.
 *
 * The mark lives only while the link hands the packet up: receiving is
 * synchronous from the link's read to TCP and UDP input and to the taps
 * (a link with an impairment stage on the way in, which delays packets,
 * marks nothing — a byte it corrupts must meet the verification), so one
 * slot holds it, set before the delivery and cleared after
 * (`clearChecksumMark`) — no per-packet table for the garbage collector
 * to trace. The packet is known by its ArrayBuffer and its range in it (the
 * link copies each packet out of its read arena, into a buffer of its own
 * or a region of a slab it shares with other packets), so the mark holds
 * for every view inside that range (the frame, the IP payload, the TCP
 * segment) and for no other packet of the same buffer; offsets count from
 * the packet's start.
 */
import { checksum } from '../wire/checksum.ts';

/** The buffer of the packet being delivered, if marked, and the packet's range in it. */
let slot: ArrayBufferLike | null = null;
let slotStart = 0;
let slotEnd = 0;
/** 0: computed; otherwise 1 + (csumStart << 8 | csumOffset): partial, not yet completed. */
let slotMark = 0;

/** Marks `packet` (no other packet shares its bytes), about to be delivered, as carrying a transport checksum just computed from its bytes. */
export function markChecksumComputed(packet: Uint8Array): void {
  slot = packet.buffer;
  slotStart = packet.byteOffset;
  slotEnd = slotStart + packet.byteLength;
  slotMark = 0;
}

/**
 * Marks `packet` (no other packet shares its bytes), about to be
 * delivered, as carrying the kernel's partial checksum for the transport
 * header at `csumStart` from the packet's start, its field at
 * `csumStart + csumOffset` (offsets checked by the caller).
 */
export function markChecksumPartial(packet: Uint8Array, csumStart: number, csumOffset: number): void {
  slot = packet.buffer;
  slotStart = packet.byteOffset;
  slotEnd = slotStart + packet.byteLength;
  slotMark = 1 + ((csumStart << 8) | csumOffset);
}

/** Whether `view` lies inside the marked packet. */
function inSlot(view: Uint8Array): boolean {
  if (slot === null || view.buffer !== slot) return false;
  const at = view.byteOffset;
  return at >= slotStart && at + view.byteLength <= slotEnd;
}

/** The delivery is over: no packet is marked. */
export function clearChecksumMark(): void {
  slot = null;
}

/** Whether `bytes` is (a view of) the marked packet: its transport checksum is not to be verified. */
export function checksumComputed(bytes: Uint8Array): boolean {
  return inSlot(bytes);
}

/**
 * Completes the partial checksum of the marked packet in place (what a NIC
 * does for CHECKSUM_PARTIAL), so that a capture shows the checksum the
 * packet would carry on a wire; then it is marked computed. `view` is any
 * view of the packet (the frame a tap sees, the IP packet a stack hook
 * sees).
 */
export function completeForCapture(view: Uint8Array): void {
  if (slotMark === 0 || !inSlot(view)) return;
  const packet = new Uint8Array(slot!, slotStart, slotEnd - slotStart);
  const csumStart = (slotMark - 1) >>> 8;
  const at = csumStart + ((slotMark - 1) & 0xff);
  const c = checksum(packet, csumStart, packet.length);
  packet[at] = c >>> 8;
  packet[at + 1] = c & 0xff;
  slotMark = 0;
}
