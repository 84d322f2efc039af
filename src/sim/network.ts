/**
 * A whole network in one object: stacks, in-memory hubs between them, one
 * clock and one event queue. `step()` advances (a virtual clock) to the next
 * thing that happens — a packet arriving or a TCP timer — and runs it.
 * Deterministic: the same seeds give the same history, bit for bit.
 *
 * With a real clock (api/driver.ts) the owner calls `runDue(now)` instead and
 * sleeps until `nextDeadline()`.
 */
import { Stack, type NetInterface, type StackConfig } from '../stack/stack.ts';
import type { IpAddr } from '../wire/ipv6.ts';
import { MemoryHub, type MemoryHubOptions } from '../links/memory.ts';
import { EthernetSwitch, type EthernetSwitchOptions } from '../links/switch.ts';
import { addEthernetInterface, type EthernetInterface, type EthernetInterfaceConfig } from '../stack/ethernet.ts';
import { macFromSeed } from '../wire/ethernet.ts';
import { EventQueue } from '../base/event-queue.ts';
import { Rng } from '../base/rng.ts';
import { VirtualClock, type Clock, type Instant } from '../base/time.ts';
import { SynackError } from '../errors.ts';

export interface NetworkOptions {
  /** Seed for ISN secrets and port choices of stacks created here. */
  seed?: number;
  /** The clock; a VirtualClock by default. */
  clock?: Clock;
}

export class Network {
  readonly clock: Clock;
  readonly queue = new EventQueue();
  readonly stacks: Stack[] = [];
  readonly hubs: MemoryHub[] = [];
  readonly switches: EthernetSwitch[] = [];
  private macCount = 0;
  private readonly rng: Rng;

  constructor(opts: NetworkOptions = {}) {
    this.clock = opts.clock ?? new VirtualClock();
    this.rng = new Rng(opts.seed ?? 1);
  }

  get virtual(): VirtualClock | null {
    return this.clock instanceof VirtualClock ? this.clock : null;
  }

  /** A new stack on this network's clock (not yet attached to a hub). */
  addStack(cfg: Partial<Omit<StackConfig, 'clock'>> = {}): Stack {
    const s = new Stack({
      clock: this.clock,
      isnSecret: cfg.isnSecret ?? [this.rng.nextU32(), this.rng.nextU32()],
      portSeed: cfg.portSeed ?? this.rng.nextU32(),
      ...cfg,
    });
    this.stacks.push(s);
    return s;
  }

  addHub(opts: MemoryHubOptions = {}): MemoryHub {
    const hub = new MemoryHub(this.clock, this.queue, { seed: this.rng.nextU32(), ...opts });
    this.hubs.push(hub);
    return hub;
  }

  /** A new in-memory Ethernet switch (links/switch.ts): the Ethernet mode of the network. */
  addSwitch(opts: EthernetSwitchOptions = {}): EthernetSwitch {
    const sw = new EthernetSwitch(this.clock, this.queue, { seed: this.rng.nextU32(), ...opts });
    this.switches.push(sw);
    return sw;
  }

  /**
   * Attaches `stack` to switch `sw` by a new Ethernet interface
   * (stack/ethernet.ts) with addresses `addrs` (default prefix /24 for
   * IPv4, /64 for IPv6) and a MAC address of its own (`opts.mac`, else a
   * locally administered one derived from a counter: deterministic).
   */
  attachEthernet(
    stack: Stack,
    sw: EthernetSwitch,
    addrs: Array<{ addr: IpAddr; prefixLen?: number }>,
    opts: Partial<Omit<EthernetInterfaceConfig, 'link' | 'addrs'>> = {},
  ): EthernetInterface {
    const def = (a: IpAddr): number => (typeof a === 'string' ? 64 : 24);
    return addEthernetInterface(stack, {
      ...opts,
      ...(opts.iid === 'stable' && !opts.iidKey ? { iidKey: [this.rng.nextU32(), this.rng.nextU32()] as [number, number] } : {}),
      mac: opts.mac ?? macFromSeed(`synack-eth-${++this.macCount}`),
      link: sw.attach(),
      addrs: addrs.map((a) => ({ addr: a.addr, prefixLen: a.prefixLen ?? def(a.addr) })),
    });
  }

