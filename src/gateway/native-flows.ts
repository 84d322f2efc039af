/**
 * Forwarded TCP connections over the addon's HostSockets
 * (native/src/hostsock.cc): the guest's TCB in the stack on one side, a
 * plain non-blocking host socket on the other, and this file between them —
 * no node:net Socket and no synack Socket (two Duplex streams) per
 * connection. All host sockets share one epoll set, one handle on Node's
 * loop and one JavaScript call per wake-up; the TCB's own buffers are the
 * relay's buffers, so backpressure is the TCP window itself:
 *
 * - guest → host: bytes are read out of the TCB only as fast as the host
 *   socket takes them (what it does not take waits here, at most one read's
 *   worth), so a slow host peer leaves the guest's data in the receive
 *   buffer and RFC 9293 §3.8.6's window closes on the guest;
 * - host → guest: what the host socket reads goes into the TCB's send
 *   buffer; when it is full, reading from the host socket pauses (the host
 *   kernel's window closes on the host peer) until an acknowledgment frees
 *   room (the 'writable' event). On a TAP downstream, reads of 128 KiB or
 *   more arrive in recycled 512 KiB buffers (no new ArrayBuffer, no copy):
 *   each is lent to the TCB and handed back to the addon's pool once the
 *   guest acknowledged its last byte (settleLent), so a bulk download no
 *   longer allocates a buffer per read — V8 starts a full collection per
 *   64 MB of new ArrayBuffer memory.
 *
 * Half-close both ways (RFC 9293 §3.6: a FIN is "no more data from
 * sender" for one direction only): the guest's FIN becomes shutdown(SHUT_WR)
 * once its bytes are written; the host's EOF becomes CLOSE on the TCB (a FIN
 * to the guest) once its bytes are queued. A reset either way resets the
 * other (SO_LINGER 0 toward the host).
 */

import { constants as osConstants } from 'node:os';
import type { Stack } from '../stack/stack.ts';
import type { Connection } from '../tcp/connection.ts';
import type { ConnectionEvent } from '../tcp/events.ts';
import type { TcpConfig } from '../tcp/config.ts';
import type { ForwardAcceptOptions, TcpForwardRequest, UnreachableKind } from '../stack/forward.ts';
import { formatIpAddr, type IpAddr } from '../wire/ipv6.ts';
import { loadTunAddon } from '../links/tun.ts';
import { unreachableFor, type GatewayStats } from './options.ts';

/** A forwarded connection as the rest of the gateway sees it (stats, limits, the monitor), whichever host socket it uses. */
export interface TcpFlow {
  readonly guestText: string;
  readonly targetText: string;
  conn: Connection | null;
  bytesUp: number;
  bytesDown: number;
  /** Bytes the flow holds in the gateway: the TCB's buffers and what waits between it and the host socket. */
  buffered(): number;
  /** The host socket's ends, "addr:port" (null before it connected). */
  hostEnds(): { local: string; remote: string } | null;
  /** The TCB's ends: the address the guest connected to and the guest's own. */
  guestEnds(): { peer: string; guest: string } | null;
  /** Resets both sides (the gateway is closing). */
  reset(): void;
}

/** "addr:port", with brackets around an IPv6 address. */
export const endText = (a: string | undefined, p: number | undefined): string => (a === undefined ? '?' : a.includes(':') ? `[${a}]:${p ?? '?'}` : `${a}:${p ?? '?'}`);

/** The TCB's ends of a connection of the gateway's stack, as guestEnds() reports them. */
export function connEnds(c: Connection): { peer: string; guest: string } {
  return { peer: endText(formatIpAddr(c.localAddr), c.localPort), guest: endText(formatIpAddr(c.remoteAddr), c.remotePort) };
}

/** The addon's HostSockets (native/index.d.ts). */
interface HostSocketsAddon {
  readonly count: number;
  start(onEvents: (events: Array<number | string | Uint8Array>) => void): void;
  connect(id: number, host: string, port: number): number;
  write(id: number, chunks: Uint8Array[], start?: number): number;
  setReading(id: number, on: boolean): void;
  shutdown(id: number): number;
  closeSocket(id: number, reset: boolean): void;
  addresses(id: number): [string, number, string, number] | null;
  close(): void;
  /** Absent on builds before recycled reads. */
  setRecycling?(on: boolean): void;
  recycle?(buffers: ArrayBuffer[]): number;
}

