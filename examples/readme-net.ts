// The README's first example, kept runnable: `npx tsx examples/readme-net.ts`.
import { createMemoryNetwork } from 'synack';
import http from 'node:http';

const lan = createMemoryNetwork(); // an in-memory network; { impair: { loss: 0.01, delayUs: 5000 } } for a rough one
const server = lan.host('10.0.0.2', { name: 'server' });
const client = lan.host('10.0.0.1');

// node:net, unchanged: an echo server and a client
server.net.createServer((s) => s.pipe(s)).listen(7);
const sock = client.net.connect(7, '10.0.0.2', () => sock.end('hello'));
sock.on('data', (d) => console.log('echo:', d.toString()));

// node:http over synack sockets, both directions
const web = http.createServer((req, res) => res.end('hi from synack\n'));
server.net.createServer((s) => web.emit('connection', s)).listen(80);
http.get({ createConnection: () => client.net.createConnection(80, 'server'), path: '/' }, (res) =>
  res.on('data', (d) => process.stdout.write(d)).on('end', () => lan.stop()),
);
