/**
 * DNS message codec (RFC 1035 §4): header, questions and resource records,
 * with A, AAAA (RFC 3596) and the name-valued CNAME, NS and PTR decoded and
 * everything else (OPT of RFC 6891 included) kept as raw RDATA.
 *
 *     +---------------------+
 *     |        Header       |
 *     +---------------------+
 *     |       Question      | the question for the name server
 *     +---------------------+
 *     |        Answer       | RRs answering the question
 *     +---------------------+
 *     |      Authority      | RRs pointing toward an authority
 *     +---------------------+
 *     |      Additional     | RRs holding additional information
 *     +---------------------+
 *
 * Names are dotted strings without the final dot ('' is the root). A byte
 * that is not a printable ASCII character, and '.' or '\' inside a label,
 * are written as \DDD (decimal) or \. and \\ (the master file escapes of
 * RFC 1035 §5.1), so every name round-trips. Parsing never throws: every
 * read is bounded, a compression pointer may only point before the part of
 * the name that contains it (so a loop is impossible and is a counted
 * drop), and names are limited to 255 octets and labels to 63.
 *
 * A message with TC set may end in the middle of a section: the complete
 * records are kept (RFC 2181 §9 tells the client to retry over TCP anyway).
 */

import { getU16, getU32, setU16, setU32 } from './bytes.ts';
import type { DropReason, Ipv4Addr, ParseResult } from './types.ts';

export const DNS_PORT = 53;
export const DNS_HEADER_LEN = 12;
/** RFC 1035 §2.3.4: "UDP messages    512 octets or less" (without EDNS). */
export const DNS_UDP_MAX_LEN = 512;
/** RFC 1035 §2.3.4: "labels          63 octets or less". */
export const DNS_MAX_LABEL_LEN = 63;
/** RFC 1035 §2.3.4: "names           255 octets or less". */
export const DNS_MAX_NAME_LEN = 255;
/** Compression pointers followed while reading one name: as many as a 255-octet name has labels. */
export const DNS_MAX_POINTER_HOPS = 127;

export const DNS_TYPE_A = 1;
export const DNS_TYPE_NS = 2;
export const DNS_TYPE_CNAME = 5;
export const DNS_TYPE_SOA = 6;
export const DNS_TYPE_PTR = 12;
export const DNS_TYPE_MX = 15;
export const DNS_TYPE_TXT = 16;
export const DNS_TYPE_AAAA = 28;
export const DNS_TYPE_OPT = 41;
export const DNS_TYPE_ANY = 255;
export const DNS_CLASS_IN = 1;

export const DNS_RCODE_NOERROR = 0;
export const DNS_RCODE_FORMERR = 1;
export const DNS_RCODE_SERVFAIL = 2;
export const DNS_RCODE_NXDOMAIN = 3;
export const DNS_RCODE_NOTIMP = 4;
export const DNS_RCODE_REFUSED = 5;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

/** RDATA, decoded for the types this codec knows. */
export type DnsRdata =
  /** Type A (RFC 1035 §3.4.1): one IPv4 address. */
  | { kind: 'a'; address: Ipv4Addr }
  /** Type AAAA (RFC 3596 §2.2): one IPv6 address, 16 bytes in network order. */
  | { kind: 'aaaa'; address: Uint8Array }
  /** CNAME, NS or PTR (RFC 1035 §3.3.1, §3.3.11, §3.3.12): one domain name. */
  | { kind: 'name'; name: string }
  /** Any other type: the RDATA bytes as received (names inside are not expanded). */
  | { kind: 'raw'; data: Uint8Array };

export interface DnsRecord {
  name: string;
  type: number;
  /** The class; for OPT (RFC 6891 §6.1.2) the requestor's UDP payload size. */
  class: number;
  /** Unsigned 32-bit; for OPT the extended RCODE, version and flags. */
  ttl: number;
  data: DnsRdata;
}

