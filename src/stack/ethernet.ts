/**
 * An Ethernet interface of a stack: the layer between the stack (which
 * sends and receives IP packets through a `Link`) and a `FrameLink` that
 * carries Ethernet II frames. It owns the interface's MAC address, filters
 * received frames (our unicast address, broadcast, the multicast groups we
 * joined: IPv6 all-nodes, the solicited-node groups of our addresses,
 * all-routers when advertising), drops tagged frames (802.1Q: synack has no
 * VLAN interfaces), demultiplexes by EtherType (IPv4, IPv6, ARP), and
 * resolves next hops through one neighbour cache (stack/neighbor.ts) by
 * ARP (RFC 826) for IPv4 and Neighbor Discovery (RFC 4861) for IPv6. It
 * also runs Duplicate Address Detection and stateless address
 * autoconfiguration (RFC 4862), and, when configured as a router, sends
 * Router Advertisements (RFC 4861 §6.2, RFC 8106 RDNSS).
 *
 * Sans I/O: timers run from the stack's poll() (Stack.linkTimers); no wall
 * clock, no Math.random (the few "random" delays RFC 4861 asks for are a
 * keyed PRF of the MAC and a counter).
 */
import type { Instant } from '../base/time.ts';
import {
  buildEthernetFrame,
  ETH_HEADER_LEN,
  ETH_MIN_FRAME_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ipv4MulticastMac,
  ipv6MulticastMac,
  isMulticastMac,
  MAC_BROADCAST,
  NO_TAGS,
  parseEthernet,
  setMac,
  type MacAddr,
} from '../wire/ethernet.ts';
import { joinPartialTcp, segmentPartialTcp } from '../wire/tcp.ts';
import { hasHeadroom } from './packet-pool.ts';
import { completeForCapture } from './rx-verified.ts';
import { arpAnnounce, arpProbe, arpReplyTo, arpRequest, emitArp, ARP_LEN, parseArp, type ArpRepr } from '../wire/arp.ts';
import {
  emitIpv6,
  ipv6InSubnet,
  ipv6ToBytes,
  isIpv6LinkLocal,
  isIpv6Multicast,
  isIpv6Unspecified,
  IPPROTO_ICMPV6,
  IPV6_HEADER_LEN,
  IPV6_UNSPECIFIED,
  ipv6FromWords,
  readIpv6Addr,
  type IpAddr,
  type Ipv6Addr,
} from '../wire/ipv6.ts';
import { emitIcmpv6, icmpv6Len, parseIcmpv6 } from '../wire/icmpv6.ts';
import { CHECKSUM_FULL, IPPROTO_TCP, type ChecksumCaps, type DropReason, type IcmpErrorRepr } from '../wire/types.ts';
import { receiveIcmpError } from './icmp.ts';
import { getU32, ipv4InSubnet } from '../wire/bytes.ts';
import {
  addrFromPrefix,
  ALL_NODES,
  ALL_ROUTERS,
  emitNdpBody,
  isSolicitedNode,
  linkLocalFor,
  ndpType,
  parseNdp,
  solicitedNode,
  type NdpMessage,
  type PrefixInfo,
} from '../wire/ndp.ts';
import { SynackError } from '../errors.ts';
import { halfSipHash24 } from './isn.ts';
import type { FrameLink, Link } from './link.ts';
import { NeighborCache, type NeighborLimits } from './neighbor.ts';
import type { IfAddr, NetInterface } from './types.ts';
import type { Stack } from './stack.ts';

/** What a router advertises (RFC 4861 §6.2.1 AdvPrefixList, AdvLinkMTU; RFC 8106 RDNSS). */
export interface RouterAdvertConfig {
  /** On-link prefixes with the autonomous flag (a /64 each for SLAAC). */
  prefixes: Array<{ prefix: Ipv6Addr; prefixLen: number; validLifetime?: number; preferredLifetime?: number }>;
  /** AdvLinkMTU (0 or absent: no MTU option). */
  mtu?: number;
  /** Recursive DNS servers (RFC 8106). */
  rdnss?: Ipv6Addr[];
  /** MaxRtrAdvInterval, seconds (default 600, RFC 4861 §6.2.1); MinRtrAdvInterval is 0.33 of it. */
  maxIntervalS?: number;
  /**
   * Whether hosts may use us as a default router (AdvDefaultLifetime
   * 3 × MaxRtrAdvInterval) or not (0). Default false: synack does not
   * forward packets.
   */
  defaultRouter?: boolean;
}

export interface EthernetInterfaceConfig {
  name?: string;
  mac: MacAddr;
  link: FrameLink;
  /** Configured addresses (IPv4 and IPv6). May be empty when `autoconf` is set. */
  addrs: IfAddr[];
  /** Form addresses from Router Advertisements (RFC 4862 SLAAC) and solicit them (RFC 4861 §6.3.7). */
  autoconf?: boolean;
  /** Send Router Advertisements (a router on this link). */
  router?: RouterAdvertConfig;
  /**
   * Interface identifiers of SLAAC addresses: 'eui64' (modified EUI-64 of
   * the MAC, RFC 4291 Appendix A; the default) or 'stable' (RFC 7217,
   * keyed by `iidKey`).
   */
  iid?: 'eui64' | 'stable';
  /** The secret_key of RFC 7217 (two 32-bit words); required with `iid: 'stable'`. */
  iidKey?: [number, number];
  /** Allow no address at all: a DHCP client configures one (services/dhcp-host.ts). */
  unconfigured?: boolean;
  /** DupAddrDetectTransmits (RFC 4862 §5.1, default 1; 0 disables DAD). */
  dadTransmits?: number;
  neighbor?: Partial<NeighborLimits>;
}

/** What the interface counts (besides the stack's drops). */
export interface EthernetStats {
  framesIn: number;
  framesOut: number;
  arpRequestsOut: number;
  arpRepliesOut: number;
  gratuitousArpsOut: number;
  /** RFC 5227 ARP Probes sent (address conflict detection, services/arp-probe.ts). */
  arpProbesOut: number;
  nsOut: number;
  naOut: number;
  rsOut: number;
  raOut: number;
  raIn: number;
  dadSucceeded: number;
  dadFailed: number;
}

// RFC 4861 §10 "Protocol Constants".
/** Host: MAX_RTR_SOLICITATION_DELAY 1 second, RTR_SOLICITATION_INTERVAL 4 seconds, MAX_RTR_SOLICITATIONS 3 transmissions. */
const MAX_RTR_SOLICITATION_DELAY_US = 1_000_000;
const RTR_SOLICITATION_INTERVAL_US = 4_000_000;
const MAX_RTR_SOLICITATIONS = 3;
/** Router: MAX_INITIAL_RTR_ADVERT_INTERVAL 16 seconds, MAX_INITIAL_RTR_ADVERTISEMENTS 3, MIN_DELAY_BETWEEN_RAS 3 seconds, MAX_RA_DELAY_TIME .5 seconds. */
const MAX_INITIAL_RTR_ADVERT_INTERVAL_US = 16_000_000;
const MAX_INITIAL_RTR_ADVERTISEMENTS = 3;
const MIN_DELAY_BETWEEN_RAS_US = 3_000_000;
const MAX_RA_DELAY_TIME_US = 500_000;
/**
 * The most addresses SLAAC forms on one interface (Linux's
 * net.ipv6.conf.*.max_addresses, default 16): a Router Advertisement
 * flood of new prefixes must not grow the address list without bound.
 */
