#!/usr/bin/env python3
"""Blind-injection attacker for test/attack/injection.test.ts (runs inside the
test's own network namespace, with a python3 that has scapy — Debian's
python3-scapy).

  inject.py IFACE SYNACK_ADDR PORT START SECONDS

It watches IFACE (the namespace's tun0, through an AF_PACKET socket) for the
first connection to SYNACK_ADDR:PORT, to know the 4-tuple and roughly where
the sequence numbers are — what an off-path attacker guesses — and from
START seconds after that connection appears, for SECONDS, sends spoofed
segments from the client's address and port, crafted with scapy:

  rst       RST with SEG.SEQ = (highest client byte seen) + an odd offset in
            [1, 60000]: in the receive window, never exactly RCV.NXT (every
            segment the client sends has an even length, so RCV.NXT moves
            in even steps from the value seen)
  syn       SYN with an in-window sequence number
  data-old  100 bytes at SEG.SEQ = RCV.NXT-ish (offset 0 or odd) whose
            SEG.ACK is 2^30 before what the client acknowledged (older than
            SND.UNA - MAX.SND.WND, RFC 5961 §5)
  data-new  the same with SEG.ACK 2^30 beyond anything synack sent (an ACK of
            data never sent)

Each injected packet has IP TTL 37 so that the watcher can tell it from the
client's own packets. Prints one JSON line with what it sent.
"""
import json, random, socket, struct, sys, time

from scapy.all import IP, TCP, Raw, conf  # type: ignore
from scapy.supersocket import L3RawSocket  # type: ignore

MARK_TTL = 37
M = 1 << 32


def seq_gt(a, b):
    return ((a - b) % M) != 0 and ((a - b) % M) < (1 << 31)


def main():
    iface, saddr, sport = sys.argv[1], sys.argv[2], int(sys.argv[3])
    start, secs = float(sys.argv[4]), float(sys.argv[5])
    rng = random.Random(6)
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
    sniff.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sniff.bind((iface, 0))
    sniff.setblocking(False)
    print(json.dumps({'listening': iface}), flush=True)
    conf.verb = 0
    l3 = L3RawSocket()

    tup = None  # (client addr, client port)
    c_end = None  # highest seq+len the client sent (≥ synack's RCV.NXT)
    s_end = None  # highest seq+len synack sent (its SND.MAX)
    c_ack = None  # the client's latest ACK (≈ synack's SND.UNA)
    seen = 0
    t_conn = None
    sent = {'rst': 0, 'syn': 0, 'data-old': 0, 'data-new': 0}
    offsets = []
    deadline = time.time() + 60

    def observe():
        nonlocal tup, c_end, s_end, c_ack, seen, t_conn
        # Drain what is queued, so that every guess starts from fresh numbers.
        until = time.time() + 0.05
        while time.time() < until:
            try:
                pkt = sniff.recv(65535)
            except BlockingIOError:
                return
            if len(pkt) < 40 or pkt[0] >> 4 != 4 or pkt[9] != 6:
                continue
            ihl = (pkt[0] & 15) * 4
            if pkt[8] == MARK_TTL:
                continue
            src, dst = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
            tot = struct.unpack('!H', pkt[2:4])[0]
            t = pkt[ihl:tot]
            sp, dp, seq, ack = struct.unpack('!HHII', t[:12])
            off = (t[12] >> 4) * 4
            flags = t[13]
            plen = len(t) - off + (1 if flags & 0x02 else 0) + (1 if flags & 0x01 else 0)
            if tup is None and dst == saddr and dp == sport and flags & 0x02:
                tup = (src, sp)
                t_conn = time.time()
            if tup is None:
                continue
            if src == tup[0] and sp == tup[1] and dst == saddr and dp == sport:
                seen += 1
                e = (seq + plen) % M
                if c_end is None or seq_gt(e, c_end):
                    c_end = e
                if flags & 0x10 and (c_ack is None or seq_gt(ack, c_ack)):
                    c_ack = ack
            elif src == saddr and sp == sport and dst == tup[0] and dp == tup[1]:
                seen += 1
                e = (seq + plen) % M
                if s_end is None or seq_gt(e, s_end):
                    s_end = e

    def odd_offset():
        return rng.randrange(0, 30000) * 2 + 1

    def spoof(flags, seq, ack, payload=b''):
        observe()
        seq, ack = seq(), ack()
        p = IP(src=tup[0], dst=saddr, ttl=MARK_TTL) / TCP(sport=tup[1], dport=sport, flags=flags, seq=seq % M, ack=ack % M, window=65535)
        if payload:
            p = p / Raw(payload)
        l3.send(p)

    while time.time() < deadline:
        observe()
        time.sleep(0.002)
        if t_conn is not None and time.time() - t_conn >= start and c_end is not None and s_end is not None and c_ack is not None:
            break
    if c_end is None or s_end is None or c_ack is None:
        print(json.dumps({'error': 'no connection seen', 'seen': seen}), flush=True)
        sys.exit(1)
    t_end = time.time() + secs
    rounds = 0
    while time.time() < t_end:
        rounds += 1
        # Each guess is computed from the numbers seen just before it is sent.
        for _ in range(10):
            o = odd_offset()
            offsets.append(o)
            spoof('R', lambda: c_end + o, lambda: 0)
            sent['rst'] += 1
        for _ in range(5):
            o = odd_offset()
            spoof('S', lambda: c_end + o, lambda: 0)
            sent['syn'] += 1
        for k in range(5):
            o = 0 if k == 0 else odd_offset()
            spoof('PA', lambda: c_end + o, lambda: c_ack - (1 << 30), b'X' * 100)
            sent['data-old'] += 1
            spoof('PA', lambda: c_end + o, lambda: s_end + (1 << 30), b'Y' * 100)
            sent['data-new'] += 1
        time.sleep(0.05)
    print(json.dumps({'sent': sent, 'rounds': rounds, 'seen': seen, 'tuple': list(tup),
                      'min_offset': min(offsets), 'max_offset': max(offsets)}), flush=True)


if __name__ == '__main__':
    main()
