/**
 * UDP sockets of one stack, sans I/O (RFC 768, RFC 1122 §4.1): the socket
 * table (bound sockets by local address and port, with wildcards; connected
 * sockets by the full 4-tuple), ephemeral ports in UDP's own namespace (as
 * Linux: TCP and UDP ports are separate), and each socket's bounded receive
 * queue. The stack (stack/udp-input.ts) parses datagrams, asks `lookup` who
 * gets one and calls `deliver`; the API (api/dgram.ts) drains the queue.
 */
import { SynackError } from '../errors.ts';
import { IPV6_UNSPECIFIED, type IpAddr } from '../wire/ipv6.ts';

/** One datagram waiting in a socket's receive queue. */
export interface UdpDatagram {
  src: IpAddr;
  srcPort: number;
  data: Uint8Array;
}

/** A hard error reported to a connected socket by ICMP (Linux's sk_err), delivered on the next operation. */
export type UdpSocketError = 'ECONNREFUSED' | 'EHOSTUNREACH';

/**
 * The bytes a queued datagram is charged against the receive buffer beside
 * its payload (Linux charges an skb's truesize, payload plus ~600–900 bytes
 * of metadata; we charge a fixed overhead so a flood of empty datagrams
 * fills the buffer too).
 */
export const UDP_DATAGRAM_OVERHEAD = 256;
/** Linux's net.core.rmem_default and rmem_max (212992): the default receive buffer and the cap on setting it. */
export const UDP_RCVBUF_DEFAULT = 212992;
export const UDP_RCVBUF_MAX = 212992;
/** Linux's SOCK_MIN_RCVBUF on 64-bit: the smallest buffer setsockopt(SO_RCVBUF) leaves. */
export const UDP_RCVBUF_MIN = 2304;

export class UdpSocket {
  /** 0 (any IPv4), `::` (any, both families unless v6Only) or one of our addresses. */
  localAddr: IpAddr;
  localPort = 0;
  /** Set by connect(): only datagrams from here are delivered, and sends go here. */
  remoteAddr: IpAddr | null = null;
  remotePort = 0;
  v6Only = false;
  /** SO_REUSEADDR: another socket with it set may bind the same address and port. */
  reuseAddr = false;
  /** SO_BROADCAST: may send to a broadcast address. */
  broadcast = false;
  /** Hop limit / TTL of datagrams sent (0 = the stack's default). */
  ttl = 0;
  /** SO_RCVBUF in bytes (as Linux reports it: twice what was asked). */
  rcvbuf = UDP_RCVBUF_DEFAULT;
  /** Bytes charged against rcvbuf by the queued datagrams. */
  queuedBytes = 0;
  readonly queue: UdpDatagram[] = [];
  /** A hard ICMP error for the next operation (connected sockets only, as Linux without IP_RECVERR). */
  error: UdpSocketError | null = null;
  /** Called (synchronously, from inside the stack) when a datagram or an error arrives; defer user code. */
  onReadable: (() => void) | null = null;
  bound = false;

  constructor(readonly family: 4 | 6) {
    this.localAddr = family === 4 ? 0 : IPV6_UNSPECIFIED;
  }

  get wildcard(): boolean {
    return this.localAddr === 0 || this.localAddr === IPV6_UNSPECIFIED;
  }

  /** Whether this socket takes datagrams of `family` by address family alone. */
  covers(family: 4 | 6): boolean {
    if (this.family === 4) return family === 4;
    if (this.localAddr === IPV6_UNSPECIFIED) return family === 6 || !this.v6Only;
    return typeof this.localAddr === 'string' ? family === 6 : family === 4;
  }

  /** Takes the oldest queued datagram. */
  shift(): UdpDatagram | undefined {
    const d = this.queue.shift();
    if (d) this.queuedBytes -= d.data.length + UDP_DATAGRAM_OVERHEAD;
    return d;
  }
}

/**
 * The socket table. Demux (RFC 768: the destination port "has a meaning
 * within the context of a particular internet destination address"; RFC
 * 1122 §4.1.3.4: "When a UDP datagram is received, its specific-destination
 * address MUST be passed up to the application layer"): the socket with the
 * most specific match wins, as Linux's compute_score — a connected socket
 * (remote address and port equal) before an unconnected one, a specific
 * local address before a wildcard.
 */
export class UdpTable {
  private readonly byPort = new Map<number, UdpSocket[]>();
  private cursor: number;

  constructor(
    private readonly ephemeral: [number, number],
    seed: number,
  ) {
    this.cursor = (seed >>> 0) % (ephemeral[1] - ephemeral[0] + 1);
  }

  get size(): number {
    let n = 0;
    for (const l of this.byPort.values()) n += l.length;
    return n;
  }

