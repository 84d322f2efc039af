/**
 * A DHCPv4 client engine (RFC 2131 §4.4, Figure 5), sans-I/O.
 *
 *   start(now)            leave the idle state: INIT (or INIT-REBOOT with a remembered address)
 *   handle(bytes, now)    one datagram received on port 68
 *   poll(now)             timers: retransmission, T1, T2, lease expiry
 *   decline(now)          the host found the bound address in use (its ARP probe): DHCPDECLINE, then INIT
 *   release(now)          DHCPRELEASE and back to idle
 *
 * Each returns the datagrams to send, the events (bound, expired, nak) and
 * the next deadline. Randomness (xid, the start delay, the ±1 s of the
 * retransmission delays) comes from the seeded Rng it is given.
 */
import type { Duration, Instant } from '../base/time.ts';
import { seconds, US_PER_S } from '../base/time.ts';
import type { Rng } from '../base/rng.ts';
import { ipv4ToString } from '../wire/bytes.ts';
import {
  BOOTREPLY, BOOTREQUEST, buildDhcp, DHCP_CLIENT_PORT, DHCP_FLAG_BROADCAST, DHCP_SERVER_PORT, DHCPACK, DHCPDECLINE,
  DHCPDISCOVER, DHCPNAK, DHCPOFFER, DHCPRELEASE, DHCPREQUEST, dhcpMessageType, findDhcpOption, parseDhcp,
} from '../wire/dhcp.ts';
import type { DhcpMessage, DhcpOption } from '../wire/dhcp.ts';
import { macToBytes } from '../wire/ethernet.ts';
import type { MacAddr } from '../wire/ethernet.ts';
import type { Ipv4Addr } from '../wire/types.ts';
import { countDrop } from './types.ts';
import type { Drops, OutDatagram, Step } from './types.ts';

export type DhcpClientState =
  | 'IDLE' | 'INIT' | 'SELECTING' | 'REQUESTING' | 'BOUND' | 'RENEWING' | 'REBINDING' | 'INIT-REBOOT' | 'REBOOTING';

export interface DhcpLease {
  addr: Ipv4Addr;
  prefix: number;
  router: Ipv4Addr | null;
  dns: Ipv4Addr[];
  mtu: number | null;
  domainName: string | null;
  /** Seconds, from option 51. */
  leaseTime: number;
  serverId: Ipv4Addr;
  /** Absolute times (µs on the caller's clock): T1, T2 and the end of the lease. */
  t1: Instant;
  t2: Instant;
  expires: Instant;
}

export type DhcpClientEvent =
  | { type: 'bound'; lease: DhcpLease }
  | { type: 'expired'; lease: DhcpLease }
  | { type: 'nak'; state: DhcpClientState }
  /** The host found the lease's address in use (its ARP probe): DHCPDECLINE sent, INIT again after 10 s. */
  | { type: 'declined'; lease: DhcpLease };

export interface DhcpClientConfig {
  mac: MacAddr;
  rng: Rng;
  /** A previously allocated address: start in INIT-REBOOT (RFC 2131 §3.2). */
  rememberedAddr?: Ipv4Addr;
  /** Set the broadcast bit (a client that cannot receive unicast before it is configured). Default true. */
  broadcastFlag?: boolean;
  /** RFC 2131 §4.4.1's random wait of one to ten seconds before the first DHCPDISCOVER. Default true. */
  startDelay?: boolean;
  /** Transmissions of a DHCPREQUEST in REQUESTING / REBOOTING before giving up (default 4). */
  requestAttempts?: number;
}

/** Option codes the client asks for (option 55): mask, router, DNS, domain name, MTU, lease, T1, T2. */
const PARAMETERS = [1, 3, 6, 15, 26, 51, 58, 59];
const MAX_BACKOFF = 64;

function prefixOf(mask: number): number {
  let n = 0;
  while (n < 32 && (mask & (0x80000000 >>> n)) !== 0) n++;
  return n;
}

