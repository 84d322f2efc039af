/**
 * A tiny virtual network for the DNS engines: a virtual clock with timers,
 * and datagram and TCP routes between a StubResolver, a DnsForwarder and a
 * DnsZoneServer — each a real engine; the routes only move bytes (1 ms per hop).
 */
import type { Instant } from '../../src/base/time.ts';
import { ms } from '../../src/base/time.ts';
import { DnsForwarder } from '../../src/services/dns-forwarder.ts';
import type { ForwarderStep } from '../../src/services/dns-forwarder.ts';
import { DnsStreamReader, frameDns } from '../../src/services/dns-stream.ts';
import { DnsZoneServer } from '../../src/services/dns-zone.ts';
import { StubResolver } from '../../src/services/dns-resolver.ts';
import type { ResolverTransport, TcpAction } from '../../src/services/dns-resolver.ts';
import type { OutDatagram } from '../../src/services/types.ts';

export const CLIENT = { address: '10.0.0.2', port: 5353 };
export const ZONE_ADDR = '10.0.0.53';
export const FWD_ADDR = '10.0.0.1';

export class DnsNet {
  now: Instant = 0;
  private timers: Array<{ at: Instant; seq: number; fn: () => void; dead: boolean }> = [];
  private seq = 0;
  /** Servers that answer (by address). */
  readonly up = new Set<string>([ZONE_ADDR, FWD_ADDR]);
  readonly sent: Array<{ at: Instant; to: string; via: 'udp' | 'tcp' }> = [];
  resolver: StubResolver | null = null;
  forwarder: DnsForwarder | null = null;

  constructor(readonly zone: DnsZoneServer) {}

  at(at: Instant, fn: () => void): () => void {
    const t = { at, seq: this.seq++, fn, dead: false };
    this.timers.push(t);
    return () => { t.dead = true; };
  }

  /** Runs until no timer is left before `until` (and drains microtasks between events). */
  async run(until: Instant): Promise<void> {
    for (let guard = 0; guard < 100_000; guard++) {
      await new Promise((r) => setImmediate(r));
      this.timers = this.timers.filter((t) => !t.dead);
      if (this.timers.length === 0) break;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const t = this.timers[0]!;
      if (t.at > until) break;
      this.timers.shift();
      this.now = Math.max(this.now, t.at);
      t.fn();
    }
    await new Promise((r) => setImmediate(r));
  }

  transport(): ResolverTransport {
    return {
      now: () => this.now,
      setTimer: (at, fn) => this.at(at, fn),
      sendUdp: (d) => this.resolverUdp(d),
      tcp: (a) => this.resolverTcp(a),
    };
  }

  private resolverUdp(d: OutDatagram): void {
    this.sent.push({ at: this.now, to: d.address, via: 'udp' });
    if (!this.up.has(d.address)) return;
    this.at(this.now + ms(1), () => {
      if (d.address === ZONE_ADDR) {
        const r = this.zone.handle(d.payload);
        if (r !== null) this.at(this.now + ms(1), () => this.resolver!.receiveUdp(r, { address: ZONE_ADDR, port: 53 }));
      } else if (d.address === FWD_ADDR && this.forwarder) {
        this.applyFwd(this.forwarder.handleClientUdp(d.payload, CLIENT, this.now));
      }
    });
  }

  /** TCP from the resolver: the zone server reads framed queries and answers, the reply arriving in two pieces. */
  private resolverTcp(a: TcpAction): void {
    if (a.type !== 'open') return;
    this.sent.push({ at: this.now, to: a.address, via: 'tcp' });
    if (!this.up.has(a.address)) {
      this.at(this.now + ms(1), () => this.resolver!.tcpClosed(a.conn));
      return;
    }
    this.at(this.now + ms(2), () => {
      if (a.address === ZONE_ADDR) {
        const msgs = new DnsStreamReader().push(a.data)!;
        const r = frameDns(this.zone.handle(msgs[0]!, true)!);
        this.resolver!.receiveTcp(a.conn, r.subarray(0, 1));
        this.at(this.now + ms(1), () => this.resolver!.receiveTcp(a.conn, r.subarray(1)));
      } else if (a.address === FWD_ADDR && this.forwarder) {
        this.applyFwd(this.forwarder.handleClientTcp(a.conn, a.data, this.now), a.conn);
      }
    });
  }

  fwdTimer: (() => void) | null = null;

  applyFwd(s: ForwarderStep, clientConn?: number): void {
    const f = this.forwarder!;
    for (const d of s.out) {
      if (d.address === ZONE_ADDR) {
        this.sent.push({ at: this.now, to: ZONE_ADDR, via: 'udp' });
        if (!this.up.has(ZONE_ADDR)) continue;
        this.at(this.now + ms(1), () => {
          const r = this.zone.handle(d.payload);
          if (r !== null) this.at(this.now + ms(1), () => this.applyFwd(f.handleUpstreamUdp(r, { address: ZONE_ADDR, port: 53 }, this.now)));
        });
      } else if (d.address === CLIENT.address) {
        this.at(this.now + ms(1), () => this.resolver!.receiveUdp(d.payload, { address: FWD_ADDR, port: 53 }));
      }
    }
    for (const a of s.tcp) {
      if (a.type === 'open') {
        this.sent.push({ at: this.now, to: a.address, via: 'tcp' });
        this.at(this.now + ms(1), () => {
          const msgs = new DnsStreamReader().push(a.data)!;
          const r = frameDns(this.zone.handle(msgs[0]!, true)!);
          this.applyFwd(f.handleUpstreamTcp(a.conn, r, this.now));
        });
      } else if (a.type === 'write') {
        this.at(this.now + ms(1), () => this.resolver!.receiveTcp(a.conn, a.data));
      }
    }
    this.fwdTimer?.();
    this.fwdTimer = s.deadline === null ? null : this.at(s.deadline, () => this.applyFwd(f.poll(this.now)));
    void clientConn;
  }
}
