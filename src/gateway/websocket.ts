/**
 * The WebSocket protocol (RFC 6455), server side, sans-I/O: the opening
 * handshake's checks and reply (§4.2), and a decoder of the client's frames
 * (§5) that returns what happened — messages, pings, a close — and, on a
 * protocol violation, the status code the connection must be failed with
 * (§7.1.7, §7.4.1). Nothing here touches a socket; websocket-link.ts and
 * websocket-gateway.ts do.
 *
 * Limits: a message (all of its fragments) larger than `maxMessage` octets
 * fails the connection with 1009; no extension and no subprotocol is ever
 * negotiated (so RSV bits must be 0).
 */
import { createHash } from 'node:crypto';
import { concatBytes } from '../wire/bytes.ts';

/** RFC 6455 §1.3: the GUID the server appends to |Sec-WebSocket-Key|. */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const WS_OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Status codes of RFC 6455 §7.4.1. */
export const WS_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  noStatus: 1005,
  abnormal: 1006,
  invalidPayload: 1007,
  policy: 1008,
  tooBig: 1009,
} as const;

/**
 * RFC 6455 §4.2.2 step 5: "A |Sec-WebSocket-Accept| header field. The value
 * of this header field is constructed by concatenating /key/, defined above
 * in step 4 in Section 4.2.2, with the string
 * "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", taking the SHA-1 hash of this
 * concatenated value to obtain a 20-byte value and base64-encoding (see
 * Section 4 of [RFC4648]) this 20-byte hash."
 */
