/**
 * The gateway's WebSocket protocol engine (src/gateway/websocket.ts, RFC
 * 6455, server side), sans-I/O: the opening handshake's checks and reply,
 * the frame decoder (masking, lengths, fragmentation, control frames,
 * close) and the encoder. Frames from the client are built here byte by
 * byte, as §5.2 draws them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketFrameLink } from '../../src/gateway/websocket-link.ts';
import { unixSocketPair } from './helpers.ts';
import { WS_CLOSE, WsDecoder, wsAcceptKey, wsEncodeClose, wsEncodeFrame, wsHandshake, wsOriginAllowed, type WsEvent } from '../../src/gateway/websocket.ts';

/** A client frame (masked unless mask is null), with the length in its shortest form unless `len` forces one. */
function clientFrame(opcode: number, payload: Uint8Array, o: { fin?: boolean; mask?: number[] | null; rsv?: number; len?: 'short' | '16' | '64' } = {}): Uint8Array {
  const fin = o.fin ?? true;
  const mask = o.mask === undefined ? [0x37, 0xfa, 0x21, 0x3d] : o.mask;
  const n = payload.length;
  const form = o.len ?? (n < 126 ? 'short' : n < 0x10000 ? '16' : '64');
  const head: number[] = [(fin ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (form === 'short') head.push(m | n);
  else if (form === '16') head.push(m | 126, n >>> 8, n & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  if (mask) head.push(...mask);
  const body = Uint8Array.from(payload, (b, i) => (mask ? b ^ mask[i & 3]! : b));
  return new Uint8Array([...head, ...body]);
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const req = (headers: Record<string, string>, method = 'GET', httpVersion = '1.1') => ({ method, httpVersion, headers });
const good = { host: '127.0.0.1:8086', upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };

describe('RFC 6455 §4.2: the opening handshake', () => {
  test('§1.3/§4.2.2: Sec-WebSocket-Accept of the RFC\'s sample key "dGhlIHNhbXBsZSBub25jZQ==" is "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="', () => {
    assert.equal(wsAcceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('§4.2.2: a valid request gets 101 Switching Protocols with Upgrade, Connection and Sec-WebSocket-Accept, and no subprotocol or extension', () => {
    const r = wsHandshake(req(good), { allowed: [] });
    assert.equal(r.ok, true);
    assert.equal(r.response, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    // Header values are case-insensitive tokens, Connection may list several.
    assert.equal(wsHandshake(req({ ...good, upgrade: 'WebSocket', connection: 'keep-alive, upgrade' }), { allowed: [] }).ok, true);
  });

  test('§4.2.1: not a GET, HTTP/1.0, no Upgrade: websocket (426), no Connection: Upgrade, a key that is not 16 octets in base64 — all refused', () => {
    const status = (r: ReturnType<typeof wsHandshake>) => (r.ok ? 101 : r.status);
    assert.equal(status(wsHandshake(req(good, 'POST'), { allowed: [] })), 400);
    assert.equal(status(wsHandshake(req(good, 'GET', '1.0'), { allowed: [] })), 400);
    assert.equal(status(wsHandshake(req({ ...good, upgrade: 'h2c' }), { allowed: [] })), 426);
    assert.equal(status(wsHandshake(req({ ...good, connection: 'keep-alive' }), { allowed: [] })), 400);
    assert.equal(status(wsHandshake(req({ ...good, 'sec-websocket-key': 'c2hvcnQ=' }), { allowed: [] })), 400);
  });

  test('§4.4: a version other than 13 gets 426 with Sec-WebSocket-Version: 13', () => {
    const r = wsHandshake(req({ ...good, 'sec-websocket-version': '8' }), { allowed: [] });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.status, 426);
    assert.match(r.response, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
    assert.match(r.response, /\r\nSec-WebSocket-Version: 13\r\n/);
  });

  test('§10.2: by default no Origin or a loopback page is accepted and any other origin gets 403; with a list, exactly those origins ("*": any)', () => {
    const d = { allowed: [] as string[] };
    for (const o of [null, 'http://localhost:8000', 'http://127.0.0.1:5173', 'https://[::1]', 'http://127.1.2.3']) assert.equal(wsOriginAllowed(o, d), true, String(o));
    for (const o of ['https://example.com', 'http://localhost.evil.test', 'null', 'file://']) assert.equal(wsOriginAllowed(o, d), false, o);
    const r = wsHandshake(req({ ...good, origin: 'https://example.com' }), d);
    assert.equal(!r.ok && r.status, 403);
    assert.match(r.response, /^HTTP\/1\.1 403 Forbidden\r\n/);
    const list = { allowed: ['https://app.example'] };
    assert.equal(wsOriginAllowed('https://app.example', list), true);
    assert.equal(wsOriginAllowed('http://localhost:8000', list), false);
    assert.equal(wsOriginAllowed(null, list), false);
    assert.equal(wsOriginAllowed('https://anything.test', { allowed: ['*'] }), true);
  });
});

describe('RFC 6455 §5: frames from the client', () => {
  const decode = (chunks: Uint8Array[], max = 4096): WsEvent[] => {
    const d = new WsDecoder(max);
    return chunks.flatMap((c) => d.push(c));
  };

  test('§5.3: a masked binary frame is unmasked; a frame split at every octet decodes the same; 16- and 64-bit lengths (§5.2)', () => {
    const p = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const f = clientFrame(2, p);
    assert.deepEqual(decode([f]), [{ type: 'message', binary: true, data: p }]);
    assert.deepEqual(decode(Array.from(f, (b) => Uint8Array.of(b))), [{ type: 'message', binary: true, data: p }]);
    const big = new Uint8Array(70_000).fill(7);
    assert.deepEqual(decode([clientFrame(2, big)], 100_000), [{ type: 'message', binary: true, data: big }]);
    // Two frames in one chunk: two messages.
    assert.equal(decode([new Uint8Array([...clientFrame(2, p), ...clientFrame(2, p)])]).length, 2);
  });

  test('§5.1: an unmasked client frame fails the connection with 1002', () => {
    assert.deepEqual(decode([clientFrame(2, bytes('x'), { mask: null })]), [{ type: 'fail', code: WS_CLOSE.protocolError, reason: 'a client frame must be masked' }]);
  });

  test('§5.2: RSV bits without an extension, an unknown opcode, a length not in its shortest form — each fails with 1002, and nothing after it is decoded', () => {
    for (const f of [clientFrame(2, bytes('x'), { rsv: 4 }), clientFrame(3, bytes('x')), clientFrame(2, bytes('x'), { len: '16' }), clientFrame(2, new Uint8Array(200), { len: '64' })]) {
      const ev = decode([new Uint8Array([...f, ...clientFrame(2, bytes('after'))])]);
      assert.equal(ev.length, 1);
      assert.equal(ev[0]!.type, 'fail');
      assert.equal((ev[0] as { code: number }).code, 1002);
    }
  });

  test('§5.4: a fragmented message is reassembled, with a ping between its fragments answered in order; a continuation without a start, or a new message inside one, fails with 1002', () => {
    const ev = decode([clientFrame(2, bytes('ab'), { fin: false }), clientFrame(9, bytes('p')), clientFrame(0, bytes('cd'), { fin: false }), clientFrame(0, bytes('e'))]);
    assert.deepEqual(ev, [
      { type: 'ping', data: bytes('p') },
      { type: 'message', binary: true, data: bytes('abcde') },
    ]);
    assert.equal((decode([clientFrame(0, bytes('x'))])[0] as { code: number }).code, 1002);
    assert.equal((decode([clientFrame(2, bytes('a'), { fin: false }), clientFrame(2, bytes('b'))])[0] as { code: number }).code, 1002);
  });

  test('§5.5: a control frame over 125 octets, or fragmented, fails with 1002', () => {
    assert.equal((decode([clientFrame(9, new Uint8Array(126))])[0] as { code: number }).code, 1002);
    assert.equal((decode([clientFrame(9, bytes('p'), { fin: false })])[0] as { code: number }).code, 1002);
  });

  test('§5.5.1: a Close frame gives its status code and reason (1005 without a body), and ends decoding; a 1-octet body fails with 1002', () => {
    const body = new Uint8Array([0x03, 0xe8, ...bytes('bye')]);
    assert.deepEqual(decode([new Uint8Array([...clientFrame(8, body), ...clientFrame(2, bytes('late'))])]), [{ type: 'close', code: 1000, reason: 'bye' }]);
    assert.deepEqual(decode([clientFrame(8, new Uint8Array(0))]), [{ type: 'close', code: 1005, reason: '' }]);
    assert.equal((decode([clientFrame(8, new Uint8Array([3]))])[0] as { code: number }).code, 1002);
  });

  test('§7.4.1 1009: a message (all its fragments) longer than the limit fails the connection, before its payload arrives', () => {
    assert.deepEqual(decode([clientFrame(2, new Uint8Array(5000)).subarray(0, 8)], 4096), [{ type: 'fail', code: 1009, reason: 'a message longer than 4096 octets' }]);
    const ev = decode([clientFrame(2, new Uint8Array(3000), { fin: false }), clientFrame(0, new Uint8Array(3000))], 4096);
    assert.equal((ev[0] as { code: number }).code, 1009);
  });

  test('a text message is reported as not binary (the link closes with 1003)', () => {
    assert.deepEqual(decode([clientFrame(1, bytes('hi'))]), [{ type: 'message', binary: false, data: bytes('hi') }]);
  });
});

describe('RFC 6455 §5.1/§5.2: frames from the server', () => {
  test('server frames are unmasked with the shortest length form: 125, 126 and 65 536 octets', () => {
    const f1 = wsEncodeFrame(2, new Uint8Array(125));
    assert.deepEqual([...f1.subarray(0, 2)], [0x82, 125]);
    const f2 = wsEncodeFrame(2, new Uint8Array(126));
    assert.deepEqual([...f2.subarray(0, 4)], [0x82, 126, 0, 126]);
    const f3 = wsEncodeFrame(2, new Uint8Array(65536));
    assert.deepEqual([...f3.subarray(0, 10)], [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
    assert.equal(f3.length, 65546);
  });

  test('§5.5.1: a Close frame carries the status code in network order, then the reason', () => {
    assert.deepEqual([...wsEncodeClose(1003, 'no')], [0x88, 4, 0x03, 0xeb, 0x6e, 0x6f]);
  });
});

test('the WebSocket link ends each chunk of messages for the stack, even one a Close ends early (Link.onReceiveEnd, RFC 9293 MUST-59)', async () => {
  const pair = await unixSocketPair();
  try {
    // Two binary messages and a Close, in the bytes read with the handshake.
    const head = new Uint8Array([...clientFrame(2, new Uint8Array(60)), ...clientFrame(2, new Uint8Array(70)), ...clientFrame(8, new Uint8Array([0x03, 0xe8]))]);
    const link = new WebSocketFrameLink(pair.near, 1500, head);
    assert.equal(link.receivesInBatches, true);
    const calls: string[] = [];
    link.onReceive = (f) => calls.push(`frame ${f.length}`);
    link.onReceiveEnd = () => calls.push('end');
    link.onBatch = () => calls.push('batch');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(calls, ['frame 60', 'frame 70', 'end', 'batch']);
    assert.equal(link.isOpen, false, 'the Close was taken');
  } finally {
    pair.close();
  }
});
