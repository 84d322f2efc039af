/**
 * Per-connection TCP settings. Every field has its unit and source; the
 * defaults follow Linux where the RFC leaves a choice.
 */
import { SynackError } from '../errors.ts';
import type { Duration } from '../base/time.ts';

export interface TcpConfig {
  /** Receive buffer in bytes; the advertised window never exceeds it. */
  recvBufferBytes: number;
  /** Send buffer in bytes; `send()` accepts at most this much unacknowledged data. */
  sendBufferBytes: number;
  /** Out-of-order bytes held per connection (reassembly), at most; 0 = up to recvBufferBytes. */
  maxOutOfOrderBytes: number;
  /**
   * Out-of-order pieces held per connection, at most. A burst loss of every
   * other segment of a full window needs one piece per segment, so the
   * default allows a 1 MiB window of 1448-byte holes; the byte bound still
   * applies.
   */
  maxOutOfOrderRanges: number;
  /** Offer window scaling (RFC 7323 §2) in our SYN. */
  windowScaling: boolean;
  /** Initial RTO before any RTT sample (RFC 6298 §2.1: 1 second). */
  initialRtoUs: Duration;
  /** Lower bound of the RTO (RFC 6298 §2.4 says 1 s; Linux uses 200 ms). */
  minRtoUs: Duration;
  /** Upper bound of the RTO (RFC 6298 §2.5: at least 60 s). */
  maxRtoUs: Duration;
  /** Added to every RTO after the first (FreeBSD's rexmit_slop, 200 ms there; 0 = RFC 6298 exactly). */
  rtoSlopUs: Duration;
  /** Answer an ACK-bearing segment (e.g. a SYN,ACK) to a listener with a RST (§3.10.7.2); off = drop it silently (FreeBSD). */
  listenAckReset: boolean;
  /** SYN retransmissions before the connection attempt fails (Linux tcp_syn_retries = 6). */
  synRetries: number;
  /**
   * Data retransmissions before the connection is dropped (Linux tcp_retries2 = 15, R2); at a zero
   * window, unanswered zero-window probes (any acceptable ACK resets that count).
   */
  dataRetries: number;
  /**
   * RFC 9293 §3.10.8 user timeout: unacknowledged data older than this aborts the connection; at a
   * zero window, zero-window probes unanswered for this long; 0 = off.
   */
  userTimeoutUs: Duration;
  /** Maximum segment lifetime; TIME-WAIT lasts 2 × MSL (RFC 9293 §3.4.2: MSL = 2 minutes). */
  mslUs: Duration;
  /** Delayed-ACK timeout (RFC 9293 §3.8.6.3 / RFC 5681 §4.2: under 500 ms; Linux 40 ms). */
  delayedAckUs: Duration;
  /** Nagle's algorithm (RFC 9293 §3.7.4) on unless `noDelay`. */
  noDelay: boolean;
  /** Keepalive (RFC 9293 §3.8.4): off by default. */
  keepAlive: boolean;
  /** Idle time before the first keepalive probe (RFC 1122: ≥ 2 hours). */
  keepAliveIdleUs: Duration;
  /** Interval between unanswered keepalive probes (Linux 75 s). */
  keepAliveIntervalUs: Duration;
  /** Unanswered probes before the connection is dropped (Linux 9). */
  keepAliveCount: number;
  /** Initial congestion window in segments (RFC 6928: 10). */
  initialCwndSegments: number;
  /** Fall back to this MSS when the peer sends none (RFC 9293 §3.7.1: 536 for IPv4). */
  defaultMss: number;
  /** RFC 5961 blind-attack mitigations, each on by default. §3: an in-window RST not at RCV.NXT gets a challenge ACK instead of resetting. */
  rfc5961Rst: boolean;
  /** RFC 5961 §4: any SYN in a synchronized state gets a challenge ACK instead of a RST. */
  rfc5961Syn: boolean;
  /** RFC 5961 §5: ACKs below SND.UNA − MAX.SND.WND are dropped with an ACK. */
  rfc5961Ack: boolean;
  /**
   * Which ICMP errors abort a connection in SYN-SENT (RFC 1122 §4.2.3.9 hard
   * errors; in synchronized states every ICMP error is soft, RFC 5461 §4):
   * 'rfc1122' — protocol and port unreachable (ECONNREFUSED); 'freebsd' —
   * those, administratively prohibited (ECONNREFUSED) and TTL exceeded
   * (EHOSTUNREACH), as FreeBSD's net.inet.tcp.icmp_may_rst=1; 'off' — none.
   */
  icmpSynSentErrors: 'off' | 'rfc1122' | 'freebsd';
  /**
   * RFC 5961 §7 per-connection ACK throttling: at most this many challenge
   * ACKs (and replies to unacceptable ACKs and pure ACKs) per
   * `challengeAckIntervalUs` on one connection. Linux: 1 per 500 ms
   * (tcp_invalid_ratelimit); FreeBSD: 5 per second (tcp_ack_war_cnt and
   * tcp_ack_war_time_window). The stack adds its own randomised global limit.
   */
  challengeAckPerConn: number;
  /** The interval of `challengeAckPerConn`. */
  challengeAckIntervalUs: Duration;
  /**
   * Accept a new SYN for a connection in TIME-WAIT when its sequence number
   * is beyond RCV.NXT and a listener exists (RFC 1122 4.2.2.13, as Linux and
   * BSD do). Off: the SYN gets the RFC 9293/5961 challenge ACK.
   */
  timeWaitReuse: boolean;
  /**
   * Round the send and receive buffers up to a multiple of the MSS once it is
   * known (FreeBSD's tcp_mss_update: 65536 → 65700 at MSS 1460).
   */
  roundBuffersToMss: boolean;
  /**
   * Receiver silly-window avoidance (§3.8.6.2.2). 'rfc9293': keep the right
   * edge fixed until it can move by min(buffer/2, MSS). 'bsd': advertise all
   * free space, or 0 while it is under min(buffer/4, MSS) (FreeBSD's
   * tcp_output); both never shrink the window.
   */
  receiverSws: 'rfc9293' | 'bsd';
  /**
   * While our FIN is unacknowledged, send every ACK as FIN,ACK (a FIN
   * retransmission riding on the ACK), as FreeBSD's tcp_outflags do for
   * FIN-WAIT-1, CLOSING and LAST-ACK. RFC 9293 asks for a plain ACK.
   */
  finWithAck: boolean;
  /**
   * Persist limit: drop a connection whose peer keeps a zero window this long while we have data,
   * even if it answers every probe (a resource-management bound; 0 = never).
   */
  persistTimeoutUs: Duration;
  /** User timeout for connection establishment (TCP_KEEPINIT; 0 = only synRetries apply). */
  connectTimeoutUs: Duration;
  /** RFC 1337: ignore RST in TIME-WAIT (off by default: RFC 9293 §3.10.7.4 closes). */
  rfc1337: boolean;
  /** Offer and use RFC 7323 timestamps (RTT measurement, PAWS). */
  timestamps: boolean;
  /** Offer and use RFC 2018 selective acknowledgments. */
  sack: boolean;
  /** Window-scale shift to offer; -1 = the smallest that covers recvBufferBytes (RFC 7323 §2.3: at most 14). */
  windowScaleShift: number;
  /** Byte layout of SYN options: like Linux or like FreeBSD (see tcp/options.ts). */
  optionLayout: 'linux' | 'freebsd';
  /** Explicit Congestion Notification (RFC 3168): offered in our SYN, accepted in a SYN,ACK; off by default. */
  ecn: boolean;
  /** RACK-TLP loss detection with a SACK scoreboard (RFC 8985) when SACK is negotiated. */
  rack: boolean;
  /** Congestion control: CUBIC (RFC 9438, the default as on Linux) or NewReno (RFC 5681/6582). */
  congestionControl: 'cubic' | 'newreno';
}

