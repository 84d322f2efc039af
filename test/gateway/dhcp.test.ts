/**
 * The gateway's DHCP server (gateway/dhcp.ts, RFC 2131 / RFC 2132) with a
 * real client: synack guests on the gateway's in-memory Ethernet link run
 * the project's DHCP client (services/dhcp-client.ts) and configure their
 * stacks from the lease, then reach a host server through the gateway.
 * Host sockets are real I/O: every wait is bounded.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryNetwork } from '../../src/api/memory-network.ts';
import { createGateway } from '../../src/gateway/gateway.ts';
import { DHCP_SERVER_PORT } from '../../src/wire/dhcp.ts';
import { collect, hostServer, pattern, sha256, waitFor } from './helpers.ts';

describe('gateway: the DHCP server on the downstream (RFC 2131)', { timeout: 60_000 }, () => {
  test('RFC 2131 §4.3.1/§4.3.2, RFC 2132 §3.3/§3.5/§3.8/§5.1: a synack guest gets 10.0.2.100/24, router 10.0.2.2, DNS 10.0.2.3 and the gateway MTU, then reaches a host server through 10.0.2.2 (256 KiB each way, SHA-256)', async () => {
    const up = pattern(256 << 10, 21);
    const down = pattern(256 << 10, 22);
    let gotUp: Promise<Buffer> | null = null;
    const h = await hostServer((s) => {
      gotUp = collect(s);
      s.end(down);
    });
    const lan = createMemoryNetwork({ ethernet: true, seed: 11, mtu: 9000 });
    const gw = createGateway({ downstream: { memory: lan }, mtu: 4000 });
    const guest = lan.host(null, { name: 'guest', mac: '02:00:00:00:02:00' });
    const dhcp = guest.dhcp({ startDelay: false, arpProbe: false, ref: false });
    try {
      const cfg = await dhcp.bound;
      assert.deepEqual(cfg, { address: '10.0.2.100', prefixLen: 24, gateway: '10.0.2.2', dns: ['10.0.2.3'], domainName: null, mtu: 4000 });
      const lease = dhcp.client.lease!;
      assert.equal(lease.leaseTime, 86_400, 'option 51: one day, as slirp');
      assert.equal(gw.stats().dhcp!.acks, 1);
      const sock = guest.net.connect(h.port, '10.0.2.2');
      const gotDown = collect(sock);
      sock.once('connect', () => sock.end(up));
      assert.equal(sha256(await gotDown), sha256(down));
      await waitFor('the host server got the upload', () => gotUp !== null);
      assert.equal(sha256(await gotUp!), sha256(up));
      assert.equal(sock.localAddress, '10.0.2.100');
      assert.equal(gw.stats().tcp.opened, 1);
    } finally {
      dhcp.stop();
      await gw.close();
      lan.stop();
      h.server.close();
    }
  });

  test('RFC 2131 §4.3.1 bounded state: 16 guests get 10.0.2.100…115, the 17th gets no offer (a counted "pool-exhausted" drop) and the bindings stay at 16', async () => {
    const lan = createMemoryNetwork({ ethernet: true, seed: 12 });
    const gw = createGateway({ downstream: { memory: lan } });
    const handles = Array.from({ length: 17 }, (_, i) => lan.host(null, { mac: `02:00:00:00:03:${(i + 1).toString(16).padStart(2, '0')}` }).dhcp({ startDelay: false, arpProbe: false, ref: false }));
    try {
      const bound = await Promise.all(handles.slice(0, 16).map((h) => h.bound));
      const got = bound.map((c) => c.address).sort((a, b) => Number(a.split('.')[3]) - Number(b.split('.')[3]));
      assert.deepEqual(got, Array.from({ length: 16 }, (_, i) => `10.0.2.${100 + i}`));
      await waitFor('the 17th DISCOVER was refused', () => (gw.stats().dhcp!.drops['pool-exhausted'] ?? 0) >= 1);
      assert.equal(handles[16]!.config, null);
      assert.equal(gw.stats().dhcp!.acks, 16);
      assert.equal(gw.stats().dhcp!.bindings, 16);
    } finally {
      for (const h of handles) h.stop();
      await gw.close();
      lan.stop();
    }
  });

  test('dhcp: false: no server on port 67 (the guest is configured by hand)', async () => {
    const lan = createMemoryNetwork({ ethernet: true, seed: 13 });
    const gw = createGateway({ downstream: { memory: lan }, dhcp: false });
    try {
      assert.equal(gw.stats().dhcp, null);
      assert.equal(gw.stack.udp.lookup(gw.eth.iface.addrs[0]!.addr, DHCP_SERVER_PORT, 0, 68), null);
    } finally {
      await gw.close();
      lan.stop();
    }
  });
});
