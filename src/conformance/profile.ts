/**
 * Conformance profiles: named sets of stack settings that a conformance
 * run selects. A profile only chooses values of the stack's ordinary
 * configuration (StackConfig, TcpConfig, the BSD layer's defaults); the
 * behaviour under test is the stack's real code path — nothing here is
 * special-cased for the runner.
 *
 * The `freebsd` profile matches the defaults the FreeBSD tcp-testsuite
 * expects. `gaps` lists the FreeBSD defaults synack cannot express yet.
 *
 * The sysctl table maps each `sysctl -w NAME=VALUE` a script runs onto these
 * settings (SYSCTLS below; README: "sysctl mapping").
 */
import type { TcpConfig } from '../core.ts';
import type { BsdDefaults } from '../bsd/index.ts';

export interface ConformanceProfile {
  name: string;
  description: string;
  /** IP TTL of every packet the stack sends (StackConfig.ttl). */
  ttl: number;
  /** Defaults for every connection (merged over DEFAULT_TCP_CONFIG). */
  tcp: Partial<TcpConfig>;
  /** The BSD layer's kernel-wide defaults (socket buffer sizes, keepalive sysctls…). */
  bsd: Partial<Omit<BsdDefaults, 'tcp'>>;
  /** FreeBSD behaviour this profile would need but the core cannot express yet. */
  gaps: readonly string[];
}

export const FREEBSD_PROFILE: ConformanceProfile = Object.freeze({
  name: 'freebsd',
  description: "FreeBSD 14 defaults as the tcp-testsuite sets them (window 65535, RTO 1 s, RFC 5961 on, RFC 1337 on, recvspace 65536, sendspace 32768)",
  ttl: 64,
  tcp: Object.freeze({
    // net.inet.tcp.recvspace / sendspace (also applied per socket by the BSD layer).
    recvBufferBytes: 65536,
    sendBufferBytes: 32768,
    // net.inet.tcp.rfc1323=1: offer window scaling and timestamps.
    windowScaling: true,
    timestamps: true,
    // FreeBSD derives the shift from kern.ipc.maxsockbuf = 2 MiB: 65535 << 6 covers it.
    windowScaleShift: 6,
    // net.inet.tcp.sack.enable=1.
    sack: true,
    // <mss,nop,wscale,sackOK,TS> in a SYN; a SYN-ACK mirrors the peer's options, EOL-padded.
    optionLayout: 'freebsd',
    // net.inet.tcp.rexmit_initial=1000 (ms).
    initialRtoUs: 1_000_000,
    // net.inet.tcp.rexmit_min = 30 ms, rexmit_slop = 200 ms.
    minRtoUs: 30_000,
    rtoSlopUs: 200_000,
    // tcp_input drops a SYN,ACK to a listening socket without a RST.
    listenAckReset: false,
    // TCPTV_REXMTMAX = 64 s.
    maxRtoUs: 64_000_000,
    // TCP_MAXRXTSHIFT = 12 (data); a SYN is sent 11 times in all before ETIMEDOUT.
    synRetries: 10,
    dataRetries: 12,
    // net.inet.tcp.msl = 30 s (TIME-WAIT = 60 s).
    mslUs: 30_000_000,
    // net.inet.tcp.delacktime = 40 ms.
    delayedAckUs: 40_000,
    // net.inet.tcp.keepidle / keepintvl / keepcnt.
    keepAliveIdleUs: 7_200_000_000,
    keepAliveIntervalUs: 75_000_000,
    keepAliveCount: 8,
    // net.inet.tcp.mssdflt = 536.
    defaultMss: 536,
    initialCwndSegments: 10,
    // net.inet.tcp.insecure_rst=0 / insecure_syn=0.
    rfc5961Rst: true,
    rfc5961Syn: true,
    // net.inet.tcp.icmp_may_rst = 1.
    icmpSynSentErrors: 'freebsd',
    // RFC 5961 §7 per connection: net.inet.tcp.ack_war_cnt=5 per ack_war_timewindow=1000 ms.
    challengeAckPerConn: 5,
    challengeAckIntervalUs: 1_000_000,
    // FreeBSD ignores RST in TIME-WAIT (tcp_twcheck: "RFC 1337").
    rfc1337: true,
    // tcp_mss_update rounds the socket buffers up to a multiple of the MSS.
    roundBuffersToMss: true,
    // tcp_output advertises all free space (or 0 while it is small).
    receiverSws: 'bsd',
    // tcp_outflags: FIN-WAIT-1, CLOSING and LAST-ACK send FIN with every ACK.
    finWithAck: true,
    // With STANDARD defined the scripts expect RFC 9293's challenge ACK for a
    // new SYN in TIME-WAIT, not a reopened connection.
    timeWaitReuse: false,
    // net.inet.tcp.keepinit = 75 s.
    connectTimeoutUs: 75_000_000,
  }),
  bsd: Object.freeze({
    recvSpace: 65536,
    sendSpace: 32768,
    keepInitUs: 75_000_000,
    keepIdleUs: 7_200_000_000,
    keepIntvlUs: 75_000_000,
    keepCnt: 8,
    ttl: 64,
    tos: 0,
  }),
  gaps: Object.freeze([
    'drop_synfin=1, per-socket IP_TTL / IP_TOS, TCP_NOOPT, TCP_MD5SIG, accept-only ECN (ecn.enable=2).',
  ]),
});

