/**
 * The segment inspector: every field of the IPv4 and TCP headers of one
 * packet, decoded from its bytes, with the eight flag bits (CWR ECE URG ACK
 * PSH RST SYN FIN) and a one-line explanation of each, and the options.
 * Pure: returns data; the page turns it into HTML.
 */
import { ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, CHECKSUM_OFFLOAD, type TcpOption } from '../wire/types.ts';
import { getU16, getU32, ipv4ToString } from '../wire/bytes.ts';
import { parseIpv4 } from '../wire/ipv4.ts';
import { formatIpAddr, parseIpv6, walkIpv6, type IpAddr } from '../wire/ipv6.ts';
import { parseTcp } from '../wire/tcp.ts';
import { formatTcpOption } from '../wire/pretty.ts';
import { checksum } from '../wire/checksum.ts';
import type { Lang } from './i18n.ts';

export interface Field {
  name: string;
  value: string;
  note?: string;
}

export interface FlagBit {
  name: 'CWR' | 'ECE' | 'URG' | 'ACK' | 'PSH' | 'RST' | 'SYN' | 'FIN';
  bit: number;
  set: boolean;
  meaning: string;
}

export interface Decoded {
  summary: string;
  ip: Field[];
  tcp: Field[];
  flags: FlagBit[];
  options: Field[];
  payload: { length: number; text: string; hex: string };
  error: string | null;
}

const FLAG_TEXT: Record<Lang, Record<FlagBit['name'], string>> = {
  en: {
    CWR: 'Congestion Window Reduced: the sender has reacted to an ECN echo (RFC 3168)',
    ECE: 'ECN-Echo: the receiver saw congestion marked on the path (RFC 3168)',
    URG: 'urgent pointer is valid: data up to it is urgent',
    ACK: 'the acknowledgment number is valid (set on every segment after the first SYN)',
    PSH: 'push: hand the data to the application without waiting for more',
    RST: 'reset: abort the connection at once, no orderly close',
    SYN: "synchronize sequence numbers: carries the sender's ISN and opens a connection",
    FIN: 'finish: the sender has no more data (closes its direction)',
  },
  ko: {
    CWR: '혼잡 윈도우 감소: 송신자가 ECN 신호에 반응함 (RFC 3168)',
    ECE: 'ECN-Echo: 수신자가 경로의 혼잡 표시를 받음 (RFC 3168)',
    URG: '긴급 포인터 유효: 포인터까지의 데이터가 긴급 데이터',
    ACK: '확인 응답 번호 유효 (첫 SYN 이후 모든 세그먼트에 설정)',
    PSH: '버퍼링 없이 응용 계층으로 즉시 전달',
    RST: '연결 재설정: 즉시 강제 종료',
    SYN: '시퀀스 번호 동기화: 송신자의 ISN을 담아 연결을 요청',
    FIN: '보낼 데이터가 더 이상 없음 (한 방향 연결 종료)',
  },
};

const FLAG_BITS: Array<[FlagBit['name'], number]> = [
  ['CWR', CWR],
  ['ECE', ECE],
  ['URG', URG],
  ['ACK', ACK],
  ['PSH', PSH],
  ['RST', RST],
  ['SYN', SYN],
  ['FIN', FIN],
];

const OPTION_TEXT: Record<Lang, Record<string, string>> = {
  en: {
    mss: 'maximum segment size the sender can receive',
    'window-scale': 'window scale: later windows are multiplied by 2^shift (RFC 7323)',
    'sack-permitted': 'selective acknowledgments may be used (RFC 2018)',
    sack: 'blocks received out of order (RFC 2018)',
    timestamp: 'timestamps for RTT measurement and PAWS (RFC 7323)',
    nop: 'padding',
    eol: 'end of the option list',
    unknown: 'an option synack does not interpret',
  },
  ko: {
    mss: '송신자가 받을 수 있는 최대 세그먼트 크기',
    'window-scale': '윈도우 배율: 이후 윈도우 값에 2^shift를 곱함 (RFC 7323)',
    'sack-permitted': '선택적 확인 응답(SACK) 사용 가능 (RFC 2018)',
    sack: '순서가 어긋나 받은 블록 (RFC 2018)',
    timestamp: 'RTT 측정과 PAWS를 위한 타임스탬프 (RFC 7323)',
    nop: '채움',
    eol: '옵션 목록의 끝',
    unknown: 'synack이 해석하지 않는 옵션',
  },
};

