/**
 * DHCPv4 message codec (RFC 2131 §2, options from RFC 2132, split options
 * from RFC 3396).
 *
 *      0                   1                   2                   3
 *      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
 *     |                            xid (4)                            |
 *     |           secs (2)            |           flags (2)           |
 *     |                          ciaddr  (4)                          |
 *     |                          yiaddr  (4)                          |
 *     |                          siaddr  (4)                          |
 *     |                          giaddr  (4)                          |
 *     |                          chaddr  (16)                         |
 *     |                          sname   (64)                         |
 *     |                          file    (128)                        |
 *     |                          options (variable)                   |
 *
 * `parseDhcp` never throws and checks every length before reading: a
 * message shorter than the fixed part and the magic cookie, an option whose
 * length runs past its field, or a known option with an impossible length
 * is a counted drop. Multiple instances of an option are concatenated
 * (RFC 3396); the option overload option (52) is honoured by reading options
 * from 'file' and then 'sname'. Options this codec does not interpret are
 * kept as raw bytes and emitted back unchanged.
 *
 * `emitDhcp` writes the message into a caller-provided buffer: the options
 * in the given order (a value over 255 bytes split into several instances),
 * the End option, and zero padding up to the 300-byte BOOTP size. It never
 * overloads 'sname' or 'file'.
 */

import { getU16, getU32, setU16, setU32 } from './bytes.ts';
import type { MacAddr } from './ethernet.ts';
import { getMac } from './ethernet.ts';
import type { Ipv4Addr, ParseResult } from './types.ts';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;

/** Offset of the options field: the 236-byte fixed part. */
const OPTIONS_AT = 236;
/** The fixed part and the magic cookie. */
export const DHCP_MIN_LEN = 240;
/**
 * BOOTP (RFC 951) has a 64-byte 'vend' field, so a 300-byte message; relay
 * agents and old clients still expect at least that, and dnsmasq and ISC
 * dhclient pad to it. Emission pads with pad options (zeros) up to here.
 */
export const DHCP_BOOTP_MIN_LEN = 300;
/** RFC 2131 §3: the magic cookie 99.130.83.99. */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** The broadcast bit of the flags field (RFC 2131 §2, Figure 2). */
export const DHCP_FLAG_BROADCAST = 0x8000;

const SNAME_AT = 44;
const SNAME_LEN = 64;
const FILE_AT = 108;
const FILE_LEN = 128;

/** DHCP message types (RFC 2132 §9.6, option 53). */
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

/** Option codes (RFC 2132). */
export const DHCP_OPT_PAD = 0;
export const DHCP_OPT_SUBNET_MASK = 1;
export const DHCP_OPT_ROUTER = 3;
export const DHCP_OPT_DNS = 6;
export const DHCP_OPT_HOSTNAME = 12;
export const DHCP_OPT_DOMAIN_NAME = 15;
export const DHCP_OPT_MTU = 26;
export const DHCP_OPT_REQUESTED_IP = 50;
export const DHCP_OPT_LEASE_TIME = 51;
export const DHCP_OPT_OVERLOAD = 52;
export const DHCP_OPT_MESSAGE_TYPE = 53;
export const DHCP_OPT_SERVER_ID = 54;
export const DHCP_OPT_PARAMETER_LIST = 55;
export const DHCP_OPT_RENEWAL_TIME = 58;
export const DHCP_OPT_REBINDING_TIME = 59;
export const DHCP_OPT_CLIENT_ID = 61;
export const DHCP_OPT_END = 255;

