/**
 * What one simulated history is made of: a world (stacks, hubs, TCP
 * settings, application behaviour) drawn from a seed, and a list of timed
 * actions — application calls and network changes — also drawn from the
 * seed, but kept as an explicit list so that a failure can be shrunk to the
 * few actions that matter and replayed exactly from (seed, actions).
 */
import type { Impairments } from '../../links/memory.ts';
import type { TcpConfig } from '../../tcp/config.ts';
import { Rng } from '../../base/rng.ts';

/** Ports the applications listen on and connect to (a connect to one nobody listens on is refused). */
export const PORTS = [80, 81, 82] as const;

export interface HubSpec {
  mtu: number;
  impair: Partial<Impairments>;
}

export interface StackSpec {
  tcp: Partial<TcpConfig>;
  /** Hubs this stack is attached to (indices); address 10.0.<hub>.<stack+1>/24 on each. */
  hubs: number[];
  /** 'eager': the application reads whenever bytes are readable; 'lazy': only on read actions. */
  reader: 'eager' | 'lazy';
  /** Listen backlog. */
  backlog: number;
}

export interface WorldSpec {
  stacks: StackSpec[];
  hubs: HubSpec[];
  /** Length of the active phase in virtual µs (the drain phase follows). */
  durationUs: number;
}

/**
 * A scheduled action. `c` picks one of the stack's live application
 * connections (modulo their number), so an action stays meaningful when
 * others are removed by shrinking.
 */
export type Action =
  | { at: number; op: 'listen'; s: number; port: number }
  | { at: number; op: 'unlisten'; s: number; port: number }
  /**
   * `fam` (issue 12): the address family of the connection — 4 (the
   * default, and all a history saved before IPv6 knows), 6 (the peer's
   * IPv6 address; IPv4 on a hub whose MTU is below IPv6's 1280), 'lo4' /
   * 'lo6' (127.0.0.1 / ::1 of the stack itself: the loopback interface,
   * `to` ignored) or 'self' (one of the stack's own hub addresses, which
   * never leaves the stack either).
   */
  | { at: number; op: 'connect'; s: number; to: number; port: number; fam?: Family }
  | { at: number; op: 'write'; s: number; c: number; n: number }
  | { at: number; op: 'read'; s: number; c: number; n: number }
  | { at: number; op: 'close'; s: number; c: number }
  | { at: number; op: 'abort'; s: number; c: number }
  | { at: number; op: 'destroy'; s: number; c: number }
  | { at: number; op: 'impair'; h: number; im: Partial<Impairments> }
  | { at: number; op: 'partition'; h: number }
  | { at: number; op: 'heal'; h: number };

/** The address family of a connect action (see Action). */
export type Family = 4 | 6 | 'lo4' | 'lo6' | 'self';

export interface History {
  seed: number;
  actions: Action[];
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(0, xs.length - 1)]!;
}

/** A size from 1 to `max`, log-uniformly distributed (many small, some large). */
function logSize(rng: Rng, max: number): number {
  return Math.max(1, Math.floor(Math.exp(rng.next() * Math.log(max))));
}

export function randomImpairments(rng: Rng): Partial<Impairments> {
  const im: Partial<Impairments> = {};
  if (rng.chance(0.8)) im.delayUs = pick(rng, [0, 100, 1000, 5000, 20_000, rng.int(0, 60_000)]);
  if (rng.chance(0.5)) im.jitterUs = pick(rng, [0, 500, 5000, rng.int(0, 30_000)]);
  if (rng.chance(0.6)) im.loss = pick(rng, [0, 0.01, 0.05, 0.2, rng.next() * 0.3]);
  if (rng.chance(0.3)) im.duplicate = pick(rng, [0, 0.02, 0.1]);
  if (rng.chance(0.4)) {
    im.reorder = pick(rng, [0, 0.05, 0.2]);
    im.reorderDelayUs = rng.int(0, 50_000);
  }
  if (rng.chance(0.3)) im.corrupt = pick(rng, [0, 0.01, 0.05]);
  if (rng.chance(0.4)) {
    im.bandwidthBps = pick(rng, [0, 200_000, 2_000_000, 20_000_000, rng.int(64_000, 100_000_000)]);
    im.queueLimit = pick(rng, [0, 4, 20, 200]);
  }
  return im;
}