export interface DnsMessage {
  id: number;
  /** QR: a response. */
  qr: boolean;
  opcode: number;
  /** AA: authoritative answer. */
  aa: boolean;
  /** TC: truncated. */
  tc: boolean;
  /** RD: recursion desired. */
  rd: boolean;
  /** RA: recursion available. */
  ra: boolean;
  /** The reserved Z bit (RFC 1035: "Must be zero in all queries and responses"), kept as received. */
  z: boolean;
  /** AD: authentic data (RFC 4035 §3.2.3). */
  ad: boolean;
  /** CD: checking disabled (RFC 4035 §3.2.2). */
  cd: boolean;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

// ---------------------------------------------------------------------------
// Names

/** A label as text: printable ASCII as is, '.' and '\' escaped, the rest as \DDD. */
function labelText(bytes: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = at; i < at + len; i++) {
    const c = bytes[i]!;
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s;
}

/**
 * Pointer hops left for the whole message. The per-name cap alone still
 * lets 5 000 records each name the end of a 127-hop chain (640 000 hops in
 * a 64 KiB message); a budget of one hop per byte of message keeps parsing
 * linear in the message length. An honest message uses a hop or two per
 * name, and every name takes at least two bytes.
 */
interface HopBudget {
  left: number;
}

type NameResult = { ok: true; name: string; next: number } | { ok: false; reason: 'dns-truncated' | 'dns-bad-label' | 'dns-bad-pointer' | 'dns-pointer-loop' | 'dns-name-too-long' };

/**
 * Reads the (possibly compressed) name at `at` in `msg`. `next` is the
 * offset just after the name as it sits at `at` (after its first pointer,
 * if any).
 *
 * RFC 1035 §4.1.4: "In order to reduce the size of messages, the domain
 * system utilizes a compression scheme which eliminates the repetition of
 * domain names in a message. In this scheme, an entire domain name or a list
 * of labels at the end of a domain name is replaced with a pointer to a
 * prior occurance of the same name." ... "The first two bits are ones. This
 * allows a pointer to be distinguished from a label, since the label must
 * begin with two zero bits because labels are restricted to 63 octets or
 * less. (The 10 and 01 combinations are reserved for future use.) The OFFSET
 * field specifies an offset from the start of the message".
 *
 * A pointer must point strictly before the start of the run of labels that
 * holds it: a "prior occurrence". Any other target would read the pointer
 * again, so it is a loop ('dns-pointer-loop'); since every jump goes to a
 * smaller offset the walk always ends, and it is cut short after 127 hops
 * ('dns-bad-pointer') so that its cost is bounded per name, not per message.
 */
function readName(msg: Uint8Array, at: number, budget: HopBudget): NameResult {
  const labels: string[] = [];
  // Octets of the name on the wire, uncompressed: the length octets, the labels and the final zero.
  let wireLen = 1;
  let pos = at;
  let runStart = at;
  let next = -1;
  let hops = 0;
  for (;;) {
    if (pos >= msg.length) return { ok: false, reason: 'dns-truncated' };
    const len = msg[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const top = len & 0xc0;
    if (top === 0xc0) {
      if (pos + 2 > msg.length) return { ok: false, reason: 'dns-truncated' };
      const target = getU16(msg, pos) & 0x3fff;
      if (next < 0) next = pos + 2;
      if (target >= msg.length) return { ok: false, reason: 'dns-bad-pointer' };
      if (target >= runStart) return { ok: false, reason: 'dns-pointer-loop' };
      // A chain of pointers to pointers terminates but costs a step per hop,
      // and every record may name its end: a 64 KiB TCP message could make
      // the parser walk a 30 000-hop chain for each of 5 000 records. A
      // 255-octet name has at most 127 labels, so a real name never needs
      // more hops than that.
      if (++hops > DNS_MAX_POINTER_HOPS || --budget.left < 0) return { ok: false, reason: 'dns-bad-pointer' };
      pos = target;
      runStart = target;
      continue;
    }
    // "(The 10 and 01 combinations are reserved for future use.)"
    if (top !== 0) return { ok: false, reason: 'dns-bad-label' };
    if (pos + 1 + len > msg.length) return { ok: false, reason: 'dns-truncated' };
    // RFC 1035 §2.3.4: "names 255 octets or less" (counting the length octets).
    wireLen += 1 + len;
    if (wireLen > DNS_MAX_NAME_LEN) return { ok: false, reason: 'dns-name-too-long' };
    labels.push(labelText(msg, pos + 1, len));
    pos += 1 + len;
  }
  return { ok: true, name: labels.join('.'), next };
}

/**
 * Splits a dotted name into label byte strings, undoing the escapes. Throws
 * for names that cannot be encoded: an empty label, a label over 63 octets,
 * a name over 255 octets, a bad escape or a character above 0xff.
 */
export function dnsNameLabels(name: string): Uint8Array[] {
  if (name === '' || name === '.') return [];
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let total = 1;
  const finish = (): void => {
    if (cur.length === 0) throw new Error(`DNS name has an empty label: ${JSON.stringify(name)}`);
    if (cur.length > DNS_MAX_LABEL_LEN) throw new Error(`DNS label longer than 63 octets in ${JSON.stringify(name)}`);
    total += 1 + cur.length;
    labels.push(Uint8Array.from(cur));
    cur = [];
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x2e) {
      finish();
    } else if (ch === 0x5c) {
      const d = /^[0-9]{3}/.exec(text.slice(i + 1, i + 4));
      if (d !== null) {
        const v = Number(d[0]);
        if (v > 255) throw new Error(`DNS escape \\${d[0]} is above 255 in ${JSON.stringify(name)}`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(++i));
      } else {
        throw new Error(`DNS name ends in a lone backslash: ${JSON.stringify(name)}`);
      }
    } else {
      if (ch > 0xff) throw new Error(`DNS name character above 0xff in ${JSON.stringify(name)}`);
      cur.push(ch);
    }
  }
  finish();
  if (total > DNS_MAX_NAME_LEN) throw new Error(`DNS name longer than 255 octets: ${JSON.stringify(name)}`);
  return labels;
}

/** Lower-cases ASCII letters only (RFC 4343: DNS names compare case-insensitively in ASCII). */
export function dnsNameKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

// ---------------------------------------------------------------------------
// Parsing

type Section = { ok: true; records: DnsRecord[]; at: number; short: boolean } | { ok: false; reason: DropReason };

function readRecords(msg: Uint8Array, at: number, count: number, tolerateShort: boolean, budget: HopBudget): Section {
  const records: DnsRecord[] = [];
  for (let i = 0; i < count; i++) {
    if (at >= msg.length && tolerateShort) return { ok: true, records, at, short: true };
    const n = readName(msg, at, budget);
    if (!n.ok) {
      if (tolerateShort && n.reason === 'dns-truncated') return { ok: true, records, at, short: true };
      return n;
    }
    at = n.next;
    // RFC 1035 §4.1.3: TYPE (2), CLASS (2), TTL (4), RDLENGTH (2), then RDATA.
    if (at + 10 > msg.length || at + 10 + getU16(msg, at + 8) > msg.length) {
      if (tolerateShort) return { ok: true, records, at, short: true };
      return { ok: false, reason: 'dns-truncated' };
    }
    const type = getU16(msg, at);
    const cls = getU16(msg, at + 2);
    const ttl = getU32(msg, at + 4);
    const rdlen = getU16(msg, at + 8);
    const rd = at + 10;
    let data: DnsRdata;
    if (type === DNS_TYPE_A && cls === DNS_CLASS_IN) {
      // RFC 1035 §3.4.1: "ADDRESS A 32 bit Internet address."
      if (rdlen !== 4) return { ok: false, reason: 'dns-bad-rdata' };
      data = { kind: 'a', address: getU32(msg, rd) };
    } else if (type === DNS_TYPE_AAAA && cls === DNS_CLASS_IN) {
      // RFC 3596 §2.2: "A 128 bit IPv6 address is encoded in the data portion
      // of an AAAA resource record in network byte order (high-order byte
      // first)."
      if (rdlen !== 16) return { ok: false, reason: 'dns-bad-rdata' };
      data = { kind: 'aaaa', address: msg.slice(rd, rd + 16) };
    } else if (type === DNS_TYPE_CNAME || type === DNS_TYPE_NS || type === DNS_TYPE_PTR) {
      // RFC 1035 §3.3.1: "CNAME A <domain-name> which specifies the canonical
      // or primary name for the owner." The name may be compressed; it must
      // end exactly at the end of the RDATA.
      const target = readName(msg.subarray(0, rd + rdlen), rd, budget);
      if (!target.ok) return target.reason === 'dns-truncated' ? { ok: false, reason: 'dns-bad-rdata' } : target;
      if (target.next !== rd + rdlen) return { ok: false, reason: 'dns-bad-rdata' };
      data = { kind: 'name', name: target.name };
    } else {
      data = { kind: 'raw', data: msg.slice(rd, rd + rdlen) };
    }
    records.push({ name: n.name, type, class: cls, ttl, data });
    at = rd + rdlen;
  }
  return { ok: true, records, at, short: false };
}

/**
 * Parses a DNS message (a UDP payload, or a TCP message without its length
 * prefix). Checks: a 12-byte header and every question and record inside
 * the message ('dns-truncated', tolerated at the end of a TC message);
 * labels ('dns-bad-label'); pointers inside the message
 * ('dns-bad-pointer') and pointing backwards ('dns-pointer-loop'); names of
 * at most 255 octets ('dns-name-too-long'); A/AAAA/CNAME/NS/PTR RDATA of the
 * right form ('dns-bad-rdata'). Bytes after the last record are ignored.
 */
export function parseDns(msg: Uint8Array): ParseResult<DnsMessage> {
  if (msg.length < DNS_HEADER_LEN) return { ok: false, reason: 'dns-truncated' };
  // RFC 1035 §4.1.1: the header holds ID, QR, Opcode, AA, TC, RD, RA, Z,
  // RCODE and the four section counts.
  const flags = getU16(msg, 2);
  const tc = (flags & 0x0200) !== 0;
  const qdcount = getU16(msg, 4);
  const counts = [getU16(msg, 6), getU16(msg, 8), getU16(msg, 10)];
  const questions: DnsQuestion[] = [];
  let at = DNS_HEADER_LEN;
  let short = false;
  const budget: HopBudget = { left: msg.length };
  for (let i = 0; i < qdcount; i++) {
    const n = readName(msg, at, budget);
    const reason = !n.ok ? n.reason : n.next + 4 > msg.length ? 'dns-truncated' : null;
    if (reason !== null) {
      if (tc && reason === 'dns-truncated') {
        short = true;
        break;
      }
      return { ok: false, reason };
    }
    if (!n.ok) return n;
    // RFC 1035 §4.1.2: QNAME, then QTYPE and QCLASS, two octets each.
    questions.push({ name: n.name, type: getU16(msg, n.next), class: getU16(msg, n.next + 2) });
    at = n.next + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  for (let s = 0; s < 3 && !short; s++) {
    const r = readRecords(msg, at, counts[s]!, tc, budget);
    if (!r.ok) return r;
    sections[s] = r.records;
    at = r.at;
    short = r.short;
  }
  return {
    ok: true,
    value: {
      id: getU16(msg, 0),
      qr: (flags & 0x8000) !== 0,
      opcode: (flags >>> 11) & 0x0f,
      aa: (flags & 0x0400) !== 0,
      tc,
      rd: (flags & 0x0100) !== 0,
      ra: (flags & 0x0080) !== 0,
      z: (flags & 0x0040) !== 0,
      ad: (flags & 0x0020) !== 0,
      cd: (flags & 0x0010) !== 0,
      rcode: flags & 0x0f,
      questions,
      answers: sections[0]!,
      authorities: sections[1]!,
      additionals: sections[2]!,
    },
  };
}

/** The EDNS(0) parameters of the OPT record in the additional section, if any (RFC 6891 §6.1.3). */
export interface DnsEdns {
  /** "CLASS: requestor's UDP payload size". */
  udpPayloadSize: number;
  /** The upper 8 bits of the 12-bit RCODE. */
  extendedRcode: number;
  version: number;
  /** DO: DNSSEC answer OK (RFC 3225). */
  dnssecOk: boolean;
  /** The options, raw. */
  options: Uint8Array;
}

/** The OPT pseudo-record of `msg` decoded (RFC 6891 §6.1.2, §6.1.3), or null when there is none. */
export function dnsEdns(msg: DnsMessage): DnsEdns | null {
  for (const r of msg.additionals) {
    if (r.type !== DNS_TYPE_OPT) continue;
    return {
      udpPayloadSize: r.class,
      extendedRcode: r.ttl >>> 24,
      version: (r.ttl >>> 16) & 0xff,
      dnssecOk: (r.ttl & 0x8000) !== 0,
      options: r.data.kind === 'raw' ? r.data.data : new Uint8Array(0),
    };
  }
  return null;
}

// ---------------------------------------------------------------------------
// Emission

/** Writes names, remembering suffixes for compression. */
class NameWriter {
  /**
   * Suffix → offset in the message of its first occurrence. Matching is
   * exact, not case-insensitive: a pointer then never changes the case of a
   * name, which resolvers that randomise the case of their questions
   * (draft-vixie-dnsext-dns0x20) and this codec's round trip rely on.
   */
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly buf: Uint8Array | null,
    private readonly base: number,
    private readonly compress: boolean,
  ) {}

  /** Writes `name` at message offset `at` (bytes only when there is a buffer); returns the next offset. */
  write(name: string, at: number): number {
    const labels = dnsNameLabels(name);
    for (let i = 0; i < labels.length; i++) {
      if (this.compress) {
        const key = suffixKey(labels, i);
        const prior = this.seen.get(key);
        if (prior !== undefined) {
          if (this.buf) setU16(this.buf, this.base + at, 0xc000 | prior);
          return at + 2;
        }
        // OFFSET has 14 bits: only the first 16 KiB can be pointed at.
        if (at < 0x4000) this.seen.set(key, at);
      }
      const l = labels[i]!;
      if (this.buf) {
        this.buf[this.base + at] = l.length;
        this.buf.set(l, this.base + at + 1);
      }
      at += 1 + l.length;
    }
    if (this.buf) this.buf[this.base + at] = 0;
    return at + 1;
  }
}

function suffixKey(labels: Uint8Array[], from: number): string {
  let k = '';
  for (let i = from; i < labels.length; i++) {
    for (const c of labels[i]!) k += String.fromCharCode(c);
    k += '\u0100';
  }
  return k;
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`DNS ${name} must be an integer in 0..${max}, got ${value}`);
  }
}

