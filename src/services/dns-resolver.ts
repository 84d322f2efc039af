/**
 * A DNS stub resolver (RFC 1035 §7, RFC 1123 §6.1.3), sans-I/O, and a
 * `dns.lookup`-shaped function on top of it.
 *
 * `DnsResolverEngine` sends A/AAAA queries over UDP to a list of servers,
 * retransmits on a schedule (every server once per attempt, the timeout
 * doubling per attempt: 1 s, 2 s, 4 s by default), matches responses by id,
 * question and source, retries over TCP when a response is truncated,
 * follows CNAME chains inside the answer and caches answers (TTL) and
 * negative answers (RFC 2308, the SOA minimum), both bounded.
 *
 * `StubResolver` drives the engine through a `ResolverTransport` (send a
 * datagram, open a TCP connection, set a timer, read the clock) and offers
 * `lookup(name, options, cb)` like Node's.
 */
import type { Duration, Instant } from '../base/time.ts';
import { seconds } from '../base/time.ts';
import type { Rng } from '../base/rng.ts';
import { getU32, ipv4ToString, parseIpv4Addr } from '../wire/bytes.ts';
import {
  buildDns, DNS_CLASS_IN, DNS_PORT, DNS_RCODE_NOERROR, DNS_RCODE_NXDOMAIN, DNS_RCODE_REFUSED, DNS_TYPE_A, DNS_TYPE_AAAA,
  DNS_TYPE_CNAME, DNS_TYPE_SOA, dnsNameKey, dnsQuery, parseDns,
} from '../wire/dns.ts';
import type { DnsMessage, DnsQuestion, DnsRecord } from '../wire/dns.ts';
import { answersQuestion, DnsStreamReader, frameDns } from './dns-stream.ts';
import { countDrop, minDeadline } from './types.ts';
import type { Drops, From, OutDatagram, Step } from './types.ts';

export type DnsErrorCode = 'ENOTFOUND' | 'ENODATA' | 'ETIMEOUT' | 'ESERVFAIL' | 'EREFUSED' | 'EBADRESP' | 'EBUSY' | 'EBADNAME' | 'ECANCELLED';

export type DnsResult =
  | { ok: true; name: string; type: number; records: DnsRecord[]; cnames: string[]; ttl: number; fromCache: boolean }
  | { ok: false; name: string; type: number; code: DnsErrorCode; fromCache: boolean };

export interface ResolverEvent {
  handle: number;
  result: DnsResult;
}

/** A TCP action for the transport: open a connection and write `data` (a framed query), or close one. */
export type TcpAction =
  | { type: 'open'; conn: number; address: string; port: number; data: Uint8Array }
  | { type: 'close'; conn: number };

export interface ResolverStep extends Step<ResolverEvent> {
  tcp: TcpAction[];
}

export interface ResolverConfig {
  servers: Array<{ address: string; port?: number }>;
  rng: Rng;
  /** Rounds over the servers (default 3). */
  attempts?: number;
  /** The timeout of round i (default 1 s, 2 s, 4 s; the last repeats). */
  timeouts?: Duration[];
  /** The wait for an answer over TCP (default 5 s). */
  tcpTimeout?: Duration;
  /** Cached answers and negative answers (defaults 256 and 64). */
  cacheSize?: number;
  negativeCacheSize?: number;
  /** Queries in flight at once (default 64); more is an EBUSY result. */
  maxOutstanding?: number;
  /** Source port for the datagrams (the transport's socket decides in the end). */
  srcPort?: number;
}

interface Pending {
  handle: number;
  q: DnsQuestion;
  /** Index into the schedule: round = step / servers, server = step % servers. */
  step: number;
  deadline: Instant;
  ids: number[];
  tcp: { conn: number; reader: DnsStreamReader; server: number } | null;
  lastError: DnsErrorCode;
}

interface CacheEntry {
  expires: Instant;
  result: DnsResult;
}

/** RFC 2308 §5: "Values of one to three hours have been found to work well and are sensible defaults". */
const MAX_NEGATIVE_TTL = 3 * 3600;
/** RFC 2181 §8 allows TTLs to 2^31-1; a stub keeps answers at most a day. */
const MAX_TTL = 86400;
const MAX_CNAME_HOPS = 8;

