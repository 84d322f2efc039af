/**
 * DHCPv4 on a synack stack: the client engine (dhcp-client.ts) configuring
 * an Ethernet interface, and the server engine (dhcp-server.ts) answering
 * on one — each bound to its UDP port by udp-service.ts and polled on the
 * stack's clock.
 *
 * What a lease does to the stack (RFC 2131 §4.4.1 "The client now has
 * several parameters to configure"): option 50/yiaddr and 1 (mask) add the
 * address to the interface (with a gratuitous ARP, stack/ethernet.ts);
 * option 3 becomes the interface's IPv4 gateway (off-link destinations go
 * to its MAC); option 26 lowers the interface MTU (never below 68, RFC 2132
 * §5.1, never above the link's); option 6 is handed to the owner
 * (`onConfig`) for the stub resolver; option 15 likewise.
 *
 * Lease expiry (and a DHCPNAK of a held lease) takes the address away.
 * RFC 2131 §4.4.5: "If the lease expires before the client receives a
 * DHCPACK, the client moves to INIT state, MUST immediately stop any other
 * network processing and requests network initialization parameters as if
 * the client were uninitialized." So TCP connections from that address are
 * aborted (a RST to the peer while the address is still ours; the API
 * socket errors with ERR_SOCKET_CLOSED) — like Android's SOCK_DESTROY when
 * an address goes, and unlike plain Linux, which keeps such sockets until
 * their retransmissions time out. UDP sockets stay open; sends from the
 * address fail once it is gone (EADDRNOTAVAIL).
 *
 * Before a new address is configured it is probed (RFC 2131 §4.4.1: "The
 * client SHOULD perform a check on the suggested address to ensure that the
 * address is not already in use"), by RFC 5227's ARP Probes
 * (arp-probe.ts): a few seconds of silence and the lease is configured and
 * reported bound; an answer, or another host's probe for it, and §4.4.1's
 * "If the client detects that the address is already in use (e.g., through
 * the use of ARP), the client MUST send a DHCPDECLINE message to the server
 * and restarts the configuration process" (the engine's decline()). A
 * renewal of the address in use is not probed again.
 *
 * Not done: receiving a unicast OFFER/ACK before the address is configured — the
 * client sets the broadcast bit (RFC 2131 §4.1: "A client that cannot
 * receive unicast IP datagrams until its protocol software has been
 * configured with an IP address SHOULD set the BROADCAST bit").
 */
import type { Instant } from '../base/time.ts';
import type { EthernetInterface } from '../stack/ethernet.ts';
import type { Stack } from '../stack/stack.ts';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from '../wire/dhcp.ts';
import { ipv4ToString } from '../wire/bytes.ts';
import type { Ipv4Addr } from '../wire/types.ts';
import { DhcpClient } from './dhcp-client.ts';
import type { DhcpClientEvent, DhcpClientState, DhcpLease } from './dhcp-client.ts';
import { DhcpServer } from './dhcp-server.ts';
import type { DhcpServerConfig, DhcpServerEvent } from './dhcp-server.ts';
import { StackTimer, UdpService } from './udp-service.ts';
import type { Step } from './types.ts';
import { Rng } from '../base/rng.ts';
import { ArpProbe, RFC5227_TIMING, type ArpProbeTiming } from './arp-probe.ts';

/** RFC 2132 §5.1 (Interface MTU Option): "The minimum legal value for the MTU is 68." */
export const DHCP_MIN_MTU = 68;

/** What a bound lease configured, for the owner (the resolver takes `dns`). */
export interface DhcpHostConfig {
  address: string;
  prefixLen: number;
  gateway: string | null;
  dns: string[];
  domainName: string | null;
  mtu: number;
}