const K_CONNECTED = 1;
const K_DATA = 2;
const K_EOF = 3;
const K_WRITABLE = 4;
const K_ERROR = 5;
/** Data received into a recycled buffer (a view of a pooled ArrayBuffer, handed back once acknowledged). */
const K_DATA_RECYCLED = 6;

/** The empty queue every idle flow shares (never written to). */
const NONE: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];
/** The empty list of lent buffers every flow without any shares. */
const NONE_LENT: Array<ArrayBuffer | number> = Object.freeze([]) as unknown as Array<ArrayBuffer | number>;

/** NativeFlow's boolean fields, bits of NativeFlow.bits. */
const B_CONNECTED = 1;
const B_HOST_SHUT = 2;
const B_HOST_EOF = 4;
const B_FIN_SENT = 8;
const B_HOST_READING = 16;
const B_OPEN = 32;
const B_DIRTY = 64;
const B_SPLICED = 128;
const B_RELEASED = 256;

/** Bytes read out of a TCB per write toward the host (what may wait here when the host socket is full). */
const UP_READ = 256 * 1024;

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));
const errnoName = (negErrno: number): string => ERRNO_NAMES.get(-negErrno) ?? 'EUNKNOWN';

/** Whether this machine's addon has HostSockets (Linux, built): the gateway's default then. */
export function nativeHostSocketsAvailable(): boolean {
  try {
    return typeof (loadTunAddon() as unknown as { HostSockets?: unknown }).HostSockets === 'function';
  } catch {
    return false;
  }
}

export interface NativeFlowsContext {
  stack: Stack;
  /** Work was done on the stack outside the driver's turn: re-arm its timer (Driver.settle). */
  settle(): void;
  st: Omit<GatewayStats, 'icmp'>;
  log(msg: string): void;
  /** The accepted connection's TcpConfig overrides (keepalive), or undefined for the stack's own. */
  acceptTcp: Partial<TcpConfig> | undefined;
  connectTimeoutMs: number;
  /** A host connect ended (connected, failed or cancelled): the connect gate's next turn. */
  connectDone(): void;
  /** Whether the gateway is closing. */
  closing(): boolean;
  /**
   * Host reads may arrive in recycled buffers, handed back to the addon once
   * the guest acknowledged their bytes. Only where every frame is written
   * before the turn ends and never kept (the TAP link; pcap copies): a
   * link that queued a retransmission holding a view could send bytes
   * rewritten since.
   */
  recycleReads?: boolean;
  /** Guest → host bytes the host socket took: the link may reuse their packet's buffer (TunLink.recycle; true when it did). */
  recycleIn?: (view: Uint8Array) => boolean;
  /** The flow exists (counted in the gateway's table) / is gone. */
  added(f: TcpFlow): void;
  removed(f: TcpFlow): void;
  /** The flow is spliced: the monitor may pair it with its TCB. */
  spliced(f: TcpFlow): void;
}

