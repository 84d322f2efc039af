/**
 * The gateway's ICMP echo relay: echo requests from the guest to any
 * address but the gateway's own (which the stack answers itself) are sent
 * on through an unprivileged ICMP echo socket of the host — the native
 * addon's IcmpSocket, socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) /
 * socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6), allowed when the process's
 * group is inside net.ipv4.ping_group_range — as slirp4netns (libslirp
 * ip_icmp.c) and pasta (icmp.c) do.
 *
 * The kernel replaces the identifier of every request with the socket's
 * own and returns only the replies carrying it, so each guest echo flow —
 * (guest address, destination, guest identifier) — gets a socket of its
 * own (asked to bind the guest's identifier, else the kernel picks one),
 * and a reply read from it is handed back to the guest with the guest's
 * identifier, the sequence number and data unchanged, from the address the
 * guest pinged (RFC 792: "The echoer returns these same values in the echo
 * reply"; RFC 4443 §4.2: "The source address of an Echo Reply sent in
 * response to a unicast Echo Request message MUST be the same as the
 * destination address of that Echo Request message"). The request leaves
 * with the guest's TTL / hop limit; the reply reaches the guest with the
 * one the host's reply arrived with.
 *
 * Flows are bounded (`maxFlows`; a request of a new flow beyond it is
 * dropped and counted as `limited`) and closed after `idleTimeoutMs`
 * without a request (EchoFlowTable, sans-I/O: time is an argument).
 *
 * When the socket cannot be opened (EACCES: the group is outside
 * ping_group_range; EAFNOSUPPORT / EPROTONOSUPPORT; no addon), the request
 * is dropped and counted (`unavailable`), the reason logged once per
 * family, and that family is not tried again (libslirp's
 * `disable_ping_sock`). The guest gets no answer: slirp4netns's fallback
 * sends a UDP "pseudo-ping" datagram that hosts do not answer either (an
 * ICMP net unreachable only when that send itself fails), and pasta logs
 * and drops.
 */
import { constants } from 'node:os';
import { parseIpv6Addr, type IpAddr } from '../wire/ipv6.ts';
import { parseIpv4Addr } from '../wire/bytes.ts';
import { sendForwardedEchoReply, sendForwardedIcmpError, sendForwardedUnreachable, type ForwardedEcho, type Forwarding, type UnreachableKind } from '../stack/forward.ts';
import { loadTunAddon } from '../links/tun.ts';

/** errno number → name (ENETUNREACH, …). */
const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

function sameAddr(a: string, b: string): boolean {
  return a === b || (parseIpv4Addr(a) ?? parseIpv6Addr(a)) === (parseIpv4Addr(b) ?? parseIpv6Addr(b) ?? NaN);
}

/** What the relay needs of the native IcmpSocket (native/index.d.ts). */
export interface EchoSocket {
  readonly ident: number;
  bind(ident: number): number;
  send(dst: string, ident: number, seq: number, data: Uint8Array, ttl?: number): number;
  /** `icmpType` / `icmpCode` ≥ 0: an ICMP error about a request (the message is that request), from `from`. */
  start(onMessage: (message: Buffer, from: string, ttl: number, icmpType: number, icmpCode: number) => void): void;
  close(): void;
}

/** One guest echo flow. */
export interface EchoFlow<S> {
  readonly key: string;
  /** The guest. */
  readonly src: IpAddr;
  /** The address the guest pinged. */
  readonly dst: IpAddr;
  /** The host address the requests go to. */
  readonly target: string;
  /** The guest's identifier. */
  readonly ident: number;
  readonly sock: S;
  /** Last request (ms, the table's clock). */
  lastUsed: number;
  /** The guest's latest requests (their IP packets' first octets) by sequence number, at most 16: what an ICMP error about one quotes. */
  quotes?: Map<number, Uint8Array>;
}

