/**
 * TunLink: a Link on a Linux TUN device (IFF_TUN | IFF_NO_PI: each read and
 * write is one raw IP packet), through the optional native addon in native/
 * (package `synack-tun`).
 *
 * Receive: the addon polls the non-blocking fd from the event loop (uv_poll)
 * and drains it in batches into a shared arena; each packet is copied out
 * into a buffer of its own (the stack may keep it: received payloads are
 * queued without a copy) and handed to `onReceive`. IPv4 and IPv6 packets
 * go to the stack (dual stack); anything else (a version nibble that is
 * neither, a packet shorter than its fixed header) is counted and dropped
 * here.
 * Transmit: packets are queued and written in one batch at the end of the
 * current macrotask (a microtask), one write() per packet.
 *
 * An optional impairment stage (the in-memory hub's `Impairments`: loss,
 * delay, jitter, reordering, duplication, corruption, bandwidth) sits in
 * each direction between the device and the stack, on the real clock.
 *
 * Setting the device up (MTU, IFF_UP, addresses) is not the link's job: see
 * `configureTunDevice` here (MTU and up, by ioctl) and the CLI.
 */
import { createRequire } from 'node:module';
import { Buffer } from 'node:buffer';
import type { Link } from '../stack/link.ts';
import { CHECKSUM_FULL, type ChecksumCaps } from '../wire/types.ts';
import type { Impairments } from './memory.ts';
import { ImpairStage, isNoImpairment, type ImpairStats } from './impair.ts';
import { ETH_HEADER_LEN } from '../wire/ethernet.ts';
import { coalesceTcp, completePartialChecksum, encodeVnetHdr, GSO_MAX_BYTES, TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, VNET_F_NEEDS_CSUM, VNET_GSO_NONE, VNET_GSO_TCPV4, VNET_GSO_TCPV6, VNET_HDR_LEN } from './vnet.ts';
import { joinPartialTcp, segmentPartialTcp } from '../wire/tcp.ts';
import { clearChecksumMark, markChecksumComputed, markChecksumPartial } from '../stack/rx-verified.ts';
import { holdSendBlocks, releaseSendBlocks } from '../tcp/send-buffer.ts';
import { microtask } from '../base/microtask.ts';

// ---- the addon ----------------------------------------------------------------

/** The native TunDevice (see native/index.d.ts). */
export interface TunDeviceHandle {
  readonly name: string;
  readonly fd: number;
  readonly arena: ArrayBuffer;
  readonly lengths: Uint32Array;
  readonly writeErrno: number;
  readonly closed: boolean;
  /** 10 when opened with IFF_VNET_HDR (every read and write starts with a virtio_net_hdr), else 0 (absent on older builds). */
  readonly vnetHdrLen?: number;
  /** The TUN_F_* offloads the kernel accepted (TUNSETOFFLOAD). */
  readonly offloads?: number;
  /** errno of a refused IFF_VNET_HDR / TUNSETOFFLOAD (0 when none). */
  readonly offloadErrno?: number;
  /** true when opened as a TAP device (Ethernet frames); absent on builds without TAP support. */
  readonly tap?: boolean;
  /** true when the `configure` option was applied (with `userns`); absent on older builds. */
  readonly configured?: boolean;
  /** Writes chain i (the next counts[i] parts) as one packet with one writev(); chains written. */
  writeChains?(parts: Uint8Array[], counts: number[], start?: number, end?: number): number;
  start(onPackets: (count: number, errno: number) => void): void;
  stop(): void;
  write(packet: Uint8Array): number;
  writeBatch(packets: Uint8Array[], start?: number, end?: number): number;
  close(): void;
  ref(): void;
  unref(): void;
  stats(): Record<string, number | boolean>;
  /** A buffer (of the addon's readSize bytes) for a large packet to be read into; see native/index.d.ts. Absent on older builds. */
  addSpare?(buffer: ArrayBuffer): number;
  /** Packets of this size or more are read into spares (0: never). */
  setLendMin?(bytes: number): void;
}

export interface TunAddon {
  TunDevice: new (
    name: string,
    options?: {
      mode?: TunOpenMode;
      arenaBytes?: number;
      maxBatch?: number;
      maxRounds?: number;
      offload?: boolean;
      tap?: boolean;
      netns?: string;
      userns?: string;
      configure?: NetnsDeviceConfig;
      multiQueue?: boolean;
    },
  ) => TunDeviceHandle;
  linkInfo(name: string): { index: number; mtu: number; up: boolean };
  setLinkMtu(name: string, mtu: number): void;
  setLinkUp(name: string, up: boolean): void;
  /** Absent on builds before network namespace support. */
  configureNetns?(nsPath: string, name: string, cfg: NetnsDeviceConfig): void;
  /** True in builds whose TunDevice takes { userns, configure } (absent before). */
  usernsSupported?: boolean;
  /** A full memory-reducing GC and malloc_trim (native/src/memory.cc); absent on older builds. */
  trimMemory?(): boolean;
  /** execve(2) (native/src/memory.cc): returns only on failure, with strerror's text; absent on older builds. */
  execve?(path: string, argv: string[], env: string[]): string;
}

export type TunOpenMode = 'auto' | 'attach' | 'create';

/** What `slirp4netns --configure` gives the device in the namespace: the MTU, an IPv4 address/prefixLen, a default route via `gateway`. */
export interface NetnsDeviceConfig {
  mtu: number;
  address: string;
  prefixLen: number;
  gateway?: string;
}

