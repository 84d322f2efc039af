/**
 * Runs one parsed packetdrill script against a fresh synack Stack, in
 * process, under the virtual clock.
 *
 *   kernel under test  = one Stack at 192.168.0.1, driven through the BSD
 *                        socket API (src/bsd) for the script's socket calls;
 *   packetdrill's side = a raw port on the same in-memory hub at 192.0.2.1:
 *                        inbound (`<`) packets are injected there, outbound
 *                        (`>`) packets are captured there and matched.
 *
 * Semantics follow google/packetdrill (shared/docs/packetdrill-language.md):
 * timing and tolerance (§1.3), socket calls and blocking calls (§1.4),
 * packet matching (§1.5, §1.7) and sequence-number relativisation (§1.6).
 * Anything this interpreter cannot do fails the script with
 * "unsupported: …" — never a silent pass.
 *
 * Pure: no node: imports (the CLI in main.ts reads files).
 */
// The stack through its public surfaces only: synack/core (src/core.ts) and the BSD socket API (src/bsd/index.ts).
import {
  ACK,
  CHECKSUM_FULL,
  CHECKSUM_OFFLOAD,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  SYN,
  Network,
  checksum,
  emitIpv4,
  emitIpv4Tcp,
  emitTcpOptions,
  parseIpv4,
  parseIpv4Addr,
  parseTcp,
  parseTcpOptions,
  setU16,
  setU32,
  tcpOptionLen,
  tcpOptionsLen,
  type MemoryPort,
  type Stack,
  type TcpOption,
  type TcpRepr,
  type TcpState,
  type VirtualClock,
} from '../core.ts';
import {
  AF_INET,
  BsdSockets,
  IPPROTO_TCP as SOL_TCP,
  SOL_SOCKET,
  SO_RCVBUF,
  SYMBOLS,
  TCP_INFO,
  TcpiState,
  errnoName,
  isPending,
  type MaybeBlocking,
  type Pending,
  type SysResult,
} from '../bsd/index.ts';
import {
  formatFlags,
  formatOptions,
  parseScript,
  type Expr,
  type IcmpAction,
  type PacketAction,
  type Script,
  type ScriptEvent,
  type SyscallAction,
} from './parser.ts';
import { FREEBSD_PROFILE, applySysctl, type ConformanceProfile, type SysctlTarget } from './profile.ts';

/** Diagnostic relaxations (never used by the gate): skip a class of comparison. */
export type Relaxation = 'options' | 'window' | 'rcvbuf';

export interface RunOptions {
  profile?: ConformanceProfile;
  /** `#ifdef` names; default ['STANDARD']. */
  defines?: readonly string[];
  /** Percent of the scripted delta added to the tolerance (packetdrill §1.3); default 5 (NPLab on FreeBSD). */
  tolerancePercent?: number;
  /** Overrides the script's --tolerance_usecs. */
  toleranceUs?: number;
  relax?: ReadonlySet<Relaxation>;
  /** Seed of the network (ISNs, ports). */
  seed?: number;
}

export interface RunResult {
  passed: boolean;
  /** '' on a strict pass; otherwise the first mismatch or the unsupported construct. */
  reason: string;
  /** Line of the event that failed (0 if none). */
  line: number;
  /** Virtual time at the end, µs. */
  virtualUs: number;
}

export const LOCAL_ADDR = parseIpv4Addr('192.168.0.1')!;
export const REMOTE_ADDR = parseIpv4Addr('192.0.2.1')!;
/** The port packetdrill's side uses for passive opens (packetdrill reserves an ephemeral one). */
export const REMOTE_EPHEMERAL_PORT = 47_123;
const DEFAULT_PORT = 8080;
/** The longest virtual wait for `*` packets and for blocking calls without an end. */
const MAX_WAIT_US = 1_000_000_000;

class Failure extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

interface Captured {
  at: number;
  bytes: Uint8Array;
}

interface Blocked {
  event: ScriptEvent;
  call: SyscallAction;
  pending: Pending<unknown>;
  /** Expected return time (script µs) and its tolerance; null = no time check. */
  expectAt: number | null;
  tol: number;
  onResult: (r: SysResult<unknown>) => void;
}

const TCPI_BY_STATE: Record<TcpState, keyof typeof TcpiState> = {
  CLOSED: 'TCPI_CLOSED',
  LISTEN: 'TCPI_LISTEN',
  'SYN-SENT': 'TCPI_SYN_SENT',
  'SYN-RECEIVED': 'TCPI_SYN_RECEIVED',
  ESTABLISHED: 'TCPI_ESTABLISHED',
  'CLOSE-WAIT': 'TCPI_CLOSE_WAIT',
  'FIN-WAIT-1': 'TCPI_FIN_WAIT_1',
  CLOSING: 'TCPI_CLOSING',
  'LAST-ACK': 'TCPI_LAST_ACK',
  'FIN-WAIT-2': 'TCPI_FIN_WAIT_2',
  'TIME-WAIT': 'TCPI_TIME_WAIT',
};

/** sockstat's state names (FreeBSD tcpstates[]) → ours. */
const SOCKSTAT_STATES: Record<string, TcpState> = {
  CLOSED: 'CLOSED',
  LISTEN: 'LISTEN',
  SYN_SENT: 'SYN-SENT',
  SYN_RCVD: 'SYN-RECEIVED',
  ESTABLISHED: 'ESTABLISHED',
  CLOSE_WAIT: 'CLOSE-WAIT',
  FIN_WAIT_1: 'FIN-WAIT-1',
  CLOSING: 'CLOSING',
  LAST_ACK: 'LAST-ACK',
  FIN_WAIT_2: 'FIN-WAIT-2',
  TIME_WAIT: 'TIME-WAIT',
};