/** The key of a guest echo flow: (guest, destination, identifier); an IPv6 address is 8 code units, a number prints as digits. */
export function echoFlowKey(src: IpAddr, dst: IpAddr, ident: number): string {
  return typeof src === 'number' ? `${src}>${dst as number}#${ident}` : `${src}${dst as string}#${ident}`;
}

/**
 * A bounded table of echo flows with an idle timeout. Sans-I/O: `now` (ms)
 * is given to every call; `expire(now)` returns the flows it removed (their
 * sockets are the caller's to close).
 */
export class EchoFlowTable<S> {
  private readonly flows = new Map<string, EchoFlow<S>>();
  constructor(
    readonly maxFlows: number,
    readonly idleTimeoutMs: number,
  ) {}

  get size(): number {
    return this.flows.size;
  }

  /** The flow of this key, its idle clock restarted. */
  use(key: string, now: number): EchoFlow<S> | undefined {
    const f = this.flows.get(key);
    if (f) {
      f.lastUsed = now;
      // Map order = least recently used first (expire stops at the first young one).
      this.flows.delete(key);
      this.flows.set(key, f);
    }
    return f;
  }

  /** Whether a new flow fits (after expiring idle ones). */
  hasRoom(now: number, expired: EchoFlow<S>[]): boolean {
    expired.push(...this.expire(now));
    return this.flows.size < this.maxFlows;
  }

  add(flow: Omit<EchoFlow<S>, 'key' | 'lastUsed'>, now: number): EchoFlow<S> {
    const f: EchoFlow<S> = { ...flow, key: echoFlowKey(flow.src, flow.dst, flow.ident), lastUsed: now };
    this.flows.set(f.key, f);
    return f;
  }

  /** Removes and returns the flows idle for idleTimeoutMs or longer. */
  expire(now: number): EchoFlow<S>[] {
    const out: EchoFlow<S>[] = [];
    for (const f of this.flows.values()) {
      if (now - f.lastUsed < this.idleTimeoutMs) break;
      out.push(f);
    }
    for (const f of out) this.flows.delete(f.key);
    return out;
  }

  delete(key: string): EchoFlow<S> | undefined {
    const f = this.flows.get(key);
    if (f) this.flows.delete(key);
    return f;
  }

  values(): IterableIterator<EchoFlow<S>> {
    return this.flows.values();
  }
}

export interface EchoRelayStats {
  /** Echo requests from the guest to relay (policy-denied ones included). */
  requests: number;
  /** Requests written to a host echo socket. */
  sent: number;
  /** Replies handed back to the guest. */
  replies: number;
  /** Flows opened (each a host echo socket). */
  flows: number;
  active: number;
  /** Requests refused by --allow/--deny (before any socket). */
  denied: number;
  /** Requests of new flows dropped at maxFlows. */
  limited: number;
  /** Requests dropped because no echo socket could be opened (ping_group_range, no addon). */
  unavailable: number;
  /** Requests the host socket refused (sendmsg errors: unreachable network, …). */
  sendErrors: number;
  /** Replies from an address other than the flow's target, or not echo replies: dropped. */
  unmatched: number;
  /** ICMP errors from beyond the host about relayed requests (Time Exceeded, Destination Unreachable), passed on to the guest. */
  errors: number;
}

export interface EchoRelayOptions {
  maxFlows: number;
  idleTimeoutMs: number;
  /** Opens a host echo socket of a family; throws an Error with `code` when it cannot. */
  open: (family: 4 | 6) => EchoSocket;
  /** Hands a reply to the guest: from `dst` (the address it pinged) to `src`, with its identifier. */
  reply: (flow: EchoFlow<EchoSocket>, seq: number, data: Uint8Array, ttl: number) => void;
  /** Hands an ICMP error about the guest's request (`quote`) to the guest, from `from` (the router that sent it). */
  error?: (flow: EchoFlow<EchoSocket>, from: string, type: number, code: number, quote: Uint8Array) => void;
  log: (line: string) => void;
  /** ms clock (default Date.now). */
  now?: () => number;
}

