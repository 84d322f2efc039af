/**
 * An x86 emulator in a web page online through `synack gateway --websocket`
 * (issue 15, "Real clients in the tests", client 3): v86 (the npm package)
 * with Debian's SeaBIOS in Debian's headless Chromium boots an i386 Debian
 * kernel with a busybox initramfs built from Debian packages
 * (test/support/guest-image.ts); its ne2k NIC's `relay_url` is
 * ws://127.0.0.1:PORT/ of the gateway, spawned as a process by its CLI (one
 * Ethernet frame per binary WebSocket message). The guest's udhcpc gets
 * 10.0.2.100, router 10.0.2.2, DNS 10.0.2.3 and the MTU from the gateway's
 * DHCP server; then, in the same boot, it proves what the QEMU guest proves
 * (test/support/guest-checks.ts): a page fetched from a node:http server on
 * the host's 127.0.0.1 through 10.0.2.2 (SHA-256 checked); www.example.test
 * resolved through 10.0.2.3 (UDP, relayed to a zone server on the host's
 * loopback given as --dns-upstream) and NXDOMAIN for nx.example.test; the
 * same name over UDP to 10.0.2.2:PORT, the zone server's own port (a UDP
 * round trip through the gateway's ordinary UDP forwarding); a
 * connect to a closed host port refused (a RST); 23 893 bytes sent with
 * busybox nc, which half-closes, and the host's answer — written after it
 * saw the guest's EOF — read back, then EOF. The v86 page itself is served
 * from 127.0.0.1, a loopback origin the gateway accepts by default.
 * Loopback traffic only.
 *
 * ONE boot. In CI (any non-empty CI) the test must run — .ci/run installs
 * Chromium, seabios and the i386 lists; elsewhere it skips when Chromium,
 * SeaBIOS or apt's i386 lists are absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { inCi } from '../support/ci.ts';
import { guestImage } from '../support/guest-image.ts';
import { bootV86, CHROMIUM, SEABIOS } from '../support/v86.ts';
import { withBootLock } from '../support/boot-lock.ts';
import { startGatewayCli } from '../support/gateway-cli.ts';
import { assertGuestChecks, startGuestChecks } from '../support/guest-checks.ts';

const i386Lists = /Candidate:\s*\d/.test(spawnSync('apt-cache', ['policy', 'busybox-static:i386'], { encoding: 'utf8' }).stdout ?? '');
const missing = [
  !existsSync(CHROMIUM) && `${CHROMIUM} (apt-get install chromium)`,
  !existsSync(SEABIOS) && `${SEABIOS} (apt-get install seabios)`,
  !i386Lists && `apt's i386 lists (dpkg --add-architecture i386 && apt-get update)`,
].filter(Boolean);
const skip = missing.length && !inCi() ? `missing ${missing.join(', ')}` : false;
const log = (s: string) => process.env['SYNACK_GUEST_LOG'] && console.error(s);

test('v86 in Chromium with relay_url to synack gateway --websocket: the i386 Debian guest gets 10.0.2.100 by DHCP, fetches a page from the host through 10.0.2.2 (SHA-256), resolves a name and an NXDOMAIN through 10.0.2.3 and a name over UDP to a host port through 10.0.2.2, is refused by a closed host port (RST) and half-closes a connection and still reads the answer', { skip, timeout: 900_000 }, async () => {
  const checks = await startGuestChecks({ pageSize: 50_000, seed: 0x6b8b4567 });
  let gw: Awaited<ReturnType<typeof startGatewayCli>> | undefined;
  try {
    gw = await startGatewayCli(['--websocket', '127.0.0.1:0', ...checks.gatewayArgs, '--stats']);
    const url = /ready on (ws:\/\/127\.0\.0\.1:\d+\/)/.exec(gw.ready)?.[1];
    assert.ok(url, gw.ready);
    const run = await withBootLock(async () => {
      const image = guestImage({ arch: 'i386', log: (l) => console.error(l) });
      console.error(`guest i386 ${image.built ? 'built' : 'from the cache'} in ${image.ms} ms (${image.dir})`);
      return bootV86({
        image,
        relayUrl: url,
        run: checks.script,
        timeoutMs: 600_000,
        onLine: (l, ms) => log(`${(ms / 1000).toFixed(1)} ${l}`),
      });
    });
    console.error(`v86 via synack gateway: /init at ${run.initMs} ms, lease at ${run.leaseMs} ms, exit at ${run.ms} ms`);
    const context = () => `${run.text}\n--- gateway:\n${gw!.output()}`;
    assert.equal(run.timedOut, false, `v86 timed out:\n${context()}`);
    assert.deepEqual(run.pageErrors, []);
    assert.deepEqual(run.insmodFailures, []);
    assert.ok(run.lease, `a lease:\n${context()}`);
    assert.deepEqual(run.lease, { ip: '10.0.2.100', mask: '24', router: '10.0.2.2', dns: '10.0.2.3', mtu: '1500' });
    assert.equal(run.exit, 0, context());
    assertGuestChecks(run.output, checks, context);
    const st = await gw.stop();
    assert.equal(st.code, 0, gw.output());
    assert.equal(st.stats.websocket.accepted, 1, 'v86 opened one WebSocket');
    assert.equal(st.stats.dhcp.acks, 1);
    assert.equal(st.stats.tcp.opened, 2, 'the page and the half-closed connection');
    assert.equal(st.stats.tcp.refused, 1);
    assert.ok(st.stats.dns.queries >= 4 && st.stats.dns.answers === st.stats.dns.queries, JSON.stringify(st.stats.dns));
    assert.ok(st.stats.udp.flows >= 1 && st.stats.udp.datagramsUp >= 2 && st.stats.udp.datagramsDown >= 2, JSON.stringify(st.stats.udp));
  } finally {
    gw?.kill();
    await checks.close();
  }
});
