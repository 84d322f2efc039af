/**
 * One simulated history: a world of 2–4 stacks on one or two impaired
 * in-memory hubs, applications that connect, listen, write, read,
 * half-close, close, abort and destroy, and network changes, all under the
 * virtual clock and all from (seed, actions). After every step the
 * invariants below are checked; the run ends with a drain phase (heal the
 * network, close everything, wait out TIME-WAIT) that requires every stack
 * to hold no connection and no timer.
 *
 * Invariants (each failure has a stable `kind`, used by the shrinker):
 *   seq-order         SND.UNA <= SND.NXT <= SND.MAX (sequence arithmetic)
 *   in-flight-bound   SND.MAX - SND.UNA <= send buffer + SYN + FIN
 *   window-bound      0 <= SND.WND <= 2^30, advertised window <= 65535 << shift
 *   buffer-bound      send, receive and out-of-order bytes within the configured limits
 *   timer-not-filed   a connection deadline that is not in the stack's timer heap
 *   timer-overdue     a deadline in the past that nothing fired
 *   stall             unacknowledged data (or a SYN) with neither RTO nor persist timer
 *   timer-table       a timer running where tcp/timers.ts's table says it may not (RTO and
 *                     persist together; anything but the 2×MSL timer in TIME-WAIT)
 *   table             a CLOSED/LISTEN TCB in the demux table, counts that disagree
 *   byte-mismatch     a byte read differs from the sender's generator (order, duplication, corruption)
 *   phantom-bytes     more bytes read than the sender wrote, or from a stream no one sent
 *   stream-length     end of stream before every written byte arrived
 *   stream-incomplete the sender's FIN was acknowledged but the receiver's stream is short
 *   leak              connections or timers left after the drain phase
 *   memory            buffered bytes or packets in flight beyond a bound
 *   livelock          too many steps (or too much work at one instant)
 *   exception         anything thrown by the core (user calls may throw SynackError only)
 */
import { formatIpAddr, ipv6FromWords, IPV6_LOOPBACK, IPV6_MIN_MTU, type IpAddr, type Ipv6Addr } from '../../wire/ipv6.ts';
import { IPV4_LOOPBACK } from '../../stack/loopback.ts';
import { Network } from '../network.ts';
import type { VirtualClock } from '../../base/time.ts';
import type { MemoryHub, Impairments } from '../../links/memory.ts';
import type { Stack, Listener } from '../../stack/stack.ts';
import type { Connection } from '../../tcp/connection.ts';
import type { ConnectionEvent, CloseReason } from '../../tcp/events.ts';
import type { TcpState } from '../../tcp/state.ts';
import { isSynackError } from '../../errors.ts';
import { flagsToString } from '../../wire/tcp.ts';
import { streamBytes, streamSeed, verifyStream } from './stream.ts';
import { checkStack } from './invariants.ts';
import type { Action, History, WorldSpec } from './scenario.ts';
import { worldFromSeed } from './scenario.ts';

export interface Failure {
  kind: string;
  message: string;
  /** Virtual time of the failure, µs. */
  atUs: number;
  /** Network steps run before it. */
  step: number;
}

export interface RunStats {
  steps: number;
  virtualUs: number;
  connects: number;
  established: number;
  bytesVerified: number;
  /** Of bytesVerified: over IPv6, and between two ends in one stack (loopback or an own address). */
  bytesVerifiedV6: number;
  bytesVerifiedLocal: number;
  streamsCompleted: number;
  resets: number;
  packets: number;
  lost: number;
}

export interface RunResult {
  failure: Failure | null;
  stats: RunStats;
}

export interface RunOptions {
  /** Network steps allowed in one history (a livelock detector). */
  maxSteps?: number;
  /** World override (default: from the seed). */
  world?: WorldSpec;
  /** Called with a line per notable event (for --verbose). */
  log?: (line: string) => void;
  /** With `log`: also every segment, state change and drop. */
  traceSegments?: boolean;
}

class SimFailure extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

interface AppConn {
  id: number;
  s: number;
  conn: Connection;
  outSeed: number;
  outKey: string;
  sent: number;
  pendingOut: number;
  closeWanted: boolean;
  closeCalled: boolean;
  aborted: boolean;
  destroyed: boolean;
  inSeed: number;
  inKey: string | null;
  recv: number;
  eof: boolean;
  finAcked: boolean;
  closed: boolean;
  closedReason: CloseReason | null;
  lastState: TcpState;
}

