/**
 * A DHCPv4 server engine (RFC 2131 §4.3, options of RFC 2132), sans-I/O.
 *
 * `handle(bytes, now)` takes one datagram received on port 67 and returns the
 * replies to send (with the destination RFC 2131 §4.1 prescribes) and the
 * next deadline; `poll(now)` expires offers, leases and declined addresses.
 *
 * State is bounded: every binding is keyed by an address of the pool (or a
 * static address), so there are never more bindings than addresses, and at
 * most `maxOffers` offers are pending at once — a DISCOVER flood from random
 * MACs fills that many and then is a counted drop ('offer-limit') until the
 * offers time out (`offerHold`).
 *
 * Not supported: relay agents. A message with a non-zero 'giaddr' is a
 * counted drop ('relay-unsupported'): the server answers only clients on its
 * own link. Nor does it ping an address before offering it (RFC 2131 §4.3.1
 * "SHOULD probe"): the client's own check and DHCPDECLINE cover that.
 */
import type { Duration, Instant } from '../base/time.ts';
import { seconds } from '../base/time.ts';
import { ipv4InSubnet, ipv4PrefixMask, ipv4ToString } from '../wire/bytes.ts';
import {
  BOOTREPLY, BOOTREQUEST, buildDhcp, DHCP_CLIENT_PORT, DHCP_FLAG_BROADCAST, DHCP_SERVER_PORT, DHCPACK, DHCPDECLINE,
  DHCPDISCOVER, DHCPINFORM, DHCPNAK, DHCPOFFER, DHCPRELEASE, DHCPREQUEST, dhcpMessageType, findDhcpOption, parseDhcp,
} from '../wire/dhcp.ts';
import type { DhcpMessage, DhcpOption } from '../wire/dhcp.ts';
import { getMac } from '../wire/ethernet.ts';
import type { MacAddr } from '../wire/ethernet.ts';
import type { Ipv4Addr } from '../wire/types.ts';
import { countDrop } from './types.ts';
import type { Drops, OutDatagram, Step } from './types.ts';

export interface DhcpServerConfig {
  /** The server's own address on the link: the 'server identifier' (option 54). */
  serverId: Ipv4Addr;
  /** The prefix length of the link (option 1 is its mask). */
  prefixLen: number;
  /** The dynamic pool, inclusive. */
  poolStart: Ipv4Addr;
  poolEnd: Ipv4Addr;
  /** Option 3. */
  router?: Ipv4Addr;
  /** Option 6. */
  dns?: Ipv4Addr[];
  /** Option 15. */
  domainName?: string;
  /** Option 26. */
  mtu?: number;
  /** Option 51, seconds (default 3600). */
  leaseTime?: number;
  /** How long an offer reserves its address (default 30 s). */
  offerHold?: Duration;
  /** How long a declined address stays unusable (default 10 min). */
  declineHold?: Duration;
  /** The most offers pending at once (default min(pool size, 64)). */
  maxOffers?: number;
  /** Fixed addresses by MAC (inside the subnet, outside or inside the pool). */
  staticLeases?: Array<{ mac: MacAddr; addr: Ipv4Addr }>;
}

type BindingState = 'offered' | 'bound' | 'free' | 'declined';

interface Binding {
  addr: Ipv4Addr;
  state: BindingState;
  /** The client's key (client identifier or htype+chaddr); '' for a declined address. */
  client: string;
  /** When the offer, the lease or the decline hold ends (ignored for 'free'). */
  expires: Instant;
}

/** What the server did, for tests and logs. */
export type DhcpServerEvent =
  | { type: 'offer'; addr: Ipv4Addr; client: string }
  | { type: 'ack'; addr: Ipv4Addr; client: string; expires: Instant }
  | { type: 'nak'; client: string }
  | { type: 'release'; addr: Ipv4Addr }
  | { type: 'decline'; addr: Ipv4Addr }
  | { type: 'expire'; addr: Ipv4Addr; state: BindingState };

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