/** An error from the TUN layer, shaped like Node's system errors (`code`, `errno`, `syscall`, and `path` when a file was involved: a namespace, /dev/net/tun). */
export class TunError extends Error {
  override name = 'TunError';
  constructor(
    message: string,
    readonly code: string,
    readonly errno?: number,
    readonly syscall?: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

let addon: TunAddon | null = null;

/** Loads the native addon, or throws a TunError (code ERR_SYNACK_TUN_UNAVAILABLE) saying how to get it. */
export function loadTunAddon(): TunAddon {
  if (addon) return addon;
  if (process.platform !== 'linux') {
    throw new TunError(`TUN devices are supported on Linux only (this is ${process.platform})`, 'ERR_SYNACK_TUN_UNAVAILABLE');
  }
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  // The checkout's own native/ first (a worktree builds its own addon), then the package.
  for (const id of ['../../native/index.cjs', 'synack-tun']) {
    try {
      addon = require(id) as TunAddon;
      return addon;
    } catch (e) {
      errors.push((e as Error).message.split('\n')[0]!);
    }
  }
  throw new TunError(
    `the TUN addon (package synack-tun) is not available: ${errors[errors.length - 1]}. ` +
      'It is an optional dependency of synack, compiled from source when it installs (Linux; needs python3, make and a C++ compiler): ' +
      'install it with `npm install synack-tun` (npm 11 may ask to approve its install script: `npm install-scripts approve synack-tun`, then `npm rebuild synack-tun`); ' +
      'in a synack checkout, `npm run build:native`.',
    'ERR_SYNACK_TUN_UNAVAILABLE',
  );
}

/** Whether the addon loads (without throwing). */
export function tunAvailable(): boolean {
  try {
    loadTunAddon();
    return true;
  } catch {
    return false;
  }
}

function asTunError(e: unknown): Error {
  if (e instanceof TunError) return e;
  const x = e as Error & { code?: string; errno?: number; syscall?: string; path?: string };
  if (x && typeof x.message === 'string') return new TunError(x.message, x.code ?? 'ERR_SYNACK_TUN', x.errno, x.syscall, x.path);
  return new TunError(String(e), 'ERR_SYNACK_TUN');
}

/** Brings a device up and sets its MTU (ioctl; needs CAP_NET_ADMIN). Returns what it found and did. */
export function configureTunDevice(name: string, opts: { mtu?: number; up?: boolean } = {}): { mtu: number; up: boolean; changed: string[] } {
  const a = loadTunAddon();
  const changed: string[] = [];
  try {
    const info = a.linkInfo(name);
    if (opts.mtu !== undefined && info.mtu !== opts.mtu) {
      a.setLinkMtu(name, opts.mtu);
      changed.push(`mtu ${info.mtu} → ${opts.mtu}`);
    }
    if ((opts.up ?? true) && !info.up) {
      a.setLinkUp(name, true);
      changed.push('up');
    }
    const now = a.linkInfo(name);
    return { mtu: now.mtu, up: now.up, changed };
  } catch (e) {
    throw asTunError(e);
  }
}

/** The addon, checked to know network namespaces (the `netns` option, configureNetns) and, with `userns`, user namespaces. */
function netnsAddon(userns = false): TunAddon {
  const a = loadTunAddon();
  if (typeof a.configureNetns !== 'function' || (userns && a.usernsSupported !== true)) {
    throw new TunError(
      `the TUN addon (synack-tun) in use predates ${userns ? 'user' : 'network'} namespace support: rebuild it (in a synack checkout: npm run build:native; else npm rebuild synack-tun)`,
      'ERR_SYNACK_TUN_UNAVAILABLE',
    );
  }
  return a;
}

/**
 * Inside the network namespace at `nsPath` (a path like /run/netns/NAME or
 * /proc/PID/ns/net), what `slirp4netns --configure` does: lo up; the device
 * `name` gets the MTU and the IPv4 address/prefixLen and goes up; a default
 * route via `gateway`. The addon does it on a short-lived thread that joined
 * the namespace (native/src/tun.cc, InNetns); this process stays in its own.
 * Needs CAP_SYS_ADMIN and CAP_NET_ADMIN.
 */
export function configureNetnsDevice(nsPath: string, name: string, cfg: NetnsDeviceConfig): void {
  const a = netnsAddon();
  try {
    a.configureNetns!(nsPath, name, cfg);
  } catch (e) {
    throw asTunError(e);
  }
}

// ---- the link -----------------------------------------------------------------

export interface TunLinkOptions {
  /** Device name, e.g. "tun0" (or a pattern like "tun%d" when creating). */
  name: string;
  /** 'attach': it must exist; 'create': it must not; 'auto' (default): either. */
  mode?: TunOpenMode;
  /** Largest IP packet, bytes (68..65535; default 1500). Match the device's MTU. */
  mtu?: number;
  /** Impairments applied in both directions (device → stack and stack → device). */
  impair?: Partial<Impairments>;
  /** Impairments for one direction only (override `impair`). */
  impairIn?: Partial<Impairments>;
  impairOut?: Partial<Impairments>;
  /** Seed of the impairment RNGs (default 1). */
  seed?: number;
  /** Called after each batch of received packets went to onReceive (e.g. `driver.kick()`). */
  onBatch?: () => void;
  /** A fatal device error (read error, device gone); the link is closed after it. */
  onError?: (err: Error) => void;
  /**
   * Offloads (default true; the environment variable SYNACK_TUN_OFFLOAD=0
   * turns them off): open the device with IFF_VNET_HDR and TUNSETOFFLOAD
   * (checksum, TSO4, TSO6): the kernel hands over TCP segments of up to
   * 64 KiB with partial checksums, and takes runs of segments coalesced
   * into one write that it segments itself. Falls back to plain packets when
   * the kernel refuses (see `offloads`).
   */
  offload?: boolean;
  /**
   * Open (create or attach to) the device inside the network namespace at
   * this path instead of this process's own (the fd stays bound to it; see
   * native/src/tun.cc, InNetns). The device is configured there with
   * `configureNetnsDevice`, or with `configure`.
   */
  netns?: string;
  /**
   * With `netns`: the path of the user namespace that owns it (rootless
   * containers: /proc/PID/ns/user of the process that made the network
   * namespace). The device is then made by a fork()ed child that joins the
   * user namespace and the network namespace and passes the fd back
   * (native/src/netns.cc): no root needed — only owning the user namespace
   * and a /dev/net/tun everyone may open (mode 0666).
   */
  userns?: string;
  /**
   * With `userns`: configure the device in the namespace as
   * `configureNetnsDevice` does, in the same child, right after making it
   * (without `userns`, call configureNetnsDevice).
   */
  configure?: NetnsDeviceConfig;
  /**
   * Open one queue of a multi-queue device (IFF_MULTI_QUEUE): every link
   * opened so on the same name is one more queue (src/workers/: one per
   * worker thread). Default false.
   */
  multiQueue?: boolean;
  /** For tests: an already open device (otherwise the addon opens `name`). */
  device?: TunDeviceHandle;
}

export interface TunLinkStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Read batches (one JS call each). */
  batches: number;
  /**
   * Received packets that were neither IPv4 nor IPv6 (or shorter than their
   * fixed header), dropped; on a TAP link, frames shorter than an Ethernet
   * header.
   */
  dropsNotIp: number;
  /** Transmitted packets larger than the MTU, dropped. */
  dropsTooBig: number;
  /** Received GSO packets (gso_type TCPV4/TCPV6: several segments in one). */
  gsoIn: number;
  /** Largest packet received, bytes. */
  largestIn: number;
  /** Received packets whose partial checksum was completed (NEEDS_CSUM). */
  csumCompleted: number;
  /** Received packets whose partial TCP/UDP checksum was left to the stack to trust (NEEDS_CSUM from the kernel, no tap, no impairment: stack/rx-verified.ts). */
  csumTrusted: number;
  /** Received packets with a bad virtio_net_hdr (offsets outside the packet), dropped. */
  dropsBadVnetHdr: number;
  /** Transmitted TSO writes (one write, several segments cut by the kernel): runs coalesced here and the stack's super-segments (transmitGso). */
  gsoOut: number;
  /** Of gsoOut: the stack's super-segments (Link.transmitGso: one TCP segment of several MSS, never built as MSS-sized packets). */
  superOut: number;
  /** Segments carried inside gsoOut writes. */
  gsoOutSegments: number;
  /** Write calls into the device (writeBatch / writeChains). */
  writeCalls: number;
  /** Transmitted gather packets (transmitPartial): headers and payload in one writev, the checksum completed by the kernel (NEEDS_CSUM). */
  csumOffloadOut: number;
  /** Transmitted packets the device refused, by errno name (EIO while the device is down, …). */
  writeErrors: Record<string, number>;
  /** Received packets copied into a recycled buffer (lendLargePackets), and buffers given back by recycle(). */
  packetsLent: number;
  buffersRecycled: number;
  /** Received bare TCP segments (no payload, no SYN) copied into a shared slab instead of a buffer of their own. */
  packetsBare: number;
  /** Of packetsLent: read by the device straight into the recycled buffer (TunDeviceHandle.addSpare), no copy. */
  packetsDirect: number;
  impairIn: ImpairStats | null;
  impairOut: ImpairStats | null;
}

const ERRNO_NAMES: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 5: 'EIO', 9: 'EBADF', 11: 'EAGAIN', 12: 'ENOMEM', 14: 'EFAULT', 19: 'ENODEV', 22: 'EINVAL', 77: 'EBADFD', 90: 'EMSGSIZE', 105: 'ENOBUFS' };
const errnoName = (n: number): string => ERRNO_NAMES[n] ?? `errno ${n}`;

