/**
 * A DNS forwarder (RFC 1035 §2.2's "recursive service" handed to an
 * upstream resolver; RFC 5625 for proxies), sans-I/O.
 *
 * Each client query is relayed to the upstream with a fresh random id
 * (RFC 5452 §9.2), remembered with the client's id, address, port and
 * transport; the upstream's answer is matched by id, source and question,
 * given back the client's id and returned to that client. Queries from UDP
 * clients go upstream over UDP, queries from TCP clients over TCP (RFC 1035
 * §4.2.2 framing both ways). At most `maxOutstanding` queries are in flight
 * (more are counted drops, 'forward-limit'); one unanswered for `timeout`
 * gets SERVFAIL (RFC 5625 §6: a proxy should answer rather than stay silent).
 * Positive answers may be served from a small TTL cache.
 */
import type { Duration, Instant } from '../base/time.ts';
import { seconds } from '../base/time.ts';
import type { Rng } from '../base/rng.ts';
import { setU16 } from '../wire/bytes.ts';
import {
  buildDns, DNS_PORT, DNS_RCODE_NOERROR, DNS_RCODE_SERVFAIL, DNS_UDP_MAX_LEN, dnsEdns, dnsNameKey, parseDns,
} from '../wire/dns.ts';
import type { DnsMessage, DnsQuestion } from '../wire/dns.ts';
import { answersQuestion, DnsStreamReader, frameDns } from './dns-stream.ts';
import { countDrop, minDeadline } from './types.ts';
import type { Drops, From, Step } from './types.ts';

/** Client side: the transport answers on the client's TCP connection `conn`. */
export type ForwarderTcpAction =
  | { type: 'write'; conn: number; data: Uint8Array }
  | { type: 'open'; conn: number; address: string; port: number; data: Uint8Array }
  | { type: 'close'; conn: number };

export interface ForwarderStep extends Step<never> {
  tcp: ForwarderTcpAction[];
}

export interface ForwarderConfig {
  upstream: { address: string; port?: number };
  rng: Rng;
  /** The port the forwarder listens on (the source port of its answers). */
  port?: number;
  /** The source port of the queries upstream. */
  upstreamSrcPort?: number;
  maxOutstanding?: number;
  timeout?: Duration;
  /** Cached answers (0 disables the cache; default 128). */
  cacheSize?: number;
  /** Client TCP connections read at once (default 64). */
  maxClientConns?: number;
}

type Client = { kind: 'udp'; from: From; limit: number } | { kind: 'tcp'; conn: number };

interface Outstanding {
  upstreamId: number;
  clientId: number;
  client: Client;
  q: DnsQuestion;
  deadline: Instant;
  /** The upstream TCP connection of a TCP client's query. */
  upstreamConn: number | null;
  reader: DnsStreamReader | null;
}

export class DnsForwarder {
  readonly drops: Drops = {};
  /** Answers sent: 'upstream', 'cache', 'servfail'. */
  readonly answered: Record<string, number> = { upstream: 0, cache: 0, servfail: 0 };
  private readonly upstream: From;
  private readonly rng: Rng;
  private readonly port: number;
  private readonly upstreamSrcPort: number;
  private readonly maxOutstanding: number;
  private readonly timeout: Duration;
  private readonly cacheSize: number;
  private readonly maxClientConns: number;
  private readonly byId = new Map<number, Outstanding>();
  private readonly byConn = new Map<number, Outstanding>();
  private readonly clientReaders = new Map<number, DnsStreamReader>();
  private readonly cache = new Map<string, { expires: Instant; msg: DnsMessage }>();
  private nextConn = 1;

  constructor(cfg: ForwarderConfig) {
    this.upstream = { address: cfg.upstream.address, port: cfg.upstream.port ?? DNS_PORT };
    this.rng = cfg.rng;
    this.port = cfg.port ?? DNS_PORT;
    this.upstreamSrcPort = cfg.upstreamSrcPort ?? 0;
    this.maxOutstanding = cfg.maxOutstanding ?? 256;
    this.timeout = cfg.timeout ?? seconds(5);
    this.cacheSize = cfg.cacheSize ?? 128;
    this.maxClientConns = cfg.maxClientConns ?? 64;
  }

  get outstanding(): number {
    return this.byId.size;
  }