/** One option, interpreted when this codec knows it. */
export type DhcpOption =
  /** RFC 2132 §3.3, code 1. */
  | { kind: 'subnet-mask'; mask: Ipv4Addr }
  /** RFC 2132 §3.5, code 3: routers in order of preference. */
  | { kind: 'router'; addrs: Ipv4Addr[] }
  /** RFC 2132 §3.8, code 6: domain name servers in order of preference. */
  | { kind: 'dns-servers'; addrs: Ipv4Addr[] }
  /** RFC 2132 §3.14, code 12 (bytes as latin1 characters, so any value round-trips). */
  | { kind: 'hostname'; name: string }
  /** RFC 2132 §3.17, code 15 (latin1, as for the host name). */
  | { kind: 'domain-name'; name: string }
  /** RFC 2132 §5.1, code 26: the interface MTU. */
  | { kind: 'mtu'; mtu: number }
  /** RFC 2132 §9.1, code 50. */
  | { kind: 'requested-ip'; addr: Ipv4Addr }
  /** RFC 2132 §9.2, code 51: seconds (0xffffffff is infinity). */
  | { kind: 'lease-time'; seconds: number }
  /** RFC 2132 §9.6, code 53: DHCPDISCOVER (1) … DHCPINFORM (8), or a later type. */
  | { kind: 'message-type'; type: number }
  /** RFC 2132 §9.7, code 54. */
  | { kind: 'server-id'; addr: Ipv4Addr }
  /** RFC 2132 §9.8, code 55: the option codes the client asks for. */
  | { kind: 'parameter-request-list'; codes: number[] }
  /** RFC 2132 §9.11, code 58: T1 in seconds. */
  | { kind: 'renewal-time'; seconds: number }
  /** RFC 2132 §9.12, code 59: T2 in seconds. */
  | { kind: 'rebinding-time'; seconds: number }
  /** RFC 2132 §9.14, code 61: the type octet followed by the identifier. */
  | { kind: 'client-id'; data: Uint8Array }
  /** Any other code: its value as received (instances concatenated). */
  | { kind: 'unknown'; code: number; data: Uint8Array };

export interface DhcpMessage {
  /** BOOTREQUEST (1) or BOOTREPLY (2). */
  op: number;
  /** Hardware address type (1 = Ethernet). */
  htype: number;
  hops: number;
  xid: number;
  secs: number;
  /** The whole flags field; bit 15 is broadcast (DHCP_FLAG_BROADCAST). */
  flags: number;
  ciaddr: Ipv4Addr;
  yiaddr: Ipv4Addr;
  siaddr: Ipv4Addr;
  giaddr: Ipv4Addr;
  /** The client hardware address: hlen bytes (0..16). */
  chaddr: Uint8Array;
  /** Server host name, up to the first NUL (latin1); '' when the field holds options. */
  sname: string;
  /** Boot file name, up to the first NUL (latin1); '' when the field holds options. */
  file: string;
  /** Options in order of first appearance; pad, end and overload (52) are not listed. */
  options: DhcpOption[];
}

/** The code of an option. */
export function dhcpOptionCode(o: DhcpOption): number {
  switch (o.kind) {
    case 'subnet-mask': return DHCP_OPT_SUBNET_MASK;
    case 'router': return DHCP_OPT_ROUTER;
    case 'dns-servers': return DHCP_OPT_DNS;
    case 'hostname': return DHCP_OPT_HOSTNAME;
    case 'domain-name': return DHCP_OPT_DOMAIN_NAME;
    case 'mtu': return DHCP_OPT_MTU;
    case 'requested-ip': return DHCP_OPT_REQUESTED_IP;
    case 'lease-time': return DHCP_OPT_LEASE_TIME;
    case 'message-type': return DHCP_OPT_MESSAGE_TYPE;
    case 'server-id': return DHCP_OPT_SERVER_ID;
    case 'parameter-request-list': return DHCP_OPT_PARAMETER_LIST;
    case 'renewal-time': return DHCP_OPT_RENEWAL_TIME;
    case 'rebinding-time': return DHCP_OPT_REBINDING_TIME;
    case 'client-id': return DHCP_OPT_CLIENT_ID;
    case 'unknown': return o.code;
  }
}

/** The first option of kind `kind`, if any. */
export function findDhcpOption<K extends DhcpOption['kind']>(
  msg: DhcpMessage,
  kind: K,
): Extract<DhcpOption, { kind: K }> | undefined {
  for (const o of msg.options) if (o.kind === kind) return o as Extract<DhcpOption, { kind: K }>;
  return undefined;
}

/** The message type (option 53); parsed messages always have one. */
export function dhcpMessageType(msg: DhcpMessage): number | undefined {
  return findDhcpOption(msg, 'message-type')?.type;
}