export interface DhcpClientHostOptions {
  rng: Rng;
  /** RFC 2131 §4.4.1's 1–10 s random wait before the first DISCOVER (default true). */
  startDelay?: boolean;
  /** Start in INIT-REBOOT with this address. */
  rememberedAddr?: Ipv4Addr;
  /** Every engine event (bound, expired, nak), after the stack was reconfigured. */
  onEvent?: (ev: DhcpClientEvent) => void;
  /** The configuration now in force (null when the lease ended). */
  onConfig?: (cfg: DhcpHostConfig | null) => void;
  /**
   * Probe each newly leased address before using it (RFC 5227 §2.1.1;
   * default true, with RFC 5227's timing; other timings for tests).
   */
  arpProbe?: boolean | Partial<ArpProbeTiming>;
}

/** A DHCP client on an Ethernet interface of a stack. */
export class DhcpClientHost {
  readonly client: DhcpClient;
  readonly udp: UdpService;
  /** TCP connections aborted because their address's lease ended. */
  abortedConnections = 0;
  private readonly timer: StackTimer;
  private readonly stack: Stack;
  private configured: DhcpLease | null = null;
  private stopped = false;
  /** The probe of a leased address not configured yet. */
  private probing: ArpProbe | null = null;
  private readonly probeTiming: ArpProbeTiming | null;
  /** Random probe delays: a generator of its own, seeded from the MAC, so the engine's draws (xids) stay as they were. */
  private readonly probeRng: Rng;
  /** Leased addresses the probe found in use (declined). */
  conflicts = 0;

  constructor(
    readonly eth: EthernetInterface,
    private readonly opts: DhcpClientHostOptions,
  ) {
    this.stack = eth.stack;
    this.client = new DhcpClient({
      mac: eth.mac,
      rng: opts.rng,
      ...(opts.startDelay !== undefined ? { startDelay: opts.startDelay } : {}),
      ...(opts.rememberedAddr !== undefined ? { rememberedAddr: opts.rememberedAddr } : {}),
    });
    this.udp = new UdpService(this.stack, { port: DHCP_CLIENT_PORT, iface: eth.iface, broadcast: true }, (bytes, _from, now) => {
      this.apply(this.client.handle(bytes, now), now);
    });
    this.timer = new StackTimer(this.stack, (now) => this.apply(this.client.poll(now), now));
    const p = opts.arpProbe ?? true;
    this.probeTiming = p === false ? null : { ...RFC5227_TIMING, ...(p === true ? {} : p) };
    this.probeRng = new Rng(((eth.mac % 0x100000000) ^ Math.floor(eth.mac / 0x100000000) ^ 0x41435044) >>> 0);
  }

  /** The address being probed before it is configured, or null. */
  get probingAddr(): Ipv4Addr | null {
    return this.probing?.addr ?? null;
  }

  get state(): DhcpClientState {
    return this.client.state;
  }

  get lease(): DhcpLease | null {
    return this.client.lease;
  }

  start(): void {
    const now = this.stack.clock.now();
    this.apply(this.client.start(now), now);
  }

  /** DHCPRELEASE (RFC 2131 §4.4.6), unconfigure, and stop. */
  release(): void {
    const now = this.stack.clock.now();
    const s = this.client.release(now);
    for (const d of s.out) this.udp.send(d);
    this.unconfigure();
    this.stop();
  }