export class TunLink implements Link {
  readonly mtu: number;
  readonly checksum: ChecksumCaps = CHECKSUM_FULL;
  onReceive: ((packet: Uint8Array) => void) | null = null;
  /** Link.receivesInBatches: each read of the device (and each run of the impairment stage) is a batch. */
  readonly receivesInBatches = true;
  onReceiveEnd: (() => void) | null = null;
  /** Link.partialChecksumsIn: set by the stack or Ethernet interface that takes the packets; otherwise every partial checksum is completed. */
  partialChecksumsIn = false;
  /** Optional tap: every packet as the stack sees it ('in' after impairment, 'out' before). */
  tap: ((dir: 'in' | 'out', packet: Uint8Array) => void) | null = null;
  readonly name: string;
  /**
   * Bytes of link header in front of each IP packet: 0 on a TUN device, 14
   * on a TAP device (links/tap.ts), whose reads and writes are Ethernet
   * frames.
   */
  readonly l2Len: number;
  readonly stats: TunLinkStats;
  private readonly dev: TunDeviceHandle;
  private readonly arena: Uint8Array;
  private readonly lengths: Uint32Array;
  private readonly stageIn: ImpairStage | null;
  private readonly stageOut: ImpairStage | null;
  private readonly onBatch: (() => void) | null;
  private readonly onError: ((err: Error) => void) | null;
  private outQueue: Uint8Array[] = [];
  /** lendLargePackets: buffers for received packets of LEND_MIN octets or more, and the end of the packet each holds. */
  private lending = false;
  private pool: ArrayBuffer[] = [];
  private readonly lent = new WeakMap<ArrayBuffer, number>();
  /** The buffers given to the device (addSpare) and not yet read into, oldest first; null when the device reads no packet into them. */
  private spares: ArrayBuffer[] | null = null;
  /** Bare TCP segments received (isBareTcp) are copied into this slab, from `bareOff` on (carveBare). */
  private bareSlab = new Uint8Array(0);
  private bareOff = 0;
  /** flushChains: the virtio_net_hdr of each gather packet of a write, VNET_HDR_LEN octets apiece (grown as needed). */
  private vnetHdrs = new Uint8Array(VNET_HDR_LEN * 64);
  /** Per queued packet: the payload parts of a gather packet (transmitPartial), else NO_PAYLOAD. */
  private outPayloads: (readonly Uint8Array[])[] = [];
  /** Per queued packet: the checksum start of a gather packet, else 0. */
  private outCsumStart: number[] = [];
  /** Per queued packet: the gso_size of a super-segment (transmitGso), else 0. */
  private outGsoSize: number[] = [];
  /** Gather packets in the queue. */
  private outPartials = 0;
  /**
   * Link.transmitPartial: present with checksum offload (TUN_F_CSUM), a
   * gather write (writeChains) and no impairment on the way out (a
   * corrupted byte must meet a checksum the kernel checks).
   */
  readonly transmitPartial?: (head: Uint8Array, payload: readonly Uint8Array[], l4Off: number) => void;
  /**
   * Link.tsoMaxBytes and Link.transmitGso: present with transmitPartial
   * and both TSO4 and TSO6 accepted (the TCP output then hands over
   * super-segments of up to this many octets, which the kernel cuts).
   */
  readonly tsoMaxBytes?: number;
  readonly transmitGso?: (head: Uint8Array, payload: readonly Uint8Array[], l4Off: number, gsoSize: number) => void;
  /** virtio_net_hdr bytes before each packet read and written (0: plain mode). */
  readonly vnetHdrLen: number;
  /** The TUN_F_* offloads in force (0 when off or refused). */
  readonly offloads: number;
  /** Whether runs of segments are coalesced into TSO writes (TSO4, no impairment on the way out). */
  private readonly tso: boolean;
  private flushQueued = false;
  /** Payload views of send-buffer blocks queued for the next flush: the pool is held (holdSendBlocks) until it writes them. */
  private holdingBlocks = false;
  private closedFlag = false;

