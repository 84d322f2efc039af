/**
 * TUN offloads (IFF_VNET_HDR, TUNSETOFFLOAD checksum + TSO4 + TSO6;
 * src/links/vnet.ts) against Linux's TCP, with offloads on and with
 * `--no-offload`: a curl download, a 50 MB echo compared by SHA-256, and
 * the link's counters: with offloads on the kernel hands synack GSO
 * segments larger than the MTU (received whole, partial checksums
 * completed) and synack's runs of segments go out as TSO writes the kernel
 * segments; with them off, no packet exceeds the MTU.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Netns, ready, skipUnlessReady, type Proc } from './helpers.ts';

const skip = skipUnlessReady(['curl']);

for (const offload of [true, false]) {
  describe(`interop: TUN offloads ${offload ? 'on' : 'off (--no-offload)'}, MTU 1500`, { skip, timeout: 180_000 }, () => {
    const ns = new Netns({ tag: offload ? 'offon' : 'offoff', subnet: offload ? 41 : 42, ipv6: true });
    let serve: Proc;
    const S = ns.synackAddr;

    before(async () => {
      ns.setup();
      serve = ns.synack('serve', ['--echo', '7', '--discard', '9', '--chargen', '19', '--http', '80', '--stats', ...(offload ? [] : ['--no-offload'])], { timeoutMs: 170_000 });
      await ready(serve);
    });

    after(async () => {
      serve?.kill('SIGTERM');
      await ns.cleanup();
    });

    it('curl GET /bytes/N: byte-exact', () => {
      const n = 5_000_000;
      const out = ns.exec(['sh', '-c', `curl -sS --max-time 30 http://${S}/bytes/${n} | sha256sum`]);
      const want = createHash('sha256')
        .update(Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff)))
        .digest('hex');
      assert.equal(out.split(' ')[0], want);
    });

    it(`curl -6 GET /bytes/N over IPv6: byte-exact${offload ? ", synack's segments leaving as TSO6 writes (RFC 8200 Payload Length, the IPv6 pseudo-header)" : ''}`, async () => {
      const before = offload ? await linkStats() : null;
      const n = 5_000_000;
      const out = ns.exec(['sh', '-c', `curl -sS -6 --max-time 30 'http://[${ns.synackAddr6}]/bytes/${n}' | sha256sum`]);
      const want = createHash('sha256')
        .update(Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff)))
        .digest('hex');
      assert.equal(out.split(' ')[0], want);
      if (before) {
        const after = await linkStats();
        assert.ok(after['offloads']! & 4, `TSO6 accepted (offloads ${after['offloads']})`);
        // 5 MB in runs of full-sized segments: most of them in TSO writes.
        assert.ok(after['gsoOutSegments']! - before['gsoOutSegments']! > 2_000, `IPv6 segments carried in TSO writes: ${after['gsoOutSegments']! - before['gsoOutSegments']!}`);
      }
    });

    for (const v6 of [false, true]) {
      it(`curl${v6 ? ' -6' : ''} GET /bytes/50000000: SHA-256 equal${offload ? ", synack's data leaving as super-segments (one TSO write of several MSS built as one segment: the link's superOut)" : ', no super-segment'}`, async () => {
        const before = await linkStats();
        const n = 50_000_000;
        const url = v6 ? `'http://[${ns.synackAddr6}]/bytes/${n}'` : `http://${S}/bytes/${n}`;
        const out = ns.exec(['sh', '-c', `curl -sS ${v6 ? '-6 ' : ''}--max-time 120 ${url} | sha256sum`]);
        const pattern = Buffer.alloc(n);
        for (let i = 0; i < n; i++) pattern[i] = i & 0xff;
        assert.equal(out.split(' ')[0], createHash('sha256').update(pattern).digest('hex'));
        const after = await linkStats();
        const supers = (after['superOut'] ?? 0) - (before['superOut'] ?? 0);
        if (offload) {
          const segs = after['gsoOutSegments']! - before['gsoOutSegments']!;
          assert.ok(supers > 100, `super-segments written: ${supers}`);
          // 50 MB is ~34,500 segments of 1,448 (IPv6: 1,428) octets; most leave inside TSO writes.
          assert.ok(segs > 25_000, `segments inside TSO writes: ${segs}`);
          assert.ok(segs / (after['gsoOut']! - before['gsoOut']!) > 4, `on average more than 4 segments per TSO write (${segs} in ${after['gsoOut']! - before['gsoOut']!})`);
        } else assert.equal(supers, 0);
      });
    }

    /** The link's counters now (SIGUSR2 → a stats line). */
    async function linkStats(): Promise<Record<string, number>> {
      const before = serve.stdout().length;
      serve.kill('SIGUSR2');
      await new Promise<void>((res) => {
        const t = setInterval(() => {
          if (serve.stdout().slice(before).includes('\n')) {
            clearInterval(t);
            res();
          }
        }, 20);
      });
      const line = serve.stdout().slice(before).split('\n').find((l) => l.startsWith('stats '))!;
      return (JSON.parse(line.slice(6)) as Record<string, unknown>)['link'] as Record<string, number>;
    }

    it('echo: 50 MB from a kernel client, SHA-256 equal', async () => {
      const r = await ns.peer(['echo-client', S, '7', String(50_000_000), 'early']);
      assert.equal(r['received'], 50_000_000);
      assert.equal(r['received_sha'], r['sent_sha']);
    });

    it(`discard: 10 MB from the kernel ${offload ? 'arrives in GSO segments larger than the MTU' : 'arrives in packets no larger than the MTU'}; synack's segments ${offload ? 'leave as TSO writes' : 'leave one by one'}`, async () => {
      const r = await ns.peer(['send', S, '9', String(10_000_000)]);
      assert.equal(r['received'], 0);
      const link = await linkStats();
      if (offload) {
        assert.ok(link['offloads']! & 2, `TSO4 accepted (offloads ${link['offloads']})`);
        assert.ok(link['gsoIn']! > 0, 'GSO segments received');
        assert.ok(link['largestIn']! > 1500, `a segment larger than the MTU was received whole (largest ${link['largestIn']})`);
        assert.ok(link['csumCompleted']! + link['csumTrusted']! > 0, 'partial checksums completed, or trusted as the kernel trusts them');
        // The curl download and the echo sent runs of full-sized segments.
        assert.ok(link['gsoOut']! > 0 && link['gsoOutSegments']! >= 2 * link['gsoOut']!, `TSO writes (${link['gsoOut']} carrying ${link['gsoOutSegments']} segments)`);
      } else {
        assert.equal(link['offloads'], 0);
        assert.equal(link['gsoIn'], 0);
        assert.ok(link['largestIn']! <= 1500, `largest ${link['largestIn']}`);
        assert.equal(link['gsoOut'], 0);
      }
    });
  });
}