class NativeFlow implements TcpFlow {
  /** The flow's booleans (connected … released), one bit each (B_*): one field instead of nine. */
  private bits = B_OPEN;
  conn: Connection | null = null;
  bytesUp = 0;
  bytesDown = 0;
  get connected(): boolean { return (this.bits & B_CONNECTED) !== 0; }
  set connected(v: boolean) { this.bits = v ? this.bits | B_CONNECTED : this.bits & ~B_CONNECTED; }
  /** Guest → host bytes read out of the TCB and not yet taken by the host socket. */
  up: Uint8Array[] = NONE;
  upBytes = 0;
  /** Host → guest bytes read from the host socket and not yet taken by the TCB. */
  down: Uint8Array[] = NONE;
  downBytes = 0;
  /**
   * Recycled buffers whose bytes the TCB holds, as pairs: the buffer, and
   * the flow's bytesDown at the end of its bytes. Once the guest
   * acknowledged up to there, the buffer goes back to the addon's pool.
   */
  lent: Array<ArrayBuffer | number> = NONE_LENT;
  /** shutdown(SHUT_WR) was done (the guest's FIN passed on). */
  get hostShut(): boolean { return (this.bits & B_HOST_SHUT) !== 0; }
  set hostShut(v: boolean) { this.bits = v ? this.bits | B_HOST_SHUT : this.bits & ~B_HOST_SHUT; }
  /** The host peer's EOF arrived; `finSent`: CLOSE was called on the TCB. */
  get hostEof(): boolean { return (this.bits & B_HOST_EOF) !== 0; }
  set hostEof(v: boolean) { this.bits = v ? this.bits | B_HOST_EOF : this.bits & ~B_HOST_EOF; }
  get finSent(): boolean { return (this.bits & B_FIN_SENT) !== 0; }
  set finSent(v: boolean) { this.bits = v ? this.bits | B_FIN_SENT : this.bits & ~B_FIN_SENT; }
  get hostReading(): boolean { return (this.bits & B_HOST_READING) !== 0; }
  set hostReading(v: boolean) { this.bits = v ? this.bits | B_HOST_READING : this.bits & ~B_HOST_READING; }
  get open(): boolean { return (this.bits & B_OPEN) !== 0; }
  set open(v: boolean) { this.bits = v ? this.bits | B_OPEN : this.bits & ~B_OPEN; }
  get dirty(): boolean { return (this.bits & B_DIRTY) !== 0; }
  set dirty(v: boolean) { this.bits = v ? this.bits | B_DIRTY : this.bits & ~B_DIRTY; }
  timer: NodeJS.Timeout | null = null;
  ends: [string, number, string, number] | null = null;
  /** onEstablished ran: the relay is on. */
  get spliced(): boolean { return (this.bits & B_SPLICED) !== 0; }
  set spliced(v: boolean) { this.bits = v ? this.bits | B_SPLICED : this.bits & ~B_SPLICED; }
  /** The connect gate's turn was ended (NativeFlows.release). */
  get released(): boolean { return (this.bits & B_RELEASED) !== 0; }
  set released(v: boolean) { this.bits = v ? this.bits | B_RELEASED : this.bits & ~B_RELEASED; }
  /** The guest's address and port, and the host port (texts made on demand: an idle flow keeps no strings). */
  readonly guestAddr: IpAddr;
  readonly guestPort: number;

  constructor(
    readonly owner: NativeFlows,
    readonly id: number,
    /** The guest's SYN waiting for the host connect (dropped once answered: it holds the SYN's packet). */
    public req: TcpForwardRequest | null,
    readonly target: string,
    readonly port: number,
  ) {
    this.guestAddr = req!.remoteAddr;
    this.guestPort = req!.remotePort;
  }

  get guestText(): string {
    return `${formatIpAddr(this.guestAddr)}:${this.guestPort}`;
  }

  get targetText(): string {
    return `${this.target}:${this.port}`;
  }

  buffered(): number {
    const c = this.conn;
    return this.upBytes + this.downBytes + (c ? c.readable() + c.sendQueued() : 0);
  }

  hostEnds(): { local: string; remote: string } | null {
    // Asked only by a monitor (--viz): two system calls, made on demand.
    if (!this.ends && this.open && this.connected) this.ends = this.owner.addresses(this.id);
    const e = this.ends;
    return e ? { local: endText(e[0], e[1]), remote: endText(e[2], e[3]) } : null;
  }

  guestEnds(): { peer: string; guest: string } | null {
    return this.conn ? connEnds(this.conn) : null;
  }

  reset(): void {
    this.owner.resetFlow(this);
  }

  /** The core's events: noted now, served after the stack's processing (never re-entering it). */
  onEvent(_c: Connection, ev: ConnectionEvent): void {
    switch (ev.type) {
      case 'readable':
      case 'end':
      case 'writable':
      case 'closed':
        this.owner.markDirty(this);
        break;
      case 'state':
        // The handshake failed (a RST or timeout in SYN-RECEIVED) before it was spliced.
        if (ev.from === 'SYN-RECEIVED' && ev.to === 'LISTEN') this.owner.markDirty(this);
        break;
      default:
    }
  }
}

/** The gateway's forwarded TCP connections on native host sockets. */
export class NativeFlows {
  private readonly hs: HostSocketsAddon;
  private readonly flows = new Map<number, NativeFlow>();
  private nextId = 1;
  private dirty: NativeFlow[] = [];
  private serviceQueued = false;
  /** Recycled buffers acknowledged by the guest, for the addon's pool at the end of this pass. */
  private returned: ArrayBuffer[] = [];

  constructor(private readonly ctx: NativeFlowsContext) {
    const addon = loadTunAddon() as unknown as { HostSockets: new () => HostSocketsAddon };
    this.hs = new addon.HostSockets();
    if (ctx.recycleReads === true) this.hs.setRecycling?.(true);
    this.hs.start((evs) => this.onHostEvents(evs));
  }

  addresses(id: number): [string, number, string, number] | null {
    return this.hs.addresses(id);
  }

