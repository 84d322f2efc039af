/**
 * Per-state test harness (smoltcp style): a Connection driven directly, with
 * the test playing the peer. ISNs sit near 2^32 so that any raw comparison
 * of sequence numbers in the code under test fails a test.
 */
import assert from 'node:assert/strict';
import { Connection, type ConnectionHost } from '../../src/tcp/connection.ts';
import { makeTcpConfig, type TcpConfig } from '../../src/tcp/config.ts';
import type { ConnectionEvent } from '../../src/tcp/events.ts';
import type { TcpRepr, TcpOption } from '../../src/wire/types.ts';
import { ACK, FIN, RST, SYN, PSH } from '../../src/wire/types.ts';
import { flagsToString } from '../../src/wire/tcp.ts';
/** a + n modulo 2^32, unsigned: the form sequence numbers take on the wire (and in these tests). */
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;

export { ACK, FIN, RST, SYN, PSH };
export const LOCAL_ISS = 0xffffff00;
export const REMOTE_ISS = 0xfffffff0;
export const LOCAL = { localAddr: 0x0a000001, localPort: 49152 };
export const REMOTE = { remoteAddr: 0x0a000002, remotePort: 80 };
export const MTU = 1500;

export class TestHost implements ConnectionHost {
  sent: TcpRepr[] = [];
  events: ConnectionEvent[] = [];
  drops: string[] = [];
  iss = LOCAL_ISS;
  transmit(_c: Connection, seg: TcpRepr, _ipEcn?: number): void {
    this.sent.push(seg);
  }
  event(_c: Connection, ev: ConnectionEvent): void {
    this.events.push(ev);
  }
  chooseIss(): number {
    return this.iss;
  }
  drop(_c: Connection, reason: string): void {
    this.drops.push(reason);
  }
  states(): string[] {
    return this.events.filter((e) => e.type === 'state').map((e) => (e as { to: string }).to);
  }
}

/** A connection plus the peer's view of the sequence space. */
export class Fixture {
  readonly host: TestHost;
  readonly conn: Connection;
  now = 0;
  /** The peer's next sequence number (what it will send next). */
  peerSeq = REMOTE_ISS;

  constructor(cfg: Partial<TcpConfig> = {}, host: TestHost = new TestHost()) {
    this.host = host;
    this.conn = new Connection(this.host, makeTcpConfig({ windowScaling: false, ...cfg }), MTU);
  }

  /** The peer sends a segment; defaults: seq = peer's next, ack = our SND.NXT, ACK set, window 65535. */
  peer(p: { flags?: number; seq?: number; ack?: number; window?: number; payload?: Uint8Array | string; options?: TcpOption[]; urgentPointer?: number; at?: number } = {}): TcpRepr[] {
    if (p.at !== undefined) this.now = p.at;
    const flags = p.flags ?? ACK;
    const payload = typeof p.payload === 'string' ? new TextEncoder().encode(p.payload) : (p.payload ?? new Uint8Array(0));
    const seg: TcpRepr = {
      srcPort: REMOTE.remotePort,
      dstPort: LOCAL.localPort,
      seq: (p.seq ?? this.peerSeq) >>> 0,
      ack: (p.ack ?? this.conn.sndNxt) >>> 0,
      flags,
      window: p.window ?? 65535,
      urgentPointer: p.urgentPointer ?? 0,
      options: p.options ?? [],
      payload,
    };
    const before = this.host.sent.length;
    this.conn.onSegment(seg, this.now);
    return this.host.sent.slice(before);
  }

  /** Runs timers at time `at`; returns what was sent. */
  tick(at: number): TcpRepr[] {
    this.now = at;
    const before = this.host.sent.length;
    this.conn.onTimeout(at);
    return this.host.sent.slice(before);
  }

  call<T>(fn: (c: Connection, now: number) => T): { result: T; sent: TcpRepr[] } {
    const before = this.host.sent.length;
    const result = fn(this.conn, this.now);
    return { result, sent: this.host.sent.slice(before) };
  }