export class DhcpServer {
  readonly drops: Drops = {};
  private readonly cfg: Required<Omit<DhcpServerConfig, 'router' | 'dns' | 'domainName' | 'mtu' | 'staticLeases'>> & DhcpServerConfig;
  /** Bindings by address; Map order is the order of last change, so the first 'free' is the least recently used. */
  private readonly bindings = new Map<Ipv4Addr, Binding>();
  /** Client key → address of its binding (of any state but 'declined'). */
  private readonly byClient = new Map<string, Ipv4Addr>();
  private readonly statics = new Map<string, Ipv4Addr>();
  private readonly staticAddrs = new Set<Ipv4Addr>();
  /** Pool addresses at or after this one have never been used. */
  private fresh: Ipv4Addr;
  private offers = 0;

  constructor(config: DhcpServerConfig) {
    const poolSize = config.poolEnd - config.poolStart + 1;
    if (!(poolSize >= 1)) throw new Error('DhcpServer: poolEnd must not be below poolStart');
    for (const a of [config.poolStart, config.poolEnd]) {
      if (!ipv4InSubnet(a, config.serverId, config.prefixLen)) throw new Error(`DhcpServer: pool address ${ipv4ToString(a)} is not on the server's subnet`);
    }
    this.cfg = {
      leaseTime: 3600,
      offerHold: seconds(30),
      declineHold: seconds(600),
      maxOffers: Math.min(poolSize, 64),
      ...config,
    };
    this.fresh = config.poolStart;
    for (const s of config.staticLeases ?? []) {
      // The key of a client without a client identifier: htype 1 and its chaddr.
      this.statics.set(`01${s.mac.toString(16).padStart(12, '0')}`, s.addr);
      this.staticAddrs.add(s.addr);
    }
  }

  /** Bindings held now (offers, leases, declined and remembered free addresses). */
  get size(): number {
    return this.bindings.size;
  }

  /** Offers pending now. */
  get pendingOffers(): number {
    return this.offers;
  }

  /** The binding of an address, for tests and status. */
  binding(addr: Ipv4Addr): { state: BindingState; client: string; expires: Instant } | undefined {
    const b = this.bindings.get(addr);
    return b && { state: b.state, client: b.client, expires: b.expires };
  }

  /** Expires what is due and reports the next deadline. */
  poll(now: Instant): Step<DhcpServerEvent> {
    const events: DhcpServerEvent[] = [];
    this.expire(now, events);
    return { out: [], events, deadline: this.deadline() };
  }

  /** One DHCP message received on port 67. */
  handle(bytes: Uint8Array, now: Instant): Step<DhcpServerEvent> {
    const events: DhcpServerEvent[] = [];
    const out: OutDatagram[] = [];
    this.expire(now, events);
    const parsed = parseDhcp(bytes);
    if (!parsed.ok) {
      countDrop(this.drops, `malformed:${parsed.reason}`);
    } else {
      this.dispatch(parsed.value, now, out, events);
    }
    return { out, events, deadline: this.deadline() };
  }

  private dispatch(m: DhcpMessage, now: Instant, out: OutDatagram[], events: DhcpServerEvent[]): void {
    if (m.op !== BOOTREQUEST) return countDrop(this.drops, 'not-request');
    if (m.htype !== 1 || m.chaddr.length !== 6) return countDrop(this.drops, 'not-ethernet');
    if (m.giaddr !== 0) return countDrop(this.drops, 'relay-unsupported');
    const type = dhcpMessageType(m);
    if (type === undefined) return countDrop(this.drops, 'bootp-unsupported');
    const client = this.clientKey(m);
    switch (type) {
      case DHCPDISCOVER: return this.discover(m, client, now, out, events);
      case DHCPREQUEST: return this.request(m, client, now, out, events);
      case DHCPDECLINE: return this.decline(m, client, now, events);
      case DHCPRELEASE: return this.release(m, client, now, events);
      case DHCPINFORM: return this.inform(m, out);
      default: return countDrop(this.drops, 'unexpected-type');
    }
  }