export const DEFAULT_TCP_CONFIG: Readonly<TcpConfig> = Object.freeze({
  recvBufferBytes: 256 * 1024,
  sendBufferBytes: 256 * 1024,
  maxOutOfOrderBytes: 0,
  maxOutOfOrderRanges: 1024,
  windowScaling: true,
  initialRtoUs: 1_000_000,
  minRtoUs: 200_000,
  maxRtoUs: 120_000_000,
  rtoSlopUs: 0,
  listenAckReset: true,
  synRetries: 6,
  dataRetries: 15,
  userTimeoutUs: 0,
  mslUs: 120_000_000,
  delayedAckUs: 40_000,
  noDelay: false,
  keepAlive: false,
  keepAliveIdleUs: 7_200_000_000,
  keepAliveIntervalUs: 75_000_000,
  keepAliveCount: 9,
  initialCwndSegments: 10,
  defaultMss: 536,
  rfc5961Rst: true,
  rfc5961Syn: true,
  rfc5961Ack: true,
  icmpSynSentErrors: 'rfc1122',
  challengeAckPerConn: 1,
  challengeAckIntervalUs: 500_000,
  timeWaitReuse: true,
  roundBuffersToMss: false,
  receiverSws: 'rfc9293',
  finWithAck: false,
  connectTimeoutUs: 0,
  persistTimeoutUs: 900_000_000,
  rfc1337: false,
  timestamps: true,
  sack: true,
  windowScaleShift: -1,
  optionLayout: 'linux',
  congestionControl: 'cubic',
  rack: true,
  ecn: false,
});