interface StreamRec {
  sender: AppConn;
  receiver: AppConn | null;
}

const SENDABLE = new Set<TcpState>(['ESTABLISHED', 'CLOSE-WAIT', 'SYN-SENT', 'SYN-RECEIVED']);
const CLOSABLE = new Set<TcpState>(['ESTABLISHED', 'CLOSE-WAIT', 'SYN-RECEIVED', 'SYN-SENT']);
const OPEN_FOR_CLOSE = new Set<TcpState>(['ESTABLISHED', 'CLOSE-WAIT', 'SYN-RECEIVED']);
const RST_ON_UNREAD = new Set<TcpState>(['SYN-RECEIVED', 'ESTABLISHED', 'CLOSE-WAIT', 'FIN-WAIT-1', 'FIN-WAIT-2']);
/** Work allowed at one instant before it counts as a livelock (an ACK storm at zero delay). */
const MAX_WORK_PER_INSTANT = 200_000;
const MAX_CONNS = 20_000;
const MAX_IN_FLIGHT_PACKETS = 500_000;

export function addrOf(hub: number, stack: number): number {
  return ((10 << 24) | (hub << 8) | (stack + 1)) >>> 0;
}

/** The IPv6 address of stack `stack` on hub `hub`: fd00:0:0:<hub>::<stack+1>/64 (every stack is dual-stack on hubs whose MTU carries IPv6). */
export function addr6Of(hub: number, stack: number): Ipv6Addr {
  return ipv6FromWords([0xfd00, 0, 0, hub, 0, 0, 0, stack + 1]);
}

export class World {
  readonly spec: WorldSpec;
  readonly net: Network;
  readonly clock: VirtualClock;
  readonly stacks: Stack[] = [];
  readonly hubs: MemoryHub[] = [];
  readonly stats: RunStats = { steps: 0, virtualUs: 0, connects: 0, established: 0, bytesVerified: 0, bytesVerifiedV6: 0, bytesVerifiedLocal: 0, streamsCompleted: 0, resets: 0, packets: 0, lost: 0 };
  private readonly apps: AppConn[] = [];
  private readonly byConn = new Map<Connection, AppConn>();
  private readonly streams = new Map<string, StreamRec>();
  private readonly listeners: Array<Map<number, Listener>> = [];
  private readonly baseImpair: Array<Partial<Impairments>> = [];
  private nextId = 0;
  private draining = false;
  private readonly maxSteps: number;
  private readonly log: ((line: string) => void) | null;

  constructor(
    readonly seed: number,
    opts: RunOptions = {},
  ) {
    this.spec = opts.world ?? worldFromSeed(seed);
    this.maxSteps = opts.maxSteps ?? 3_000_000;
    this.log = opts.log ?? null;
    this.net = new Network({ seed });
    this.clock = this.net.virtual!;
    for (const h of this.spec.hubs) {
      // Checksums always on: a flipped bit must be caught, never delivered.
      this.hubs.push(this.net.addHub({ mtu: h.mtu, impair: h.impair, checksumOffload: false }));
      this.baseImpair.push({ ...h.impair });
    }
    this.spec.stacks.forEach((ss, i) => {
      const st = this.net.addStack({ name: `s${i}`, tcp: ss.tcp });
      // Dual stack (issue 12) where the hub's MTU carries IPv6 (RFC 8200 §5: at least 1280).
      for (const h of ss.hubs) this.net.attach(st, this.hubs[h]!, addrOf(h, i), undefined, this.spec.hubs[h]!.mtu >= IPV6_MIN_MTU ? [{ addr: addr6Of(h, i) }] : []);
      this.stacks.push(st);
      this.listeners.push(new Map());
      const log = this.log;
      if (log && opts.traceSegments) {
        st.addHook((ev) => {
          if (ev.type === 'segment') {
            const t = ev.tcp;
            log(`${ev.time} ${st.name} ${ev.dir === 'out' ? '>' : '<'} ${t.srcPort}->${t.dstPort} ${flagsToString(t.flags)} seq=${t.seq} ack=${t.ack} win=${t.window} len=${t.payload.length}${ev.conn ? ` [${ev.conn.state}]` : ''}`);
          } else if (ev.type === 'conn' && ev.event.type === 'state') {
            log(`${ev.time} ${st.name} ${ev.conn.localPort}->${ev.conn.remotePort} ${ev.event.from} → ${ev.event.to} (${ev.event.cause})`);
          } else if (ev.type === 'drop') {
            log(`${ev.time} ${st.name} drop ${ev.reason}`);
          }
        });
      }
    });
  }

