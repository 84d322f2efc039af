#!/usr/bin/env python3
"""Time-bounded throughput and connection-rate probes for bench comparisons
(test/interop/throughput.ts). Prints one JSON line.

  send HOST PORT SECONDS     send zeros for SECONDS, report bits/s
  recv HOST PORT SECONDS     read for SECONDS, report bits/s
  cps HOST PORT SECONDS      sequential connections to an echo server
                             (connect, send 1 byte, read it, close) for SECONDS
  server PORT discard|chargen|echo   a threaded kernel server (for the veth baseline)
"""
import json, socket, sys, threading, time


def main():
    mode = sys.argv[1]
    if mode in ('send', 'recv', 'cps'):
        host, port, secs = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        if mode == 'cps':
            n = 0
            fails = 0
            end = time.time() + secs
            t0 = time.time()
            while time.time() < end:
                try:
                    s = socket.create_connection((host, port), timeout=5)
                    s.sendall(b'x')
                    s.recv(1)
                    s.close()
                    n += 1
                except OSError:
                    fails += 1
            print(json.dumps({'connections': n, 'failures': fails, 'per_second': n / (time.time() - t0)}))
            return
        s = socket.create_connection((host, port), timeout=10)
        buf = bytearray(1 << 20)
        mv = memoryview(buf)
        total = 0
        t0 = time.time()
        end = t0 + secs
        if mode == 'send':
            while time.time() < end:
                total += s.send(mv)
        else:
            while time.time() < end:
                r = s.recv_into(buf)
                if not r:
                    break
                total += r
        dt = time.time() - t0
        s.close()
        print(json.dumps({'bytes': total, 'seconds': dt, 'bps': total * 8 / dt}))
    elif mode == 'server':
        port, kind = int(sys.argv[2]), sys.argv[3]
        # Dual stack: '::' without IPV6_V6ONLY takes IPv4 and IPv6.
        ls = socket.socket(socket.AF_INET6)
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(('::', port))
        ls.listen(128)
        print(json.dumps({'listening': port}), flush=True)

        def handle(c):
            try:
                if kind == 'discard':
                    buf = bytearray(1 << 20)
                    while c.recv_into(buf):
                        pass
                elif kind == 'chargen':
                    mv = memoryview(bytearray(1 << 20))
                    while True:
                        c.send(mv)
                else:
                    while True:
                        b = c.recv(65536)
                        if not b:
                            break
                        c.sendall(b)
            except OSError:
                pass
            finally:
                c.close()

        while True:
            c, _ = ls.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()


if __name__ == '__main__':
    main()