const ICMP_TYPES: Record<string, { type: number; codes: Record<string, number> }> = {
  unreachable: {
    type: 3,
    codes: {
      net_unreachable: 0,
      host_unreachable: 1,
      protocol_unreachable: 2,
      port_unreachable: 3,
      frag_needed: 4,
      source_route_failed: 5,
      net_unknown: 6,
      host_unknown: 7,
      source_host_isolated: 8,
      net_prohibited: 9,
      host_prohibited: 10,
      net_unreachable_for_tos: 11,
      host_unreachable_for_tos: 12,
      packet_filtered: 13,
      precedence_violation: 14,
      precedence_cutoff: 15,
    },
  },
  source_quench: { type: 4, codes: { '': 0 } },
  redirect: { type: 5, codes: { '': 0 } },
  time_exceeded: { type: 11, codes: { ttl_exceeded_in_transit: 0, frag_reass_exceeded: 1 } },
  parameter_problem: { type: 12, codes: { code_0: 0, code_1: 1, code_2: 2 } },
};

/** Parses and runs `src`. Never throws for script problems: they become a failed RunResult. */
export function runScriptSource(src: string, opts: RunOptions = {}): RunResult {
  let script: Script;
  try {
    script = parseScript(src, { defines: opts.defines ?? ['STANDARD'] });
  } catch (e) {
    const line = (e as { line?: number }).line ?? 0;
    return { passed: false, reason: `parse error: ${(e as Error).message}`, line, virtualUs: 0 };
  }
  return new Executor(script, opts).run();
}

export class Executor {
  readonly net: Network;
  readonly clock: VirtualClock;
  readonly stack: Stack;
  readonly api: BsdSockets;
  readonly port: MemoryPort;
  private readonly captured: Captured[] = [];
  private readonly relax: ReadonlySet<Relaxation>;
  private readonly relaxedUsed = new Set<Relaxation>();
  private readonly toleranceUs: number;
  private readonly tolerancePercent: number;
  private readonly sysctl: SysctlTarget;

  // ---- timing -----------------------------------------------------------------
  private lastActual = 0;
  private lastScript = 0;
  private lastWasInbound = false;

  // ---- sockets and the connection under test ----------------------------------
  private readonly fdMap = new Map<number, number>();
  private underTest: number | null = null;
  private localPort = DEFAULT_PORT;
  private remotePort = REMOTE_EPHEMERAL_PORT;
  /** The next remote port for a passive open (packetdrill's next_ephemeral_port()). */
  private nextRemotePort = REMOTE_EPHEMERAL_PORT;
  /** listen() ran on the socket under test: the next inbound packet creates a child with a new remote port. */
  private childPending = false;
  private localIsnLive: number | null = null;
  private localIsnScript = 0;
  /** Outbound script TS val → live TS val (for inbound ecr). */
  private readonly tsLabels = new Map<number, number>();
  private blocked: Blocked | null = null;

  constructor(
    readonly script: Script,
    readonly opts: RunOptions = {},
  ) {
    const profile = opts.profile ?? FREEBSD_PROFILE;
    this.relax = opts.relax ?? new Set();
    this.net = new Network({ seed: opts.seed ?? 1 });
    this.clock = this.net.virtual!;
    const hub = this.net.addHub({ checksumOffload: true });
    this.stack = this.net.addStack({ name: 'kernel', tcp: { ...profile.tcp }, ttl: profile.ttl });
    this.net.attach(this.stack, hub, LOCAL_ADDR, 16);
    this.port = hub.attach(REMOTE_ADDR);
    this.port.onReceive = (bytes) => {
      this.captured.push({ at: this.clock.now(), bytes });
    };
    this.api = new BsdSockets(this.stack, { localAddr: LOCAL_ADDR, defaults: { ...profile.bsd, tcp: { ...profile.tcp } } });
    this.sysctl = { tcp: this.api.defaults.tcp, bsd: {}, insecureRst: !(profile.tcp.rfc5961Rst ?? true), insecureSyn: !(profile.tcp.rfc5961Syn ?? true) };
    const tolOpt = script.options.get('tolerance_usecs');
    this.toleranceUs = opts.toleranceUs ?? (tolOpt ? Number(tolOpt) : 4000);
    this.tolerancePercent = opts.tolerancePercent ?? 5;
  }

  run(): RunResult {
    let line = 0;
    try {
      this.checkScriptOptions();
      for (const ev of this.script.events) {
        line = ev.line;
        this.runEvent(ev);
      }
      this.finishBlocked();
    } catch (e) {
      if (e instanceof Failure) return { passed: false, reason: e.message, line: e.line || line, virtualUs: this.clock.now() };
      return { passed: false, reason: `internal error: ${(e as Error).stack ?? String(e)}`, line, virtualUs: this.clock.now() };
    }
    const reason = this.relaxedUsed.size ? `passed with relaxed checks: ${[...this.relaxedUsed].join(',')}` : '';
    return { passed: true, reason, line: 0, virtualUs: this.clock.now() };
  }