  /** `kind` 'tap': the device carries Ethernet frames (use TapLink, links/tap.ts). */
  constructor(opts: TunLinkOptions, kind: 'tun' | 'tap' = 'tun') {
    const mtu = opts.mtu ?? 1500;
    const what = kind === 'tap' ? 'TAP' : 'TUN';
    if (!(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) throw new TunError(`${what} link MTU must be an integer in 68..65535, got ${String(mtu)}`, 'ERR_SYNACK_INVALID_ARG');
    this.mtu = mtu;
    this.l2Len = kind === 'tap' ? ETH_HEADER_LEN : 0;
    if (opts.device) {
      this.dev = opts.device;
    } else {
      // An addon without namespace support would ignore `netns` and open the device here.
      if (opts.userns !== undefined && opts.netns === undefined) throw new TunError('the userns option goes with netns (the network namespace that user namespace owns)', 'ERR_SYNACK_INVALID_ARG');
      if (opts.configure !== undefined && opts.userns === undefined) throw new TunError('the configure option goes with userns (without it, call configureNetnsDevice)', 'ERR_SYNACK_INVALID_ARG');
      const a = opts.netns !== undefined ? netnsAddon(opts.userns !== undefined) : loadTunAddon();
      try {
        this.dev = new a.TunDevice(opts.name, {
          mode: opts.mode ?? 'auto',
          offload: opts.offload ?? offloadDefault(),
          ...(kind === 'tap' ? { tap: true } : {}),
          ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
          ...(opts.userns !== undefined ? { userns: opts.userns } : {}),
          ...(opts.configure !== undefined ? { configure: opts.configure } : {}),
          ...(opts.multiQueue ? { multiQueue: true } : {}),
        });
      } catch (e) {
        throw asTunError(e);
      }
      if (opts.configure !== undefined && this.dev.configured !== true) {
        this.dev.close();
        throw new TunError(`the device ${this.dev.name} was made but not configured in ${opts.netns}`, 'ERR_SYNACK_TUN');
      }
      if (kind === 'tap' && this.dev.tap !== true) {
        // An addon built before TAP support ignores { tap: true } and opens a TUN device.
        this.dev.close();
        throw new TunError(
          'the TUN addon (synack-tun) in use predates TAP support: rebuild it (in a synack checkout: npm run build:native; else npm rebuild synack-tun)',
          'ERR_SYNACK_TUN_UNAVAILABLE',
        );
      }
    }
    this.name = this.dev.name;
    this.vnetHdrLen = this.dev.vnetHdrLen ?? 0;
    this.offloads = this.vnetHdrLen > 0 ? (this.dev.offloads ?? 0) : 0;
    this.arena = new Uint8Array(this.dev.arena);
    this.lengths = this.dev.lengths;
    this.onBatch = opts.onBatch ?? null;
    this.onError = opts.onError ?? null;
    const seed = (opts.seed ?? 1) >>> 0;
    const inIm = opts.impairIn ?? opts.impair;
    const outIm = opts.impairOut ?? opts.impair;
    this.stageIn = isNoImpairment(inIm) ? null : new ImpairStage(inIm!, seed ^ 0x1a2b3c4d, (p) => this.deliver(p), () => this.endBatch());
    this.stageOut = isNoImpairment(outIm) ? null : new ImpairStage(outIm!, seed ^ 0x5e6f7081, (p) => this.enqueueWrite(p));
    this.stats = {
      packetsIn: 0,
      bytesIn: 0,
      packetsOut: 0,
      bytesOut: 0,
      batches: 0,
      dropsNotIp: 0,
      dropsTooBig: 0,
      writeErrors: {},
      gsoIn: 0,
      largestIn: 0,
      csumCompleted: 0,
      csumTrusted: 0,
      dropsBadVnetHdr: 0,
      gsoOut: 0,
      superOut: 0,
      gsoOutSegments: 0,
      writeCalls: 0,
      csumOffloadOut: 0,
      packetsLent: 0,
      packetsBare: 0,
      packetsDirect: 0,
      buffersRecycled: 0,
      impairIn: this.stageIn ? this.stageIn.stats : null,
      impairOut: this.stageOut ? this.stageOut.stats : null,
    };
    // Corruption on the way out must meet the kernel's checksum check: only
    // an unimpaired path coalesces (the kernel recomputes a TSO segment's
    // checksums, which would hide a corrupted byte).
    this.tso = (this.offloads & (TUN_F_TSO4 | TUN_F_TSO6)) !== 0 && this.stageOut === null && typeof this.dev.writeChains === 'function';
    if ((this.offloads & TUN_F_CSUM) !== 0 && this.vnetHdrLen === VNET_HDR_LEN && this.stageOut === null && typeof this.dev.writeChains === 'function') {
      this.transmitPartial = (head, payload, l4Off) => this.sendPartial(head, payload, l4Off, 0);
      if ((this.offloads & (TUN_F_TSO4 | TUN_F_TSO6)) === (TUN_F_TSO4 | TUN_F_TSO6)) {
        this.tsoMaxBytes = GSO_MAX_BYTES;
        this.transmitGso = (head, payload, l4Off, gsoSize) => this.sendPartial(head, payload, l4Off, gsoSize);
      }
    }
    this.dev.start(this.onPackets);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Counters of the native device (reads, batches, bytes). */
  deviceStats(): Record<string, number | boolean> {
    return this.dev.stats();
  }

  /** Keeps the process alive while the link is open (default: it does not). */
  ref(): this {
    this.dev.ref();
    return this;
  }

  unref(): this {
    this.dev.unref();
    return this;
  }

  transmit(packet: Uint8Array): void {
    if (this.closedFlag) return;
    if (packet.length > this.mtu + this.l2Len) {
      this.stats.dropsTooBig++;
      return;
    }
    this.tap?.('out', packet);
    if (this.stageOut) this.stageOut.push(packet);
    else this.enqueueWrite(packet);
  }

  /**
   * A packet of `head` then `payload` whose TCP checksum (at `l4Off` + 16,
   * counted from the start of `head`, link header included) holds the
   * pseudo-header sum: written behind a virtio_net_hdr with NEEDS_CSUM
   * (csum_start `l4Off`, csum_offset 16), head and payload as two parts of
   * one writev. The `tap` sees the packet whole, its checksum complete.
   *
   * With `gsoSize` (Link.transmitGso): a super-segment of up to
   * tsoMaxBytes, its virtio_net_hdr also gso_type TCPV4/TCPV6 and gso_size
   * `gsoSize`; the kernel cuts it (no segment larger than the MTU leaves).
   * The `tap` sees the segments the kernel will make.
   */
  private sendPartial(head: Uint8Array, payload: readonly Uint8Array[], l4Off: number, gsoSize: number): void {
    if (this.closedFlag) return;
    let len = head.length;
    for (const p of payload) len += p.length;
    const l3 = this.l2Len;
    if (gsoSize > 0 ? len > GSO_MAX_BYTES + l3 || head.length - l3 + gsoSize > this.mtu : len > this.mtu + l3) {
      this.stats.dropsTooBig++;
      return;
    }
    if (this.tap !== null) {
      if (gsoSize > 0) for (const seg of segmentPartialTcp(head, payload, l3, l4Off, gsoSize)) this.tap('out', seg);
      else this.tap('out', joinPartialTcp(head, payload, l4Off));
    }
    // Written at the end of the turn (flush): until then no send-buffer
    // block goes back to the pool, so an acknowledgement processed
    // meanwhile cannot let a new write overwrite these bytes (Link.transmitPartial).
    if (!this.holdingBlocks) {
      this.holdingBlocks = true;
      holdSendBlocks();
    }
    this.outQueue.push(head);
    this.outPayloads.push(payload);
    this.outCsumStart.push(l4Off);
    this.outGsoSize.push(gsoSize);
    this.outPartials++;
    if (!this.flushQueued) {
      this.flushQueued = true;
      microtask(this.flush);
    }
  }

  /** Resolves when every delayed packet has been delivered or written (or after `timeoutMs`). */
  async drain(timeoutMs = 2000): Promise<void> {
    const waits: Array<Promise<void>> = [];
    if (this.stageIn) waits.push(this.stageIn.idle());
    if (this.stageOut) waits.push(this.stageOut.idle());
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))]);
    if (t) clearTimeout(t);
    this.flush();
  }

  /** Writes what is queued, stops reading and closes the fd. Idempotent. */
  close(): void {
    if (this.closedFlag) return;
    this.flush();
    this.closedFlag = true;
    this.stageIn?.close();
    this.stageOut?.close();
    this.outQueue = [];
    this.dev.close();
  }

  // ---- receive ----------------------------------------------------------------

  private readonly onPackets = (count: number, errno: number): void => {
    if (this.closedFlag) return;
    const arena = this.arena;
    const lengths = this.lengths;
    this.stats.batches++;
    const vh = this.vnetHdrLen;
    let off = 0;
    let large = 0;
    for (let i = 0; i < count; i++) {
      const raw = lengths[i]!;
      // Bit 31: read straight into the oldest spare (only its header is in the arena).
      const direct = raw >= IN_SPARE;
      const rlen = direct ? raw - IN_SPARE : raw;
      const hdrAt = off;
      const start = off + vh;
      off += direct ? vh : rlen;
      const len = rlen - vh;
      this.stats.packetsIn++;
      this.stats.bytesIn += len;
      const spare = direct ? (this.spares?.shift() ?? null) : null;
      if (direct && spare === null) {
        // The device and the link disagree on the spares (never seen): the
        // packet's bytes are nowhere the link can read them, so it is
        // dropped, counted with the packets it cannot take as IP.
        this.stats.dropsNotIp++;
        continue;
      }
      if (len >= LEND_MIN) large++;
      if (this.l2Len !== 0) {
        // TAP: an Ethernet frame; the Ethernet interface (stack/ethernet.ts)
        // checks everything beyond its header's length.
        if (len < this.l2Len) {
          this.stats.dropsNotIp++;
          continue;
        }
      } else {
        // IFF_NO_PI: no protocol word, so the version nibble says which IP it
        // is. The fixed header is 20 octets for IPv4 (RFC 791) and 40 for
        // IPv6 (RFC 8200 §3); the stack checks the rest.
        const version = len > 0 ? (spare !== null ? new Uint8Array(spare, 0, 1)[0]! : arena[start]!) >> 4 : 0;
        if (!((version === 4 && len >= 20) || (version === 6 && len >= 40))) {
          this.stats.dropsNotIp++;
          if (spare !== null) this.toPool(spare);
          continue;
        }
      }
      let packet: Uint8Array;
      if (spare !== null || (this.lending && len >= LEND_MIN && len <= LEND_SIZE)) {
        // A lent buffer: the device read the packet into it (a spare), or it is copied there.
        const ab = spare ?? this.fromPool();
        packet = new Uint8Array(ab, 0, len);
        if (spare === null) packet.set(arena.subarray(start, start + len));
        else this.stats.packetsDirect++;
        this.lent.set(ab, len);
        this.stats.packetsLent++;
      } else if (len <= BARE_MAX && isBareTcp(arena, start, len, this.l2Len)) packet = this.carveBare(arena, start, len);
      else packet = copyOut(arena, start, len);
      if (len > this.stats.largestIn) this.stats.largestIn = len;
      if (vh !== 0) {
        // The virtio_net_hdr (src/links/vnet.ts): a GSO packet is a TCP
        // segment of several MSS the stack takes whole; a partial checksum
        // (NEEDS_CSUM) is completed here, as a NIC would, so that the stack
        // verifies every packet the same way. On a TAP device the offsets
        // count from the frame's start, which is where `packet` starts.
        if (arena[hdrAt + 1]! !== VNET_GSO_NONE) this.stats.gsoIn++;
        if ((arena[hdrAt]! & VNET_F_NEEDS_CSUM) !== 0) {
          const csumStart = arena[hdrAt + 6]! | (arena[hdrAt + 7]! << 8);
          const csumOffset = arena[hdrAt + 8]! | (arena[hdrAt + 9]! << 8);
          const ownSum = this.stageIn === null && coversTransport(packet, this.l2Len, csumStart, csumOffset);
          if (ownSum && this.tap === null && this.partialChecksumsIn) {
            // The kernel's own TCP/UDP checksum, left partial: the stack
            // takes it as the kernel does (stack/rx-verified.ts), and a
            // capture above completes it.
            markChecksumPartial(packet, csumStart, csumOffset);
            this.stats.csumTrusted++;
          } else {
            if (!completePartialChecksum(packet, csumStart, csumOffset)) {
              this.stats.dropsBadVnetHdr++;
              continue;
            }
            this.stats.csumCompleted++;
            // Computed just now from these bytes: the stack need not verify
            // it again — unless an impairment stage may still corrupt it.
            if (ownSum) markChecksumComputed(packet);
          }
        }
      }
      if (this.stageIn) this.stageIn.push(packet);
      else {
        this.deliver(packet);
        clearChecksumMark();
      }
    }
    if (this.spares !== null && 2 * large > this.spares.length && !this.closedFlag) this.addSpares(2 * large);
    if (count > 0) this.endBatch();
    if (errno !== 0) this.fail(errno, 'read');
  };

  /**
   * Gives the device spares for the large packets of the next batch (twice
   * as many as this one had, at most SPARES_MAX), from the pool of recycled
   * buffers first: a run of large packets is then read without a copy
   * (TunDeviceHandle.addSpare); a batch of small ones costs nothing.
   */
  private addSpares(want: number): void {
    const spares = this.spares!;
    const n = Math.min(want, SPARES_MAX);
    while (spares.length < n) {
      const ab = this.fromPool();
      this.dev.addSpare!(ab);
      spares.push(ab);
    }
  }

  /** A buffer for a lent packet: a recycled one, or a new one. */
  private fromPool(): ArrayBuffer {
    return this.pool.pop() ?? new ArrayBuffer(LEND_SIZE);
  }

  /** A buffer no one reads any more, kept for the next lent packet (at most LEND_POOL_MAX). */
  private toPool(ab: ArrayBuffer): void {
    if (this.pool.length < LEND_POOL_MAX) this.pool.push(ab);
  }

  /**
   * A bare TCP segment's bytes (isBareTcp) out of the read arena into the
   * current slab. A slice of its own would be an ArrayBuffer per segment —
   * a malloc for its bytes, another for V8's record of it, and the sweeper
   * freeing both — and such segments are most of what a bulk receiver
   * sends back (the ACKs of a host → guest transfer through the gateway).
   * Sharing a slab is safe for them only: nothing keeps a segment without
   * payload or SYN once it has been processed (payloads stay in receive
   * and reassembly queues, SYNs in listen and connect queues, fragments in
   * reassembly — none of them come here), so a slab lives no longer than
   * its segments' processing, unless a trace hook keeps a parsed segment.
   */
  private carveBare(arena: Uint8Array, start: number, len: number): Uint8Array {
    let off = this.bareOff;
    if (off + len > this.bareSlab.length) {
      this.bareSlab = new Uint8Array(BARE_SLAB_BYTES);
      off = 0;
    }
    const packet = this.bareSlab.subarray(off, off + len);
    packet.set(arena.subarray(start, start + len));
    // 8-byte aligned, as the packet pool keeps its packets.
    this.bareOff = (off + len + 7) & ~7;
    this.stats.packetsBare++;
    return packet;
  }

  /**
   * Large received packets (LEND_MIN octets or more: TCP segments of a bulk
   * transfer, GSO up to 64 KiB) are copied into recycled buffers rather than
   * a new ArrayBuffer each — V8 starts a full collection per 64 MB of new
   * ArrayBuffer memory. A buffer comes back through recycle() from the one
   * consumer that knows when its bytes are dead (the gateway's relay, once
   * the host socket took them); one never given back is left to the GC. Not
   * with an impairment stage on the way in (it may deliver a packet again,
   * later).
   */
  lendLargePackets(): boolean {
    this.lending = this.stageIn === null;
    if (this.lending && this.spares === null && typeof this.dev.addSpare === 'function' && typeof this.dev.setLendMin === 'function') {
      // The large packets of a run read straight into such buffers (addSpares).
      this.dev.setLendMin(LEND_MIN);
      this.spares = [];
    }
    return this.lending;
  }

  /**
   * `view`'s bytes, and every byte of its packet before them, are no longer
   * needed by anyone: when `view` ends where a lent packet ends, its buffer
   * goes back to the pool. Views of other memory, or that end elsewhere, are
   * ignored (the caller need not know where its bytes came from). True
   * when the buffer was taken back.
   */
  recycle(view: Uint8Array): boolean {
    const ab = view.buffer as ArrayBuffer;
    if (this.lent.get(ab) !== view.byteOffset + view.byteLength) return false;
    this.lent.delete(ab);
    this.stats.buffersRecycled++;
    this.toPool(ab);
    return true;
  }

  /** After a batch: the stack's end of it (Link.onReceiveEnd), then the owner's onBatch. */
  private endBatch(): void {
    this.onReceiveEnd?.();
    this.onBatch?.();
  }

  private deliver(packet: Uint8Array): void {
    if (this.closedFlag) return;
    this.tap?.('in', packet);
    this.onReceive?.(packet);
  }

  private fail(errno: number, syscall: string): void {
    const code = errnoName(errno);
    const why =
      errno === 77 || errno === 9
        ? `TUN device ${this.name} went away (${code}): it was deleted or its driver unloaded`
        : `TUN device ${this.name}: ${syscall} failed (${code})`;
    const err = new TunError(why, code, -errno, syscall);
    this.close();
    if (this.onError) this.onError(err);
    else process.nextTick(() => { throw err; });
  }

  // ---- transmit ---------------------------------------------------------------

  private enqueueWrite(packet: Uint8Array): void {
    if (this.closedFlag) return;
    this.outQueue.push(packet);
    if (this.transmitPartial) {
      this.outPayloads.push(NO_PAYLOAD);
      this.outCsumStart.push(0);
      this.outGsoSize.push(0);
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      microtask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    if (!this.holdingBlocks) {
      this.writeQueued();
      return;
    }
    this.holdingBlocks = false;
    try {
      this.writeQueued();
    } finally {
      releaseSendBlocks();
    }
  };

  private writeQueued(): void {
    const q = this.outQueue;
    if (q.length === 0 || this.closedFlag) return;
    this.outQueue = [];
    if (this.vnetHdrLen !== 0 && this.dev.writeChains) {
      const payloads = this.outPayloads;
      const csumStart = this.outCsumStart;
      const gsoSize = this.outGsoSize;
      const partials = this.outPartials;
      if (this.transmitPartial) {
        this.outPayloads = [];
        this.outCsumStart = [];
        this.outGsoSize = [];
        this.outPartials = 0;
      }
      this.flushChains(q, partials === 0 ? null : payloads, csumStart, gsoSize);
      return;
    }
    let i = 0;
    while (i < q.length) {
      this.stats.writeCalls++;
      const n = this.dev.writeBatch(q, i);
      for (let k = i; k < i + n; k++) {
        this.stats.packetsOut++;
        this.stats.bytesOut += q[k]!.length;
      }
      i += n;
      if (i < q.length) {
        const errno = this.dev.writeErrno;
        const name = errnoName(errno);
        this.stats.writeErrors[name] = (this.stats.writeErrors[name] ?? 0) + 1;
        i++; // the refused packet is dropped (TCP retransmits)
        if (errno === 77 || errno === 9) {
          this.fail(errno, 'write');
          return;
        }
      }
    }
  }

  /** vnet mode: every packet behind a virtio_net_hdr; runs of one flow's segments coalesced into TSO writes. */
  /** Whole packets behind a header each; runs of one flow's segments coalesced into TSO chains when allowed. */
  private planWhole(q: Uint8Array[], parts: Uint8Array[], counts: number[]): void {
    if (this.tso) {
      this.stats.gsoOut += coalesceTcp(q, parts, counts, this.l2Len, this.offloads);
    } else {
      for (const p of q) parts.push(ZERO_HDR, p);
      for (let k = 0; k < q.length; k++) counts.push(2);
    }
  }

  private flushChains(q: Uint8Array[], payloads: (readonly Uint8Array[])[] | null, csumStart: number[], gsoSizes: number[]): void {
    const parts: Uint8Array[] = [];
    const counts: number[] = [];
    if (payloads === null) this.planWhole(q, parts, counts);
    else {
      // Runs of whole packets as before; each gather packet a chain of its
      // own: [header with NEEDS_CSUM, head, payload].
      let i = 0;
      let hdrs = 0;
      while (i < q.length) {
        if (payloads[i]!.length === 0) {
          let j = i + 1;
          while (j < q.length && payloads[j]!.length === 0) j++;
          this.planWhole(i === 0 && j === q.length ? q : q.slice(i, j), parts, counts);
          i = j;
          continue;
        }
        const head = q[i]!;
        // Its header in the link's scratch (a 10-octet array of its own
        // would be an on-heap one, which V8 moves to a new backing store,
        // a malloc, the first time the addon reads it).
        if ((hdrs + 1) * VNET_HDR_LEN > this.vnetHdrs.length) this.vnetHdrs = new Uint8Array(this.vnetHdrs.length * 2);
        const h = this.vnetHdrs.subarray(hdrs * VNET_HDR_LEN, (hdrs + 1) * VNET_HDR_LEN);
        hdrs++;
        // A super-segment (transmitGso): the kernel cuts it into segments
        // of gso_size payload octets (TCPV4 or TCPV6 by the IP version).
        const gso = gsoSizes[i]!;
        const gsoType = gso === 0 ? VNET_GSO_NONE : head[this.l2Len]! >> 4 === 6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4;
        encodeVnetHdr({ flags: VNET_F_NEEDS_CSUM, gsoType, hdrLen: head.length, gsoSize: gso, csumStart: csumStart[i]!, csumOffset: 16 }, h, 0);
        parts.push(h, head);
        for (const p of payloads[i]!) parts.push(p);
        counts.push(2 + payloads[i]!.length);
        if (gso !== 0) {
          this.stats.gsoOut++;
          this.stats.superOut++;
        } else this.stats.csumOffloadOut++;
        i++;
      }
    }
    const dev = this.dev;
    let i = 0;
    let pi = 0;
    while (i < counts.length) {
      this.stats.writeCalls++;
      const n = dev.writeChains!(parts, counts, i);
      for (let k = i; k < i + n; k++) {
        const c = counts[k]!;
        let bytes = 0;
        for (let m = 1; m < c; m++) bytes += parts[pi + m]!.length;
        // A coalesced chain's first part is its header and the run's
        // headers; its gso_type is set. A super-segment's first part is the
        // header alone (gso_type and gso_size set), then the packet's
        // headers and payload.
        const first = parts[pi]!;
        const gso = first[1] !== VNET_GSO_NONE;
        let segs = 1;
        if (gso && first.length > this.vnetHdrLen) {
          segs = c - 1;
          bytes += first.length - this.vnetHdrLen;
        } else if (gso) {
          const size = first[4]! | (first[5]! << 8);
          segs = Math.max(1, Math.ceil((bytes - parts[pi + 1]!.length) / size));
        }
        if (gso) this.stats.gsoOutSegments += segs;
        pi += c;
        this.stats.packetsOut += segs;
        this.stats.bytesOut += bytes;
      }
      i += n;
      if (i < counts.length) {
        const errno = this.dev.writeErrno;
        const name = errnoName(errno);
        this.stats.writeErrors[name] = (this.stats.writeErrors[name] ?? 0) + 1;
        pi += counts[i]!;
        i++; // the refused packet is dropped (TCP retransmits)
        if (errno === 77 || errno === 9) {
          this.fail(errno, 'write');
          return;
        }
      }
    }
  }
}

