/**
 * What `synack serve`, `connect` and `get` share: the link options
 * (`--tun IF | --tap IF`, `--addr CIDR [--addr CIDR…] [--mtu N] [--pcap FILE]`, the
 * impairment options, `--log-states`), and a host built from them — a TUN
 * link, or a TAP link under an Ethernet interface (issue 13: MAC address,
 * ARP, NDP, optional router advertisements), one stack on the real clock,
 * its Driver, a node:net-compatible and a node:dgram-compatible module —
 * plus the pcap writer and the state log. `--addr` may be repeated and
 * takes IPv4 and IPv6 CIDRs (issue 12): one interface, dual stack.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Network } from '../sim/network.ts';
import { Driver, RealClock } from '../api/driver.ts';
import { createNet, type SynackNet } from '../api/net.ts';
import type { Stack } from '../stack/stack.ts';
import type { Impairments } from '../links/memory.ts';
import type { TcpConfig } from '../tcp/config.ts';
import { TunLink, configureTunDevice, loadTunAddon, TunError } from '../links/tun.ts';
import { TapLink } from '../links/tap.ts';
import { addEthernetInterface, type EthernetInterface } from '../stack/ethernet.ts';
import { createDgram, type SynackDgram } from '../api/dgram.ts';
import { getMac, isMulticastMac, macToString, parseMac, type MacAddr } from '../wire/ethernet.ts';
import { parseIpv4Addr } from '../wire/bytes.ts';
import {
  formatIpAddr,
  IPV6_MIN_MTU,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
  isIpv6V4Mapped,
  isIpv6LinkLocal,
  ipv6FromWords,
  parseIpv6Addr,
  type IpAddr,
  type Ipv6Addr,
} from '../wire/ipv6.ts';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW, pcapGlobalHeader, pcapRecord } from '../wire/pcap.ts';
import { UsageError } from './options.ts';

/** parseArgs options every TUN command takes. */
export const LINK_OPTIONS = {
  tun: { type: 'string' },
  tap: { type: 'string' },
  mac: { type: 'string' },
  ra: { type: 'string', multiple: true },
  addr: { type: 'string', multiple: true },
  mtu: { type: 'string' },
  pcap: { type: 'string' },
  'peer-addr': { type: 'string', multiple: true },
  window: { type: 'string' },
  loss: { type: 'string' },
  delay: { type: 'string' },
  jitter: { type: 'string' },
  reorder: { type: 'string' },
  duplicate: { type: 'string' },
  corrupt: { type: 'string' },
  bandwidth: { type: 'string' },
  queue: { type: 'string' },
  seed: { type: 'string' },
  cc: { type: 'string' },
  'log-states': { type: 'boolean' },
  'no-offload': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const LINK_HELP = `Link options:
  --tun IF                TUN device to use (attached if it exists, else created)
  --tap IF                or a TAP device (Ethernet frames; attached if it
                          exists, else created): synack answers ARP and
                          Neighbor Discovery with its own MAC address
  --addr CIDR             synack's address and prefix on it: IPv4
                          (10.9.0.2/24; the prefix defaults to /24) or IPv6
                          (fd09::2/64; defaults to /64). Repeat it for a
                          dual-stack host: --addr 10.9.0.2/24 --addr fd09::2/64
                          (IPv6 needs an MTU of at least 1280, RFC 8200 §5)
  --mtu N                 MTU of the link and the device (68..65535; default:
                          the device's MTU, 1500 for a new device)
  --pcap FILE             write every packet synack sends and receives to FILE
                          (pcap, LINKTYPE_RAW, IPv4 and IPv6; tshark -r FILE;
                          on --tap every frame, LINKTYPE_ETHERNET)
  --peer-addr CIDR        also give the kernel's side of the device this
                          address (may be repeated, IPv4 or IPv6; runs
                          ip addr replace CIDR dev IF, with nodad for IPv6)
  --window BYTES          receive and send buffer per connection (default 1 MiB)
  --cc newreno|cubic      congestion control of every connection (default cubic)
  --log-states            print every state transition of every connection
  --no-offload            open the device without offloads (IFF_VNET_HDR,
                          checksum and TSO; on by default where the kernel
                          accepts them; also SYNACK_TUN_OFFLOAD=0)

TAP only:
  --mac MAC               synack's MAC address (default: a random locally
                          administered one; printed in the ready line)
  --ra PREFIX/64          send IPv6 Router Advertisements for PREFIX (on-link,
                          autonomous; RFC 4861 §6.2) so that hosts on the link
                          form addresses by SLAAC (RFC 4862). May be repeated.
                          synack advertises itself as no default router

Impairments (applied in both directions between the device and the stack):
  --loss P                drop each packet with probability P (0..1)
  --delay MS              one-way delay, milliseconds
  --jitter MS             extra random delay in [0, MS] (reorders)
  --reorder P             hold a packet back by (delay + 10 ms) with probability P
  --duplicate P           deliver a packet twice with probability P
  --corrupt P             flip one bit of a packet with probability P
  --bandwidth MBPS        bottleneck rate, Mbit/s (0 = unlimited, the default)
  --queue PACKETS         drop-tail queue at the bottleneck, in packets
                          (0 = unbounded, the default; needs --bandwidth)
  --seed N                seed of the impairment RNG (default 1)`;

/** One address with its prefix, as --addr and --peer-addr take it. */
export interface Cidr {
  addr: IpAddr;
  prefixLen: number;
}

export interface LinkArgs {
  /** The device's name (a TUN or a TAP device, see `kind`). */
  tun: string;
  /** --tun (IP packets) or --tap (Ethernet frames). */
  kind: 'tun' | 'tap';
  /** --mac: synack's MAC address on a TAP device (null: a random one). */
  mac: MacAddr | null;
  /** --ra: IPv6 prefixes (/64) to advertise on a TAP device. */
  raPrefixes: Ipv6Addr[];
  /** synack's addresses on the device (at least one; IPv4, IPv6 or both). */
  addrs: Cidr[];
  mtu: number | null;
  pcap: string | null;
  /** Addresses for the kernel's side of the device. */
  peerAddrs: Cidr[];
  windowBytes: number;
  congestionControl: TcpConfig['congestionControl'];
  impair: Partial<Impairments> | null;
  seed: number;
  logStates: boolean;
  /** false: --no-offload (default: the link's default, on unless SYNACK_TUN_OFFLOAD=0). */
  offload: boolean | null;
}

type Values = {
  [K in keyof typeof LINK_OPTIONS]?: (typeof LINK_OPTIONS)[K]['type'] extends 'boolean' ? boolean : (typeof LINK_OPTIONS)[K] extends { multiple: true } ? string[] : string;
} & {
  /** serve's --dhcp (cli/services-options.ts): the address comes from DHCP, so --addr may be absent. */
  dhcp?: boolean;
};

function num(cmd: string, name: string, raw: string | undefined, check: (n: number) => boolean, what: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} expects ${what}, got '${raw}'`, cmd);
  return n;
}

/** "10.9.0.2/24", "fd09::2/64" */
export function formatCidr(c: Cidr): string {
  return `${formatIpAddr(c.addr)}/${c.prefixLen}`;
}

/**
 * Parses an IPv4 CIDR "A.B.C.D/P" (the prefix defaults to 24) or an IPv6
 * one "X:X::X/P" (the prefix defaults to 64), or throws a UsageError that
 * says what is wrong with it. A unicast address only: an interface of the
 * stack cannot have a multicast, unspecified or loopback address, and an
 * IPv4-mapped IPv6 address is an IPv4 node's (RFC 4291 §2.5.5.2: pass the
 * IPv4 address instead).
 */
export function parseCidr(cmd: string, opt: string, raw: string): Cidr {
  const text = raw.trim();
  const slash = text.indexOf('/');
  const host = slash === -1 ? text : text.slice(0, slash);
  const plen = slash === -1 ? null : text.slice(slash + 1);
  const bad = (why: string): UsageError =>
    new UsageError(`--${opt} expects an IPv4 or IPv6 address with a prefix, like 10.9.0.2/24 or fd09::2/64, got '${raw}': ${why}`, cmd);
  if (host.includes(':')) {
    const addr = parseIpv6Addr(host);
    if (addr === null) throw bad(`'${host}' is not an IPv6 address`);
    if (plen !== null && !/^\d{1,3}$/.test(plen)) throw bad(`the prefix length '${plen}' is not a number`);
    const prefixLen = plen === null ? 64 : Number(plen);
    if (prefixLen > 128) throw bad('an IPv6 prefix length is 0..128');
    if (isIpv6Multicast(addr) || isIpv6Unspecified(addr) || isIpv6Loopback(addr)) throw bad('not a unicast address of an interface');
    if (isIpv6V4Mapped(addr)) throw bad('an IPv4-mapped address: give the IPv4 address itself');
    return { addr, prefixLen };
  }
  const addr = parseIpv4Addr(host);
  if (addr === null) throw bad(`'${host}' is not an IPv4 address`);
  if (plen !== null && !/^\d{1,2}$/.test(plen)) throw bad(`the prefix length '${plen}' is not a number`);
  const prefixLen = plen === null ? 24 : Number(plen);
  if (prefixLen > 32) throw bad('an IPv4 prefix length is 0..32');
  return { addr, prefixLen };
}

/** Every value of a repeatable option, each parsed; no address twice. */
function parseCidrs(cmd: string, opt: string, raws: readonly string[] | undefined): Cidr[] {
  const out: Cidr[] = [];
  for (const raw of raws ?? []) {
    const c = parseCidr(cmd, opt, raw);
    if (out.some((o) => o.addr === c.addr)) throw new UsageError(`--${opt} ${formatIpAddr(c.addr)} is given twice`, cmd);
    out.push(c);
  }
  return out;
}

/** --ra PREFIX/64: an IPv6 prefix of length 64 (RFC 4862 §5.5.3 d: SLAAC forms 64-bit identifiers), host bits zero. */
function parseRaPrefix(cmd: string, raw: string): Ipv6Addr {
  const c = parseCidr(cmd, 'ra', raw);
  const bad = (why: string): UsageError => new UsageError(`--ra expects an IPv6 prefix of length 64, like fd09::/64, got '${raw}': ${why}`, cmd);
  if (typeof c.addr !== 'string') throw bad('not an IPv6 prefix');
  if (!raw.includes('/') || c.prefixLen !== 64) throw bad('hosts form addresses only from /64 prefixes (RFC 4862 §5.5.3)');
  if (isIpv6LinkLocal(c.addr)) throw bad('the link-local prefix is not advertised (RFC 4861 §6.2.1)');
  const w = Array.from({ length: 8 }, (_, i) => (c.addr as Ipv6Addr).charCodeAt(i));
  if (w.slice(4).some((x) => x !== 0)) throw bad('the interface-identifier half must be zero');
  return ipv6FromWords(w);
}

export function parseLinkArgs(cmd: string, v: Values): LinkArgs {
  if (v.tun && v.tap) throw new UsageError('--tun and --tap cannot be combined (one device per host)', cmd);
  if (!v.tun && !v.tap) throw new UsageError('--tun IF or --tap IF is required (the TUN or TAP device, e.g. --tun tun0)', cmd);
  const kind = v.tap ? 'tap' : 'tun';
  if (kind === 'tun' && v.mac !== undefined) throw new UsageError('--mac needs --tap (a TUN device carries no Ethernet frames)', cmd);
  if (kind === 'tun' && v.ra !== undefined) throw new UsageError('--ra needs --tap (router advertisements are sent on an Ethernet link)', cmd);
  let mac: MacAddr | null = null;
  if (v.mac !== undefined) {
    mac = parseMac(v.mac.trim());
    if (mac === null) throw new UsageError(`--mac expects a MAC address like 02:00:00:00:00:02, got '${v.mac}'`, cmd);
    if (isMulticastMac(mac)) throw new UsageError(`--mac ${v.mac} is a multicast address (the first octet's low bit is set): an interface needs a unicast one`, cmd);
  }
  const raPrefixes: Ipv6Addr[] = [];
  for (const raw of v.ra ?? []) {
    const p = parseRaPrefix(cmd, raw);
    if (raPrefixes.includes(p)) throw new UsageError(`--ra ${raw} is given twice`, cmd);
    raPrefixes.push(p);
  }
  // serve --dhcp obtains the address by DHCP (cli/services-options.ts), on an Ethernet link only.
  if (v.dhcp === true && kind !== 'tap') throw new UsageError('--dhcp needs an Ethernet link (--tap IF); a TUN device carries no Ethernet frames', cmd);
  if ((!v.addr || v.addr.length === 0) && v.dhcp !== true) {
    throw new UsageError("--addr CIDR is required (synack's address on the device, e.g. --addr 10.9.0.2/24 or --addr fd09::2/64; or, with --tap, serve --dhcp)", cmd);
  }
  const addrs = v.addr && v.addr.length > 0 ? parseCidrs(cmd, 'addr', v.addr) : [];
  const peerAddrs = parseCidrs(cmd, 'peer-addr', v['peer-addr']);
  for (const p of peerAddrs) {
    if (addrs.some((a) => a.addr === p.addr)) throw new UsageError(`--peer-addr ${formatIpAddr(p.addr)} is synack's own address (--addr)`, cmd);
  }
  if (v.pcap === '') throw new UsageError('--pcap expects a file name', cmd);
  const mtu = num(cmd, 'mtu', v.mtu, (n) => Number.isInteger(n) && n >= 68 && n <= 65535, 'an integer in 68..65535');
  // RFC 8200 §5: "IPv6 requires that every link in the Internet have an MTU
  // of 1280 octets or greater."
  if (mtu !== undefined && mtu < IPV6_MIN_MTU && raPrefixes.length > 0) {
    throw new UsageError(`--mtu ${mtu} is too small for IPv6 (--ra): IPv6 needs at least ${IPV6_MIN_MTU} (RFC 8200 §5)`, cmd);
  }
  if (mtu !== undefined && mtu < IPV6_MIN_MTU && addrs.some((a) => typeof a.addr === 'string')) {
    throw new UsageError(`--mtu ${mtu} is too small for IPv6 (--addr ${formatCidr(addrs.find((a) => typeof a.addr === 'string')!)}): IPv6 needs at least ${IPV6_MIN_MTU} (RFC 8200 §5)`, cmd);
  }
  const windowBytes = num(cmd, 'window', v.window, (n) => Number.isInteger(n) && n >= 1024 && n <= 1 << 30, 'bytes in 1024..1073741824') ?? 1 << 20;
  const prob = (n: number): boolean => n >= 0 && n <= 1;
  const ms = (n: number): boolean => n >= 0 && n <= 60_000;
  const loss = num(cmd, 'loss', v.loss, prob, 'a probability in 0..1');
  const delay = num(cmd, 'delay', v.delay, ms, 'milliseconds in 0..60000');
  const jitter = num(cmd, 'jitter', v.jitter, ms, 'milliseconds in 0..60000');
  const reorder = num(cmd, 'reorder', v.reorder, prob, 'a probability in 0..1');
  const duplicate = num(cmd, 'duplicate', v.duplicate, prob, 'a probability in 0..1');
  const corrupt = num(cmd, 'corrupt', v.corrupt, prob, 'a probability in 0..1');
  const bandwidth = num(cmd, 'bandwidth', v.bandwidth, (n) => n >= 0 && n <= 1e6, 'Mbit/s in 0..1000000');
  const queue = num(cmd, 'queue', v.queue, (n) => Number.isInteger(n) && n >= 0 && n <= 1e6, 'packets in 0..1000000');
  if (queue !== undefined && queue > 0 && !(bandwidth !== undefined && bandwidth > 0)) throw new UsageError('--queue needs --bandwidth (the queue is the bottleneck\'s)', cmd);
  const cc = v.cc ?? 'cubic';
  if (cc !== 'cubic' && cc !== 'newreno') throw new UsageError(`--cc expects newreno or cubic, got '${cc}'`, cmd);
  const seed = num(cmd, 'seed', v.seed, (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff, 'an integer in 0..4294967295') ?? 1;
  let impair: Partial<Impairments> | null = null;
  if ([loss, delay, jitter, reorder, duplicate, corrupt, bandwidth].some((x) => x !== undefined && x > 0)) {
    const delayUs = Math.round((delay ?? 0) * 1000);
    impair = {
      loss: loss ?? 0,
      delayUs,
      jitterUs: Math.round((jitter ?? 0) * 1000),
      reorder: reorder ?? 0,
      reorderDelayUs: delayUs + 10_000,
      duplicate: duplicate ?? 0,
      corrupt: corrupt ?? 0,
      bandwidthBps: Math.round((bandwidth ?? 0) * 1e6),
      queueLimit: queue ?? 0,
    };
  }
  return {
    tun: (v.tap ?? v.tun)!,
    kind,
    mac,
    raPrefixes,
    addrs,
    mtu: mtu ?? null,
    pcap: v.pcap ?? null,
    peerAddrs,
    windowBytes,
    congestionControl: cc,
    impair,
    seed,
    logStates: v['log-states'] === true,
    offload: v['no-offload'] === true ? false : null,
  };
}

/** Appends pcap records to a file, buffered (flushed at 1 MiB and on close). */
export class PcapFile {
  private fd: number;
  private buf: Uint8Array[] = [];
  private size = 0;
  packets = 0;
  constructor(
    readonly path: string,
    linkType = LINKTYPE_RAW,
  ) {
    this.fd = openSync(path, 'w');
    // A TAP link's frames carry an Ethernet header on top of an IP packet of up to 64 KiB (and a GSO one).
    writeSync(this.fd, pcapGlobalHeader(linkType === LINKTYPE_ETHERNET ? 65535 + 128 : 65535, linkType));
  }
  write(packet: Uint8Array): void {
    if (this.fd < 0) return;
    const tsUs = (performance.timeOrigin + performance.now()) * 1000;
    const rec = pcapRecord(tsUs, packet);
    this.buf.push(rec);
    this.size += rec.length;
    this.packets++;
    if (this.size >= 1 << 20) this.flush();
  }
  flush(): void {
    if (this.fd < 0 || this.buf.length === 0) return;
    writeSync(this.fd, Buffer.concat(this.buf));
    this.buf = [];
    this.size = 0;
  }
  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}

export interface TunHost {
  stack: Stack;
  net: SynackNet;
  /** node:dgram over the stack's UDP. */
  dgram: SynackDgram;
  driver: Driver;
  network: Network;
  /** The TUN link, or the TAP link (a TapLink) under `eth`. */
  link: TunLink;
  /** On --tap: the stack's Ethernet interface (MAC, neighbour cache, counters); null on --tun. */
  eth: EthernetInterface | null;
  /** "10.9.0.2/24, fd09::2/64 on tun0 (mtu 1500)": every address of synack's. */
  describe: string;
  pcap: PcapFile | null;
  /** Waits (bounded) for delayed packets, then closes the pcap file and the device. */
  close(): Promise<void>;
}

/** Fatal setup problems: printed without a stack trace, exit code 1. */
export class HostError extends Error {
  override name = 'HostError';
}

export interface HostIo {
  /** Where --log-states lines go. */
  log(line: string): void;
  /** Called once if the device fails while running (after the link closed). */
  onLinkError(err: Error): void;
}

export function openTunHost(cmd: string, a: LinkArgs, io: HostIo): TunHost {
  let addon;
  try {
    addon = loadTunAddon();
  } catch (e) {
    throw new HostError((e as Error).message);
  }
  // The device's MTU, when it exists, is the default for the link.
  let mtu = a.mtu;
  if (mtu === null) {
    try {
      mtu = Math.max(68, Math.min(65535, addon.linkInfo(a.tun).mtu));
    } catch {
      mtu = 1500;
    }
  }
  const v6 = a.addrs.find((c) => typeof c.addr === 'string');
  // RFC 8200 §5: "IPv6 requires that every link in the Internet have an MTU
  // of 1280 octets or greater." (An explicit --mtu was checked as usage.)
  if ((v6 || a.raPrefixes.length > 0) && mtu < IPV6_MIN_MTU) {
    const what = v6 ? formatCidr(v6) : '--ra';
    throw new HostError(`${a.tun} has an MTU of ${mtu}, too small for IPv6 (${what}): IPv6 needs at least ${IPV6_MIN_MTU} (RFC 8200 §5); pass --mtu 1280 or more`);
  }
  const network = new Network({ clock: new RealClock() });
  const secret = randomBytes(12);
  const tcp: Partial<TcpConfig> = { recvBufferBytes: a.windowBytes, sendBufferBytes: a.windowBytes, maxOutOfOrderBytes: a.windowBytes, congestionControl: a.congestionControl };
  const stack = network.addStack({
    name: `synack ${cmd}`,
    isnSecret: [secret.readUInt32BE(0), secret.readUInt32BE(4)],
    portSeed: secret.readUInt32BE(8),
    tcp,
  });
  const driver = new Driver(network);
  let link: TunLink;
  const Link = a.kind === 'tap' ? TapLink : TunLink;
  try {
    link = new Link({
      name: a.tun,
      mode: 'auto',
      mtu,
      ...(a.impair ? { impair: a.impair } : {}),
      ...(a.offload !== null ? { offload: a.offload } : {}),
      seed: a.seed,
      onBatch: () => driver.kick(),
      onError: (err) => {
        driver.kick();
        io.onLinkError(err);
      },
    });
  } catch (e) {
    throw new HostError(e instanceof TunError || (e as { code?: string }).code ? (e as Error).message : String(e));
  }
  try {
    // On a TAP link with --ra the kernel's router solicitations are welcome.
    if (a.peerAddrs.some((p) => typeof p.addr === 'string') && a.raPrefixes.length === 0) quietKernelSide(link.name);
    configureTunDevice(link.name, a.mtu !== null ? { mtu: a.mtu, up: true } : { up: true });
    for (const p of a.peerAddrs) {
      // IPv6: nodad, so the address is usable at once rather than
      // "tentative" for the second of Duplicate Address Detection (RFC 4862
      // §5.4) — on a point-to-point TUN device nobody else can hold it.
      const argv = typeof p.addr === 'string' ? ['-6', 'addr', 'replace', formatCidr(p), 'dev', link.name, 'nodad'] : ['addr', 'replace', formatCidr(p), 'dev', link.name];
      execFileSync('ip', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    }
  } catch (e) {
    link.close();
    const err = e as Error & { stderr?: Buffer };
    throw new HostError(`setting up ${link.name}: ${err.stderr ? err.stderr.toString().trim() || err.message : err.message}`);
  }
  let eth: EthernetInterface | null = null;
  if (a.kind === 'tap') {
    // An Ethernet interface between the stack and the TAP link: ARP (RFC
    // 826) and NDP (RFC 4861) with our MAC address, DAD for IPv6 addresses
    // (RFC 4862 §5.4), and with --ra a router's advertisements (§6.2) of
    // the prefixes, the link's MTU (§4.6.4) and no default route.
    const mac = a.mac ?? randomMac();
    eth = addEthernetInterface(stack, {
      name: link.name,
      mac,
      link: link as TapLink,
      addrs: a.addrs,
      // serve --dhcp without --addr: no address until the lease (services/dhcp-host.ts).
      ...(a.addrs.length === 0 ? { unconfigured: true } : {}),
      ...(a.raPrefixes.length > 0 ? { router: { prefixes: a.raPrefixes.map((prefix) => ({ prefix, prefixLen: 64 })), mtu, defaultRouter: false } } : {}),
    });
  } else {
    const [first, ...more] = a.addrs;
    stack.addInterface({ name: link.name, addr: first!.addr, prefixLen: first!.prefixLen, more, link });
  }
  const net = createNet({ stack, driver });
  const dgram = createDgram({ stack, driver });
  let pcap: PcapFile | null = null;
  if (a.pcap) {
    try {
      pcap = new PcapFile(a.pcap, eth ? LINKTYPE_ETHERNET : LINKTYPE_RAW);
    } catch (e) {
      link.close();
      throw new HostError(`cannot write ${a.pcap}: ${(e as Error).message}`);
    }
  }
  // On TAP the capture is of frames, as the Ethernet interface sends and receives them.
  if (pcap && eth) {
    const p = pcap;
    eth.tap = (_dir, frame) => p.write(frame);
  }
  // On TUN the capture is of the stack's packets (a hook); on TAP the
  // interface's tap has it, and a hook would only turn gather output off.
  if ((pcap && !eth) || a.logStates) {
    const p = eth ? null : pcap;
    stack.addHook((ev) => {
      if (ev.type === 'packet') {
        p?.write(ev.bytes);
      } else if (a.logStates && ev.type === 'conn' && ev.event.type === 'state') {
        const c = ev.conn;
        const ep = `${formatIpAddr(c.localAddr)}:${c.localPort} ${formatIpAddr(c.remoteAddr)}:${c.remotePort}`;
        io.log(`state ${ep} ${ev.event.from} -> ${ev.event.to} (${ev.event.cause})`);
      }
    });
  }
  let closed = false;
  return {
    stack,
    net,
    dgram,
    driver,
    network,
    link,
    eth,
    pcap,
    describe: `${a.addrs.length > 0 ? a.addrs.map(formatCidr).join(', ') : 'no address (DHCP)'} on ${link.name} (mtu ${mtu}${eth ? `, mac ${macToString(eth.mac)}` : ''})`,
    async close() {
      if (closed) return;
      closed = true;
      await link.drain(1000);
      pcap?.close();
      link.close();
      driver.stop();
    },
  };
}

/** A random locally administered unicast MAC address (IEEE 802: the first octet's bits 1 set, 0 clear). */
function randomMac(): MacAddr {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return getMac(b, 0);
}

/**
 * When synack sets up the kernel's IPv6 side of the device (--peer-addr),
 * the kernel's side stops soliciting routers on it. Linux gives a device
 * that comes up a link-local address and then, as RFC 4861 §6.3.7 has
 * hosts do, sends Router Solicitations to all-routers (ff02::2) — over and
 * over (router_solicitations = -1: no limit). On this point-to-point link
 * the only one to hear them is synack, a host, which (§6.2.6: "A host MUST
 * silently discard any received Router Solicitation messages") could only
 * count them as drops. Before the device is up; a failure (IPv6 disabled,
 * no /proc) is not fatal: `ip addr` will say what is wrong.
 */
function quietKernelSide(name: string): void {
  const path = `/proc/sys/net/ipv6/conf/${name}/router_solicitations`;
  try {
    if (existsSync(path)) writeFileSync(path, '0\n');
  } catch {
    // best effort
  }
}

/** Formats a socket error for one line of output: "ECONNRESET (read ECONNRESET)". */
export function errorLine(e: unknown): string {
  const x = e as { code?: string; message?: string };
  return x && x.code ? `${x.code}: ${x.message}` : String((x && x.message) ?? e);
}