export function flagMeaning(lang: Lang, name: FlagBit['name']): string {
  return FLAG_TEXT[lang][name];
}

function hex(n: number, w: number): string {
  return '0x' + n.toString(16).padStart(w, '0');
}

/** `addr:port`, an IPv6 address in brackets (RFC 5952 §6). */
function endpoint(a: IpAddr, port: number): string {
  return typeof a === 'string' ? `[${formatIpAddr(a)}]:${port}` : `${ipv4ToString(a)}:${port}`;
}

/** The fields of an IPv6 header (RFC 8200 §3) and the TCP behind its extension headers (§4). */
function decodeIpv6(bytes: Uint8Array, ko: boolean): { fields: Field[]; src: IpAddr; dst: IpAddr; tcp: Uint8Array | null; error: string | null } | { error: string } {
  const ip = parseIpv6(bytes);
  if (!ip.ok) return { error: ip.reason };
  const h = ip.value.header;
  const w = walkIpv6(ip.value.packet);
  const fields: Field[] = [
    { name: 'Version', value: '6' },
    { name: 'Traffic Class (DSCP / ECN)', value: `${h.trafficClass >> 2} / ${h.trafficClass & 3}` },
    { name: 'Flow Label', value: hex(h.flowLabel, 5), note: ko ? '흐름 레이블 (RFC 6437)' : 'flow label (RFC 6437)' },
    { name: 'Payload Length', value: `${getU16(bytes, 4)} B` },
    { name: 'Next Header', value: `${bytes[6]!}${bytes[6] === 6 ? ' (TCP)' : ''}` },
    { name: 'Hop Limit', value: String(h.hopLimit), note: ko ? '남은 홉 수' : 'hops left' },
    { name: 'Source', value: formatIpAddr(h.src) },
    { name: 'Destination', value: formatIpAddr(h.dst) },
  ];
  if (!w.ok) return { fields, src: h.src, dst: h.dst, tcp: null, error: w.reason };
  if (w.kind !== 'upper' || w.protocol !== 6) return { fields, src: h.src, dst: h.dst, tcp: null, error: 'not TCP' };
  return { fields, src: h.src, dst: h.dst, tcp: ip.value.packet.subarray(w.offset), error: null };
}

/** Decodes one IP packet (IPv4 or IPv6) carrying TCP. `rel` gives the ISNs for relative numbers. */
export function decodeSegment(bytes: Uint8Array, lang: Lang, rel: { seqBase: number | null; ackBase: number | null; windowBytes?: number } = { seqBase: null, ackBase: null }): Decoded {
  const empty: Decoded = { summary: '', ip: [], tcp: [], flags: [], options: [], payload: { length: 0, text: '', hex: '' }, error: null };
  if (bytes.length > 0 && bytes[0]! >>> 4 === 6) {
    const d = decodeIpv6(bytes, lang === 'ko');
    if (!('fields' in d)) return { ...empty, error: d.error };
    if (d.tcp === null) return { ...empty, ip: d.fields, error: d.error };
    return decodeTcp(d.tcp, d.src, d.dst, d.fields, lang, rel, empty);
  }
  const ip = parseIpv4(bytes, CHECKSUM_OFFLOAD);
  if (!ip.ok) return { ...empty, error: ip.reason };
  const h = ip.value.header;
  const ihl = (bytes[0]! & 0x0f) * 4;
  const ff = getU16(bytes, 6);
  const ipSum = getU16(bytes, 10);
  const ipOk = checksum(bytes, 0, ihl) === 0;
  const ko = lang === 'ko';
  const ipFields: Field[] = [
    { name: 'Version', value: String(bytes[0]! >> 4) },
    { name: 'IHL', value: `${ihl} B`, note: ko ? '헤더 길이' : 'header length' },
    { name: 'DSCP / ECN', value: `${h.tos >> 2} / ${h.tos & 3}` },
    { name: 'Total Length', value: `${getU16(bytes, 2)} B` },
    { name: 'Identification', value: `${h.ident} (${hex(h.ident, 4)})` },
    { name: 'Flags', value: `${ff & 0x4000 ? 'DF' : ''}${ff & 0x2000 ? ' MF' : ''}` || '-', note: ff & 0x4000 ? (ko ? '단편화 금지' : "don't fragment") : '' },
    { name: 'Fragment Offset', value: String(ff & 0x1fff) },
    { name: 'TTL', value: String(h.ttl), note: ko ? '남은 홉 수' : 'hops left' },
    { name: 'Protocol', value: `${h.protocol}${h.protocol === 6 ? ' (TCP)' : ''}` },
    { name: 'Header Checksum', value: hex(ipSum, 4), note: ipSum === 0 ? (ko ? '오프로드(계산 안 함)' : 'offloaded (not computed)') : ipOk ? (ko ? '올바름' : 'correct') : ko ? '틀림' : 'wrong' },
    { name: 'Source', value: ipv4ToString(h.src) },
    { name: 'Destination', value: ipv4ToString(h.dst) },
  ];
  return decodeTcp(ip.value.payload, h.src, h.dst, ipFields, lang, rel, empty);
}

