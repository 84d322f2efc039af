/**
 * The gateway's DNS forwarder (issue 15): the guest's resolver at 10.0.2.3
 * (and fd00::3 with IPv6), as slirp4netns has one. Queries arrive on port 53
 * of the gateway's own stack, UDP and TCP, and go to an upstream resolver
 * through host sockets (node:dgram, node:net); the upstream's answers go back
 * to the guest as they came (NXDOMAIN included, truncated UDP answers still
 * truncated, so the guest retries over TCP), only with the guest's id again.
 *
 * The engine is services/dns-forwarder.ts (sans-I/O) without a cache, so
 * every answer is the upstream's: RFC 1035 §2.2's "recursive service"
 * handed on. Its client side is a UdpService and a synack net.Server bound
 * to the DNS addresses only (a query to 10.0.2.2:53 is forwarded to the
 * host like any other flow); its upstream side is this file's host sockets.
 * The gateway's outbound policy (--allow/--deny) is for the guest's flows:
 * it does not apply to the forwarder's own queries to the upstream.
 */
import * as dgram from 'node:dgram';
import * as nodeNet from 'node:net';
import { readFileSync } from 'node:fs';
import { Rng } from '../base/rng.ts';
import type { Instant } from '../base/time.ts';
import type { Stack } from '../stack/stack.ts';
import type { Driver } from '../api/driver.ts';
import type { SynackNet } from '../api/net.ts';
import type { Server as SynackServer } from '../api/server.ts';
import type { Socket as SynackSocket } from '../api/socket.ts';
import { parseHostPort } from '../api/services.ts';
import { DnsForwarder, type ForwarderStep } from '../services/dns-forwarder.ts';
import { StackTimer, UdpService } from '../services/udp-service.ts';
import { DNS_PORT } from '../wire/dns.ts';
import { formatIpAddr, parseIpAddr, type IpAddr } from '../wire/ipv6.ts';
import { SynackError } from '../errors.ts';

export interface GatewayDnsStats {
  /** Queries relayed to the upstream (over UDP and over TCP). */
  queries: number;
  /** Upstream answers given back to the guest. */
  answers: number;
  /** Queries the upstream did not answer in time: the guest got SERVFAIL (RFC 5625 §6). */
  servfail: number;
  /** Malformed, unmatched or undeliverable messages, and upstream socket errors. */
  failures: number;
}

export interface GatewayDnsOptions {
  stack: Stack;
  driver: Driver;
  net: SynackNet;
  /** The forwarder's own addresses on the gateway's interface (10.0.2.3, fd00::3). */
  addrs: IpAddr[];
  upstream: { address: string; port: number };
  /** Seed of the upstream query ids (RFC 5452 §9.2: unpredictable). */
  seed: number;
  /** An upstream that does not answer in this long: SERVFAIL (default 5000 ms). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * `ADDR[:PORT]` (an IPv6 address in brackets when it has a port:
 * `[::1]:5353`) → the upstream; a typed error for anything else.
 */
export function parseDnsUpstream(text: string): { address: string; port: number } {
  const p = parseHostPort(text, DNS_PORT);
  if (p === null) throw new SynackError('ERR_SYNACK_INVALID_ARG', `not a DNS upstream: ${JSON.stringify(text)} (expected ADDR[:PORT], an IPv6 ADDR in brackets with a port)`);
  // The text form node:dgram reports in rinfo, which the forwarder compares.
  return { address: formatIpAddr(parseIpAddr(p.address)!), port: p.port };
}

/**
 * The first `nameserver` of a resolv.conf text (resolv.conf(5): "nameserver
 * Name server IP address ... If there are multiple servers, the resolver
 * library queries them in the order listed. If no nameserver entries are
 * present, the default is to use the name server on the local machine.").
 */
export function firstNameserver(text: string): string {
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    // A link-local IPv6 server with a zone (fe80::1%eth0) cannot be named here.
    const addr = m[1]!.split('%')[0]!;
    if (parseIpAddr(addr) !== null) return addr;
  }
  return '127.0.0.1';
}

/** The default upstream: the host's first nameserver in /etc/resolv.conf (the gateway runs on the host). */
export function defaultDnsUpstream(path = '/etc/resolv.conf'): string {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // No resolv.conf: the resolver library's default, the local machine.
  }
  return firstNameserver(text);
}

export class GatewayDns {
  readonly forwarder: DnsForwarder;
  readonly upstream: { address: string; port: number };
  private readonly st = { queries: 0, failures: 0 };
  private readonly clients: UdpService[] = [];
  private readonly servers: SynackServer[] = [];
  private readonly clientConns = new Map<number, SynackSocket>();
  /** Per client connection: queries sent upstream and not yet answered, and whether the client has sent its FIN. */
  private readonly clientState = new Map<number, { pending: number; ended: boolean }>();
  private readonly upConns = new Map<number, nodeNet.Socket>();
  private readonly upUdp: dgram.Socket;
  private readonly timer: StackTimer;
  private nextClient = 1;
  private closed = false;