  /** Host sockets open now. */
  get sockets(): number {
    return this.hs.count;
  }

  /**
   * The host connect of a guest's SYN. `ctx.connectDone` is called exactly
   * once, when the connect ends (the connect gate's turn). The guest gets its SYN,ACK
   * only once the host connect succeeded; a refused connect becomes a RST,
   * a failed one an ICMP unreachable, as on the node:net path.
   */
  connect(req: TcpForwardRequest, target: string, port: number): void {
    let id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    while (this.flows.has(id)) id = id >= 0x7fffffff ? 1 : id + 1;
    // No closures per flow: an idle one keeps only its record and its TCB.
    const f = new NativeFlow(this, id, req, target, port);
    const r = this.hs.connect(id, target, port);
    if (r < 0) {
      // Refused or failed at once (a closed loopback port): the guest gets its
      // RST or ICMP error now; the gate's next turn starts after this one.
      queueMicrotask(() => this.release(f));
      this.connectFailed(f, errnoName(r));
      return;
    }
    this.flows.set(id, f);
    this.ctx.added(f);
    req.oncancel = () => this.cancelled(f);
    if (r === 1) {
      // Connected at once (the host's loopback): answer the guest when this
      // turn's input is done — never inside the stack's processing of the SYN.
      process.nextTick(this.connectedAtOnce, f);
      return;
    }
    f.timer = setTimeout(() => this.connectTimedOut(f), this.ctx.connectTimeoutMs);
  }

  /** A connect that completed in connect() itself, after the turn that made it (one function for every flow, not a closure each). */
  private readonly connectedAtOnce = (f: NativeFlow): void => {
    if (f.open && !f.connected) {
      this.onConnected(f);
      this.ctx.settle();
    } else this.release(f);
  };

  /** Ends the flow's turn at the connect gate (once). */
  private release(f: NativeFlow): void {
    if (f.released) return;
    f.released = true;
    this.ctx.connectDone();
  }

  private cancelled(f: NativeFlow): void {
    this.ctx.st.tcp.cancelled++;
    this.closeHost(f, false);
    this.release(f);
  }

  private connectTimedOut(f: NativeFlow): void {
    f.timer = null;
    if (f.connected || !f.open) return;
    this.ctx.st.tcp.timedOut++;
    this.closeHost(f, false);
    this.release(f);
    this.connectFailed(f, 'ETIMEDOUT');
  }

  private connectFailed(f: NativeFlow, code: string): void {
    const { st } = this.ctx;
    const kind: UnreachableKind | 'refused' = unreachableFor(code);
    const req = f.req;
    f.req = null;
    if (!req) return;
    if (kind === 'refused') {
      if (req.reject()) st.tcp.refused++;
    } else if (req.unreachable(kind)) {
      st.tcp.unreachable++;
    }
    this.ctx.log(`tcp ${f.guestText} -> ${f.targetText}: ${code}`);
    this.ctx.settle();
  }

  /** Every event of one wake-up of the host sockets, in order. */
  private onHostEvents(evs: Array<number | string | Uint8Array>): void {
    // One wake-up's reads are one batch of SENDs toward each guest: pushed
    // at its end (Stack.cork), so the tail of each read joins the
    // next read's bytes instead of going as a segment of its own.
    const stack = this.ctx.stack;
    stack.cork();
    try {
      this.hostEvents(evs);
    } finally {
      stack.uncork();
    }
    this.giveBack();
    this.ctx.settle();
  }

  private hostEvents(evs: Array<number | string | Uint8Array>): void {
    for (let i = 0; i < evs.length; i += 3) {
      const f = this.flows.get(evs[i + 1] as number);
      if (!f || !f.open) continue;
      switch (evs[i] as number) {
        case K_CONNECTED:
          this.onConnected(f);
          break;
        case K_DATA:
          this.fromHost(f, evs[i + 2] as Uint8Array, false);
          break;
        case K_DATA_RECYCLED:
          this.fromHost(f, evs[i + 2] as Uint8Array, true);
          break;
        case K_EOF:
          f.hostEof = true;
          this.serve(f);
          break;
        case K_WRITABLE:
          this.serve(f);
          break;
        case K_ERROR:
          this.onHostError(f, evs[i + 2] as string);
          break;
        default:
      }
    }
  }

  /** The buffers acknowledged in this pass, back to the addon's pool in one call. */
  private giveBack(): void {
    const r = this.returned;
    if (r.length === 0) return;
    this.ctx.st.tcp.buffersRecycled += r.length;
    this.returned = [];
    this.hs.recycle!(r);
  }