/** The client's MAC address when chaddr is an Ethernet address (htype 1, 6 bytes), else null. */
export function dhcpClientMac(msg: DhcpMessage): MacAddr | null {
  return msg.htype === 1 && msg.chaddr.length === 6 ? getMac(msg.chaddr, 0) : null;
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** A NUL-terminated string field (the whole field when it has no NUL). */
function cString(bytes: Uint8Array, at: number, len: number): string {
  let end = at;
  while (end < at + len && bytes[end] !== 0) end++;
  return latin1(bytes.subarray(at, end));
}

/** Option values by code, each the concatenation of all its instances, in order of first appearance. */
type Collected = Map<number, Uint8Array[]>;

/**
 * Reads the options in `bytes[start..end)` into `out`. Returns false for an
 * option whose length octet or value runs past `end`.
 *
 * RFC 2132 §2: "All other options are variable-length with a length octet
 * following the tag octet. The value of the length octet does not include
 * the two octets specifying the tag and length." §3.1: "The code for the pad
 * option is 0, and its length is 1 octet." §3.2: "The end option marks the
 * end of valid information in the vendor field. Subsequent octets should be
 * filled with pad options." A field without an End option ends at its last
 * byte.
 */
function collect(bytes: Uint8Array, start: number, end: number, out: Collected): boolean {
  let i = start;
  while (i < end) {
    const code = bytes[i]!;
    if (code === DHCP_OPT_PAD) {
      i++;
      continue;
    }
    if (code === DHCP_OPT_END) return true;
    if (i + 2 > end) return false;
    const len = bytes[i + 1]!;
    if (i + 2 + len > end) return false;
    const parts = out.get(code);
    const value = bytes.subarray(i + 2, i + 2 + len);
    if (parts === undefined) out.set(code, [value]);
    else parts.push(value);
    i += 2 + len;
  }
  return true;
}

function joined(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.slice();
  let n = 0;
  for (const p of parts) n += p.length;
  const v = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    v.set(p, at);
    at += p.length;
  }
  return v;
}

