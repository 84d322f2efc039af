/**
 * A small DNS server on the host's loopback for the gateway's DNS tests (the
 * forwarder's upstream; never a real resolver): services/dns-zone.ts over a
 * node:dgram socket and a node:net server on the same port, recording every
 * query and answer it saw.
 */
import * as dgram from 'node:dgram';
import * as nodeNet from 'node:net';
import { DnsZoneServer } from '../../src/services/dns-zone.ts';
import { DnsStreamReader, frameDns } from '../../src/services/dns-stream.ts';
import { DNS_CLASS_IN, DNS_TYPE_A, DNS_TYPE_AAAA, type DnsRecord } from '../../src/wire/dns.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';

export const BIG_COUNT = 40;

export interface TestUpstream {
  port: number;
  host: string;
  /** Every answer sent, with its transport. */
  answers: Array<{ tcp: boolean; bytes: Uint8Array }>;
  udpQueries: number;
  tcpQueries: number;
  /** Stop answering (queries still counted). */
  silent: boolean;
  close(): Promise<void>;
}

/** The zone example.test: www (A 192.0.2.10, AAAA 2001:db8::10), big (40 A records: over 512 bytes, truncated over UDP). */
export function testZone(): DnsZoneServer {
  const records: DnsRecord[] = [
    { name: 'www.example.test', type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 300, data: { kind: 'a', address: parseIpv4Addr('192.0.2.10')! } },
    {
      name: 'www.example.test', type: DNS_TYPE_AAAA, class: DNS_CLASS_IN, ttl: 300,
      data: { kind: 'aaaa', address: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]) },
    },
  ];
  for (let i = 1; i <= BIG_COUNT; i++) {
    records.push({ name: 'big.example.test', type: DNS_TYPE_A, class: DNS_CLASS_IN, ttl: 300, data: { kind: 'a', address: parseIpv4Addr(`198.51.100.${i}`)! } });
  }
  return new DnsZoneServer({ origin: 'example.test', records });
}

export async function startUpstream(host = '127.0.0.1'): Promise<TestUpstream> {
  const zone = testZone();
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, host, () => resolve());
    });
    const port = udp.address().port;
    const up: TestUpstream = {
      port,
      host,
      answers: [],
      udpQueries: 0,
      tcpQueries: 0,
      silent: false,
      close: async () => {},
    };
    udp.on('message', (msg, rinfo) => {
      up.udpQueries++;
      if (up.silent) return;
      const a = zone.handle(msg, false);
      if (a === null) return;
      up.answers.push({ tcp: false, bytes: a });
      udp.send(a, rinfo.port, rinfo.address);
    });
    const socks = new Set<nodeNet.Socket>();
    const tcp = nodeNet.createServer((s) => {
      socks.add(s);
      s.on('close', () => socks.delete(s));
      s.on('error', () => {});
      const r = new DnsStreamReader();
      s.on('data', (d: Buffer) => {
        const msgs = r.push(d);
        if (msgs === null) return s.destroy();
        for (const m of msgs) {
          up.tcpQueries++;
          if (up.silent) continue;
          const a = zone.handle(m, true);
          if (a === null) continue;
          up.answers.push({ tcp: true, bytes: a });
          s.write(frameDns(a));
        }
      });
    });
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, host, () => resolve(true));
    });
    if (!ok) {
      // The TCP port of the same number is taken: another pair.
      udp.close();
      if (attempt > 20) throw new Error('no port free for both UDP and TCP');
      continue;
    }
    up.close = async () => {
      udp.close();
      for (const s of socks) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    };
    return up;
  }
}
