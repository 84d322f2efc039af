/**
 * `synack ping`: ICMP echo requests from synack's stack on a TUN or TAP
 * device (RFC 792, RFC 4443 §4.1), printed as iputils' ping prints them.
 * Exit 0 when at least one reply came, 1 when none did (or the device
 * failed), 2 on bad usage — iputils' codes.
 *
 * Must be imported through main.ts (it imports main.ts for UsageError).
 */
import { ping } from '../api/ping.ts';
import { isSynackError } from '../errors.ts';
import { parseIpAddr } from '../wire/ipv6.ts';
import { numberOption, parseOptions, UsageError, type CliIo, type Command } from './options.ts';
import { LINK_HELP, LINK_OPTIONS, HostError, openTunHost, parseLinkArgs, type TunHost } from './tun-host.ts';

const PING_HELP = `Usage: synack ping (--tun IF | --tap IF) --addr CIDR [--addr CIDR] [options] DEST

Sends ICMP echo requests (RFC 792; ICMPv6, RFC 4443 §4.1, to an IPv6 DEST)
from synack's stack on a TUN or TAP device and prints each reply and the
statistics, like ping. Exits 0 if any reply came, 1 if none did.

Options:
  -c, --count N           requests to send (default 4; 1..65536)
  -s, --size N            data octets per request (default 56)
  -i, --interval SEC      seconds between requests (default 1)
  -W, --timeout SEC       seconds to wait for each reply (default 1)

${LINK_HELP}

Examples:
  synack ping --tun tun0 --addr 10.9.0.2/24 --peer-addr 10.9.0.1/24 -c 3 10.9.0.1
  synack ping --tap tap0 --addr fd09::2/64 -c 3 -s 1400 fd09::1`;

const PING_OPTIONS = {
  ...LINK_OPTIONS,
  count: { type: 'string', short: 'c' },
  size: { type: 'string', short: 's' },
  interval: { type: 'string', short: 'i' },
  timeout: { type: 'string', short: 'W' },
} as const;

const ms = (x: number): string => x.toFixed(3);

export async function runPing(argv: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseOptions('ping', argv, PING_OPTIONS, true);
  if (v.help) {
    io.stdout(PING_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`one DEST address expected, got ${positionals.length}`, 'ping');
  const dest = positionals[0]!;
  const dst = parseIpAddr(dest);
  if (dst === null) throw new UsageError(`DEST must be an IPv4 or IPv6 address, got '${dest}'`, 'ping');
  const link = parseLinkArgs('ping', v);
  if (!link.addrs.some((c) => typeof c.addr === typeof dst)) {
    throw new UsageError(`DEST ${dest} is IPv${typeof dst === 'number' ? 4 : 6}, and no --addr of that family is given`, 'ping');
  }
  const count = numberOption('ping', 'count', v.count, 4, (n) => Number.isInteger(n) && n >= 1 && n <= 65536, 'an integer in 1..65536');
  const maxSize = typeof dst === 'number' ? 65507 : 65527;
  const size = numberOption('ping', 'size', v.size, 56, (n) => Number.isInteger(n) && n >= 0 && n <= maxSize, `an integer in 0..${maxSize}`);
  const interval = numberOption('ping', 'interval', v.interval, 1, (n) => n >= 0 && n <= 3600, 'seconds in 0..3600');
  const timeout = numberOption('ping', 'timeout', v.timeout, 1, (n) => n >= 0 && n <= 3600, 'seconds in 0..3600');

  let host: TunHost;
  let failed: string | null = null;
  try {
    host = openTunHost('ping', link, { log: (line) => io.stderr(line), onLinkError: (err) => (failed = err.message) });
  } catch (e) {
    if (e instanceof HostError) {
      io.stderr(`synack ping: ${e.message}`);
      return 1;
    }
    throw e;
  }
  // RFC 4862 §5.4: on a TAP link synack's IPv6 addresses are tentative
  // until Duplicate Address Detection passes (about a second): usable as an
  // optimistic source (RFC 4429), but the stack answers no Neighbor
  // Solicitation for them yet, so the kernel could not return its replies.
  // Like the kernel's own ping, which does not send from a tentative
  // address, wait for DAD first (bounded).
  if (host.eth && typeof dst === 'string') {
    const eth = host.eth;
    for (let waited = 0; eth.tentative.size > 0 && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  }
  // iputils: the header line, then one line per reply ("bytes" counts the ICMP header too).
  io.stdout(`PING ${dest} (${host.describe}): ${size} data bytes`);
  let code = 1;
  try {
    const r = await ping(host, dest, {
      count,
      size,
      intervalMs: interval * 1000,
      timeoutMs: timeout * 1000,
      onReply: (x) => io.stdout(`${x.bytes + 8} bytes from ${x.from}: icmp_seq=${x.seq} time=${ms(x.rttMs)} ms`),
    });
    io.stdout('');
    io.stdout(`--- ${r.target} ping statistics ---`);
    const loss = r.sent === 0 ? 0 : Math.round((100 * (r.sent - r.received)) / r.sent);
    io.stdout(`${r.sent} packets transmitted, ${r.received} received, ${loss}% packet loss${r.unmatched ? `, ${r.unmatched} unmatched` : ''}`);
    if (r.rttMs) io.stdout(`rtt min/avg/max/mdev = ${ms(r.rttMs.min)}/${ms(r.rttMs.avg)}/${ms(r.rttMs.max)}/${ms(r.rttMs.mdev)} ms`);
    code = r.received > 0 ? 0 : 1;
  } catch (e) {
    io.stderr(`synack ping: ${isSynackError(e) ? e.message : String(e)}`);
  }
  if (failed !== null) {
    io.stderr(`synack ping: ${failed}`);
    code = 1;
  }
  await host.close();
  return code;
}

export const pingCommand: Command = {
  name: 'ping',
  summary: 'ICMP echo requests from synack on a TUN or TAP device, printed like ping',
  help: PING_HELP,
  run: (argv, io) => runPing(argv, io),
};
