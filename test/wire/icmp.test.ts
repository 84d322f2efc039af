import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { emitIcmpEcho, icmpEchoLen, parseIcmp } from '../../src/wire/icmp.ts';
import { checksum } from '../../src/wire/checksum.ts';
import { setU16 } from '../../src/wire/bytes.ts';
import { CHECKSUM_FULL, CHECKSUM_OFFLOAD } from '../../src/wire/types.ts';
import type { IcmpEchoRepr } from '../../src/wire/types.ts';
import { hexBytes } from './fixtures.ts';

/** Echo request, id 0x1234, seq 1, data "abcdefghi" (odd length); checksum 0xeb34. */
const ECHO_REQUEST = hexBytes('0800eb3412340001616263646566676869');
const ECHO_REPR: IcmpEchoRepr = {
  type: 'echo-request',
  ident: 0x1234,
  seqNo: 1,
  data: new TextEncoder().encode('abcdefghi'),
};

function refill(b: Uint8Array): Uint8Array {
  setU16(b, 2, 0);
  setU16(b, 2, checksum(b, 0, b.length));
  return b;
}

describe('wire/icmp', () => {
  test('ICMP: an echo request decodes field by field (RFC 792, Echo)', () => {
    const r = parseIcmp(ECHO_REQUEST, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.deepEqual(r.value, ECHO_REPR);
    assert.equal(r.value.data.buffer, ECHO_REQUEST.buffer, 'data is a view, not a copy');
  });

  test('ICMP: emit writes the echo request byte for byte with its checksum (RFC 792)', () => {
    const buf = new Uint8Array(icmpEchoLen(ECHO_REPR) + 2);
    assert.equal(emitIcmpEcho(ECHO_REPR, buf, 1), 17);
    assert.deepEqual(buf.subarray(1, 18), ECHO_REQUEST);
  });

  test('ICMP: an echo reply is type 0 and round-trips', () => {
    const reply: IcmpEchoRepr = { ...ECHO_REPR, type: 'echo-reply' };
    const buf = new Uint8Array(icmpEchoLen(reply));
    emitIcmpEcho(reply, buf, 0);
    assert.equal(buf[0], 0);
    const r = parseIcmp(buf, CHECKSUM_FULL);
    assert.ok(r.ok);
    assert.deepEqual(r.value, reply);
  });

  test('ICMP: fewer than 8 bytes is dropped as icmp-truncated', () => {
    for (let n = 0; n < 8; n++) {
      assert.deepEqual(parseIcmp(ECHO_REQUEST.subarray(0, n), CHECKSUM_FULL), { ok: false, reason: 'icmp-truncated' });
    }
  });

  test('ICMP: a checksum mismatch is dropped as icmp-bad-checksum (RFC 792)', () => {
    const b = ECHO_REQUEST.slice();
    b[10] ^= 0x20;
    assert.deepEqual(parseIcmp(b, CHECKSUM_FULL), { ok: false, reason: 'icmp-bad-checksum' });
    assert.ok(parseIcmp(b, CHECKSUM_OFFLOAD).ok, 'not verified when the link offloads checksums');
  });

  test('ICMP: other types and a non-zero echo code are dropped as icmp-unsupported', () => {
    for (const [type, code] of [[3, 1], [11, 0], [13, 0], [8, 1], [0, 5]] as const) {
      const b = ECHO_REQUEST.slice();
      b[0] = type;
      b[1] = code;
      assert.deepEqual(parseIcmp(refill(b), CHECKSUM_FULL), { ok: false, reason: 'icmp-unsupported' });
    }
  });

  test('ICMP: emit rejects a buffer too small and out-of-range fields (programmer errors)', () => {
    assert.throws(() => emitIcmpEcho(ECHO_REPR, new Uint8Array(16), 0), /too small/);
    assert.throws(() => emitIcmpEcho({ ...ECHO_REPR, seqNo: 65536 }, new Uint8Array(17), 0), /seqNo/);
  });
});
