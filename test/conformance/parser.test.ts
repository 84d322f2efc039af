import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScript, type PacketAction, type SyscallAction } from '../../src/conformance/parser.ts';
import { ACK, FIN, PSH, SYN } from '../../src/wire/types.ts';

test('options, times, packets, calls, commands and code blocks', () => {
  const s = parseScript(`
--ip_version=ipv4
--tolerance_usecs=50000
/* a block
   comment */
 0.00 \`sysctl -w net.inet.tcp.rfc1323=1\`
+0.00 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+ 0.10 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
 1.00...6.00 connect(3, ..., ...) = -1 ETIMEDOUT (Operation timed out)
+0.00 > S  0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
*     > S  0:0(0) win 65535 <...>
+0.1~+0.2 > (ttl 4) R. 0:0(0)! ack 1 win 0
+0.00 <  .  8:16(8)  ack  1 win 65535 <nop,nop,sack 2:4 16:32> // a comment
+0.00 > FP. ...(10) ack 1
+0.00 %{ assert tcpi_state == TCPI_CLOSING }%
`);
  assert.equal(s.options.get('tolerance_usecs'), '50000');
  const [sysctl, sock, fcntl, conn, syn, any, rst, data, fin, code] = s.events;
  assert.deepEqual(sysctl!.action, { type: 'command', command: 'sysctl -w net.inet.tcp.rfc1323=1' });
  assert.deepEqual(sock!.time, { kind: 'rel', us: 0 });
  assert.equal((sock!.action as SyscallAction).name, 'socket');
  assert.deepEqual(fcntl!.time, { kind: 'rel', us: 100_000 });
  assert.deepEqual((fcntl!.action as SyscallAction).args[2], { k: 'or', items: [{ k: 'word', v: 'O_RDWR' }, { k: 'word', v: 'O_NONBLOCK' }] });
  assert.deepEqual(conn!.time, { kind: 'abs', us: 1_000_000 });
  assert.deepEqual(conn!.end, { kind: 'abs', us: 6_000_000 });
  assert.equal((conn!.action as SyscallAction).errno, 'ETIMEDOUT');
  const p = syn!.action as PacketAction;
  assert.equal(p.dir, 'out');
  assert.equal(p.flags, SYN);
  assert.deepEqual(p.options, [
    { kind: 'mss', value: 1460 },
    { kind: 'nop' },
    { kind: 'window-scale', shift: 6 },
    { kind: 'sack-permitted' },
    { kind: 'timestamp', tsval: 100, tsecr: 0 },
  ]);
  assert.equal(any!.time.kind, 'any');
  assert.equal((any!.action as PacketAction).options, 'any');
  assert.deepEqual(rst!.time, { kind: 'rel', us: 100_000, rangeEnd: { kind: 'rel', us: 200_000 } });
  assert.equal((rst!.action as PacketAction).ip.ttl, 4);
  assert.equal((rst!.action as PacketAction).seq.absolute, true);
  const d = data!.action as PacketAction;
  assert.equal(d.dir, 'in');
  assert.deepEqual([d.seq.start, d.seq.end, d.seq.len, d.ack, d.win], [8, 16, 8, 1, 65535]);
  assert.deepEqual(d.options, [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [[2, 4], [16, 32]] }]);
  const f = fin!.action as PacketAction;
  assert.equal(f.flags, FIN | PSH | ACK);
  assert.equal(f.seq.any, true);
  assert.equal(f.win, null);
  assert.deepEqual(code!.action, { type: 'code', code: 'assert tcpi_state == TCPI_CLOSING' });
});

test('#ifdef keeps the defined branch only', () => {
  const src = ' 0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n#ifdef STANDARD\n+0 close(3) = 0\n#endif\n#ifdef FreeBSD\n+0 listen(3, 1) = 0\n#endif\n';
  assert.deepEqual(parseScript(src).events.map((e) => (e.action as SyscallAction).name), ['socket', 'close']);
  assert.deepEqual(parseScript(src, { defines: ['FreeBSD'] }).events.map((e) => (e.action as SyscallAction).name), ['socket', 'listen']);
});

test('unsupported constructs parse into unsupported events; malformed lines throw', () => {
  const s = parseScript('0 < S. 0:0(0) ack 1 win 1 <md5 valid>\n+0 < . 1:1(0) ack 1 win 1/udp(1 > 9811)\n+0 frobnicate\n');
  assert.deepEqual(s.events.map((e) => e.action.type), ['unsupported', 'unsupported', 'unsupported']);
  assert.throws(() => parseScript('0 < S 0:5(0) win 1\n'), /inconsistent sequence range/);
  assert.throws(() => parseScript('0 < S 0:0(0)\n'), /inbound packets need `win`/);
  assert.throws(() => parseScript('socket()\n'), /expected a time/);
  assert.throws(() => parseScript('#ifdef X\n0 close(3) = 0\n'), /missing #endif/);
});