  private step(): ForwarderStep {
    return { out: [], events: [], tcp: [], deadline: null };
  }

  private finish(s: ForwarderStep): ForwarderStep {
    let d: Instant | null = null;
    for (const o of this.byId.values()) d = minDeadline(d, o.deadline);
    s.deadline = d;
    return s;
  }

  /** A query datagram from a client. */
  handleClientUdp(bytes: Uint8Array, from: From, now: Instant): ForwarderStep {
    const s = this.step();
    const m = parseDns(bytes);
    if (!m.ok) countDrop(this.drops, `malformed:${m.reason}`);
    else {
      // RFC 6891 §6.2.3: the requestor's payload size, at least 512.
      const limit = Math.max(DNS_UDP_MAX_LEN, dnsEdns(m.value)?.udpPayloadSize ?? 0);
      this.query(m.value, bytes, { kind: 'udp', from, limit }, now, s);
    }
    return this.finish(s);
  }

  /** Bytes on a client's TCP connection (the transport accepted it on our port). */
  handleClientTcp(conn: number, bytes: Uint8Array, now: Instant): ForwarderStep {
    const s = this.step();
    let r = this.clientReaders.get(conn);
    if (r === undefined) {
      if (this.clientReaders.size >= this.maxClientConns) {
        countDrop(this.drops, 'tcp-client-limit');
        s.tcp.push({ type: 'close', conn });
        return this.finish(s);
      }
      r = new DnsStreamReader();
      this.clientReaders.set(conn, r);
    }
    const msgs = r.push(bytes);
    if (msgs === null) {
      countDrop(this.drops, 'tcp-framing');
      this.clientReaders.delete(conn);
      s.tcp.push({ type: 'close', conn });
      return this.finish(s);
    }
    for (const raw of msgs) {
      const m = parseDns(raw);
      if (!m.ok) countDrop(this.drops, `malformed:${m.reason}`);
      else this.query(m.value, raw, { kind: 'tcp', conn }, now, s);
    }
    return this.finish(s);
  }

  /** The client closed its TCP connection: its pending queries are forgotten. */
  clientTcpClosed(conn: number): ForwarderStep {
    const s = this.step();
    this.clientReaders.delete(conn);
    for (const o of [...this.byId.values()]) if (o.client.kind === 'tcp' && o.client.conn === conn) this.forget(o, s);
    return this.finish(s);
  }

