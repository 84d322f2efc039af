/**
 * `synack demo`: two stacks on an in-memory hub under a virtual clock open a
 * connection, exchange a message and close it, and the run is drawn as a
 * ladder diagram — one row per segment, as in a textbook figure — with each
 * side's state after the segment, the phases (3-way handshake, data, 4-way
 * close) and a summary of the six flags.
 *
 * `runDemo()` is pure apart from the `out` callback: no I/O, no wall clock.
 * Deterministic: the same options (seed included) print the same bytes.
 *
 * How rows get their states: the demo wraps three kinds of "unit" — a packet
 * arriving at a stack, a stack's timer poll, and a user call (connect, send,
 * read, close, abort). At the end of each unit, segments sent during it get
 * the sender's state, a segment delivered in it gets the receiver's state,
 * and a state change no segment explains (TIME-WAIT expiring) gets a row of
 * its own.
 */
import { concatBytes } from '../wire/bytes.ts';
import { Network } from '../sim/network.ts';
import type { MemoryHub } from '../links/memory.ts';
import type { Stack } from '../stack/stack.ts';
import type { Connection } from '../tcp/connection.ts';
import type { TcpState } from '../tcp/state.ts';
import { seqAdd, seqGe, seqGt, seqLt } from '../tcp/seq.ts';
import { ACK, FIN, PSH, RST, SYN, URG, type TcpRepr } from '../wire/types.ts';
import { flagsToString } from '../wire/tcp.ts';
import { formatTcpOption } from '../wire/pretty.ts';
import { ipv4ToString, parseIpv4Addr } from '../wire/bytes.ts';
import { formatIpAddr, parseIpv6Addr, type IpAddr } from '../wire/ipv6.ts';
import { pcapGlobalHeader, pcapRecord } from '../wire/pcap.ts';

export type Side = 'client' | 'server';
export type Phase = 'handshake' | 'data' | 'close' | 'reset';

export interface DemoOptions {
  /** One-way delay of the hub, milliseconds. */
  delayMs: number;
  /** Probability that a packet is lost, 0..1. */
  loss: number;
  /** Seed for ISNs, ports and losses. */
  seed: number;
  /** Send this many bytes instead of the default message. */
  bytes: number | null;
  simultaneousOpen: boolean;
  simultaneousClose: boolean;
  /** Abortive close: the client sends RST instead of FIN. */
  reset: boolean;
  /** One JSON object per line instead of the ladder. */
  json: boolean;
  /** Raw sequence numbers instead of numbers relative to each side's ISN. */
  absolute: boolean;
  /** ANSI colours. */
  color: boolean;
  /** Language of annotations. */
  lang: 'en' | 'ko';
  /** Show every row (no collapsing of long data runs). */
  full: boolean;
  /** Collect a pcap capture (returned in DemoResult.pcap). */
  pcap: boolean;
  /** Run over IPv6 (client fd00::1, server fd00::2) instead of IPv4. */
  ipv6: boolean;
}

export const DEFAULT_DEMO_OPTIONS: Readonly<DemoOptions> = Object.freeze({
  delayMs: 10,
  loss: 0,
  seed: 1,
  bytes: null,
  simultaneousOpen: false,
  simultaneousClose: false,
  reset: false,
  json: false,
  absolute: false,
  color: false,
  lang: 'en',
  full: false,
  pcap: false,
  ipv6: false,
});

/** The default message of the client. */
export const DEMO_MESSAGE = 'hello, synack';
/** MSL used by the demo: TIME-WAIT lasts 2 × MSL = 1 s instead of 4 minutes. */
export const DEMO_MSL_US = 500_000;
/** The most data `--bytes` accepts. */
export const DEMO_MAX_BYTES = 16 * 1024 * 1024;

/** One segment as it was sent, with what became of it. */
export interface SegmentRow {
  kind: 'segment';
  /** Position in the event log (orders rows and state changes). */
  order: number;
  from: Side;
  to: Side;
  sentUs: number;
  /** Arrival time, or null when it never arrived (lost, or still in flight when the run stopped). */
  arrivedUs: number | null;
  /** The hub dropped it (loss). */
  lost: boolean;
  src: string;
  dst: string;
  tcp: TcpRepr;
  flags: string;
  /** Payload length. */
  len: number;
  /** Sequence space used: payload + SYN + FIN. */
  segLen: number;
  /** seq/ack relative to the sender's / receiver's ISN (null before it is known). */
  relSeq: number | null;
  relAck: number | null;
  /** Advertised window in bytes, window scaling applied. */
  windowBytes: number;
  /** Set when this segment resends sequence space already sent. */
  retransmission: string | null;
  senderState: TcpState;
  receiverStateBefore: TcpState | null;
  receiverState: TcpState | null;
  phase: Phase;
  note: string;
}

/** A state change that no segment explains (a timer), drawn as its own row. */
export interface EventRow {
  kind: 'event';
  order: number;
  side: Side;
  timeUs: number;
  from: TcpState;
  to: TcpState;
  cause: string;
}

export interface StateChange {
  order: number;
  side: Side;
  timeUs: number;
  from: TcpState;
  to: TcpState;
  cause: string;
}

export interface DemoResult {
  /** Both sides reached CLOSED and the script ran to its end. */
  completed: boolean;
  /** Why the run did not complete, if it did not. */
  error: string | null;
  /** Each side's states in order, starting with its initial state. */
  clientStates: TcpState[];
  serverStates: TcpState[];
  rows: SegmentRow[];
  events: EventRow[];
  stateChanges: StateChange[];
  segments: number;
  delivered: number;
  lost: number;
  retransmissions: number;
  endTimeUs: number;
  /** The capture (LINKTYPE_RAW), when `opts.pcap`. */
  pcap: Uint8Array | null;
}

// =============================================================================
// Text
// =============================================================================

interface Messages {
  title: (c: string, s: string, delayMs: number) => string;
  lossLine: (loss: number, seed: number) => string;
  timeWait: (mslMs: number) => string;
  relative: (cIsn: number, sIsn: number) => string;
  absolute: string;
  winNote: string;
  phase: Record<Phase, string>;
  hs: [string, string, string];
  simOpenSyn: string;
  simOpenSynAck: string;
  close: [string, string, string, string];
  close23: string;
  simCloseFin: string;
  ackOfFin: string;
  data: string;
  ackOfData: string;
  windowUpdate: string;
  rst: string;
  retransmission: (kind: string) => string;
  lost: string;
  inFlight: string;
  collapsed: (n: number, what: string) => string;
  timerExpired: (side: Side, from: TcpState, to: TcpState, cause: string) => string;
  summary: string;
  statesOf: (side: Side) => string;
  flagsHead: string;
  flagMeaning: Record<'URG' | 'ACK' | 'PSH' | 'RST' | 'SYN' | 'FIN', string>;
  flagUse: Record<'URG' | 'ACK' | 'PSH' | 'RST' | 'SYN' | 'FIN', (r: FlagStats) => string>;
  segments: (sent: number, c: number, s: number, delivered: number, lost: number) => string;
  retransmissions: (n: number) => string;
  duration: (ms: number) => string;
  incomplete: (why: string) => string;
  payload: (who: Side, text: string) => string;
}