  /**
   * RFC 2131 §4.2: "If the client supplies a 'client identifier', the client
   * MUST use the same 'client identifier' in all subsequent messages, and the
   * server MUST use that identifier to identify the client. If the client does
   * not provide a 'client identifier' option, the server MUST use the contents
   * of the 'chaddr' field to identify the client."
   */
  private clientKey(m: DhcpMessage): string {
    const id = findDhcpOption(m, 'client-id');
    return id ? `id:${hex(id.data)}` : `01${hex(m.chaddr)}`;
  }

  private inPool(a: Ipv4Addr): boolean {
    return a >= this.cfg.poolStart && a <= this.cfg.poolEnd;
  }

  /** Whether `a` may be given to `client` now. */
  private available(a: Ipv4Addr, client: string): boolean {
    if (!this.inPool(a) || a === this.cfg.serverId || this.staticAddrs.has(a)) return false;
    const b = this.bindings.get(a);
    return b === undefined || b.state === 'free' || b.client === client && b.state !== 'declined';
  }

  /**
   * RFC 2131 §4.3.1: "If an address is available, the new address SHOULD be
   * chosen as follows:
   *   o The client's current address as recorded in the client's current
   *     binding, ELSE
   *   o The client's previous address as recorded in the client's (now
   *     expired or released) binding, if that address is in the server's
   *     pool of available addresses and not already allocated, ELSE
   *   o The address requested in the 'Requested IP Address' option, if that
   *     address is valid and not already allocated, ELSE
   *   o A new address allocated from the server's pool of available
   *     addresses; the address is selected based on the subnet from which
   *     the message was received (if 'giaddr' is 0) or on the address of
   *     the relay agent that forwarded the message ('giaddr' when not 0)."
   */
  private choose(m: DhcpMessage, client: string): Ipv4Addr | null {
    const fixed = this.statics.get(`01${hex(m.chaddr)}`);
    if (fixed !== undefined) return fixed;
    const current = this.byClient.get(client);
    if (current !== undefined && this.available(current, client)) return current;
    const requested = findDhcpOption(m, 'requested-ip')?.addr;
    if (requested !== undefined && this.available(requested, client)) return requested;
    if (this.fresh <= this.cfg.poolEnd) {
      while (this.fresh <= this.cfg.poolEnd && (this.bindings.has(this.fresh) || !this.available(this.fresh, client))) this.fresh++;
      if (this.fresh <= this.cfg.poolEnd) return this.fresh; // taken when offered: the loop skips it next time
    }
    // The least recently freed address (Map order).
    for (const b of this.bindings.values()) if (b.state === 'free') return b.addr;
    return null;
  }

  private set(addr: Ipv4Addr, state: BindingState, client: string, expires: Instant): void {
    const old = this.bindings.get(addr);
    if (old !== undefined) {
      if (old.state === 'offered') this.offers--;
      if (old.client !== '' && old.client !== client && this.byClient.get(old.client) === addr) this.byClient.delete(old.client);
      this.bindings.delete(addr); // re-insert at the end: Map order is the order of last change
    }
    if (state === 'offered') this.offers++;
    this.bindings.set(addr, { addr, state, client, expires });
    if (client !== '') {
      const prev = this.byClient.get(client);
      if (prev !== undefined && prev !== addr) {
        const p = this.bindings.get(prev);
        // A client holds one binding: its older offer is withdrawn.
        if (p !== undefined && p.client === client && p.state === 'offered') this.set(prev, 'free', client, 0);
      }
      this.byClient.set(client, addr);
    }
  }