  private checkScriptOptions(): void {
    for (const [k, v] of this.script.options) {
      if (k === 'tolerance_usecs') continue;
      if (k === 'ip_version' && v === 'ipv4') continue;
      if (k === 'non_fatal') throw new Failure(0, `unsupported: --non_fatal=${v}`);
      throw new Failure(0, `unsupported: --${k}${v ? `=${v}` : ''}`);
    }
  }

  // ===========================================================================
  // Time
  // ===========================================================================

  /** Runs the network up to virtual time `t`, completing blocked calls on the way. */
  private advanceTo(t: number): void {
    while (this.net.nextDeadline() <= t) {
      this.net.step();
      this.checkBlocked();
    }
    this.clock.advanceTo(t);
    this.net.runDue();
    this.checkBlocked();
  }

  private scriptTime(spec: { kind: 'abs' | 'rel'; us: number }, inbound: boolean): number {
    if (spec.kind === 'abs') return spec.us;
    const anchor = inbound && this.lastWasInbound ? this.lastScript : this.lastActual;
    return anchor + spec.us;
  }

  private tolerance(scriptAt: number): number {
    return Math.max(this.toleranceUs, (this.tolerancePercent / 100) * Math.max(0, scriptAt - this.lastScript));
  }

  private fmtT(us: number): string {
    return (us / 1e6).toFixed(6);
  }

  // ===========================================================================
  // Events
  // ===========================================================================

  private runEvent(ev: ScriptEvent): void {
    const a = ev.action;
    if (a.type === 'unsupported') throw new Failure(ev.line, a.reason);
    if (a.type === 'packet' && a.dir === 'out') {
      this.expectOutbound(ev, a);
      return;
    }
    if (a.type === 'icmp' && a.dir === 'out') throw new Failure(ev.line, 'unsupported: outbound icmp');
    const inbound = a.type === 'packet' || a.type === 'icmp';
    if (ev.time.kind === 'any') throw new Failure(ev.line, '`*` is allowed on outbound packets only');
    if (ev.time.rangeEnd) throw new Failure(ev.line, 'a time range is allowed on outbound packets only');
    const at = this.scriptTime(ev.time as { kind: 'abs' | 'rel'; us: number }, inbound);
    const tol = this.tolerance(at);
    if (at > this.clock.now()) this.advanceTo(at);
    const now = this.clock.now();
    if (now - at > tol) {
      throw new Failure(ev.line, `timing: event scheduled at ${this.fmtT(at)} s could only run at ${this.fmtT(now)} s: ${ev.text}`);
    }
    switch (a.type) {
      case 'packet':
        this.inject(ev, a);
        break;
      case 'icmp':
        this.injectIcmp(ev, a);
        break;
      case 'syscall':
        this.syscall(ev, a, at, tol);
        break;
      case 'command':
        this.command(ev, a.command);
        break;
      case 'code':
        this.code(ev, a.code);
        break;
    }
    this.net.runDue();
    this.checkBlocked();
    this.lastScript = at;
    this.lastActual = Math.max(at, now);
    this.lastWasInbound = inbound;
  }

  // ===========================================================================
  // Inbound packets
  // ===========================================================================

  private inject(ev: ScriptEvent, p: PacketAction): void {
    this.maybeNewChild();
    // Remote-side numbers are literal: packetdrill takes the live remote ISN
    // from the script's own packet (live = script), so no offset applies.
    const seq = p.seq.start >>> 0;
    let ack = 0;
    if (p.ack !== null) ack = p.flags & ACK ? (p.ack + this.localOffset()) >>> 0 : p.ack >>> 0;
    const options: TcpOption[] = [];
    if (p.options !== null && p.options !== 'any') {
      for (const o of p.options) {
        if (o.kind === 'timestamp') {
          let ecr = o.tsecr;
          if (ecr !== 0) {
            const live = this.tsLabels.get(ecr);
            if (live === undefined) throw new Failure(ev.line, `inbound TS ecr ${ecr} matches no outbound TS val seen so far`);
            ecr = live;
          }
          options.push({ kind: 'timestamp', tsval: o.tsval, tsecr: ecr });
        } else if (o.kind === 'sack') {
          const off = this.localOffset();
          options.push({ kind: 'sack', blocks: o.blocks.map(([l, r]) => [(l + off) >>> 0, (r + off) >>> 0] as [number, number]) });
        } else {
          options.push(o);
        }
      }
      if (rawOptionsLen(options) % 4 !== 0) {
        // packetdrill refuses option lists that are not a multiple of 4 bytes.
        throw new Failure(ev.line, `TCP options must total a multiple of 4 bytes: <${formatOptions(p.options)}>`);
      }
    }
    const repr: TcpRepr = {
      srcPort: this.remotePort,
      dstPort: this.localPort,
      seq,
      ack,
      flags: p.flags,
      window: p.win!,
      urgentPointer: p.urg,
      options,
      payload: new Uint8Array(p.seq.len),
    };
    let tos = p.ip.tos ?? 0;
    if (p.ip.ecn === 'ect0') tos = (tos & ~3) | 2;
    else if (p.ip.ecn === 'ect1') tos = (tos & ~3) | 1;
    else if (p.ip.ecn === 'ce') tos |= 3;
    else if (p.ip.ecn === 'ect01') throw new Failure(ev.line, '`ect01` is allowed on outbound packets only');
    const bytes = emitIpv4Tcp({ src: REMOTE_ADDR, dst: LOCAL_ADDR, ttl: p.ip.ttl ?? 64, tos, ident: 0, dontFragment: false }, repr, CHECKSUM_FULL);
    this.port.transmit(bytes);
  }