export class DnsResolverEngine {
  readonly drops: Drops = {};
  private readonly servers: From[];
  private readonly rng: Rng;
  private readonly attempts: number;
  private readonly timeouts: Duration[];
  private readonly tcpTimeout: Duration;
  private readonly maxOutstanding: number;
  private readonly srcPort: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly negative = new Map<string, CacheEntry>();
  private readonly cacheSize: number;
  private readonly negativeCacheSize: number;
  private readonly pending = new Map<number, Pending>();
  private readonly byId = new Map<number, { p: Pending; server: number }>();
  private readonly byConn = new Map<number, Pending>();
  private nextHandle = 1;
  private nextConn = 1;

  constructor(cfg: ResolverConfig) {
    if (cfg.servers.length === 0) throw new Error('DnsResolverEngine: at least one server');
    this.servers = cfg.servers.map((s) => ({ address: s.address, port: s.port ?? DNS_PORT }));
    this.rng = cfg.rng;
    this.attempts = cfg.attempts ?? 3;
    this.timeouts = cfg.timeouts ?? [seconds(1), seconds(2), seconds(4)];
    this.tcpTimeout = cfg.tcpTimeout ?? seconds(5);
    this.cacheSize = cfg.cacheSize ?? 256;
    this.negativeCacheSize = cfg.negativeCacheSize ?? 64;
    this.maxOutstanding = cfg.maxOutstanding ?? 64;
    this.srcPort = cfg.srcPort ?? 0;
  }

  get outstanding(): number {
    return this.pending.size;
  }

  get cacheEntries(): number {
    return this.cache.size + this.negative.size;
  }

  /** Starts a query; the result comes as an event now (cache) or from a later handle/poll. */
  query(name: string, type: number, now: Instant): ResolverStep & { handle: number } {
    const handle = this.nextHandle++;
    const s: ResolverStep = { out: [], events: [], tcp: [], deadline: null };
    const q: DnsQuestion = { name, type, class: DNS_CLASS_IN };
    const key = `${dnsNameKey(name)}|${type}`;
    const hit = this.lookupCache(key, now);
    if (hit !== null) {
      s.events.push({ handle, result: hit });
    } else if (this.pending.size >= this.maxOutstanding) {
      countDrop(this.drops, 'too-many-queries');
      s.events.push({ handle, result: { ok: false, name, type, code: 'EBUSY', fromCache: false } });
    } else {
      try {
        buildDns(dnsQuery(0, name, type));
      } catch {
        s.events.push({ handle, result: { ok: false, name, type, code: 'EBADNAME', fromCache: false } });
        s.deadline = this.deadline();
        return { ...s, handle };
      }
      const p: Pending = { handle, q, step: 0, deadline: now, ids: [], tcp: null, lastError: 'ETIMEOUT' };
      this.pending.set(handle, p);
      this.transmit(p, now, s);
    }
    s.deadline = this.deadline();
    return { ...s, handle };
  }

  private lookupCache(key: string, now: Instant): DnsResult | null {
    for (const map of [this.cache, this.negative]) {
      const e = map.get(key);
      if (e === undefined) continue;
      if (e.expires <= now) {
        map.delete(key);
        continue;
      }
      map.delete(key); // LRU: a hit moves to the end
      map.set(key, e);
      const r = e.result;
      const left = Math.floor((e.expires - now) / 1_000_000);
      return r.ok ? { ...r, ttl: left, records: r.records.map((x) => ({ ...x, ttl: Math.min(x.ttl, left) })), fromCache: true } : { ...r, fromCache: true };
    }
    return null;
  }

  private store(map: Map<string, CacheEntry>, max: number, key: string, result: DnsResult, ttl: number, now: Instant): void {
    if (ttl <= 0 || max <= 0) return;
    map.delete(key);
    while (map.size >= max) {
      map.delete(map.keys().next().value!);
      countDrop(this.drops, 'cache-evicted');
    }
    map.set(key, { expires: now + seconds(ttl), result });
  }

  /** A fresh query id: RFC 5452 §9.2 asks for ids from a good random source, unpredictable. */
  private freshId(): number {
    for (;;) {
      const id = this.rng.nextU32() & 0xffff;
      if (!this.byId.has(id)) return id;
    }
  }

  private transmit(p: Pending, now: Instant, s: ResolverStep): void {
    const n = this.servers.length;
    const round = Math.floor(p.step / n);
    const server = p.step % n;
    const id = this.freshId();
    p.ids.push(id);
    this.byId.set(id, { p, server });
    const srv = this.servers[server]!;
    s.out.push({ payload: buildDns(dnsQuery(id, p.q.name, p.q.type)), address: srv.address, port: srv.port, srcPort: this.srcPort });
    p.deadline = now + this.timeouts[Math.min(round, this.timeouts.length - 1)]!;
  }

