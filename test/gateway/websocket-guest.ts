/**
 * A synack guest whose Ethernet link is a WebSocket client (the `ws`
 * package) connected to a gateway's WebSocket downstream — one Ethernet
 * frame per binary message, as v86's relay_url speaks — configured by the
 * project's DHCP client. For the tests.
 */
import WebSocket from 'ws';
import { Network } from '../../src/sim/network.ts';
import { Driver, RealClock } from '../../src/api/driver.ts';
import { createNet, type SynackNet } from '../../src/api/net.ts';
import { addEthernetInterface, type EthernetInterface } from '../../src/stack/ethernet.ts';
import type { FrameLink } from '../../src/stack/link.ts';
import { CHECKSUM_FULL } from '../../src/wire/types.ts';
import { DhcpClientHost, type DhcpHostConfig } from '../../src/services/dhcp-host.ts';
import { Rng } from '../../src/base/rng.ts';

export interface WsGuest {
  ws: WebSocket;
  net: SynackNet;
  eth: EthernetInterface;
  driver: Driver;
  /** The DHCP client's first configuration. */
  bound: Promise<DhcpHostConfig>;
  /** Frames the gateway sent that were not binary messages (there must be none). */
  textMessages: number;
  close(): void;
}

/** Connects to `url`; resolves once the WebSocket is open (the DHCP client is started then). */
export async function wsGuest(url: string, mac = 0x020000000100, mtu = 1500): Promise<WsGuest> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  const network = new Network({ clock: new RealClock(), seed: mac % 1000 });
  const driver = new Driver(network);
  const stack = network.addStack({ name: 'ws-guest' });
  const link: FrameLink = {
    mtu,
    checksum: CHECKSUM_FULL,
    onReceive: null,
    transmit(frame) {
      if (ws.readyState === WebSocket.OPEN) ws.send(frame, { binary: true });
    },
  };
  const eth = addEthernetInterface(stack, { mac, link, addrs: [], unconfigured: true, dadTransmits: 0 });
  const g: WsGuest = {
    ws,
    net: createNet({ stack, driver }),
    eth,
    driver,
    bound: null as unknown as Promise<DhcpHostConfig>,
    textMessages: 0,
    close() {
      dhcp.stop();
      ws.terminate();
      driver.stop();
    },
  };
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      g.textMessages++;
      return;
    }
    const f = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
    link.onReceive?.(new Uint8Array(f.buffer, f.byteOffset, f.length));
    driver.kick();
  });
  let resolveBound!: (c: DhcpHostConfig) => void;
  g.bound = new Promise((r) => (resolveBound = r));
  const dhcp = new DhcpClientHost(eth, { rng: new Rng(mac >>> 0), startDelay: false, arpProbe: false, onConfig: (c) => c && resolveBound(c) });
  dhcp.start();
  driver.kick();
  return g;
}
