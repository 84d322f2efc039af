/**
 * One worker's share of a worker pool (pool.ts): a Network on the real
 * clock with its own Driver and its own in-memory hub — one shard of the
 * pool's sharded hub — and a stack for every host of the pool that lives in
 * this worker.
 *
 * Hosts are of two kinds. A *sharded* host (the default) has a stack in
 * every worker; each of its flows belongs to the worker its flow hash names
 * (flow-hash.ts), so a packet to a sharded address goes to that worker. Its
 * stacks open connections only on tuples that hash to their own worker
 * (`StackConfig.flowFilter`: the ephemeral port is chosen so, as DPDK and
 * Seastar applications do), and each worker listens on its own stack, as
 * SO_REUSEPORT listeners do — so sharded clients and servers exchange
 * every packet inside one worker. A *pinned* host lives in one worker only
 * (`worker: k`): packets to it go to that worker.
 *
 * Every packet a stack here sends passes the router: it stays here when
 * this worker owns it, and is otherwise forwarded — batched, one message per
 * peer and event-loop turn, over a MessagePort between the two workers —
 * and counted. The receiving worker carries it on its hub shard as if it
 * had been sent there. Nothing is dropped for being on the wrong worker.
 */
import type { MessagePort } from 'node:worker_threads';
import { Network } from '../sim/network.ts';
import type { MemoryHub, MemoryPort } from '../links/memory.ts';
import type { Link } from '../stack/link.ts';
import type { Stack } from '../stack/stack.ts';
import type { TcpConfig } from '../tcp/config.ts';
import { parseIpAddr, readIpv6Addr, type IpAddr } from '../wire/ipv6.ts';
import { Driver, RealClock } from '../api/driver.ts';
import { createNet, type SynackNet } from '../api/net.ts';
import type { HostsTable } from '../api/resolve.ts';
import { SynackError } from '../errors.ts';
import { TunLink } from '../links/tun.ts';
import { microtask } from '../base/microtask.ts';
import { packetFlowHash, tupleWorker, workerOf } from './flow-hash.ts';

/** A host of a pool: an address, sharded over every worker unless `worker` pins it to one. */
export interface PoolHost {
  /** An IPv4 or IPv6 literal. */
  address: string;
  /** Pin the host to this worker (0-based); by default it is sharded over all workers. */
  worker?: number;
  /** A name `net.connect(port, name)` resolves to the address, in every worker. */
  name?: string;
  /** Prefix length (default 24 for IPv4, 64 for IPv6). */
  prefixLen?: number;
}

/** What every worker is told at start (structured-cloneable). */
export interface ShardInit {
  index: number;
  workers: number;
  /** The pool's flow-hash seed: the same in every worker. */
  seed: number;
  hosts: PoolHost[];
  mtu: number;
  tcp?: Partial<TcpConfig>;
  tun?: PoolTun;
}

/**
 * A multi-queue TUN device (IFF_MULTI_QUEUE) the pool's hosts reach the
 * kernel through: every worker opens one queue of it and bridges it to its
 * hub shard, for the kernel-side addresses `peers`. A packet a stack sends
 * to a peer leaves on its own worker's queue; the kernel returns the flow to
 * the queue that last wrote it (tun_flow_update), and a packet that arrives
 * on another worker's queue (a new flow's first SYN, before any write) is
 * forwarded to the worker its hash names.
 */
export interface PoolTun {
  /** Device name (created by worker 0 when missing; a non-persistent device goes away with its last queue). */
  name: string;
  /** Kernel-side addresses (IPv4 or IPv6 literals) reached through the device. */
  peers: string[];
  /** Open it inside this network namespace (/run/netns/NAME). */
  netns?: string;
}

export interface ShardStats {
  worker: number;
  /** Packets sent by a stack of this worker that stayed in it. */
  local: number;
  /** Packets forwarded to the worker that owns them, and the messages that carried them. */
  forwardedOut: number;
  messagesOut: number;
  /** Packets other workers forwarded here, and their messages. */
  forwardedIn: number;
  messagesIn: number;
  /** Packets to an address that is no host of the pool (dropped by the hub, counted). */
  unroutable: number;
}

/** A host's stack in this worker, with a node:net-like module over it. */
export interface ShardHost {
  address: string;
  stack: Stack;
  net: SynackNet;
  /** Whether this host is sharded over all workers (else pinned to this one). */
  sharded: boolean;
}

/** A packet batch between workers: the packets back to back in `buf`, their lengths in `lens`. */
interface Batch {
  buf: ArrayBuffer;
  lens: ArrayBuffer;
}