/** Writes (or only measures, when `buf` is null) the message; returns its length. */
function write(m: DnsMessage, buf: Uint8Array | null, base: number, compress: boolean): number {
  checkField('id', m.id, 0xffff);
  checkField('opcode', m.opcode, 0x0f);
  checkField('rcode', m.rcode, 0x0f);
  for (const [name, list] of [['questions', m.questions], ['answers', m.answers], ['authorities', m.authorities], ['additionals', m.additionals]] as const) {
    if (list.length > 0xffff) throw new Error(`DNS ${name}: at most 65535, got ${list.length}`);
  }
  const names = new NameWriter(buf, base, compress);
  if (buf) {
    setU16(buf, base, m.id);
    const flags =
      (m.qr ? 0x8000 : 0) | (m.opcode << 11) | (m.aa ? 0x0400 : 0) | (m.tc ? 0x0200 : 0) | (m.rd ? 0x0100 : 0) |
      (m.ra ? 0x0080 : 0) | (m.z ? 0x0040 : 0) | (m.ad ? 0x0020 : 0) | (m.cd ? 0x0010 : 0) | m.rcode;
    setU16(buf, base + 2, flags);
    setU16(buf, base + 4, m.questions.length);
    setU16(buf, base + 6, m.answers.length);
    setU16(buf, base + 8, m.authorities.length);
    setU16(buf, base + 10, m.additionals.length);
  }
  let at = DNS_HEADER_LEN;
  for (const q of m.questions) {
    checkField('question type', q.type, 0xffff);
    checkField('question class', q.class, 0xffff);
    at = names.write(q.name, at);
    if (buf) {
      setU16(buf, base + at, q.type);
      setU16(buf, base + at + 2, q.class);
    }
    at += 4;
  }
  for (const r of [...m.answers, ...m.authorities, ...m.additionals]) {
    checkField('record type', r.type, 0xffff);
    checkField('record class', r.class, 0xffff);
    checkField('record ttl', r.ttl, 0xffffffff);
    at = names.write(r.name, at);
    const rd = at + 10;
    let end: number;
    switch (r.data.kind) {
      case 'a':
        checkField('A address', r.data.address, 0xffffffff);
        if (buf) setU32(buf, base + rd, r.data.address);
        end = rd + 4;
        break;
      case 'aaaa':
        if (r.data.address.length !== 16) throw new Error('DNS AAAA address must have 16 bytes');
        if (buf) buf.set(r.data.address, base + rd);
        end = rd + 16;
        break;
      case 'name':
        end = names.write(r.data.name, rd);
        break;
      case 'raw':
        if (r.data.data.length > 0xffff) throw new Error('DNS RDATA longer than 65535 bytes');
        if (buf) buf.set(r.data.data, base + rd);
        end = rd + r.data.data.length;
        break;
    }
    if (buf) {
      setU16(buf, base + at, r.type);
      setU16(buf, base + at + 2, r.class);
      setU32(buf, base + at + 4, r.ttl);
      setU16(buf, base + at + 8, end - rd);
    }
    at = end;
  }
  return at;
}