  private injectIcmp(ev: ScriptEvent, a: IcmpAction): void {
    const t = ICMP_TYPES[a.icmpType];
    const code = t?.codes[a.code];
    if (!t || code === undefined) throw new Failure(ev.line, `unsupported: icmp ${a.icmpType} ${a.code}`);
    // The quoted datagram: our own IPv4 header plus the first 8 bytes of the TCP header.
    const quote = new Uint8Array(28);
    emitIpv4({ src: LOCAL_ADDR, dst: REMOTE_ADDR, protocol: IPPROTO_TCP, ttl: 64, tos: 0, ident: 0, dontFragment: true, payloadLen: 20 }, quote, 0);
    setU16(quote, 20, this.localPort);
    setU16(quote, 22, this.remotePort);
    const seq = a.seq ? (a.seq.absolute ? a.seq.start : a.seq.start + this.localOffset()) >>> 0 : 0;
    setU32(quote, 24, seq);
    const icmpLen = 8 + quote.length;
    const buf = new Uint8Array(20 + icmpLen);
    emitIpv4({ src: REMOTE_ADDR, dst: LOCAL_ADDR, protocol: IPPROTO_ICMP, ttl: 64, tos: 0, ident: 0, dontFragment: false, payloadLen: icmpLen }, buf, 0);
    buf[20] = t.type;
    buf[21] = code;
    if (a.mtu !== null) setU16(buf, 26, a.mtu);
    buf.set(quote, 28);
    setU16(buf, 22, checksum(buf, 20, buf.length));
    this.port.transmit(buf);
  }

  // ===========================================================================
  // Outbound packets
  // ===========================================================================

  private expectOutbound(ev: ScriptEvent, p: PacketAction): void {
    let at = 0;
    let end = 0;
    let tol = 0;
    const any = ev.time.kind === 'any';
    if (!any) {
      at = this.scriptTime(ev.time as { kind: 'abs' | 'rel'; us: number }, false);
      end = ev.time.rangeEnd ? this.scriptTime(ev.time.rangeEnd, false) : at;
      tol = this.tolerance(end);
    }
    const deadline = any ? this.clock.now() + MAX_WAIT_US : end + tol;
    while (this.captured.length === 0) {
      const nd = this.net.nextDeadline();
      if (nd > deadline) {
        if (nd === Infinity && any) break;
        this.advanceTo(deadline);
        break;
      }
      this.net.step();
      this.checkBlocked();
    }
    const pkt = this.captured.shift();
    if (!pkt) {
      throw new Failure(ev.line, `expected packet was not sent: > ${ev.text.slice(1).trim()} (waited until ${this.fmtT(this.clock.now())} s)`);
    }
    this.matchOutbound(ev, p, pkt);
    if (!any && (pkt.at < at - tol || pkt.at > end + tol)) {
      throw new Failure(ev.line, `timing: packet expected at ${this.fmtT(at)}${end !== at ? `~${this.fmtT(end)}` : ''} s (±${this.fmtT(tol)}), sent at ${this.fmtT(pkt.at)} s: ${ev.text}`);
    }
    this.lastScript = any ? pkt.at : at;
    this.lastActual = pkt.at;
    this.lastWasInbound = false;
  }

  private matchOutbound(ev: ScriptEvent, p: PacketAction, pkt: Captured): void {
    const ip = parseIpv4(pkt.bytes, CHECKSUM_FULL);
    if (!ip.ok) throw new Failure(ev.line, `the stack sent a malformed IPv4 packet (${ip.reason})`);
    const h = ip.value.header;
    if (h.protocol !== IPPROTO_TCP) throw new Failure(ev.line, `expected: ${this.expectedText(ev)}\n    actual: an IP packet of protocol ${h.protocol}`);
    const r = parseTcp(ip.value.payload, h.src, h.dst, CHECKSUM_OFFLOAD);
    if (!r.ok) throw new Failure(ev.line, `the stack sent a malformed TCP segment (${r.reason})`);
    const seg = r.value;
    const raw = ip.value.payload;
    const rawOpts = raw.subarray(20, (raw[12]! >>> 4) * 4);
    const isSyn = (seg.flags & SYN) !== 0;
    if (isSyn && (p.flags & SYN) && this.localIsnLive === null) {
      this.localIsnLive = seg.seq;
      this.localIsnScript = p.seq.start >>> 0;
    }
    const relSeq = p.seq.absolute ? seg.seq : (seg.seq - this.localOffset()) >>> 0;
    const relAck = seg.ack;
    const mism: string[] = [];
    if (seg.flags !== p.flags) mism.push('flags');
    if (!p.seq.any && relSeq !== p.seq.start >>> 0) mism.push('seq');
    if (seg.payload.length !== p.seq.len) mism.push('length');
    const expAck = p.ack ?? 0;
    if ((seg.flags & ACK ? relAck : seg.ack) !== expAck >>> 0 && !(p.ack === null && seg.ack === 0)) mism.push('ack');
    if (p.win !== null && seg.window !== p.win) {
      if (this.relax.has('window')) this.relaxedUsed.add('window');
      else mism.push('win');
    }
    if (seg.urgentPointer !== p.urg) mism.push('urg');
    let tsPairs: Array<[number, number]> = [];
    if (p.options !== 'any') {
      const r2 = this.compareOptions(p.options ?? [], rawOpts);
      if (r2 === null) {
        if (this.relax.has('options')) this.relaxedUsed.add('options');
        else mism.push('options');
      } else {
        tsPairs = r2;
      }
    }
    if (p.ip.ttl !== undefined && h.ttl !== p.ip.ttl) mism.push('ttl');
    if (p.ip.tos !== undefined && h.tos !== p.ip.tos) mism.push('tos');
    if (p.ip.ecn !== undefined) {
      const e = h.tos & 3;
      const want = { noecn: [0], ect0: [2], ect1: [1], ce: [3], ect01: [1, 2] }[p.ip.ecn];
      if (!want.includes(e)) mism.push('ecn');
    }
    if (mism.length) {
      throw new Failure(
        ev.line,
        `${mism.join(', ')} mismatch\n    expected: ${this.expectedText(ev)}\n    actual:   ${this.describe(seg, relSeq, relAck, rawOpts, h.ttl, h.tos, p)}`,
      );
    }
    for (const [scriptVal, liveVal] of tsPairs) this.tsLabels.set(scriptVal, liveVal);
  }

