/**
 * The runner of the service engines on a synack stack (issue 13): binds an
 * engine to one UDP port of the stack's own socket table (udp/table.ts),
 * hands it each datagram and sends what it returns — from the address, to
 * the MAC, as broadcast as `OutDatagram` asks (stack/udp.ts `sendUdp` with
 * an explicit interface and source: DHCP's 0.0.0.0 and unicast before ARP,
 * RFC 2131 §4.1) — and polls it at its deadlines from the stack's own
 * poll() (Stack.linkTimers), so it runs on the stack's clock: virtual in
 * the simulator and the tests, the Driver's real one in the CLI. No wall
 * clock, no timers of its own, no Math.random.
 *
 * Datagrams are not handed over from inside the stack's receive path:
 * arriving ones wait in the socket's bounded queue (its receive buffer;
 * overflow is the stack's counted drop 'udp-rcvbuf-full') and the next
 * poll — due at once — drains it.
 */
import type { Instant } from '../base/time.ts';
import type { NetInterface, Stack } from '../stack/stack.ts';
import { sendUdp, type UdpSendError } from '../stack/udp.ts';
import { UdpSocket } from '../udp/table.ts';
import { formatIpAddr, ipv6MappedToV4, parseIpAddr, type IpAddr } from '../wire/ipv6.ts';
import { countDrop } from './types.ts';
import type { Drops, From, OutDatagram } from './types.ts';

/** A deadline on the stack's clock: `fn(now)` runs from the stack's poll() once `at` has passed. */
export class StackTimer {
  private at: Instant = Infinity;
  private live = true;

  constructor(
    private readonly stack: Stack,
    private readonly fn: (now: Instant) => void,
  ) {
    stack.linkTimers.push(this);
  }

  /** Arms (or with null, disarms) the timer. */
  set(at: Instant | null): void {
    this.at = at === null || !this.live ? Infinity : at;
  }

  get armedAt(): Instant | null {
    return this.at === Infinity ? null : this.at;
  }

  nextDeadline(): Instant {
    return this.at;
  }

  poll(now: Instant): void {
    if (this.at > now) return;
    this.at = Infinity;
    this.fn(now);
  }

  /** Removes the timer from the stack for good. */
  dispose(): void {
    this.live = false;
    this.at = Infinity;
    const i = this.stack.linkTimers.indexOf(this);
    if (i >= 0) this.stack.linkTimers.splice(i, 1);
  }
}

export interface UdpServiceOptions {
  /** The local port (0: an ephemeral one). */
  port: number;
  /** IPv4 (default) or IPv6 (a dual-stack socket on `::`). */
  family?: 4 | 6;
  /** The local address (default the wildcard). */
  address?: IpAddr;
  /** The interface datagrams with a chosen source address or MAC leave by (DHCP). */
  iface?: NetInterface;
  /** SO_BROADCAST (DHCP sends to 255.255.255.255). */
  broadcast?: boolean;
}

/** One UDP port of a stack driven by an engine: `onDatagram` per datagram, `send` for each OutDatagram. */
export class UdpService {
  readonly socket: UdpSocket;
  /** Datagrams that could not be sent, by error ('send-EACCES', …). */
  readonly drops: Drops = {};
  private readonly iface: NetInterface | null;
  private closed = false;

  constructor(
    readonly stack: Stack,
    opts: UdpServiceOptions,
    private readonly onDatagram: (bytes: Uint8Array, from: From, now: Instant) => void,
  ) {
    const family = opts.family ?? 4;
    this.socket = new UdpSocket(family);
    this.socket.broadcast = opts.broadcast ?? false;
    this.iface = opts.iface ?? null;
    stack.udp.bind(this.socket, opts.address ?? this.socket.localAddr, opts.port);
    // The stack calls this from inside its receive path: only make the poll due.
    this.socket.onReadable = () => {};
    stack.linkTimers.push(this);
  }

  get port(): number {
    return this.socket.localPort;
  }

  /** Due at once while datagrams wait. */
  nextDeadline(): Instant {
    return this.socket.queue.length > 0 ? this.stack.clock.now() : Infinity;
  }

  poll(now: Instant): void {
    for (let d = this.socket.shift(); d !== undefined && !this.closed; d = this.socket.shift()) {
      const v4 = typeof d.src === 'string' ? ipv6MappedToV4(d.src) : null;
      this.onDatagram(d.data, { address: formatIpAddr(v4 ?? d.src), port: d.srcPort }, now);
    }
  }

  /** Sends one datagram the engine returned; null or the error (also counted in `drops`). */
  send(d: OutDatagram): UdpSendError | 'EINVAL' | null {
    if (this.closed) return 'EINVAL';
    const dst = parseIpAddr(d.address);
    if (dst === null) {
      countDrop(this.drops, 'send-bad-address');
      return 'EINVAL';
    }
    let err: UdpSendError | null;
    if (this.iface !== null && typeof dst === 'number' && (d.srcAddress !== undefined || d.mac !== undefined)) {
      const src = d.srcAddress === undefined ? null : parseIpAddr(d.srcAddress);
      err = sendUdp(this.stack, this.socket, dst, d.port, d.payload, {
        iface: this.iface,
        src: src ?? this.iface.addrs.find((a) => typeof a.addr === 'number')?.addr ?? 0,
        ...(d.mac !== undefined ? { mac: d.mac } : {}),
      });
    } else {
      err = sendUdp(this.stack, this.socket, dst, d.port, d.payload);
    }
    if (err !== null) countDrop(this.drops, `send-${err}`);
    return err;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stack.udp.unbind(this.socket);
    this.socket.queue.length = 0;
    this.socket.queuedBytes = 0;
    const i = this.stack.linkTimers.indexOf(this);
    if (i >= 0) this.stack.linkTimers.splice(i, 1);
  }
}
