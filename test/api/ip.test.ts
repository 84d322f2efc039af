/**
 * isIP / isIPv4 / isIPv6 of synack/net (src/api/ip.ts, plain code so the
 * API runs in browsers) answer exactly as node:net's do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as nodeNet from 'node:net';
import { isIP, isIPv4, isIPv6 } from '../../src/api/ip.ts';

const INPUTS = [
  '', ' ', '0.0.0.0', '127.0.0.1', '10.0.0.2', '255.255.255.255', '256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '1.2.3.4 ', ' 1.2.3.4',
  '1.2.3.-1', 'a.b.c.d', '::', '::1', '1::', 'fe80::1%eth0', 'fe80::1%', '2001:db8::8a2e:370:7334', '2001:0db8:0000:0000:0000:ff00:0042:8329',
  '::ffff:192.0.2.128', '::ffff:192.0.2.256', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::', '1::2::3', ':::', '12345::', 'g::1',
  'localhost', 'server', '1.2.3.4/24', '[::1]', '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', 'FFFF::', 'ffff::ffff:ffff:ffff:ffff:ffff:ffff',
];

test('isIP, isIPv4 and isIPv6 give node:net\'s answers for addresses, near-misses and names', () => {
  for (const s of INPUTS) {
    assert.equal(isIP(s), nodeNet.isIP(s), `isIP(${JSON.stringify(s)})`);
    assert.equal(isIPv4(s), nodeNet.isIPv4(s), `isIPv4(${JSON.stringify(s)})`);
    assert.equal(isIPv6(s), nodeNet.isIPv6(s), `isIPv6(${JSON.stringify(s)})`);
  }
});
