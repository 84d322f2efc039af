/**
 * A small authoritative DNS server engine over a fixed set of records
 * (RFC 1035 §4.3.2 steps 3a–3c for one zone, no delegation, no wildcards),
 * sans-I/O. It answers A, AAAA and CNAME (following a CNAME chain inside the
 * zone, RFC 1034 §4.3.2 step 3a: "If the data at the node is a CNAME, and
 * QTYPE doesn't match CNAME, copy the CNAME RR into the answer section of
 * the response, change QNAME to the canonical name in the CNAME RR, and go
 * back to step 1"), NXDOMAIN and NODATA with the zone's SOA in the
 * authority section (RFC 2308 §3), and truncates UDP answers over 512 bytes
 * (RFC 1035 §4.2.1). It is the upstream of the forwarder in tests and a
 * service a host can run for names of its own.
 */
import { setU32 } from '../wire/bytes.ts';
import {
  buildDns, DNS_CLASS_IN, DNS_RCODE_FORMERR, DNS_RCODE_NOERROR, DNS_RCODE_NOTIMP, DNS_RCODE_NXDOMAIN, DNS_TYPE_CNAME,
  DNS_TYPE_SOA, DNS_UDP_MAX_LEN, dnsEdns, dnsNameKey, dnsNameLabels, parseDns,
} from '../wire/dns.ts';
import type { DnsMessage, DnsRecord } from '../wire/dns.ts';
import { countDrop } from './types.ts';
import type { Drops } from './types.ts';

export interface DnsZoneConfig {
  /** The zone apex, e.g. 'example.test'. */
  origin: string;
  records: DnsRecord[];
  /** The SOA's own TTL and its MINIMUM field (RFC 2308 §4: the negative-caching TTL). */
  soaTtl?: number;
  soaMinimum?: number;
}

function nameBytes(name: string): number[] {
  const out: number[] = [];
  for (const l of dnsNameLabels(name)) out.push(l.length, ...l);
  out.push(0);
  return out;
}

/** SOA RDATA (RFC 1035 §3.3.13): MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM, names uncompressed. */
export function soaRdata(mname: string, rname: string, minimum: number): Uint8Array {
  const names = [...nameBytes(mname), ...nameBytes(rname)];
  const out = new Uint8Array(names.length + 20);
  out.set(names, 0);
  const at = names.length;
  setU32(out, at, 1);
  setU32(out, at + 4, 3600);
  setU32(out, at + 8, 600);
  setU32(out, at + 12, 86400);
  setU32(out, at + 16, minimum);
  return out;
}

export class DnsZoneServer {
  readonly drops: Drops = {};
  private readonly byName = new Map<string, DnsRecord[]>();
  private readonly soa: DnsRecord;
  private readonly origin: string;

  constructor(cfg: DnsZoneConfig) {
    this.origin = dnsNameKey(cfg.origin);
    for (const r of cfg.records) {
      const k = dnsNameKey(r.name);
      const list = this.byName.get(k) ?? [];
      list.push(r);
      this.byName.set(k, list);
    }
    this.soa = {
      name: cfg.origin, type: DNS_TYPE_SOA, class: DNS_CLASS_IN, ttl: cfg.soaTtl ?? 3600,
      data: { kind: 'raw', data: soaRdata(`ns.${cfg.origin}`, `hostmaster.${cfg.origin}`, cfg.soaMinimum ?? 300) },
    };
  }

  private inZone(k: string): boolean {
    return k === this.origin || k.endsWith(`.${this.origin}`);
  }

  /** Answers one query (`tcp` false: a UDP datagram, truncated to 512 bytes or the EDNS size). Null: no answer. */
  handle(bytes: Uint8Array, tcp = false): Uint8Array | null {
    const p = parseDns(bytes);
    if (!p.ok) {
      countDrop(this.drops, `malformed:${p.reason}`);
      return null;
    }
    const q = p.value;
    if (q.qr) {
      countDrop(this.drops, 'not-query');
      return null;
    }
    const reply: DnsMessage = {
      id: q.id, qr: true, opcode: q.opcode, aa: true, tc: false, rd: q.rd, ra: false, z: false, ad: false, cd: false,
      rcode: DNS_RCODE_NOERROR, questions: q.questions.slice(0, 1), answers: [], authorities: [], additionals: [],
    };
    if (q.opcode !== 0) reply.rcode = DNS_RCODE_NOTIMP;
    else if (q.questions.length !== 1) reply.rcode = DNS_RCODE_FORMERR;
    else this.answer(q.questions[0]!.name, q.questions[0]!.type, reply);
    let out = buildDns(reply);
    const limit = tcp ? 0xffff : Math.max(DNS_UDP_MAX_LEN, dnsEdns(q)?.udpPayloadSize ?? 0);
    if (out.length > limit) {
      // RFC 1035 §4.1.1 TC: "specifies that this message was truncated due
      // to length greater than that permitted on the transmission channel."
      out = buildDns({ ...reply, tc: true, answers: [], authorities: [], additionals: [] });
    }
    return out;
  }

  private answer(name: string, type: number, reply: DnsMessage): void {
    let k = dnsNameKey(name);
    for (let hops = 0; hops < 16; hops++) {
      if (!this.inZone(k)) return;
      const rrs = this.byName.get(k);
      if (rrs === undefined) {
        if (hops === 0 || reply.answers.length > 0 && k !== this.origin) reply.rcode = DNS_RCODE_NXDOMAIN;
        reply.authorities.push(this.soa);
        return;
      }
      const match = rrs.filter((r) => r.type === type);
      if (match.length > 0) {
        reply.answers.push(...match);
        return;
      }
      const cname = rrs.find((r) => r.type === DNS_TYPE_CNAME);
      if (cname === undefined || cname.data.kind !== 'name') {
        reply.authorities.push(this.soa); // NODATA
        return;
      }
      reply.answers.push(cname);
      k = dnsNameKey(cname.data.name);
    }
  }
}