/** deriveTcpConfig's configs, per base config, by the options they were made with. */
const derived = new WeakMap<TcpConfig, Map<string, TcpConfig>>();
/** Distinct option sets kept per base config (the cache starts over beyond). */
const DERIVED_MAX = 64;

/**
 * `makeTcpConfig({ ...base, ...partial })`, made once per base config and
 * set of option values and then shared: options passed with every
 * connection (a gateway's keepalive, a socket's noDelay) cost each
 * connection no TcpConfig of its own (some sixty fields, validated each
 * time). Sharing is safe because a connection never writes its config: one
 * that changes (setNoDelay, setKeepAlive, the buffers that follow the
 * window scale) gets a copy (tcp/user-calls.ts, tcp/negotiation.ts).
 * Options with a value that is not a number, string, boolean, null or
 * undefined are not cached.
 */
export function deriveTcpConfig(base: TcpConfig, partial: Partial<TcpConfig>): TcpConfig {
  let key = '';
  for (const k of Object.keys(partial)) {
    const v = (partial as Record<string, unknown>)[k];
    const t = typeof v;
    if (t !== 'number' && t !== 'string' && t !== 'boolean' && v !== null && v !== undefined) return makeTcpConfig({ ...base, ...partial });
    key += `${k}\u0000${t}\u0000${String(v)}\u0000`;
  }
  let byKey = derived.get(base);
  if (byKey === undefined) derived.set(base, (byKey = new Map()));
  let cfg = byKey.get(key);
  if (cfg === undefined) {
    cfg = makeTcpConfig({ ...base, ...partial });
    if (byKey.size >= DERIVED_MAX) byKey.clear();
    byKey.set(key, cfg);
  }
  return cfg;
}

/** Merges `partial` over the defaults and validates the result once. */
export function makeTcpConfig(partial: Partial<TcpConfig> = {}): TcpConfig {
  const c: TcpConfig = { ...DEFAULT_TCP_CONFIG, ...partial };
  if (c.receiverSws !== 'rfc9293' && c.receiverSws !== 'bsd') {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', "TcpConfig.receiverSws must be 'rfc9293' or 'bsd'");
  }
  const positive: Array<keyof TcpConfig> = [
    'recvBufferBytes',
    'sendBufferBytes',
    'initialRtoUs',
    'minRtoUs',
    'maxRtoUs',
    'mslUs',
    'keepAliveIdleUs',
    'keepAliveIntervalUs',
    'initialCwndSegments',
    'defaultMss',
  ];
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new SynackError('ERR_SYNACK_INVALID_ARG', `TcpConfig.${k} must be a positive number, got ${String(v)}`);
    }
  }
  const nonNegative: Array<keyof TcpConfig> = [
    'maxOutOfOrderBytes',
    'maxOutOfOrderRanges',
    'synRetries',
    'dataRetries',
    'userTimeoutUs',
    'delayedAckUs',
    'keepAliveCount',
    'connectTimeoutUs',
    'rtoSlopUs',
    'persistTimeoutUs',
    'challengeAckPerConn',
    'challengeAckIntervalUs',
  ];
  for (const k of nonNegative) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new SynackError('ERR_SYNACK_INVALID_ARG', `TcpConfig.${k} must be a non-negative number, got ${String(v)}`);
    }
  }
  if (c.recvBufferBytes > 1 << 30) {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', 'TcpConfig.recvBufferBytes must be at most 1 GiB (RFC 7323 §2.3)');
  }
  if (!(Number.isInteger(c.windowScaleShift) && c.windowScaleShift >= -1 && c.windowScaleShift <= 14)) {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', 'TcpConfig.windowScaleShift must be -1 (auto) or 0..14 (RFC 7323 §2.3)');
  }
  if (c.congestionControl !== 'cubic' && c.congestionControl !== 'newreno') {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', "TcpConfig.congestionControl must be 'cubic' or 'newreno'");
  }
  if (c.optionLayout !== 'linux' && c.optionLayout !== 'freebsd') {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', "TcpConfig.optionLayout must be 'linux' or 'freebsd'");
  }
  if (c.minRtoUs > c.maxRtoUs) {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', 'TcpConfig.minRtoUs must not exceed maxRtoUs');
  }
  return c;
}