/** The relay: flows, their sockets, and the counters. */
export class EchoRelay {
  readonly stats: EchoRelayStats = { requests: 0, sent: 0, replies: 0, flows: 0, active: 0, denied: 0, limited: 0, unavailable: 0, sendErrors: 0, unmatched: 0, errors: 0 };
  private readonly table: EchoFlowTable<EchoSocket>;
  private readonly disabled: { 4: string | null; 6: string | null } = { 4: null, 6: null };
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly opts: EchoRelayOptions) {
    this.table = new EchoFlowTable(Math.max(1, opts.maxFlows), opts.idleTimeoutMs);
    this.now = opts.now ?? Date.now;
  }

  /**
   * One echo request of the guest (src → dst, identifier, sequence number,
   * data, TTL), already allowed by policy, to be sent to `target` on the
   * host. Returns null, or the errno name (ENETUNREACH, EHOSTUNREACH, …)
   * when the host socket refused to send it.
   */
  request(src: IpAddr, dst: IpAddr, target: string, ident: number, seq: number, data: Uint8Array, ttl: number, quote?: Uint8Array): string | null {
    if (this.closed) return null;
    this.stats.requests++;
    const now = this.now();
    const key = echoFlowKey(src, dst, ident);
    let flow = this.table.use(key, now);
    if (!flow) {
      const family: 4 | 6 = target.includes(':') ? 6 : 4;
      if (this.disabled[family] !== null) {
        this.stats.unavailable++;
        return null;
      }
      const expired: EchoFlow<EchoSocket>[] = [];
      const room = this.table.hasRoom(now, expired);
      for (const f of expired) f.sock.close();
      if (!room) {
        this.stats.limited++;
        this.stats.active = this.table.size;
        return null;
      }
      let sock: EchoSocket;
      try {
        sock = this.opts.open(family);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        this.stats.unavailable++;
        // Lasting reasons disable the family (libslirp's disable_ping_sock); EMFILE and the like do not.
        if (err.code === undefined || ['EACCES', 'EPERM', 'EAFNOSUPPORT', 'EPROTONOSUPPORT', 'ERR_SYNACK_TUN_UNAVAILABLE'].includes(err.code)) {
          this.disabled[family] = err.message;
          this.opts.log(`icmp: echo requests to IPv${family} destinations are not relayed: ${err.message}`);
        }
        return null;
      }
      // The guest's identifier when free (then the host's requests carry it too).
      sock.bind(ident);
      const f = this.table.add({ src, dst, target, ident, sock }, now);
      flow = f;
      this.stats.flows++;
      this.stats.active = this.table.size;
      sock.start((msg, from, replyTtl, type, code) => (type >= 0 ? this.onError(f, msg, from, type, code) : this.onReply(f, msg, from, replyTtl)));
      this.arm();
    }
    if (quote) {
      const q = (flow.quotes ??= new Map());
      q.delete(seq);
      q.set(seq, quote);
      if (q.size > 16) q.delete(q.keys().next().value!);
    }
    const n = flow.sock.send(flow.target, ident, seq, data, ttl);
    if (n >= 0) {
      this.stats.sent++;
      return null;
    }
    this.stats.sendErrors++;
    return ERRNO_NAMES.get(-n) ?? ERRNO_NAMES.get(n) ?? 'EIO';
  }

  private onReply(flow: EchoFlow<EchoSocket>, msg: Buffer, from: string, ttl: number): void {
    // The ICMP header without the IP header: type (0 / 129), code, checksum, identifier (the socket's), sequence number.
    const echoReply = flow.target.includes(':') ? 129 : 0;
    if (this.closed || msg.length < 8 || msg[0] !== echoReply || !sameAddr(from, flow.target)) {
      this.stats.unmatched++;
      return;
    }
    this.stats.replies++;
    this.opts.reply(flow, msg.readUInt16BE(6), msg.subarray(8), ttl);
  }

  /** An ICMP error about one of the flow's requests (`msg`: the request as the host sent it). */
  private onError(flow: EchoFlow<EchoSocket>, msg: Buffer, from: string, type: number, code: number): void {
    const quote = msg.length >= 8 ? flow.quotes?.get(msg.readUInt16BE(6)) : undefined;
    if (this.closed || !quote || !this.opts.error) {
      this.stats.unmatched++;
      return;
    }
    this.stats.errors++;
    this.opts.error(flow, from, type, code, quote);
  }

  /** An unref'd timer closes idle flows (every half idle timeout while any is open). */
  private arm(): void {
    if (this.sweeper) return;
    const period = Math.max(100, Math.floor(this.opts.idleTimeoutMs / 2));
    this.sweeper = setInterval(() => {
      for (const f of this.table.expire(this.now())) f.sock.close();
      this.stats.active = this.table.size;
      if (this.table.size === 0 && this.sweeper) {
        clearInterval(this.sweeper);
        this.sweeper = null;
      }
    }, period);
    this.sweeper.unref();
  }

  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const f of [...this.table.values()]) {
      this.table.delete(f.key);
      f.sock.close();
    }
    this.stats.active = 0;
  }
}

