import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  emitTcpOptions,
  findMss,
  findSack,
  findTimestamp,
  findWindowScale,
  hasSackPermitted,
  parseTcpOptions,
  tcpOptionsLen,
} from '../../src/wire/tcp-options.ts';
import type { TcpOption } from '../../src/wire/types.ts';
import { hexBytes } from './fixtures.ts';

function parse(hex: string) {
  const b = hexBytes(hex);
  return parseTcpOptions(b, 0, b.length);
}

/** Asserts that `hex` parses to `options` and that `options` emit to `hex` (smoltcp's check_option!). */
function roundTrip(hex: string, options: TcpOption[]): void {
  const r = parse(hex);
  assert.ok(r.ok, `parse ${hex}`);
  assert.deepEqual(r.value, options);
  const bytes = hexBytes(hex);
  assert.equal(tcpOptionsLen(options), bytes.length);
  const out = new Uint8Array(bytes.length).fill(0xcc);
  assert.equal(emitTcpOptions(options, out, 0), bytes.length);
  assert.deepEqual(out, bytes);
}

describe('wire/tcp-options', () => {
  test('MSS (kind 2, length 4) round-trips (RFC 9293 §3.2)', () => {
    roundTrip('020405b4', [{ kind: 'mss', value: 1460 }]);
    roundTrip('0204ffff', [{ kind: 'mss', value: 65535 }]);
  });

  test('window scale (kind 3, length 3) round-trips, shift as sent (RFC 7323 §2.2)', () => {
    roundTrip('01030307', [{ kind: 'nop' }, { kind: 'window-scale', shift: 7 }]);
    roundTrip('01030363', [{ kind: 'nop' }, { kind: 'window-scale', shift: 99 }]);
  });

  test('SACK-permitted (kind 4, length 2) round-trips (RFC 2018 §2)', () => {
    roundTrip('01010402', [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack-permitted' }]);
  });

  test('SACK (kind 5, length 2+8n, n = 1..4) round-trips with unsigned edges (RFC 2018 §3)', () => {
    roundTrip('0101050a0000000100000002', [
      { kind: 'nop' },
      { kind: 'nop' },
      { kind: 'sack', blocks: [[1, 2]] },
    ]);
    roundTrip('0101052200000001000000020000000300000004fffffff0ffffffff8000000080000010', [
      { kind: 'nop' },
      { kind: 'nop' },
      {
        kind: 'sack',
        blocks: [
          [1, 2],
          [3, 4],
          [0xfffffff0, 0xffffffff],
          [0x80000000, 0x80000010],
        ],
      },
    ]);
  });

  test('timestamps (kind 8, length 10) round-trip with unsigned values (RFC 7323 §3)', () => {
    roundTrip('0101080aac10f735fffffffe', [
      { kind: 'nop' },
      { kind: 'nop' },
      { kind: 'timestamp', tsval: 2886793013, tsecr: 0xfffffffe },
    ]);
  });

  test('an unknown kind is kept with its data and re-emitted byte for byte (RFC 9293 §3.1)', () => {
    roundTrip('1e06abcdef010000', [{ kind: 'unknown', code: 30, data: hexBytes('abcdef01') }, { kind: 'eol' }]);
    roundTrip('fe020000', [{ kind: 'unknown', code: 254, data: new Uint8Array(0) }, { kind: 'eol' }]);
  });

  test('EOL ends parsing; the padding after it is ignored (RFC 9293 §3.1)', () => {
    roundTrip('020405b400000000', [{ kind: 'mss', value: 1460 }, { kind: 'eol' }]);
    const r = parse('0000ffff'); // garbage after EOL is not parsed
    assert.ok(r.ok);
    assert.deepEqual(r.value, [{ kind: 'eol' }]);
  });

  test('emission pads with zeros (EOL) to a 4-byte boundary', () => {
    const out = new Uint8Array(8).fill(0xcc);
    assert.equal(emitTcpOptions([{ kind: 'mss', value: 1460 }, { kind: 'window-scale', shift: 2 }], out, 0), 8);
    assert.deepEqual(out, hexBytes('020405b403030200'));
    assert.equal(tcpOptionsLen([]), 0);
    assert.equal(tcpOptionsLen([{ kind: 'nop' }]), 4);
  });

  test('a missing length byte is tcp-bad-option (RFC 9293 §3.1)', () => {
    assert.deepEqual(parse('010101' + '02'), { ok: false, reason: 'tcp-bad-option' });
  });

  test('a length below 2 is tcp-bad-option (RFC 9293 §3.1)', () => {
    assert.deepEqual(parse('1e010000'), { ok: false, reason: 'tcp-bad-option' });
    assert.deepEqual(parse('1e000000'), { ok: false, reason: 'tcp-bad-option' });
  });

  test('an option running past the header is tcp-bad-option (RFC 9293 §3.1)', () => {
    assert.deepEqual(parse('0101080a00000000'), { ok: false, reason: 'tcp-bad-option' });
    assert.deepEqual(parse('1e05aabb'), { ok: false, reason: 'tcp-bad-option' });
  });

  test('a known kind with the wrong length is tcp-bad-option (RFC 9293 §3.2, RFC 7323, RFC 2018)', () => {
    for (const hex of [
      '0203050000000000', // MSS length 3
      '02050000000000', // MSS length 5
      '03020000', // WS length 2
      '03040000', // WS length 4
      '04030000', // SACK-permitted length 3
      '05020000', // SACK with no block
      '050b000000000000000000', // SACK length 11
      '052a' + '00'.repeat(40), // SACK with 5 blocks
      '0809' + '00'.repeat(8), // TS length 9
    ]) {
      assert.deepEqual(parse(hex), { ok: false, reason: 'tcp-bad-option' }, hex);
    }
  });

  test('finders return the first matching option or undefined', () => {
    const opts: TcpOption[] = [
      { kind: 'mss', value: 1460 },
      { kind: 'sack-permitted' },
      { kind: 'timestamp', tsval: 5, tsecr: 6 },
      { kind: 'nop' },
      { kind: 'window-scale', shift: 7 },
      { kind: 'sack', blocks: [[10, 20]] },
    ];
    assert.equal(findMss(opts), 1460);
    assert.equal(findWindowScale(opts), 7);
    assert.equal(hasSackPermitted(opts), true);
    assert.deepEqual(findTimestamp(opts), { tsval: 5, tsecr: 6 });
    assert.deepEqual(findSack(opts), [[10, 20]]);
    assert.equal(findMss([]), undefined);
    assert.equal(findWindowScale([]), undefined);
    assert.equal(hasSackPermitted([]), false);
    assert.equal(findTimestamp([]), undefined);
    assert.equal(findSack([]), undefined);
  });

  test('emit rejects options over 40 bytes and malformed values (programmer errors)', () => {
    const big: TcpOption[] = Array.from({ length: 5 }, () => ({ kind: 'timestamp', tsval: 1, tsecr: 2 }) as const);
    assert.throws(() => emitTcpOptions(big, new Uint8Array(64), 0), /more than 40/);
    assert.throws(() => emitTcpOptions([{ kind: 'sack', blocks: [] }], new Uint8Array(8), 0), /1\.\.4 blocks/);
    assert.throws(() => emitTcpOptions([{ kind: 'mss', value: 70000 }], new Uint8Array(8), 0), /mss/);
    assert.throws(
      () => emitTcpOptions([{ kind: 'unknown', code: 2, data: new Uint8Array(2) }], new Uint8Array(8), 0),
      /not 'unknown'/,
    );
    assert.throws(() => emitTcpOptions([{ kind: 'mss', value: 1 }], new Uint8Array(3), 0), /too small/);
  });
});