  /** Byte-exact option comparison (TS val/ecr not compared, SACK blocks relativised). Returns TS label pairs, or null on mismatch. */
  private compareOptions(expected: readonly TcpOption[], raw: Uint8Array): Array<[number, number]> | null {
    const exp = expected.map((o): TcpOption => (o.kind === 'sack' ? { kind: 'sack', blocks: o.blocks } : o));
    const n = tcpOptionsLen(exp);
    if (n !== raw.length) return null;
    const buf = new Uint8Array(n);
    if (buf.length) emitTcpOptions(exp, buf, 0);
    const pairs: Array<[number, number]> = [];
    let i = 0;
    const masked = new Set<number>();
    for (const o of exp) {
      if (o.kind === 'timestamp') {
        for (let k = 2; k < 10; k++) masked.add(i + k);
        const live = ((raw[i + 2]! << 24) | (raw[i + 3]! << 16) | (raw[i + 4]! << 8) | raw[i + 5]!) >>> 0;
        pairs.push([o.tsval, live]);
      }
      i += tcpOptionLen(o);
    }
    for (let k = 0; k < n; k++) if (!masked.has(k) && buf[k] !== raw[k]) return null;
    return pairs;
  }

  private expectedText(ev: ScriptEvent): string {
    return ev.text;
  }

  private describe(seg: TcpRepr, relSeq: number, relAck: number, rawOpts: Uint8Array, ttl: number, tos: number, p: PacketAction): string {
    let s = '> ';
    if (p.ip.ttl !== undefined || p.ip.tos !== undefined || p.ip.ecn !== undefined) s += `(ttl ${ttl}, tos 0x${tos.toString(16)}) `;
    s += `${formatFlags(seg.flags)} ${relSeq}:${(relSeq + seg.payload.length) >>> 0}(${seg.payload.length})`;
    if (seg.flags & ACK || seg.ack !== 0) s += ` ack ${seg.flags & ACK ? relAck : seg.ack}`;
    s += ` win ${seg.window}`;
    if (seg.urgentPointer) s += ` urg ${seg.urgentPointer}`;
    if (rawOpts.length) s += ` <${this.formatRawOptions(rawOpts)}>`;
    return s;
  }

  private formatRawOptions(raw: Uint8Array): string {
    const parsed = parseTcpOptions(raw, 0, raw.length);
    if (!parsed.ok) return `malformed ${Array.from(raw, (b) => b.toString(16).padStart(2, '0')).join('')}`;
    const opts = parsed.value;
    let used = 0;
    for (const o of parsed.value) used += tcpOptionLen(o);
    let s = formatOptions(opts);
    for (; used < raw.length; used++) s += ',eol';
    return s;
  }

  // ===========================================================================
  // Socket calls
  // ===========================================================================

  private liveFd(ev: ScriptEvent, e: Expr | undefined): number {
    const fd = this.evalNum(ev, e);
    const live = this.fdMap.get(fd);
    if (live === undefined) return -1000 - fd; // a bad descriptor: the API answers EBADF
    return live;
  }

  private evalNum(ev: ScriptEvent, e: Expr | undefined): number {
    const v = this.evalExpr(ev, e);
    if (v === null) throw new Failure(ev.line, `unsupported: \`...\` where a value is needed: ${ev.text}`);
    return v;
  }

  /** Numbers, symbols, `A|B`, `[x]`; null for `...`. */
  private evalExpr(ev: ScriptEvent, e: Expr | undefined): number | null {
    if (!e) throw new Failure(ev.line, `missing argument: ${ev.text}`);
    switch (e.k) {
      case 'ellipsis':
        return null;
      case 'num':
        return e.v;
      case 'word': {
        const v = SYMBOLS[e.v];
        if (v === undefined) throw new Failure(ev.line, `unsupported: symbol ${e.v}`);
        return v;
      }
      case 'or': {
        let v = 0;
        for (const x of e.items) v |= this.evalNum(ev, x);
        return v;
      }
      case 'list':
        if (e.items.length !== 1) throw new Failure(ev.line, `unsupported: list value [${e.items.length} items]`);
        return this.evalExpr(ev, e.items[0]);
      case 'call':
        if (e.name === 'htons' || e.name === 'htonl') return this.evalNum(ev, e.args[0]);
        if (e.name === 'inet_addr' && e.args[0]?.k === 'str') {
          const a = parseIpv4Addr(e.args[0].v);
          if (a === null) throw new Failure(ev.line, `bad address ${e.args[0].v}`);
          return a;
        }
        throw new Failure(ev.line, `unsupported: ${e.name}(…)`);
      default:
        throw new Failure(ev.line, `unsupported: ${e.k} value in ${ev.text}`);
    }
  }

