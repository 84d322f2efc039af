/**
 * The gateway's DHCP server (RFC 2131, options of RFC 2132) on its
 * downstream: what lets a VM configure itself — slirp4netns's and QEMU's
 * slirp addressing, so existing habits carry over. The engine is
 * services/dhcp-server.ts (bounded: at most one binding per pool address,
 * at most `maxOffers` offers pending), bound to port 67 of the gateway's
 * interface by services/dhcp-host.ts.
 *
 * What a guest is told:
 *  - yiaddr from the pool 10.0.2.100 … 10.0.2.115 (the first guest gets
 *    10.0.2.100, the address `--netns` configures by hand);
 *  - option 1 (subnet mask) 255.255.255.0;
 *  - option 3 (router) 10.0.2.2, the gateway;
 *  - option 6 (DNS servers) 10.0.2.3;
 *  - option 26 (interface MTU) the gateway link's MTU;
 *  - option 51 (lease time), 58/59 (T1, T2), option 54 (server identifier)
 *    10.0.2.2.
 */
import type { EthernetInterface } from '../stack/ethernet.ts';
import { DhcpServerHost } from '../services/dhcp-host.ts';
import type { DhcpServerEvent } from '../services/dhcp-server.ts';
import { ipv4ToString, parseIpv4Addr } from '../wire/bytes.ts';
import type { Ipv4Addr } from '../wire/types.ts';
import { SynackError } from '../errors.ts';

/** The gateway's DHCP settings (`dhcp` in createGateway's options). */
export interface GatewayDhcpOptions {
  /** Option 51, seconds (default 86 400: one day, as slirp). */
  leaseTime?: number;
  /** Addresses in the pool from 10.0.2.100 (default 16, as slirp's NB_BOOTP_CLIENTS; at most 155). */
  poolSize?: number;
}

export const GATEWAY_DHCP_DEFAULTS = {
  poolStart: '10.0.2.100',
  poolSize: 16,
  leaseTime: 86_400,
} as const;

export interface GatewayDhcp {
  readonly host: DhcpServerHost;
  /** Leases granted (DHCPACKs sent). */
  readonly acks: number;
  /** The address of the last DHCPACK, for logs. */
  readonly lastAck: string | null;
  stop(): void;
}

const addr = (s: string): Ipv4Addr => parseIpv4Addr(s)!;

/**
 * Starts the DHCP server on the gateway's downstream interface (whose
 * addresses include 10.0.2.2/24).
 */
export function startGatewayDhcp(
  eth: EthernetInterface,
  cfg: { mtu: number; gateway: string; dns: string; options?: GatewayDhcpOptions; log?: (line: string) => void },
): GatewayDhcp {
  const o = cfg.options ?? {};
  const poolSize = o.poolSize ?? GATEWAY_DHCP_DEFAULTS.poolSize;
  if (!(Number.isInteger(poolSize) && poolSize >= 1 && poolSize <= 155)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `dhcp.poolSize must be 1..155, got ${String(poolSize)}`);
  const leaseTime = o.leaseTime ?? GATEWAY_DHCP_DEFAULTS.leaseTime;
  // RFC 2132 §9.2: "The time is in units of seconds, and is specified as a 32-bit unsigned integer."
  if (!(Number.isInteger(leaseTime) && leaseTime >= 60 && leaseTime <= 0xffffffff)) throw new SynackError('ERR_SYNACK_INVALID_ARG', `dhcp.leaseTime must be an integer number of seconds, 60..2^32-1, got ${String(leaseTime)}`);
  const poolStart = addr(GATEWAY_DHCP_DEFAULTS.poolStart);
  let acks = 0;
  let lastAck: string | null = null;
  const host = new DhcpServerHost(eth, {
    serverId: addr(cfg.gateway),
    prefixLen: 24,
    poolStart,
    poolEnd: (poolStart + poolSize - 1) as Ipv4Addr,
    // RFC 2132 §3.5: "The router option specifies a list of IP addresses for routers on the client's subnet."
    router: addr(cfg.gateway),
    // RFC 2132 §3.8: "The domain name server option specifies a list of Domain Name System name servers available to the client."
    dns: [addr(cfg.dns)],
    // RFC 2132 §5.1: "This option specifies the MTU to use on this interface."
    mtu: cfg.mtu,
    leaseTime,
    onEvent: (ev: DhcpServerEvent) => {
      if (ev.type === 'ack') {
        acks++;
        lastAck = ipv4ToString(ev.addr);
        cfg.log?.(`dhcp: ${lastAck} leased to ${ev.client}`);
      }
    },
  });
  return {
    host,
    get acks() {
      return acks;
    },
    get lastAck() {
      return lastAck;
    },
    stop: () => host.stop(),
  };
}
