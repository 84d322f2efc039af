/**
 * Heap per idle forwarded connection of the gateway engine, on each
 * host-socket path (GatewayOptions.hostSockets: 'native' and 'node'), in
 * one process: a gateway attached to a fresh network namespace, a host
 * server in a child process (so its sockets are not counted), and a
 * python3 client in the namespace holding N connections that each carried
 * one byte each way. `process.memoryUsage()` after two full GCs (node
 * --expose-gc), before and after, over N.
 *
 * Run by bench/main.ts (`--only gateway`, root) in a child process:
 * `node --expose-gc --import tsx bench/gateway-heap.ts N MODE` prints one
 * JSON line { mode, heapPerConn, rssPerConn }. With `--breakdown` it also
 * writes a heap snapshot before and after and prints, on stderr, what the
 * difference holds per connection by constructor (bench/heap-breakdown.ts).
 */
import { spawn, execFileSync } from 'node:child_process';
import { createGateway } from '../src/gateway/gateway.ts';
import { heapBreakdown, heapCensus, type HeapCensus } from './heap-breakdown.ts';

const N = Number(process.argv[2] ?? 2000);
const mode = process.argv[3] === 'node' ? 'node' : 'native';
const breakdown = process.argv.includes('--breakdown');
const ns = `gw-heap-${process.pid}`;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const settle = (): NodeJS.MemoryUsage => {
  gc();
  gc();
  return process.memoryUsage();
};
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

execFileSync('ip', ['netns', 'add', ns]);
const server = spawn(
  process.execPath,
  ['-e', "const n=require('net');const s=n.createServer((c)=>{c.on('data',()=>c.write('y'));c.on('error',()=>{})});s.listen(0,'127.0.0.1',()=>console.log(s.address().port))"],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let client: ReturnType<typeof spawn> | null = null;
const deadline = setTimeout(() => {
  console.error('gateway-heap: timed out');
  process.exit(1);
}, 120_000);
try {
  const port = await new Promise<number>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  const gw = createGateway({ downstream: { netns: `/run/netns/${ns}` }, hostSockets: mode });
  await gw.ready;
  await wait(300);
  const before = settle();
  const censusBefore: HeapCensus | null = breakdown ? heapCensus() : null;
  const py = `
import socket, resource, time
n = ${N}
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
socks = [socket.create_connection(("10.0.2.2", ${port}), timeout=10) for i in range(n)]
for s in socks: s.sendall(b"x")
for s in socks:
    if s.recv(1) != b"y": raise SystemExit("no reply")
print("held", flush=True)
time.sleep(60)
`;
  const c = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
  client = c;
  await new Promise<void>((resolve, reject) => {
    c.stdout!.on('data', (d: Buffer) => {
      if (String(d).includes('held')) resolve();
    });
    c.once('exit', (code) => reject(new Error(`client exited ${code}`)));
  });
  await wait(500);
  const after = settle();
  if (censusBefore) console.error(`per forwarded connection (${N}, ${mode}):\n${heapBreakdown(censusBefore, heapCensus(), N)}`);
  if (gw.stats().tcp.active !== N) throw new Error(`expected ${N} forwarded connections, found ${gw.stats().tcp.active}`);
  console.log(JSON.stringify({ mode, connections: N, heapPerConn: (after.heapUsed - before.heapUsed) / N, rssPerConn: (after.rss - before.rss) / N }));
  c.kill();
  client = null;
  await gw.close();
} finally {
  clearTimeout(deadline);
  client?.kill();
  server.kill();
  execFileSync('ip', ['netns', 'del', ns]);
}
process.exit(0);