interface FlagStats {
  total: number;
  count: Record<'URG' | 'ACK' | 'PSH' | 'RST' | 'SYN' | 'FIN', number>;
  bySide: Record<'URG' | 'ACK' | 'PSH' | 'RST' | 'SYN' | 'FIN', { client: number; server: number }>;
  firstWithout: number;
  bareSyn: number;
  bareRst: number;
  dataSegments: number;
  rstFrom: Side | null;
}

const EN: Messages = {
  title: (c, s, d) => `synack demo: client ${c} ⇄ server ${s}, one-way delay ${d} ms, virtual clock`,
  lossLine: (loss, seed) => `loss ${(loss * 100).toFixed(loss * 100 < 1 ? 2 : 0)}% per packet, seed ${seed}`,
  timeWait: (ms) => `TIME-WAIT shortened for the demo: MSL = ${ms} ms, so 2×MSL = ${(2 * ms) / 1000} s (RFC 9293: MSL = 2 min)`,
  relative: (c, s) => `seq/ack relative to each side's ISN (client ISN ${c}, server ISN ${s}); --absolute for raw numbers`,
  absolute: 'seq/ack are the raw 32-bit numbers on the wire',
  winNote: 'win = advertised receive window in bytes (window scaling applied); len = payload bytes',
  phase: {
    handshake: '3-way handshake',
    data: 'data transfer',
    close: '4-way close',
    reset: 'abortive close (RST)',
  },
  hs: ['handshake step 1: SYN, "let us synchronize"', 'handshake step 2: SYN+ACK', 'handshake step 3: ACK, connected'],
  simOpenSyn: 'simultaneous open: SYN',
  simOpenSynAck: 'simultaneous open: SYN+ACK',
  close: ['close step 1: FIN, "no more data from me"', 'close step 2: ACK of the FIN', 'close step 3: FIN from the other side', 'close step 4: ACK of the last FIN'],
  close23: 'close steps 2+3: FIN, acknowledging the FIN',
  simCloseFin: 'simultaneous close: FIN',
  ackOfFin: 'ACK of the FIN',
  data: 'data',
  ackOfData: 'ACK of data',
  windowUpdate: 'duplicate ACK',
  rst: 'RST: abort, no TIME-WAIT',
  retransmission: (k) => `retransmission (${k})`,
  lost: 'lost',
  inFlight: 'still in flight when the run stopped',
  collapsed: (n, what) => `… ${n} more segments (${what}) …`,
  timerExpired: (side, from, to, cause) => (from === 'TIME-WAIT' && to === 'CLOSED' ? `${side}: 2×MSL timer expired, TIME-WAIT → CLOSED` : `${side}: ${from} → ${to} (${cause})`),
  summary: 'summary',
  statesOf: (side) => `${side} states`,
  flagsHead: 'the six flags in this run',
  flagMeaning: {
    URG: 'urgent pointer is valid',
    ACK: 'acknowledgment number is valid',
    PSH: 'push: deliver to the application now',
    RST: 'reset: abort the connection',
    SYN: 'synchronize sequence numbers',
    FIN: 'no more data from the sender',
  },
  flagUse: {
    URG: (r) => (r.count.URG ? `${r.count.URG} segment(s) carried urgent data` : 'not used (no urgent data was sent)'),
    ACK: (r) =>
      r.count.ACK === r.total
        ? `on all ${r.total} segments`
        : `on ${r.count.ACK} of ${r.total} segments; not on ${r.bareSyn ? `${r.bareSyn} bare SYN (nothing to acknowledge yet)` : ''}${r.bareSyn && r.bareRst ? ' and ' : ''}${r.bareRst ? `${r.bareRst} bare RST` : ''}`,
    PSH: (r) => (r.count.PSH ? `on ${r.count.PSH} of ${r.dataSegments} data segment(s): the end of each write` : 'not used (no data)'),
    RST: (r) => (r.count.RST ? `${r.count.RST} segment(s), from the ${r.rstFrom}: the connection was torn down at once` : 'not used: the connection closed gracefully'),
    SYN: (r) => `${r.count.SYN} segment(s) (client ${r.bySide.SYN.client}, server ${r.bySide.SYN.server}): each side's ISN, consuming one sequence number`,
    FIN: (r) => (r.count.FIN ? `${r.count.FIN} segment(s) (client ${r.bySide.FIN.client}, server ${r.bySide.FIN.server}): each direction closed by its sender` : 'not used'),
  },
  segments: (n, c, s, d, l) => `segments: ${n} sent (client ${c}, server ${s}), ${d} delivered, ${l} lost`,
  retransmissions: (n) => `retransmissions: ${n}`,
  duration: (ms) => `virtual time elapsed: ${fmtMs(ms)} ms`,
  incomplete: (why) => `the run did not complete: ${why}`,
  payload: (who, text) => `${who} received ${text}`,
};