  /** Recycled buffers all of whose bytes the guest acknowledged: into `returned`. */
  private settleLent(f: NativeFlow): void {
    const lent = f.lent;
    const c = f.conn;
    // Bytes handed to the TCB (read, less what still waits here), less those it still holds.
    const acked = f.bytesDown - f.downBytes - (c ? c.sendQueued() : 0);
    let i = 0;
    while (i < lent.length && (lent[i + 1] as number) <= acked) {
      this.returned.push(lent[i] as ArrayBuffer);
      i += 2;
    }
    if (i > 0) f.lent = i === lent.length ? NONE_LENT : lent.slice(i);
  }

  private onConnected(f: NativeFlow): void {
    const { st } = this.ctx;
    f.connected = true;
    if (f.timer) clearTimeout(f.timer);
    f.timer = null;
    this.release(f);
    const req = f.req;
    f.req = null;
    if (!req || this.ctx.closing() || req.state !== 'pending') {
      this.closeHost(f, false);
      return;
    }
    req.oncancel = null;
    const opts: ForwardAcceptOptions = { onEstablished: (c) => this.established(f, c), observer: f };
    if (this.ctx.acceptTcp) opts.tcp = this.ctx.acceptTcp;
    const conn = req.accept(opts);
    if (!conn) {
      this.closeHost(f, false);
      return;
    }
    f.conn = conn;
    st.tcp.opened++;
  }

  private established(f: NativeFlow, conn: Connection): void {
    if (!f.open) {
      this.ctx.stack.abort(conn);
      return;
    }
    f.conn = conn;
    conn.user = f;
    f.spliced = true;
    f.hostReading = true;
    this.hs.setReading(f.id, true);
    this.ctx.spliced(f);
    this.markDirty(f);
  }

  private onHostError(f: NativeFlow, code: string): void {
    const { st } = this.ctx;
    if (!f.connected) {
      if (f.timer) clearTimeout(f.timer);
      f.timer = null;
      this.closeHost(f, false);
      this.release(f);
      this.connectFailed(f, code);
      return;
    }
    if (code === 'ECONNRESET') st.tcp.resetsFromHost++;
    this.closeHost(f, false);
    const c = f.conn;
    if (c && c.state !== 'CLOSED') this.ctx.stack.abort(c);
  }

  /** Host → guest: into the TCB's send buffer, the rest waits (and the host socket pauses). */
  private fromHost(f: NativeFlow, data: Uint8Array, recycled: boolean): void {
    const { st } = this.ctx;
    f.bytesDown += data.length;
    st.tcp.bytesDown += data.length;
    if (recycled) {
      const ab = data.buffer as ArrayBuffer;
      if (f.lent === NONE_LENT) f.lent = [ab, f.bytesDown];
      else f.lent.push(ab, f.bytesDown);
    }
    if (f.downBytes === 0) {
      const took = this.sendToGuest(f, data);
      if (took < 0 || took === data.length) return;
      data = data.subarray(took);
    }
    if (f.down === NONE) f.down = [data];
    else f.down.push(data);
    f.downBytes += data.length;
    if (f.hostReading) {
      f.hostReading = false;
      this.hs.setReading(f.id, false);
    }
  }

  /** stack.send, or -1 when the TCB can take nothing more (closed: the flow is reset). */
  private sendToGuest(f: NativeFlow, data: Uint8Array): number {
    const c = f.conn;
    if (!c || c.state === 'CLOSED') {
      this.resetFlow(f);
      return -1;
    }
    if (c.sendRoom() <= 0) return 0;
    try {
      return this.ctx.stack.send(c, data);
    } catch {
      // The guest's side of the connection is closing (it can take no data): reset the host side.
      this.resetFlow(f);
      return -1;
    }
  }

  markDirty(f: NativeFlow): void {
    if (f.dirty) return;
    f.dirty = true;
    this.dirty.push(f);
    if (!this.serviceQueued) {
      this.serviceQueued = true;
      process.nextTick(this.service);
    }
  }

