/**
 * `createGateway()`: user-mode networking. A synack stack sits on the
 * guest's Ethernet link (the downstream) with a forwarding interface
 * (stack/forward.ts): every TCP connection and UDP flow the guest starts,
 * to any address, is terminated here and re-created with ordinary host
 * sockets (node:net, node:dgram) — what slirp4netns, pasta and
 * gvisor-tap-vsock do.
 *
 * TCP: the guest's SYN to A:P makes a host connect(A, P) (the gateway
 * address 10.0.2.2 / fd00::2 is the host's 127.0.0.1 / ::1 unless
 * `disableHostLoopback`); only when it succeeds does the guest get its
 * SYN,ACK. Refused → RST (the guest's connect fails with ECONNREFUSED at
 * once); unreachable or timed out → ICMP Destination Unreachable; policy
 * → ICMP administratively prohibited, before any host socket exists. Then
 * the two sockets are piped both ways with allowHalfOpen on both: each
 * direction's backpressure is the other's (a host peer that does not read
 * fills the host socket, which pauses the guest socket, whose connection's
 * receive buffer then closes the guest's window; a guest that does not read
 * fills the synack send buffer, which pauses the host socket), a FIN either
 * way becomes end() on the other side, a reset either way becomes
 * resetAndDestroy() on the other.
 *
 * UDP: each (guest address and port, destination) flow gets a host dgram
 * socket, closed after `udpIdleTimeoutMs` without traffic; replies are sent
 * to the guest from the address and port it sent to.
 *
 * ICMP echo to the gateway's addresses is answered by the stack itself;
 * to any other address it is relayed through an unprivileged host echo
 * socket (gateway/echo-relay.ts, the addon's IcmpSocket).
 *
 * DNS: 10.0.2.3 (and fd00::3) is the gateway's own DNS forwarder
 * (gateway/dns.ts), relaying to `dnsUpstream` over host sockets.
 *
 * IPv6 (`ipv6: true`, off by default as in slirp4netns): fd00::2 and
 * fd00::3 on the guest link, Router Advertisements for fd00::/64 with the
 * MTU and RDNSS fd00::3; with a netns downstream the guest's device also gets
 * fd00::100/64 and a default route via fd00::2.
 *
 * Downstreams: `{ memory }` (a synack guest on an in-memory Ethernet switch,
 * createMemoryNetwork({ ethernet: true })), `{ qemuSocket: PATH }` (a Unix
 * stream socket QEMU's `-netdev stream` connects to; frames with a 4-octet
 * length, gateway/stream-link.ts) and `{ netns: PATH, tap?: NAME }` (like
 * `slirp4netns --configure --netns-type=path PATH NAME`: a TAP device made
 * inside the network namespace at PATH and configured there with the guest's
 * address 10.0.2.100/24, a default route via 10.0.2.2 and the MTU, served
 * from this process's own namespace — links/tap.ts, native/src/tun.cc);
 * with `userns: PATH` too, the namespace is a rootless container's, owned by
 * that user namespace (like slirp4netns --userns-path): no root needed
 * (native/src/netns.cc).
 */
import * as nodeNet from 'node:net';
import * as dgram from 'node:dgram';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Stack } from '../stack/stack.ts';
import type { TcpConfig } from '../tcp/config.ts';
import { addEthernetInterface, type EthernetInterface } from '../stack/ethernet.ts';
import { sendForwardedUnreachable, sendForwardedUdp, type ForwardedDatagram, type TcpForwardRequest } from '../stack/forward.ts';
import type { FrameLink } from '../stack/link.ts';
import { Network } from '../sim/network.ts';
import { formatIpAddr, type IpAddr, type Ipv6Addr } from '../wire/ipv6.ts';
import { parseMac, type MacAddr } from '../wire/ethernet.ts';
import { LINKTYPE_ETHERNET, pcapGlobalHeader, pcapRecord } from '../wire/pcap.ts';
import { Driver, RealClock } from '../api/driver.ts';
import { createNet, type SynackNet } from '../api/net.ts';
import { createDgram, type SynackDgram } from '../api/dgram.ts';
import { SynackError } from '../errors.ts';
import { Policy } from './policy.ts';
import { FRAME_OVERHEAD, StreamFrameLink } from './stream-link.ts';
import { TapLink } from '../links/tap.ts';
import { configureNetnsDevice } from '../links/tun.ts';
import { startGatewayDhcp, type GatewayDhcp } from './dhcp.ts';
import { createWebSocketGateway } from './websocket-gateway.ts';
import { defaultDnsUpstream, GatewayDns, parseDnsUpstream } from './dns.ts';
import { configureNetnsIpv6 } from './netns6.ts';
import type { GatewayMonitor, MonitorOptions } from './monitor.ts';
import { GatewayWatch } from './watch.ts';
import { ConnectGate, keepAliveConfig } from './limits.ts';
import { gatewayEcho } from './echo-relay.ts';
import { nativeHostSocketsAvailable, NativeFlows, type TcpFlow } from './native-flows.ts';
import { NodeFlows, type NodeFlowsContext } from './node-flows.ts';