export class DhcpClient {
  readonly drops: Drops = {};
  private st: DhcpClientState = 'IDLE';
  private readonly chaddr: Uint8Array;
  private readonly rng: Rng;
  private readonly broadcastFlag: boolean;
  private readonly startDelay: boolean;
  private readonly requestAttempts: number;
  private remembered: Ipv4Addr | null;
  private xid = 0;
  private timer: Instant | null = null;
  /** Transmissions of the current message so far. */
  private tries = 0;
  /** When the exchange began (its first transmission): the base of the lease times. */
  private sentAt: Instant = 0;
  private offer: DhcpMessage | null = null;
  private current: DhcpLease | null = null;

  constructor(config: DhcpClientConfig) {
    this.chaddr = macToBytes(config.mac);
    this.rng = config.rng;
    this.broadcastFlag = config.broadcastFlag ?? true;
    this.startDelay = config.startDelay ?? true;
    this.requestAttempts = config.requestAttempts ?? 4;
    this.remembered = config.rememberedAddr ?? null;
  }

  get state(): DhcpClientState {
    return this.st;
  }

  get lease(): DhcpLease | null {
    return this.current;
  }

  /** Leaves IDLE: INIT-REBOOT when an address is remembered, else INIT. */
  start(now: Instant): Step<DhcpClientEvent> {
    const out: OutDatagram[] = [];
    if (this.st === 'IDLE') {
      if (this.remembered !== null) {
        this.st = 'INIT-REBOOT';
        this.sendRequest('REBOOTING', now, out, true);
      } else {
        this.st = 'INIT';
        // RFC 2131 §4.4.1: "The client SHOULD wait a random time between one
        // and ten seconds to desynchronize the use of DHCP at startup."
        this.timer = this.startDelay ? now + this.rng.int(US_PER_S, 10 * US_PER_S) : now;
      }
    }
    return this.poll(now, out);
  }

  poll(now: Instant, out: OutDatagram[] = [], events: DhcpClientEvent[] = []): Step<DhcpClientEvent> {
    // At most a few transitions per poll (INIT → SELECTING sends at once).
    for (let guard = 0; guard < 4 && this.timer !== null && this.timer <= now; guard++) this.fire(now, out, events);
    return { out, events, deadline: this.timer };
  }

  private fire(now: Instant, out: OutDatagram[], events: DhcpClientEvent[]): void {
    const lease = this.current;
    switch (this.st) {
      case 'INIT':
        this.discover(now, out);
        return;
      case 'SELECTING':
        this.retransmit(now, out, this.discoverMsg());
        return;
      case 'REQUESTING':
      case 'REBOOTING':
        // RFC 2131 §4.4.1: "If the client receives neither a DHCPACK or a
        // DHCPNAK message after employing the retransmission algorithm, the
        // client reverts to INIT state and restarts the initialization
        // process." (From INIT-REBOOT §3.2 allows using the cached lease
        // instead; this client does not keep one across restarts.)
        if (this.tries >= this.requestAttempts) return this.restart(now, 0);
        this.retransmit(now, out, this.requestMsg(this.st));
        return;
      case 'BOUND':
        // RFC 2131 §4.4.5: "At time T1 the client moves to RENEWING state and
        // sends (via unicast) a DHCPREQUEST message to the server to extend
        // its lease."
        if (lease === null) return;
        this.st = 'RENEWING';
        this.newXid();
        this.tries = 0;
        this.sentAt = now;
        this.transmitRenew(now, out);
        return;
      case 'RENEWING':
      case 'REBINDING':
        if (lease === null) return;
        if (now >= lease.expires) {
          // "If the lease expires before the client receives a DHCPACK, the
          // client moves to INIT state, MUST immediately stop any other
          // network processing and requests network initialization
          // parameters as if the client were uninitialized."
          this.current = null;
          events.push({ type: 'expired', lease });
          this.st = 'INIT';
          this.timer = now;
          this.remembered = null;
          return;
        }
        if (this.st === 'RENEWING' && now >= lease.t2) {
          // "If no DHCPACK arrives before time T2, the client moves to
          // REBINDING state and sends (via broadcast) a DHCPREQUEST message to
          // extend its lease."
          this.st = 'REBINDING';
          this.tries = 0;
        }
        this.transmitRenew(now, out);
        return;
      default:
        this.timer = null;
    }
  }