  private discover(m: DhcpMessage, client: string, now: Instant, out: OutDatagram[], events: DhcpServerEvent[]): void {
    const addr = this.choose(m, client);
    if (addr === null) return countDrop(this.drops, 'pool-exhausted');
    const b = this.bindings.get(addr);
    const renewsOwn = b !== undefined && b.client === client && (b.state === 'offered' || b.state === 'bound');
    if (!renewsOwn && !this.staticAddrs.has(addr) && this.offers >= this.cfg.maxOffers) {
      return countDrop(this.drops, 'offer-limit');
    }
    // An address already bound to this client stays bound; otherwise it is reserved for offerHold.
    if (!(b !== undefined && b.client === client && b.state === 'bound') && !this.staticAddrs.has(addr)) {
      this.set(addr, 'offered', client, now + this.cfg.offerHold);
    }
    events.push({ type: 'offer', addr, client });
    out.push(this.reply(m, DHCPOFFER, addr, true));
  }

  /**
   * RFC 2131 §4.3.2. "If the DHCPREQUEST message contains a 'server
   * identifier' option, the message is in response to a DHCPOFFER message.
   * Otherwise, the message is a request to verify or extend an existing
   * lease."
   */
  private request(m: DhcpMessage, client: string, now: Instant, out: OutDatagram[], events: DhcpServerEvent[]): void {
    const serverId = findDhcpOption(m, 'server-id')?.addr;
    const requested = findDhcpOption(m, 'requested-ip')?.addr;
    if (serverId !== undefined) {
      // SELECTING: "Client inserts the address of the selected server in
      // 'server identifier', 'ciaddr' MUST be zero, 'requested IP address'
      // MUST be filled in with the yiaddr value from the chosen DHCPOFFER."
      if (serverId !== this.cfg.serverId) {
        // "Therefore, the servers may not receive a specific DHCPREQUEST from
        // which they can decide whether or not the client has accepted the
        // offer." A request naming another server declines our offer.
        const mine = this.byClient.get(client);
        const b = mine === undefined ? undefined : this.bindings.get(mine);
        if (b !== undefined && b.state === 'offered') this.set(b.addr, 'free', client, 0);
        return;
      }
      if (requested === undefined || m.ciaddr !== 0) return this.nak(m, client, out, events);
      return this.commit(m, client, requested, now, out, events);
    }
    if (requested !== undefined) {
      // INIT-REBOOT: "'server identifier' MUST NOT be filled in, 'requested
      // IP address' option MUST be filled in with client's notion of its
      // previously assigned address. 'ciaddr' MUST be zero. The client is
      // seeking to verify a previously allocated, cached configuration.
      // Server SHOULD send a DHCPNAK message to the client if the 'requested
      // IP address' is incorrect, or is on the wrong network. ... If the DHCP
      // server has no record of this client, then it MUST remain silent".
      if (!ipv4InSubnet(requested, this.cfg.serverId, this.cfg.prefixLen)) return this.nak(m, client, out, events);
      const fixed = this.statics.get(`01${hex(m.chaddr)}`);
      const known = fixed ?? this.byClient.get(client);
      if (known === undefined) {
        // No record of this client; but an address bound to another client is certainly wrong.
        const b = this.bindings.get(requested);
        if (b !== undefined && b.state === 'bound' && b.client !== client) return this.nak(m, client, out, events);
        return countDrop(this.drops, 'init-reboot-unknown');
      }
      if (known !== requested) return this.nak(m, client, out, events);
      return this.commit(m, client, requested, now, out, events);
    }
    // RENEWING / REBINDING: "'server identifier' MUST NOT be filled in,
    // 'requested IP address' option MUST NOT be filled in, 'ciaddr' MUST be
    // filled in with client's IP address." (Renewing is unicast to us,
    // rebinding broadcast; the server's answer is the same: extend the lease
    // it holds for this client, or refuse.)
    if (m.ciaddr === 0) return countDrop(this.drops, 'request-without-address');
    const b = this.bindings.get(m.ciaddr);
    const fixed = this.statics.get(`01${hex(m.chaddr)}`);
    if (fixed === m.ciaddr || (b !== undefined && b.client === client && b.state === 'bound')) {
      return this.commit(m, client, m.ciaddr, now, out, events);
    }
    if (b !== undefined && b.state !== 'free' && b.client !== client) return this.nak(m, client, out, events);
    // A lease we have no record of (another server's, or forgotten): stay silent while
    // rebinding so its own server may answer; an address outside our subnet is wrong.
    if (!ipv4InSubnet(m.ciaddr, this.cfg.serverId, this.cfg.prefixLen)) return this.nak(m, client, out, events);
    countDrop(this.drops, 'renew-unknown');
  }