  /** Moves to the next server / round, or ends the query. */
  private advance(p: Pending, now: Instant, s: ResolverStep): void {
    this.closeTcp(p, s);
    p.step++;
    if (p.step >= this.attempts * this.servers.length) {
      this.finish(p, { ok: false, name: p.q.name, type: p.q.type, code: p.lastError, fromCache: false }, s);
      return;
    }
    this.transmit(p, now, s);
  }

  private closeTcp(p: Pending, s: ResolverStep): void {
    if (p.tcp === null) return;
    s.tcp.push({ type: 'close', conn: p.tcp.conn });
    this.byConn.delete(p.tcp.conn);
    p.tcp = null;
  }

  private finish(p: Pending, result: DnsResult, s: ResolverStep): void {
    this.closeTcp(p, s);
    for (const id of p.ids) this.byId.delete(id);
    this.pending.delete(p.handle);
    s.events.push({ handle: p.handle, result });
  }

  poll(now: Instant): ResolverStep {
    const s: ResolverStep = { out: [], events: [], tcp: [], deadline: null };
    for (const p of [...this.pending.values()]) {
      if (p.deadline > now) continue;
      if (p.tcp !== null) countDrop(this.drops, 'tcp-timeout');
      this.advance(p, now, s);
    }
    s.deadline = this.deadline();
    return s;
  }

  private deadline(): Instant | null {
    let d: Instant | null = null;
    for (const p of this.pending.values()) d = minDeadline(d, p.deadline);
    return d;
  }

  /** A datagram from `from` to the resolver's port. */
  handleUdp(bytes: Uint8Array, from: From, now: Instant): ResolverStep {
    const s: ResolverStep = { out: [], events: [], tcp: [], deadline: null };
    const m = parseDns(bytes);
    if (!m.ok) {
      countDrop(this.drops, `malformed:${m.reason}`);
    } else {
      const t = this.byId.get(m.value.id);
      // RFC 5452 §9.1: accept a response only if it matches "the question
      // section", "the ID field", and the response "comes from the same
      // network address to which the question was sent" (and port).
      const srv = t === undefined ? undefined : this.servers[t.server]!;
      if (t === undefined || t.p.tcp !== null) countDrop(this.drops, 'unknown-id');
      else if (srv!.address !== from.address || srv!.port !== from.port) countDrop(this.drops, 'wrong-source');
      else if (!answersQuestion(m.value, t.p.q)) countDrop(this.drops, 'wrong-question');
      else if (m.value.tc) this.openTcp(t.p, t.server, now, s);
      else this.response(t.p, m.value, now, s);
    }
    s.deadline = this.deadline();
    return s;
  }

  /**
   * RFC 1035 §4.2.1: "Messages carried by UDP are restricted to 512 bytes
   * (not counting the IP or UDP headers). Longer messages are truncated and
   * the TC bit is set in the header." RFC 2181 §9: "the resolver should
   * ignore that response, and resend the query using TCP". RFC 7766 §5:
   * the query goes to the same server over TCP.
   */
  private openTcp(p: Pending, server: number, now: Instant, s: ResolverStep): void {
    const conn = this.nextConn++;
    const id = this.freshId();
    p.ids.push(id);
    this.byId.set(id, { p, server });
    p.tcp = { conn, reader: new DnsStreamReader(), server };
    this.byConn.set(conn, p);
    p.deadline = now + this.tcpTimeout;
    const srv = this.servers[server]!;
    s.tcp.push({ type: 'open', conn, address: srv.address, port: srv.port, data: frameDns(buildDns(dnsQuery(id, p.q.name, p.q.type))) });
  }