export const MAX_AUTOCONF_ADDRESSES = 16;

/**
 * RFC 4861 §6.1, §7.1: every ND message is sent with "IP Hop Limit 255" and
 * a receiver discards one whose "IP Hop Limit field" is not 255, "i.e., the
 * packet could not possibly have been forwarded by a router."
 */
const ND_HOP_LIMIT = 255;

/** RFC 7217 §7: IDGEN_RETRIES, "The default value for this parameter is 3". */
const IDGEN_RETRIES = 3;

/**
 * An RFC 7217 stable address: `prefix` (its first 64 bits) and an
 * interface identifier "RID = F(Prefix, Net_Iface, Network_ID,
 * DAD_Counter, secret_key)" (§5), Net_Iface being the MAC and no
 * Network_ID. "F() MUST NOT be simple to reverse"; the RFC suggests SHA-256,
 * synack uses the keyed HalfSipHash-2-4 PRF of its ISNs (stack/isn.ts),
 * twice for 64 bits — a PRF under a secret key, sans I/O and synchronous.
 */
export function stableAddress(prefix: Ipv6Addr, mac: MacAddr, dadCounter: number, key: [number, number]): Ipv6Addr {
  const w = [0, 1, 2, 3].map((i) => prefix.charCodeAt(i));
  const p0 = ((w[0]! << 16) | w[1]!) >>> 0;
  const p1 = ((w[2]! << 16) | w[3]!) >>> 0;
  const m = (Math.floor(mac / 0x100000000) << 16) ^ (mac >>> 0);
  const h0 = halfSipHash24(key[0], key[1], p0, p1, (m ^ dadCounter) >>> 0);
  const h1 = halfSipHash24(key[1], key[0], p1 ^ h0, mac >>> 0, (dadCounter + 0x52464337) >>> 0);
  return ipv6FromWords([w[0]!, w[1]!, w[2]!, w[3]!, h0 >>> 16, h0 & 0xffff, h1 >>> 16, h1 & 0xffff]);
}

/** Adds an Ethernet interface to `stack`; returns it (its `iface` is the stack's NetInterface). */
export function addEthernetInterface(stack: Stack, cfg: EthernetInterfaceConfig): EthernetInterface {
  return new EthernetInterface(stack, cfg);
}

export class EthernetInterface implements Link {
  readonly mac: MacAddr;
  readonly frameLink: FrameLink;
  readonly iface: NetInterface;
  readonly neighbors: NeighborCache;
  readonly stats: EthernetStats = {
    framesIn: 0,
    framesOut: 0,
    arpRequestsOut: 0,
    arpRepliesOut: 0,
    gratuitousArpsOut: 0,
    arpProbesOut: 0,
    nsOut: 0,
    naOut: 0,
    rsOut: 0,
    raOut: 0,
    raIn: 0,
    dadSucceeded: 0,
    dadFailed: 0,
  };
  /** IPv6 addresses under Duplicate Address Detection: when the next step is due, solicitations left to send. */
  readonly tentative = new Map<Ipv6Addr, { at: Instant; left: number }>();
  /** Addresses DAD found in use by another node (RFC 4862 §5.4.5), removed from the interface. */
  readonly duplicates: Ipv6Addr[] = [];
  /** RDNSS addresses learned from Router Advertisements (RFC 8106). */
  dnsServers: Ipv6Addr[] = [];
  /** The MTU a Router Advertisement announced (RFC 4861 §4.6.4), if any. */
  advertisedMtu: number | null = null;
  /** A router that advertised a non-zero Router Lifetime: the next hop for off-link IPv6 destinations. */
  defaultRouter: Ipv6Addr | null = null;
  /** The IPv4 default gateway (DHCP option 3, or set by hand): the next hop for off-link IPv4 destinations. */
  gatewayV4: number | null = null;
  /** Every frame in and out (for pcap with LINKTYPE_ETHERNET). */
  tap: ((dir: 'in' | 'out', frame: Uint8Array) => void) | null = null;
  /**
   * Every well-formed ARP packet received, before any filtering: an RFC 5227
   * address conflict detector (services/arp-probe.ts) watches for senders
   * claiming an address it probes, which the filters below would drop.
   */
  readonly arpWatchers = new Set<(r: ArpRepr) => void>();

  onReceive: ((packet: Uint8Array) => void) | null = null;
  /** Link.receivesInBatches: as the frame link's. */
  readonly receivesInBatches: boolean;
  onReceiveEnd: (() => void) | null = null;
  readonly mtu: number;
  readonly checksum: ChecksumCaps;
  /** Link.transmitPartial: present when the frame link has it (a TAP device with checksum offload). */
  readonly transmitPartial?: (head: Uint8Array, payload: readonly Uint8Array[], l4Off: number) => void;
  /** Link.tsoMaxBytes and Link.transmitGso: present when the frame link has them (a TAP device with TSO). */
  readonly tsoMaxBytes?: number;
  readonly transmitGso?: (head: Uint8Array, payload: readonly Uint8Array[], l4Off: number, gsoSize: number) => void;

  /** The MAC's top 16 and low 32 bits (the receive fast path compares octets with them: no 48-bit number per frame). */
  private readonly macHi: number;
  private readonly macLo: number;
  private readonly dadTransmits: number;
  private readonly autoconf: boolean;
  private readonly router: RouterAdvertConfig | null;
  private readonly v6: boolean;
  private readonly iidKey: [number, number] | null;
  /** Addresses formed by SLAAC with stable IIDs: their prefix and DAD_Counter (RFC 7217 §6). */
  private readonly slaac = new Map<Ipv6Addr, { prefix: Ipv6Addr; counter: number }>();
  /** Addresses SLAAC formed that are on the interface (at most MAX_AUTOCONF_ADDRESSES). */
  private readonly autoconfigured = new Set<Ipv6Addr>();
  private rsAt: Instant = Infinity;
  private rsSent = 0;
  private raAt: Instant = Infinity;
  private raSent = 0;
  private lastRaAt: Instant = -Infinity;
  private prfCount = 0;