  private commit(m: DhcpMessage, client: string, addr: Ipv4Addr, now: Instant, out: OutDatagram[], events: DhcpServerEvent[]): void {
    const fixed = this.statics.get(`01${hex(m.chaddr)}`);
    const ok = fixed !== undefined ? fixed === addr : this.available(addr, client) && (() => {
      const b = this.bindings.get(addr);
      // Only an address offered or leased to this client, or a free one it asks for again.
      return b === undefined ? false : b.client === client || b.state === 'free';
    })();
    if (!ok) return this.nak(m, client, out, events);
    const expires = now + seconds(this.cfg.leaseTime);
    if (fixed === undefined) this.set(addr, 'bound', client, expires);
    events.push({ type: 'ack', addr, client, expires });
    out.push(this.reply(m, DHCPACK, addr, true));
  }

  private nak(m: DhcpMessage, client: string, out: OutDatagram[], events: DhcpServerEvent[]): void {
    events.push({ type: 'nak', client });
    out.push(this.reply(m, DHCPNAK, 0, false));
  }

  /**
   * RFC 2131 §4.3.3: "If the server receives a DHCPDECLINE message, the
   * client has discovered through some other means that the suggested
   * network address is already in use. The server MUST mark the network
   * address as not available and SHOULD notify the local system
   * administrator of a possible configuration problem."
   */
  private decline(m: DhcpMessage, client: string, now: Instant, events: DhcpServerEvent[]): void {
    const addr = findDhcpOption(m, 'requested-ip')?.addr;
    if (addr === undefined) return countDrop(this.drops, 'decline-without-address');
    const b = this.bindings.get(addr);
    if (b === undefined || b.client !== client) return countDrop(this.drops, 'decline-not-client');
    if (this.byClient.get(client) === addr) this.byClient.delete(client);
    this.set(addr, 'declined', '', now + this.cfg.declineHold);
    events.push({ type: 'decline', addr });
  }

  /**
   * RFC 2131 §4.3.4: "Upon receipt of a DHCPRELEASE message, the server
   * marks the network address as not allocated. The server SHOULD retain a
   * record of the client's initialization parameters for possible reuse in
   * response to subsequent requests from the client."
   */
  private release(m: DhcpMessage, client: string, now: Instant, events: DhcpServerEvent[]): void {
    const b = this.bindings.get(m.ciaddr);
    if (b === undefined || b.client !== client || b.state !== 'bound') return countDrop(this.drops, 'release-not-client');
    this.set(m.ciaddr, 'free', client, now);
    events.push({ type: 'release', addr: m.ciaddr });
  }

  /**
   * RFC 2131 §4.3.5: "The server responds to a DHCPINFORM message by sending
   * a DHCPACK message directly to the address given in the 'ciaddr' field of
   * the DHCPINFORM message. The server MUST NOT send a lease expiration time
   * to the client and SHOULD NOT fill in 'yiaddr'."
   */
  private inform(m: DhcpMessage, out: OutDatagram[]): void {
    if (m.ciaddr === 0) return countDrop(this.drops, 'inform-without-address');
    out.push(this.reply(m, DHCPACK, 0, false));
  }

