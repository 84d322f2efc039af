/**
 * `createMemoryNetwork()`: the shortest way to a working network — one
 * in-memory hub, a Driver on the real (or a virtual) clock, and a
 * node:net-compatible module per host:
 *
 *   const lan = createMemoryNetwork();
 *   const a = lan.host('10.0.0.1');
 *   const b = lan.host('10.0.0.2');
 *   b.net.createServer((s) => s.pipe(s)).listen(7);
 *   const c = a.net.connect(7, '10.0.0.2');
 *
 * Runs in Node and in browsers (random secrets from Web Crypto's
 * getRandomValues, present in both).
 */
import { Network } from '../sim/network.ts';
import { VirtualClock } from '../base/time.ts';
import type { MemoryHub, Impairments } from '../links/memory.ts';
import type { EthernetSwitch } from '../links/switch.ts';
import type { EthernetInterface } from '../stack/ethernet.ts';
import { isMulticastMac, parseMac } from '../wire/ethernet.ts';
import type { Stack, StackConfig } from '../stack/stack.ts';
import type { TcpConfig } from '../tcp/config.ts';
import { parseIpAddr, type IpAddr } from '../wire/ipv6.ts';
import { ipv4ToString } from '../wire/bytes.ts';
import { SynackError } from '../errors.ts';
import { Driver, RealClock } from './driver.ts';
import { createNet, type SynackNet } from './net.ts';
import type { HostsTable } from './resolve.ts';
import { createDgram, type SynackDgram } from './dgram.ts';
import { createHostServices, type DnsBox, type HostServices } from './services.ts';

export interface MemoryNetworkOptions {
  /** Deterministic ISN secrets and port choices; without it, secrets come from crypto.getRandomValues. */
  seed?: number;
  /** MTU of the hub (default 1500). */
  mtu?: number;
  /** Impairments of the hub (delay, loss, reordering, …). */
  impair?: Partial<Impairments>;
  /**
   * Segmentation offload on the layer-3 hub (MemoryHubOptions): TCP sends
   * up to 64 KiB per packet whatever the MTU, as Linux's loopback and veth
   * do with TSO/GSO and GRO — far less work per byte at small MTUs. Default
   * true; the hub falls back to MSS-sized packets by itself whenever
   * something acts on or watches packets one by one (an impairment, a
   * `hub.tap`, a stack's hooks: the ladder, the visualizer, a capture).
   * `false` keeps every segment a packet of its own.
   */
  segmentationOffload?: boolean;
  /** Run on a VirtualClock as fast as possible instead of the real clock. */
  virtualTime?: boolean;
  /** TcpConfig overrides for every stack created by host(). */
  tcp?: Partial<TcpConfig>;
  /**
   * An Ethernet LAN instead of the layer-3 hub: hosts attach to an
   * in-memory learning switch (links/switch.ts) with a MAC address each and
   * find each other by ARP and Neighbor Discovery. The impairments apply to
   * every frame.
   */
  ethernet?: boolean;
}

export interface HostOptions {
  /** Prefix length of the address (default 24 for IPv4, 64 for IPv6). */
  prefixLen?: number;
  /** A second address of the other family on the same interface: a dual-stack host (`host('10.0.0.2', { also: 'fd00::2' })`). */
  also?: string;
  /** A name other hosts can connect to (`net.connect(80, 'server')`); also the stack's trace name. */
  name?: string;
  /** TcpConfig overrides for this host's connections. */
  tcp?: Partial<TcpConfig>;
  /** Ethernet mode: the host's MAC address ("02:00:00:00:00:01"; default: a locally administered one derived from a counter). */
  mac?: string;
  /** Further Stack settings (ephemeral ports, limits, …). */
  stack?: Partial<Omit<StackConfig, 'clock' | 'isnSecret' | 'tcp' | 'name'>>;
}

export interface MemoryHost extends HostServices {
  stack: Stack;
  net: SynackNet;
  /** A node:dgram-like module over this host's UDP. */
  dgram: SynackDgram;
  /** The host's address ('' for an Ethernet host made without one until `dhcp()` binds; then the leased one). */
  address: string;
  /** Ethernet mode: the host's Ethernet interface (MAC, neighbour cache); null on the layer-3 hub. */
  eth: EthernetInterface | null;
}

export interface MemoryNetwork {
  network: Network;
  /** The layer-3 hub hosts attach to (unused in Ethernet mode). */
  hub: MemoryHub;
  /** Ethernet mode: the switch hosts attach to; null otherwise. */
  switch: EthernetSwitch | null;
  driver: Driver;
  /** Name → address(es) table shared by every host's `net` (filled by `host(addr, { name })`; a dual-stack host's name has both addresses). */
  hosts: HostsTable;
  /** A host with `address`; in Ethernet mode `null` makes one without an address, for `host.dhcp()`. */
  host(address: string | null, opts?: HostOptions): MemoryHost;
  /** Stops the driver's timers (sockets and servers should be closed first). */
  stop(): void;
}

