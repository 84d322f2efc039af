/**
 * The packetdrill executor against synack: a handwritten script that must
 * pass, and scripts that must fail with a specific first mismatch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScriptSource } from '../../src/conformance/executor.ts';

const PASSIVE = `
--tolerance_usecs=10000
// A passive open, one data segment, an active close into TIME-WAIT.
 0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0   setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0   fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0   bind(3, ..., ...) = 0
+0   listen(3, 1) = 0
+0   accept(3, ..., ...) = -1 EWOULDBLOCK (Operation would block)
+0   < S 0:0(0) win 65535 <mss 1460,sackOK,eol,eol>
+0   > S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>
+.01 < . 1:1(0) ack 1 win 65535
+0   accept(3, ..., ...) = 4
+0   %{ assert tcpi_state == TCPI_ESTABLISHED }%
+0   < P. 1:101(100) ack 1 win 65535
+0   recv(4, ..., 1000, MSG_PEEK) = 100
+0   recv(4, ..., 1000, 0) = 100
+.04 > . 1:1(0) ack 101 win 65535
+0   close(4) = 0
+0   > F. 1:1(0) ack 101 win 65535
+.01 < F. 101:101(0) ack 2 win 65535
+0   > . 2:2(0) ack 102 win 65535
+0   \`sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1\`
+0   getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0
+0   close(3) = 0
`;

test('a handwritten passive-open script passes', () => {
  const r = runScriptSource(PASSIVE);
  assert.equal(r.reason, '');
  assert.equal(r.passed, true);
});

test('an active open with a refused connection passes (SO_ERROR = ECONNREFUSED)', () => {
  const r = runScriptSource(`
 0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0   fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)
+0   fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0   connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0   > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
+0   %{ assert tcpi_state == TCPI_SYN_SENT }%
+.1  < R. 0:0(0) ack 1 win 0
+0   getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
+0   close(3) = 0
`);
  assert.equal(r.reason, '');
  assert.equal(r.passed, true);
});

test('a wrong window fails with the expected and the actual line', () => {
  const r = runScriptSource(PASSIVE.replace('> S. 0:0(0) ack 1 win 65535', '> S. 0:0(0) ack 1 win 1000'));
  assert.equal(r.passed, false);
  assert.match(r.reason, /^win mismatch\n/);
  assert.match(r.reason, /expected: > S\. 0:0\(0\) ack 1 win 1000 <mss 1460,sackOK,eol,eol>/);
  assert.match(r.reason, /actual: {3}> S\. 0:0\(0\) ack 1 win 65535 <mss 1460,sackOK,eol,eol>/);
  assert.equal(r.line, 11);
});

test('a packet the stack does not send fails after the tolerance', () => {
  const r = runScriptSource(PASSIVE.replace('+.04 > . 1:1(0) ack 101 win 65535', '+.04 > . 1:1(0) ack 101 win 65535\n+0 > . 1:1(0) ack 101 win 65535'));
  assert.equal(r.passed, false);
  assert.match(r.reason, /expected packet was not sent/);
});

test('an extra outbound packet is caught by the next expected packet', () => {
  // The delayed ACK (at +40 ms) goes out before close(): the FIN line meets it first.
  const r = runScriptSource(PASSIVE.replace('+.04 > . 1:1(0) ack 101 win 65535\n+0   close(4) = 0', '+.05 close(4) = 0'));
  assert.equal(r.passed, false);
  assert.match(r.reason, /^flags mismatch\n {4}expected: > F\. 1:1\(0\) ack 101 win 65535\n {4}actual: {3}> \. 1:1\(0\) ack 101 win 65535$/);
});

test('timing outside the tolerance fails', () => {
  const r = runScriptSource(PASSIVE.replace('+.04 > . 1:1(0) ack 101', '+.2 > . 1:1(0) ack 101'));
  assert.equal(r.passed, false);
  assert.match(r.reason, /^timing: packet expected at 0\.210000 s/);
});

test('a wrong syscall result fails with both results', () => {
  const r = runScriptSource(PASSIVE.replace('recv(4, ..., 1000, 0) = 100', 'recv(4, ..., 1000, 0) = 99'));
  assert.equal(r.passed, false);
  assert.match(r.reason, /recv\(\) result mismatch[\s\S]*actual: {3}= 100/);
});

test('a failed state assertion names both states', () => {
  const r = runScriptSource(PASSIVE.replace('TCPI_ESTABLISHED', 'TCPI_CLOSE_WAIT'));
  assert.equal(r.passed, false);
  assert.match(r.reason, /expected: tcpi_state == TCPI_CLOSE_WAIT\n {4}actual: {3}tcpi_state == TCPI_ESTABLISHED/);
});

test('unsupported constructs fail with "unsupported:", never pass', () => {
  for (const line of ['+0 `sysctl -w net.inet.tcp.nonexistent=1`', '+0 `ls /tmp`', '+0 %{ assert tcpi_snd_cwnd == 10 }%', '+0 < udp (100)', '+0 getsockopt(3, IPPROTO_TCP, TCP_INFO, [0], [4]) = 0']) {
    const r = runScriptSource(` 0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n${line}\n`);
    assert.equal(r.passed, false, line);
    assert.match(r.reason, /^unsupported/, line);
  }
});

test('#ifdef STANDARD is taken, other names are not', () => {
  const script = ` 0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
#ifdef STANDARD
+0 close(3) = 0
#endif
#ifdef FreeBSD
+0 close(3) = -1 EBADF (Bad file descriptor)
#endif
`;
  assert.equal(runScriptSource(script).passed, true);
  const r = runScriptSource(script, { defines: ['FreeBSD'] });
  assert.equal(r.passed, false);
  assert.match(r.reason, /close\(\) result mismatch/);
});

test('a blocking connect() returns when its SYN-ACK arrives', () => {
  const r = runScriptSource(`
--tolerance_usecs=10000
 0      socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0...0.1 connect(3, ..., ...) = 0
+0      > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
+.1     < S. 0:0(0) ack 1 win 32767 <mss 1460,sackOK,eol,eol>
+0      > . 1:1(0) ack 1 win 65535
+0      close(3) = 0
+0      > F. 1:1(0) ack 1 win 65535
`);
  assert.equal(r.reason, '');
  assert.equal(r.passed, true);
});