/**
 * A packet's bytes out of the read arena into memory of their own. Large
 * ones go into an uninitialised allocation that the copy fills whole:
 * `slice` (a zero-filled backing store) cost twice the copy itself in a
 * profile of kernel → synack at MTU 65520 (memset 10 %, memmove 5.6 % of
 * the process). Small ones stay `slice`s (their zero fill costs next to
 * nothing). Alternating runs of that probe (12 each, both spreading 8–18
 * Gbit/s on the shared machine): median 13.9 Gbit/s against 11.4.
 */
function copyOut(arena: Uint8Array, start: number, len: number): Uint8Array {
  if (len < COPY_UNINIT_MIN) return arena.slice(start, start + len);
  const out = new Uint8Array(Buffer.allocUnsafeSlow(len).buffer, 0, len);
  out.set(arena.subarray(start, start + len));
  return out;
}
/** Packets from this size up are copied into uninitialised memory (copyOut). */
const COPY_UNINIT_MIN = 1024;

/** Bytes per slab of bare TCP segments (carveBare), and the longest such segment (a TAP frame: 14 + 60 + 60 octets of headers). */
const BARE_SLAB_BYTES = 8192;
const BARE_MAX = 136;

/**
 * Whether the packet at `a[start .. start + len)` (behind `l2` octets of
 * Ethernet header on a TAP device) is a TCP segment that nothing keeps once
 * processed: an unfragmented IPv4 packet or an IPv6 packet whose next
 * header is TCP, carrying no payload and no SYN (an ACK, a FIN, a RST).
 * Only where the packet's memory comes from depends on it; the stack checks
 * every header as for any packet.
 */