  constructor(
    readonly stack: Stack,
    cfg: EthernetInterfaceConfig,
  ) {
    this.mac = cfg.mac;
    this.macHi = Math.floor(cfg.mac / 0x100000000);
    this.macLo = cfg.mac >>> 0;
    if (isMulticastMac(cfg.mac)) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'an interface MAC address must be unicast');
    this.frameLink = cfg.link;
    this.receivesInBatches = cfg.link.receivesInBatches === true;
    this.mtu = cfg.link.mtu;
    this.checksum = cfg.link.checksum;
    if (cfg.link.transmitPartial) this.transmitPartial = (head, payload, l4Off) => this.sendPartial(head, payload, l4Off, 0);
    if (cfg.link.transmitGso && cfg.link.tsoMaxBytes !== undefined) {
      this.tsoMaxBytes = cfg.link.tsoMaxBytes;
      this.transmitGso = (head, payload, l4Off, gsoSize) => this.sendPartial(head, payload, l4Off, gsoSize);
    }
    this.dadTransmits = cfg.dadTransmits ?? 1;
    this.autoconf = cfg.autoconf ?? false;
    this.router = cfg.router ?? null;
    if (cfg.iid === 'stable' && !cfg.iidKey) throw new SynackError('ERR_SYNACK_INVALID_ARG', "iid: 'stable' needs an iidKey (RFC 7217 secret_key)");
    this.iidKey = cfg.iid === 'stable' ? cfg.iidKey! : null;
    this.neighbors = new NeighborCache(
      {
        solicit: (ip, attempt, packet, unicast) => this.solicit(ip, attempt, packet, unicast),
        send: (mac, packet) => this.sendFrame(mac, packet[0]! >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, packet),
        drop: (reason) => this.drop(reason),
        unreachable: (_ip, packets) => this.unreachable(packets),
      },
      cfg.neighbor,
    );
    const addrs = [...cfg.addrs];
    this.v6 = this.autoconf || this.router !== null || addrs.some((a) => typeof a.addr === 'string');
    // RFC 4862 §5.3: "A node forms a link-local address whenever an
    // interface becomes enabled." (for IPv6).
    const ll = linkLocalFor(this.mac);
    if (this.v6 && !addrs.some((a) => a.addr === ll)) addrs.push({ addr: ll, prefixLen: 64 });
    const first = addrs[0];
    if (!first && !cfg.unconfigured) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'an Ethernet interface needs an address (or autoconf, or unconfigured for DHCP)');
    this.iface = stack.addInterface({ ...(cfg.name ? { name: cfg.name } : {}), ...(first ? { addr: first.addr, prefixLen: first.prefixLen } : {}), more: addrs.slice(1), link: this });
    cfg.link.onReceive = (frame) => this.receiveFrame(frame);
    if (this.receivesInBatches) cfg.link.onReceiveEnd = () => this.onReceiveEnd?.();
    cfg.link.partialChecksumsIn = true;
    stack.linkTimers.push(this);
    const now = stack.clock.now();
    for (const a of this.iface.addrs) this.configured(a.addr, now);
    if (this.autoconf) {
      // RFC 4861 §6.3.7: "Before a host sends an initial solicitation, it
      // SHOULD delay the transmission for a random amount of time between 0
      // and MAX_RTR_SOLICITATION_DELAY."
      this.rsAt = now + (this.prf() % MAX_RTR_SOLICITATION_DELAY_US);
    }
    // The first advertisement waits for DAD of the link-local address it is
    // sent from (RFC 4862 §5.4: a tentative address is not used to
    // communicate).
    if (this.router) this.raAt = now + this.dadTransmits * this.neighbors.limits.retransUs;
  }

  /** Adds an address and announces it (gratuitous ARP) or checks it (DAD). */
  addAddress(addr: IpAddr, prefixLen: number): void {
    this.stack.addAddress(this.iface, addr, prefixLen);
    this.configured(addr, this.stack.clock.now());
  }

  /** The addresses that passed DAD (IPv4 ones are never tentative). */
  get addresses(): IpAddr[] {
    return this.iface.addrs.map((a) => a.addr).filter((a) => typeof a === 'number' || !this.tentative.has(a));
  }

  private configured(addr: IpAddr, now: Instant): void {
    if (typeof addr === 'number') {
      // Gratuitous ARP: RFC 5227 §2.3 "the host MUST send an ARP
      // Announcement" ("sender and target IP addresses are both set to the
      // host's newly selected IPv4 address"): the same as RFC 826's merge
      // step lets every host holding an old mapping for it update it.
      this.sendArp(arpAnnounce(this.mac, addr), MAC_BROADCAST);
      this.stats.gratuitousArpsOut++;
      return;
    }
    if (this.dadTransmits > 0) {
      // RFC 4862 §5.4: "Duplicate Address Detection MUST be performed on all
      // unicast addresses prior to assigning them to an interface". The
      // address is usable meanwhile (as an RFC 4429 Optimistic Address),
      // but we answer no solicitation for it until DAD completes.
      this.tentative.set(addr, { at: now, left: this.dadTransmits });
    }
  }

  // ===========================================================================
  // Timers
  // ===========================================================================

  nextDeadline(): Instant {
    let t = Math.min(this.neighbors.nextDeadline(), this.rsAt, this.raAt);
    for (const d of this.tentative.values()) if (d.at < t) t = d.at;
    return t;
  }

  poll(now: Instant): void {
    this.neighbors.poll(now);
    for (const [addr, d] of this.tentative) {
      if (d.at > now) continue;
      if (d.left > 0) {
        // RFC 4862 §5.4.2: "The solicitation's Target Address is set to the
        // address being checked, the IP source is set to the unspecified
        // address, and the IP destination is set to the solicited-node
        // multicast address of the target address." ... "each separated by
        // RetransTimer milliseconds".
        this.sendNdp(IPV6_UNSPECIFIED, solicitedNode(addr), { type: 'ns', target: addr, opts: {} });
        d.left--;
        d.at = now + this.neighbors.limits.retransUs;
      } else {
        // RFC 4862 §5.4.5 (no duplicate heard): the address "is
        // considered unique" and becomes preferred.
        this.tentative.delete(addr);
        this.stats.dadSucceeded++;
      }
    }
    if (this.rsAt <= now) {
      this.sendNdp(IPV6_UNSPECIFIED, ALL_ROUTERS, { type: 'rs', opts: {} });
      this.stats.rsOut++;
      this.rsSent++;
      this.rsAt = this.rsSent < MAX_RTR_SOLICITATIONS ? now + RTR_SOLICITATION_INTERVAL_US : Infinity;
    }
    if (this.raAt <= now) this.sendRa(now);
  }

  // ===========================================================================
  // Transmit (the stack's Link)
  // ===========================================================================

  /** An IP packet from the stack: to its next hop's MAC, resolved if needed. */
  transmit(packet: Uint8Array): void {
    const now = this.stack.clock.now();
    if (packet.length >= IPV6_HEADER_LEN && packet[0]! >>> 4 === 6) {
      const dst = readIpv6Addr(packet, 24);
      if (isIpv6Multicast(dst)) {
        this.sendFrame(ipv6MulticastMac(packet.subarray(24, 40)), ETHERTYPE_IPV6, packet);
        return;
      }
      this.neighbors.output(this.nextHopV6(dst), packet, now);
      return;
    }
    if (packet.length < 20) return;
    const dst = getU32(packet, 16);
    if (dst >>> 28 === 14) {
      this.sendFrame(ipv4MulticastMac(dst), ETHERTYPE_IPV4, packet);
      return;
    }
    if (this.stack.isBroadcastOrMulticast(dst)) {
      this.sendFrame(MAC_BROADCAST, ETHERTYPE_IPV4, packet);
      return;
    }
    this.neighbors.output(this.nextHopV4(dst), packet, now);
  }

  /**
   * A gather segment (Link.transmitPartial) to its next hop, resolved: the
   * Ethernet header goes into the head packet's headroom and the frame
   * link writes head and payload. Anything else — a next hop not yet
   * resolved (its packets wait whole in the neighbour cache), a head
   * without headroom — is joined, its checksum completed, and sent as any
   * packet. A capture (`tap`) sees the frame whole with its checksum
   * complete, as the device will put it on the wire.
   *
   * With `gsoSize` (Link.transmitGso) it is a super-segment: the frame
   * link cuts it; on the fallback path it is cut here (software
   * segmentation, wire/tcp.ts segmentPartialTcp) into packets of at most
   * the MTU, each sent as any packet; a capture sees those packets.
   */
  private sendPartial(head: Uint8Array, payload: readonly Uint8Array[], l4Off: number, gsoSize: number): void {
    const now = this.stack.clock.now();
    let mac: MacAddr | null = null;
    let ethertype = ETHERTYPE_IPV4;
    if (head[0]! >>> 4 === 6) {
      ethertype = ETHERTYPE_IPV6;
      const dst = readIpv6Addr(head, 24);
      if (!isIpv6Multicast(dst)) mac = this.neighbors.resolved(this.nextHopV6(dst), now);
    } else {
      const dst = getU32(head, 16);
      if (dst >>> 28 !== 14 && !this.stack.isBroadcastOrMulticast(dst)) mac = this.neighbors.resolved(this.nextHopV4(dst), now);
    }
    if (mac === null || !hasHeadroom(head)) {
      if (gsoSize > 0) for (const p of segmentPartialTcp(head, payload, 0, l4Off, gsoSize)) this.transmit(p);
      else this.transmit(joinPartialTcp(head, payload, l4Off));
      return;
    }
    const frame = this.headerInHeadroom(head, mac, ethertype);
    this.stats.framesOut++;
    if (gsoSize > 0) {
      if (this.tap) for (const p of segmentPartialTcp(frame, payload, ETH_HEADER_LEN, ETH_HEADER_LEN + l4Off, gsoSize)) this.tap('out', p);
      this.frameLink.transmitGso!(frame, payload, ETH_HEADER_LEN + l4Off, gsoSize);
      return;
    }
    if (this.tap) this.tap('out', joinPartialTcp(frame, payload, ETH_HEADER_LEN + l4Off));
    this.frameLink.transmitPartial!(frame, payload, ETH_HEADER_LEN + l4Off);
  }

  /** One IP packet to `mac`, no resolution (Link.transmitTo: DHCP's unicast before ARP, RFC 2131 §4.1). */
  transmitTo(mac: MacAddr, packet: Uint8Array): void {
    this.sendFrame(mac, packet[0]! >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, packet);
  }

  /**
   * RFC 1122 §3.3.1: "If the destination is on a connected network, the
   * datagram is sent directly to the destination host; otherwise, it has to
   * be routed to a gateway on a connected network." §3.3.1.1: "(b) If the
   * IP destination address bits extracted by the address mask match the IP
   * source address bits extracted by the same mask, then the destination is
   * on the corresponding connected network, and the datagram is to be
   * transmitted directly to the destination host. (c) If not, then the
   * destination is accessible only through a gateway." One gateway (DHCP
   * option 3, or set by hand); without one every destination is treated as
   * on-link, as before.
   */
  private nextHopV4(dst: number): number {
    if (this.gatewayV4 === null) return dst;
    for (const a of this.iface.addrs) if (typeof a.addr === 'number' && ipv4InSubnet(dst, a.addr, a.prefixLen)) return dst;
    return this.gatewayV4;
  }

  /**
   * RFC 4861 §5.2: "the sender performs a longest prefix match against the
   * Prefix List to determine whether the packet's destination is on- or
   * off-link. If the destination is on-link, the next-hop address is the
   * same as the packet's destination address. Otherwise, the sender
   * selects a router from the Default Router List". Without a default
   * router every destination is treated as on-link.
   */
  private nextHopV6(dst: Ipv6Addr): Ipv6Addr {
    if (!this.defaultRouter || isIpv6LinkLocal(dst)) return dst;
    for (const a of this.iface.addrs) if (typeof a.addr === 'string' && !isIpv6LinkLocal(a.addr) && ipv6InSubnet(dst, a.addr, a.prefixLen)) return dst;
    return this.defaultRouter;
  }

  /** The frame around `packet`, its untagged header written into the packet's headroom (hasHeadroom). */
  private headerInHeadroom(packet: Uint8Array, dst: MacAddr, ethertype: number): Uint8Array {
    const frame = new Uint8Array(packet.buffer, packet.byteOffset - ETH_HEADER_LEN, ETH_HEADER_LEN + packet.length);
    setMac(frame, 0, dst);
    setMac(frame, 6, this.mac);
    frame[12] = ethertype >>> 8;
    frame[13] = ethertype & 0xff;
    return frame;
  }

  private sendFrame(dst: MacAddr, ethertype: number, payload: Uint8Array): void {
    let frame: Uint8Array;
    if (ETH_HEADER_LEN + payload.length >= ETH_MIN_FRAME_LEN && hasHeadroom(payload)) {
      // The header goes into the packet's own headroom: no copy of the packet
      // (a frame that needs padding to the 60-octet minimum is still built whole).
      frame = this.headerInHeadroom(payload, dst, ethertype);
    } else {
      frame = buildEthernetFrame({ dst, src: this.mac, ethertype, tags: NO_TAGS }, payload);
    }
    this.stats.framesOut++;
    this.tap?.('out', frame);
    this.frameLink.transmit(frame);
  }

  /**
   * Broadcasts an RFC 5227 ARP Probe for `candidate` (§2.1.1: sender IP
   * address all zeroes, target IP address the one probed; wire/arp.ts
   * `arpProbe` quotes the rules).
   */
  sendArpProbe(candidate: number): void {
    this.sendArp(arpProbe(this.mac, candidate), MAC_BROADCAST);
    this.stats.arpProbesOut++;
  }

  private sendArp(repr: ArpRepr, dst: MacAddr): void {
    const body = new Uint8Array(ARP_LEN);
    emitArp(repr, body, 0);
    this.sendFrame(dst, ETHERTYPE_ARP, body);
  }

  private drop(reason: DropReason): void {
    this.stack.drop(null, reason);
  }

  /**
   * RFC 4861 §7.2.2: when resolution fails, "The sender MUST return ICMP
   * destination unreachable indications with code 3 (Address Unreachable)
   * for each packet queued awaiting address resolution." The packets are
   * our own, so the indication goes straight to the ICMP input of our TCP
   * (icmp.ts receiveIcmpError, with RFC 5927's checks), as Linux's
   * ipv4_link_failure sends ICMP host unreachable to the local sender: RFC
   * 1122 §4.2.3.9 makes it a soft error, reported if the connection times
   * out (EHOSTUNREACH rather than ETIMEDOUT).
   */
  private unreachable(packets: Uint8Array[]): void {
    const now = this.stack.clock.now();
    for (const p of packets) {
      let quoted: IcmpErrorRepr['quoted'];
      let transport: Uint8Array;
      if (p.length >= IPV6_HEADER_LEN && p[0]! >>> 4 === 6) {
        if (p[6] !== IPPROTO_TCP) continue;
        quoted = { src: readIpv6Addr(p, 8), dst: readIpv6Addr(p, 24), protocol: IPPROTO_TCP, totalLength: p.length };
        transport = p.subarray(IPV6_HEADER_LEN);
      } else {
        if (p.length < 20 || p[9] !== IPPROTO_TCP) continue;
        const ihl = (p[0]! & 0x0f) * 4;
        quoted = { src: getU32(p, 12), dst: getU32(p, 16), protocol: IPPROTO_TCP, totalLength: p.length };
        transport = p.subarray(ihl);
      }
      if (transport.length < 8) continue;
      receiveIcmpError(this.stack, { type: typeof quoted.src === 'number' ? 3 : 1, code: typeof quoted.src === 'number' ? 1 : 3, kind: 'host-unreachable', mtu: 0, quoted, transport }, now);
    }
    this.stack.flushDeferred();
  }

  /** A solicitation for `ip` (ARP request or NS), the `attempt`-th. */
  private solicit(ip: IpAddr, attempt: number, packet: Uint8Array | null, unicast?: MacAddr): void {
    if (typeof ip === 'number') {
      const src = (packet && packet.length >= 20 ? getU32(packet, 12) : null) ?? this.v4Source(ip);
      // RFC 826: "the Address Resolution module ... generates a packet with
      // an Ethernet type field of ether_type$ADDRESS_RESOLUTION ... the
      // ar$tha field is not filled (it is what is being sought) ... and
      // broadcasts the packet to all stations on the Ethernet cable". A
      // probe of a known neighbour (PROBE state) goes to its address only,
      // as Linux's unicast ARP probes (ucast_solicit).
      this.sendArp(arpRequest(this.mac, src, ip), unicast ?? MAC_BROADCAST);
      this.stats.arpRequestsOut++;
      return;
    }
    // RFC 4861 §7.2.2: "the sender SHOULD use the same source address as
    // the packet prompting the solicitation" (when it is ours, else one of
    // the interface's) "the solicitation is sent to the solicited-node
    // multicast address corresponding to the target address" and "the
    // sender MUST include its link-layer address (if it has one) as a
    // Source Link-Layer Address option." RetransTimer apart, up to
    // MAX_MULTICAST_SOLICIT times (NeighborCache).
    let src: Ipv6Addr | null = packet && packet.length >= IPV6_HEADER_LEN ? readIpv6Addr(packet, 8) : null;
    if (src === null || !this.isOurs(src) || this.tentative.has(src)) src = this.v6Source(ip);
    void attempt;
    // RFC 4861 §7.3.3: in PROBE, "a unicast Neighbor Solicitation message to
    // the neighbor using the cached link-layer address".
    if (unicast !== undefined) this.sendNdp(src, ip, { type: 'ns', target: ip, opts: { slla: this.mac } }, unicast);
    else this.sendNdp(src, solicitedNode(ip), { type: 'ns', target: ip, opts: { slla: this.mac } });
  }

  private v4Source(dst: number): number {
    let any = 0;
    for (const a of this.iface.addrs) {
      if (typeof a.addr !== 'number') continue;
      if (ipv4InSubnet(dst, a.addr, a.prefixLen)) return a.addr;
      any ||= a.addr;
    }
    return any;
  }

  private v6Source(dst: Ipv6Addr): Ipv6Addr {
    let any: Ipv6Addr = IPV6_UNSPECIFIED;
    for (const a of this.iface.addrs) {
      if (typeof a.addr !== 'string' || this.tentative.has(a.addr)) continue;
      if (ipv6InSubnet(dst, a.addr, a.prefixLen)) return a.addr;
      if (any === IPV6_UNSPECIFIED) any = a.addr;
    }
    return any;
  }

  private isOurs(a: IpAddr): boolean {
    return this.iface.addrs.some((x) => x.addr === a);
  }

  /** An ND message from `src` to `dst` with Hop Limit 255, to the next hop's MAC. */
  private sendNdp(src: Ipv6Addr, dst: Ipv6Addr, m: NdpMessage, dstMac?: MacAddr): void {
    const icmp = { kind: 'ndp' as const, type: ndpType(m), code: 0, body: emitNdpBody(m) };
    const len = icmpv6Len(icmp);
    const buf = new Uint8Array(IPV6_HEADER_LEN + len);
    emitIpv6({ src, dst, trafficClass: 0, flowLabel: 0, payloadLen: len, nextHeader: IPPROTO_ICMPV6, hopLimit: ND_HOP_LIMIT }, buf, 0);
    emitIcmpv6(icmp, src, dst, buf, IPV6_HEADER_LEN, CHECKSUM_FULL);
    if (m.type === 'ns') this.stats.nsOut++;
    else if (m.type === 'na') this.stats.naOut++;
    if (dstMac !== undefined) this.sendFrame(dstMac, ETHERTYPE_IPV6, buf);
    else if (isIpv6Multicast(dst)) this.sendFrame(ipv6MulticastMac(ipv6ToBytes(dst)), ETHERTYPE_IPV6, buf);
    else this.neighbors.output(dst, buf, this.stack.clock.now());
  }

  /** A PRF draw (HalfSipHash of the MAC and a counter) for the random delays of RFC 4861. */
  private prf(): number {
    return halfSipHash24(Math.floor(this.mac / 0x100000000), this.mac >>> 0, ++this.prfCount, 0, 0x4e445031);
  }

  // ===========================================================================
  // Receive
  // ===========================================================================

  /** Multicast MACs we listen to: all-nodes, all-routers (routers), the solicited-node group of each IPv6 address. */
  private joined(mac: MacAddr): boolean {
    if (!this.v6 || Math.floor(mac / 0x100000000) !== 0x3333) return false;
    if (mac === 0x333300000001) return true;
    if (mac === 0x333300000002) return this.router !== null;
    for (const a of this.iface.addrs) {
      if (typeof a.addr === 'string' && ipv6MulticastMac(ipv6ToBytes(solicitedNode(a.addr))) === mac) return true;
    }
    return false;
  }

  receiveFrame(frame: Uint8Array): void {
    this.stats.framesIn++;
    if (this.tap) {
      completeForCapture(frame);
      this.tap('in', frame);
    }
    // The common frame — untagged IPv4 (or IPv6 on an interface without
    // NDP) to our own unicast address from another — read in place: the
    // same checks as below, without a parsed header per frame.
    if (frame.length >= ETH_HEADER_LEN) {
      const type = (frame[12]! << 8) | frame[13]!;
      if (
        (type === ETHERTYPE_IPV4 || (type === ETHERTYPE_IPV6 && !this.v6)) &&
        ((frame[0]! << 8) | frame[1]!) === this.macHi &&
        getU32(frame, 2) === this.macLo &&
        (((frame[6]! << 8) | frame[7]!) !== this.macHi || getU32(frame, 8) !== this.macLo)
      ) {
        this.onReceive?.(frame.subarray(ETH_HEADER_LEN));
        return;
      }
    }
    const f = parseEthernet(frame);
    if (!f.ok) {
      this.drop(f.reason);
      return;
    }
    const h = f.value.header;
    // Receive filtering, as a NIC: our unicast address, broadcast, and the
    // multicast groups joined (RFC 4861 §7.2.1: "When a multicast-capable
    // interface becomes enabled, the node MUST join the all-nodes
    // multicast address on that interface, as well as the solicited-node
    // multicast address corresponding to each of the IP addresses assigned
    // to the interface.").
    if (h.dst !== this.mac && h.dst !== MAC_BROADCAST && !this.joined(h.dst)) {
      this.drop('eth-not-for-us');
      return;
    }
    if (h.src === this.mac) {
      // Our own frame reflected back (a hub floods to every port).
      this.drop('eth-not-for-us');
      return;
    }
    if (h.tags.length > 0) {
      // IEEE 802.1Q: a tagged frame belongs to a VLAN; this interface is on
      // none (the untagged LAN only).
      this.drop('eth-vlan-tagged');
      return;
    }
    const payload = f.value.payload;
    switch (h.ethertype) {
      case ETHERTYPE_ARP:
        this.receiveArp(payload);
        return;
      case ETHERTYPE_IPV6:
        if (this.v6 && this.receiveNdp(payload)) return;
        this.onReceive?.(payload);
        return;
      case ETHERTYPE_IPV4:
        this.onReceive?.(payload);
        return;
      default:
        this.drop('eth-unknown-ethertype');
    }
  }

  private isOurV4(a: number): boolean {
    return this.iface.addrs.some((x) => x.addr === a);
  }

  /** RFC 826 "Packet Reception" (the codec did the hardware and protocol checks; see wire/arp.ts). */
  private receiveArp(payload: Uint8Array): void {
    const p = parseArp(payload);
    if (!p.ok) {
      this.drop(p.reason);
      return;
    }
    const r = p.value;
    for (const w of this.arpWatchers) w(r);
    if (r.senderMac === this.mac || (r.senderIp !== 0 && this.isOurV4(r.senderIp)) || isMulticastMac(r.senderMac)) {
      // Someone else claims our address (RFC 5227 §2.4 conflict; we do not
      // defend it) or a bogus sender hardware address: never merged.
      this.drop('arp-own-address');
      return;
    }
    const now = this.stack.clock.now();
    const forUs = this.isOurV4(r.targetIp);
    // "Merge_flag := false / If the pair <protocol type, sender protocol
    // address> is already in my translation table, update the sender
    // hardware address field of the entry with the new information in the
    // packet and set Merge_flag to true."
    let merge = false;
    if (r.senderIp !== 0 && this.neighbors.get(r.senderIp)) {
      merge = this.neighbors.learn(r.senderIp, r.senderMac, now, r.op === 'reply' && forUs, false);
    }
    // "?Am I the target protocol address?" — negative conditionals end the
    // processing.
    if (!forUs) {
      if (!merge) this.drop('arp-not-for-us');
      return;
    }
    // "If Merge_flag is false, add the triplet <protocol type, sender
    // protocol address, sender hardware address> to the translation
    // table." A Probe (sender 0.0.0.0, RFC 5227) adds nothing.
    if (!merge && r.senderIp !== 0) this.neighbors.learn(r.senderIp, r.senderMac, now, r.op === 'reply', true);
    // "?Is the opcode ares_op$REQUEST? ... Swap hardware and protocol
    // fields, putting the local hardware and protocol addresses in the
    // sender fields. Set the ar$op field to ares_op$REPLY. Send the packet
    // to the (new) target hardware address on the same hardware on which
    // the request was received." Only for our own addresses (forUs).
    if (r.op === 'request') {
      this.sendArp(arpReplyTo(r, this.mac), r.senderMac);
      this.stats.arpRepliesOut++;
    }
  }

  /** An IPv6 packet that is an ND message (ICMPv6 133–137 right after the fixed header) is handled here; returns false for others. */
  private receiveNdp(packet: Uint8Array): boolean {
    if (packet.length < IPV6_HEADER_LEN + 4 || packet[0]! >>> 4 !== 6 || packet[6] !== IPPROTO_ICMPV6) return false;
    const type = packet[IPV6_HEADER_LEN]!;
    if (type < 133 || type > 137) return false;
    const payloadLen = (packet[4]! << 8) | packet[5]!;
    if (IPV6_HEADER_LEN + payloadLen > packet.length) return false; // the stack counts it
    const src = readIpv6Addr(packet, 8);
    const dst = readIpv6Addr(packet, 24);
    const hopLimit = packet[7]!;
    const icmp = parseIcmpv6(packet.subarray(IPV6_HEADER_LEN, IPV6_HEADER_LEN + payloadLen), src, dst, this.checksum);
    if (!icmp.ok) {
      this.drop(icmp.reason);
      return true;
    }
    if (icmp.value.kind !== 'ndp') return false;
    const { code, body } = icmp.value;
    // RFC 4861 §7.1.1, §7.1.2, §6.1.1, §6.1.2: a node "MUST silently
    // discard" an ND message unless "The IP Hop Limit field has a value of
    // 255, i.e., the packet could not possibly have been forwarded by a
    // router." and "ICMP Code is 0." (the checksum is checked above), and
    // "All included options have a length that is greater than zero."
    // (parseNdp: 'ndp-bad-option'). The ICMP length minimums (NS, NA "24 or
    // more octets", RA "16 or more", RS "8 or more") are parseNdp's
    // fixed-part check ('ndp-bad-length').
    if (hopLimit !== ND_HOP_LIMIT || code !== 0) {
      this.drop('ndp-invalid');
      return true;
    }
    const m = parseNdp(type, body);
    if (!m.ok) {
      this.drop(m.reason);
      return true;
    }
    const now = this.stack.clock.now();
    const msg = m.value;
    switch (msg.type) {
      case 'ns':
        this.receiveNs(src, dst, msg, now);
        break;
      case 'na':
        this.receiveNa(dst, msg, now);
        break;
      case 'rs':
        this.receiveRs(src, msg, now);
        break;
      case 'ra':
        this.receiveRa(src, msg, now);
        break;
    }
    return true;
  }

  private receiveNs(src: Ipv6Addr, dst: Ipv6Addr, m: Extract<NdpMessage, { type: 'ns' }>, now: Instant): void {
    const dad = isIpv6Unspecified(src);
    // RFC 4861 §7.1.1: "Target Address is not a multicast address." "If the
    // IP source address is the unspecified address, the IP destination
    // address is a solicited-node multicast address." "If the IP source
    // address is the unspecified address, there is no source link-layer
    // address option in the message."
    if (isIpv6Multicast(m.target) || (dad && (!isSolicitedNode(dst) || m.opts.slla !== undefined))) {
      this.drop('ndp-invalid');
      return;
    }
    if (!this.isOurs(m.target)) {
      // RFC 4861 §7.2.3: "If the Target Address is not a unicast or anycast
      // address assigned to the receiving interface ... silently discard".
      this.drop('ndp-not-for-us');
      return;
    }
    if (this.tentative.has(m.target)) {
      // RFC 4862 §5.4.3: "If the target address is tentative, and the source
      // address is the unspecified address, the solicitation's sender is
      // performing Duplicate Address Detection" — the address is not
      // unique (§5.4.5) — otherwise "the Neighbor Solicitation MUST be
      // silently discarded" (it is not ours yet).
      if (dad) this.duplicate(m.target);
      else this.drop('ndp-not-for-us');
      return;
    }
    // RFC 4861 §7.2.3: "If the Source Address is not the unspecified address
    // and, on link layers that have addresses, the solicitation includes a
    // Source Link-Layer Address option, then the recipient SHOULD create or
    // update the Neighbor Cache entry for the IP Source Address of the
    // solicitation. If an entry does not already exist, the node SHOULD
    // create a new one and set its reachability state to STALE".
    if (!dad && m.opts.slla !== undefined) this.neighbors.learn(src, m.opts.slla, now, false, true);
    // RFC 4861 §7.2.4: "If the source of the solicitation is the unspecified
    // address, the node MUST set the Solicited flag to zero and multicast
    // the advertisement to the all-nodes address. Otherwise, the node MUST
    // set the Solicited flag to one and unicast the advertisement to the
    // Source Address of the solicitation." with our address as Target
    // Link-Layer Address option and the Override flag set (not anycast).
    const na: NdpMessage = { type: 'na', router: this.router !== null, solicited: !dad, override: true, target: m.target, opts: { tlla: this.mac } };
    this.sendNdp(m.target, dad ? ALL_NODES : src, na, !dad && m.opts.slla !== undefined ? m.opts.slla : undefined);
  }

  private receiveNa(dst: Ipv6Addr, m: Extract<NdpMessage, { type: 'na' }>, now: Instant): void {
    // RFC 4861 §7.1.2: "Target Address is not a multicast address." "If the
    // IP Destination Address is a multicast address the Solicited flag is
    // zero."
    if (isIpv6Multicast(m.target) || (isIpv6Multicast(dst) && m.solicited)) {
      this.drop('ndp-invalid');
      return;
    }
    if (this.tentative.has(m.target)) {
      // RFC 4862 §5.4.4: "If the target address is tentative, the tentative
      // address is not unique."
      this.duplicate(m.target);
      return;
    }
    if (this.isOurs(m.target)) {
      // Someone advertises our address (a duplicate found after DAD): not merged.
      this.drop('ndp-invalid');
      return;
    }
    // RFC 4861 §7.2.5: "If no entry exists, the advertisement SHOULD be
    // silently discarded." Without a Target Link-Layer Address option an
    // INCOMPLETE entry learns nothing.
    const e = this.neighbors.get(m.target);
    if (!e) {
      this.drop('ndp-not-for-us');
      return;
    }
    const mac = m.opts.tlla ?? (e.state === 'incomplete' ? null : e.mac);
    if (mac === null) {
      this.drop('ndp-invalid');
      return;
    }
    this.neighbors.learn(m.target, mac, now, m.solicited, false, m.override || e.state === 'incomplete');
  }

  /**
   * RFC 4862 §5.4.5: "A tentative address that is determined to be a
   * duplicate as described above MUST NOT be assigned to an interface, and
   * the node SHOULD log a system management error." It is removed and
   * listed in `duplicates`. (The further SHOULD, disabling IP on the
   * interface when the duplicate is a hardware-derived link-local address,
   * is not done.)
   */
  private duplicate(addr: Ipv6Addr): void {
    this.tentative.delete(addr);
    this.stack.removeAddress(this.iface, addr);
    this.autoconfigured.delete(addr);
    this.duplicates.push(addr);
    // Bounded like the addresses themselves: RAs with new prefixes and forged
    // answers to every DAD probe would otherwise grow this list forever.
    if (this.duplicates.length > 4 * MAX_AUTOCONF_ADDRESSES) this.duplicates.shift();
    this.stats.dadFailed++;
    // RFC 7217 §6: "If as a result of performing Duplicate Address Detection
    // (DAD) ... a node finds that the tentative address is already in use,
    // ... the DAD_Counter parameter MUST be incremented by 1, and a new
    // Interface Identifier MUST be generated" — at most IDGEN_RETRIES times.
    const st = this.slaac.get(addr);
    if (st && this.iidKey && st.counter < IDGEN_RETRIES) {
      const next = stableAddress(st.prefix, this.mac, st.counter + 1, this.iidKey);
      if (!this.isOurs(next)) {
        this.slaac.set(next, { prefix: st.prefix, counter: st.counter + 1 });
        this.autoconfigured.add(next);
        this.addAddress(next, 64);
      }
    }
  }

  // ----- Router Discovery (RFC 4861 §6) and SLAAC (RFC 4862 §5.5) -----

  private receiveRs(src: Ipv6Addr, m: Extract<NdpMessage, { type: 'rs' }>, now: Instant): void {
    // RFC 4861 §6.1.1: "If the IP source address is the unspecified address,
    // there is no source link-layer address option in the message." Hosts
    // "MUST silently discard any received Router Solicitation messages".
    if (!this.router) {
      this.drop('ndp-not-for-us');
      return;
    }
    if (isIpv6Unspecified(src) && m.opts.slla !== undefined) {
      this.drop('ndp-invalid');
      return;
    }
    // RFC 4861 §6.2.6: "the router SHOULD update the Neighbor Cache entry for
    // the source" (when it gave its link-layer address) and "Router
    // Advertisements sent in response to a Router Solicitation MUST be
    // delayed by a random time between 0 and MAX_RA_DELAY_TIME seconds." and
    // "consecutive Router Advertisements sent to the all-nodes multicast
    // address MUST be rate limited to no more than one advertisement every
    // MIN_DELAY_BETWEEN_RAS seconds."
    if (!isIpv6Unspecified(src) && m.opts.slla !== undefined) this.neighbors.learn(src, m.opts.slla, now, false, true);
    const at = Math.max(now + (this.prf() % MAX_RA_DELAY_TIME_US), this.lastRaAt + MIN_DELAY_BETWEEN_RAS_US);
    if (at < this.raAt) this.raAt = at;
  }

  private sendRa(now: Instant): void {
    const r = this.router!;
    const maxS = r.maxIntervalS ?? 600;
    const minS = Math.max(3, 0.33 * maxS);
    const ll = linkLocalFor(this.mac);
    const prefixes: PrefixInfo[] = r.prefixes.map((p) => ({
      prefix: p.prefix,
      prefixLen: p.prefixLen,
      onLink: true,
      autonomous: true,
      // RFC 4861 §6.2.1 defaults: AdvValidLifetime 2592000 s (30 days), AdvPreferredLifetime 604800 s (7 days).
      validLifetime: p.validLifetime ?? 2_592_000,
      preferredLifetime: p.preferredLifetime ?? 604_800,
    }));
    this.sendNdp(ll, ALL_NODES, {
      type: 'ra',
      curHopLimit: this.stack.ttl,
      managed: false,
      other: false,
      // RFC 4861 §6.2.1 AdvDefaultLifetime: "Default: 3 * MaxRtrAdvInterval"; 0 = not a default router.
      routerLifetime: r.defaultRouter ? Math.min(9000, 3 * maxS) : 0,
      reachableTime: 0,
      retransTimer: 0,
      opts: {
        slla: this.mac,
        prefixes,
        ...(r.mtu ? { mtu: r.mtu } : {}),
        // RFC 8106 §5.1: "The value of Lifetime SHOULD by default be at least
        // 3 * MaxRtrAdvInterval".
        ...(r.rdnss?.length ? { rdnss: { lifetime: 3 * maxS, servers: r.rdnss } } : {}),
      },
    });
    this.stats.raOut++;
    this.raSent++;
    this.lastRaAt = now;
    // RFC 4861 §6.2.4: "Whenever a multicast advertisement is sent from an
    // interface, the timer is reset to a uniformly distributed random value
    // between the interface's configured MinRtrAdvInterval and
    // MaxRtrAdvInterval" ... "For the first few advertisements (up to
    // MAX_INITIAL_RTR_ADVERTISEMENTS) ... if the randomly chosen interval is
    // greater than MAX_INITIAL_RTR_ADVERT_INTERVAL, the timer SHOULD be set
    // to MAX_INITIAL_RTR_ADVERT_INTERVAL instead."
    const span = Math.max(1, Math.round((maxS - minS) * 1_000_000));
    let interval = Math.round(minS * 1_000_000) + (this.prf() % span);
    if (this.raSent < MAX_INITIAL_RTR_ADVERTISEMENTS) interval = Math.min(interval, MAX_INITIAL_RTR_ADVERT_INTERVAL_US);
    this.raAt = now + interval;
  }

  private receiveRa(src: Ipv6Addr, m: Extract<NdpMessage, { type: 'ra' }>, now: Instant): void {
    // RFC 4861 §6.1.2: "IP Source Address is a link-local address. Routers
    // must use their link-local address as the source for Router
    // Advertisement messages so that hosts can uniquely identify routers."
    if (!isIpv6LinkLocal(src)) {
      this.drop('ndp-invalid');
      return;
    }
    this.stats.raIn++;
    if (this.router) return; // RFC 4861 §6.2.7: routers only check consistency
    // RFC 4861 §6.3.4: "If the advertisement contains a Source Link-Layer
    // Address option, the link-layer address SHOULD be recorded in the
    // Neighbor Cache entry for the router (creating an entry if necessary)"
    if (m.opts.slla !== undefined) this.neighbors.learn(src, m.opts.slla, now, false, true);
    this.rsAt = Infinity; // a valid RA ends the solicitations (RFC 4861 §6.3.7)
    if (m.routerLifetime > 0) this.defaultRouter = src;
    else if (this.defaultRouter === src) this.defaultRouter = null;
    // RFC 4861 §4.6.4: the MTU option; §6.3.4: "If the MTU option is present,
    // hosts SHOULD copy the option's value into LinkMTU so long as the value
    // is greater than or equal to the minimum link MTU [IPv6] and does not
    // exceed the maximum LinkMTU value". Recorded (the interface MTU is
    // fixed at creation).
    if (m.opts.mtu !== undefined && m.opts.mtu >= 1280 && m.opts.mtu <= this.mtu) this.advertisedMtu = m.opts.mtu;
    if (m.opts.rdnss && m.opts.rdnss.lifetime > 0) this.dnsServers = m.opts.rdnss.servers.slice(0, 3);
    if (!this.autoconf) return;
    for (const p of m.opts.prefixes ?? []) {
      // RFC 4862 §5.5.3: "a) If the Autonomous flag is not set, silently
      // ignore the Prefix Information option. b) If the prefix is the
      // link-local prefix, silently ignore the Prefix Information option.
      // c) If the preferred lifetime is greater than the valid lifetime,
      // silently ignore the Prefix Information option."
      if (!p.autonomous || isIpv6LinkLocal(p.prefix) || p.preferredLifetime > p.validLifetime) continue;
      // d) "... and if the Valid Lifetime is not 0, form an address ... If
      // the sum of the prefix length and interface identifier length does
      // not equal 128 bits, the Prefix Information option MUST be ignored."
      // The identifier is the 64-bit modified EUI-64 of the MAC (RFC 4291
      // Appendix A), or an RFC 7217 stable one (`iid: 'stable'`). (Lifetimes
      // are not tracked: the address stays.)
      if (p.validLifetime === 0 || p.prefixLen !== 64) continue;
      if (this.iidKey) {
        if ([...this.slaac.values()].some((x) => x.prefix === p.prefix)) continue;
        const addr = stableAddress(p.prefix, this.mac, 0, this.iidKey);
        if (this.isOurs(addr)) continue;
        if (!this.mayAutoconfigure()) continue;
        this.slaac.set(addr, { prefix: p.prefix, counter: 0 });
        this.autoconfigured.add(addr);
        this.addAddress(addr, 64);
        continue;
      }
      const addr = addrFromPrefix(p.prefix, this.mac);
      if (this.isOurs(addr) || this.duplicates.includes(addr)) continue;
      if (!this.mayAutoconfigure()) continue;
      this.autoconfigured.add(addr);
      this.addAddress(addr, 64);
    }
  }

  /**
   * Room for one more SLAAC address. RFC 4862 §5.5.3 (d) forms an address
   * for every new autonomous prefix and sets no limit, and RFC 4861's
   * Router Advertisements are unauthenticated: one node sending RAs with a
   * new prefix each (thc-ipv6's flood_router6) would grow the address list
   * — and every lookup that walks it — without bound. Like Linux
   * (net.ipv6.conf.*.max_addresses = 16) we form at most
   * MAX_AUTOCONF_ADDRESSES; further prefixes are counted drops
   * ('slaac-address-limit'). An address DAD finds duplicate frees its place.
   */
  private mayAutoconfigure(): boolean {
    if (this.autoconfigured.size < MAX_AUTOCONF_ADDRESSES) return true;
    this.drop('slaac-address-limit');
    return false;
  }
}