  /** Bytes that arrived on a TCP connection the engine opened. */
  handleTcp(conn: number, bytes: Uint8Array, now: Instant): ResolverStep {
    const s: ResolverStep = { out: [], events: [], tcp: [], deadline: null };
    const p = this.byConn.get(conn);
    if (p === undefined || p.tcp === null) {
      countDrop(this.drops, 'unknown-conn');
    } else {
      const msgs = p.tcp.reader.push(bytes);
      if (msgs === null) {
        countDrop(this.drops, 'tcp-framing');
        p.lastError = 'EBADRESP';
        this.advance(p, now, s);
      } else {
        for (const raw of msgs) {
          const m = parseDns(raw);
          if (!m.ok) {
            countDrop(this.drops, `malformed:${m.reason}`);
            continue;
          }
          const t = this.byId.get(m.value.id);
          if (t === undefined || t.p !== p || !answersQuestion(m.value, p.q)) {
            countDrop(this.drops, 'wrong-question');
            continue;
          }
          this.response(p, m.value, now, s);
          break;
        }
      }
    }
    s.deadline = this.deadline();
    return s;
  }

  /** The transport reports a TCP connection closed (or failed to open). */
  tcpClosed(conn: number, now: Instant): ResolverStep {
    const s: ResolverStep = { out: [], events: [], tcp: [], deadline: null };
    const p = this.byConn.get(conn);
    if (p !== undefined && p.tcp?.conn === conn) {
      this.byConn.delete(conn);
      p.tcp = null;
      this.advance(p, now, s);
    }
    s.deadline = this.deadline();
    return s;
  }

  private response(p: Pending, m: DnsMessage, now: Instant, s: ResolverStep): void {
    const q = p.q;
    const key = `${dnsNameKey(q.name)}|${q.type}`;
    if (m.rcode === DNS_RCODE_NXDOMAIN || m.rcode === DNS_RCODE_NOERROR) {
      const chain = followChain(m, q);
      if (m.rcode === DNS_RCODE_NOERROR && chain.records.length > 0) {
        const ttl = Math.min(chain.ttl, MAX_TTL);
        const result: DnsResult = { ok: true, name: q.name, type: q.type, records: chain.records, cnames: chain.cnames, ttl, fromCache: false };
        this.store(this.cache, this.cacheSize, key, result, ttl, now);
        return this.finish(p, result, s);
      }
      const code: DnsErrorCode = m.rcode === DNS_RCODE_NXDOMAIN ? 'ENOTFOUND' : 'ENODATA';
      const result: DnsResult = { ok: false, name: q.name, type: q.type, code, fromCache: false };
      // RFC 2308 §5: "Like normal answers negative answers have a time to
      // live (TTL). As there is no record in the answer section to which this
      // TTL can be applied, the TTL must be carried by another method. This
      // is done by including the SOA record from the zone in the authority
      // section of the reply. When the authoritative server creates this
      // record its TTL is taken from the minimum of the SOA.MINIMUM field and
      // SOA's TTL." ... "Negative responses without SOA records SHOULD NOT be
      // cached as there is no way to prevent the negative responses looping
      // forever between a pair of servers even with a short TTL."
      const soa = m.authorities.find((r) => r.type === DNS_TYPE_SOA && r.data.kind === 'raw' && r.data.data.length >= 22);
      if (soa !== undefined && soa.data.kind === 'raw') {
        const minimum = getU32(soa.data.data, soa.data.data.length - 4);
        const ttl = Math.min(soa.ttl, minimum, MAX_NEGATIVE_TTL);
        this.store(this.negative, this.negativeCacheSize, key, result, ttl, now);
      }
      return this.finish(p, result, s);
    }
    // RFC 1035 §7.3: "If a resolver gets a server error or other bizarre
    // response, delete the server from SLIST" — here: try the next server.
    countDrop(this.drops, `rcode-${m.rcode}`);
    p.lastError = m.rcode === DNS_RCODE_REFUSED ? 'EREFUSED' : 'ESERVFAIL';
    this.advance(p, now, s);
  }
}

/**
 * RFC 1034 §3.6.2 / §5.3.3: the answer to a query for a name that is an
 * alias holds the CNAME RR(s) and then the records of the canonical name;
 * "the resolver should restart the query at the canonical name" — within
 * the answer section only here (a chain that leaves it is NODATA).
 */
function followChain(m: DnsMessage, q: DnsQuestion): { records: DnsRecord[]; cnames: string[]; ttl: number } {
  let name = dnsNameKey(q.name);
  const cnames: string[] = [];
  let ttl = Infinity;
  const seen = new Set<string>([name]);
  for (let hops = 0; hops <= MAX_CNAME_HOPS; hops++) {
    const here = m.answers.filter((r) => r.class === q.class && dnsNameKey(r.name) === name);
    const recs = here.filter((r) => r.type === q.type);
    if (recs.length > 0) {
      for (const r of recs) ttl = Math.min(ttl, r.ttl);
      return { records: recs, cnames, ttl };
    }
    const c = here.find((r) => r.type === DNS_TYPE_CNAME);
    if (c === undefined || c.data.kind !== 'name') break;
    ttl = Math.min(ttl, c.ttl);
    name = dnsNameKey(c.data.name);
    if (seen.has(name)) break; // a CNAME loop
    seen.add(name);
    cnames.push(c.data.name);
  }
  return { records: [], cnames, ttl: 0 };
}

