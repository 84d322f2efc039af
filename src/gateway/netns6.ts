/**
 * IPv6 inside the guest's network namespace (`--netns` with `--ipv6`), as
 * `slirp4netns --configure --enable-ipv6` does: the device gets the guest's
 * address fd00::100/64 and a default route via the gateway fd00::2. The
 * address is added with `nodad`: RFC 4862 §5.4 "Duplicate Address Detection
 * MUST be performed on all unicast addresses prior to assigning them to an
 * interface, regardless of whether they are obtained through stateless
 * autoconfiguration, DHCPv6, or manual configuration, with the following
 * exceptions: ... Each individual unicast address SHOULD be tested for
 * uniqueness." — the link is the gateway's alone (it holds fd00::2 and
 * fd00::3 and nothing else answers there), so the address is usable at once
 * rather than tentative for a second.
 *
 * Done with iproute2 run inside the namespace by nsenter(1) (util-linux), on
 * the host; the IPv4 side is the native addon's (links/tun.ts).
 */
import { spawnSync } from 'node:child_process';
import { SynackError } from '../errors.ts';

/**
 * Runs argv in the network namespace; with `userns`, after joining that user
 * namespace (nsenter enters it first when the network namespace needs it),
 * keeping this process's user and group IDs (--preserve-credentials: a
 * rootless container's user namespace may deny setgroups).
 */
function inNetns(nsPath: string, argv: string[], userns?: string): void {
  const ns = userns !== undefined ? [`--user=${userns}`, '--preserve-credentials', `--net=${nsPath}`] : [`--net=${nsPath}`];
  const r = spawnSync('nsenter', [...ns, '--', ...argv], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw new SynackError('ERR_SYNACK_INVALID_STATE', `cannot configure IPv6 in the network namespace ${nsPath}: ${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new SynackError('ERR_SYNACK_INVALID_STATE', `cannot configure IPv6 in the network namespace ${nsPath}: ${argv.join(' ')} failed: ${r.stderr.trim()}`);
}

/** Adds `address/prefixLen` (nodad) to `dev` in the namespace and a default route via `gateway`; `userns`: the user namespace that owns the network namespace (rootless). */
export function configureNetnsIpv6(nsPath: string, dev: string, cfg: { address: string; prefixLen: number; gateway: string }, userns?: string): void {
  // The device may have IPv6 turned off by a sysctl default; on for it.
  inNetns(nsPath, ['sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=0`], userns);
  inNetns(nsPath, ['ip', '-6', 'addr', 'add', `${cfg.address}/${cfg.prefixLen}`, 'dev', dev, 'nodad'], userns);
  inNetns(nsPath, ['ip', '-6', 'route', 'replace', 'default', 'via', cfg.gateway, 'dev', dev], userns);
}
