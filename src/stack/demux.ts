/**
 * The demultiplexing table: which connection a segment's 4-tuple belongs to
 * (RFC 9293 §3.10.7: "If the state is CLOSED (i.e., TCB does not exist)"
 * is this table's "not found"). Keyed by a secret hash of the whole 4-tuple,
 * so that an attacker who picks source addresses and ports cannot aim at one
 * bucket; the rare collisions chain in a small array, and every lookup
 * compares all four fields.
 *
 * The Stack owns one (stack.ts insert/remove/lookup) and does the
 * bookkeeping around it (connection count, ports in use, timers).
 */
import type { Connection } from '../tcp/connection.ts';
import type { IpAddr, Ipv6Addr } from '../wire/ipv6.ts';
import { AddrWords } from './isn.ts';

/**
 * The demux key: a keyed hash of the full 4-tuple, a signed 32-bit integer
 * (a small integer for V8: no heap number per lookup; the Map hashes it
 * again). Every field goes into it, so connections that share a port pair —
 * spoofed sources included — spread over the table instead of queueing in
 * one bucket. The remote address is multiplied by a secret odd per-stack
 * multiplier: without it, an attacker could pick (address, port) pairs whose
 * XOR collides.
 */
function tupleKey(mult: number, localAddr: number, localPort: number, remoteAddr: number, remotePort: number): number {
  return (Math.imul(remoteAddr, mult) ^ ((localPort << 16) | remotePort) ^ localAddr) | 0;
}

/**
 * The demux key of an IPv6 4-tuple: the same shape, the remote address
 * compressed to one word by a keyed PRF (isn.ts addrWord) so that an
 * attacker who chooses source addresses cannot aim at one bucket. The local
 * address is one of ours, not the attacker's choice: its four words are
 * XOR-folded (a PRF call less per lookup).
 */
function tupleKey6(words: AddrWords, mult: number, localAddr: Ipv6Addr, localPort: number, remoteAddr: Ipv6Addr, remotePort: number): number {
  const local =
    ((localAddr.charCodeAt(0) << 16) | localAddr.charCodeAt(1)) ^
    ((localAddr.charCodeAt(2) << 16) | localAddr.charCodeAt(3)) ^
    ((localAddr.charCodeAt(4) << 16) | localAddr.charCodeAt(5)) ^
    ((localAddr.charCodeAt(6) << 16) | localAddr.charCodeAt(7));
  return tupleKey(mult, local, localPort, words.word(remoteAddr), remotePort);
}

const sameTuple = (c: Connection, localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): boolean =>
  c.remotePort === remotePort && c.localPort === localPort && c.remoteAddr === remoteAddr && c.localAddr === localAddr;

export class ConnTable {
  /** key: tupleKey(4-tuple) → the connection (or the few whose keys collide). */
  private readonly map = new Map<number, Connection | Connection[]>();
  /** The connection the last successful lookup() found (see there). */
  private last: Connection | null = null;
  /** Secret odd multiplier of the hash. */
  private readonly mult: number;
  /** The PRF that compresses IPv6 addresses for the hash (memoised, isn.ts AddrWords). */
  private readonly words: AddrWords;

  /** Keys derived from the stack's ISN secret. */
  constructor(secret: readonly [number, number]) {
    this.mult = (Math.imul(secret[0] ^ 0x2545f491, 0x9e3779b1) ^ secret[1]) | 1;
    this.words = new AddrWords((secret[0] ^ 0x0d3c0de5) >>> 0, (secret[1] ^ 0x9a1b2c3d) >>> 0);
  }

  /** The demux key of a 4-tuple of either family (both addresses of one family). */
  private key(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): number {
    if (typeof remoteAddr === 'number') return tupleKey(this.mult, localAddr as number, localPort, remoteAddr, remotePort);
    return tupleKey6(this.words, this.mult, localAddr as Ipv6Addr, localPort, remoteAddr, remotePort);
  }

  lookup(localAddr: IpAddr, localPort: number, remoteAddr: IpAddr, remotePort: number): Connection | null {
    // The connection of the previous lookup first (a bulk flow's segments
    // arrive back to back): four comparisons instead of the keyed hash, which
    // for IPv6 runs SipHash over both addresses. Cleared in delete().
    const last = this.last;
    if (last !== null && sameTuple(last, localAddr, localPort, remoteAddr, remotePort)) return last;
    const v = this.map.get(this.key(localAddr, localPort, remoteAddr, remotePort));
    if (!v) return null;
    if (!Array.isArray(v)) return sameTuple(v, localAddr, localPort, remoteAddr, remotePort) ? (this.last = v) : null;
    for (const c of v) if (sameTuple(c, localAddr, localPort, remoteAddr, remotePort)) return (this.last = c);
    return null;
  }

  /** Files `conn` under its 4-tuple (the caller checked it is not there yet). */
  add(conn: Connection): void {
    const key = this.key(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort);
    const v = this.map.get(key);
    if (!v) this.map.set(key, conn);
    else if (Array.isArray(v)) v.push(conn);
    else this.map.set(key, [v, conn]);
  }

  /** Takes `conn` out; false if it was not in the table. */
  delete(conn: Connection): boolean {
    if (this.last === conn) this.last = null;
    const key = this.key(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort);
    const v = this.map.get(key);
    if (!v) return false;
    if (Array.isArray(v)) {
      const i = v.indexOf(conn);
      if (i < 0) return false;
      v.splice(i, 1);
      if (v.length === 1) this.map.set(key, v[0]!);
    } else if (v === conn) {
      this.map.delete(key);
    } else {
      return false;
    }
    return true;
  }

  /** Every connection in the table. */
  all(): Connection[] {
    const out: Connection[] = [];
    for (const v of this.map.values()) {
      if (Array.isArray(v)) out.push(...v);
      else out.push(v);
    }
    return out;
  }

  /** The table's shape: how many buckets, and the most connections in one (1 = no collisions). */
  stats(): { buckets: number; largestBucket: number } {
    let largest = 0;
    for (const v of this.map.values()) largest = Math.max(largest, Array.isArray(v) ? v.length : 1);
    return { buckets: this.map.size, largestBucket: largest };
  }
}