/** One in-memory LAN driven on the event loop (Node's or a page's), with a node:net module per host. */
export function createMemoryNetwork(opts: MemoryNetworkOptions = {}): MemoryNetwork {
  const clock = opts.virtualTime ? new VirtualClock() : new RealClock();
  const network = new Network({ clock, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
  const hub = network.addHub({
    ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
    ...(opts.impair ? { impair: opts.impair } : {}),
    ...(opts.segmentationOffload !== false ? { segmentationOffload: true } : {}),
  });
  const sw = opts.ethernet ? network.addSwitch({ ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}), ...(opts.impair ? { impair: opts.impair } : {}) }) : null;
  const driver = new Driver(network);
  const hosts: HostsTable = new Map();
  const used = new Set<IpAddr>();
  let unnamed = 0;
  let hostCount = 0;
  return {
    network,
    hub,
    switch: sw,
    driver,
    hosts,
    host(address: string | null, hostOpts: HostOptions = {}): MemoryHost {
      const parse = (a: unknown): IpAddr => {
        const v = typeof a === 'string' ? parseIpAddr(a) : null;
        if (v === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `host address must be an IPv4 or IPv6 literal, got ${String(a)}`);
        if (used.has(v)) throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `${String(a)} is already a host on this network`);
        return v;
      };
      if (address === null && !sw) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'a host without an address (for DHCP) needs the Ethernet mode: createMemoryNetwork({ ethernet: true })');
      const addr = address === null ? null : parse(address);
      const also = hostOpts.also !== undefined ? parse(hostOpts.also) : null;
      if (also !== null && addr !== null && typeof also === typeof addr) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'host(…, { also }) takes an address of the other family');
      const cfg: Partial<Omit<StackConfig, 'clock'>> = { ...hostOpts.stack, name: hostOpts.name ?? address ?? `dhcp-host-${++unnamed}` };
      if (opts.tcp || hostOpts.tcp) cfg.tcp = { ...opts.tcp, ...hostOpts.tcp };
      if (opts.seed === undefined) {
        const b = crypto.getRandomValues(new Uint32Array(3));
        cfg.isnSecret = [b[0]!, b[1]!];
        cfg.portSeed = b[2]!;
      }
      let mac: number | undefined;
      if (hostOpts.mac !== undefined) {
        const m = parseMac(hostOpts.mac);
        if (m === null || isMulticastMac(m)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `mac must be a unicast MAC address like 02:00:00:00:00:01, got ${String(hostOpts.mac)}`);
        mac = m;
      }
      const stack = network.addStack(cfg);
      let eth: EthernetInterface | null = null;
      if (sw) {
        const addrs = [...(addr !== null ? [{ addr, ...(hostOpts.prefixLen !== undefined ? { prefixLen: hostOpts.prefixLen } : {}) }] : []), ...(also !== null ? [{ addr: also }] : [])];
        eth = network.attachEthernet(stack, sw, addrs, { ...(mac !== undefined ? { mac } : {}), ...(addrs.length === 0 ? { unconfigured: true } : {}) });
      } else {
        network.attach(stack, hub, addr!, hostOpts.prefixLen, also !== null ? [{ addr: also }] : []);
      }
      if (addr !== null) used.add(addr);
      if (also !== null) used.add(also);
      if (hostOpts.name && address !== null) hosts.set(hostOpts.name.toLowerCase(), hostOpts.also !== undefined ? [address, hostOpts.also] : address);
      const dns: DnsBox = { lookup: null };
      const net = createNet({ stack, driver, hosts, dns });
      const dgram = createDgram({ stack, driver, hosts });
      const services = createHostServices({ stack, driver, net, eth, dns, seed: (opts.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!) ^ Math.imul(++hostCount, 0x9e3779b1) });
      const host: MemoryHost = {
        stack, net, dgram, address: address ?? '', eth,
        ...services,
        get resolver() {
          return services.resolver;
        },
        dhcp(o) {
          const h = services.dhcp({
            ...o,
            onEvent(ev) {
              // A host made without an address is known by its name at the leased one, while the lease lasts.
              if (ev.type === 'bound') {
                host.address = ipv4ToString(ev.lease.addr);
                if (address === null && hostOpts.name) hosts.set(hostOpts.name.toLowerCase(), host.address);
              } else if (ev.type === 'expired' && address === null) {
                host.address = '';
                if (hostOpts.name) hosts.delete(hostOpts.name.toLowerCase());
              }
              o?.onEvent?.(ev);
            },
          });
          return h;
        },
      };
      return host;
    },
    stop(): void {
      driver.stop();
    },
  };
}