function addrList(v: Uint8Array): Ipv4Addr[] {
  const out: Ipv4Addr[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(getU32(v, i));
  return out;
}

/** Interprets one option value; null when its length is impossible for its code. */
function interpret(code: number, v: Uint8Array): DhcpOption | null {
  const n = v.length;
  switch (code) {
    // RFC 2132 §3.3: "The code for the subnet mask option is 1, and its length is 4 octets."
    case DHCP_OPT_SUBNET_MASK:
      return n === 4 ? { kind: 'subnet-mask', mask: getU32(v, 0) } : null;
    // RFC 2132 §3.5/§3.8: "The minimum length for the router option is 4
    // octets, and the length MUST always be a multiple of 4." (the same for
    // the domain name server option)
    case DHCP_OPT_ROUTER:
      return n >= 4 && n % 4 === 0 ? { kind: 'router', addrs: addrList(v) } : null;
    case DHCP_OPT_DNS:
      return n >= 4 && n % 4 === 0 ? { kind: 'dns-servers', addrs: addrList(v) } : null;
    // RFC 2132 §3.14/§3.17: "Its minimum length is 1."
    case DHCP_OPT_HOSTNAME:
      return n >= 1 ? { kind: 'hostname', name: latin1(v) } : null;
    case DHCP_OPT_DOMAIN_NAME:
      return n >= 1 ? { kind: 'domain-name', name: latin1(v) } : null;
    // RFC 2132 §5.1: "The minimum legal value for the MTU is 68. The code for
    // this option is 26, and its length is 2."
    case DHCP_OPT_MTU:
      return n === 2 && getU16(v, 0) >= 68 ? { kind: 'mtu', mtu: getU16(v, 0) } : null;
    // RFC 2132 §9.1, §9.2, §9.7, §9.11, §9.12: 4-octet values.
    case DHCP_OPT_REQUESTED_IP:
      return n === 4 ? { kind: 'requested-ip', addr: getU32(v, 0) } : null;
    case DHCP_OPT_LEASE_TIME:
      return n === 4 ? { kind: 'lease-time', seconds: getU32(v, 0) } : null;
    case DHCP_OPT_SERVER_ID:
      return n === 4 ? { kind: 'server-id', addr: getU32(v, 0) } : null;
    case DHCP_OPT_RENEWAL_TIME:
      return n === 4 ? { kind: 'renewal-time', seconds: getU32(v, 0) } : null;
    case DHCP_OPT_REBINDING_TIME:
      return n === 4 ? { kind: 'rebinding-time', seconds: getU32(v, 0) } : null;
    // RFC 2132 §9.6: "The code for this option is 53, and its length is 1."
    case DHCP_OPT_MESSAGE_TYPE:
      return n === 1 ? { kind: 'message-type', type: v[0]! } : null;
    // RFC 2132 §9.8: "Its minimum length is 1."
    case DHCP_OPT_PARAMETER_LIST:
      return n >= 1 ? { kind: 'parameter-request-list', codes: Array.from(v) } : null;
    // RFC 2132 §9.14: "The code for this option is 61, and its minimum length is 2."
    case DHCP_OPT_CLIENT_ID:
      return n >= 2 ? { kind: 'client-id', data: v } : null;
    default:
      return { kind: 'unknown', code, data: v };
  }
}

/**
 * Parses a DHCP message (the UDP payload). Checks, in order: at least 240
 * bytes ('dhcp-truncated'); op BOOTREQUEST or BOOTREPLY ('dhcp-bad-op');
 * hlen ≤ 16 ('dhcp-bad-hlen'); the magic cookie ('dhcp-bad-cookie'); every
 * option inside its field and every known option with a legal length
 * ('dhcp-bad-option'); an overload option of value 1, 2 or 3
 * ('dhcp-bad-overload'); a message type option ('dhcp-no-message-type').
 */
export function parseDhcp(bytes: Uint8Array): ParseResult<DhcpMessage> {
  if (bytes.length < DHCP_MIN_LEN) return { ok: false, reason: 'dhcp-truncated' };
  const op = bytes[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return { ok: false, reason: 'dhcp-bad-op' };
  const hlen = bytes[2]!;
  if (hlen > 16) return { ok: false, reason: 'dhcp-bad-hlen' };
  // RFC 2131 §3: "The first four octets of the 'options' field of the DHCP
  // message contain the (decimal) values 99, 130, 83 and 99, respectively
  // (this is the same magic cookie as is defined in RFC 1497 [17])."
  if (getU32(bytes, OPTIONS_AT) !== DHCP_MAGIC_COOKIE) return { ok: false, reason: 'dhcp-bad-cookie' };
  const found: Collected = new Map();
  if (!collect(bytes, DHCP_MIN_LEN, bytes.length, found)) return { ok: false, reason: 'dhcp-bad-option' };
  let snameIsOptions = false;
  let fileIsOptions = false;
  const overload = found.get(DHCP_OPT_OVERLOAD);
  if (overload !== undefined) {
    // RFC 2132 §9.3 (Option Overload, code 52, length 1): value 1, the
    // 'file' field is used to hold options; 2, the 'sname' field; 3, both.
    const v = joined(overload);
    if (v.length !== 1 || v[0]! < 1 || v[0]! > 3) return { ok: false, reason: 'dhcp-bad-overload' };
    found.delete(DHCP_OPT_OVERLOAD);
    fileIsOptions = (v[0]! & 1) !== 0;
    snameIsOptions = (v[0]! & 2) !== 0;
    // RFC 2131 §4.1: "The 'file' field MUST be interpreted next (if the
    // option overload option indicates that the 'file' field contains DHCP
    // options), followed by the 'sname' field."
    if (fileIsOptions && !collect(bytes, FILE_AT, FILE_AT + FILE_LEN, found)) return { ok: false, reason: 'dhcp-bad-option' };
    if (snameIsOptions && !collect(bytes, SNAME_AT, SNAME_AT + SNAME_LEN, found)) return { ok: false, reason: 'dhcp-bad-option' };
    // An overload option inside 'file' or 'sname' has no meaning there.
    found.delete(DHCP_OPT_OVERLOAD);
  }
  // RFC 3396 (abstract): "When multiple instances of the same option appear
  // in the options, file and/or sname fields in a DHCP packet, the contents
  // of these options are concatenated together to form a single option
  // prior to processing." §1: "DHCP protocol agents MUST use this method
  // whenever they receive a DHCP packet containing more than one occurrence
  // of a certain type of option."
  const options: DhcpOption[] = [];
  for (const [code, parts] of found) {
    const o = interpret(code, joined(parts));
    if (o === null) return { ok: false, reason: 'dhcp-bad-option' };
    options.push(o);
  }
  // RFC 2131 §4.3.1 (Table 3) and §4.4.1 (Table 5) list the 'DHCP message
  // type' option as MUST in every message; RFC 2132 §9.6: "This option is
  // used to convey the type of the DHCP message." Without it this is a BOOTP
  // message, which synack does not serve.
  if (!found.has(DHCP_OPT_MESSAGE_TYPE)) return { ok: false, reason: 'dhcp-no-message-type' };
  return {
    ok: true,
    value: {
      op,
      htype: bytes[1]!,
      hops: bytes[3]!,
      xid: getU32(bytes, 4),
      secs: getU16(bytes, 8),
      flags: getU16(bytes, 10),
      ciaddr: getU32(bytes, 12),
      yiaddr: getU32(bytes, 16),
      siaddr: getU32(bytes, 20),
      giaddr: getU32(bytes, 24),
      chaddr: bytes.slice(28, 28 + hlen),
      sname: snameIsOptions ? '' : cString(bytes, SNAME_AT, SNAME_LEN),
      file: fileIsOptions ? '' : cString(bytes, FILE_AT, FILE_LEN),
      options,
    },
  };
}

function latin1Bytes(what: string, s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error(`DHCP ${what} must be latin1 text (one byte per character): ${JSON.stringify(s)}`);
    b[i] = c;
  }
  return b;
}

function u32Value(v: number, what: string): Uint8Array {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`DHCP ${what} must be a 32-bit unsigned integer, got ${v}`);
  const b = new Uint8Array(4);
  setU32(b, 0, v);
  return b;
}