  /** One datagram received on port 68. */
  handle(bytes: Uint8Array, now: Instant): Step<DhcpClientEvent> {
    const out: OutDatagram[] = [];
    const events: DhcpClientEvent[] = [];
    const parsed = parseDhcp(bytes);
    if (!parsed.ok) {
      countDrop(this.drops, `malformed:${parsed.reason}`);
      return this.poll(now, out, events);
    }
    const m = parsed.value;
    // RFC 2131 §4.4.1: "The client collects DHCPOFFER messages over a period
    // of time" — only replies to its own exchange: "The 'xid' field is used
    // by the client to match incoming DHCP messages with pending requests."
    if (m.op !== BOOTREPLY) countDrop(this.drops, 'not-reply');
    else if (m.xid !== this.xid || this.st === 'IDLE' || this.st === 'INIT' || this.st === 'BOUND') countDrop(this.drops, 'wrong-xid');
    else if (m.chaddr.length !== 6 || m.chaddr.some((b, i) => b !== this.chaddr[i])) countDrop(this.drops, 'wrong-chaddr');
    else this.reply(m, now, out, events);
    return this.poll(now, out, events);
  }

  private reply(m: DhcpMessage, now: Instant, out: OutDatagram[], events: DhcpClientEvent[]): void {
    const type = dhcpMessageType(m);
    const serverId = findDhcpOption(m, 'server-id')?.addr;
    if (this.st === 'SELECTING') {
      if (type !== DHCPOFFER || serverId === undefined || m.yiaddr === 0) return countDrop(this.drops, 'unexpected-reply');
      // The first acceptable offer is taken ("the client may choose to
      // collect several DHCPOFFER messages and select the 'best' offer").
      this.offer = m;
      this.st = 'REQUESTING';
      this.tries = 0;
      this.sentAt = now;
      // "the DHCPREQUEST message ... MUST use the same value in the DHCP
      // message header's 'secs' field and be sent to the same IP broadcast
      // address as the original DHCPDISCOVER message" — and the same xid.
      this.transmit(now, out, this.requestMsg('REQUESTING'));
      return;
    }
    if (type === DHCPNAK) {
      // §4.4.1: "If the client receives a DHCPNAK message, the client
      // restarts the configuration process." A NAK must name its server in
      // RENEWING (it is the server we hold a lease from).
      if (this.st === 'RENEWING' && this.current !== null && serverId !== this.current.serverId) return countDrop(this.drops, 'nak-other-server');
      events.push({ type: 'nak', state: this.st });
      const lease = this.current;
      if (lease !== null) events.push({ type: 'expired', lease });
      this.current = null;
      this.remembered = null;
      return this.restart(now, 0);
    }
    if (type !== DHCPACK) return countDrop(this.drops, 'unexpected-reply');
    const lease = this.leaseFrom(m, now);
    if (lease === null) return countDrop(this.drops, 'ack-without-lease');
    if (this.st === 'REQUESTING' && this.offer !== null && lease.addr !== this.offer.yiaddr) return countDrop(this.drops, 'ack-other-address');
    if ((this.st === 'RENEWING' || this.st === 'REBINDING') && this.current !== null && lease.addr !== this.current.addr) {
      return countDrop(this.drops, 'ack-other-address');
    }
    // §4.4.1: "the client records the lease expiration time as the sum of the
    // time at which the original request was sent and the duration of the
    // lease from the DHCPACK message" — T1 and T2 likewise.
    this.current = lease;
    this.remembered = lease.addr;
    this.offer = null;
    this.st = 'BOUND';
    this.timer = lease.t1;
    events.push({ type: 'bound', lease });
  }

