/**
 * ARP codec for IPv4 over Ethernet (RFC 826), with the RFC 5227 probe and
 * announcement forms.
 *
 * Only the Ethernet/IPv4 combination is supported: hardware type 1 with
 * 6-byte addresses and protocol type 0x0800 with 4-byte addresses, opcode
 * request (1) or reply (2). `parseArp` never throws; bytes past the 28-byte
 * packet (Ethernet padding) are ignored. `emitArp` writes the 28 bytes into
 * a caller-provided buffer.
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     |     Hardware type (ar$hrd)    |     Protocol type (ar$pro)    |
 *     | ar$hln (6)    | ar$pln (4)    |         Opcode (ar$op)        |
 *     |              Sender hardware address (ar$sha) ...             |
 *     |  ... ar$sha                   | Sender protocol addr (ar$spa) |
 *     |  ... ar$spa                   | Target hardware addr (ar$tha) |
 *     |              ... ar$tha                                       |
 *     |              Target protocol address (ar$tpa)                 |
 *
 * The receiving algorithm of RFC 826 ("Packet Reception") belongs to the
 * neighbour cache; this codec performs its first steps, the checks of
 * ar$hrd, ar$hln, ar$pro and ar$pln, and the opcode check:
 *
 *     ?Do I have the hardware type in ar$hrd?
 *     Yes: (almost definitely)
 *       [optionally check the hardware length ar$hln]
 *       ?Do I speak the protocol in ar$pro?
 *       Yes:
 *         [optionally check the protocol length ar$pln]
 *         Merge_flag := false
 *         If the pair <protocol type, sender protocol address> is
 *             already in my translation table, update the sender
 *             hardware address field of the entry with the new
 *             information in the packet and set Merge_flag to true.
 *         ?Am I the target protocol address?
 *         Yes:
 *           If Merge_flag is false, add the triplet <protocol type,
 *               sender protocol address, sender hardware address> to
 *               the translation table.
 *           ?Is the opcode ares_op$REQUEST?  (NOW look at the opcode!!)
 *           Yes:
 *             Swap hardware and protocol fields, putting the local
 *                 hardware and protocol addresses in the sender fields.
 *             Set the ar$op field to ares_op$REPLY
 *             Send the packet to the (new) target hardware address on
 *                 the same hardware on which the request was received.
 *
 * "Negative conditionals indicate an end of processing and a discarding of
 * the packet." Since this codec knows only opcodes 1 and 2, any other opcode
 * is dropped here ('arp-bad-op') rather than after the merge; `arpReplyTo`
 * implements the swap of the last step.
 */

import { getU16, getU32, setU16, setU32 } from './bytes.ts';
import { buildEthernetFrame, ETHERTYPE_ARP, ETHERTYPE_IPV4, getMac, isMacAddr, MAC_BROADCAST, setMac } from './ethernet.ts';
import type { MacAddr } from './ethernet.ts';
import type { Ipv4Addr, ParseResult } from './types.ts';

/** The ARP packet for Ethernet and IPv4: 8 fixed bytes, 2 × (6 + 4) addresses. */
export const ARP_LEN = 28;
/** ar$hrd for Ethernet (RFC 826: "ares_hrd$Ethernet"). */
export const ARP_HTYPE_ETHERNET = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

export interface ArpRepr {
  op: 'request' | 'reply';
  senderMac: MacAddr;
  senderIp: Ipv4Addr;
  /** Ignored in a request (RFC 826: "ar$tha ... is irrelevant"); usually zero there. */
  targetMac: MacAddr;
  targetIp: Ipv4Addr;
}

/**
 * Parses an ARP packet. Checks, in order: at least 28 bytes
 * ('arp-truncated'); ar$hrd = 1 and ar$hln = 6 ('arp-unsupported-hardware');
 * ar$pro = 0x0800 and ar$pln = 4 ('arp-unsupported-protocol'); ar$op request
 * or reply ('arp-bad-op').
 */
export function parseArp(bytes: Uint8Array): ParseResult<ArpRepr> {
  if (bytes.length < ARP_LEN) return { ok: false, reason: 'arp-truncated' };
  // "?Do I have the hardware type in ar$hrd? ... [optionally check the hardware length ar$hln]"
  if (getU16(bytes, 0) !== ARP_HTYPE_ETHERNET || bytes[4] !== 6) return { ok: false, reason: 'arp-unsupported-hardware' };
  // "?Do I speak the protocol in ar$pro? ... [optionally check the protocol length ar$pln]"
  if (getU16(bytes, 2) !== ETHERTYPE_IPV4 || bytes[5] !== 4) return { ok: false, reason: 'arp-unsupported-protocol' };
  const op = getU16(bytes, 6);
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) return { ok: false, reason: 'arp-bad-op' };
  return {
    ok: true,
    value: {
      op: op === ARP_OP_REQUEST ? 'request' : 'reply',
      senderMac: getMac(bytes, 8),
      senderIp: getU32(bytes, 14),
      targetMac: getMac(bytes, 18),
      targetIp: getU32(bytes, 24),
    },
  };
}