function addrsValue(addrs: Ipv4Addr[], what: string): Uint8Array {
  if (addrs.length === 0) throw new Error(`DHCP ${what} needs at least one address`);
  const b = new Uint8Array(addrs.length * 4);
  addrs.forEach((a, i) => b.set(u32Value(a, what), i * 4));
  return b;
}

/** The value bytes of an option. Throws for values that cannot be encoded. */
function optionValue(o: DhcpOption): Uint8Array {
  switch (o.kind) {
    case 'subnet-mask': return u32Value(o.mask, 'subnet mask');
    case 'router': return addrsValue(o.addrs, 'router');
    case 'dns-servers': return addrsValue(o.addrs, 'dns-servers');
    case 'hostname':
    case 'domain-name':
      if (o.name.length === 0) throw new Error(`DHCP ${o.kind} must not be empty`);
      return latin1Bytes(o.kind, o.name);
    case 'mtu': {
      if (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 0xffff) throw new Error(`DHCP MTU must be in 68..65535, got ${o.mtu}`);
      const b = new Uint8Array(2);
      setU16(b, 0, o.mtu);
      return b;
    }
    case 'requested-ip': return u32Value(o.addr, 'requested IP');
    case 'lease-time': return u32Value(o.seconds, 'lease time');
    case 'server-id': return u32Value(o.addr, 'server id');
    case 'renewal-time': return u32Value(o.seconds, 'renewal time');
    case 'rebinding-time': return u32Value(o.seconds, 'rebinding time');
    case 'message-type':
      if (!Number.isInteger(o.type) || o.type < 1 || o.type > 255) throw new Error(`DHCP message type must be in 1..255, got ${o.type}`);
      return Uint8Array.of(o.type);
    case 'parameter-request-list':
      if (o.codes.length === 0 || o.codes.some((c) => !Number.isInteger(c) || c < 1 || c > 254)) {
        throw new Error('DHCP parameter request list needs 1 or more codes in 1..254');
      }
      return Uint8Array.from(o.codes);
    case 'client-id':
      if (o.data.length < 2) throw new Error('DHCP client identifier needs at least 2 bytes (type and identifier)');
      return o.data;
    case 'unknown':
      if (!Number.isInteger(o.code) || o.code < 1 || o.code > 254 || o.code === DHCP_OPT_OVERLOAD) {
        throw new Error(`DHCP raw option code must be in 1..254 and not 52 (overload is never emitted), got ${o.code}`);
      }
      return o.data;
  }
}

