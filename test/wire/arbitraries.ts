/** fast-check arbitraries for valid wire representations. */
import fc from 'fast-check';
import type { IcmpEchoRepr, Ipv4Repr, TcpOption, TcpRepr } from '../../src/wire/types.ts';
import { tcpOptionLen } from '../../src/wire/tcp-options.ts';

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const port = fc.integer({ min: 1, max: 0xffff });

const KNOWN = [0, 1, 2, 3, 4, 5, 8];

export const tcpOption: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: 'nop' }),
  u16.map((value): TcpOption => ({ kind: 'mss', value })),
  u8.map((shift): TcpOption => ({ kind: 'window-scale', shift })),
  fc.constant<TcpOption>({ kind: 'sack-permitted' }),
  fc
    .array(fc.tuple(u32, u32), { minLength: 1, maxLength: 4 })
    .map((blocks): TcpOption => ({ kind: 'sack', blocks })),
  fc.tuple(u32, u32).map(([tsval, tsecr]): TcpOption => ({ kind: 'timestamp', tsval, tsecr })),
  fc
    .tuple(u8.filter((k) => !KNOWN.includes(k)), fc.uint8Array({ maxLength: 6, size: 'max' }))
    .map(([code, data]): TcpOption => ({ kind: 'unknown', code, data })),
);

/**
 * Option lists that survive a round trip: at most 40 bytes, and if their
 * length is not a multiple of 4 they end with an EOL (emission pads with
 * zeros, which parse back as one EOL followed by ignored padding).
 */
export const tcpOptions: fc.Arbitrary<TcpOption[]> = fc
  .tuple(fc.array(tcpOption, { maxLength: 8 }), fc.boolean())
  .map(([opts, eol]) => {
    const out: TcpOption[] = [];
    let len = 0;
    for (const o of opts) {
      const l = tcpOptionLen(o);
      if (len + l > 39) break;
      out.push(o);
      len += l;
    }
    if (eol || len % 4 !== 0) out.push({ kind: 'eol' });
    return out;
  });

export const tcpRepr: fc.Arbitrary<TcpRepr> = fc.record({
  srcPort: port,
  dstPort: port,
  seq: u32,
  ack: u32,
  flags: u8,
  window: u16,
  urgentPointer: u16,
  options: tcpOptions,
  payload: fc.uint8Array({ maxLength: 64, size: 'max' }),
}).map((r) => ({ ...r })); // fc.record builds null-prototype objects

export const ipv4Addr = u32;

export const ipv4Repr: fc.Arbitrary<Ipv4Repr> = fc.record({
  src: u32,
  dst: u32,
  protocol: u8,
  ttl: u8,
  tos: u8,
  ident: u16,
  dontFragment: fc.boolean(),
  payloadLen: fc.integer({ min: 0, max: 200 }),
}).map((r) => ({ ...r }));

export const icmpEchoRepr: fc.Arbitrary<IcmpEchoRepr> = fc.record({
  type: fc.constantFrom<IcmpEchoRepr['type']>('echo-request', 'echo-reply'),
  ident: u16,
  seqNo: u16,
  data: fc.uint8Array({ maxLength: 100, size: 'max' }),
}).map((r) => ({ ...r }));