  private leaseFrom(m: DhcpMessage, now: Instant): DhcpLease | null {
    const serverId = findDhcpOption(m, 'server-id')?.addr ?? (this.offer === null ? undefined : findDhcpOption(this.offer, 'server-id')?.addr);
    const leaseTime = findDhcpOption(m, 'lease-time')?.seconds;
    if (m.yiaddr === 0 || leaseTime === undefined || serverId == null) return null;
    const base = this.sentAt <= now ? this.sentAt : now;
    // RFC 2132 §9.2: 0xffffffff "is used to represent infinity".
    const dur = leaseTime === 0xffffffff ? Number.MAX_SAFE_INTEGER / 2 : seconds(leaseTime);
    // RFC 2131 §4.4.5: "T1 defaults to (0.5 * duration_of_lease). T2
    // defaults to (0.875 * duration_of_lease)."
    let t1 = findDhcpOption(m, 'renewal-time')?.seconds;
    let t2 = findDhcpOption(m, 'rebinding-time')?.seconds;
    const t1d = t1 === undefined ? Math.floor(dur * 0.5) : seconds(t1);
    const t2d = t2 === undefined ? Math.floor(dur * 0.875) : seconds(t2);
    // Inconsistent values from a server (T1 ≥ T2, T2 ≥ lease) fall back to the defaults.
    const ok = t1d < t2d && t2d < dur;
    t1 = base + (ok ? t1d : Math.floor(dur * 0.5));
    t2 = base + (ok ? t2d : Math.floor(dur * 0.875));
    const mask = findDhcpOption(m, 'subnet-mask')?.mask;
    return {
      addr: m.yiaddr,
      prefix: mask === undefined ? 24 : prefixOf(mask),
      router: findDhcpOption(m, 'router')?.addrs[0] ?? null,
      dns: findDhcpOption(m, 'dns-servers')?.addrs ?? [],
      mtu: findDhcpOption(m, 'mtu')?.mtu ?? null,
      domainName: findDhcpOption(m, 'domain-name')?.name ?? null,
      leaseTime,
      serverId,
      t1,
      t2,
      expires: base + dur,
    };
  }

  /** The host's address check (ARP probe) found `lease.addr` in use. */
  decline(now: Instant): Step<DhcpClientEvent> {
    const out: OutDatagram[] = [];
    const events: DhcpClientEvent[] = [];
    const lease = this.current;
    if (lease !== null && this.st === 'BOUND') {
      // §4.4.1: "If the client detects that the address is already in use
      // (e.g., through the use of ARP), the client MUST send a DHCPDECLINE
      // message to the server and restarts the configuration process. The
      // client SHOULD wait a minimum of ten seconds before restarting the
      // configuration process to avoid excessive network traffic in case of
      // looping."
      const m = this.message(DHCPDECLINE, [{ kind: 'requested-ip', addr: lease.addr }, { kind: 'server-id', addr: lease.serverId }], 0);
      out.push(this.datagram(m, '255.255.255.255', '0.0.0.0'));
      this.current = null;
      this.remembered = null;
      this.restart(now, seconds(10));
      events.push({ type: 'declined', lease });
    }
    return this.poll(now, out, events);
  }

  /** Gives the lease back (RFC 2131 §4.4.6) and goes idle. */
  release(now: Instant): Step<DhcpClientEvent> {
    const out: OutDatagram[] = [];
    const lease = this.current;
    if (lease !== null && (this.st === 'BOUND' || this.st === 'RENEWING' || this.st === 'REBINDING')) {
      // §4.4.6: "the client sends a DHCPRELEASE message to the server" — unicast, with ciaddr.
      this.newXid();
      const m = this.message(DHCPRELEASE, [{ kind: 'server-id', addr: lease.serverId }], lease.addr);
      out.push(this.datagram(m, ipv4ToString(lease.serverId), ipv4ToString(lease.addr)));
    }
    this.current = null;
    this.st = 'IDLE';
    this.timer = null;
    return { out, events: [], deadline: null };
  }

  private restart(now: Instant, wait: Duration): void {
    this.st = 'INIT';
    this.offer = null;
    this.timer = now + wait;
  }

  private newXid(): void {
    this.xid = this.rng.nextU32();
  }

  private discover(now: Instant, out: OutDatagram[]): void {
    this.st = 'SELECTING';
    this.newXid();
    this.tries = 0;
    this.sentAt = now;
    this.transmit(now, out, this.discoverMsg());
  }

  private discoverMsg(): DhcpMessage {
    const opts: DhcpOption[] = [];
    if (this.remembered !== null) opts.push({ kind: 'requested-ip', addr: this.remembered });
    return this.message(DHCPDISCOVER, opts, 0);
  }