  /** Stops without telling the server (the lease stays configured until the host goes). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.probing?.cancel();
    this.probing = null;
    this.timer.dispose();
    this.udp.close();
  }

  private apply(s: Step<DhcpClientEvent>, _now: Instant): void {
    if (this.stopped) return;
    for (const d of s.out) this.udp.send(d);
    for (const ev of s.events) {
      if (ev.type === 'bound') {
        if (this.probeTiming !== null && this.configured?.addr !== ev.lease.addr) {
          // A new address: probe it first; configured and reported bound when no one answers.
          this.probe(ev.lease);
          continue;
        }
        this.configure(ev.lease);
      } else if (ev.type === 'expired') {
        this.probing?.cancel();
        this.probing = null;
        this.unconfigure();
      }
      this.opts.onEvent?.(ev);
    }
    this.timer.set(s.deadline);
  }

  private probe(lease: DhcpLease): void {
    this.probing?.cancel();
    this.probing = new ArpProbe(this.eth, lease.addr, this.probeRng, this.probeTiming!, (r) => {
      this.probing = null;
      if (this.stopped || this.client.lease !== lease) return;
      const now = this.stack.clock.now();
      if (!r.conflict) {
        this.configure(lease);
        this.opts.onEvent?.({ type: 'bound', lease });
        return;
      }
      this.conflicts++;
      this.apply(this.client.decline(now), now);
    });
  }

  private configure(lease: DhcpLease): void {
    const eth = this.eth;
    const old = this.configured;
    if (old !== null && old.addr !== lease.addr) this.unconfigure();
    if (this.configured === null) eth.addAddress(lease.addr, lease.prefix);
    this.configured = lease;
    eth.gatewayV4 = lease.router;
    // RFC 2132 §5.1: "This option specifies the MTU to use on this interface."
    // Never more than the link carries, never below 68.
    eth.iface.mtu = lease.mtu !== null && lease.mtu >= DHCP_MIN_MTU ? Math.min(lease.mtu, eth.mtu) : eth.mtu;
    this.opts.onConfig?.({
      address: ipv4ToString(lease.addr),
      prefixLen: lease.prefix,
      gateway: lease.router === null ? null : ipv4ToString(lease.router),
      dns: lease.dns.map(ipv4ToString),
      domainName: lease.domainName,
      mtu: eth.iface.mtu,
    });
  }

  private unconfigure(): void {
    const lease = this.configured;
    if (lease === null) return;
    this.configured = null;
    // RFC 2131 §4.4.5: "MUST immediately stop any other network processing".
    for (const c of this.stack.connections()) {
      if (c.localAddr === lease.addr && c.state !== 'CLOSED' && c.state !== 'TIME-WAIT') {
        this.stack.abort(c);
        this.abortedConnections++;
      }
    }
    this.stack.removeAddress(this.eth.iface, lease.addr);
    this.eth.gatewayV4 = null;
    this.eth.iface.mtu = this.eth.mtu;
    this.opts.onConfig?.(null);
  }
}

export interface DhcpServerHostOptions extends Omit<DhcpServerConfig, 'serverId' | 'prefixLen'> {
  /** The server identifier (default: the interface's first IPv4 address). */
  serverId?: Ipv4Addr;
  prefixLen?: number;
  onEvent?: (ev: DhcpServerEvent) => void;
  /** An engine to run instead of a new one: a server restarted with its lease database kept (the pool options are then ignored). */
  engine?: DhcpServer;
}

/** A DHCP server on an Ethernet interface of a stack (port 67). */
export class DhcpServerHost {
  readonly server: DhcpServer;
  readonly udp: UdpService;
  private readonly timer: StackTimer;
  private readonly stack: Stack;
  private stopped = false;

  constructor(
    readonly eth: EthernetInterface,
    opts: DhcpServerHostOptions,
  ) {
    this.stack = eth.stack;
    const own = eth.iface.addrs.find((a) => typeof a.addr === 'number');
    const serverId = opts.serverId ?? (own?.addr as Ipv4Addr | undefined);
    if (serverId === undefined) throw new Error('DhcpServerHost: the interface has no IPv4 address to serve from');
    const { onEvent, engine, ...cfg } = opts;
    this.server = engine ?? new DhcpServer({ ...cfg, serverId, prefixLen: opts.prefixLen ?? own?.prefixLen ?? 24 });
    this.udp = new UdpService(this.stack, { port: DHCP_SERVER_PORT, iface: eth.iface, broadcast: true }, (bytes, _from, now) => {
      this.apply(this.server.handle(bytes, now), onEvent);
    });
    this.timer = new StackTimer(this.stack, (now) => this.apply(this.server.poll(now), onEvent));
  }

  private apply(s: Step<DhcpServerEvent>, onEvent: ((ev: DhcpServerEvent) => void) | undefined): void {
    if (this.stopped) return;
    for (const d of s.out) this.udp.send(d);
    for (const ev of s.events) onEvent?.(ev);
    this.timer.set(s.deadline);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer.dispose();
    this.udp.close();
  }
}