export const PROFILES: Readonly<Record<string, ConformanceProfile>> = Object.freeze({ freebsd: FREEBSD_PROFILE });

/** What a sysctl does to the settings of sockets created afterwards. */
export interface SysctlTarget {
  tcp: Partial<TcpConfig>;
  bsd: Partial<Omit<BsdDefaults, 'tcp' | 'listenBacklog'>>;
  /** net.inet.tcp.insecure_rst / insecure_syn (→ tcp.rfc5961Rst / tcp.rfc5961Syn). */
  insecureRst: boolean;
  insecureSyn: boolean;
}

export interface SysctlRule {
  name: string;
  /** What the mapping does, for the README table. */
  doc: string;
  /** Applies `value`; returns null, or a reason why this value is unsupported. */
  apply(value: number, t: SysctlTarget): string | null;
}

const ms = (v: number): number => v * 1000;
const only =
  (ok: readonly number[], why: string) =>
  (v: number): string | null =>
    ok.includes(v) ? null : why;

/** Every sysctl the runner understands. Anything else fails the script as unsupported. */
export const SYSCTLS: readonly SysctlRule[] = [
  {
    name: 'net.inet.tcp.insecure_rst',
    doc: 'RFC 5961 §3 RST checks: TcpConfig.rfc5961Rst = (value == 0).',
    apply: (v, t) => {
      t.insecureRst = v !== 0;
      t.tcp.rfc5961Rst = !t.insecureRst;
      return null;
    },
  },
  {
    name: 'net.inet.tcp.insecure_syn',
    doc: 'RFC 5961 §4 SYN checks: TcpConfig.rfc5961Syn = (value == 0).',
    apply: (v, t) => {
      t.insecureSyn = v !== 0;
      t.tcp.rfc5961Syn = !t.insecureSyn;
      return null;
    },
  },
  { name: 'net.inet.tcp.rexmit_initial', doc: 'TcpConfig.initialRtoUs = value ms.', apply: (v, t) => ((t.tcp.initialRtoUs = ms(v)), null) },
  { name: 'net.inet.tcp.rexmit_min', doc: 'TcpConfig.minRtoUs = value ms.', apply: (v, t) => ((t.tcp.minRtoUs = ms(v)), null) },
  { name: 'net.inet.tcp.rexmit_slop', doc: 'TcpConfig.rtoSlopUs = value ms (added to every RTO after the first).', apply: (v, t) => ((t.tcp.rtoSlopUs = ms(v)), null) },
  { name: 'net.inet.tcp.recvspace', doc: 'BSD default SO_RCVBUF → TcpConfig.recvBufferBytes of new sockets.', apply: (v, t) => ((t.bsd.recvSpace = v), null) },
  { name: 'net.inet.tcp.sendspace', doc: 'BSD default SO_SNDBUF → TcpConfig.sendBufferBytes of new sockets.', apply: (v, t) => ((t.bsd.sendSpace = v), null) },
  { name: 'net.inet.tcp.keepinit', doc: 'BSD default TCP_KEEPINIT (reported by getsockopt; the core has no establishment timer).', apply: (v, t) => ((t.bsd.keepInitUs = ms(v)), null) },
  { name: 'net.inet.tcp.keepidle', doc: 'BSD default TCP_KEEPIDLE → TcpConfig.keepAliveIdleUs.', apply: (v, t) => ((t.bsd.keepIdleUs = ms(v)), null) },
  { name: 'net.inet.tcp.keepintvl', doc: 'BSD default TCP_KEEPINTVL → TcpConfig.keepAliveIntervalUs.', apply: (v, t) => ((t.bsd.keepIntvlUs = ms(v)), null) },
  { name: 'net.inet.tcp.keepcnt', doc: 'BSD default TCP_KEEPCNT → TcpConfig.keepAliveCount.', apply: (v, t) => ((t.bsd.keepCnt = v), null) },
  { name: 'net.inet.tcp.delacktime', doc: 'TcpConfig.delayedAckUs = value ms.', apply: (v, t) => ((t.tcp.delayedAckUs = ms(v)), null) },
  { name: 'net.inet.tcp.msl', doc: 'TcpConfig.mslUs = value ms.', apply: (v, t) => ((t.tcp.mslUs = ms(v)), null) },
  {
    name: 'net.inet.tcp.rfc1323',
    doc: 'TcpConfig.windowScaling and TcpConfig.timestamps = (value ≠ 0).',
    apply: (v, t) => {
      t.tcp.windowScaling = v !== 0;
      t.tcp.timestamps = v !== 0;
      return null;
    },
  },
  { name: 'net.inet.tcp.sack.enable', doc: 'TcpConfig.sack = (value ≠ 0).', apply: (v, t) => ((t.tcp.sack = v !== 0), null) },
  { name: 'net.inet.tcp.ecn.enable', doc: '1 → TcpConfig.ecn (offer and accept ECN, RFC 3168); 0/2 → ecn off (synack has no accept-only mode).', apply: (v, t) => ((t.tcp.ecn = v === 1), null) },
  { name: 'net.inet.tcp.blackhole', doc: '0 only: the core always answers with RST.', apply: only([0], 'blackhole≠0') },
  { name: 'net.inet.tcp.hostcache.purgenow', doc: 'No-op: every script runs on a fresh stack (no host cache).', apply: () => null },
  { name: 'kern.ipc.maxsockbuf', doc: 'No-op at FreeBSD\'s 2097152 (the profile\'s windowScaleShift 6 follows from it); other values unsupported.', apply: only([2097152], 'maxsockbuf≠2097152') },
  { name: 'net.inet.tcp.rexmit_drop_options', doc: '0 only (the core keeps SYN options on retransmission).', apply: only([0], 'rexmit_drop_options=1') },
  { name: 'net.inet.tcp.drop_synfin', doc: '0 only (the core answers SYN+FIN like a SYN).', apply: only([0], 'drop_synfin=1') },
  {
    name: 'net.inet.tcp.icmp_may_rst',
    doc: "TcpConfig.icmpSynSentErrors = 'freebsd' (1: unreachable port/protocol/prohibited and TTL exceeded abort SYN-SENT) or 'off' (0).",
    apply: (v, t) => ((t.tcp.icmpSynSentErrors = v !== 0 ? 'freebsd' : 'off'), null),
  },
  { name: 'net.inet.tcp.syncookies', doc: 'Unsupported (no SYN cookies).', apply: only([0], 'syncookies') },
  { name: 'net.inet.tcp.syncookies_only', doc: '0 only.', apply: only([0], 'syncookies_only=1') },
];

const SYSCTL_BY_NAME = new Map(SYSCTLS.map((r) => [r.name, r]));

/** Applies `sysctl -w NAME=VALUE`; returns null or the reason it is unsupported. */
export function applySysctl(name: string, value: string, t: SysctlTarget): string | null {
  const rule = SYSCTL_BY_NAME.get(name);
  if (!rule) return `unsupported: sysctl ${name}`;
  const v = Number(value);
  if (!Number.isFinite(v)) return `unsupported: sysctl ${name}=${value}`;
  const why = rule.apply(v, t);
  return why === null ? null : `unsupported: sysctl ${name}=${value} (${why})`;
}