  private syscall(ev: ScriptEvent, c: SyscallAction, at: number, tol: number): void {
    const args = c.args;
    const api = this.api;
    const expected = this.evalExpr(ev, c.result);
    let expectedErrno: number | null = null;
    if (c.errno !== null) {
      const v = SYMBOLS[c.errno];
      if (v === undefined) throw new Failure(ev.line, `unsupported: errno ${c.errno}`);
      expectedErrno = v;
    }
    let check: (r: SysResult<unknown>, value: number) => void = () => {};
    let result: MaybeBlocking<unknown>;
    let valueOf = (r: unknown): number => r as number;
    switch (c.name) {
      case 'socket': {
        const domain = args[0]?.k === 'ellipsis' ? AF_INET : this.evalNum(ev, args[0]);
        result = api.socket(domain, this.evalNum(ev, args[1]), this.evalNum(ev, args[2]));
        check = (r, v) => {
          if (r.ok && expected !== null && expected >= 0) {
            this.fdMap.set(expected, v);
            this.newSocketUnderTest(expected);
          }
        };
        break;
      }
      case 'bind': {
        if (args[1]?.k !== 'ellipsis') throw new Failure(ev.line, 'unsupported: bind() with an explicit address');
        result = api.bind(this.liveFd(ev, args[0]), 0, DEFAULT_PORT);
        break;
      }
      case 'listen': {
        const scriptFd = this.evalNum(ev, args[0]);
        result = api.listen(this.liveFd(ev, args[0]), this.evalNum(ev, args[1]));
        check = (r) => {
          if (r.ok && scriptFd === this.underTest) this.childPending = true;
        };
        break;
      }
      case 'accept': {
        result = api.accept(this.liveFd(ev, args[0]));
        valueOf = (r) => (r as { fd: number }).fd;
        check = (r, v) => {
          if (r.ok && expected !== null && expected >= 0) {
            this.fdMap.set(expected, v);
            this.underTest = expected;
          }
        };
        break;
      }
      case 'connect': {
        if (args[1]?.k !== 'ellipsis') throw new Failure(ev.line, 'unsupported: connect() with an explicit address');
        const fd = this.liveFd(ev, args[0]);
        result = api.connect(fd, REMOTE_ADDR, DEFAULT_PORT);
        const lp = api.boundPort(fd);
        if (lp) {
          this.localPort = lp;
          this.remotePort = DEFAULT_PORT;
        }
        break;
      }
      case 'read':
      case 'recv': {
        const fd = this.liveFd(ev, args[0]);
        const flags = c.name === 'recv' ? this.evalNum(ev, args[3]) : 0;
        result = api.recv(fd, this.evalNum(ev, args[2]), flags);
        valueOf = (r) => (r as Uint8Array).length;
        break;
      }
      case 'write':
      case 'send': {
        const fd = this.liveFd(ev, args[0]);
        const flags = c.name === 'send' ? this.evalNum(ev, args[3]) : 0;
        result = api.send(fd, new Uint8Array(this.evalNum(ev, args[2])), flags);
        break;
      }
      case 'close': {
        const scriptFd = this.evalNum(ev, args[0]);
        result = api.close(this.liveFd(ev, args[0]));
        check = (r) => {
          if (r.ok) this.fdMap.delete(scriptFd);
        };
        break;
      }
      case 'shutdown':
        result = api.shutdown(this.liveFd(ev, args[0]), this.evalNum(ev, args[1]));
        break;
      case 'fcntl':
        result = api.fcntl(this.liveFd(ev, args[0]), this.evalNum(ev, args[1]), args[2] ? this.evalNum(ev, args[2]) : 0);
        break;
      case 'getsockopt': {
        const level = this.evalNum(ev, args[1]);
        const name = this.evalNum(ev, args[2]);
        if (level === SOL_TCP && name === TCP_INFO) throw new Failure(ev.line, 'unsupported: getsockopt TCP_INFO');
        result = api.getsockopt(this.liveFd(ev, args[0]), level, name);
        const want = this.evalExpr(ev, args[3]);
        const wantLen = args[4] ? this.evalExpr(ev, args[4]) : null;
        check = (r) => {
          if (!r.ok) return;
          const v = r.value as number;
          if (wantLen !== null && wantLen !== 4) throw new Failure(ev.line, `optlen mismatch\n    expected: ${ev.text}\n    actual:   optlen 4`);
          if (want !== null && v !== want) {
            if (level === SOL_SOCKET && name === SO_RCVBUF && this.relax.has('rcvbuf')) {
              this.relaxedUsed.add('rcvbuf');
              return;
            }
            throw new Failure(ev.line, `option value mismatch\n    expected: ${ev.text}\n    actual:   value [${this.symbolic(level, name, v)}]`);
          }
        };
        valueOf = () => 0;
        break;
      }
      case 'setsockopt': {
        const level = this.evalNum(ev, args[1]);
        const name = this.evalNum(ev, args[2]);
        if (args[3]?.k === 'struct') throw new Failure(ev.line, `unsupported: setsockopt with a struct value: ${ev.text}`);
        result = api.setsockopt(this.liveFd(ev, args[0]), level, name, this.evalNum(ev, args[3]));
        break;
      }
      case 'poll': {
        const list = args[0];
        if (list?.k !== 'list') throw new Failure(ev.line, 'unsupported: poll() without a pollfd list');
        const pfds = list.items.map((it) => {
          if (it.k !== 'struct') throw new Failure(ev.line, 'unsupported: poll() entry');
          const f = (n: string) => it.fields.find((x) => x.name === n)?.value;
          const rev = f('revents');
          return { scriptFd: this.evalNum(ev, f('fd')), events: this.evalNum(ev, f('events')), revents: rev ? this.evalNum(ev, rev) : null };
        });
        const timeoutMs = this.evalNum(ev, args[2]);
        const live = pfds.map((p) => ({ fd: this.fdMap.get(p.scriptFd) ?? -1, events: p.events, revents: 0 }));
        const attempt = (): SysResult<number> | null => {
          const r = api.poll(live);
          return r.ok && r.value === 0 ? null : r;
        };
        const first = attempt();
        if (first || timeoutMs === 0) result = first ?? { ok: true, value: 0 };
        else {
          const deadline = this.clock.now() + (timeoutMs < 0 ? MAX_WAIT_US : timeoutMs * 1000);
          result = { pending: true, poll: () => attempt() ?? (this.clock.now() >= deadline ? { ok: true, value: 0 } : null) };
        }
        check = (r) => {
          if (!r.ok) return;
          pfds.forEach((p, i) => {
            if (p.revents !== null && live[i]!.revents !== p.revents) {
              throw new Failure(ev.line, `poll revents mismatch for fd ${p.scriptFd}\n    expected: ${ev.text}\n    actual:   revents=0x${live[i]!.revents.toString(16)}`);
            }
          });
        };
        break;
      }
      default:
        throw new Failure(ev.line, `unsupported: system call ${c.name}()`);
    }
    const finish = (r: SysResult<unknown>): void => {
      const v = r.ok ? valueOf(r.value) : -1;
      this.checkResult(ev, c, expected, expectedErrno, r, v);
      check(r, v);
    };
    if (isPending(result)) {
      if (ev.end) {
        const endAt = ev.end.kind === 'abs' ? ev.end.us : at + ev.end.us;
        if (this.blocked) throw new Failure(ev.line, 'unsupported: two blocking calls at once');
        this.blocked = { event: ev, call: c, pending: result, expectAt: endAt, tol: Math.max(tol, this.tolerance(endAt)), onResult: finish };
        return;
      }
      // Blocks although the script expects it to return now: wait at most the tolerance.
      const limit = this.clock.now() + tol;
      let r = result.poll();
      while (!r && this.net.nextDeadline() <= limit) {
        this.net.step();
        r = result.poll();
      }
      if (!r) throw new Failure(ev.line, `${c.name}() blocked; the script expects it to return at once: ${ev.text}`);
      finish(r);
      return;
    }
    if (ev.end) {
      throw new Failure(ev.line, `${c.name}() returned at once; the script expects it to block until ${ev.end.kind === 'rel' ? '+' : ''}${this.fmtT(ev.end.us)} s: ${ev.text}`);
    }
    finish(result);
  }