const KO: Messages = {
  ...EN,
  title: (c, s, d) => `synack demo: 클라이언트 ${c} ⇄ 서버 ${s}, 단방향 지연 ${d} ms, 가상 시계`,
  lossLine: (loss, seed) => `패킷 손실률 ${(loss * 100).toFixed(loss * 100 < 1 ? 2 : 0)}%, seed ${seed}`,
  timeWait: (ms) => `데모를 위해 TIME-WAIT 단축: MSL = ${ms} ms, 2×MSL = ${(2 * ms) / 1000} 초 (RFC 9293: MSL = 2분)`,
  relative: (c, s) => `seq/ack는 각 쪽 ISN 기준 상대값 (클라이언트 ISN ${c}, 서버 ISN ${s}); 원래 값은 --absolute`,
  absolute: 'seq/ack는 전송된 32비트 원래 값',
  winNote: 'win = 수신 윈도우(바이트, window scale 적용); len = 데이터 길이',
  phase: {
    handshake: '3 Way Handshake (연결 수립)',
    data: '데이터 전송',
    close: '4 Way Handshake (연결 해제)',
    reset: 'RST로 강제 종료',
  },
  hs: ['Step 1: SYN (연결 요청)', 'Step 2: SYN+ACK (요청 수락)', 'Step 3: ACK (연결 성립)'],
  simOpenSyn: '동시 연결: SYN',
  simOpenSynAck: '동시 연결: SYN+ACK',
  close: ['Step 1: FIN (종료 요청)', 'Step 2: FIN에 대한 ACK', 'Step 3: 상대편 FIN', 'Step 4: 마지막 FIN에 대한 ACK'],
  close23: 'Step 2+3: FIN과 ACK를 함께',
  simCloseFin: '동시 종료: FIN',
  ackOfFin: 'FIN에 대한 ACK',
  data: '데이터',
  ackOfData: '데이터에 대한 ACK',
  rst: 'RST: 즉시 종료, TIME-WAIT 없음',
  windowUpdate: '중복 ACK',
  retransmission: (k) => `재전송 (${k})`,
  lost: '손실',
  inFlight: '실행이 멈출 때 아직 전송 중',
  collapsed: (n, what) => `… 세그먼트 ${n}개 생략 (${what}) …`,
  timerExpired: (side, from, to, cause) =>
    from === 'TIME-WAIT' && to === 'CLOSED' ? `${side === 'client' ? '클라이언트' : '서버'}: 2×MSL 타이머 만료, TIME-WAIT → CLOSED` : `${side === 'client' ? '클라이언트' : '서버'}: ${from} → ${to} (${cause})`,
  summary: '요약',
  statesOf: (side) => (side === 'client' ? '클라이언트 상태' : '서버 상태'),
  flagsHead: '이번 실행에서 여섯 플래그',
  flagMeaning: {
    URG: '긴급 포인터 유효',
    ACK: '확인 응답 번호 유효',
    PSH: '버퍼링 없이 응용 계층으로 즉시 전달',
    RST: '연결 재설정 (비정상 종료)',
    SYN: '시퀀스 번호 동기화 (연결 요청)',
    FIN: '보낼 데이터가 더 이상 없음 (연결 종료)',
  },
  flagUse: {
    URG: (r) => (r.count.URG ? `세그먼트 ${r.count.URG}개` : '사용 안 함 (긴급 데이터 없음)'),
    ACK: (r) => `세그먼트 ${r.total}개 중 ${r.count.ACK}개`,
    PSH: (r) => (r.count.PSH ? `데이터 세그먼트 ${r.dataSegments}개 중 ${r.count.PSH}개` : '사용 안 함 (데이터 없음)'),
    RST: (r) => (r.count.RST ? `세그먼트 ${r.count.RST}개 (${r.rstFrom === 'client' ? '클라이언트' : '서버'}): 연결을 즉시 끊음` : '사용 안 함: 정상 종료'),
    SYN: (r) => `세그먼트 ${r.count.SYN}개 (클라이언트 ${r.bySide.SYN.client}, 서버 ${r.bySide.SYN.server}): 각자의 ISN`,
    FIN: (r) => (r.count.FIN ? `세그먼트 ${r.count.FIN}개 (클라이언트 ${r.bySide.FIN.client}, 서버 ${r.bySide.FIN.server})` : '사용 안 함'),
  },
  segments: (n, c, s, d, l) => `세그먼트: ${n}개 전송 (클라이언트 ${c}, 서버 ${s}), ${d}개 도착, ${l}개 손실`,
  retransmissions: (n) => `재전송: ${n}`,
  duration: (ms) => `경과한 가상 시간: ${fmtMs(ms)} ms`,
  incomplete: (why) => `실행이 끝나지 않음: ${why}`,
  payload: (who, text) => `${who === 'client' ? '클라이언트' : '서버'} 수신: ${text}`,
};

function fmtMs(ms: number): string {
  return ms.toFixed(1);
}

// =============================================================================
// ANSI
// =============================================================================

interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
  green(s: string): string;
}

