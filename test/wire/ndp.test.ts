/**
 * Neighbor Discovery message bodies and options (wire/ndp.ts, RFC 4861 §4,
 * RFC 8106 §5.1), the solicited-node address (RFC 4291 §2.7.1) and the
 * modified EUI-64 identifier (RFC 4291 Appendix A).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addrFromPrefix,
  emitNdpBody,
  isSolicitedNode,
  linkLocalFor,
  ndpType,
  parseNdp,
  solicitedNode,
  NDP_NA,
  NDP_NS,
  NDP_RA,
  NDP_RS,
  type NdpMessage,
} from '../../src/wire/ndp.ts';
import { formatIpv6Addr, parseIpv6Addr, type Ipv6Addr } from '../../src/wire/ipv6.ts';

const v6 = (s: string): Ipv6Addr => parseIpv6Addr(s)!;

test('RFC 4291 §2.7.1: the solicited-node address of 4037::01:800:200E:8C6C is FF02::1:FF0E:8C6C', () => {
  assert.equal(formatIpv6Addr(solicitedNode(v6('4037::01:800:200E:8C6C'))), 'ff02::1:ff0e:8c6c');
  assert.ok(isSolicitedNode(v6('ff02::1:ff0e:8c6c')));
  assert.ok(!isSolicitedNode(v6('ff02::1')));
  assert.ok(!isSolicitedNode(v6('ff02::2:ff0e:8c6c')));
});

test('RFC 4291 Appendix A: the modified EUI-64 of 00:11:22:33:44:55 inverts the u bit and inserts FF:FE', () => {
  assert.equal(formatIpv6Addr(linkLocalFor(0x001122334455)), 'fe80::211:22ff:fe33:4455');
  assert.equal(formatIpv6Addr(addrFromPrefix(v6('2001:db8:1:2::'), 0x021122334455)), '2001:db8:1:2:11:22ff:fe33:4455');
});

test('RFC 4861 §4: NS, NA, RS and RA with every option survive emit then parse', () => {
  const msgs: NdpMessage[] = [
    { type: 'rs', opts: { slla: 0x020000000001 } },
    { type: 'ns', target: v6('fd00::2'), opts: { slla: 0x020000000001 } },
    { type: 'na', router: true, solicited: true, override: false, target: v6('fd00::2'), opts: { tlla: 0x020000000002 } },
    {
      type: 'ra',
      curHopLimit: 64,
      managed: false,
      other: true,
      routerLifetime: 1800,
      reachableTime: 30000,
      retransTimer: 1000,
      opts: {
        slla: 0x020000000003,
        prefixes: [{ prefix: v6('2001:db8::'), prefixLen: 64, onLink: true, autonomous: true, validLifetime: 2592000, preferredLifetime: 604800 }],
        mtu: 1400,
        rdnss: { lifetime: 1800, servers: [v6('2001:db8::53'), v6('2001:db8::54')] },
      },
    },
  ];
  for (const m of msgs) {
    const body = emitNdpBody(m);
    const p = parseNdp(ndpType(m), body);
    assert.ok(p.ok, m.type);
    assert.deepEqual(p.value, m);
  }
  assert.deepEqual([NDP_RS, NDP_RA, NDP_NS, NDP_NA], msgs.map(ndpType).sort());
});

test('RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that contains an option with length zero"; short bodies are refused; unknown options are skipped', () => {
  const ns = emitNdpBody({ type: 'ns', target: v6('fd00::2'), opts: { slla: 0x020000000001 } });
  const zero = ns.slice();
  zero[21] = 0;
  assert.deepEqual(parseNdp(NDP_NS, zero), { ok: false, reason: 'ndp-bad-option' });
  const over = ns.slice();
  over[21] = 2; // 16 octets, only 8 left
  assert.deepEqual(parseNdp(NDP_NS, over), { ok: false, reason: 'ndp-bad-option' });
  assert.deepEqual(parseNdp(NDP_NS, ns.subarray(0, 19)), { ok: false, reason: 'ndp-bad-length' });
  assert.deepEqual(parseNdp(NDP_RA, new Uint8Array(11)), { ok: false, reason: 'ndp-bad-length' });
  assert.deepEqual(parseNdp(137, new Uint8Array(40)), { ok: false, reason: 'ndp-unsupported' });
  const unknown = new Uint8Array(ns.length + 8);
  unknown.set(ns.subarray(0, 20));
  unknown[20] = 200; // unknown type, length 1
  unknown[21] = 1;
  unknown.set(ns.subarray(20), 28);
  const p = parseNdp(NDP_NS, unknown);
  assert.ok(p.ok);
  assert.equal(p.value.opts.slla, 0x020000000001);
});

test('parseNdp never throws on arbitrary bodies of any type', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 200 }), (type, body) => {
      const r = parseNdp(type, body);
      assert.equal(typeof r.ok, 'boolean');
    }),
    { numRuns: 2000, seed: 42 },
  );
});