  private now(): number {
    return this.clock.now();
  }

  private fail(kind: string, message: string): never {
    throw new SimFailure(kind, message);
  }

  // ===========================================================================
  // Running
  // ===========================================================================

  run(actions: readonly Action[]): RunResult {
    try {
      for (const a of actions) {
        this.runTo(a.at);
        this.apply(a);
        this.afterStep();
      }
      this.runTo(this.spec.durationUs);
      this.drain();
      return { failure: null, stats: this.finishStats() };
    } catch (e) {
      const f: Failure =
        e instanceof SimFailure
          ? { kind: e.kind, message: e.message, atUs: this.now(), step: this.stats.steps }
          : { kind: 'exception', message: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e), atUs: this.now(), step: this.stats.steps };
      return { failure: f, stats: this.finishStats() };
    }
  }

  private finishStats(): RunStats {
    this.stats.virtualUs = this.now();
    let packets = 0;
    let lost = 0;
    for (const h of this.hubs) {
      packets += h.stats.sent;
      lost += h.stats.lost + h.stats.queueDrops;
    }
    this.stats.packets = packets;
    this.stats.lost = lost;
    for (const s of this.stacks) this.stats.resets += s.counters.resetsSent;
    return this.stats;
  }

  /** Steps the network up to virtual time `t`, checking after every step. */
  runTo(t: number): void {
    while (this.net.nextDeadline() <= t) {
      this.stepOnce();
      this.afterStep();
    }
    this.clock.advanceTo(t);
  }

  /** Network.step with a bound on the work done at one instant. */
  private stepOnce(): void {
    const t = this.net.nextDeadline();
    this.clock.advanceTo(t);
    const now = this.now();
    let work = 0;
    for (;;) {
      let progressed = false;
      for (let fn = this.net.queue.popDue(now); fn; fn = this.net.queue.popDue(now)) {
        fn();
        progressed = true;
        if (++work > MAX_WORK_PER_INSTANT) this.fail('livelock', `more than ${MAX_WORK_PER_INSTANT} events at t=${now}µs`);
      }
      for (const s of this.stacks) {
        if (s.nextDeadline() <= now) {
          s.poll(now);
          progressed = true;
          if (++work > MAX_WORK_PER_INSTANT) this.fail('livelock', `more than ${MAX_WORK_PER_INSTANT} timer polls at t=${now}µs`);
        }
      }
      if (!progressed) return;
    }
  }

  private afterStep(): void {
    if (++this.stats.steps > this.maxSteps) this.fail('livelock', `more than ${this.maxSteps} steps`);
    this.processApps();
    this.check();
  }

  // ===========================================================================
  // Actions
  // ===========================================================================

  private live(s: number): AppConn[] {
    return this.apps.filter((a) => a.s === s && !a.destroyed && !a.aborted && !a.closed);
  }

  private pickApp(s: number, c: number): AppConn | null {
    const l = this.live(s);
    return l.length ? l[c % l.length]! : null;
  }

  /** A user call: SynackError (a refused call) is fine, anything else is a failure. */
  private user<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (isSynackError(e)) {
        this.log?.(`  user call refused: ${e.code} ${e.message}`);
        return undefined;
      }
      throw e;
    }
  }

  apply(a: Action): void {
    this.log?.(`${a.at} ${JSON.stringify(a)}`);
    switch (a.op) {
      case 'listen': {
        const st = this.stacks[a.s];
        if (!st || this.listeners[a.s]!.has(a.port)) return;
        const s = a.s;
        const l = this.user(() => st.listen(a.port, { backlog: this.spec.stacks[s]!.backlog, onConnection: (c) => this.adopt(s, c) }));
        if (l) this.listeners[s]!.set(a.port, l);
        return;
      }
      case 'unlisten': {
        const l = this.listeners[a.s]?.get(a.port);
        if (!l) return;
        this.listeners[a.s]!.delete(a.port);
        this.user(() => l.close());
        return;
      }
      case 'connect': {
        const st = this.stacks[a.s];
        if (!st) return;
        let dst: IpAddr;
        const fam = a.fam ?? 4;
        if (fam === 'lo4' || fam === 'lo6' || fam === 'self') {
          // To itself: through the loopback interface (127.0.0.1, ::1) or to
          // one of its own hub addresses (which never leaves the stack either).
          const own = this.spec.stacks[a.s]!.hubs[0]!;
          dst = fam === 'lo4' ? IPV4_LOOPBACK : fam === 'lo6' ? IPV6_LOOPBACK : this.spec.hubs[own]!.mtu >= IPV6_MIN_MTU && a.to % 2 ? addr6Of(own, a.s) : addrOf(own, a.s);
        } else {
          const peer = this.spec.stacks[a.to];
          if (!peer || a.to === a.s) return;
          const hub = this.spec.stacks[a.s]!.hubs.find((h) => peer.hubs.includes(h));
          if (hub === undefined) return;
          dst = fam === 6 && this.spec.hubs[hub]!.mtu >= IPV6_MIN_MTU ? addr6Of(hub, a.to) : addrOf(hub, a.to);
        }
        const c = this.user(() => st.connect(dst, a.port));
        if (c) {
          this.stats.connects++;
          this.adopt(a.s, c);
        }
        return;
      }
      case 'write': {
        const app = this.pickApp(a.s, a.c);
        if (!app || app.closeWanted) return;
        app.pendingOut += a.n;
        this.flush(app);
        return;
      }
      case 'read': {
        const app = this.pickApp(a.s, a.c);
        if (app) this.readSome(app, a.n);
        return;
      }
      case 'close': {
        const app = this.pickApp(a.s, a.c);
        if (!app) return;
        app.closeWanted = true;
        this.flush(app);
        return;
      }
      case 'abort': {
        const app = this.pickApp(a.s, a.c);
        if (!app) return;
        app.aborted = true;
        this.user(() => this.stacks[a.s]!.abort(app.conn));
        return;
      }
      case 'destroy': {
        const app = this.pickApp(a.s, a.c);
        if (app) this.destroy(app);
        return;
      }
      case 'impair': {
        const h = this.hubs[a.h];
        if (!h) return;
        this.baseImpair[a.h] = { ...this.baseImpair[a.h], ...a.im };
        h.setImpairments(a.im);
        return;
      }
      case 'partition':
        this.hubs[a.h]?.setImpairments({ loss: 1 });
        return;
      case 'heal': {
        const h = this.hubs[a.h];
        if (h) h.setImpairments({ loss: this.baseImpair[a.h]!.loss ?? 0 });
        return;
      }
    }
  }

  /** The application takes a connection (from connect() or a listener). */
  private adopt(s: number, conn: Connection): void {
    if (this.byConn.has(conn)) return;
    const stack = this.stacks[s]!;
    const app: AppConn = {
      id: this.nextId++,
      s,
      conn,
      outSeed: streamSeed(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort, conn.iss),
      outKey: streamKey(conn.localAddr, conn.localPort, conn.remoteAddr, conn.remotePort, conn.iss),
      sent: 0,
      pendingOut: 0,
      closeWanted: false,
      closeCalled: false,
      aborted: false,
      destroyed: false,
      inSeed: 0,
      inKey: null,
      recv: 0,
      eof: false,
      finAcked: false,
      closed: false,
      closedReason: null,
      lastState: conn.state,
    };
    if (this.streams.has(app.outKey)) this.fail('table', `two connections send stream ${app.outKey}`);
    this.streams.set(app.outKey, { sender: app, receiver: null });
    this.apps.push(app);
    this.byConn.set(conn, app);
    if (conn.state === 'ESTABLISHED' || conn.state === 'CLOSE-WAIT' || conn.state === 'FIN-WAIT-1') this.stats.established++;
    conn.user = { onEvent: (_c: Connection, ev: ConnectionEvent) => this.onEvent(app, ev) };
    void stack;
  }

  private onEvent(app: AppConn, ev: ConnectionEvent): void {
    if (ev.type === 'state') {
      if (ev.to === 'FIN-WAIT-2' || ev.to === 'TIME-WAIT') app.finAcked = true;
      if (ev.to === 'ESTABLISHED' && ev.from === 'SYN-SENT') this.stats.established++;
      app.lastState = ev.from;
    } else if (ev.type === 'closed') {
      app.closed = true;
      app.closedReason = ev.reason;
      if (ev.reason === null && app.lastState === 'LAST-ACK') app.finAcked = true;
    }
  }

  private flush(app: AppConn): void {
    const st = this.stacks[app.s]!;
    const c = app.conn;
    while (app.pendingOut > 0 && SENDABLE.has(c.state) && !c.finQueued) {
      const room = c.sendRoom();
      if (room <= 0) break;
      const k = Math.min(app.pendingOut, room, 65_536);
      const data = streamBytes(app.outSeed, app.sent, k);
      const n = this.user(() => st.send(c, data)) ?? 0;
      app.sent += n;
      app.pendingOut -= n;
      if (n < k) break;
    }
    if (app.closeWanted && !app.closeCalled && (app.pendingOut === 0 || !SENDABLE.has(c.state))) {
      app.closeCalled = true;
      app.pendingOut = 0;
      if (CLOSABLE.has(c.state)) this.user(() => st.close(c));
    }
  }

  private destroy(app: AppConn): void {
    const st = this.stacks[app.s]!;
    const c = app.conn;
    app.destroyed = true;
    app.pendingOut = 0;
    const s = c.state;
    if (s === 'SYN-SENT') this.user(() => st.abort(c));
    else if (s !== 'CLOSED' && c.readable() > 0 && RST_ON_UNREAD.has(s)) this.user(() => st.abort(c));
    else if (OPEN_FOR_CLOSE.has(s) && !c.finQueued) {
      app.closeCalled = true;
      this.user(() => st.close(c));
    }
    this.user(() => st.release(c));
    // Keep following its states (for the end-to-end checks); the stack no longer reports to anyone else.
    c.user = { onEvent: (_c: Connection, ev: ConnectionEvent) => this.onEvent(app, ev) };
  }

  /** Reads up to `max` bytes and verifies them against the sender's generator. */
  private readSome(app: AppConn, max: number): void {
    const c = app.conn;
    if (c.readable() === 0) {
      this.checkEof(app);
      return;
    }
    if (app.inKey === null) {
      app.inKey = streamKey(c.remoteAddr, c.remotePort, c.localAddr, c.localPort, c.irs);
      app.inSeed = streamSeed(c.remoteAddr, c.remotePort, c.localAddr, c.localPort, c.irs);
      const rec = this.streams.get(app.inKey);
      if (!rec) this.fail('phantom-bytes', `app #${app.id} (s${app.s}) reads ${c.readable()} bytes of stream ${app.inKey} that no application sent`);
      if (rec.receiver && rec.receiver !== app) this.fail('table', `stream ${app.inKey} read by two connections`);
      rec.receiver = app;
    }
    const rec = this.streams.get(app.inKey)!;
    const chunks = this.stacks[app.s]!.read(c, max);
    for (const ch of chunks) {
      if (app.recv + ch.length > rec.sender.sent) {
        this.fail('phantom-bytes', `app #${app.id} (s${app.s}) read bytes [${app.recv}, ${app.recv + ch.length}) of stream ${app.inKey} but the sender wrote only ${rec.sender.sent}`);
      }
      const bad = verifyStream(app.inSeed, app.recv, ch);
      if (bad >= 0) this.fail('byte-mismatch', `app #${app.id} (s${app.s}) stream ${app.inKey}: byte ${app.recv + bad} differs from what the sender wrote (chunk of ${ch.length} at ${app.recv})`);
      app.recv += ch.length;
      this.stats.bytesVerified += ch.length;
      if (typeof c.remoteAddr === 'string') this.stats.bytesVerifiedV6 += ch.length;
      if (rec.sender.s === app.s) this.stats.bytesVerifiedLocal += ch.length;
    }
    this.checkEof(app);
  }

  private checkEof(app: AppConn): void {
    const c = app.conn;
    if (app.eof || !c.finReceived || c.readable() > 0) return;
    app.eof = true;
    const key = streamKey(c.remoteAddr, c.remotePort, c.localAddr, c.localPort, c.irs);
    const rec = this.streams.get(key);
    if (!rec) {
      if (app.recv > 0) this.fail('phantom-bytes', `app #${app.id}: end of stream ${key} that no application sent`);
      // The sending TCB was never handed to an application (e.g. its listener closed): nothing to compare.
      return;
    }
    rec.receiver ??= app;
    const snd = rec.sender;
    if (!snd.closeCalled && !snd.destroyed) this.fail('stream-length', `app #${app.id} (s${app.s}) saw the end of stream ${key} but its sender (app #${snd.id}) never closed`);
    if (app.recv !== snd.sent) this.fail('stream-length', `app #${app.id} (s${app.s}) stream ${key} ended after ${app.recv} bytes; the sender wrote ${snd.sent}`);
    this.stats.streamsCompleted++;
  }

  private processApps(): void {
    for (const app of this.apps) {
      if (app.destroyed) continue;
      if (!app.aborted) {
        if (!app.closed) this.flush(app);
        if (this.draining || this.spec.stacks[app.s]!.reader === 'eager') this.readSome(app, Infinity);
      }
    }
  }

  // ===========================================================================
  // Drain: heal, close everything, wait out TIME-WAIT, require nothing left
  // ===========================================================================

  private drain(): void {
    this.draining = true;
    this.log?.(`${this.now()} drain`);
    this.hubs.forEach((h, i) => {
      h.setImpairments({ loss: 0, corrupt: 0, duplicate: 0, reorder: 0, bandwidthBps: 0, queueLimit: 0 });
      this.baseImpair[i] = { ...h.impair };
    });
    for (const m of this.listeners) {
      for (const l of m.values()) this.user(() => l.close());
      m.clear();
    }
    for (const app of this.apps) {
      if (!app.destroyed && !app.aborted && !app.closed) {
        app.closeWanted = true;
        this.flush(app);
      }
    }
    this.processApps();
    let maxRto = 0;
    let maxMsl = 0;
    for (const s of this.stacks) {
      maxRto = Math.max(maxRto, s.tcpConfig.maxRtoUs);
      maxMsl = Math.max(maxMsl, s.tcpConfig.mslUs);
    }
    const t0 = this.now();
    // Phase 1: orderly closes complete (applications read everything).
    const t1 = t0 + 20 * maxRto + 4 * maxMsl + 5_000_000;
    while (this.now() < t1 && !this.apps.every((a) => a.closed || a.destroyed) && this.net.nextDeadline() <= t1) {
      this.stepOnce();
      this.afterStep();
    }
    // Phase 2: applications let go of whatever is left; orphans finish by themselves.
    for (const app of this.apps) if (!app.destroyed && !app.closed) this.destroy(app);
    const t2 = this.now() + 40 * maxRto + 4 * maxMsl + 60_000_000;
    while (this.net.nextDeadline() <= t2 && !this.quiet()) {
      this.stepOnce();
      this.afterStep();
    }
    if (!this.quiet()) {
      const lines: string[] = [];
      for (const s of this.stacks) {
        for (const c of s.connections()) {
          const st = c.status();
          lines.push(`${s.name} ${c.state} ${st.localPort}->${st.remotePort} una=${st.sndUna} nxt=${st.sndNxt} max=${c.sndMax >>> 0} wnd=${st.sndWnd} rcvNxt=${st.rcvNxt} rcvWnd=${st.rcvWnd} sendQ=${st.sendQueued} recvQ=${st.recvQueued} deadline=${c.nextDeadline()} orphan=${c.orphaned}`);
        }
        if (s.armedTimers > 0 && s.connectionCount === 0) lines.push(`${s.name}: ${s.armedTimers} timers armed with no connection`);
      }
      this.fail('leak', `after the drain phase (t=${this.now()}µs, healed at ${t0}µs) still:\n  ${lines.join('\n  ')}`);
    }
    this.processApps();
    // Every stream whose FIN was acknowledged arrived whole, unless the receiving application gave up.
    for (const [key, rec] of this.streams) {
      const snd = rec.sender;
      const rcv = rec.receiver;
      if (!snd.finAcked || !rcv || rcv.aborted || rcv.destroyed) continue;
      if (!rcv.eof || rcv.recv !== snd.sent) {
        this.fail('stream-incomplete', `stream ${key}: the sender's FIN was acknowledged, but the receiver (app #${rcv.id}) read ${rcv.recv} of ${snd.sent} bytes${rcv.eof ? '' : ' and no end of stream'} (receiver closed: ${String(rcv.closedReason)})`);
      }
    }
  }

  private quiet(): boolean {
    return this.stacks.every((s) => s.connectionCount === 0 && s.armedTimers === 0);
  }

  // ===========================================================================
  // Invariants
  // ===========================================================================

  check(): void {
    if (this.net.queue.size > MAX_IN_FLIGHT_PACKETS) this.fail('memory', `${this.net.queue.size} packets in flight`);
    const now = this.now();
    for (const s of this.stacks) {
      const v = checkStack(s, now, MAX_CONNS);
      if (v) this.fail(v.kind, v.message);
    }
  }
}

export function streamKey(src: IpAddr, sport: number, dst: IpAddr, dport: number, iss: number): string {
  return `${formatIpAddr(src)}:${sport}>${formatIpAddr(dst)}:${dport}#${iss >>> 0}`;
}

/** Runs one history. */
export function runHistory(h: History, opts: RunOptions = {}): RunResult {
  return new World(h.seed, opts).run(h.actions);
}