export function wsAcceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** What the server needs of a client's opening handshake (node:http's IncomingMessage fits). */
export interface WsHandshakeRequest {
  method?: string | undefined;
  httpVersion?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export type WsHandshakeResult =
  | { ok: true; key: string; origin: string | null; response: string }
  | { ok: false; status: number; reason: string; response: string };

/** Which origins may open a WebSocket (RFC 6455 §10.2). */
export interface WsOriginPolicy {
  /** Exact origins allowed ('*' allows any); empty: the default below. */
  allowed: readonly string[];
}

/**
 * The default origin check: a client that sends no |Origin| (not a browser:
 * RFC 6455 §4.1 makes it mandatory only for browser clients) is accepted,
 * and so is a page from a loopback host (http or https, any port:
 * localhost, 127.0.0.0/8, [::1]) — any other web page the user visits could
 * otherwise use the gateway to reach the host's loopback and network.
 */
export function wsOriginAllowed(origin: string | null, policy: WsOriginPolicy): boolean {
  if (policy.allowed.length > 0) {
    if (policy.allowed.includes('*')) return true;
    return origin !== null && policy.allowed.some((o) => o.toLowerCase() === origin.toLowerCase());
  }
  if (origin === null) return true;
  const m = /^https?:\/\/(\[[0-9a-fA-F:.]+\]|[^/:]+)(?::\d{1,5})?$/i.exec(origin);
  if (!m) return false;
  const host = m[1]!.toLowerCase();
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function header(req: WsHandshakeRequest, name: string): string | null {
  const v = req.headers[name];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}

function refuse(status: number, reason: string, extra = ''): WsHandshakeResult {
  const text = { 400: 'Bad Request', 403: 'Forbidden', 426: 'Upgrade Required', 503: 'Service Unavailable' }[status] ?? 'Error';
  const body = `${reason}\n`;
  return {
    ok: false,
    status,
    reason,
    response: `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  };
}

/** An HTTP error reply to a request that cannot become a WebSocket (e.g. too many guests: 503). */
export function wsRefusal(status: number, reason: string): string {
  return refuse(status, reason).response;
}

/**
 * RFC 6455 §4.2.1 (Reading the Client's Opening Handshake) and §4.2.2
 * (Sending the Server's Opening Handshake): checks the request and returns
 * the reply to write — 101 Switching Protocols, or an HTTP error.
 */
export function wsHandshake(req: WsHandshakeRequest, policy: WsOriginPolicy): WsHandshakeResult {
  // §4.2.1 1. "An HTTP/1.1 or higher GET request"
  const [maj, min] = (req.httpVersion ?? '0.0').split('.').map(Number);
  if (req.method !== 'GET' || !(maj! > 1 || (maj === 1 && min! >= 1))) return refuse(400, 'a WebSocket handshake is an HTTP/1.1 GET');
  // 3. "An |Upgrade| header field containing the value "websocket", treated as an ASCII case-insensitive value."
  const upgrade = header(req, 'upgrade');
  if (upgrade === null || !upgrade.split(',').some((t) => t.trim().toLowerCase() === 'websocket')) return refuse(426, 'this is a WebSocket endpoint (Upgrade: websocket)', 'Upgrade: websocket\r\n');
  // 4. "A |Connection| header field that includes the token "Upgrade", treated as an ASCII case-insensitive value."
  const connection = header(req, 'connection');
  if (connection === null || !connection.split(',').some((t) => t.trim().toLowerCase() === 'upgrade')) return refuse(400, 'Connection: Upgrade is missing');
  // 5. "A |Sec-WebSocket-Key| header field with a base64-encoded (see Section 4 of [RFC4648]) value that, when decoded, is 16 bytes in length."
  const key = header(req, 'sec-websocket-key')?.trim() ?? null;
  if (key === null || !/^[A-Za-z0-9+/]{22}==$/.test(key)) return refuse(400, 'Sec-WebSocket-Key must be 16 octets in base64');
  // 6. "A |Sec-WebSocket-Version| header field, with a value of 13."
  // §4.4: "If the server doesn't support the requested version, it MUST
  // respond with a |Sec-WebSocket-Version| header field (or multiple
  // |Sec-WebSocket-Version| header fields) containing all versions it is
  // willing to use." (with 426 Upgrade Required, §4.2.2).
  if (header(req, 'sec-websocket-version')?.trim() !== '13') return refuse(426, 'only WebSocket version 13 is supported', 'Sec-WebSocket-Version: 13\r\n');
  // §10.2: "If the origin indicated is unacceptable to the server, then it
  // SHOULD respond to the WebSocket handshake with a reply containing HTTP
  // 403 Forbidden status code."
  const origin = header(req, 'origin');
  if (!wsOriginAllowed(origin, policy)) return refuse(403, `origin ${JSON.stringify(origin)} is not allowed (see --websocket-origin)`);
  // §4.2.2 5: "1. A Status-Line with a 101 response code as per RFC 2616
  // [RFC2616]. ... 2. An |Upgrade| header field with value "websocket" ...
  // 3. A |Connection| header field with value "Upgrade". 4. A
  // |Sec-WebSocket-Accept| header field." No subprotocol or extension is
  // selected (none is sent back).
  const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${wsAcceptKey(key)}\r\n\r\n`;
  return { ok: true, key, origin, response };
}

/** What one chunk of the client's bytes amounted to. */
export type WsEvent =
  | { type: 'message'; binary: boolean; data: Uint8Array }
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array }
  /** A Close frame: its status code (1005 when it carried none) and reason. */
  | { type: 'close'; code: number; reason: string }
  /** The connection must be failed with this status code (§7.1.7); the decoder accepts nothing more. */
  | { type: 'fail'; code: number; reason: string };

export interface WsDecoderStats {
  frames: number;
  messages: number;
  pings: number;
}

/**
 * Decodes a client's frames (RFC 6455 §5.2). push() takes any slice of the
 * byte stream and returns the events it completed; after a 'close' or a
 * 'fail' it returns nothing more.
 */
export class WsDecoder {
  readonly stats: WsDecoderStats = { frames: 0, messages: 0, pings: 0 };
  private buf: Uint8Array = new Uint8Array(0);
  private done = false;
  /** The fragments of the message being received (§5.4), and its opcode. */
  private fragments: Uint8Array[] = [];
  private fragmentBytes = 0;
  private fragmentOpcode = -1;

  constructor(readonly maxMessage: number) {}

  get finished(): boolean {
    return this.done;
  }

  push(chunk: Uint8Array): WsEvent[] {
    const events: WsEvent[] = [];
    if (this.done) return events;
    if (this.buf.length === 0) this.buf = chunk;
    else {
      const b = new Uint8Array(this.buf.length + chunk.length);
      b.set(this.buf, 0);
      b.set(chunk, this.buf.length);
      this.buf = b;
    }
    let off = 0;
    const buf = this.buf;
    while (!this.done) {
      const used = this.frame(buf, off, events);
      if (used === 0) break;
      off += used;
    }
    this.buf = this.done ? new Uint8Array(0) : buf.subarray(off);
    return events;
  }

  private fail(events: WsEvent[], code: number, reason: string): number {
    this.done = true;
    this.fragments = [];
    events.push({ type: 'fail', code, reason });
    return 1;
  }

  /** Decodes one frame at `off`; returns the octets it used, 0 when it is not complete yet. */
  private frame(buf: Uint8Array, off: number, events: WsEvent[]): number {
    const avail = buf.length - off;
    if (avail < 2) return 0;
    const b0 = buf[off]!;
    const b1 = buf[off + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    // §5.2 RSV1, RSV2, RSV3: "MUST be 0 unless an extension is negotiated
    // that defines meanings for non-zero values. If a nonzero value is
    // received and none of the negotiated extensions defines the meaning of
    // such a nonzero value, the receiving endpoint MUST _Fail the WebSocket
    // Connection_."
    if ((b0 & 0x70) !== 0) return this.fail(events, WS_CLOSE.protocolError, 'RSV bits set without an extension');
    // §5.2 Opcode: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
    const control = (opcode & 0x8) !== 0;
    if (![0x0, 0x1, 0x2, 0x8, 0x9, 0xa].includes(opcode)) return this.fail(events, WS_CLOSE.protocolError, `unknown opcode ${opcode}`);
    // §5.1: "The server MUST close the connection upon receiving a frame
    // that is not masked. In this case, a server MAY send a Close frame with
    // a status code of 1002 (protocol error)".
    if ((b1 & 0x80) === 0) return this.fail(events, WS_CLOSE.protocolError, 'a client frame must be masked');
    let len = b1 & 0x7f;
    let hdr = 2;
    if (len === 126) {
      if (avail < 4) return 0;
      len = (buf[off + 2]! << 8) | buf[off + 3]!;
      hdr = 4;
      // §5.2: "in all cases, the minimal number of bytes MUST be used to encode the length"
      if (len < 126) return this.fail(events, WS_CLOSE.protocolError, 'a length not in its shortest form');
    } else if (len === 127) {
      if (avail < 10) return 0;
      // "(the most significant bit MUST be 0)"
      if ((buf[off + 2]! & 0x80) !== 0) return this.fail(events, WS_CLOSE.protocolError, 'a 64-bit length with its top bit set');
      const hi = ((buf[off + 2]! << 24) | (buf[off + 3]! << 16) | (buf[off + 4]! << 8) | buf[off + 5]!) >>> 0;
      const lo = ((buf[off + 6]! << 24) | (buf[off + 7]! << 16) | (buf[off + 8]! << 8) | buf[off + 9]!) >>> 0;
      hdr = 10;
      if (hi !== 0 || lo > this.maxMessage) return this.fail(events, WS_CLOSE.tooBig, `a frame longer than ${this.maxMessage} octets`);
      len = lo;
      if (len < 0x10000) return this.fail(events, WS_CLOSE.protocolError, 'a length not in its shortest form');
    }
    if (control) {
      // §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented."
      if (len > 125) return this.fail(events, WS_CLOSE.protocolError, 'a control frame longer than 125 octets');
      if (!fin) return this.fail(events, WS_CLOSE.protocolError, 'a fragmented control frame');
    } else if (this.fragmentBytes + len > this.maxMessage) {
      // §7.4.1 1009: "an endpoint is terminating the connection because it
      // has received a message that is too big for it to process."
      return this.fail(events, WS_CLOSE.tooBig, `a message longer than ${this.maxMessage} octets`);
    }
    if (avail < hdr + 4 + len) return 0;
    // §5.3: "octet i of the transformed data ("transformed-octet-i") is the
    // XOR of octet i of the original data ("original-octet-i") with octet at
    // index i modulo 4 of the masking key ("masking-key-octet-j")"
    const start = off + hdr + 4;
    const payload = unmask(buf.subarray(start, start + len), buf.subarray(off + hdr, off + hdr + 4));
    this.stats.frames++;
    const used = hdr + 4 + len;
    if (control) {
      this.control(opcode, payload, events);
      return used;
    }
    // §5.4 fragmentation: "A fragmented message consists of a single frame
    // with the FIN bit clear and an opcode other than 0, followed by zero or
    // more frames with the FIN bit clear and the opcode set to 0, and
    // terminated by a single frame with the FIN bit set and an opcode of 0."
    if (opcode === WS_OPCODE.continuation) {
      if (this.fragmentOpcode < 0) return this.fail(events, WS_CLOSE.protocolError, 'a continuation frame without a message to continue');
    } else {
      // "an endpoint MUST NOT ... interleave" data messages: a new data
      // frame while a message is incomplete is a protocol error.
      if (this.fragmentOpcode >= 0) return this.fail(events, WS_CLOSE.protocolError, 'a new message before the previous one finished');
      this.fragmentOpcode = opcode;
    }
    this.fragments.push(payload);
    this.fragmentBytes += len;
    if (!fin) return used;
    const data = concatBytes(this.fragments);
    const binary = this.fragmentOpcode === WS_OPCODE.binary;
    this.fragments = [];
    this.fragmentBytes = 0;
    this.fragmentOpcode = -1;
    this.stats.messages++;
    events.push({ type: 'message', binary, data });
    return used;
  }

  private control(opcode: number, payload: Uint8Array, events: WsEvent[]): void {
    if (opcode === WS_OPCODE.ping) {
      this.stats.pings++;
      events.push({ type: 'ping', data: payload });
    } else if (opcode === WS_OPCODE.pong) {
      events.push({ type: 'pong', data: payload });
    } else {
      // §5.5.1: "If there is a body, the first two bytes of the body MUST be
      // a 2-byte unsigned integer (in network byte order) representing a
      // status code with value /code/ defined in Section 7.4."
      if (payload.length === 1) {
        this.fail(events, WS_CLOSE.protocolError, 'a close frame with a 1-octet body');
        return;
      }
      const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : WS_CLOSE.noStatus;
      let reason = '';
      try {
        reason = new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2));
      } catch {
        this.fail(events, WS_CLOSE.invalidPayload, 'a close reason that is not UTF-8');
        return;
      }
      this.done = true;
      events.push({ type: 'close', code, reason });
    }
  }
}

/**
 * A copy of `data` XORed with the 4-octet `mask` repeated: four octets at a
 * time (a Uint32Array over the fresh copy, the mask read through the same
 * byte order), the last 0–3 one by one.
 */
function unmask(data: Uint8Array, mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  out.set(data);
  const m4 = new Uint8Array(4);
  m4.set(mask);
  const m32 = new Uint32Array(m4.buffer)[0]!;
  const words = data.length >>> 2;
  const w = new Uint32Array(out.buffer, 0, words);
  for (let i = 0; i < words; i++) w[i] = w[i]! ^ m32;
  for (let i = words << 2; i < data.length; i++) out[i] = out[i]! ^ mask[i & 3]!;
  return out;
}

/**
 * One unfragmented server frame. §5.1: "A server MUST NOT mask any frames
 * that it sends to the client."
 */
export function wsEncodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const hdr = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
  const out = new Uint8Array(hdr + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = n;
  else if (n < 0x10000) {
    out[1] = 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    // A 64-bit length; frames here are below 2^32 octets (an Ethernet frame at most): the upper half is 0.
    out[1] = 127;
    out[6] = (n >>> 24) & 0xff;
    out[7] = (n >>> 16) & 0xff;
    out[8] = (n >>> 8) & 0xff;
    out[9] = n & 0xff;
  }
  out.set(payload, hdr);
  return out;
}

/** A Close frame with a status code and a (short) reason (§5.5.1). */
export function wsEncodeClose(code: number, reason = ''): Uint8Array {
  const r = new TextEncoder().encode(reason).subarray(0, 123);
  const body = new Uint8Array(2 + r.length);
  body[0] = code >>> 8;
  body[1] = code & 0xff;
  body.set(r, 2);
  return wsEncodeFrame(WS_OPCODE.close, body);
}
