#!/usr/bin/env python3
"""Kernel TCP traffic for test/viz/kernel.test.ts, run inside the test's own
network namespaces. `server ADDR` serves three ports once each and exits;
`client ADDR` drives them:
  9001 bulk: the client sends 1 MiB, the server reads it all and closes;
  9002 zero window: the server's receive buffer is tiny and it sleeps before
       reading, so its window closes to zero while the client keeps sending;
  9003 reset: the server aborts the connection (SO_LINGER 0: RST).
Everything is bounded in time; errors exit non-zero."""
import socket, struct, sys, threading, time

BULK = 1 << 20
ZW = 256 * 1024

def serve(addr, port, kind, ready):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if kind == 'zw':
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(20)
    ready.release()
    c, _ = s.accept()
    c.settimeout(20)
    if kind == 'reset':
        c.recv(100)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.close()
    else:
        if kind == 'zw':
            time.sleep(1.0)
        n = 0
        while True:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
        c.sendall(b'got %d\n' % n)
        c.close()
    s.close()

def client(addr):
    for port, size in ((9001, BULK), (9002, ZW)):
        c = socket.create_connection((addr, port), timeout=20)
        c.sendall(b'x' * size)
        c.shutdown(socket.SHUT_WR)
        reply = c.recv(100)
        assert reply == b'got %d\n' % size, reply
        c.close()
    c = socket.create_connection((addr, 9003), timeout=20)
    c.sendall(b'hello')
    try:
        while c.recv(100):
            pass
        print('no reset', file=sys.stderr)
        sys.exit(1)
    except ConnectionResetError:
        pass
    c.close()
    print('client done')

if __name__ == '__main__':
    role, addr = sys.argv[1], sys.argv[2]
    if role == 'server':
        ready = threading.Semaphore(0)
        ts = [threading.Thread(target=serve, args=(addr, p, k, ready)) for p, k in ((9001, 'bulk'), (9002, 'zw'), (9003, 'reset'))]
        for t in ts:
            t.start()
        for _ in ts:
            ready.acquire()
        print('ready', flush=True)
        for t in ts:
            t.join()
    else:
        client(addr)