/** The length `emitDns(m, …, compress)` writes. */
export function dnsMessageLen(m: DnsMessage, compress = true): number {
  return write(m, null, 0, compress);
}

/**
 * Writes `m` at `buf[offset]`, compressing names (RFC 1035 §4.1.4) unless
 * `compress` is false. Returns the number of bytes written. Throws for
 * programmer errors: a buffer too small, a name or label too long, an empty
 * label, a field out of range.
 */
export function emitDns(m: DnsMessage, buf: Uint8Array, offset: number, compress = true): number {
  const len = dnsMessageLen(m, compress);
  if (offset < 0 || offset + len > buf.length) {
    throw new Error(`emitDns: buffer too small (${buf.length} bytes, ${len} needed at ${offset})`);
  }
  return write(m, buf, offset, compress);
}

/** Allocates and returns the encoded message. */
export function buildDns(m: DnsMessage, compress = true): Uint8Array {
  const buf = new Uint8Array(dnsMessageLen(m, compress));
  write(m, buf, 0, compress);
  return buf;
}

/** A standard query for `name` (RD set, one question, class IN). */
export function dnsQuery(id: number, name: string, type: number): DnsMessage {
  return {
    id, qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, z: false, ad: false, cd: false, rcode: 0,
    questions: [{ name, type, class: DNS_CLASS_IN }],
    answers: [], authorities: [], additionals: [],
  };
}
