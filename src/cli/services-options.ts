/**
 * The network-service options of `synack serve` (issue 13): a DNS forwarder
 * (`--dns`), a DHCP server (`--dhcp-server`) and a DHCP client for synack's
 * own address (`--dhcp`). Self-contained: serve.ts spreads
 * SERVICES_OPTIONS into its options, calls parseServicesArgs on the parsed
 * values and startServices with its host once the host is up. DHCP needs
 * an Ethernet link (a TAP device, or the in-memory switch in the tests);
 * the forwarder runs on any link.
 */
import { createHostServices, parseHostPort, type DnsBox, type DnsForwarderHandle, type DhcpHandle } from '../api/services.ts';
import type { DhcpServerHost } from '../services/dhcp-host.ts';
import type { StubResolver } from '../services/dns-resolver.ts';
import type { Stack } from '../stack/stack.ts';
import type { EthernetInterface } from '../stack/ethernet.ts';
import type { Driver } from '../api/driver.ts';
import type { SynackNet } from '../api/net.ts';
import { ipv4InSubnet, ipv4ToString, parseIpv4Addr } from '../wire/bytes.ts';
import { UsageError } from './options.ts';

export const SERVICES_OPTIONS = {
  dns: { type: 'string' },
  'dns-upstream': { type: 'string' },
  'dhcp-server': { type: 'string' },
  'dhcp-router': { type: 'string' },
  'dhcp-domain': { type: 'string' },
  'dhcp-lease': { type: 'string' },
  dhcp: { type: 'boolean' },
} as const;

export const SERVICES_HELP = `Network services (DHCP needs an Ethernet link, e.g. a TAP device):
  --dns PORT        a DNS forwarder (RFC 1035; UDP and TCP) on PORT, relaying
                    every query to --dns-upstream (required with it)
  --dns-upstream ADDR[:PORT]
                    the resolver the forwarder asks (port 53 by default)
  --dhcp-server START-END
                    a DHCP server (RFC 2131) leasing START..END (IPv4, on
                    synack's own subnet) with options 1 (mask), 3, 6, 15,
                    26 (the link MTU), 51 and 54 (synack's address); option 6
                    names synack itself when --dns 53 runs
  --dhcp-router ADDR   option 3, the default gateway (default: none)
  --dhcp-domain NAME   option 15, the domain name (default: none)
  --dhcp-lease S    option 51, the lease time in seconds (default 3600)
  --dhcp            obtain synack's own IPv4 address, gateway, MTU and DNS
                    servers by DHCP instead of --addr (no 1–10 s start
                    delay); the ready line shows the lease`;