  private requestMsg(state: DhcpClientState): DhcpMessage {
    if (state === 'REQUESTING' && this.offer !== null) {
      const sid = findDhcpOption(this.offer, 'server-id')!.addr;
      return this.message(DHCPREQUEST, [{ kind: 'requested-ip', addr: this.offer.yiaddr }, { kind: 'server-id', addr: sid }], 0);
    }
    // INIT-REBOOT: "'requested IP address' option MUST be filled in with
    // client's notion of its previously assigned address. 'ciaddr' MUST be zero."
    return this.message(DHCPREQUEST, [{ kind: 'requested-ip', addr: this.remembered ?? 0 }], 0);
  }

  private sendRequest(next: 'REBOOTING', now: Instant, out: OutDatagram[], fresh: boolean): void {
    if (fresh) {
      this.newXid();
      this.tries = 0;
      this.sentAt = now;
    }
    this.st = next;
    this.transmit(now, out, this.requestMsg(next));
  }

  private message(type: number, extra: DhcpOption[], ciaddr: Ipv4Addr): DhcpMessage {
    const options: DhcpOption[] = [{ kind: 'message-type', type }, ...extra];
    if (type === DHCPDISCOVER || type === DHCPREQUEST) options.push({ kind: 'parameter-request-list', codes: PARAMETERS });
    return {
      op: BOOTREQUEST, htype: 1, hops: 0, xid: this.xid, secs: 0,
      flags: this.broadcastFlag && ciaddr === 0 ? DHCP_FLAG_BROADCAST : 0,
      ciaddr, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr: this.chaddr.slice(), sname: '', file: '', options,
    };
  }

  private datagram(m: DhcpMessage, address: string, srcAddress: string): OutDatagram {
    return {
      payload: buildDhcp(m), address, port: DHCP_SERVER_PORT, srcPort: DHCP_CLIENT_PORT, srcAddress,
      ...(address === '255.255.255.255' ? { broadcast: true } : {}),
    };
  }

  /**
   * RFC 2131 §4.1: "the delay before the first retransmission SHOULD be 4
   * seconds randomized by the value of a uniform random number chosen from
   * the range -1 to +1. ... The delay before the next retransmission SHOULD
   * be 8 seconds randomized by the value of a uniform number chosen from the
   * range -1 to +1. The retransmission delay SHOULD be doubled with
   * subsequent retransmissions up to a maximum of 64 seconds."
   */
  private backoff(): Duration {
    const base = Math.min(4 * 2 ** this.tries, MAX_BACKOFF);
    return seconds(base) + this.rng.int(-US_PER_S, US_PER_S);
  }

  private transmit(now: Instant, out: OutDatagram[], m: DhcpMessage): void {
    out.push(this.datagram(m, '255.255.255.255', '0.0.0.0'));
    this.timer = now + this.backoff();
    this.tries++;
  }

  private retransmit(now: Instant, out: OutDatagram[], m: DhcpMessage): void {
    this.transmit(now, out, m);
  }

  /**
   * RFC 2131 §4.4.5: "In both RENEWING and REBINDING states, if the client
   * receives no response to its DHCPREQUEST message, the client SHOULD wait
   * one-half of the remaining time until T2 (in RENEWING state) and one-half
   * of the remaining lease time (in REBINDING state), down to a minimum of 60
   * seconds, before retransmitting the DHCPREQUEST message."
   */
  private transmitRenew(now: Instant, out: OutDatagram[]): void {
    const lease = this.current!;
    const renewing = this.st === 'RENEWING';
    // "'server identifier' MUST NOT be filled in, 'requested IP address'
    // option MUST NOT be filled in, 'ciaddr' MUST be filled in with client's
    // IP address."
    const m = this.message(DHCPREQUEST, [], lease.addr);
    out.push(this.datagram(m, renewing ? ipv4ToString(lease.serverId) : '255.255.255.255', ipv4ToString(lease.addr)));
    this.tries++;
    const until = renewing ? lease.t2 : lease.expires;
    const next = now + Math.max(Math.floor((until - now) / 2), seconds(60));
    this.timer = Math.min(next, until);
  }
}
