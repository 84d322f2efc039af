/**
 * UDP datagrams per second, one direction, in bursts: the sender sends a
 * burst of BURST datagrams, the receiver counts them, the next burst goes
 * when the last one has arrived (or, for the kernel, when the burst's time
 * is up — loopback may drop). Three figures:
 *  - synack core: two stacks on the in-memory hub (virtual clock, zero
 *    delay), sendUdp and the socket queue directly;
 *  - synack host.dgram: the node:dgram-compatible API on a memory network
 *    (virtual time), messages counted in 'message' events;
 *  - node:dgram over 127.0.0.1 in this process (the reference).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { Network } from '../src/sim/network.ts';
import { UdpSocket } from '../src/udp/table.ts';
import { sendUdp } from '../src/stack/udp.ts';
import { createMemoryNetwork } from '../src/api/memory-network.ts';
import { nowSec } from './lib.ts';

export const UDP_BURST = 64;

export interface UdpResult {
  datagrams: number;
  seconds: number;
  perSec: number;
}

export function synackUdpCore(count: number, size: number): UdpResult {
  const net = new Network({ seed: 3 });
  const hub = net.addHub({ mtu: 1500 });
  const a = net.addStack({ name: 'a' });
  const b = net.addStack({ name: 'b' });
  net.attach(a, hub, 0x0a000001);
  net.attach(b, hub, 0x0a000002);
  const tx = new UdpSocket(4);
  a.udp.bind(tx, 0, 0);
  const rx = new UdpSocket(4);
  b.udp.bind(rx, 0, 9);
  rx.rcvbuf = 1 << 30;
  const data = new Uint8Array(size);
  let got = 0;
  const t0 = nowSec();
  while (got < count) {
    for (let i = 0; i < UDP_BURST; i++) sendUdp(a, tx, 0x0a000002, 9, data);
    net.runUntilIdle();
    while (rx.shift()) got++;
  }
  const seconds = nowSec() - t0;
  return { datagrams: got, seconds, perSec: got / seconds };
}

interface DgramLike {
  createSocket(type: 'udp4'): dgram.Socket;
}

async function apiRun(mod: { tx: DgramLike; rx: DgramLike; host: string }, count: number, size: number): Promise<UdpResult> {
  const rx = mod.rx.createSocket('udp4');
  rx.bind(0, mod.host);
  await once(rx, 'listening');
  const port = rx.address().port;
  const tx = mod.tx.createSocket('udp4');
  tx.connect(port, mod.host);
  await once(tx, 'connect');
  const data = Buffer.alloc(size);
  let got = 0;
  let waiting: (() => void) | null = null;
  let target = 0;
  rx.on('message', () => {
    got++;
    if (got >= target && waiting) waiting();
  });
  const t0 = nowSec();
  let sent = 0;
  while (sent < count) {
    target = got + UDP_BURST;
    for (let i = 0; i < UDP_BURST; i++) tx.send(data);
    sent += UDP_BURST;
    // A lost datagram (the kernel may drop on loopback) must not stall the run.
    await new Promise<void>((r) => {
      const t = setTimeout(r, 50);
      waiting = () => {
        clearTimeout(t);
        waiting = null;
        r();
      };
    });
  }
  const seconds = nowSec() - t0;
  tx.close();
  rx.close();
  return { datagrams: got, seconds, perSec: got / seconds };
}

export async function synackUdpApi(count: number, size: number): Promise<UdpResult> {
  const lan = createMemoryNetwork({ seed: 3, virtualTime: true });
  const a = lan.host('10.0.0.1');
  const b = lan.host('10.0.0.2');
  try {
    return await apiRun({ tx: a.dgram as unknown as DgramLike, rx: b.dgram as unknown as DgramLike, host: '10.0.0.2' }, count, size);
  } finally {
    lan.stop();
  }
}

export function nodeUdp(count: number, size: number): Promise<UdpResult> {
  return apiRun({ tx: dgram, rx: dgram, host: '127.0.0.1' }, count, size);
}