function isBareTcp(a: Uint8Array, start: number, len: number, l2: number): boolean {
  let ip = start;
  if (l2 !== 0) {
    const type = (a[start + 12]! << 8) | a[start + 13]!;
    if (type !== 0x0800 && type !== 0x86dd) return false;
    ip += l2;
  }
  const end = start + len;
  const v = a[ip]! >> 4;
  let tcp: number;
  let tcpLen: number;
  if (v === 4) {
    const ihl = (a[ip]! & 15) * 4;
    // Protocol TCP, neither MF nor a fragment offset.
    if (ihl < 20 || a[ip + 9] !== 6 || ((a[ip + 6]! & 0x3f) | a[ip + 7]!) !== 0) return false;
    tcp = ip + ihl;
    tcpLen = ((a[ip + 2]! << 8) | a[ip + 3]!) - ihl;
  } else if (v === 6) {
    if (a[ip + 6] !== 6) return false;
    tcp = ip + 40;
    tcpLen = (a[ip + 4]! << 8) | a[ip + 5]!;
  } else return false;
  if (tcp + 20 > end) return false;
  return tcpLen === (a[tcp + 12]! >> 4) * 4 && (a[tcp + 13]! & 0x02) === 0;
}

const ZERO_HDR = new Uint8Array(10);