  private symbolic(level: number, name: number, v: number): string {
    if (level === SOL_SOCKET && name === 0x1007 && v !== 0) return errnoName(v);
    return String(v);
  }

  private checkResult(ev: ScriptEvent, c: SyscallAction, expected: number | null, expectedErrno: number | null, r: SysResult<unknown>, v: number): void {
    const actualText = r.ok ? `= ${v}` : `= -1 ${errnoName(r.errno)}`;
    if (expected === null) return;
    const fdLike = c.name === 'socket' || c.name === 'accept';
    const okValue = fdLike && expected >= 0 ? r.ok : r.ok ? v === expected : expected === -1;
    const okErrno = r.ok || expectedErrno === null || r.errno === expectedErrno;
    if (!okValue || !okErrno) {
      throw new Failure(ev.line, `${c.name}() result mismatch\n    expected: ${ev.text}\n    actual:   ${actualText}`);
    }
  }

  private checkBlocked(): void {
    const b = this.blocked;
    if (!b) return;
    const r = b.pending.poll();
    if (!r) return;
    this.blocked = null;
    const now = this.clock.now();
    if (b.expectAt !== null && Math.abs(now - b.expectAt) > b.tol) {
      const actual = r.ok ? 'returned' : `failed with ${errnoName(r.errno)}`;
      throw new Failure(b.event.line, `timing: blocking ${b.call.name}() expected to return at ${this.fmtT(b.expectAt)} s (±${this.fmtT(b.tol)}), ${actual} at ${this.fmtT(now)} s`);
    }
    b.onResult(r);
  }

  private finishBlocked(): void {
    const b = this.blocked;
    if (!b) return;
    const limit = (b.expectAt ?? this.clock.now()) + b.tol;
    while (this.blocked && this.net.nextDeadline() <= limit) {
      this.net.step();
      this.checkBlocked();
    }
    if (this.blocked) {
      this.advanceTo(limit);
      if (this.blocked) throw new Failure(b.event.line, `blocking ${b.call.name}() had not returned by ${this.fmtT(limit)} s: ${b.event.text}`);
    }
  }