export * from './options.ts';
import { GATEWAY_DEFAULTS, GATEWAY_TCP_DEFAULTS, parseAddr, resetHostSocket, unreachableFor, type ForwardedConnectionInfo, type Gateway, type GatewayOptions, type GatewayStats } from './options.ts';

interface UdpFlow {
  sock: dgram.Socket;
  timer: NodeJS.Timeout;
  d: ForwardedDatagram;
  target: string;
  port: number;
  /** What the guest sent and received through this flow (the --viz table). */
  datagramsUp: number;
  datagramsDown: number;
  bytesUp: number;
  bytesDown: number;
  /** The host socket is connected to (target, port) — so the kernel reports the ICMP errors it gets (ECONNREFUSED). */
  connected: boolean;
  /** Datagrams of the guest waiting for the connect (at most 64). */
  queue: Uint8Array[];
  /** The guest's latest datagram of the flow: the one an ICMP port unreachable quotes. */
  last: ForwardedDatagram;
}

export function createGateway(opts: GatewayOptions): Gateway {
  const mtu = opts.mtu ?? 1500;
  if (!(Number.isInteger(mtu) && mtu >= 1280 && mtu <= 65520)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `mtu must be 1280..65520, got ${String(mtu)}`);
  if ('websocket' in opts.downstream) return createWebSocketGateway(opts, mtu, createGateway);
  const policy = new Policy(opts.allow, opts.deny);
  const maxConnections = opts.maxConnections ?? 4096;
  const maxUdpFlows = opts.maxUdpFlows ?? 1024;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 20_000;
  const udpIdleMs = opts.udpIdleTimeoutMs ?? 60_000;
  const maxBufferedBytes = opts.maxBufferedBytes ?? 256 * 1024 * 1024;
  const maxPendingConnects = opts.maxPendingConnects ?? 256;
  for (const [name, v] of [['maxBufferedBytes', maxBufferedBytes], ['maxPendingConnects', maxPendingConnects]] as const) {
    if (!(Number.isSafeInteger(v) && v >= 1)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `${name} must be a positive integer, got ${String(v)}`);
  }
  const log = opts.log ?? (() => {});
  const gw4 = parseAddr(GATEWAY_DEFAULTS.gateway4);
  const gw6 = parseAddr(GATEWAY_DEFAULTS.gateway6) as Ipv6Addr;
  const dns4 = parseAddr(GATEWAY_DEFAULTS.dns4);
  const dns6 = parseAddr(GATEWAY_DEFAULTS.dns6) as Ipv6Addr;
  const ipv6 = opts.ipv6 === true;
  let dnsUpstream: { address: string; port: number };
  try {
    dnsUpstream = parseDnsUpstream(opts.dnsUpstream ?? defaultDnsUpstream());
  } catch (e) {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', `dnsUpstream: ${(e as Error).message}`);
  }
  const mac = parseMac(GATEWAY_DEFAULTS.mac) as MacAddr;
  // The DNS address is the gateway's own (it answers ARP and NDP for it), not a host to forward to.
  const addrs = [
    { addr: gw4, prefixLen: 24 },
    { addr: dns4, prefixLen: 24 },
    ...(ipv6 ? [{ addr: gw6, prefixLen: 64 }, { addr: dns6, prefixLen: 64 }] : []),
  ];
  // RFC 4861 §6.2.1 AdvPrefixList with the on-link and autonomous flags
  // (SLAAC for fd00::/64), AdvLinkMTU, and the RDNSS option of RFC 8106
  // §5.1: "One or more 128-bit IPv6 addresses of the recursive DNS
  // servers." — the gateway's own forwarder at fd00::3.
  const router = ipv6 ? { prefixes: [{ prefix: parseAddr('fd00::') as Ipv6Addr, prefixLen: 64 }], mtu, defaultRouter: true, rdnss: [dns6] } : undefined;
  const ethOpts = { mac, ...(router ? { router } : {}), dadTransmits: 0 };

  let network: Network;
  let driver: Driver;
  let stack: Stack;
  let eth: EthernetInterface;
  let link: StreamFrameLink | null = null;
  let tapLink: TapLink | null = null;
  let ownDriver = false;
  const secret = randomBytes(12);
  const tcpCfg: Partial<TcpConfig> = { ...GATEWAY_TCP_DEFAULTS, ...opts.tcp };
  // Forwarded connections toward the guest: with keepalive when asked (gateway/limits.ts).
  const acceptTcp: Partial<TcpConfig> = keepAliveConfig({ tcp: tcpCfg, ...(opts.keepAlive ? { keepAlive: opts.keepAlive } : {}) }) ?? tcpCfg;
  const stackCfg = {
    name: 'gateway',
    isnSecret: [secret.readUInt32LE(0), secret.readUInt32LE(4)] as [number, number],
    portSeed: secret.readUInt32LE(8),
    tcp: tcpCfg,
  };
  const down = opts.downstream;
  if ('memory' in down) {
    const lan = down.memory;
    if (!lan.switch) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'the memory downstream must be an Ethernet network: createMemoryNetwork({ ethernet: true })');
    network = lan.network;
    driver = lan.driver;
    stack = network.addStack(stackCfg);
    eth = network.attachEthernet(stack, lan.switch, addrs, ethOpts);
  } else if ('qemuSocket' in down) {
    network = new Network({ clock: new RealClock() });
    driver = new Driver(network);
    ownDriver = true;
    stack = network.addStack(stackCfg);
    link = new StreamFrameLink(mtu);
    eth = addEthernetInterface(stack, { ...ethOpts, link: link as FrameLink, addrs });
    link.onBatch = () => driver.settle();
  } else if ('frameLink' in down) {
    network = new Network({ clock: new RealClock() });
    driver = new Driver(network);
    ownDriver = true;
    stack = network.addStack(stackCfg);
    eth = addEthernetInterface(stack, { ...ethOpts, link: down.frameLink, addrs });
    const d = driver;
    down.frameLink.onBatch = () => d.settle();
  } else if ('netns' in down) {
    if (typeof down.netns !== 'string' || down.netns === '') throw new SynackError('ERR_SYNACK_INVALID_ARG', 'downstream.netns must be the path of a network namespace');
    if (down.userns !== undefined && (typeof down.userns !== 'string' || down.userns === '')) throw new SynackError('ERR_SYNACK_INVALID_ARG', 'downstream.userns must be the path of a user namespace');
    network = new Network({ clock: new RealClock() });
    driver = new Driver(network);
    ownDriver = true;
    stack = network.addStack(stackCfg);
    const d = driver;
    // The device is created in the namespace (its fd stays bound there) and
    // read from here; closing it (close()) removes it.
    const netns = down.netns;
    const userns = down.userns;
    // What `slirp4netns --configure` does inside the namespace: lo up, the
    // guest's address, MTU, up, default route via the gateway.
    const cfg = { mtu, address: GATEWAY_DEFAULTS.guest4, prefixLen: 24, gateway: GATEWAY_DEFAULTS.gateway4 };
    let t: TapLink | null = null;
    try {
      // With `userns` (a rootless container's namespace) a forked child of
      // the addon joins both namespaces, makes the device, configures it and
      // passes the fd back (native/src/netns.cc); otherwise a thread of this
      // process joins the network namespace for each step (needs root).
      t = new TapLink({ name: down.tap ?? 'tap0', netns, ...(userns !== undefined ? { userns, configure: cfg } : {}), mtu, onBatch: () => d.settle(), onError: (err) => log(`tap: ${err.message}`) });
      eth = addEthernetInterface(stack, { ...ethOpts, link: t as FrameLink, addrs });
      if (userns === undefined) configureNetnsDevice(netns, t.name, cfg);
      if (ipv6) configureNetnsIpv6(netns, t.name, { address: GATEWAY_DEFAULTS.guest6, prefixLen: 64, gateway: GATEWAY_DEFAULTS.gateway6 }, userns);
    } catch (e) {
      t?.close();
      driver.stop();
      throw e;
    }
    tapLink = t;
    // The device keeps the process alive while the gateway serves it.
    tapLink.ref();
  } else {
    throw new SynackError('ERR_SYNACK_INVALID_ARG', 'downstream must be { memory }, { qemuSocket: PATH }, { netns: PATH, tap?: NAME, userns?: PATH }, { websocket: { host, port } } or { frameLink }');
  }

  let pcapOut: WriteStream | null = null;
  if (opts.pcap) {
    pcapOut = createWriteStream(opts.pcap);
    pcapOut.write(pcapGlobalHeader(mtu + FRAME_OVERHEAD, LINKTYPE_ETHERNET));
    const t0 = Date.now() * 1000;
    eth.tap = (_dir, frame) => pcapOut?.write(pcapRecord(t0 + stack.clock.now(), frame));
  }

  const gnet: SynackNet = createNet({ stack, driver });
  const gdgram: SynackDgram = createDgram({ stack, driver });
  const st: Omit<GatewayStats, 'icmp'> = {
    tcp: { requests: 0, opened: 0, published: 0, refused: 0, unreachable: 0, timedOut: 0, denied: 0, limited: 0, cancelled: 0, active: 0, resetsFromGuest: 0, resetsFromHost: 0, bytesUp: 0, bytesDown: 0, memoryLimited: 0, buffered: 0, connecting: 0, connectsWaiting: 0, connectsQueued: 0, connectsHighWater: 0, buffersRecycled: 0 },
    udp: { flows: 0, active: 0, datagramsUp: 0, datagramsDown: 0, denied: 0, limited: 0, dropped: 0, portUnreachable: 0, unreachable: 0 },
    link: link ? link.stats : null,
    tap: null,
    dns: { queries: 0, answers: 0, servfail: 0, failures: 0 },
    driver: driver.stats,
    drops: {},
    dhcp: null,
  };
  const dns = new GatewayDns({
    stack,
    driver,
    net: gnet,
    addrs: ipv6 ? [dns4, dns6] : [dns4],
    upstream: dnsUpstream,
    ...(opts.dnsTimeoutMs !== undefined ? { timeoutMs: opts.dnsTimeoutMs } : {}),
    seed: secret.readUInt32LE(4) ^ secret.readUInt32LE(8),
    log,
  });
  const tcpFlows = new Set<TcpFlow>();
  /** watch() and the viz option (watch.ts): told of each flow when it is spliced. */
  const watching = new GatewayWatch(stack, () => tcpFlows, opts.viz, () => udpFlows.values());
  const udpFlows = new Map<string, UdpFlow>();
  let closed = false;

  /** Where on the host a destination of the guest is: the gateway's own address is the host's loopback. */
  function hostTarget(dst: IpAddr): string | null {
    if (dst === gw4 || (ipv6 && dst === gw6)) return opts.disableHostLoopback ? null : dst === gw4 ? '127.0.0.1' : '::1';
    if (stack.isLocalAddr(dst)) return null;
    return formatIpAddr(dst);
  }

  // The host's loopback addresses the gateway's own are mapped to, parsed once (not per SYN).
  const loop4 = parseAddr('127.0.0.1');
  const loop6 = parseAddr('::1');
  function permitted(dst: IpAddr, target: string): boolean {
    if (!policy.permits(dst)) return false;
    // hostTarget's text: the host's loopback for the gateway's own address, else dst's own (an IPv4 one formats and parses back to itself).
    const t = target === '127.0.0.1' ? loop4 : target === '::1' ? loop6 : typeof dst === 'number' ? dst : parseAddr(target);
    return t === dst || policy.permits(t);
  }

  // ---------------------------------------------------------------------------
  // TCP

  const connectGate = new ConnectGate<{ req: TcpForwardRequest; target: string }>(
    maxPendingConnects,
    // The wait holds what the forwarder holds pending, at most (stack/forward.ts).
    4096,
    (x) => connectHost(x),
    (x) => !closed && x.req.state === 'pending',
  );

  /** Bytes one flow holds in the gateway: both sockets' stream buffers and the synack connection's buffers. */
  function bufferedBytes(): number {
    let n = 0;
    for (const f of tcpFlows) n += f.buffered();
    return n;
  }

  /**
   * bufferedBytes() as the SYN admission check sees it: a sum over every
   * flow, so it is recomputed at most every 10 ms — a burst of SYNs while
   * thousands of connections are open costs one pass, not one per SYN (the
   * cap is a bound on growth, and 10 ms of new connections can add only
   * what they receive meanwhile).
   */
  let bufferedAt = -Infinity;
  let bufferedSeen = 0;
  function bufferedForAdmission(): number {
    const now = stack.clock.now();
    if (now - bufferedAt >= 10_000) {
      bufferedSeen = bufferedBytes();
      bufferedAt = now;
    }
    return bufferedSeen;
  }

  const nativeHost = (opts.hostSockets ?? (nativeHostSocketsAvailable() ? 'native' : 'node')) === 'native';
  // The TAP link lends its large received packets when the native relay is
  // there to give each back once the host socket took its bytes (recycleIn
  // below; the node:net path would only leave them to the GC).
  const lending = nativeHost && (tapLink?.lendLargePackets() ?? false);
  // The host side of forwarded connections: native sockets where the addon
  // has them (native-flows.ts), else node:net (node-flows.ts, which also
  // carries the published ports' connections).
  const flowCtx: NodeFlowsContext = {
    stack,
    net: gnet,
    settle: () => driver.settle(),
    st,
    log,
    acceptTcp: acceptTcp !== tcpCfg ? acceptTcp : undefined,
    connectTimeoutMs,
    connectDone: () => connectGate.done(),
    closing: () => closed,
    // The TAP link writes every frame in the turn it is made (gather views included) and keeps none.
    recycleReads: tapLink !== null,
    ...(lending ? { recycleIn: (v: Uint8Array): boolean => tapLink!.recycle(v) } : {}),
    added: (f) => {
      tcpFlows.add(f);
      st.tcp.active = tcpFlows.size;
    },
    removed: (f) => {
      tcpFlows.delete(f);
      st.tcp.active = tcpFlows.size;
    },
    spliced: (f) => watching.attach(f),
  };
  const native = nativeHost ? new NativeFlows(flowCtx) : null;
  const nodeFlows = new NodeFlows(flowCtx);

  function onTcp(req: TcpForwardRequest): void {
    if (closed) {
      req.reject();
      return;
    }
    st.tcp.requests++;
    const target = hostTarget(req.localAddr);
    // Without `ipv6` the gateway has no IPv6 network: IPv6 flows are refused like denied ones.
    if (target === null || (!ipv6 && typeof req.localAddr === 'string') || !permitted(req.localAddr, target)) {
      st.tcp.denied++;
      req.unreachable('admin');
      driver.kick();
      return;
    }
    if (tcpFlows.size >= maxConnections) {
      st.tcp.limited++;
      req.reject();
      driver.kick();
      return;
    }
    // The memory cap (gateway/limits.ts): at or above it, new connections are refused until the others drain.
    if (bufferedForAdmission() >= maxBufferedBytes) {
      st.tcp.memoryLimited++;
      req.reject();
      driver.kick();
      return;
    }
    // At most maxPendingConnects host connects at once; the rest wait their turn.
    if (connectGate.enter({ req, target }) === 'refused') {
      st.tcp.limited++;
      req.reject();
      driver.kick();
    }
  }

  /** The host connect of a request, once the gate lets it start (it calls connectGate.done() exactly once, when the connect ends). */
  function connectHost({ req, target }: { req: TcpForwardRequest; target: string }): void {
    if (tcpFlows.size >= maxConnections) {
      // It waited its turn while others became connections: the limit holds.
      st.tcp.limited++;
      req.reject();
      driver.kick();
      queueMicrotask(() => connectGate.done());
      return;
    }
    if (native) native.connect(req, target, req.localPort);
    else nodeFlows.connect(req, target);
  }

  // ---------------------------------------------------------------------------
  // Published ports: a host connection or datagram to HOSTADDR:HOSTPORT is
  // opened by the gateway toward the guest's GUESTPORT.

  const publishServers: Array<nodeNet.Server | dgram.Socket> = [];
  const publishReady: Array<Promise<void>> = [];
  for (const p of opts.publish ?? []) {
    const hostAddr = p.hostAddr ?? '127.0.0.1';
    const guestAddr = p.guestAddr ?? (hostAddr.includes(':') ? GATEWAY_DEFAULTS.guest6 : GATEWAY_DEFAULTS.guest4);
    if (p.proto === 'udp') {
      publishReady.push(publishUdp(hostAddr, p.hostPort, guestAddr, p.guestPort));
      continue;
    }
    const srv = nodeNet.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (host) => {
      if (closed || tcpFlows.size >= maxConnections) {
        st.tcp.limited++;
        resetHostSocket(host);
        return;
      }
      const guest = gnet.connect({ host: guestAddr, port: p.guestPort, allowHalfOpen: true });
      const flow = nodeFlows.flow(`${guestAddr}:${p.guestPort}`, `${host.remoteAddress}:${host.remotePort}`, host, guest);
      tcpFlows.add(flow);
      st.tcp.published++;
      st.tcp.active = tcpFlows.size;
      host.once('close', () => {
        tcpFlows.delete(flow);
        st.tcp.active = tcpFlows.size;
      });
      const failed = (): void => {
        // The guest refused or did not answer: the host client sees a reset.
        resetHostSocket(host);
      };
      guest.once('error', failed);
      guest.once('connect', () => {
        guest.off('error', failed);
        nodeFlows.splice(flow);
      });
    });
    publishServers.push(srv);
    publishReady.push(
      new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(p.hostPort, hostAddr, () => {
          srv.off('error', reject);
          resolve();
        });
      }),
    );
  }

  /** A published UDP port: each host peer gets a UDP socket of the gateway's stack toward the guest. */
  function publishUdp(hostAddr: string, hostPort: number, guestAddr: string, guestPort: number): Promise<void> {
    const outer = dgram.createSocket(hostAddr.includes(':') ? 'udp6' : 'udp4');
    publishServers.push(outer);
    const peers = new Map<string, { inner: ReturnType<typeof gdgram.createSocket>; timer: NodeJS.Timeout }>();
    outer.on('message', (msg, rinfo) => {
      const key = `${rinfo.address}|${rinfo.port}`;
      let peer = peers.get(key);
      if (!peer) {
        if (peers.size >= maxUdpFlows) {
          st.udp.limited++;
          return;
        }
        const inner = gdgram.createSocket(guestAddr.includes(':') ? 'udp6' : 'udp4');
        const p = { inner, timer: setTimeout(() => {
          peers.delete(key);
          inner.close();
        }, udpIdleMs) };
        peer = p;
        peers.set(key, p);
        st.udp.flows++;
        inner.on('message', (reply: Buffer) => {
          p.timer.refresh();
          st.udp.datagramsDown++;
          outer.send(reply, rinfo.port, rinfo.address);
        });
        inner.on('error', () => {});
      }
      peer.timer.refresh();
      st.udp.datagramsUp++;
      peer.inner.send(msg, guestPort, guestAddr);
    });
    outer.once('close', () => {
      for (const p of peers.values()) {
        clearTimeout(p.timer);
        p.inner.close();
      }
      peers.clear();
    });
    return new Promise<void>((resolve, reject) => {
      outer.once('error', reject);
      outer.bind(hostPort, hostAddr, () => {
        outer.off('error', reject);
        resolve();
      });
    });
  }

  // ---------------------------------------------------------------------------
  // UDP

  function onUdp(d: ForwardedDatagram): void {
    if (closed) return;
    const key = `${formatIpAddr(d.src)}|${d.srcPort}|${formatIpAddr(d.dst)}|${d.dstPort}`;
    let flow = udpFlows.get(key);
    if (!flow) {
      const target = hostTarget(d.dst);
      if (target === null || (!ipv6 && typeof d.dst === 'string') || !permitted(d.dst, target)) {
        st.udp.denied++;
        return;
      }
      if (udpFlows.size >= maxUdpFlows) {
        st.udp.limited++;
        return;
      }
      const sock = dgram.createSocket(target.includes(':') ? 'udp6' : 'udp4');
      const f: UdpFlow = {
        sock,
        d,
        target,
        port: d.dstPort,
        timer: setTimeout(() => closeUdp(key), udpIdleMs),
        datagramsUp: 0,
        datagramsDown: 0,
        bytesUp: 0,
        bytesDown: 0,
        connected: false,
        queue: [],
        last: d,
      };
      flow = f;
      udpFlows.set(key, f);
      st.udp.flows++;
      st.udp.active = udpFlows.size;
      sock.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') udpRefused(f);
        else log(`udp ${key}: ${err.message}`);
      });
      // Connected, the host socket hears the ICMP port unreachable of a
      // closed destination port as ECONNREFUSED (Linux reports ICMP errors
      // on connected UDP sockets only) — then the guest gets one too.
      sock.connect(f.port, target, (err?: NodeJS.ErrnoException) => {
        if (err) {
          // No route to the destination (ENETUNREACH, …): the guest gets the
          // ICMP Destination Unreachable a router would send; the flow ends.
          st.udp.dropped += f.queue.length;
          f.queue.length = 0;
          log(`udp ${key}: ${err.code ?? err.message}`);
          const kind = unreachableFor(err.code);
          st.udp.unreachable++;
          if (!closed) sendForwardedUnreachable(fw, f.last, kind === 'refused' ? 'port' : kind);
          driver.kick();
          closeUdp(key);
          return;
        }
        f.connected = true;
        for (const q of f.queue.splice(0)) sendUp(f, q);
      });
      sock.on('message', (msg, rinfo) => {
        // Only the peer the guest wrote to answers into this flow.
        if (rinfo.port !== f.port || parseAddr(rinfo.address) !== parseAddr(f.target)) return;
        f.timer.refresh();
        // The reply comes from the address and port the guest sent to.
        if (sendForwardedUdp(fw, f.d.dst, f.d.dstPort, f.d.src, f.d.srcPort, msg) === null) {
          st.udp.datagramsDown++;
          f.datagramsDown++;
          f.bytesDown += msg.length;
        } else st.udp.dropped++;
        driver.kick();
      });
    }
    flow.timer.refresh();
    st.udp.datagramsUp++;
    flow.datagramsUp++;
    flow.bytesUp += d.data.length;
    flow.last = d;
    if (flow.connected) sendUp(flow, d.data);
    else if (flow.queue.length < 64) flow.queue.push(d.data);
    else st.udp.dropped++;
  }

  function sendUp(f: UdpFlow, data: Uint8Array): void {
    f.sock.send(data, (err) => {
      if (!err) return;
      st.udp.dropped++;
      // An earlier datagram's port unreachable, reported at this send.
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') udpRefused(f);
    });
  }

  /** The host's port unreachable for a flow: the guest's datagram gets one too (stack/forward.ts, RFC 1122 §3.2.2.1, RFC 4443 §3.1), rate-limited. */
  function udpRefused(f: UdpFlow): void {
    if (closed) return;
    st.udp.portUnreachable++;
    sendForwardedUnreachable(fw, f.last, 'port');
    driver.kick();
  }

  function closeUdp(key: string): void {
    const f = udpFlows.get(key);
    if (!f) return;
    udpFlows.delete(key);
    clearTimeout(f.timer);
    f.sock.close();
    st.udp.active = udpFlows.size;
  }

  // ---------------------------------------------------------------------------
  // ICMP echo to other destinations: relayed through host echo sockets

  const { relay: echo, onEcho } = gatewayEcho({
    maxFlows: opts.maxEchoFlows ?? 256,
    idleTimeoutMs: opts.echoIdleTimeoutMs ?? 60_000,
    forwarding: () => fw,
    kick: () => driver.kick(),
    isClosed: () => closed,
    // Policy applies before any socket (the gateway's own addresses never
    // come here: the stack answers them); without `ipv6` the guest has no
    // IPv6 network, as for TCP and UDP.
    targetFor: (dst) => {
      const target = hostTarget(dst);
      return target === null || (!ipv6 && typeof dst === 'string') || !permitted(dst, target) ? null : target;
    },
    kindFor: unreachableFor,
    log,
  });

  const fw = stack.enableForwarding(eth.iface, { tcp: onTcp, udp: onUdp, echo: onEcho });

  // DHCP (RFC 2131) on the downstream: the guest's address, router, DNS, MTU.
  const dhcp: GatewayDhcp | null =
    opts.dhcp === false
      ? null
      : startGatewayDhcp(eth, { mtu, gateway: GATEWAY_DEFAULTS.gateway4, dns: GATEWAY_DEFAULTS.dns4, ...(typeof opts.dhcp === 'object' ? { options: opts.dhcp } : {}), log });

  // ---------------------------------------------------------------------------
  // The qemu socket

  let server: nodeNet.Server | null = null;
  let current: nodeNet.Socket | null = null;
  const socketPath = 'qemuSocket' in down ? down.qemuSocket : null;
  let ready: Promise<void> = Promise.resolve();
  if (socketPath !== null && link) {
    const l = link;
    rmSync(socketPath, { force: true });
    server = nodeNet.createServer((s) => {
      if (current && !current.destroyed) {
        // One guest per downstream: a second connection is turned away.
        log('qemu socket: a second connection was refused (one guest at a time)');
        s.destroy();
        return;
      }
      current = s;
      log('qemu socket: guest connected');
      l.attach(s);
      s.on('error', () => {});
    });
    l.onDetach = (why) => {
      log(`qemu socket: guest disconnected (${why})`);
      current = null;
    };
    const srv = server;
    ready = new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(socketPath, () => {
        srv.off('error', reject);
        resolve();
      });
    });
  }

  const allReady = Promise.all([ready, ...publishReady, watching.ready]).then(() => undefined);
  allReady.catch(() => {});

  return {
    stack,
    eth,
    forwarding: fw,
    driver,
    socketPath,
    tap: tapLink,
    dns,
    ready: allReady,
    websocket: null,
    guests: () => [],
    get viz() {
      return watching.server;
    },
    stats(): GatewayStats {
      const gs = connectGate.stats;
      return {
        ...st,
        tcp: { ...st.tcp, buffered: bufferedBytes(), connecting: gs.active, connectsWaiting: gs.waiting, connectsQueued: gs.queued, connectsHighWater: gs.highWater },
        udp: { ...st.udp },
        icmp: { ...echo.stats },
        link: link ? { ...link.stats } : null,
        tap: tapLink ? { ...tapLink.stats, writeErrors: { ...tapLink.stats.writeErrors } } : null,
        dns: dns.stats(),
        driver: { ...driver.stats },
        drops: { ...stack.counters.drops } as Record<string, number>,
        dhcp: dhcp ? { acks: dhcp.acks, bindings: dhcp.host.server.size, drops: { ...dhcp.host.server.drops } as Record<string, number> } : null,
      };
    },
    connections(): ForwardedConnectionInfo[] {
      const out: ForwardedConnectionInfo[] = [];
      for (const f of tcpFlows) {
        const c = f.conn;
        const buffered = f.buffered();
        out.push({ guest: f.guestText, target: f.targetText, state: c ? c.state : 'CONNECTING', bytesUp: f.bytesUp, bytesDown: f.bytesDown, buffered });
      }
      return out;
    },
    watch: (o?: MonitorOptions): GatewayMonitor => watching.watch(o),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await watching.close();
      for (const f of [...tcpFlows]) f.reset();
      native?.close();
      for (const key of [...udpFlows.keys()]) closeUdp(key);
      dhcp?.stop();
      dns.close();
      echo.close();
      connectGate.clear();
      for (const r of [...fw.pending.values()]) r.reject();
      for (const p of publishServers) {
        if (p instanceof nodeNet.Server) p.close();
        else p.close();
      }
      driver.kick();
      if (server) {
        const srv = server;
        current?.destroy();
        await new Promise<void>((resolve) => srv.close(() => resolve()));
        if (socketPath) rmSync(socketPath, { force: true });
      }
      if (pcapOut) {
        const p = pcapOut;
        pcapOut = null;
        await new Promise<void>((resolve) => p.end(() => resolve()));
      }
      if (ownDriver) {
        // Let the resets leave before the driver stops.
        await new Promise<void>((resolve) => setTimeout(resolve, 20));
        driver.stop();
      }
      // Closing the TAP fd removes the device (and the guest's routes through it).
      tapLink?.close();
    },
  };
}