function paint(on: boolean): Paint {
  const w = (code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { bold: w('1'), dim: w('2'), red: w('31'), yellow: w('33'), cyan: w('36'), magenta: w('35'), green: w('32') };
}

// =============================================================================
// The run
// =============================================================================

const CLIENT_ADDR4 = parseIpv4Addr('10.0.0.1')!;
const SERVER_ADDR4 = parseIpv4Addr('10.0.0.2')!;
const CLIENT_ADDR6 = parseIpv6Addr('fd00::1')!;
const SERVER_ADDR6 = parseIpv6Addr('fd00::2')!;
const SERVER_PORT = 80;
/** Fixed ports for the simultaneous open. */
const SIM_CLIENT_PORT = 5001;
const SIM_SERVER_PORT = 5002;

type LogEntry =
  | { t: 'row'; row: SegmentRow }
  | { t: 'event'; ev: EventRow }
  | { t: 'state'; ch: StateChange }
  | { t: 'note'; order: number; timeUs: number; side: Side; text: string };

function validate(o: DemoOptions): void {
  const bad = (m: string): never => {
    throw new DemoOptionError(m);
  };
  if (!(Number.isFinite(o.delayMs) && o.delayMs >= 0 && o.delayMs <= 10_000)) bad(`--delay must be a number of milliseconds in 0..10000, got ${o.delayMs}`);
  if (!(Number.isFinite(o.loss) && o.loss >= 0 && o.loss <= 0.9)) bad(`--loss must be a probability in 0..0.9, got ${o.loss}`);
  if (!(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff)) bad(`--seed must be an integer in 0..4294967295, got ${o.seed}`);
  if (o.bytes !== null && !(Number.isInteger(o.bytes) && o.bytes >= 1 && o.bytes <= DEMO_MAX_BYTES)) {
    bad(`--bytes must be an integer in 1..${DEMO_MAX_BYTES}, got ${o.bytes}`);
  }
  if (o.reset && o.simultaneousClose) bad('--reset and --simultaneous-close cannot be combined (one side aborts, so nobody closes)');
}

/** A bad option value (the CLI maps it to exit code 2). */
export class DemoOptionError extends Error {
  override name = 'DemoOptionError';
}

/** Runs the demo and prints it through `out`, one line per call. */
export function runDemo(partial: Partial<DemoOptions>, out: (line: string) => void): DemoResult {
  const o: DemoOptions = { ...DEFAULT_DEMO_OPTIONS, ...partial };
  validate(o);
  const msg = o.lang === 'ko' ? KO : EN;
  const delayUs = Math.round(o.delayMs * 1000);
  const CLIENT_ADDR: IpAddr = o.ipv6 ? CLIENT_ADDR6 : CLIENT_ADDR4;
  const SERVER_ADDR: IpAddr = o.ipv6 ? SERVER_ADDR6 : SERVER_ADDR4;

  const net = new Network({ seed: o.seed });
  const hub: MemoryHub = net.addHub({ impair: { delayUs, loss: o.loss }, checksumOffload: false });
  const tcp = { mslUs: DEMO_MSL_US };
  const stacks: Record<Side, Stack> = {
    client: net.addStack({ name: 'client', tcp }),
    server: net.addStack({ name: 'server', tcp }),
  };
  const other = (s: Side): Side => (s === 'client' ? 'server' : 'client');

  // ---- capture -------------------------------------------------------------
  const pcapChunks: Uint8Array[] = o.pcap ? [pcapGlobalHeader()] : [];
  if (o.pcap) hub.tap = (_from, packet) => pcapChunks.push(pcapRecord(net.clock.now(), packet));

  // ---- state of the log ----------------------------------------------------
  let order = 0;
  const log: LogEntry[] = [];
  const rows: SegmentRow[] = [];
  const events: EventRow[] = [];
  const changes: StateChange[] = [];
  const state: Record<Side, TcpState> = {
    client: 'CLOSED',
    server: o.simultaneousOpen ? 'CLOSED' : 'LISTEN',
  };
  const seqStates: Record<Side, TcpState[]> = { client: [state.client], server: [state.server] };
  const isn: Record<Side, number | null> = { client: null, server: null };
  const wscale: Record<Side, number | null> = { client: null, server: null };
  const sentEnd: Record<Side, number | null> = { client: null, server: null };
  const pendingRtx: Record<Side, string | null> = { client: null, server: null };
  const sentSynAck: Record<Side, boolean> = { client: false, server: false };
  const byBytes = new Map<Uint8Array, SegmentRow>();

  // What happened during the current unit.
  let unitSent: SegmentRow[] = [];
  let unitArrived: { row: SegmentRow; side: Side } | null = null;
  let unitChanges: StateChange[] = [];
  let depth = 0;

  const flush = (): void => {
    for (const r of unitSent) r.senderState = state[r.from];
    if (unitArrived) unitArrived.row.receiverState = state[unitArrived.side];
    for (const side of ['client', 'server'] as const) {
      const mine = unitChanges.filter((c) => c.side === side);
      if (mine.length === 0) continue;
      const explained = unitSent.some((r) => r.from === side) || unitArrived?.side === side;
      if (explained) continue;
      const last = mine[mine.length - 1]!;
      const ev: EventRow = { kind: 'event', order: last.order, side, timeUs: last.timeUs, from: mine[0]!.from, to: last.to, cause: last.cause };
      events.push(ev);
      log.push({ t: 'event', ev });
    }
    unitSent = [];
    unitArrived = null;
    unitChanges = [];
  };
  const unit = <T>(fn: () => T): T => {
    depth++;
    try {
      return fn();
    } finally {
      depth--;
      if (depth === 0) flush();
    }
  };

  // ---- hooks ---------------------------------------------------------------
  for (const side of ['client', 'server'] as const) {
    const stack = stacks[side];
    stack.addHook((ev) => {
      if (ev.type === 'conn') {
        const e = ev.event;
        if (e.type === 'state') {
          if (e.to === state[side]) return; // a spawned TCB entering LISTEN while the listener is in LISTEN
          const ch: StateChange = { order: order++, side, timeUs: ev.time, from: state[side], to: e.to, cause: e.cause };
          state[side] = e.to;
          seqStates[side].push(e.to);
          changes.push(ch);
          unitChanges.push(ch);
          log.push({ t: 'state', ch });
        } else if (e.type === 'retransmit') {
          pendingRtx[side] = e.kind === 'rto' ? 'RTO' : e.kind === 'syn' ? 'SYN timeout' : e.kind === 'fast' ? 'fast retransmit' : e.kind === 'pmtu' ? 'PMTU retransmit' : 'window probe';
        }
        return;
      }
      if (ev.type !== 'segment') return;
      if (ev.dir === 'out') {
        const row = makeRow(side, ev.time, ev.src, ev.dst, ev.tcp);
        if (ev.bytes) byBytes.set(ev.bytes, row);
        rows.push(row);
        unitSent.push(row);
        log.push({ t: 'row', row });
      } else {
        const row = ev.bytes ? byBytes.get(ev.bytes) : undefined;
        if (row) {
          byBytes.delete(ev.bytes!);
          row.arrivedUs = ev.time;
          row.receiverStateBefore = state[side];
          unitArrived = { row, side };
        }
      }
    });
    // Attach by hand so that the receive path and the timer poll become units.
    const port = hub.attach(side === 'client' ? CLIENT_ADDR : SERVER_ADDR);
    stack.addInterface({ addr: side === 'client' ? CLIENT_ADDR : SERVER_ADDR, prefixLen: o.ipv6 ? 64 : 24, link: port });
    const transmit = port.transmit.bind(port);
    port.transmit = (bytes) => {
      const before = hub.stats.lost + hub.stats.queueDrops + hub.stats.unroutable;
      transmit(bytes);
      const row = byBytes.get(bytes);
      if (row && hub.stats.lost + hub.stats.queueDrops + hub.stats.unroutable > before) row.lost = true;
    };
    const recv = port.onReceive!;
    port.onReceive = (bytes) => unit(() => recv(bytes));
    const poll = stack.poll.bind(stack);
    stack.poll = (now) => unit(() => poll(now));
  }

  function makeRow(from: Side, time: number, src: IpAddr, dst: IpAddr, t: TcpRepr): SegmentRow {
    const to = other(from);
    if (t.flags & SYN && isn[from] === null) isn[from] = t.seq;
    if (t.flags & SYN) {
      const ws = t.options.find((x) => x.kind === 'window-scale');
      wscale[from] = ws && ws.kind === 'window-scale' ? Math.min(ws.shift, 14) : null;
    }
    const segLen = t.payload.length + (t.flags & SYN ? 1 : 0) + (t.flags & FIN ? 1 : 0);
    let retransmission: string | null = null;
    const end = seqAdd(t.seq, segLen);
    const prev = sentEnd[from];
    if (segLen > 0 && prev !== null && seqLt(t.seq, prev)) retransmission = pendingRtx[from] ?? 'again';
    // Simultaneous open: the first SYN,ACK re-sends our SYN with the ACK added (RFC 9293 Figure 8).
    if ((t.flags & (SYN | ACK)) === (SYN | ACK) && !sentSynAck[from]) {
      sentSynAck[from] = true;
      if (pendingRtx[from] === null) retransmission = null;
    }
    if (segLen > 0) pendingRtx[from] = null;
    if (segLen > 0 && (prev === null || seqGt(end, prev))) sentEnd[from] = end;
    const scaled = !(t.flags & SYN) && wscale.client !== null && wscale.server !== null;
    const myIsn = isn[from];
    const peerIsn = isn[to];
    return {
      kind: 'segment',
      order: order++,
      from,
      to,
      sentUs: time,
      arrivedUs: null,
      lost: false,
      src: endpointText(src, t.srcPort),
      dst: endpointText(dst, t.dstPort),
      tcp: t,
      flags: flagsToString(t.flags),
      len: t.payload.length,
      segLen,
      relSeq: myIsn === null ? null : (t.seq - myIsn) >>> 0,
      relAck: t.flags & ACK && peerIsn !== null ? (t.ack - peerIsn) >>> 0 : null,
      windowBytes: scaled ? t.window * 2 ** wscale[from]! : t.window,
      retransmission,
      senderState: state[from],
      receiverStateBefore: null,
      receiverState: null,
      phase: 'data',
      note: '',
    };
  }

  // ---- the script ----------------------------------------------------------
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const request = o.bytes === null ? enc.encode(DEMO_MESSAGE) : patternBytes(o.bytes);
  const replyText = o.bytes === null ? `hi, client: got ${request.length} bytes` : `got ${request.length} bytes`;
  const reply = enc.encode(replyText);
  const received: Record<Side, Uint8Array[]> = { client: [], server: [] };
  const receivedLen: Record<Side, number> = { client: 0, server: 0 };
  const conns: Record<Side, Connection | null> = { client: null, server: null };
  let error: string | null = null;

  const act = <T>(fn: () => T): T => unit(fn);
  const drain = (side: Side): void => {
    const c = conns[side];
    if (!c || c.state === 'CLOSED') return;
    if (c.readable() === 0) return;
    for (const chunk of act(() => stacks[side].read(c))) {
      received[side].push(chunk);
      receivedLen[side] += chunk.length;
    }
  };
  const push = (side: Side, data: Uint8Array, sent: { n: number }): void => {
    const c = conns[side];
    if (!c || sent.n >= data.length) return;
    sent.n += act(() => stacks[side].send(c, data.subarray(sent.n)));
  };
  const closedOrGone = (side: Side): boolean => conns[side] === null || conns[side]!.state === 'CLOSED';

  // A runaway exchange (a core bug, or loss too heavy) ends the run instead
  // of printing without end.
  const maxSegments = 1000 + 4 * Math.ceil(request.length / 500);
  const guard = (): void => {
    if (rows.length > maxSegments) throw new Error(`stopped after ${rows.length} segments (limit ${maxSegments}): the exchange did not converge`);
  };
  const runUntil = (pred: () => boolean): void => {
    net.runUntil(() => {
      guard();
      return pred();
    });
  };
  const runUntilIdle = (): void => {
    while (net.step()) guard();
  };

  try {
    if (o.simultaneousOpen) {
      // Both sides call connect() at the same instant, to each other's fixed port.
      conns.client = act(() => stacks.client.connect(SERVER_ADDR, SIM_SERVER_PORT, { localPort: SIM_CLIENT_PORT }));
      conns.server = act(() => stacks.server.connect(CLIENT_ADDR, SIM_CLIENT_PORT, { localPort: SIM_SERVER_PORT }));
    } else {
      stacks.server.listen(SERVER_PORT, { onConnection: (c) => (conns.server = c) });
      conns.client = act(() => stacks.client.connect(SERVER_ADDR, SERVER_PORT));
    }
    runUntil(() => conns.client!.state === 'ESTABLISHED' && conns.server !== null && conns.server.state === 'ESTABLISHED');

    // The client's request, then the server's answer.
    const reqSent = { n: 0 };
    runUntil(() => {
      push('client', request, reqSent);
      drain('server');
      return receivedLen.server >= request.length;
    });
    log.push({ t: 'note', order: order++, timeUs: net.clock.now(), side: 'server', text: describePayload(received.server, request.length, o.bytes === null, dec) });
    const repSent = { n: 0 };
    runUntil(() => {
      push('server', reply, repSent);
      drain('client');
      return receivedLen.client >= reply.length;
    });
    log.push({ t: 'note', order: order++, timeUs: net.clock.now(), side: 'client', text: describePayload(received.client, reply.length, true, dec) });

    if (o.reset) {
      act(() => stacks.client.abort(conns.client!));
    } else if (o.simultaneousClose) {
      act(() => stacks.client.close(conns.client!));
      act(() => stacks.server.close(conns.server!));
    } else {
      act(() => stacks.client.close(conns.client!));
      runUntil(() => conns.server!.state !== 'ESTABLISHED' && conns.server!.state !== 'SYN-RECEIVED');
      if (conns.server!.state === 'CLOSE-WAIT') act(() => stacks.server.close(conns.server!));
    }
    runUntilIdle();
    // A lost RST leaves the server open: its application closes, and the
    // client (with no connection any more) answers the FIN with a RST.
    if (!closedOrGone('server') && (conns.server!.state === 'ESTABLISHED' || conns.server!.state === 'CLOSE-WAIT')) {
      act(() => stacks.server.close(conns.server!));
      runUntilIdle();
    }
    if (!closedOrGone('client') || !closedOrGone('server')) {
      error = `the network went idle with client ${conns.client?.state ?? '-'} and server ${conns.server?.state ?? '-'}`;
    }
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  flush();

  // ---- annotate and print --------------------------------------------------
  annotate(rows, o, msg);
  const result: DemoResult = {
    completed: error === null,
    error,
    clientStates: seqStates.client,
    serverStates: seqStates.server,
    rows,
    events,
    stateChanges: changes,
    segments: rows.length,
    delivered: rows.filter((r) => r.arrivedUs !== null).length,
    lost: rows.filter((r) => r.lost).length,
    retransmissions: rows.filter((r) => r.retransmission !== null).length,
    endTimeUs: net.clock.now(),
    pcap: o.pcap ? concatBytes(pcapChunks) : null,
  };
  const ctx: PrintContext = { o, msg, p: paint(o.color && !o.json), isn, conns, delayMs: o.delayMs, result };
  if (o.json) printJson(log, ctx, out);
  else printLadder(log, ctx, out);
  return result;
}

function patternBytes(n: number): Uint8Array {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = alphabet.charCodeAt(i % alphabet.length);
  return b;
}


function describePayload(chunks: Uint8Array[], expected: number, asText: boolean, dec: TextDecoder): string {
  const all = concatBytes(chunks);
  if (asText) return JSON.stringify(dec.decode(all));
  return `${all.length} bytes${all.length === expected ? '' : ` (expected ${expected})`}`;
}

// =============================================================================
// Annotation: phases and textbook steps
// =============================================================================

function annotate(rows: SegmentRow[], o: DemoOptions, msg: Messages): void {
  const synchronized = (st: TcpState): boolean => st !== 'CLOSED' && st !== 'LISTEN' && st !== 'SYN-SENT' && st !== 'SYN-RECEIVED';
  // Each side's state as the rows go by (sender's after sending, receiver's after receiving).
  const st: Record<Side, TcpState> = { client: 'CLOSED', server: o.simultaneousOpen ? 'CLOSED' : 'LISTEN' };
  let finSeen = false;
  // Sequence number just past each side's FIN, once sent; and the note its FIN got.
  const finEnd: Record<Side, number | null> = { client: null, server: null };
  const finNote: Record<Side, string | null> = { client: null, server: null };
  // The highest sequence number each side has acknowledged, to tell ACKs of new data.
  const acked: Record<Side, number | null> = { client: null, server: null };
  let firstCloser: Side | null = null;
  const used = new Set<string>();
  // A textbook step, marked "(again)" when it repeats without being a retransmission.
  const step = (text: string, r: SegmentRow): string => {
    if (used.has(text) && r.retransmission === null) return `${text} (again)`;
    used.add(text);
    return text;
  };

  for (const r of rows) {
    const f = r.tcp.flags;
    const notes: string[] = [];
    const established = synchronized(st.client) && synchronized(st.server);
    const peer: Side = r.to;
    const ackOfPeerFin = (f & ACK) !== 0 && finEnd[peer] !== null && seqGe(r.tcp.ack, finEnd[peer]!);
    const ackOfNew = (f & ACK) !== 0 && (acked[r.from] === null || seqGt(r.tcp.ack, acked[r.from]!));

    if (f & RST) {
      r.phase = 'reset';
      notes.push(msg.rst);
    } else if (f & SYN) {
      r.phase = 'handshake';
      if (o.simultaneousOpen) notes.push(step(f & ACK ? msg.simOpenSynAck : msg.simOpenSyn, r));
      else notes.push(step(f & ACK ? msg.hs[1] : msg.hs[0], r));
    } else if (f & FIN || finSeen) {
      r.phase = 'close';
    } else if (!established && r.len === 0) {
      r.phase = 'handshake';
    } else {
      r.phase = 'data';
    }

    if (!(f & (SYN | RST))) {
      // Handshake step 3: the ACK of the SYN,ACK (or whatever segment takes
      // its receiver from SYN-RECEIVED to ESTABLISHED).
      const completes = r.receiverStateBefore === 'SYN-RECEIVED' && r.receiverState !== null && r.receiverState !== 'SYN-RECEIVED';
      const bareAckInHandshake = r.phase === 'handshake' && r.len === 0 && st[r.from] === 'ESTABLISHED' && !synchronized(st[peer]);
      if (!o.simultaneousOpen && (completes || bareAckInHandshake)) notes.push(step(msg.hs[2], r));

      if (f & FIN) {
        finSeen = true;
        if (finNote[r.from] !== null) {
          notes.push(r.retransmission === null ? `${finNote[r.from]} (again)` : finNote[r.from]!);
        } else {
          finEnd[r.from] = seqAdd(r.tcp.seq, r.segLen);
          let text: string;
          if (firstCloser === null) {
            firstCloser = r.from;
            text = o.simultaneousClose ? msg.simCloseFin : msg.close[0];
          } else if (o.simultaneousClose && !ackOfPeerFin) {
            text = msg.simCloseFin;
          } else if (ackOfPeerFin && !used.has(msg.close[1])) {
            text = msg.close23;
            used.add(msg.close[1]);
          } else {
            text = msg.close[2];
          }
          finNote[r.from] = text;
          notes.push(step(text, r));
        }
      } else if (ackOfPeerFin && (ackOfNew || r.len === 0)) {
        if (o.simultaneousClose) notes.push(step(msg.ackOfFin, r));
        else if (peer === firstCloser) notes.push(step(msg.close[1], r));
        else notes.push(step(msg.close[3], r));
      }
      if (r.len > 0) notes.push(msg.data);
      else if (notes.length === 0) notes.push(ackOfNew ? msg.ackOfData : msg.windowUpdate);
    }
    if (r.retransmission !== null) notes.push(msg.retransmission(r.retransmission));
    if (r.lost) notes.push(msg.lost);
    else if (r.arrivedUs === null) notes.push(msg.inFlight);
    r.note = notes.join('; ');

    if (f & ACK && (acked[r.from] === null || seqGt(r.tcp.ack, acked[r.from]!))) acked[r.from] = r.tcp.ack;
    st[r.from] = r.senderState;
    if (r.receiverState !== null) st[r.to] = r.receiverState;
  }
}

// =============================================================================
// Output
// =============================================================================

interface PrintContext {
  o: DemoOptions;
  msg: Messages;
  p: Paint;
  isn: Record<Side, number | null>;
  conns: Record<Side, Connection | null>;
  delayMs: number;
  result: DemoResult;
}

const ARROW_W = 23;
const STATE_W = 12;

/** `─────SYN────▶`, `◀──SYN+ACK──`, or a lost one ending in ✗ before it gets there. */
export function drawArrow(label: string, rightward: boolean, lost: boolean, width = ARROW_W): string {
  const text = ` ${label} `;
  const body = Math.max(width - 1, text.length + 2);
  const left = Math.floor((body - text.length) / 2);
  const right = body - text.length - left;
  if (rightward) {
    if (lost) return '─'.repeat(left) + text + '─'.repeat(Math.max(1, right - 3)) + '✗' + ' '.repeat(Math.min(right - 1, 3));
    return '─'.repeat(left) + text + '─'.repeat(right) + '▶';
  }
  if (lost) return ' '.repeat(Math.min(left - 1, 3)) + '✗' + '─'.repeat(Math.max(1, left - 3)) + text + '─'.repeat(right);
  return '◀' + '─'.repeat(left) + text + '─'.repeat(right);
}

/** Terminal columns of `s`: Hangul and CJK ideographs take two. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    w += (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xff00 && c <= 0xff60) ? 2 : 1;
  }
  return w;
}

function pad(s: string, w: number): string {
  const n = displayWidth(s);
  return n >= w ? s : s + ' '.repeat(w - n);
}

/** `addr:port`; an IPv6 address in brackets (RFC 5952 §6). */
function endpointText(a: IpAddr, port: number): string {
  return typeof a === 'string' ? `[${formatIpAddr(a)}]:${port}` : `${formatIpAddr(a)}:${port}`;
}

function padL(s: string, w: number): string {
  return s.length >= w ? s : ' '.repeat(w - s.length) + s;
}

function seqText(r: SegmentRow, absolute: boolean): { seq: string; ack: string } {
  const ack = r.tcp.flags & ACK ? (absolute || r.relAck === null ? String(r.tcp.ack) : String(r.relAck)) : '-';
  const seq = absolute || r.relSeq === null ? String(r.tcp.seq) : String(r.relSeq);
  return { seq, ack };
}

function printLadder(log: LogEntry[], ctx: PrintContext, out: (line: string) => void): void {
  const { o, msg, p, result } = ctx;
  const cEnd = result.rows.find((r) => r.from === 'client')?.src ?? (o.ipv6 ? `[${formatIpAddr(CLIENT_ADDR6)}]` : ipv4ToString(CLIENT_ADDR4));
  const sEnd = result.rows.find((r) => r.from === 'server')?.src ?? endpointText(o.ipv6 ? SERVER_ADDR6 : SERVER_ADDR4, SERVER_PORT);
  out(p.bold(msg.title(cEnd, sEnd, ctx.delayMs)));
  if (o.loss > 0) out(msg.lossLine(o.loss, o.seed));
  out(msg.timeWait(DEMO_MSL_US / 1000));
  out(o.absolute ? msg.absolute : msg.relative(ctx.isn.client ?? 0, ctx.isn.server ?? 0));
  out(msg.winNote);
  out('');

  const seqW = o.absolute ? 10 : 7;
  const head =
    padL('sent ms', 8) + ' ' + padL('arrive', 7) + '  ' + pad('client', STATE_W) + ' ' + pad('', ARROW_W) + ' ' + pad('server', STATE_W) + ' ' +
    padL('seq', seqW) + ' ' + padL('ack', seqW) + ' ' + padL('win', 7) + ' ' + padL('len', 5) + '  note';
  out(p.bold(head));
  const initial = result.clientStates[0]!;
  const initialS = result.serverStates[0]!;
  out(' '.repeat(8 + 1 + 7 + 2) + pad(initial, STATE_W) + ' ' + ' '.repeat(ARROW_W) + ' ' + initialS);

  // Entries to print, in log order; long runs of plain data rows collapse.
  const entries = log.filter((e) => e.t === 'row' || e.t === 'event' || e.t === 'note').sort((a, b) => orderOf(a) - orderOf(b));
  // Rows that change no state, were not lost and are not a FIN, RST or a
  // data retransmission: long runs of these (bulk data and its ACKs, or a
  // SYN,ACK storm) collapse into one line unless --full.
  const quiet = new Set<SegmentRow>();
  {
    const st: Record<Side, TcpState> = { client: initial, server: initialS };
    for (const e of entries) {
      if (e.t === 'event') st[e.ev.side] = e.ev.to;
      if (e.t !== 'row') continue;
      const r = e.row;
      const changed = r.senderState !== st[r.from] || (r.receiverState !== null && r.receiverState !== st[r.to]);
      st[r.from] = r.senderState;
      if (r.receiverState !== null) st[r.to] = r.receiverState;
      const dataRtx = r.retransmission !== null && !(r.tcp.flags & SYN);
      if (!changed && r.arrivedUs !== null && !(r.tcp.flags & (FIN | RST | URG)) && !dataRtx) quiet.add(r);
    }
  }
  const boring = (e: LogEntry): boolean => e.t === 'row' && quiet.has(e.row);
  const KEEP_HEAD = 3;
  const KEEP_TAIL = 2;
  const MIN_RUN = 8;
  let phase: Phase | null = null;
  const prevState: Record<Side, TcpState> = { client: initial, server: initialS };

  let i = 0;
  while (i < entries.length) {
    if (!o.full && boring(entries[i]!)) {
      let j = i;
      while (j < entries.length && boring(entries[j]!)) j++;
      const run = entries.slice(i, j);
      if (run.length >= MIN_RUN) {
        for (const e of run.slice(0, KEEP_HEAD)) printEntry(e);
        const hidden = run.slice(KEEP_HEAD, run.length - KEEP_TAIL).map((e) => (e as { row: SegmentRow }).row);
        out(' '.repeat(18) + p.dim(msg.collapsed(hidden.length, describeRun(hidden))));
        for (const e of run.slice(run.length - KEEP_TAIL)) printEntry(e);
        i = j;
        continue;
      }
    }
    printEntry(entries[i]!);
    i++;
  }

  function stateCell(side: Side, st: TcpState | null): string {
    if (st === null) return p.dim(pad('', STATE_W));
    const changed = st !== prevState[side];
    prevState[side] = st;
    return changed ? p.bold(pad(st, STATE_W)) : p.dim(pad(st, STATE_W));
  }

  function printEntry(e: LogEntry): void {
    if (e.t === 'note') {
      out(' '.repeat(18) + p.green(`» ${msg.payload(e.side, e.text)}`));
      return;
    }
    if (e.t === 'event') {
      const ev = e.ev;
      const cell = (side: Side) => (side === ev.side ? stateCell(side, ev.to) : p.dim(pad(prevState[side], STATE_W)));
      const t = padL(fmtMs(ev.timeUs / 1000), 8) + ' ' + padL('', 7) + '  ';
      out(t + cell('client') + ' ' + pad('', ARROW_W) + ' ' + cell('server') + ' ' + p.yellow(`⏱ ${msg.timerExpired(ev.side, ev.from, ev.to, ev.cause)}`));
      return;
    }
    if (e.t !== 'row') return;
    const r = e.row;
    if (r.phase !== phase) {
      phase = r.phase;
      out(p.bold(`── ${msg.phase[phase]} ` + '─'.repeat(Math.max(4, 60 - msg.phase[phase].length))));
    }
    const lost = r.arrivedUs === null;
    const rightward = r.from === 'client';
    let arrow = drawArrow(r.flags, rightward, lost);
    if (lost || r.tcp.flags & RST) arrow = p.red(arrow);
    else if (r.retransmission) arrow = p.yellow(arrow);
    else arrow = rightward ? p.cyan(arrow) : p.magenta(arrow);
    // Sender state is known at send time; the receiver's only once it arrives.
    const cState = r.from === 'client' ? r.senderState : r.receiverState;
    const sState = r.from === 'server' ? r.senderState : r.receiverState;
    // Print the sender's column first so that "changed" is judged in causal order.
    const cCell = r.from === 'client' ? stateCell('client', cState) : '';
    const sCell = r.from === 'server' ? stateCell('server', sState) : '';
    const cCell2 = r.from === 'client' ? cCell : stateCell('client', cState);
    const sCell2 = r.from === 'server' ? sCell : stateCell('server', sState);
    const { seq, ack } = seqText(r, o.absolute);
    const arrive = r.lost ? '✗' : lost ? '…' : fmtMs(r.arrivedUs! / 1000);
    const note = lost ? p.red(r.note) : r.retransmission ? p.yellow(r.note) : r.note;
    out(
      padL(fmtMs(r.sentUs / 1000), 8) + ' ' + padL(arrive, 7) + '  ' + cCell2 + ' ' + arrow + ' ' + sCell2 + ' ' +
        padL(seq, seqW) + ' ' + padL(ack, seqW) + ' ' + padL(String(r.windowBytes), 7) + ' ' + padL(String(r.len), 5) + '  ' + note,
    );
  }

  // ---- summary -------------------------------------------------------------
  out('');
  out(p.bold(`── ${msg.summary} ` + '─'.repeat(60 - msg.summary.length)));
  out(`${pad(msg.statesOf('client') + ':', 17)} ${result.clientStates.join(' → ')}`);
  out(`${pad(msg.statesOf('server') + ':', 17)} ${result.serverStates.join(' → ')}`);
  out(`${msg.flagsHead}:`);
  const stats = flagStats(result.rows);
  for (const name of ['URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'] as const) {
    out(`  ${name}  ${pad(msg.flagMeaning[name], 40)} ${msg.flagUse[name](stats)}`);
  }
  const byC = result.rows.filter((r) => r.from === 'client').length;
  out(msg.segments(result.segments, byC, result.segments - byC, result.delivered, result.lost));
  out(msg.retransmissions(result.retransmissions));
  out(msg.duration(result.endTimeUs / 1000));
  if (!result.completed) out(p.red(msg.incomplete(result.error ?? '?')));
}

/** "37 PSH+ACK, 3 ACK" for a run of hidden rows, by flags, most frequent first. */
function describeRun(rows: SegmentRow[]): string {
  const byFlags = new Map<string, number>();
  for (const r of rows) {
    const k = r.len > 0 ? 'data' : r.flags;
    byFlags.set(k, (byFlags.get(k) ?? 0) + 1);
  }
  return [...byFlags.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}

function orderOf(e: LogEntry): number {
  switch (e.t) {
    case 'row':
      return e.row.order;
    case 'event':
      return e.ev.order;
    case 'state':
      return e.ch.order;
    case 'note':
      return e.order;
  }
}

function flagStats(rows: SegmentRow[]): FlagStats {
  const names = ['URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'] as const;
  const bits = { URG, ACK, PSH, RST, SYN, FIN };
  const count = { URG: 0, ACK: 0, PSH: 0, RST: 0, SYN: 0, FIN: 0 };
  const bySide = Object.fromEntries(names.map((n) => [n, { client: 0, server: 0 }])) as FlagStats['bySide'];
  let rstFrom: Side | null = null;
  for (const r of rows) {
    for (const n of names) {
      if (r.tcp.flags & bits[n]) {
        count[n]++;
        bySide[n][r.from]++;
      }
    }
    if (r.tcp.flags & RST && rstFrom === null) rstFrom = r.from;
  }
  return {
    total: rows.length,
    count,
    bySide,
    firstWithout: rows.length - count.ACK,
    bareSyn: rows.filter((r) => (r.tcp.flags & (SYN | ACK)) === SYN).length,
    bareRst: rows.filter((r) => (r.tcp.flags & (RST | ACK)) === RST).length,
    dataSegments: rows.filter((r) => r.len > 0).length,
    rstFrom,
  };
}

function printJson(log: LogEntry[], ctx: PrintContext, out: (line: string) => void): void {
  const { result, o } = ctx;
  out(
    JSON.stringify({
      type: 'start',
      client: result.rows.find((r) => r.from === 'client')?.src ?? null,
      server: result.rows.find((r) => r.from === 'server')?.src ?? null,
      delay_ms: o.delayMs,
      loss: o.loss,
      seed: o.seed,
      msl_us: DEMO_MSL_US,
      isn: { client: ctx.isn.client, server: ctx.isn.server },
      initial: { client: result.clientStates[0], server: result.serverStates[0] },
    }),
  );
  const entries = [...log].sort((a, b) => orderOf(a) - orderOf(b));
  for (const e of entries) {
    if (e.t === 'row') {
      const r = e.row;
      out(
        JSON.stringify({
          type: 'segment',
          time_us: r.sentUs,
          arrived_us: r.arrivedUs,
          lost: r.lost,
          in_flight: r.arrivedUs === null && !r.lost,
          from: r.from,
          to: r.to,
          src: r.src,
          dst: r.dst,
          flags: r.flags,
          seq: r.tcp.seq,
          ack: r.tcp.ack,
          rel_seq: r.relSeq,
          rel_ack: r.relAck,
          window: r.tcp.window,
          window_bytes: r.windowBytes,
          urgent_pointer: r.tcp.urgentPointer,
          options: r.tcp.options.map(formatTcpOption),
          len: r.len,
          retransmission: r.retransmission,
          sender_state: r.senderState,
          receiver_state: r.receiverState,
          phase: r.phase,
          note: r.note,
        }),
      );
    } else if (e.t === 'state') {
      const c = e.ch;
      out(JSON.stringify({ type: 'state', time_us: c.timeUs, side: c.side, from: c.from, to: c.to, cause: c.cause }));
    } else if (e.t === 'note') {
      out(JSON.stringify({ type: 'received', time_us: e.timeUs, side: e.side, data: e.text }));
    }
  }
  out(
    JSON.stringify({
      type: 'summary',
      completed: result.completed,
      error: result.error,
      client_states: result.clientStates,
      server_states: result.serverStates,
      segments: result.segments,
      delivered: result.delivered,
      lost: result.lost,
      retransmissions: result.retransmissions,
      flags: flagStats(result.rows).count,
      end_us: result.endTimeUs,
    }),
  );
}
