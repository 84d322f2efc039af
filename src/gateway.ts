/**
 * `synack/gateway` — user-mode networking: `createGateway({ downstream, … })`
 * terminates every TCP connection and UDP flow a guest (a VM on QEMU's
 * `-netdev stream`, a network namespace, v86 over a WebSocket, or a synack
 * stack on an in-memory Ethernet link) makes, and re-creates it with host
 * sockets; its DNS forwarder answers at 10.0.2.3.
 * Node only (node:net, node:dgram).
 */
export {
  createGateway,
  GATEWAY_DEFAULTS,
  unreachableFor,
  parsePublish,
  type PublishSpec,
  type Gateway,
  type GatewayOptions,
  type GatewayDownstream,
  type GatewayStats,
  type ForwardedConnectionInfo,
} from './gateway/gateway.ts';
export { GatewayDns, parseDnsUpstream, firstNameserver, defaultDnsUpstream, type GatewayDnsStats } from './gateway/dns.ts';
export type { GatewayMonitor, MonitorOptions, MonitorRow, MonitorDetail, MonitorSegment, MonitorTransition, MonitorStats, MonitorState } from './gateway/monitor.ts';
export { serveGatewayViz, type GatewayVizOptions, type GatewayVizServer } from './gateway/viz-server.ts';
export { Policy, parseCidr, cidrContains, type Cidr } from './gateway/policy.ts';
export { startGatewayDhcp, GATEWAY_DHCP_DEFAULTS, type GatewayDhcpOptions, type GatewayDhcp } from './gateway/dhcp.ts';
export { parseWebSocketListen, WEBSOCKET_DEFAULT_MAX_GUESTS, type WebSocketDownstream, type WebSocketServerStats, type WebSocketGatewayServer } from './gateway/websocket-gateway.ts';
export { WebSocketFrameLink, type WebSocketLinkStats } from './gateway/websocket-link.ts';
export { WsDecoder, wsHandshake, wsAcceptKey, wsEncodeFrame, wsEncodeClose, wsOriginAllowed, WS_CLOSE, WS_OPCODE, type WsEvent } from './gateway/websocket.ts';
export { StreamFrameLink, FRAME_OVERHEAD, type StreamLinkStats } from './gateway/stream-link.ts';
export { FrameDecoder, encodeFrame, FRAME_PREFIX_LEN, type FrameDecoderStats } from './links/stream-framing.ts';
export { ConnectGate, keepAliveConfig, type ConnectGateStats, type KeepAliveOptions } from './gateway/limits.ts';
export { EchoRelay, EchoFlowTable, echoFlowKey, gatewayEcho, type EchoRelayStats, type EchoRelayOptions, type EchoFlow, type EchoSocket, type GatewayEchoOptions } from './gateway/echo-relay.ts';