  /**
   * Builds a reply (RFC 2131 Table 3) and chooses its destination by §4.1:
   * "If the 'giaddr' field is zero and the 'ciaddr' field is nonzero, then
   * the server unicasts DHCPOFFER and DHCPACK messages to the address in
   * 'ciaddr'. If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit
   * is set, then the server broadcasts DHCPOFFER and DHCPACK messages to
   * 0xffffffff. If the broadcast bit is not set and 'giaddr' is zero and
   * 'ciaddr' is zero, then the server unicasts DHCPOFFER and DHCPACK messages
   * to the client's hardware address and 'yiaddr' address. In all cases, when
   * 'giaddr' is zero, the server broadcasts any DHCPNAK messages to
   * 0xffffffff."
   */
  private reply(m: DhcpMessage, type: number, yiaddr: Ipv4Addr, lease: boolean): OutDatagram {
    const c = this.cfg;
    const options: DhcpOption[] = [{ kind: 'message-type', type }, { kind: 'server-id', addr: c.serverId }];
    if (type !== DHCPNAK) {
      // Table 3: 'IP address lease time' MUST be in DHCPOFFER and in DHCPACK
      // answering a DHCPREQUEST, and MUST NOT be in a DHCPACK answering a DHCPINFORM.
      if (lease) {
        options.push({ kind: 'lease-time', seconds: c.leaseTime });
        // RFC 2131 §4.4.5: "T1 defaults to (0.5 * duration_of_lease). T2
        // defaults to (0.875 * duration_of_lease)."
        options.push({ kind: 'renewal-time', seconds: Math.floor(c.leaseTime * 0.5) });
        options.push({ kind: 'rebinding-time', seconds: Math.floor(c.leaseTime * 0.875) });
      }
      options.push({ kind: 'subnet-mask', mask: ipv4PrefixMask(c.prefixLen) });
      if (c.router !== undefined) options.push({ kind: 'router', addrs: [c.router] });
      if (c.dns !== undefined && c.dns.length > 0) options.push({ kind: 'dns-servers', addrs: c.dns });
      if (c.domainName !== undefined) options.push({ kind: 'domain-name', name: c.domainName });
      if (c.mtu !== undefined) options.push({ kind: 'mtu', mtu: c.mtu });
    }
    const reply: DhcpMessage = {
      op: BOOTREPLY, htype: m.htype, hops: 0, xid: m.xid, secs: 0, flags: m.flags,
      // Table 3: 'ciaddr' is 0 in DHCPOFFER and DHCPNAK, "'ciaddr' from DHCPREQUEST or 0" in DHCPACK.
      ciaddr: type === DHCPACK ? m.ciaddr : 0,
      yiaddr, siaddr: 0, giaddr: 0, chaddr: m.chaddr.slice(), sname: '', file: '', options,
    };
    const payload = buildDhcp(reply);
    const base = { payload, port: DHCP_CLIENT_PORT, srcPort: DHCP_SERVER_PORT, srcAddress: ipv4ToString(c.serverId) };
    if (type === DHCPNAK) return { ...base, address: '255.255.255.255', broadcast: true };
    if (m.ciaddr !== 0) return { ...base, address: ipv4ToString(m.ciaddr) };
    if ((m.flags & DHCP_FLAG_BROADCAST) !== 0) return { ...base, address: '255.255.255.255', broadcast: true };
    return { ...base, address: ipv4ToString(yiaddr), mac: getMac(m.chaddr, 0) };
  }

  private expire(now: Instant, events: DhcpServerEvent[]): void {
    for (const b of [...this.bindings.values()]) {
      if (b.state === 'free' || b.expires > now) continue;
      events.push({ type: 'expire', addr: b.addr, state: b.state });
      // An expired offer or lease is remembered as the client's previous address (§4.3.1).
      this.set(b.addr, 'free', b.client, now);
    }
  }

  private deadline(): Instant | null {
    let d: Instant | null = null;
    for (const b of this.bindings.values()) if (b.state !== 'free' && (d === null || b.expires < d)) d = b.expires;
    return d;
  }
}