// ---------------------------------------------------------------------------
// dns.lookup on a transport

/** What the resolver needs from its host: a clock, timers, a UDP socket and (optionally) TCP. */
export interface ResolverTransport {
  now(): Instant;
  /** Calls `fn` at `at` (or at once if it has passed); returns a cancel function. */
  setTimer(at: Instant, fn: () => void): () => void;
  /** Sends one datagram (the resolver's `receiveUdp` gets the answers). */
  sendUdp(d: OutDatagram): void;
  /** Opens / closes TCP connections (the resolver's `receiveTcp` / `tcpClosed` get the bytes and the end). */
  tcp?(action: TcpAction): void;
}

export interface LookupOptions {
  family?: 0 | 4 | 6 | 'IPv4' | 'IPv6';
  all?: boolean;
  order?: 'verbatim' | 'ipv4first' | 'ipv6first';
  verbatim?: boolean;
}

export interface LookupAddress {
  address: string;
  family: 4 | 6;
}

/** An error shaped like Node's dns errors: `getaddrinfo ENOTFOUND name`, with code, syscall and hostname. */
export interface DnsLookupError extends Error {
  code: string;
  errno: number | undefined;
  syscall: string;
  hostname: string;
}

function lookupError(code: string, hostname: string): DnsLookupError {
  const e = new Error(`getaddrinfo ${code} ${hostname}`) as DnsLookupError;
  e.code = code;
  // libuv's errno of EAI_NONAME (ENOTFOUND) and EAI_AGAIN, as Node reports them.
  e.errno = code === 'ENOTFOUND' ? -3008 : code === 'EAI_AGAIN' ? -3001 : undefined;
  e.syscall = 'getaddrinfo';
  e.hostname = hostname;
  return e;
}