type Values = { [K in keyof typeof SERVICES_OPTIONS]?: (typeof SERVICES_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

export interface ServicesArgs {
  dnsPort: number | null;
  dnsUpstream: { address: string; port: number } | null;
  dhcpServer: { start: string; end: string; router: string | null; domain: string | null; leaseTime: number } | null;
  dhcp: boolean;
}

/** Whether any service option was given. */
export function anyService(a: ServicesArgs): boolean {
  return a.dnsPort !== null || a.dhcpServer !== null || a.dhcp;
}

/** Checks the service options (usage errors, exit 2, before anything is opened). */
export function parseServicesArgs(command: string, v: Values): ServicesArgs {
  let dnsPort: number | null = null;
  if (v.dns !== undefined) {
    const n = Number(v.dns);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--dns expects a port in 1..65535, got '${v.dns}'`, command);
    dnsPort = n;
  }
  let dnsUpstream: ServicesArgs['dnsUpstream'] = null;
  if (v['dns-upstream'] !== undefined) {
    dnsUpstream = parseHostPort(v['dns-upstream'], 53);
    if (dnsUpstream === null) throw new UsageError(`--dns-upstream expects ADDR or ADDR:PORT (an IP address; [v6]:PORT), got '${v['dns-upstream']}'`, command);
  }
  if (dnsPort !== null && dnsUpstream === null) throw new UsageError('--dns needs --dns-upstream ADDR[:PORT] (the resolver to relay to)', command);
  if (dnsPort === null && dnsUpstream !== null) throw new UsageError('--dns-upstream is used only with --dns PORT', command);
  let dhcpServer: ServicesArgs['dhcpServer'] = null;
  const range = v['dhcp-server'];
  if (range !== undefined) {
    const m = /^([\d.]+)-([\d.]+)$/.exec(range);
    const s = m ? parseIpv4Addr(m[1]!) : null;
    const e = m ? parseIpv4Addr(m[2]!) : null;
    if (s === null || e === null) throw new UsageError(`--dhcp-server expects START-END, two IPv4 addresses (192.168.7.100-192.168.7.199), got '${range}'`, command);
    if (e < s) throw new UsageError(`--dhcp-server: the end ${m![2]} is below the start ${m![1]}`, command);
    const router = v['dhcp-router'] ?? null;
    if (router !== null && parseIpv4Addr(router) === null) throw new UsageError(`--dhcp-router expects an IPv4 address, got '${router}'`, command);
    let leaseTime = 3600;
    if (v['dhcp-lease'] !== undefined) {
      const n = Number(v['dhcp-lease']);
      if (!Number.isInteger(n) || n < 60 || n > 0xfffffffe) throw new UsageError(`--dhcp-lease expects seconds (at least 60), got '${v['dhcp-lease']}'`, command);
      leaseTime = n;
    }
    dhcpServer = { start: m![1]!, end: m![2]!, router, domain: v['dhcp-domain'] ?? null, leaseTime };
  } else {
    for (const o of ['dhcp-router', 'dhcp-domain', 'dhcp-lease'] as const) {
      if (v[o] !== undefined) throw new UsageError(`--${o} is used only with --dhcp-server START-END`, command);
    }
  }
  const dhcp = v.dhcp === true;
  if (dhcp && dhcpServer !== null) throw new UsageError('--dhcp and --dhcp-server exclude each other (a DHCP server needs a fixed address: --addr)', command);
  return { dnsPort, dnsUpstream, dhcpServer, dhcp };
}

/** What startServices needs of a host. */
export interface ServicesHost {
  stack: Stack;
  driver: Driver;
  net: SynackNet;
  /** The Ethernet interface (a TAP link); null on a layer-3 link (TUN). */
  eth: EthernetInterface | null;
}

export interface RunningServices {
  /** For the ready line: "dhcp=192.168.7.100/24 dns=53 dhcp-server=….", empty without services. */
  describe: string;
  /** The address DHCP gave synack (with --dhcp). */
  address: string | null;
  dhcpClient: DhcpHandle | null;
  dhcpServer: DhcpServerHost | null;
  dns: DnsForwarderHandle | null;
  /** The stub resolver --dhcp configured from option 6 (null without). */
  readonly resolver: StubResolver | null;
  stop(): void;
}

/** An error starting a service (printed without a stack trace, exit 1). */
export class ServiceError extends Error {
  override name = 'ServiceError';
}

/** Starts the services: with --dhcp first (and waits for the lease), then the forwarder and the DHCP server. */
export async function startServices(a: ServicesArgs, host: ServicesHost, seed: number): Promise<RunningServices> {
  const dns: DnsBox = { lookup: null };
  const svc = createHostServices({ stack: host.stack, driver: host.driver, net: host.net, eth: host.eth, dns, seed });
  const parts: string[] = [];
  const run: RunningServices = {
    describe: '',
    address: null,
    dhcpClient: null,
    dhcpServer: null,
    dns: null,
    get resolver() {
      return svc.resolver;
    },
    stop() {
      run.dhcpClient?.stop();
      run.dhcpServer?.stop();
      run.dns?.close();
      svc.setDnsServers([]);
    },
  };
  if ((a.dhcp || a.dhcpServer) && host.eth === null) throw new ServiceError(`${a.dhcp ? '--dhcp' : '--dhcp-server'} needs an Ethernet link (--tap IF)`);
  if (a.dhcp) {
    const h = svc.dhcp({ startDelay: false, useDns: true });
    run.dhcpClient = h;
    const cfg = await h.bound;
    run.address = cfg.address;
    parts.push(`dhcp=${cfg.address}/${cfg.prefixLen}${cfg.gateway ? ` gw=${cfg.gateway}` : ''}${cfg.dns.length ? ` dns-servers=${cfg.dns.join(',')}` : ''} mtu=${cfg.mtu}`);
  }
  if (a.dnsPort !== null && a.dnsUpstream !== null) {
    try {
      run.dns = svc.dnsForwarder({ port: a.dnsPort, upstream: a.dnsUpstream });
    } catch (e) {
      run.stop();
      throw new ServiceError(`--dns ${a.dnsPort}: ${(e as Error).message}`);
    }
    parts.push(`dns=${a.dnsPort}`);
  }
  if (a.dhcpServer !== null) {
    const eth = host.eth!;
    const own = eth.iface.addrs.find((x) => typeof x.addr === 'number');
    if (!own) throw new ServiceError('--dhcp-server needs an IPv4 address of synack\'s own (--addr)');
    const s = a.dhcpServer;
    for (const x of [s.start, s.end]) {
      if (!ipv4InSubnet(parseIpv4Addr(x)!, own.addr as number, own.prefixLen)) {
        run.stop();
        throw new ServiceError(`--dhcp-server: ${x} is not on synack's subnet ${ipv4ToString(own.addr as number)}/${own.prefixLen}`);
      }
    }
    run.dhcpServer = svc.dhcpServer({
      poolStart: s.start,
      poolEnd: s.end,
      leaseTime: s.leaseTime,
      mtu: eth.mtu,
      ...(s.router !== null ? { router: s.router } : {}),
      ...(s.domain !== null ? { domainName: s.domain } : {}),
      ...(a.dnsPort === 53 ? { dns: [ipv4ToString(own.addr as number)] } : {}),
    });
    parts.push(`dhcp-server=${s.start}-${s.end}`);
  }
  run.describe = parts.join(' ');
  return run;
}