  get state(): string {
    return this.conn.state;
  }
}

/** Asserts one segment's flags, seq and ack (PSH ignored unless exact). */
export function expectSeg(seg: TcpRepr | undefined, want: { flags: number; seq?: number; ack?: number; len?: number; exact?: boolean }, label = ''): void {
  assert.ok(seg, `${label}: expected a ${flagsToString(want.flags)} segment, got nothing`);
  const mask = want.exact ? 0xff : 0xff & ~PSH;
  assert.equal(flagsToString(seg.flags & mask), flagsToString(want.flags & mask), `${label}: flags`);
  if (want.seq !== undefined) assert.equal(seg.seq, want.seq >>> 0, `${label}: seq`);
  if (want.ack !== undefined) assert.equal(seg.ack, want.ack >>> 0, `${label}: ack`);
  if (want.len !== undefined) assert.equal(seg.payload.length, want.len, `${label}: payload length`);
}

// ---- Fixture builders: each state reached by real transitions ----------------

export function inListen(cfg?: Partial<TcpConfig>): Fixture {
  const f = new Fixture(cfg);
  f.conn.listen(LOCAL, 0);
  f.conn.remoteAddr = REMOTE.remoteAddr;
  f.conn.remotePort = REMOTE.remotePort;
  return f;
}

export function inSynSent(cfg?: Partial<TcpConfig>): Fixture {
  const f = new Fixture(cfg);
  f.conn.open({ ...LOCAL, ...REMOTE }, LOCAL_ISS, 0);
  return f;
}

export function inSynReceived(cfg?: Partial<TcpConfig>): Fixture {
  const f = inListen(cfg);
  f.peer({ flags: SYN, seq: REMOTE_ISS, ack: 0, options: [{ kind: 'mss', value: 1460 }] });
  f.peerSeq = seqAdd(REMOTE_ISS, 1);
  return f;
}

export function inEstablished(cfg?: Partial<TcpConfig>): Fixture {
  const f = inSynSent(cfg);
  f.peer({ flags: SYN | ACK, seq: REMOTE_ISS, ack: seqAdd(LOCAL_ISS, 1), options: [{ kind: 'mss', value: 1460 }] });
  f.peerSeq = seqAdd(REMOTE_ISS, 1);
  f.host.sent.length = 0;
  return f;
}

export function inFinWait1(cfg?: Partial<TcpConfig>): Fixture {
  const f = inEstablished(cfg);
  f.conn.close(f.now);
  return f;
}

export function inFinWait2(cfg?: Partial<TcpConfig>): Fixture {
  const f = inFinWait1(cfg);
  f.peer({ flags: ACK });
  return f;
}

export function inCloseWait(cfg?: Partial<TcpConfig>): Fixture {
  const f = inEstablished(cfg);
  f.peer({ flags: FIN | ACK });
  f.peerSeq = seqAdd(f.peerSeq, 1);
  return f;
}

export function inLastAck(cfg?: Partial<TcpConfig>): Fixture {
  const f = inCloseWait(cfg);
  f.conn.close(f.now);
  return f;
}

export function inClosing(cfg?: Partial<TcpConfig>): Fixture {
  const f = inFinWait1(cfg);
  // The peer's FIN crosses ours: it does not acknowledge our FIN.
  f.peer({ flags: FIN | ACK, ack: seqAdd(LOCAL_ISS, 1) });
  f.peerSeq = seqAdd(f.peerSeq, 1);
  return f;
}

export function inTimeWait(cfg?: Partial<TcpConfig>): Fixture {
  const f = inFinWait2(cfg);
  f.peer({ flags: FIN | ACK });
  f.peerSeq = seqAdd(f.peerSeq, 1);
  return f;
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (chunks: Uint8Array[]): string => new TextDecoder().decode(concat(chunks));
export function concat(chunks: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