const SHARDED = -1;
/** An address outside the pool reached through every worker's own TUN queue. */
const EXTERNAL = -2;

/** A stack's link in a worker: packets this worker owns go to the local hub shard, others to their worker. */
class ShardLink implements Link {
  constructor(
    private readonly port: MemoryPort,
    private readonly shard: WorkerShard,
  ) {}
  get mtu(): number {
    return this.port.mtu;
  }
  get checksum(): MemoryPort['checksum'] {
    return this.port.checksum;
  }
  get onReceive(): ((packet: Uint8Array) => void) | null {
    return this.port.onReceive;
  }
  set onReceive(f: ((packet: Uint8Array) => void) | null) {
    this.port.onReceive = f;
  }
  transmit(packet: Uint8Array): void {
    const w = this.shard.ownerOf(packet);
    if (w === this.shard.index) {
      this.shard.stats.local++;
      this.port.transmit(packet);
    } else {
      this.shard.forward(w, packet);
    }
  }
}

export class WorkerShard {
  readonly index: number;
  readonly workers: number;
  readonly seed: number;
  readonly network: Network;
  readonly driver: Driver;
  readonly hub: MemoryHub;
  readonly stats: ShardStats;
  /** Name → address, the same in every worker. */
  readonly names: HostsTable = new Map();
  private readonly hosts = new Map<IpAddr, ShardHost>();
  /** Address → SHARDED, or the worker a pinned host lives in. */
  private readonly owners = new Map<IpAddr, number>();
  /** Where forwarded packets enter this hub shard (a port with no address of its own). */
  private readonly ingress: MemoryPort;
  private readonly pending: Uint8Array[][];
  private readonly pendingBytes: number[];
  private flushQueued = false;
  private closed = false;
  /** This worker's queue of the pool's multi-queue TUN device, if any. */
  readonly tun: TunLink | null = null;

  constructor(
    init: ShardInit,
    private readonly peers: ReadonlyArray<MessagePort | null>,
  ) {
    this.index = init.index;
    this.workers = init.workers;
    this.seed = init.seed >>> 0;
    this.stats = { worker: init.index, local: 0, forwardedOut: 0, messagesOut: 0, forwardedIn: 0, messagesIn: 0, unroutable: 0 };
    this.pending = Array.from({ length: init.workers }, () => []);
    this.pendingBytes = new Array<number>(init.workers).fill(0);
    this.network = new Network({ clock: new RealClock(), seed: (init.seed ^ Math.imul(init.index + 1, 0x9e3779b1)) >>> 0 });
    // Behind a TUN device the kernel checks every checksum: the stacks fill them (no offload on the hub then).
    this.hub = this.network.addHub({ mtu: init.mtu, ...(init.tun ? { checksumOffload: false } : {}) });
    this.ingress = this.hub.attach();
    this.driver = new Driver(this.network);
    for (const h of init.hosts) {
      const addr = parseIpAddr(h.address);
      if (addr === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `pool host address must be an IPv4 or IPv6 literal, got ${h.address}`);
      this.owners.set(addr, h.worker ?? SHARDED);
      if (h.name) this.names.set(h.name.toLowerCase(), h.address);
    }
    for (const h of init.hosts) {
      if (h.worker !== undefined && h.worker !== this.index) continue;
      const addr = parseIpAddr(h.address)!;
      const sharded = h.worker === undefined && this.workers > 1;
      const b = crypto.getRandomValues(new Uint32Array(3));
      const stack = this.network.addStack({
        name: `${h.name ?? h.address}#${this.index}`,
        isnSecret: [b[0]!, b[1]!],
        portSeed: b[2]!,
        ...(init.tcp ? { tcp: init.tcp } : {}),
        // Open only flows this worker owns: then every reply comes back here.
        ...(sharded ? { flowFilter: (la: IpAddr, lp: number, ra: IpAddr, rp: number) => this.tupleOwner(la, lp, ra, rp) === this.index } : {}),
      });
      const port = this.hub.attach(addr);
      const def = typeof addr === 'string' ? 64 : 24;
      stack.addInterface({ addr, prefixLen: h.prefixLen ?? def, link: new ShardLink(port, this) });
      const net = createNet({ stack, driver: this.driver, hosts: this.names });
      this.hosts.set(addr, { address: h.address, stack, net, sharded: h.worker === undefined });
    }
    if (init.tun) this.tun = this.openTun(init.tun, init.mtu);
    this.peers.forEach((p, i) => {
      if (p && i !== this.index) p.on('message', (m: Batch) => this.receive(m));
    });
  }

