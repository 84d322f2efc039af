/**
 * A synack guest whose Ethernet link is a connection to a gateway's qemu
 * socket (the same framing QEMU's -netdev stream speaks), for the tests.
 */
import * as nodeNet from 'node:net';
import { Network } from '../../src/sim/network.ts';
import { Driver, RealClock } from '../../src/api/driver.ts';
import { createNet, type SynackNet } from '../../src/api/net.ts';
import { addEthernetInterface, type EthernetInterface } from '../../src/stack/ethernet.ts';
import { StreamFrameLink } from '../../src/gateway/stream-link.ts';
import { parseIpv4Addr } from '../../src/wire/bytes.ts';
import { parseIpv6Addr } from '../../src/wire/ipv6.ts';

export interface StreamGuest {
  net: SynackNet;
  eth: EthernetInterface;
  link: StreamFrameLink;
  sock: nodeNet.Socket;
  driver: Driver;
  close(): void;
}

/** A synack guest (10.0.2.100, fd00::100) whose Ethernet link is a connection to the gateway's Unix socket. */
export async function streamGuest(path: string, mtu = 1500): Promise<StreamGuest> {
  const network = new Network({ clock: new RealClock(), seed: 3 });
  const driver = new Driver(network);
  const stack = network.addStack({ name: 'guest' });
  const link = new StreamFrameLink(mtu);
  const eth = addEthernetInterface(stack, {
    mac: 0x020000000100,
    link,
    addrs: [
      { addr: parseIpv4Addr('10.0.2.100')!, prefixLen: 24 },
      { addr: parseIpv6Addr('fd00::100')!, prefixLen: 64 },
    ],
    dadTransmits: 0,
  });
  eth.gatewayV4 = parseIpv4Addr('10.0.2.2');
  link.onBatch = () => driver.kick();
  const sock = nodeNet.connect(path);
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  link.attach(sock);
  return {
    net: createNet({ stack, driver }),
    eth,
    link,
    sock,
    driver,
    close() {
      sock.destroy();
      driver.stop();
    },
  };
}