  private newSocketUnderTest(scriptFd: number): void {
    this.underTest = scriptFd;
    this.localPort = DEFAULT_PORT;
    this.remotePort = this.nextRemotePort;
    this.childPending = false;
    this.localIsnLive = null;
    this.localIsnScript = 0;
    this.tsLabels.clear();
  }

  /** Live minus script local ISN (0 until the stack's SYN or SYN-ACK was seen). */
  private localOffset(): number {
    return this.localIsnLive === null ? 0 : (this.localIsnLive - this.localIsnScript) >>> 0;
  }

  /**
   * packetdrill (handle_listen_for_script_packet): an inbound packet while
   * the socket under test listens creates a child socket on a fresh remote
   * port, which becomes the socket under test.
   */
  private maybeNewChild(): void {
    if (!this.childPending) return;
    this.childPending = false;
    this.remotePort = this.nextRemotePort++;
    this.localPort = DEFAULT_PORT;
    this.localIsnLive = null;
    this.localIsnScript = 0;
    this.tsLabels.clear();
  }

  // ===========================================================================
  // Shell commands and code blocks
  // ===========================================================================

  private command(ev: ScriptEvent, cmd: string): void {
    let m: RegExpExecArray | null;
    if ((m = /^sysctl\s+-w\s+([A-Za-z0-9_.]+)=(\S+)$/.exec(cmd))) {
      const why = applySysctl(m[1]!, m[2]!, this.sysctl);
      if (why) throw new Failure(ev.line, why);
      Object.assign(this.api.defaults, this.sysctl.bsd);
      return;
    }
    if ((m = /^sockstat\s+([^|]*)\|(.*)$/.exec(cmd))) {
      this.sockstat(ev, cmd, m[1]!, m[2]!);
      return;
    }
    if ((m = /^tcpdrop\s+-s\s+([A-Z_0-9]+)$/.exec(cmd))) {
      const st = SOCKSTAT_STATES[m[1]!];
      if (!st) throw new Failure(ev.line, `unsupported: tcpdrop -s ${m[1]}`);
      for (const c of this.stack.connections()) if (c.state === st) this.stack.abort(c);
      return;
    }
    throw new Failure(ev.line, `unsupported: shell command \`${cmd}\``);
  }

  /** `sockstat -4 -P tcp [-p PORT] -s | grep … | grep -c STATE | grep N`: N is matched as grep would (a substring of the count). */
  private sockstat(ev: ScriptEvent, cmd: string, args: string, pipeline: string): void {
    const pm = /-p\s+(\d+)/.exec(args);
    const port = pm ? Number(pm[1]) : null;
    if (!/-4\b/.test(args) || !/-P\s+tcp\b/.test(args) || !/-s\b/.test(args)) throw new Failure(ev.line, `unsupported: \`${cmd}\``);
    const stages = pipeline.split('|').map((x) => x.trim());
    let state: TcpState | null = null;
    let want: string | null = null;
    for (const st of stages) {
      let m: RegExpExecArray | null;
      if (/^grep\s+packetdril$/.test(st)) continue;
      if ((m = /^grep\s+-c\s+([A-Z_0-9]+)$/.exec(st))) {
        state = SOCKSTAT_STATES[m[1]!] ?? null;
        if (!state) throw new Failure(ev.line, `unsupported: sockstat state ${m[1]}`);
      } else if ((m = /^grep\s+(\S+)$/.exec(st)) && state) want = m[1]!;
      else throw new Failure(ev.line, `unsupported: \`${cmd}\``);
    }
    if (!state || want === null) throw new Failure(ev.line, `unsupported: \`${cmd}\``);
    let count = 0;
    if (state === 'CLOSED' || state === 'LISTEN') {
      for (const fd of this.api.fds()) if (this.api.tcpState(fd) === state && (port === null || this.api.boundPort(fd) === port)) count++;
    } else {
      for (const c of this.stack.connections()) {
        if (c.state === state && (port === null || c.localPort === port || c.remotePort === port)) count++;
      }
    }
    if (!String(count).includes(want)) {
      throw new Failure(ev.line, `state check failed: \`${cmd}\`: ${count} connection(s) in ${state}`);
    }
  }

  private code(ev: ScriptEvent, code: string): void {
    const m = /^assert\s+tcpi_state\s*==\s*(TCPI_[A-Z_0-9]+)$/.exec(code.trim());
    if (!m) throw new Failure(ev.line, `unsupported: code block %{ ${code} }%`);
    const want = m[1]!;
    if (!(want in TcpiState)) throw new Failure(ev.line, `unknown state ${want}`);
    const live = this.underTest === null ? undefined : this.fdMap.get(this.underTest);
    const state = live === undefined ? 'CLOSED' : (this.api.tcpState(live) ?? 'CLOSED');
    const got = TCPI_BY_STATE[state];
    if (got !== want) throw new Failure(ev.line, `state mismatch\n    expected: tcpi_state == ${want}\n    actual:   tcpi_state == ${got}`);
  }
}

/** The option bytes before padding (what a script's list encodes to). */
function rawOptionsLen(options: readonly TcpOption[]): number {
  let n = 0;
  for (const o of options) n += tcpOptionLen(o);
  return n;
}