export interface GatewayEchoOptions {
  maxFlows: number;
  idleTimeoutMs: number;
  /** The forwarding interface (made after the relay: read when used). */
  forwarding: () => Forwarding;
  /** Wakes the stack's driver after a packet was queued. */
  kick: () => void;
  isClosed: () => boolean;
  /** The host address of a destination, or null when the policy refuses it. */
  targetFor: (dst: IpAddr) => string | null;
  /** Which Destination Unreachable a host errno becomes (gateway.ts unreachableFor). */
  kindFor: (code: string | undefined) => UnreachableKind | 'refused';
  log: (line: string) => void;
}

/**
 * The gateway's echo relay on the addon's IcmpSocket, and its `echo`
 * callback for Stack.enableForwarding: policy first (a denied request is
 * counted, no socket), then the relay; replies and routers' errors back to
 * the guest through the forwarding interface.
 */
export function gatewayEcho(o: GatewayEchoOptions): { relay: EchoRelay; onEcho: (e: ForwardedEcho) => void } {
  const relay = new EchoRelay({
    maxFlows: o.maxFlows,
    idleTimeoutMs: o.idleTimeoutMs,
    open: (family) => new (loadTunAddon() as unknown as { IcmpSocket: new (f: 4 | 6) => EchoSocket }).IcmpSocket(family),
    reply: (flow, seq, data, ttl) => {
      sendForwardedEchoReply(o.forwarding(), flow.dst, flow.src, flow.ident, seq, data, ttl);
      o.kick();
    },
    error: (_flow, from, type, code, quote) => {
      // A router's Time Exceeded or Destination Unreachable about the request: ping -t and traceroute work through the gateway.
      const a = parseIpv4Addr(from) ?? parseIpv6Addr(from);
      if (a !== null && typeof a === (quote[0]! >>> 4 === 4 ? 'number' : 'string')) sendForwardedIcmpError(o.forwarding(), a, type, code, quote);
      o.kick();
    },
    log: o.log,
  });
  const onEcho = (e: ForwardedEcho): void => {
    if (o.isClosed()) return;
    const target = o.targetFor(e.dst);
    if (target === null) {
      relay.stats.requests++;
      relay.stats.denied++;
      return;
    }
    const err = relay.request(e.src, e.dst, target, e.ident, e.seq, e.data, e.ttl, e.quote);
    if (err !== null) {
      // As libslirp when its echo socket's sendto fails: an ICMP Destination
      // Unreachable to the guest (RFC 1122 §3.2.2.1 codes; no route: net).
      // (After the stack's input: the callback must not re-enter it.)
      const kind = o.kindFor(err);
      process.nextTick(() => {
        if (o.isClosed()) return;
        sendForwardedUnreachable(o.forwarding(), e, kind === 'refused' ? 'host' : kind);
        o.kick();
      });
    }
  };
  return { relay, onEcho };
}
