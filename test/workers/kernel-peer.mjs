// The kernel's side of test/workers/tun.test.ts, run with plain node inside
// the test's network namespace (kernel TCP):
//   node kernel-peer.mjs server ADDR PORT           a digest server like test/workers/app.ts's (worker index -1); prints "listening"
//   node kernel-peer.mjs clients ADDR PORT N BYTES  N connections at once, each sending BYTES + i seeded bytes; prints one JSON line
import net from 'node:net';
import { createHash } from 'node:crypto';

const [mode, addr, portText, nText, bytesText] = process.argv.slice(2);
const port = Number(portText);

function payload(id, n) {
  const b = Buffer.alloc(n);
  let x = (id * 2654435761) ^ 0x9e3779b9 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

if (mode === 'server') {
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (d) => {
      h.update(d);
      n += d.length;
    });
    s.on('end', () => s.end(`-1 ${n} ${h.digest('hex')}\n`));
    s.on('error', () => {});
  });
  srv.listen(port, addr, () => console.log('listening'));
} else {
  const n = Number(nText);
  const bytes = Number(bytesText);
  const one = (i) =>
    new Promise((resolve, reject) => {
      const data = payload(900_000 + i, bytes + i);
      const want = `${data.length} ${createHash('sha256').update(data).digest('hex')}`;
      let localPort = 0;
      const c = net.connect({ port, host: addr }, () => {
        localPort = c.localPort;
        c.end(data);
      });
      let text = '';
      c.setEncoding('utf8');
      c.on('data', (d) => (text += d));
      c.on('error', reject);
      c.on('close', () => {
        const [w, ...rest] = text.trim().split(' ');
        resolve({ localPort, servedBy: Number(w), intact: rest.join(' ') === want });
      });
    });
  const results = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  console.log(JSON.stringify(results));
}
