/**
 * A tiny datagram exchange for the DHCP engines: what the client sends is
 * handed to the server (when it is up and the datagram is for it) and what
 * the server sends to the client, with zero delay, and the virtual clock
 * jumps to the next deadline of either. Both ends are the real engines.
 */
import type { Instant } from '../../src/base/time.ts';
import { ipv4ToString } from '../../src/wire/bytes.ts';
import { dhcpMessageType, parseDhcp } from '../../src/wire/dhcp.ts';
import type { DhcpClient, DhcpClientEvent } from '../../src/services/dhcp-client.ts';
import type { DhcpServer, DhcpServerEvent } from '../../src/services/dhcp-server.ts';
import type { OutDatagram, Step } from '../../src/services/types.ts';

const NAMES = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];

export interface Wire {
  at: Instant;
  from: 'client' | 'server';
  type: string;
  address: string;
  ciaddr: string;
}

export class DhcpWorld {
  now: Instant = 0;
  serverUp = true;
  readonly wire: Wire[] = [];
  readonly clientEvents: Array<DhcpClientEvent & { at: Instant }> = [];
  readonly serverEvents: DhcpServerEvent[] = [];
  private clientDeadline: Instant | null = null;
  private serverDeadline: Instant | null = null;

  constructor(readonly client: DhcpClient, readonly server: DhcpServer, readonly serverAddr: string) {}

  start(): void {
    this.fromClient(this.client.start(this.now));
  }

  /** Applies a client step (e.g. of decline()) and delivers what follows. */
  fromClient(step: Step<DhcpClientEvent>): void {
    this.clientDeadline = step.deadline;
    for (const e of step.events) this.clientEvents.push({ ...e, at: this.now });
    for (const d of step.out) this.send('client', d);
  }

  private fromServer(step: Step<DhcpServerEvent>): void {
    this.serverDeadline = step.deadline;
    this.serverEvents.push(...step.events);
    for (const d of step.out) this.send('server', d);
  }

  private send(from: 'client' | 'server', d: OutDatagram): void {
    const m = parseDhcp(d.payload);
    if (!m.ok) throw new Error('an engine sent an unparsable DHCP message');
    this.wire.push({ at: this.now, from, type: NAMES[dhcpMessageType(m.value) ?? 0] ?? '?', address: d.address, ciaddr: ipv4ToString(m.value.ciaddr) });
    if (from === 'client') {
      if (!this.serverUp) return;
      if (d.address !== '255.255.255.255' && d.address !== this.serverAddr) return;
      this.fromServer(this.server.handle(d.payload, this.now));
    } else {
      this.fromClient(this.client.handle(d.payload, this.now));
    }
  }

  /** Runs timers until `until` (absolute). */
  runUntil(until: Instant): void {
    for (let guard = 0; guard < 100_000; guard++) {
      const c = this.clientDeadline;
      const s = this.serverDeadline;
      const next = c === null ? s : s === null ? c : Math.min(c, s);
      if (next === null || next > until) break;
      this.now = Math.max(this.now, next);
      if (c !== null && c <= this.now) this.fromClient(this.client.poll(this.now));
      if (s !== null && s <= this.now) this.fromServer(this.server.poll(this.now));
    }
    this.now = Math.max(this.now, until);
  }

  types(from?: 'client' | 'server'): string[] {
    return this.wire.filter((w) => from === undefined || w.from === from).map((w) => w.type);
  }
}
