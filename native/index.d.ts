/** Linux TUN and TAP device access for synack (see src/tun.cc). */
export interface TunDeviceOptions {
  /** 'attach': the device must exist; 'create': it must not; 'auto' (default): either. */
  mode?: 'auto' | 'attach' | 'create';
  /** Bytes of the read arena (default 2 MiB, at least 65535). */
  arenaBytes?: number;
  /** Packets per batch, at most (default 256). */
  maxBatch?: number;
  /** Batches per readiness event before yielding to the event loop (default 8). */
  maxRounds?: number;
  /**
   * Open with IFF_VNET_HDR (a 10-byte virtio_net_hdr before every packet
   * read and written) and ask for TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4 |
   * TUN_F_TSO6 (default false). See `vnetHdrLen`, `offloads`, `offloadErrno`.
   */
  offload?: boolean;
  /**
   * Open a TAP device (IFF_TAP: every read and write is one Ethernet frame,
   * no FCS) instead of a TUN device (IP packets). Default false. With
   * `offload`, the virtio_net_hdr offsets count from the frame's start.
   */
  tap?: boolean;
  /**
   * The path of a network namespace (/run/netns/NAME, /proc/PID/ns/net):
   * the device is opened (attached to or created) in that namespace — its
   * /dev/net/tun fd is opened on a short-lived thread that joined it with
   * setns(2), and stays bound to it — while this process stays in its own.
   */
  netns?: string;
  /**
   * The path of the user namespace that owns `netns` (/proc/PID/ns/user of
   * the process that made it), for a rootless container's namespace: a
   * fork()ed child joins this user namespace (unless it is this process's
   * own) and then `netns`, opens and sets up the device there (and applies
   * `configure`), and passes the fd back over a socketpair (SCM_RIGHTS) —
   * no privileges needed beyond owning the user namespace and a
   * /dev/net/tun everyone may open (mode 0666). Needs `netns`.
   */
  userns?: string;
  /**
   * With `userns`: what configureNetns does, done by the same child right
   * after the device is made (lo up; the device gets `mtu`,
   * `address`/`prefixLen` and goes up; a default route via `gateway`). See
   * `configured`.
   */
  configure?: { mtu: number; address: string; prefixLen: number; gateway?: string };
  /**
   * IFF_MULTI_QUEUE (default false): every open of the same name attaches
   * one more queue of the device — one per worker thread. The kernel picks
   * a queue per flow, and returns a flow to the queue that last wrote a
   * packet of it (tun_flow_update). Every queue must be opened with it.
   */
  multiQueue?: boolean;
}

export interface TunDeviceStats {
  readCalls: number;
  batches: number;
  packetsIn: number;
  bytesIn: number;
  readErrors: number;
  emptyReads: number;
  /** Packets read straight into a spare buffer (addSpare). */
  directReads: number;
  packetsOut: number;
  bytesOut: number;
  writeErrors: number;
  created: boolean;
}

export declare class TunDevice {
  constructor(name: string, options?: TunDeviceOptions);
  /** The device name (as the kernel chose it for patterns like "tun%d"). */
  readonly name: string;
  readonly fd: number;
  /** Packets of the current batch, back to back from offset 0. */
  readonly arena: ArrayBuffer;
  /** Length of each packet of the current batch (virtio_net_hdr included); bit 31 set: the packet is in the next spare buffer (addSpare), only its header in the arena. */
  readonly lengths: Uint32Array;
  /** errno of the last failed write (0 when none). */
  readonly writeErrno: number;
  readonly closed: boolean;
  /** 10 when the device was opened with IFF_VNET_HDR, else 0 (plain mode, also when the kernel refused it). */
  readonly vnetHdrLen: number;
  /** The TUN_F_* offloads the kernel accepted (0 when none). */
  readonly offloads: number;
  /** errno of a refused IFF_VNET_HDR / TUNSETVNETHDRSZ / TUNSETOFFLOAD (0 when none). */
  readonly offloadErrno: number;
  /** Whether the device is a TAP device (Ethernet frames). */
  readonly tap: boolean;
  /** Whether options.configure was applied (with userns). */
  readonly configured: boolean;
  /** Starts polling; `onPackets(count, errno)` is called once per batch (errno 0, or a read error). */
  start(onPackets: (count: number, errno: number) => void): void;
  stop(): void;
  /** Bytes written, or -errno. */
  write(packet: Uint8Array): number;
  /** Packets written from `start` (default 0) to `end`; when fewer, see `writeErrno`. */
  writeBatch(packets: Uint8Array[], start?: number, end?: number): number;
  /**
   * Chain i is the next counts[i] (1..64) parts of `parts`, written as one
   * packet with one writev() (in vnet mode its first part is the
   * virtio_net_hdr). Chains written from `start`; when fewer, see `writeErrno`.
   */
  writeChains(parts: Uint8Array[], counts: number[], start?: number, end?: number): number;
  /**
   * A buffer of at least `readSize` bytes for one large packet to be read
   * into (no copy out of the arena): once a packet of setLendMin's size or
   * more came, until a batch has none, reads go into the oldest spare; a
   * packet that size or larger stays there (flagged in `lengths`), a
   * smaller one is copied into the arena and the spare kept. Returns the
   * spares held.
   */
  addSpare(buffer: ArrayBuffer): number;
  /** Packets of `bytes` or more are read into spares (0: never; the default). */
  setLendMin(bytes: number): void;
  close(): void;
  /** Keep the process alive while polling (default: not). */
  ref(): void;
  unref(): void;
  stats(): TunDeviceStats;
}

