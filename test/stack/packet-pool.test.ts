/**
 * The transmit packet pool (stack/packet-pool.ts) and the Ethernet
 * interface's use of its headroom: a TCP segment's Ethernet header is
 * written into the bytes the pool reserved in front of the packet, so the
 * frame is the packet's own buffer (no copy), and what arrives is intact.
 * RFC 894 ("Ethernet frames: Destination address, Source address, Type,
 * Data") — the frame is the 14-octet header followed by the IP datagram.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { hasHeadroom, PACKET_HEADROOM, PacketPool } from '../../src/stack/packet-pool.ts';
import { createMemoryNetwork } from '../../src/api/memory-network.ts';
import { ETHERTYPE_IPV4, parseEthernet } from '../../src/wire/ethernet.ts';

describe('packet pool headroom', () => {
  test('every allocation owns PACKET_HEADROOM bytes in front of it: writing there never touches another packet; 8-byte aligned; large packets too', () => {
    const pool = new PacketPool();
    const sizes = [40, 1500, 7, 64, 3000, 9000, 100, 65535, 20];
    const got = sizes.map((n, i) => {
      const b = pool.alloc(n);
      assert.equal(b.length, n);
      assert.equal(b.byteOffset % 8, 0);
      assert.ok(hasHeadroom(b));
      b.fill(i + 1);
      return b;
    });
    // Scribble over each packet's headroom: every other packet keeps its bytes.
    for (const b of got) new Uint8Array(b.buffer, b.byteOffset - PACKET_HEADROOM, PACKET_HEADROOM).fill(0xee);
    got.forEach((b, i) => assert.ok(b.every((x) => x === i + 1), `packet ${i} intact`));
  });

  test('a buffer that is not the pool\'s has no headroom to write (a plain array, a subarray of one)', () => {
    assert.equal(hasHeadroom(new Uint8Array(100)), false);
    assert.equal(hasHeadroom(new Uint8Array(100).subarray(20)), false);
  });

  test('TCP over Ethernet: each frame of a 256 KiB transfer is its packet\'s own buffer with the header in front (no copy), and the bytes arrive intact (SHA-256)', async () => {
    const lan = createMemoryNetwork({ ethernet: true, seed: 3 });
    const a = lan.host('10.0.0.1', { mac: '02:00:00:00:00:01' });
    const b = lan.host('10.0.0.2', { mac: '02:00:00:00:00:02' });
    let tcpFrames = 0;
    let inPlace = 0;
    a.eth!.tap = (dir, frame) => {
      if (dir !== 'out') return;
      const eth = parseEthernet(frame);
      if (!eth.ok || eth.value.header.ethertype !== ETHERTYPE_IPV4 || frame[14 + 9] !== 6) return;
      tcpFrames++;
      // The IP packet right behind the header still counts as a pool packet: the frame is a view of its buffer.
      if (hasHeadroom(frame.subarray(14))) inPlace++;
    };
    const data = Buffer.alloc(256 << 10);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    try {
      const received = new Promise<Buffer>((resolve) => {
        b.net
          .createServer((s) => {
            const parts: Buffer[] = [];
            s.on('data', (d: Buffer) => parts.push(d));
            s.on('end', () => resolve(Buffer.concat(parts)));
          })
          .listen(7000);
      });
      const c = a.net.connect(7000, '10.0.0.2');
      c.on('connect', () => c.end(data));
      const got = await received;
      assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
      assert.ok(tcpFrames > 100, `${tcpFrames} TCP frames`);
      assert.equal(inPlace, tcpFrames);
    } finally {
      lan.stop();
    }
  });
});
