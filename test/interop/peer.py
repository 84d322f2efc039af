#!/usr/bin/env python3
"""Kernel-side peer for the interop tests (runs inside the test's network
namespace). Every mode prints one JSON line with its results on stdout.

  send HOST PORT NBYTES [SEED]        connect, send N random bytes, shut down
                                      writing, read until EOF; report sha256
                                      of sent and received, and timing
  echo-client HOST PORT NBYTES ORDER  connect to an echo server: send N random
                                      bytes while reading the echo; ORDER
                                      'early' shuts down writing right after
                                      the last byte, 'late' only after every
                                      byte came back; then read to EOF
  recv HOST PORT [MAXBYTES]           connect, read until EOF (or MAXBYTES)
  many HOST PORT COUNT                COUNT connections at once to an echo
                                      server, each sends and checks a line
  (HOST may be IPv4 or IPv6; the serve-* modes listen on both)
  serve-echo PORT                     accept one connection, echo to EOF, close
  serve-send PORT NBYTES              accept one connection, send N random
                                      bytes, close; report the sha256
  serve-sink PORT                     accept one connection, read to EOF,
                                      report bytes and sha256, close
"""
import hashlib, json, os, socket, sys, threading, time


def out(**kw):
    print(json.dumps(kw), flush=True)


def read_all(s, into=None, limit=None):
    h = hashlib.sha256()
    total = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        h.update(b)
        total += len(b)
        if limit is not None and total >= limit:
            break
    return total, h.hexdigest()


def connect(host, port):
    s = socket.create_connection((host, int(port)), timeout=60)
    s.settimeout(60)
    return s


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == 'send':
        host, port, n = args[0], args[1], int(args[2])
        payload = os.urandom(n)
        t0 = time.time()
        s = connect(host, port)
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got, h = read_all(s)
        t1 = time.time()
        s.close()
        out(sent=n, sent_sha=hashlib.sha256(payload).hexdigest(), received=got, received_sha=h, seconds=t1 - t0)
    elif mode == 'echo-client':
        host, port, n, order = args[0], args[1], int(args[2]), args[3]
        payload = os.urandom(n)
        s = connect(host, port)
        res = {}
        rh = hashlib.sha256()
        got = [0]
        done_reading = threading.Event()

        def reader():
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                rh.update(b)
                got[0] += len(b)
                if order == 'late' and got[0] >= n and not res.get('shut'):
                    pass
            done_reading.set()

        t0 = time.time()
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        s.sendall(payload)
        if order == 'early':
            s.shutdown(socket.SHUT_WR)
            res['shut'] = True
        else:
            deadline = time.time() + 120
            while got[0] < n and time.time() < deadline and not done_reading.is_set():
                time.sleep(0.005)
            s.shutdown(socket.SHUT_WR)
            res['shut'] = True
        th.join(180)
        t1 = time.time()
        s.close()
        out(sent=n, sent_sha=hashlib.sha256(payload).hexdigest(), received=got[0], received_sha=rh.hexdigest(), seconds=t1 - t0, eof=done_reading.is_set())
    elif mode == 'recv':
        host, port = args[0], args[1]
        limit = int(args[2]) if len(args) > 2 else None
        t0 = time.time()
        s = connect(host, port)
        got, h = read_all(s, limit=limit)
        t1 = time.time()
        s.close()
        out(received=got, received_sha=h, seconds=t1 - t0)
    elif mode == 'many':
        host, port, count = args[0], int(args[1]), int(args[2])
        socks = []
        t0 = time.time()
        for i in range(count):
            s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
            s.settimeout(30)
            s.setblocking(False)
            try:
                s.connect((host, port))
            except BlockingIOError:
                pass
            socks.append(s)
        import selectors
        sel = selectors.DefaultSelector()
        state = {}
        for i, s in enumerate(socks):
            sel.register(s, selectors.EVENT_WRITE, i)
            state[i] = {'msg': f'hello {i}\n'.encode(), 'buf': b'', 'phase': 'connect'}
        ok = 0
        errors = []
        pending = count
        deadline = time.time() + 60
        while pending and time.time() < deadline:
            for key, ev in sel.select(timeout=1):
                i = key.data
                s = key.fileobj
                st = state[i]
                if st['phase'] == 'connect':
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        errors.append(os.strerror(err)); sel.unregister(s); s.close(); pending -= 1; continue
                    s.send(st['msg'])
                    s.shutdown(socket.SHUT_WR)
                    st['phase'] = 'read'
                    sel.modify(s, selectors.EVENT_READ, i)
                else:
                    try:
                        b = s.recv(4096)
                    except OSError as e:
                        errors.append(str(e)); sel.unregister(s); s.close(); pending -= 1; continue
                    if b:
                        st['buf'] += b
                    else:
                        if st['buf'] == st['msg']:
                            ok += 1
                        else:
                            errors.append(f'conn {i}: got {st["buf"]!r}')
                        sel.unregister(s); s.close(); pending -= 1
        out(count=count, ok=ok, errors=errors[:5], seconds=time.time() - t0)
    elif mode in ('serve-echo', 'serve-send', 'serve-sink'):
        port = int(args[0])
        # Dual stack: '::' without IPV6_V6ONLY takes IPv4 (as ::ffff:a.b.c.d) and IPv6.
        try:
            ls = socket.socket(socket.AF_INET6)
            ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(('::', port))
        except OSError:
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(('0.0.0.0', port))
        ls.listen(8)
        print(json.dumps({'listening': port}), flush=True)
        ls.settimeout(120)
        c, addr = ls.accept()
        c.settimeout(120)
        t0 = time.time()
        if mode == 'serve-echo':
            rh = hashlib.sha256()
            n = 0
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                rh.update(b)
                n += len(b)
                c.sendall(b)
            c.shutdown(socket.SHUT_WR)
            out(received=n, received_sha=rh.hexdigest(), seconds=time.time() - t0)
        elif mode == 'serve-send':
            n = int(args[1])
            payload = os.urandom(n)
            c.sendall(payload)
            c.shutdown(socket.SHUT_WR)
            # wait for the peer's FIN (the test checks it reads everything)
            rest, _ = read_all(c)
            out(sent=n, sent_sha=hashlib.sha256(payload).hexdigest(), seconds=time.time() - t0)
        else:
            n, h = read_all(c)
            out(received=n, received_sha=h, seconds=time.time() - t0)
        c.close()
        ls.close()
    else:
        sys.exit(f'unknown mode {mode}')


if __name__ == '__main__':
    main()