  private query(m: DnsMessage, raw: Uint8Array, client: Client, now: Instant, s: ForwarderStep): void {
    if (m.qr || m.questions.length !== 1) return countDrop(this.drops, 'not-a-query');
    const q = m.questions[0]!;
    const key = `${dnsNameKey(q.name)}|${q.type}|${q.class}`;
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.expires > now) {
      const left = Math.floor((hit.expires - now) / 1_000_000);
      const msg: DnsMessage = {
        ...hit.msg, id: m.id, rd: m.rd, questions: m.questions,
        answers: hit.msg.answers.map((r) => ({ ...r, ttl: Math.min(r.ttl, left) })),
      };
      this.answered['cache']!++;
      return this.reply(client, buildDns(msg), s);
    }
    if (hit !== undefined) this.cache.delete(key);
    if (this.byId.size >= this.maxOutstanding) return countDrop(this.drops, 'forward-limit');
    let upstreamId: number;
    do upstreamId = this.rng.nextU32() & 0xffff;
    while (this.byId.has(upstreamId));
    const o: Outstanding = { upstreamId, clientId: m.id, client, q, deadline: now + this.timeout, upstreamConn: null, reader: null };
    this.byId.set(upstreamId, o);
    const fwd = raw.slice();
    setU16(fwd, 0, upstreamId);
    if (client.kind === 'udp') {
      s.out.push({ payload: fwd, address: this.upstream.address, port: this.upstream.port, srcPort: this.upstreamSrcPort });
    } else {
      const conn = this.nextConn++;
      o.upstreamConn = conn;
      o.reader = new DnsStreamReader();
      this.byConn.set(conn, o);
      s.tcp.push({ type: 'open', conn: -conn, address: this.upstream.address, port: this.upstream.port, data: frameDns(fwd) });
    }
  }

  /** An answer datagram from the upstream. */
  handleUpstreamUdp(bytes: Uint8Array, from: From, now: Instant): ForwarderStep {
    const s = this.step();
    const m = parseDns(bytes);
    if (!m.ok) countDrop(this.drops, `malformed:${m.reason}`);
    else if (from.address !== this.upstream.address || from.port !== this.upstream.port) countDrop(this.drops, 'wrong-source');
    else this.answer(m.value, bytes, false, now, s);
    return this.finish(s);
  }

  /**
   * Bytes on an upstream TCP connection; `conn` is the negative number the
   * forwarder gave in its 'open' action (client connections are positive).
   */
  handleUpstreamTcp(conn: number, bytes: Uint8Array, now: Instant): ForwarderStep {
    const s = this.step();
    const o = this.byConn.get(-conn);
    if (o === undefined || o.reader === null) countDrop(this.drops, 'unknown-conn');
    else {
      const msgs = o.reader.push(bytes);
      if (msgs === null) {
        countDrop(this.drops, 'tcp-framing');
        this.servfail(o, s);
      } else {
        for (const raw of msgs) {
          const m = parseDns(raw);
          if (m.ok) this.answer(m.value, raw, true, now, s);
          else countDrop(this.drops, `malformed:${m.reason}`);
        }
      }
    }
    return this.finish(s);
  }

  private answer(m: DnsMessage, raw: Uint8Array, viaTcp: boolean, now: Instant, s: ForwarderStep): void {
    const o = this.byId.get(m.id);
    if (o === undefined) return countDrop(this.drops, 'unknown-id');
    if ((o.upstreamConn !== null) !== viaTcp) return countDrop(this.drops, 'wrong-transport');
    if (!answersQuestion(m, o.q)) return countDrop(this.drops, 'wrong-question');
    this.forget(o, s);
    if (m.rcode === DNS_RCODE_NOERROR && !m.tc && m.answers.length > 0 && this.cacheSize > 0) {
      const ttl = Math.min(...m.answers.map((r) => r.ttl));
      if (ttl > 0) {
        const key = `${dnsNameKey(o.q.name)}|${o.q.type}|${o.q.class}`;
        this.cache.delete(key);
        while (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(key, { expires: now + seconds(ttl), msg: m });
      }
    }
    const back = raw.slice();
    setU16(back, 0, o.clientId);
    this.answered['upstream']!++;
    this.reply(o.client, back, s);
  }

  private reply(client: Client, bytes: Uint8Array, s: ForwarderStep): void {
    if (client.kind === 'tcp') {
      s.tcp.push({ type: 'write', conn: client.conn, data: frameDns(bytes) });
      return;
    }
    let out = bytes;
    if (out.length > client.limit) {
      // RFC 1035 §4.2.1: "Longer messages are truncated and the TC bit is set in the header."
      const m = parseDns(bytes);
      if (!m.ok) return countDrop(this.drops, 'oversize');
      out = buildDns({ ...m.value, tc: true, answers: [], authorities: [], additionals: [] });
    }
    s.out.push({ payload: out, address: client.from.address, port: client.from.port, srcPort: this.port });
  }

  private forget(o: Outstanding, s: ForwarderStep): void {
    this.byId.delete(o.upstreamId);
    if (o.upstreamConn !== null) {
      this.byConn.delete(o.upstreamConn);
      s.tcp.push({ type: 'close', conn: -o.upstreamConn });
    }
  }

  private servfail(o: Outstanding, s: ForwarderStep): void {
    this.forget(o, s);
    const msg: DnsMessage = {
      id: o.clientId, qr: true, opcode: 0, aa: false, tc: false, rd: true, ra: true, z: false, ad: false, cd: false,
      rcode: DNS_RCODE_SERVFAIL, questions: [o.q], answers: [], authorities: [], additionals: [],
    };
    this.answered['servfail']!++;
    this.reply(o.client, buildDns(msg), s);
  }

  /** Times out queries the upstream did not answer: SERVFAIL to their clients. */
  poll(now: Instant): ForwarderStep {
    const s = this.step();
    for (const o of [...this.byId.values()]) {
      if (o.deadline > now) continue;
      countDrop(this.drops, 'upstream-timeout');
      this.servfail(o, s);
    }
    return this.finish(s);
  }
}
