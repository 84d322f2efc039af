/**
 * Helpers of the gateway tests: a gateway on an in-memory Ethernet link with
 * a synack guest (10.0.2.100, fd00::100), host peers on 127.0.0.1 / ::1, and
 * bounded waits (host sockets are real I/O: every wait has a deadline).
 */
import * as nodeNet from 'node:net';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryNetwork, type MemoryHost, type MemoryNetwork } from '../../src/api/memory-network.ts';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/gateway.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { linkLocalFor } from '../../src/wire/ndp.ts';
import type { TcpConfig } from '../../src/tcp/config.ts';

export interface MemorySetup {
  lan: MemoryNetwork;
  gw: Gateway;
  guest: MemoryHost;
  close(): Promise<void>;
}

export function memoryGateway(opts: Omit<GatewayOptions, 'downstream'> = {}, guestTcp?: Partial<TcpConfig>): MemorySetup {
  const lan = createMemoryNetwork({ ethernet: true, seed: 5 });
  const gw = createGateway({ downstream: { memory: lan }, ...opts });
  const guest = lan.host('10.0.2.100', { also: 'fd00::100', mac: '02:00:00:00:01:00', ...(guestTcp ? { tcp: guestTcp } : {}) });
  // What DHCP (option 3) and a Router Advertisement would tell the guest.
  guest.eth!.gatewayV4 = parseIpv4Addr('10.0.2.2');
  guest.eth!.defaultRouter = linkLocalFor(gw.eth.mac);
  lan.driver.kick();
  return {
    lan,
    gw,
    guest,
    async close() {
      await gw.close();
      lan.stop();
    },
  };
}

/**
 * Both host-socket paths of forwarded TCP (GatewayOptions.hostSockets):
 * the addon's native sockets (the default) and node:net (the fallback where
 * the addon is not built). Test suites about forwarded TCP run for each.
 */
export const HOST_SOCKETS = ['native', 'node'] as const;

/** memoryGateway with forwarded TCP on the given host-socket path. */
export function memoryGatewayWith(hostSockets: 'native' | 'node'): typeof memoryGateway {
  return (opts = {}, guestTcp) => memoryGateway({ hostSockets, ...opts }, guestTcp);
}

/** A node:net server on a loopback address; resolves with it and its port. */
export async function hostServer(onConn: (s: nodeNet.Socket) => void, host = '127.0.0.1', opts: nodeNet.ServerOpts = {}): Promise<{ server: nodeNet.Server; port: number; conns: nodeNet.Socket[] }> {
  const conns: nodeNet.Socket[] = [];
  const server = nodeNet.createServer({ allowHalfOpen: true, ...opts }, (s) => {
    conns.push(s);
    // Resets at the end of a test (the gateway closing) are expected; a test that cares listens itself.
    s.on('error', () => {});
    onConn(s);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as nodeNet.AddressInfo).port, conns };
}

/** A loopback port nobody listens on (bound, then closed). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const s = nodeNet.createServer();
  await new Promise<void>((resolve) => s.listen(0, host, resolve));
  const port = (s.address() as nodeNet.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export async function waitFor(what: string, pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until `value()` stops changing over `quietMs` (a stalled transfer), within `ms`. */
export async function waitStalled(what: string, value: () => number, quietMs = 300, ms = 15_000): Promise<number> {
  const end = Date.now() + ms;
  let last = value();
  let since = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 25));
    const v = value();
    if (v !== last) {
      last = v;
      since = Date.now();
    } else if (v > 0 && Date.now() - since >= quietMs) {
      return v;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} to stall (at ${v})`);
  }
}

export function sha256(chunks: Buffer[] | Buffer): string {
  const h = createHash('sha256');
  for (const c of Array.isArray(chunks) ? chunks : [chunks]) h.update(c);
  return h.digest('hex');
}

/** `n` pseudo-random bytes from a seed (deterministic content). */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

/** Every byte of a readable until it ends. */
export function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

/** The two ends of a Unix stream socket in a fresh directory (real sockets, no address): `close()` ends both and removes it. */
export async function unixSocketPair(): Promise<{ near: nodeNet.Socket; far: nodeNet.Socket; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'synack-pair-'));
  const path = join(dir, 's');
  const server = nodeNet.createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<nodeNet.Socket>((r) => server.once('connection', r));
  const far = nodeNet.connect(path);
  far.on('error', () => {});
  const near = await accepted;
  return {
    near,
    far,
    close() {
      far.destroy();
      near.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