  constructor(private readonly o: GatewayDnsOptions) {
    const { stack } = o;
    this.upstream = o.upstream;
    const v6 = o.upstream.address.includes(':');
    this.upUdp = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    this.upUdp.on('message', (msg, rinfo) => this.apply(this.forwarder.handleUpstreamUdp(msg, { address: rinfo.address, port: rinfo.port }, this.now())));
    this.upUdp.on('error', (err) => {
      this.st.failures++;
      o.log?.(`dns upstream udp: ${err.message}`);
    });
    this.forwarder = new DnsForwarder({
      upstream: o.upstream,
      rng: new Rng(o.seed >>> 0 || 1),
      port: DNS_PORT,
      // No cache: every answer is the upstream's.
      cacheSize: 0,
      ...(o.timeoutMs !== undefined ? { timeout: o.timeoutMs * 1000 } : {}),
    });
    this.timer = new StackTimer(stack, (t) => this.apply(this.forwarder.poll(t)));
    for (const addr of o.addrs) {
      const family = typeof addr === 'number' ? 4 : 6;
      this.clients.push(new UdpService(stack, { port: DNS_PORT, family, address: addr }, (bytes, from, t) => this.apply(this.forwarder.handleClientUdp(bytes, from, t))));
      // RFC 1035 §4.2: "The Internet supports name server access using TCP
      // [RFC-793] on server port 53 (decimal) as well as datagram access
      // using UDP [RFC-768] on UDP port 53 (decimal)." Bound to the DNS
      // address only: port 53 of 10.0.2.2 stays the host's.
      // allowHalfOpen: a client may shut down its sending side after its
      // queries and still read the answers.
      const srv = o.net.createServer({ allowHalfOpen: true }, (s) => this.acceptClient(s));
      srv.on('error', (err: Error) => o.log?.(`dns tcp ${formatIpAddr(addr)}: ${err.message}`));
      srv.listen(DNS_PORT, formatIpAddr(addr));
      this.servers.push(srv);
    }
  }

  private now(): Instant {
    return this.o.stack.clock.now();
  }

  stats(): GatewayDnsStats {
    let dropped = 0;
    for (const n of Object.values(this.forwarder.drops)) dropped += n;
    for (const c of this.clients) for (const n of Object.values(c.drops)) dropped += n;
    return {
      queries: this.st.queries,
      answers: this.forwarder.answered['upstream'] ?? 0,
      servfail: this.forwarder.answered['servfail'] ?? 0,
      failures: this.st.failures + dropped,
    };
  }

  private acceptClient(s: SynackSocket): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    const id = this.nextClient++;
    const state = { pending: 0, ended: false };
    this.clientConns.set(id, s);
    this.clientState.set(id, state);
    s.on('data', (d: Uint8Array) => {
      const step = this.forwarder.handleClientTcp(id, d, this.now());
      // Each query of this connection the engine relays opens one upstream connection.
      for (const a of step.tcp) if (a.type === 'open') state.pending++;
      this.apply(step);
    });
    s.on('error', () => {});
    s.on('end', () => {
      // A client's FIN after its queries (a half-close) still gets their
      // answers, then ours.
      state.ended = true;
      if (state.pending <= 0) s.end();
    });
    s.on('close', () => {
      this.clientConns.delete(id);
      this.clientState.delete(id);
      if (!this.closed) this.apply(this.forwarder.clientTcpClosed(id));
    });
  }

  /** Carries out what the engine asked for: datagrams, TCP actions, its next deadline. */
  private apply(s: ForwarderStep): void {
    if (this.closed) return;
    for (const d of s.out) {
      // The engine's answers keep the upstream's bytes after the id;
      // RFC 1035 §4.2.1: "Messages carried by UDP are restricted to 512
      // bytes (not counting the IP or UDP headers). Longer messages are
      // truncated and the TC bit is set in the header." — an upstream's
      // truncated answer stays so, and the guest asks again over TCP.
      if (d.srcPort === DNS_PORT) {
        // An answer to the guest, from the DNS address of its family.
        const client = this.clients.find((c) => (typeof c.socket.localAddr === 'string') === d.address.includes(':')) ?? this.clients[0]!;
        if (client.send(d) !== null) this.st.failures++;
      } else {
        this.st.queries++;
        this.upUdp.send(d.payload, d.port, d.address, (err) => {
          if (err) this.st.failures++;
        });
      }
    }
    for (const a of s.tcp) {
      if (a.type === 'open') this.openUpstream(a.conn, a.address, a.port, a.data);
      else if (a.type === 'write') this.answerClient(a.conn, a.data);
      else if (a.conn < 0) {
        const c = this.upConns.get(a.conn);
        this.upConns.delete(a.conn);
        c?.destroy();
      } else this.clientConns.get(a.conn)?.end();
    }
    this.timer.set(s.deadline);
    this.o.driver.kick();
  }

  private answerClient(conn: number, data: Uint8Array): void {
    const s = this.clientConns.get(conn);
    const state = this.clientState.get(conn);
    if (!s || !state) return;
    s.write(data);
    state.pending--;
    if (state.ended && state.pending <= 0) s.end();
  }

  private openUpstream(conn: number, address: string, port: number, data: Uint8Array): void {
    this.st.queries++;
    const c = nodeNet.connect({ host: address, port });
    this.upConns.set(conn, c);
    c.on('data', (d: Buffer) => this.apply(this.forwarder.handleUpstreamTcp(conn, d, this.now())));
    c.on('error', (err) => {
      this.st.failures++;
      this.o.log?.(`dns upstream tcp: ${err.message}`);
    });
    // An upstream that closes without answering: the engine's timeout answers SERVFAIL.
    c.on('close', () => {
      if (this.upConns.get(conn) === c) this.upConns.delete(conn);
    });
    c.write(data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.clients) c.close();
    for (const s of this.servers) s.close();
    for (const s of this.clientConns.values()) s.destroy();
    for (const c of this.upConns.values()) c.destroy();
    this.clientConns.clear();
    this.upConns.clear();
    this.timer.dispose();
    this.upUdp.close();
  }
}