function randomTcp(rng: Rng): Partial<TcpConfig> {
  const buf = (): number => pick(rng, [1024, 4096, 16_384, 65_535, 262_144, rng.int(600, 300_000)]);
  const t: Partial<TcpConfig> = {
    recvBufferBytes: buf(),
    sendBufferBytes: buf(),
    maxOutOfOrderBytes: pick(rng, [0, 4096, 65_536, 262_144]),
    maxOutOfOrderRanges: pick(rng, [1, 4, 64]),
    windowScaling: rng.chance(0.75),
    timestamps: rng.chance(0.75),
    sack: rng.chance(0.75),
    initialRtoUs: pick(rng, [200_000, 1_000_000]),
    minRtoUs: pick(rng, [10_000, 200_000]),
    maxRtoUs: pick(rng, [1_000_000, 4_000_000, 10_000_000]),
    mslUs: pick(rng, [100_000, 500_000, 2_000_000]),
    delayedAckUs: pick(rng, [0, 40_000, 200_000]),
    noDelay: rng.chance(0.3),
    congestionControl: rng.chance(0.6) ? 'cubic' : 'newreno',
    receiverSws: rng.chance(0.7) ? 'rfc9293' : 'bsd',
    finWithAck: rng.chance(0.2),
    rfc1337: rng.chance(0.3),
    timeWaitReuse: rng.chance(0.8),
    defaultMss: pick(rng, [536, 1460]),
    synRetries: pick(rng, [3, 6]),
    dataRetries: pick(rng, [6, 15]),
    initialCwndSegments: pick(rng, [1, 2, 4, 10]),
    optionLayout: rng.chance(0.7) ? 'linux' : 'freebsd',
    roundBuffersToMss: rng.chance(0.1),
    windowScaleShift: rng.chance(0.85) ? -1 : rng.int(0, 14),
  };
  if (t.minRtoUs! > t.maxRtoUs!) t.minRtoUs = t.maxRtoUs;
  return t;
}

/** The world of history `seed`. */
export function worldFromSeed(seed: number): WorldSpec {
  const rng = new Rng(seed ^ 0x51ed2701);
  const nStacks = rng.int(2, 4);
  const nHubs = rng.chance(0.3) ? 2 : 1;
  const hubs: HubSpec[] = [];
  for (let h = 0; h < nHubs; h++) hubs.push({ mtu: pick(rng, [1500, 1500, 576, rng.int(300, 9000)]), impair: randomImpairments(rng) });
  const stacks: StackSpec[] = [];
  for (let s = 0; s < nStacks; s++) {
    let on = [0];
    if (nHubs === 2 && s >= 2) on = rng.chance(0.5) ? [1] : [0, 1];
    if (nHubs === 2 && s === 1 && rng.chance(0.5)) on = [0, 1];
    stacks.push({ tcp: randomTcp(rng), hubs: on, reader: rng.chance(0.7) ? 'eager' : 'lazy', backlog: pick(rng, [1, 4, 64]) });
  }
  return { stacks, hubs, durationUs: pick(rng, [2_000_000, 10_000_000, 30_000_000]) };
}

/** The random actions of history `seed`: `count` of them over the world's duration. */
export function actionsFromSeed(seed: number, world: WorldSpec, count: number): Action[] {
  const rng = new Rng(seed ^ 0x2545f491);
  // The families come from an RNG of their own, so that the rest of a
  // history is what it was before IPv6 joined the mix (saved seeds keep
  // their worlds, actions and timing).
  const frng = new Rng(seed ^ 0x6a09e667);
  const n = world.stacks.length;
  const out: Action[] = [];
  // Every history starts with at least one listener.
  out.push({ at: 0, op: 'listen', s: rng.int(0, n - 1), port: PORTS[0] });
  for (let i = 1; i < count; i++) {
    const at = rng.int(0, world.durationUs);
    const s = rng.int(0, n - 1);
    const c = rng.int(0, 1023);
    const r = rng.next();
    let a: Action;
    if (r < 0.08) a = { at, op: 'listen', s, port: pick(rng, PORTS) };
    else if (r < 0.1) a = { at, op: 'unlisten', s, port: pick(rng, PORTS) };
    else if (r < 0.25) {
      let to = rng.int(0, n - 2);
      if (to >= s) to++;
      a = { at, op: 'connect', s, to, port: rng.chance(0.8) ? PORTS[0] : pick(rng, PORTS) };
      const f = frng.next();
      a.fam = f < 0.45 ? 4 : f < 0.85 ? 6 : f < 0.92 ? 'lo4' : f < 0.97 ? 'lo6' : 'self';
    } else if (r < 0.55) a = { at, op: 'write', s, c, n: logSize(rng, 300_000) };
    else if (r < 0.63) a = { at, op: 'read', s, c, n: logSize(rng, 300_000) };
    else if (r < 0.71) a = { at, op: 'close', s, c };
    else if (r < 0.74) a = { at, op: 'abort', s, c };
    else if (r < 0.77) a = { at, op: 'destroy', s, c };
    else if (r < 0.9) a = { at, op: 'impair', h: rng.int(0, world.hubs.length - 1), im: randomImpairments(rng) };
    else if (r < 0.95) a = { at, op: 'partition', h: rng.int(0, world.hubs.length - 1) };
    else a = { at, op: 'heal', h: rng.int(0, world.hubs.length - 1) };
    out.push(a);
  }
  out.sort((x, y) => x.at - y.at);
  return out;
}
