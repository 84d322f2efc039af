/**
 * `synack/net` — the node:net-compatible API over synack stacks: `Socket`
 * (a stream.Duplex with backpressure), `Server`, `createNet(host)` for one
 * stack, and `createMemoryNetwork()` for a whole in-memory LAN.
 *
 * On Node it runs on node:stream and node:events; in a browser (the
 * `browser` condition of package.json's "imports" field, `#platform`) on
 * the registry's readable-stream, events and buffer packages — the same
 * code. The core it runs on is `synack/core`.
 */
export { Driver, RealClock, type DriverStats } from './api/driver.ts';
export { createNet, type NetHost, type SynackNet, type NetConnectOpts } from './api/net.ts';
export { Socket, type SocketConstructorOpts, type SocketConnectOpts, type AddressInfo, type LookupFunction } from './api/socket.ts';
export { Server, type ServerOpts, type ListenOptions, type DropInfo } from './api/server.ts';
export { ERRNO, systemError, type SystemError, type SystemErrorCode } from './api/errors.ts';
export { isIP, isIPv4, isIPv6 } from './api/ip.ts';
export {
  createDgram,
  Socket as DgramSocket,
  type DgramHost,
  type SynackDgram,
  type SocketType as DgramSocketType,
  type SocketOptions as DgramSocketOptions,
  type BindOptions as DgramBindOptions,
  type RemoteInfo,
} from './api/dgram.ts';
export {
  createMemoryNetwork,
  type MemoryNetworkOptions,
  type HostOptions,
  type MemoryHost,
  type MemoryNetwork,
} from './api/memory-network.ts';
export {
  createHostServices,
  type HostServices,
  type ServiceHostParts,
  type DnsBox,
  type DhcpOptions,
  type DhcpHandle,
  type DnsForwarderOptions,
  type DnsForwarderHandle,
  type DnsZoneOptions,
  type DnsZoneHandle,
  type ResolverOptions,
} from './api/services.ts';
export type { DhcpHostConfig } from './services/dhcp-host.ts';
export { ping, type PingOptions, type PingResult, type PingReplyInfo } from './api/ping.ts';
