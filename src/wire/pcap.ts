/**
 * pcap file bytes (the classic libpcap format, draft-ietf-opsawg-pcap).
 *
 * Writing: `pcapGlobalHeader()` then one `pcapRecord()` per packet, with
 * LINKTYPE_RAW (101: each record is an IPv4 packet), little-endian,
 * microsecond timestamps. File I/O lives outside `wire/`.
 *
 * Reading: `parsePcap()` accepts both byte orders, microsecond and
 * nanosecond files, and the link types raw (101), IPv4 (228), Ethernet (1),
 * Linux cooked SLL (113) and SLL2 (276). Link headers are stripped; frames
 * that carry neither IPv4 nor IPv6 (ARP, LLDP…) are skipped and counted. It never throws: a
 * malformed file is `{ ok: false, error }`, and a file cut short in its last
 * record (a capture that was interrupted) keeps the complete records and
 * sets `truncated`.
 */

import { getU16, getU16le, getU32, getU32le, setU16le, setU32le } from './bytes.ts';

export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
export const PCAP_GLOBAL_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Records larger than this are taken as a corrupt file (libpcap's own limit is 256 KiB). */
const MAX_RECORD_LEN = 0x40000;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;

/**
 * RFC 894: "The type field of the Ethernet header contains the value
 * hexadecimal 0800" for IPv4; RFC 2464 §3: "The Ethernet Type code for
 * IPv6 is 86DD hexadecimal" — the two EtherTypes whose payload is an IP
 * packet. (The packet's own version nibble tells the readers which.)
 */
function isIpEthertype(type: number): boolean {
  return type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6;
}

/** The 24-byte file header: magic 0xa1b2c3d4 (little-endian), version 2.4, zone 0. */
export function pcapGlobalHeader(snaplen = 65535, linkType = LINKTYPE_RAW): Uint8Array {
  const h = new Uint8Array(PCAP_GLOBAL_HEADER_LEN);
  setU32le(h, 0, PCAP_MAGIC_MICROS);
  setU16le(h, 4, 2);
  setU16le(h, 6, 4);
  setU32le(h, 8, 0); // thiszone
  setU32le(h, 12, 0); // sigfigs
  setU32le(h, 16, snaplen);
  setU32le(h, 20, linkType);
  return h;
}

/**
 * One record: a 16-byte header (seconds, microseconds, captured and
 * original length) followed by a copy of `packet`. `tsMicros` is a
 * non-negative time in microseconds (fractions are dropped).
 */
export function pcapRecord(tsMicros: number, packet: Uint8Array): Uint8Array {
  if (!(tsMicros >= 0) || !Number.isFinite(tsMicros)) throw new Error(`pcapRecord: bad timestamp ${tsMicros}`);
  const us = Math.floor(tsMicros);
  const sec = Math.floor(us / 1e6);
  if (sec > 0xffffffff) throw new Error(`pcapRecord: timestamp ${tsMicros} µs does not fit in 32-bit seconds`);
  const r = new Uint8Array(PCAP_RECORD_HEADER_LEN + packet.length);
  setU32le(r, 0, sec);
  setU32le(r, 4, us - sec * 1e6);
  setU32le(r, 8, packet.length);
  setU32le(r, 12, packet.length);
  r.set(packet, PCAP_RECORD_HEADER_LEN);
  return r;
}

export interface PcapParsedRecord {
  /** Capture time in microseconds (nanosecond files are truncated to µs). */
  tsMicros: number;
  /** The network-layer packet (link header stripped): a view of the input. */
  data: Uint8Array;
  /** The original length of the frame on the wire, link header included. */
  origLen: number;
}

export type PcapParseResult =
  | {
      ok: true;
      linkType: number;
      snaplen: number;
      /** Whether timestamps had nanosecond resolution in the file. */
      nanos: boolean;
      records: PcapParsedRecord[];
      /** Frames skipped because they carry neither IPv4 nor IPv6 (ARP, LLDP…). */
      skipped: number;
      /** The file ended in the middle of a record; the complete records are kept. */
      truncated: boolean;
    }
  | { ok: false; error: string };

/** Strips the link header; null when the frame carries no IP packet (IPv4 or IPv6). */
function stripLink(linkType: number, frame: Uint8Array): Uint8Array | null {
  switch (linkType) {
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
      return frame;
    case LINKTYPE_ETHERNET: {
      if (frame.length < 14) return null;
      const type = getU16(frame, 12);
      if (isIpEthertype(type)) return frame.subarray(14);
      if (type === ETHERTYPE_VLAN && frame.length >= 18 && isIpEthertype(getU16(frame, 16))) {
        return frame.subarray(18);
      }
      return null;
    }
    case LINKTYPE_LINUX_SLL:
      if (frame.length < 16 || !isIpEthertype(getU16(frame, 14))) return null;
      return frame.subarray(16);
    case LINKTYPE_LINUX_SLL2:
      if (frame.length < 20 || !isIpEthertype(getU16(frame, 0))) return null;
      return frame.subarray(20);
    default:
      return null;
  }
}

/** Parses a whole pcap file held in memory. Never throws. */
export function parsePcap(bytes: Uint8Array): PcapParseResult {
  if (bytes.length < PCAP_GLOBAL_HEADER_LEN) return { ok: false, error: 'file shorter than the pcap header' };
  let u32: (b: Uint8Array, o: number) => number;
  let nanos: boolean;
  const magicLe = getU32le(bytes, 0);
  const magicBe = getU32(bytes, 0);
  if (magicLe === PCAP_MAGIC_MICROS || magicLe === PCAP_MAGIC_NANOS) {
    u32 = getU32le;
    nanos = magicLe === PCAP_MAGIC_NANOS;
  } else if (magicBe === PCAP_MAGIC_MICROS || magicBe === PCAP_MAGIC_NANOS) {
    u32 = getU32;
    nanos = magicBe === PCAP_MAGIC_NANOS;
  } else if (magicBe === 0x0a0d0d0a) {
    return { ok: false, error: 'pcapng files are not supported (convert with editcap -F pcap)' };
  } else {
    return { ok: false, error: `not a pcap file (magic 0x${magicBe.toString(16).padStart(8, '0')})` };
  }
  const versionMajor = u32 === getU32 ? getU16(bytes, 4) : getU16le(bytes, 4);
  if (versionMajor !== 2) return { ok: false, error: `unsupported pcap version ${versionMajor}` };
  const snaplen = u32(bytes, 16);
  // The low 16 bits are the link type; the upper bits carry FCS information.
  const linkType = u32(bytes, 20) & 0xffff;
  if (
    linkType !== LINKTYPE_RAW &&
    linkType !== LINKTYPE_IPV4 &&
    linkType !== LINKTYPE_ETHERNET &&
    linkType !== LINKTYPE_LINUX_SLL &&
    linkType !== LINKTYPE_LINUX_SLL2
  ) {
    return { ok: false, error: `unsupported link type ${linkType}` };
  }
  const records: PcapParsedRecord[] = [];
  let skipped = 0;
  let truncated = false;
  let at = PCAP_GLOBAL_HEADER_LEN;
  while (at < bytes.length) {
    if (at + PCAP_RECORD_HEADER_LEN > bytes.length) {
      truncated = true;
      break;
    }
    const sec = u32(bytes, at);
    const frac = u32(bytes, at + 4);
    const inclLen = u32(bytes, at + 8);
    const origLen = u32(bytes, at + 12);
    if (inclLen > MAX_RECORD_LEN) {
      return { ok: false, error: `record at byte ${at} claims ${inclLen} bytes, more than ${MAX_RECORD_LEN}` };
    }
    const start = at + PCAP_RECORD_HEADER_LEN;
    if (start + inclLen > bytes.length) {
      truncated = true;
      break;
    }
    const data = stripLink(linkType, bytes.subarray(start, start + inclLen));
    if (data === null) skipped++;
    else records.push({ tsMicros: sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac), data, origLen });
    at = start + inclLen;
  }
  return { ok: true, linkType, snaplen, nanos, records, skipped, truncated };
}