/**
 * An unprivileged ICMP echo ("ping") socket (src/icmp.cc):
 * socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) or socket(AF_INET6, SOCK_DGRAM,
 * IPPROTO_ICMPV6), allowed when the process's group is inside
 * net.ipv4.ping_group_range (else the constructor throws with code EACCES).
 * The kernel fills the checksum and replaces the identifier of every request
 * with the socket's own (`ident`); it hands back only echo replies carrying it.
 */
export declare class IcmpSocket {
  constructor(family: 4 | 6);
  readonly family: 4 | 6;
  /** The identifier the kernel puts in this socket's requests (0 before the first send or bind). */
  readonly ident: number;
  readonly closed: boolean;
  /** Asks for identifier `ident` (0: any); 0, or -errno (EADDRINUSE: another socket has it). */
  bind(ident: number): number;
  /** Sends an echo request (identifier, sequence number, data) to `dst`, with the IP TTL / hop limit `ttl` when given; bytes written or -errno. */
  send(dst: string, ident: number, seq: number, data: Uint8Array, ttl?: number): number;
  /**
   * Starts reading: `onMessage` gets each echo reply — its ICMP header and
   * data (no IP header), its source, its TTL / hop limit (-1 if unknown),
   * -1, -1 — and each ICMP error about a request (IP_RECVERR: a router's
   * Time Exceeded, Destination Unreachable) — the request as sent, the
   * router's address, -1, the ICMP type and code.
   */
  start(onMessage: (message: Buffer, from: string, ttl: number, icmpType: number, icmpCode: number) => void): void;
  close(): void;
  /** Keep the process alive while reading (default: not). */
  ref(): void;
  unref(): void;
}

/**
 * Host TCP sockets in one epoll set (native/src/hostsock.cc): the gateway's
 * forwarded connections without a node:net Socket each. Events arrive in
 * one array per wake-up: [kind, id, value, …] with kind 1 CONNECTED, 2 DATA
 * (value: a Uint8Array of its own), 3 EOF, 4 WRITABLE (after a short write), 5 ERROR
 * (value: the errno name, e.g. 'ECONNREFUSED'), 6 DATA in a recycled buffer
 * (after setRecycling(true): a Uint8Array view of a pooled 512 KiB
 * ArrayBuffer, for reads of 128 KiB or more; hand its buffer back with
 * recycle() once its bytes are no longer needed).
 */
export declare class HostSockets {
  constructor();
  /** The number of open sockets. */
  readonly count: number;
  start(onEvents: (events: Array<number | string | Uint8Array>) => void): void;
  /** Starts a non-blocking connect (TCP_NODELAY) under the caller's `id`: 1 when it completed at once (loopback), 0 when under way (a CONNECTED or ERROR event follows), or -errno when it failed at once. */
  connect(id: number, host: string, port: number): number;
  /** One writev of chunks[start…] (at most 1024): the bytes taken, or -errno; a WRITABLE event follows a short write. */
  write(id: number, chunks: Uint8Array[], start?: number): number;
  /** Whether DATA / EOF events are wanted (pause / resume). */
  setReading(id: number, on: boolean): void;
  /** shutdown(SHUT_WR): 0 or -errno. */
  shutdown(id: number): number;
  /** Closes the socket (with a RST when `reset`). */
  closeSocket(id: number, reset: boolean): void;
  /** [localAddress, localPort, remoteAddress, remotePort], or null. */
  addresses(id: number): [string, number, string, number] | null;
  /** Closes every socket and the epoll set. */
  close(): void;
  /** Reads of 128 KiB or more received straight into pooled buffers (DATA events of kind 6); off drops the pool. */
  setRecycling(on: boolean): void;
  /** ArrayBuffers of kind-6 events whose bytes are no longer needed, back to the pool (at most 16 kept); the pool's size after. */
  recycle(buffers: ArrayBuffer[]): number;
  ref(): void;
  unref(): void;
}

export declare function linkInfo(name: string): { index: number; mtu: number; up: boolean };
export declare function setLinkMtu(name: string, mtu: number): void;
export declare function setLinkUp(name: string, up: boolean): void;
/**
 * Inside the network namespace at `nsPath` (on a short-lived thread that
 * joined it; needs CAP_SYS_ADMIN over it — for a namespace owned by another
 * user namespace use TunDevice's `userns` and `configure` instead): lo up; `name` gets `mtu`, `address`/`prefixLen` and goes up;
 * a default route via `gateway` (what `slirp4netns --configure` does).
 */
export declare function configureNetns(nsPath: string, name: string, cfg: { mtu: number; address: string; prefixLen: number; gateway?: string }): void;
/**
 * Gives memory back to the system: V8's low-memory notification (a full,
 * memory-reducing GC that also shrinks the young generation) and glibc's
 * malloc_trim(0). True when malloc_trim released something.
 */
export declare function trimMemory(): boolean;
/**
 * execve(2): replaces this process's image (same PID, stdio) with `path`
 * run with `argv` and `env` ("NAME=value" strings). Returns only on
 * failure, with strerror's text.
 */
export declare function execve(path: string, argv: string[], env: string[]): string;
/** True in builds whose TunDevice takes { userns, configure } (the rootless path). */
export declare const usernsSupported: boolean;
export declare const readSize: number;
export declare const vnetHdrLen: number;
export declare const TUN_F_CSUM: number;
export declare const TUN_F_TSO4: number;
export declare const TUN_F_TSO6: number;