  /**
   * Binds `sock` to `addr`:`port` (port 0: an ephemeral port). Two sockets
   * may share a port only on different specific addresses, or both with
   * SO_REUSEADDR (Linux's UDP rule); else ERR_SYNACK_ADDRESS_IN_USE.
   */
  bind(sock: UdpSocket, addr: IpAddr, port: number): void {
    if (sock.bound) throw new SynackError('ERR_SYNACK_INVALID_STATE', 'UDP socket already bound');
    sock.localAddr = addr;
    if (port === 0) port = this.allocate(sock);
    else if (this.conflicts(sock, port)) throw new SynackError('ERR_SYNACK_ADDRESS_IN_USE', `UDP port ${port} is in use`);
    sock.localPort = port;
    sock.bound = true;
    const l = this.byPort.get(port);
    if (l) l.push(sock);
    else this.byPort.set(port, [sock]);
  }

  unbind(sock: UdpSocket): void {
    if (!sock.bound) return;
    sock.bound = false;
    const l = this.byPort.get(sock.localPort);
    if (!l) return;
    const i = l.indexOf(sock);
    if (i >= 0) l.splice(i, 1);
    if (l.length === 0) this.byPort.delete(sock.localPort);
  }

  private conflicts(sock: UdpSocket, port: number): boolean {
    const l = this.byPort.get(port);
    if (!l) return false;
    for (const o of l) {
      if (sock.reuseAddr && o.reuseAddr) continue;
      if (o.localAddr === sock.localAddr) return true;
      if (o.wildcard && (o.covers(4) && sock.covers(4) || o.covers(6) && sock.covers(6))) return true;
      if (sock.wildcard && (typeof o.localAddr === 'number' ? sock.covers(4) : sock.covers(6))) return true;
    }
    return false;
  }

  private allocate(sock: UdpSocket): number {
    const [lo, hi] = this.ephemeral;
    const span = hi - lo + 1;
    for (let i = 0; i < span; i++) {
      this.cursor = (this.cursor + 1) % span;
      const p = lo + this.cursor;
      if (!this.byPort.has(p) || !this.conflicts(sock, p)) return p;
    }
    throw new SynackError('ERR_SYNACK_PORTS_EXHAUSTED', `no free UDP port in ${lo}..${hi}`);
  }

  /** The socket a datagram from `src`:`srcPort` to `dst`:`dstPort` is for, or null. */
  lookup(dst: IpAddr, dstPort: number, src: IpAddr, srcPort: number, dstIsLocal = true): UdpSocket | null {
    const l = this.byPort.get(dstPort);
    if (!l) return null;
    const family = typeof src === 'string' ? 6 : 4;
    let best: UdpSocket | null = null;
    let bestScore = -1;
    for (const s of l) {
      const score = matchScore(s, family, dst, src, srcPort, dstIsLocal);
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  /** Every socket that takes a broadcast datagram to `dstPort` (RFC 1122 §4.1.3.6 / Linux's __udp4_lib_mcast_deliver). */
  lookupAll(dst: IpAddr, dstPort: number, src: IpAddr, srcPort: number): UdpSocket[] {
    const l = this.byPort.get(dstPort);
    if (!l) return [];
    return l.filter((s) => matchScore(s, 4, dst, src, srcPort, false) >= 0);
  }

  /** A connected socket by its full 4-tuple (for ICMP errors about what it sent). */
  findConnected(local: IpAddr, localPort: number, remote: IpAddr, remotePort: number): UdpSocket | null {
    const l = this.byPort.get(localPort);
    if (!l) return null;
    for (const s of l) if (s.remoteAddr === remote && s.remotePort === remotePort && (s.localAddr === local || s.wildcard)) return s;
    return null;
  }
}

function matchScore(s: UdpSocket, family: 4 | 6, dst: IpAddr, src: IpAddr, srcPort: number, dstIsLocal: boolean): number {
  if (!s.covers(family)) return -1;
  let score = 0;
  if (!s.wildcard) {
    // A broadcast datagram reaches sockets bound to the wildcard only (and
    // to the broadcast address itself).
    if (s.localAddr !== dst) return -1;
    score += 4;
  } else if (!dstIsLocal && s.family === 6 && typeof dst === 'string') {
    return -1;
  }
  if (s.remoteAddr !== null) {
    if (s.remoteAddr !== src || s.remotePort !== srcPort) return -1;
    score += 8;
  }
  if (s.family === family) score += 1;
  return score;
}

/** Queues a datagram on `sock`; false (a counted drop for the caller) when its receive buffer is full. */
export function deliver(sock: UdpSocket, d: UdpDatagram): boolean {
  const cost = d.data.length + UDP_DATAGRAM_OVERHEAD;
  // Linux's __udp_enqueue_schedule_skb drops when the memory already
  // charged exceeds sk_rcvbuf ("if (rmem > (size + (unsigned int)sk->sk_rcvbuf))"
  // after adding size): one datagram may overrun the buffer, the next is dropped.
  if (sock.queuedBytes > sock.rcvbuf) return false;
  sock.queue.push(d);
  sock.queuedBytes += cost;
  sock.onReadable?.();
  return true;
}