export function ipv6ToString(b: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952 §4.2.3: the longest run of two or more zero words becomes '::' (the first when tied).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

type LookupCallback = (err: DnsLookupError | null, address?: string | LookupAddress[], family?: number) => void;

export class StubResolver {
  private readonly waiting = new Map<number, (r: DnsResult) => void>();
  private cancelTimer: (() => void) | null = null;
  private timerAt: Instant | null = null;

  constructor(readonly engine: DnsResolverEngine, private readonly transport: ResolverTransport) {}

  receiveUdp(bytes: Uint8Array, from: From): void {
    this.apply(this.engine.handleUdp(bytes, from, this.transport.now()));
  }

  receiveTcp(conn: number, bytes: Uint8Array): void {
    this.apply(this.engine.handleTcp(conn, bytes, this.transport.now()));
  }

  tcpClosed(conn: number): void {
    this.apply(this.engine.tcpClosed(conn, this.transport.now()));
  }

  /**
   * Ends the resolver (its servers changed, the lease that named them
   * ended): every query still waiting gets ECANCELLED — a lookup reports
   * EAI_AGAIN, as getaddrinfo does for a temporary failure — so none waits
   * forever; the timer is cancelled.
   */
  close(): void {
    const waiting = [...this.waiting.entries()];
    this.waiting.clear();
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.timerAt = null;
    for (const [, cb] of waiting) queueMicrotask(() => cb({ ok: false, name: '', type: 0, code: 'ECANCELLED', fromCache: false }));
  }

  /** One query (A or AAAA or any type) → its result. */
  resolve(name: string, type: number, cb: (r: DnsResult) => void): void {
    const s = this.engine.query(name, type, this.transport.now());
    this.waiting.set(s.handle, cb);
    this.apply(s);
  }

  private apply(s: ResolverStep): void {
    for (const d of s.out) this.transport.sendUdp(d);
    for (const a of s.tcp) {
      if (this.transport.tcp) this.transport.tcp(a);
      else if (a.type === 'open') queueMicrotask(() => this.tcpClosed(a.conn));
    }
    for (const e of s.events) {
      const cb = this.waiting.get(e.handle);
      this.waiting.delete(e.handle);
      // Results are delivered asynchronously, as Node's are, even from the cache.
      if (cb !== undefined) queueMicrotask(() => cb(e.result));
    }
    if (s.deadline !== this.timerAt) {
      this.cancelTimer?.();
      this.cancelTimer = null;
      this.timerAt = s.deadline;
      if (s.deadline !== null) {
        this.cancelTimer = this.transport.setTimer(s.deadline, () => {
          this.timerAt = null;
          this.cancelTimer = null;
          this.apply(this.engine.poll(this.transport.now()));
        });
      }
    }
  }

  /**
   * `dns.lookup(hostname[, options], callback)`: family 0 asks for A and
   * AAAA, 4 or 6 for one; `all` returns every address as {address, family};
   * `order` 'verbatim' (the default, as in Node ≥ 17) keeps the order of the
   * answers — the A answers, then the AAAA answers — 'ipv4first' and
   * 'ipv6first' sort by family. An IP literal is returned as is, and
   * 'localhost' is 127.0.0.1 / ::1 without a query (RFC 6761 §6.3:
   * "Users are free to use localhost names as they would any other domain
   * names. Users may assume that IPv4 and IPv6 address queries for localhost
   * names will always resolve to the respective IP loopback address").
   */
  lookup(hostname: string, options: LookupOptions | number | LookupCallback, cb?: LookupCallback): void {
    const callback = (typeof options === 'function' ? options : cb)!;
    const o: LookupOptions = typeof options === 'object' ? options : typeof options === 'number' ? { family: options as 0 | 4 | 6 } : {};
    const family = o.family === 'IPv4' ? 4 : o.family === 'IPv6' ? 6 : o.family ?? 0;
    const order = o.order ?? (o.verbatim === false ? 'ipv4first' : 'verbatim');
    const done = (err: DnsLookupError | null, list: LookupAddress[]): void => {
      queueMicrotask(() => {
        if (err !== null) return callback(err);
        const sorted = order === 'verbatim' ? list : [...list].sort((a, b) => (order === 'ipv4first' ? a.family - b.family : b.family - a.family));
        if (o.all) callback(null, sorted);
        else callback(null, sorted[0]!.address, sorted[0]!.family);
      });
    };
    if (parseIpv4Addr(hostname) !== null) return done(null, [{ address: hostname, family: 4 }]);
    if (hostname.includes(':')) return done(null, [{ address: hostname, family: 6 }]);
    const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
    if (name.toLowerCase() === 'localhost' || name.toLowerCase().endsWith('.localhost')) {
      const l: LookupAddress[] = [];
      if (family !== 6) l.push({ address: '127.0.0.1', family: 4 });
      if (family !== 4) l.push({ address: '::1', family: 6 });
      return done(null, l);
    }
    const types = family === 4 ? [DNS_TYPE_A] : family === 6 ? [DNS_TYPE_AAAA] : [DNS_TYPE_A, DNS_TYPE_AAAA];
    const results: Array<DnsResult | undefined> = types.map(() => undefined);
    let left = types.length;
    types.forEach((type, i) => {
      this.resolve(name, type, (r) => {
        results[i] = r;
        if (--left > 0) return;
        const list: LookupAddress[] = [];
        for (const res of results) {
          if (!res?.ok) continue;
          for (const rec of res.records) {
            if (rec.data.kind === 'a') list.push({ address: ipv4ToString(rec.data.address), family: 4 });
            else if (rec.data.kind === 'aaaa') list.push({ address: ipv6ToString(rec.data.address), family: 6 });
          }
        }
        if (list.length > 0) return done(null, list);
        // As Node's dns.lookup (getaddrinfo) reports them: a name that does
        // not exist (NXDOMAIN, or no address of the family) is EAI_NONAME,
        // "getaddrinfo ENOTFOUND name"; a server that did not answer, failed
        // or refused is EAI_AGAIN ("temporary failure in name resolution"),
        // "getaddrinfo EAI_AGAIN name".
        const codes = results.map((res) => (res !== undefined && !res.ok ? res.code : 'ENOTFOUND'));
        const temporary = codes.some((c) => c === 'ETIMEOUT' || c === 'ESERVFAIL' || c === 'EREFUSED' || c === 'EBUSY' || c === 'ECANCELLED');
        done(lookupError(temporary ? 'EAI_AGAIN' : 'ENOTFOUND', hostname), []);
      });
    });
  }
}