/** Bytes the option takes on the wire: RFC 3396 splits values over 255 bytes into several instances. */
function encodedLen(valueLen: number): number {
  const instances = Math.max(1, Math.ceil(valueLen / 255));
  return 2 * instances + valueLen;
}

/** The length `emitDhcp` writes for `msg`: at least 300 bytes. */
export function dhcpMessageLen(msg: DhcpMessage): number {
  let n = DHCP_MIN_LEN + 1; // the End option
  for (const o of msg.options) n += encodedLen(optionValue(o).length);
  return Math.max(n, DHCP_BOOTP_MIN_LEN);
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`DHCP ${name} must be an integer in 0..${max}, got ${value}`);
  }
}

/**
 * Writes `msg` at `buf[offset]`: the fixed part, the magic cookie, the
 * options, End, and pad options up to 300 bytes. Returns the number of
 * bytes written (`dhcpMessageLen(msg)`). Throws for programmer errors (a
 * buffer too small, a field out of range, an option value that cannot be
 * encoded).
 */
export function emitDhcp(msg: DhcpMessage, buf: Uint8Array, offset: number): number {
  const values = msg.options.map((o) => [dhcpOptionCode(o), optionValue(o)] as const);
  const len = dhcpMessageLen(msg);
  if (offset < 0 || offset + len > buf.length) {
    throw new Error(`emitDhcp: buffer too small (${buf.length} bytes, ${len} needed at ${offset})`);
  }
  checkField('op', msg.op, 0xff);
  checkField('htype', msg.htype, 0xff);
  checkField('hops', msg.hops, 0xff);
  checkField('xid', msg.xid, 0xffffffff);
  checkField('secs', msg.secs, 0xffff);
  checkField('flags', msg.flags, 0xffff);
  for (const f of ['ciaddr', 'yiaddr', 'siaddr', 'giaddr'] as const) checkField(f, msg[f], 0xffffffff);
  if (msg.chaddr.length > 16) throw new Error(`DHCP chaddr holds at most 16 bytes, got ${msg.chaddr.length}`);
  const sname = latin1Bytes('sname', msg.sname);
  const file = latin1Bytes('file', msg.file);
  if (sname.length > SNAME_LEN) throw new Error(`DHCP sname holds at most ${SNAME_LEN} bytes`);
  if (file.length > FILE_LEN) throw new Error(`DHCP file holds at most ${FILE_LEN} bytes`);
  buf.fill(0, offset, offset + len);
  buf[offset] = msg.op;
  buf[offset + 1] = msg.htype;
  buf[offset + 2] = msg.chaddr.length;
  buf[offset + 3] = msg.hops;
  setU32(buf, offset + 4, msg.xid);
  setU16(buf, offset + 8, msg.secs);
  setU16(buf, offset + 10, msg.flags);
  setU32(buf, offset + 12, msg.ciaddr);
  setU32(buf, offset + 16, msg.yiaddr);
  setU32(buf, offset + 20, msg.siaddr);
  setU32(buf, offset + 24, msg.giaddr);
  buf.set(msg.chaddr, offset + 28);
  buf.set(sname, offset + SNAME_AT);
  buf.set(file, offset + FILE_AT);
  setU32(buf, offset + OPTIONS_AT, DHCP_MAGIC_COOKIE);
  let at = offset + DHCP_MIN_LEN;
  for (const [code, v] of values) {
    // RFC 3396 (abstract): "Multiple instances of the same option are
    // generated when an option exceeds 255 octets in size (the maximum size
    // of a single option)". The pieces go out in order.
    let from = 0;
    do {
      const n = Math.min(255, v.length - from);
      buf[at] = code;
      buf[at + 1] = n;
      buf.set(v.subarray(from, from + n), at + 2);
      at += 2 + n;
      from += n;
    } while (from < v.length);
  }
  buf[at] = DHCP_OPT_END;
  // The rest is already zero: pad options (RFC 2132 §3.2).
  return len;
}

/** Allocates and returns the encoded message. */
export function buildDhcp(msg: DhcpMessage): Uint8Array {
  const buf = new Uint8Array(dhcpMessageLen(msg));
  emitDhcp(msg, buf, 0);
  return buf;
}