function checkIp(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`ARP ${name} must be an IPv4 address, got ${v}`);
}

/**
 * Writes the 28-byte packet for `repr` at `buf[offset]`. Returns 28. Throws
 * for programmer errors (buffer too small, addresses out of range).
 */
export function emitArp(repr: ArpRepr, buf: Uint8Array, offset: number): number {
  if (offset < 0 || offset + ARP_LEN > buf.length) {
    throw new Error(`emitArp: buffer too small (${buf.length} bytes, ${ARP_LEN} needed at ${offset})`);
  }
  if (!isMacAddr(repr.senderMac) || !isMacAddr(repr.targetMac)) throw new Error('ARP hardware addresses must be 48-bit MACs');
  checkIp('senderIp', repr.senderIp);
  checkIp('targetIp', repr.targetIp);
  setU16(buf, offset, ARP_HTYPE_ETHERNET);
  setU16(buf, offset + 2, ETHERTYPE_IPV4);
  buf[offset + 4] = 6;
  buf[offset + 5] = 4;
  setU16(buf, offset + 6, repr.op === 'request' ? ARP_OP_REQUEST : ARP_OP_REPLY);
  setMac(buf, offset + 8, repr.senderMac);
  setU32(buf, offset + 14, repr.senderIp);
  setMac(buf, offset + 18, repr.targetMac);
  setU32(buf, offset + 24, repr.targetIp);
  return ARP_LEN;
}

/**
 * RFC 826 "Packet Generation": a request for `targetIp` from
 * (`ourMac`, `ourIp`). The target hardware address is zero ("ar$tha ... is
 * irrelevant" in a request); it is broadcast at the Ethernet layer.
 */
export function arpRequest(ourMac: MacAddr, ourIp: Ipv4Addr, targetIp: Ipv4Addr): ArpRepr {
  return { op: 'request', senderMac: ourMac, senderIp: ourIp, targetMac: 0, targetIp };
}

/**
 * The reply to `request` for the address `ourIp` we own. RFC 826: "Swap
 * hardware and protocol fields, putting the local hardware and protocol
 * addresses in the sender fields. Set the ar$op field to ares_op$REPLY".
 * It is sent unicast to the requester's hardware address.
 */
export function arpReplyTo(request: ArpRepr, ourMac: MacAddr): ArpRepr {
  return {
    op: 'reply',
    senderMac: ourMac,
    senderIp: request.targetIp,
    targetMac: request.senderMac,
    targetIp: request.senderIp,
  };
}

/**
 * RFC 5227 §2.1.1: "The client MUST fill in the 'sender hardware address'
 * field of the ARP Request with the hardware address of the interface
 * through which it is sending the packet. The 'sender IP address' field MUST
 * be set to all zeroes; this is to avoid polluting ARP caches in other hosts
 * on the same link in the case where the address turns out to be already in
 * use by another host. The 'target hardware address' field is ignored and
 * SHOULD be set to all zeroes. The 'target IP address' field MUST be set to
 * the address being probed. An ARP Request constructed this way, with an
 * all-zero 'sender IP address', is referred to as an 'ARP Probe'."
 */
export function arpProbe(ourMac: MacAddr, candidate: Ipv4Addr): ArpRepr {
  return { op: 'request', senderMac: ourMac, senderIp: 0, targetMac: 0, targetIp: candidate };
}

/**
 * RFC 5227 §2.3: "An ARP Announcement is identical to the ARP Probe
 * described above, except that now the sender and target IP addresses are
 * both set to the host's newly selected IPv4 address." This is also the
 * "gratuitous ARP" sent when an address is configured.
 */
export function arpAnnounce(ourMac: MacAddr, ourIp: Ipv4Addr): ArpRepr {
  return { op: 'request', senderMac: ourMac, senderIp: ourIp, targetMac: 0, targetIp: ourIp };
}

/** Whether `repr` is an RFC 5227 ARP Probe (a request with an all-zero sender IP address). */
export function isArpProbe(repr: ArpRepr): boolean {
  return repr.op === 'request' && repr.senderIp === 0;
}

/** Whether `repr` is gratuitous: sender and target IP addresses equal and not zero (an Announcement). */
export function isGratuitousArp(repr: ArpRepr): boolean {
  return repr.senderIp !== 0 && repr.senderIp === repr.targetIp;
}

/**
 * A whole Ethernet frame (60 bytes, padded) carrying `repr` from its sender
 * hardware address. The destination is `dst`, by default the broadcast
 * address for requests and the target hardware address for replies.
 */
export function buildArpFrame(repr: ArpRepr, dst?: MacAddr): Uint8Array {
  const body = new Uint8Array(ARP_LEN);
  emitArp(repr, body, 0);
  const to = dst ?? (repr.op === 'request' ? MAC_BROADCAST : repr.targetMac);
  return buildEthernetFrame({ dst: to, src: repr.senderMac, ethertype: ETHERTYPE_ARP, tags: [] }, body);
}