  private readonly service = (): void => {
    this.serviceQueued = false;
    // A new list: flows marked while these are served wait for the next
    // pass (and `length = 0` on a spare list would be a runtime call in V8).
    const list = this.dirty;
    this.dirty = [];
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      f.dirty = false;
      if (f.open) this.serve(f);
    }
    this.giveBack();
    this.ctx.settle();
  };

  /** Moves what can move, both ways, and passes FINs and resets on. */
  private serve(f: NativeFlow): void {
    const { st, stack } = this.ctx;
    const c = f.conn;
    if (!c || !f.open) return;
    if (!f.spliced) {
      // The handshake with the guest failed (a RST or timeout in SYN-RECEIVED) before onEstablished.
      if (c.state === 'CLOSED' || c.state === 'LISTEN') this.closeHost(f, false);
      return;
    }
    if (c.state === 'CLOSED' && c.closeReason !== null) {
      // A RST from the guest, or its side gave up (timeout): reset the host side.
      if (c.closeReason === 'reset') st.tcp.resetsFromGuest++;
      this.closeHost(f, true);
      return;
    }
    // Guest → host.
    while (!f.hostShut) {
      if (f.upBytes > 0) {
        const n = this.hs.write(f.id, f.up);
        if (n < 0) {
          this.onHostError(f, errnoName(n));
          return;
        }
        this.consumeUp(f, n);
        // Nothing taken: the host socket is full, and a WRITABLE event follows.
        if (n === 0) break;
        continue;
      }
      if (c.readable() === 0) {
        if (c.finReceived && f.upBytes === 0) {
          // When the host's EOF came and its bytes are all queued, the host
          // socket closes right below, and close() sends the FIN itself
          // (nothing is left unread): one system call instead of two.
          if (!(f.hostEof && f.finSent)) this.hs.shutdown(f.id);
          f.hostShut = true;
        }
        break;
      }
      const chunks = stack.read(c, UP_READ);
      let n = 0;
      for (const x of chunks) n += x.length;
      f.bytesUp += n;
      st.tcp.bytesUp += n;
      f.up = chunks;
      f.upBytes = n;
    }
    // Host → guest.
    if (f.lent.length > 0) this.settleLent(f);
    while (f.downBytes > 0) {
      const d = f.down[0]!;
      const took = this.sendToGuest(f, d);
      if (took < 0) return;
      f.downBytes -= took;
      if (took < d.length) {
        f.down[0] = d.subarray(took);
        break;
      }
      f.down.shift();
    }
    if (f.downBytes === 0) f.down = NONE;
    if (f.downBytes === 0) {
      if (f.hostEof && !f.finSent) {
        f.finSent = true;
        stack.close(c);
      } else if (!f.hostEof && !f.hostReading && c.sendRoom() > 0) {
        f.hostReading = true;
        this.hs.setReading(f.id, true);
      }
    }
    // Both directions done at the host socket: it closes (the TCB finishes its close on its own).
    if (f.hostShut && f.finSent) this.closeHost(f, false);
  }

  private consumeUp(f: NativeFlow, n: number): void {
    f.upBytes -= n;
    const recycle = this.ctx.recycleIn;
    let i = 0;
    while (n > 0 && i < f.up.length) {
      const x = f.up[i]!;
      if (n >= x.length) {
        n -= x.length;
        // In the host kernel now: the packet these bytes came in is free (if it was lent).
        if (recycle && recycle(x)) this.ctx.st.tcp.buffersRecycled++;
        i++;
      } else {
        f.up[i] = x.subarray(n);
        n = 0;
      }
    }
    f.up = f.upBytes === 0 ? NONE : i === 0 ? f.up : f.up.slice(i);
  }

  /** Resets both sides of a flow. */
  resetFlow(f: NativeFlow): void {
    const c = f.conn;
    this.closeHost(f, true);
    if (c && c.state !== 'CLOSED') this.ctx.stack.abort(c);
  }

  /** Closes the host socket (with a RST when `reset`) and forgets the flow. */
  private closeHost(f: NativeFlow, reset: boolean): void {
    if (!f.open) return;
    f.open = false;
    if (f.timer) clearTimeout(f.timer);
    f.timer = null;
    this.hs.closeSocket(f.id, reset);
    this.flows.delete(f.id);
    f.up = NONE;
    f.upBytes = 0;
    f.down = NONE;
    f.downBytes = 0;
    // Recycled buffers still lent are left to the GC: the TCB may still send their bytes.
    f.lent = NONE_LENT;
    const c = f.conn;
    if (c && c.user === f) c.user = null;
    this.ctx.removed(f);
  }

  /** Closes every host socket and the epoll set. */
  close(): void {
    for (const f of [...this.flows.values()]) this.resetFlow(f);
    this.hs.close();
  }
}
