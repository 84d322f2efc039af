#!/usr/bin/env python3
"""Kernel-side clients for the attack tests (test/attack). Runs inside the
test's own network namespace; every mode prints one JSON line on stdout.

  conns HOST PORT COUNT DEADLINE KIND [PAR]
                                       COUNT new connections, PAR at a time
                                       (default 1: one after the other; KIND
                                       http: GET /, check the body; echo: a
                                       line, echoed back), all within
                                       DEADLINE seconds
  paced-echo HOST PORT NBYTES SECONDS  one echo connection: send NBYTES random
                                       bytes spread over SECONDS while reading
                                       the echo, shut down writing, read to
                                       EOF; report both SHA-256 and the
                                       4-tuple (for the injector)
  slow-reader HOST PORT SECONDS CHUNK INTERVAL
                                       read CHUNK bytes every INTERVAL seconds
                                       for SECONDS (a slow reader), then close
  zero-window HOST PORT COUNT SECONDS  COUNT connections with a tiny receive
                                       buffer that never read; report each
                                       one's TCP state (TCP_INFO) after SECONDS
"""
import hashlib, json, os, socket, struct, sys, threading, time


def out(**kw):
    print(json.dumps(kw), flush=True)


def one_conn(host, port, kind, i, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.settimeout(timeout)
        if kind == 'http':
            s.sendall(b'GET / HTTP/1.1\r\nHost: synack\r\nConnection: close\r\n\r\n')
            msg = None
        else:
            msg = f'hello {i} from a legitimate client\n'.encode()
            s.sendall(msg)
            s.shutdown(socket.SHUT_WR)
        buf = b''
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
        if kind == 'http':
            if not (buf.startswith(b'HTTP/1.1 200') and b'hello from synack' in buf):
                raise RuntimeError(f'bad response {buf[:80]!r}')
        elif buf != msg:
            raise RuntimeError(f'bad echo {buf[:80]!r}')
    finally:
        s.close()


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == 'conns':
        host, port, count, deadline, kind = args[0], int(args[1]), int(args[2]), float(args[3]), args[4]
        par = int(args[5]) if len(args) > 5 else 1
        t0 = time.time()
        lock = threading.Lock()
        st = {'next': 0, 'ok': 0, 'worst': 0.0, 'late': False}
        errors = []

        def worker():
            while True:
                with lock:
                    i = st['next']
                    if i >= count:
                        return
                    st['next'] += 1
                left = deadline - (time.time() - t0)
                if left <= 0:
                    with lock:
                        st['late'] = True
                    return
                t = time.time()
                try:
                    one_conn(host, port, kind, i, min(left, 10.0))
                    with lock:
                        st['ok'] += 1
                except Exception as e:  # noqa: BLE001 - reported
                    with lock:
                        errors.append(f'conn {i}: {type(e).__name__}: {e}')
                with lock:
                    st['worst'] = max(st['worst'], time.time() - t)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(par)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if st['late']:
            errors.append(f'deadline of {deadline} s passed after {st["ok"]} connections')
        out(count=count, ok=st['ok'], errors=errors[:5], seconds=time.time() - t0, worst=st['worst'], parallel=par)
    elif mode == 'paced-echo':
        host, port, n, secs = args[0], int(args[1]), int(args[2]), float(args[3])
        payload = os.urandom(n)
        s = socket.create_connection((host, port), timeout=30)
        s.settimeout(60)
        local = s.getsockname()
        # The injector reads this line to learn the 4-tuple.
        print(json.dumps({'connected': True, 'lport': local[1]}), flush=True)
        rh = hashlib.sha256()
        got = [0]
        err = []

        def reader():
            try:
                while True:
                    b = s.recv(1 << 20)
                    if not b:
                        break
                    rh.update(b)
                    got[0] += len(b)
            except Exception as e:  # noqa: BLE001 - reported
                err.append(f'recv: {type(e).__name__}: {e}')

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        t0 = time.time()
        chunk = 16384
        try:
            for off in range(0, n, chunk):
                due = t0 + secs * off / n
                d = due - time.time()
                if d > 0:
                    time.sleep(d)
                s.sendall(payload[off:off + chunk])
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # noqa: BLE001 - reported
            err.append(f'send: {type(e).__name__}: {e}')
        th.join(120)
        s.close()
        out(sent=n, sent_sha=hashlib.sha256(payload).hexdigest(), received=got[0], received_sha=rh.hexdigest(),
            seconds=time.time() - t0, errors=err)
    elif mode == 'slow-reader':
        host, port, secs, chunk, interval = args[0], int(args[1]), float(args[2]), int(args[3]), float(args[4])
        s = socket.create_connection((host, port), timeout=30)
        s.settimeout(30)
        t0 = time.time()
        total, reads, err = 0, 0, None
        try:
            while time.time() - t0 < secs:
                b = s.recv(chunk)
                if not b:
                    err = 'EOF'
                    break
                total += len(b)
                reads += 1
                time.sleep(interval)
        except Exception as e:  # noqa: BLE001 - reported
            err = f'{type(e).__name__}: {e}'
        s.close()
        out(received=total, reads=reads, seconds=time.time() - t0, error=err)
    elif mode == 'zero-window':
        host, port, count, secs = args[0], int(args[1]), int(args[2]), float(args[3])
        socks = []
        for _ in range(count):
            s = socket.socket()
            # Set before connect so the window scale and the window stay tiny
            # (Linux doubles it and enforces a minimum of ~2 KiB).
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.settimeout(10)
            s.connect((host, port))
            socks.append(s)
        out_states = []
        t0 = time.time()
        closed_at = [None] * count
        while time.time() - t0 < secs:
            for i, s in enumerate(socks):
                if closed_at[i] is None:
                    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
                    if info[0] != 1:  # not ESTABLISHED
                        closed_at[i] = time.time() - t0
            time.sleep(0.1)
        for s in socks:
            info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
            out_states.append(info[0])
        rcvbuf = socks[0].getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) if socks else 0
        for s in socks:
            s.close()
        out(count=count, states=out_states, changed_at=closed_at, rcvbuf=rcvbuf, seconds=time.time() - t0)
    else:
        sys.exit(f'unknown mode {mode}')


if __name__ == '__main__':
    main()