/** lendLargePackets: packets of at least LEND_MIN octets (a lent buffer holds at least a quarter of its size), in buffers of LEND_SIZE; at most LEND_POOL_MAX kept. */
const LEND_MIN = 16 * 1024;
const LEND_SIZE = 65535 + 128;
const LEND_POOL_MAX = 64;
/** Spares the device holds at most (addSpares): a batch's worth of 64 KiB packets in the default 2 MiB arena. */
const SPARES_MAX = 32;
/** The flag of a packet read into a spare, in the device's `lengths` (bit 31). */
const IN_SPARE = 0x80000000;

/**
 * Whether a completed partial checksum is the packet's TCP or UDP checksum:
 * it starts at the transport header (right after an IPv4 header, or a
 * fixed IPv6 header whose next header is the transport) and lands in its
 * checksum field (16 for TCP, 6 for UDP). Only then may the stack skip
 * verifying it.
 */
function coversTransport(p: Uint8Array, l2: number, csumStart: number, csumOffset: number): boolean {
  if (l2 !== 0 && !(p[12] === 0x08 && p[13] === 0x00) && !(p[12] === 0x86 && p[13] === 0xdd)) return false;
  const v = p[l2]! >> 4;
  let l4: number;
  let proto: number;
  if (v === 4) {
    l4 = l2 + (p[l2]! & 15) * 4;
    proto = p[l2 + 9]!;
  } else if (v === 6) {
    l4 = l2 + 40;
    proto = p[l2 + 6]!;
  } else return false;
  return csumStart === l4 && csumStart + csumOffset + 2 <= p.length && ((proto === 6 && csumOffset === 16) || (proto === 17 && csumOffset === 6));
}
const NO_PAYLOAD: readonly Uint8Array[] = [];

/** Offloads on unless SYNACK_TUN_OFFLOAD is 0/false/off. */
function offloadDefault(): boolean {
  const v = process.env['SYNACK_TUN_OFFLOAD'];
  return !(v !== undefined && /^(0|false|off|no)$/i.test(v.trim()));
}
