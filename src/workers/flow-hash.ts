/**
 * The flow hash that spreads connections over worker threads (RSS-style):
 * a seeded hash of the 4-tuple that is symmetric — both directions of a
 * flow give the same value — so a flow's packets, whichever way they go,
 * name the same worker. Pure: no node: module, no clock.
 *
 * What is hashed: for TCP and UDP (an IPv4 packet that is not a fragment,
 * an IPv6 packet whose first Next Header is TCP or UDP) both addresses,
 * both ports and the protocol; for anything else (ICMP, fragments, IPv6
 * extension headers) the two addresses only — as a NIC's RSS does, so an
 * ICMP error about a flow or a fragmented datagram may be steered to
 * another worker than the flow's.
 */
import type { IpAddr } from '../wire/ipv6.ts';

/** One murmur3 round: `k` into the running hash `h`. */
function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's finalizer: every input bit moves every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash of one endpoint: address words (1 for IPv4, 4 for IPv6) and port. */
function endpoint(seed: number, w0: number, w1: number, w2: number, w3: number, port: number): number {
  let h = mix(seed, w0);
  h = mix(h, w1);
  h = mix(h, w2);
  h = mix(h, w3);
  return fmix(mix(h, port));
}

/** Symmetric: the two endpoint hashes combined in sorted order. */
function combine(seed: number, a: number, b: number, proto: number): number {
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  return fmix(mix(mix(mix(seed ^ 0x5bd1e995, lo), hi), proto));
}

function addrWords(a: IpAddr, out: Int32Array): void {
  if (typeof a === 'number') {
    out[0] = a | 0;
    out[1] = out[2] = out[3] = 0;
    return;
  }
  for (let i = 0; i < 4; i++) out[i] = (a.charCodeAt(2 * i) << 16) | a.charCodeAt(2 * i + 1);
}

const wa = new Int32Array(4);
const wb = new Int32Array(4);

/** The flow hash of a TCP or UDP 4-tuple (`proto` 6 or 17), as `packetFlowHash` computes it from a packet of that flow in either direction. */
export function tupleFlowHash(seed: number, addrA: IpAddr, portA: number, addrB: IpAddr, portB: number, proto = 6): number {
  addrWords(addrA, wa);
  addrWords(addrB, wb);
  const ea = endpoint(seed, wa[0]!, wa[1]!, wa[2]!, wa[3]!, portA);
  const eb = endpoint(seed, wb[0]!, wb[1]!, wb[2]!, wb[3]!, portB);
  return combine(seed, ea, eb, proto);
}

const word = (p: Uint8Array, o: number): number => (p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!;

/**
 * The flow hash of an IP packet (either version), or -1 when it is too
 * short to carry its addresses.
 */
export function packetFlowHash(seed: number, p: Uint8Array): number {
  if (p.length < 20) return -1;
  const v = p[0]! >>> 4;
  if (v === 4) {
    const ihl = (p[0]! & 0x0f) * 4;
    const proto = p[9]!;
    const fragment = ((p[6]! & 0x3f) | p[7]!) !== 0; // MF set or an offset: ports are in the first fragment only
    const ports = (proto === 6 || proto === 17) && !fragment && ihl >= 20 && p.length >= ihl + 4;
    const ea = endpoint(seed, word(p, 12), 0, 0, 0, ports ? (p[ihl]! << 8) | p[ihl + 1]! : 0);
    const eb = endpoint(seed, word(p, 16), 0, 0, 0, ports ? (p[ihl + 2]! << 8) | p[ihl + 3]! : 0);
    return combine(seed, ea, eb, ports ? proto : 0);
  }
  if (v === 6 && p.length >= 40) {
    const nh = p[6]!;
    const ports = (nh === 6 || nh === 17) && p.length >= 44;
    const ea = endpoint(seed, word(p, 8), word(p, 12), word(p, 16), word(p, 20), ports ? (p[40]! << 8) | p[41]! : 0);
    const eb = endpoint(seed, word(p, 24), word(p, 28), word(p, 32), word(p, 36), ports ? (p[42]! << 8) | p[43]! : 0);
    return combine(seed, ea, eb, ports ? nh : 0);
  }
  return -1;
}

/** The worker (0 … workers−1) a flow hash names: Linux's reciprocal_scale, so every worker gets an equal share of hash values. */
export function workerOf(hash: number, workers: number): number {
  return Math.floor(((hash >>> 0) * workers) / 4294967296);
}

/** The worker a TCP 4-tuple belongs to among `workers`, under `seed` (the pool's; `flowWorker` in src/workers.ts). */
export function tupleWorker(seed: number, workers: number, addrA: IpAddr, portA: number, addrB: IpAddr, portB: number, proto = 6): number {
  return workers <= 1 ? 0 : workerOf(tupleFlowHash(seed, addrA, portA, addrB, portB, proto), workers);
}