function decodeTcp(tb: Uint8Array, src: IpAddr, dst: IpAddr, ipFields: Field[], lang: Lang, rel: { seqBase: number | null; ackBase: number | null; windowBytes?: number }, empty: Decoded): Decoded {
  const ko = lang === 'ko';
  const h = { src, dst };
  const t = parseTcp(tb, h.src, h.dst, CHECKSUM_OFFLOAD);
  if (!t.ok) return { ...empty, ip: ipFields, error: t.reason };
  const seg = t.value;
  const off = (tb[12]! >> 4) * 4;
  const relSeq = rel.seqBase === null ? null : (seg.seq - rel.seqBase) >>> 0;
  const relAck = rel.ackBase === null || !(seg.flags & ACK) ? null : (seg.ack - rel.ackBase) >>> 0;
  const tcpFields: Field[] = [
    { name: 'Source Port', value: String(seg.srcPort) },
    { name: 'Destination Port', value: String(seg.dstPort) },
    { name: 'Sequence Number', value: String(seg.seq >>> 0), note: relSeq === null ? '' : `${ko ? '상대값' : 'relative'} ${relSeq}` },
    { name: 'Acknowledgment Number', value: String(getU32(tb, 8)), note: seg.flags & ACK ? (relAck === null ? '' : `${ko ? '상대값' : 'relative'} ${relAck}`) : ko ? 'ACK 없음: 의미 없음' : 'no ACK: not meaningful' },
    { name: 'Data Offset', value: `${off} B`, note: ko ? 'TCP 헤더 길이' : 'TCP header length' },
    { name: 'Flags', value: hex(tb[13]!, 2) },
    { name: 'Window', value: String(seg.window), note: rel.windowBytes !== undefined && rel.windowBytes !== seg.window ? `× scale = ${rel.windowBytes} B` : ko ? '수신 가능한 바이트' : 'bytes the sender can receive' },
    { name: 'Checksum', value: hex(getU16(tb, 16), 4) },
    { name: 'Urgent Pointer', value: String(seg.urgentPointer) },
  ];
  const flags: FlagBit[] = FLAG_BITS.map(([name, bit]) => ({ name, bit, set: (seg.flags & bit) !== 0, meaning: FLAG_TEXT[lang][name] }));
  const options: Field[] = seg.options
    .filter((o: TcpOption) => o.kind !== 'nop' && o.kind !== 'eol')
    .map((o: TcpOption) => ({ name: o.kind, value: formatTcpOption(o), note: OPTION_TEXT[lang][o.kind] ?? '' }));
  const pl = seg.payload;
  let text = '';
  for (let i = 0; i < Math.min(pl.length, 200); i++) {
    const c = pl[i]!;
    text += c >= 32 && c < 127 ? String.fromCharCode(c) : '·';
  }
  let hx = '';
  for (let i = 0; i < Math.min(pl.length, 64); i++) hx += pl[i]!.toString(16).padStart(2, '0') + (i % 2 ? ' ' : '');
  return {
    summary: `${endpoint(h.src, seg.srcPort)} → ${endpoint(h.dst, seg.dstPort)}`,
    ip: ipFields,
    tcp: tcpFields,
    flags,
    options,
    payload: { length: pl.length, text, hex: hx.trim() },
    error: null,
  };
}