  /**
   * Attaches `stack` to `hub` with address `addr`/`prefixLen` (an IPv4 u32
   * or an `Ipv6Addr`; default prefix /24 for IPv4, /64 for IPv6), and any
   * `more` addresses on the same interface (a dual-stack host).
   */
  attach(stack: Stack, hub: MemoryHub, addr: IpAddr, prefixLen?: number, more: Array<{ addr: IpAddr; prefixLen?: number }> = []): NetInterface {
    const port = hub.attach(addr);
    const def = (a: IpAddr): number => (typeof a === 'string' ? 64 : 24);
    for (const m of more) port.claim(m.addr);
    return stack.addInterface({ addr, prefixLen: prefixLen ?? def(addr), link: port, more: more.map((m) => ({ addr: m.addr, prefixLen: m.prefixLen ?? def(m.addr) })) });
  }

  /** The earliest time anything is due. */
  nextDeadline(): Instant {
    let t = this.queue.nextAt();
    for (const s of this.stacks) {
      const d = s.nextDeadline();
      if (d < t) t = d;
    }
    return t;
  }

  /** Runs everything due at or before `now` (packets first, then timers, until quiet). Returns work done. */
  runDue(now: Instant = this.clock.now()): number {
    let work = 0;
    for (;;) {
      let progressed = false;
      for (let fn = this.queue.popDue(now); fn; fn = this.queue.popDue(now)) {
        fn();
        work++;
        progressed = true;
      }
      for (const s of this.stacks) {
        if (s.nextDeadline() <= now) {
          s.poll(now);
          progressed = true;
          work++;
        }
      }
      if (!progressed) return work;
    }
  }

  /** Virtual clock only: jump to the next deadline and run it. Returns false when nothing is left. */
  step(): boolean {
    const vc = this.requireVirtual();
    const t = this.nextDeadline();
    if (t === Infinity) return false;
    vc.advanceTo(t);
    this.runDue(vc.now());
    return true;
  }

  /** Steps until `pred()` holds; throws after `maxSteps` (a livelock detector). */
  runUntil(pred: () => boolean, opts: { maxSteps?: number; until?: Instant } = {}): void {
    const max = opts.maxSteps ?? 10_000_000;
    let steps = 0;
    this.runDue();
    while (!pred()) {
      if (opts.until !== undefined && this.nextDeadline() > opts.until) {
        this.requireVirtual().advanceTo(opts.until);
        this.runDue();
        if (pred()) return;
        throw new SynackError('ERR_SYNACK_INVALID_STATE', `condition not reached by t=${opts.until}µs`);
      }
      if (!this.step()) {
        if (pred()) return;
        throw new SynackError('ERR_SYNACK_INVALID_STATE', 'network went idle before the condition held');
      }
      if (++steps > max) throw new SynackError('ERR_SYNACK_LIMIT', `condition not reached within ${max} steps`);
    }
  }

  /** Steps until nothing is scheduled (or `maxSteps`). */
  runUntilIdle(opts: { maxSteps?: number } = {}): void {
    const max = opts.maxSteps ?? 10_000_000;
    let steps = 0;
    while (this.step()) {
      if (++steps > max) throw new SynackError('ERR_SYNACK_LIMIT', `network not idle within ${max} steps`);
    }
  }

  /** Advances the virtual clock by `us`, running everything on the way. */
  runFor(us: number): void {
    const vc = this.requireVirtual();
    const end = vc.now() + us;
    while (this.nextDeadline() <= end) this.step();
    vc.advanceTo(end);
    this.runDue();
  }

  private requireVirtual(): VirtualClock {
    const vc = this.virtual;
    if (!vc) throw new SynackError('ERR_SYNACK_INVALID_STATE', 'step()/runUntil() need a VirtualClock; use runDue(now) with a real clock');
    return vc;
  }
}
