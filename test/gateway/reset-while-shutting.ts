/**
 * Child process for reset-host-socket.test.ts: a host socket whose FIN
 * (shutdown) is still in flight is reset by the gateway's resetHostSocket;
 * the process must then exit by itself. Prints "closed" when the socket's
 * 'close' event comes, and every socket error.
 */
import * as net from 'node:net';
import { resetHostSocket } from '../../src/gateway/gateway.ts';

const srv = net.createServer((s) => {
  s.on('error', () => {});
  s.resume();
});
srv.listen(0, '127.0.0.1', () => {
  const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1', () => {
    c.on('error', (e: NodeJS.ErrnoException) => console.log(`error ${e.code ?? ''} ${e.syscall ?? ''}`));
    c.on('close', () => console.log('closed'));
    c.end();
    // end() → _final on the next tick → uv_shutdown queued: two ticks later
    // the shutdown is in flight (libuv performs it on the next poll).
    process.nextTick(() =>
      process.nextTick(() => {
        console.log(`shutting ${String(c.writableEnded && !c.writableFinished)}`);
        resetHostSocket(c);
        srv.close();
      }),
    );
  });
});