  /** Opens this worker's queue of the TUN device and bridges it to the hub shard. */
  private openTun(t: PoolTun, mtu: number): TunLink {
    const port = this.hub.attach();
    for (const peer of t.peers) {
      const a = parseIpAddr(peer);
      if (a === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `tun peer must be an IPv4 or IPv6 literal, got ${peer}`);
      if (this.owners.has(a)) throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `tun peer ${peer} is a host of the pool`);
      this.owners.set(a, EXTERNAL);
      port.claim(a);
    }
    const link = new TunLink({
      name: t.name,
      mtu,
      offload: false,
      multiQueue: true,
      ...(t.netns !== undefined ? { netns: t.netns } : {}),
      onBatch: () => this.driver.kick(),
    });
    // The hub delivers packets for the peers to this port: out on our queue.
    port.onReceive = (p) => link.transmit(p);
    // In from our queue: here when this worker owns the flow, else to its owner.
    link.onReceive = (p) => {
      const w = this.ownerOf(p);
      if (w === this.index) port.transmit(p);
      else this.forward(w, p);
    };
    return link;
  }

  /** The host with `address` in this worker (a sharded host, or one pinned here). */
  host(address: string): ShardHost {
    const a = parseIpAddr(address);
    const h = a === null ? undefined : this.hosts.get(a);
    if (!h) {
      const o = a === null ? undefined : this.owners.get(a);
      throw new SynackError('ERR_SYNACK_INVALID_ARG', o !== undefined && o >= 0 ? `${address} is pinned to worker ${o}, not ${this.index}` : `${address} is no host of this pool`);
    }
    return h;
  }

  /** The worker that owns a TCP flow between a sharded and any other address (the pool's flow hash); for a pinned local address, its worker. */
  tupleOwner(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): number {
    const o = this.owners.get(localAddr);
    if (o !== undefined && o >= 0) return o;
    return tupleWorker(this.seed, this.workers, localAddr, localPort, remoteAddr, remotePort);
  }

  /** The worker a packet belongs to: its destination's worker when pinned, else the worker its flow hash names. */
  ownerOf(p: Uint8Array): number {
    if (this.workers === 1 || p.length < 20) return this.index;
    const v6 = p[0]! >>> 4 === 6;
    if (v6 && p.length < 40) return this.index;
    const dst: IpAddr = v6 ? readIpv6Addr(p, 24) : ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0;
    const o = this.owners.get(dst);
    if (o === undefined) {
      this.stats.unroutable++;
      return this.index; // the local hub drops it and counts it too
    }
    if (o === EXTERNAL) return this.index; // out through this worker's own queue
    if (o !== SHARDED) return o;
    const h = packetFlowHash(this.seed, p);
    return h < 0 ? this.index : workerOf(h, this.workers);
  }

  /** Queues `packet` for worker `w`; the queue leaves as one message at the end of this turn. */
  forward(w: number, packet: Uint8Array): void {
    if (this.closed || !this.peers[w]) return;
    this.stats.forwardedOut++;
    this.pending[w]!.push(packet);
    this.pendingBytes[w]! += packet.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      microtask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    for (let w = 0; w < this.workers; w++) {
      const list = this.pending[w]!;
      if (list.length === 0) continue;
      const buf = new Uint8Array(this.pendingBytes[w]!);
      const lens = new Uint32Array(list.length);
      let o = 0;
      for (let i = 0; i < list.length; i++) {
        buf.set(list[i]!, o);
        o += lens[i] = list[i]!.length;
      }
      this.pending[w] = [];
      this.pendingBytes[w] = 0;
      this.stats.messagesOut++;
      const batch: Batch = { buf: buf.buffer, lens: lens.buffer };
      this.peers[w]!.postMessage(batch, [batch.buf, batch.lens]);
    }
  };

  /** A batch from another worker: each packet enters this hub shard as if sent here. */
  private receive(m: Batch): void {
    if (this.closed) return;
    this.stats.messagesIn++;
    const buf = new Uint8Array(m.buf);
    const lens = new Uint32Array(m.lens);
    let o = 0;
    for (let i = 0; i < lens.length; i++) {
      const n = lens[i]!;
      this.stats.forwardedIn++;
      this.ingress.transmit(buf.subarray(o, o + n));
      o += n;
    }
    this.driver.kick();
  }

  /** Stops the driver and closes the channels to the other workers (sockets and servers should be closed first). */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.driver.stop();
    this.tun?.close();
    for (const p of this.peers) p?.close();
  }
}
