"""Regenerates the hex in ipv6-fixtures.ts: /usr/bin/python3 test/wire/ipv6-fixtures.py (needs python3-scapy)."""
from scapy.all import *
from scapy.layers.inet6 import *
def h(p): return bytes(p).hex()
A = "2001:db8::1"; B = "2001:db8::2"
# A TCP SYN over IPv6, traffic class 0x28 (AF11 + ECT0 style), flow label 0x12345.
print("V6_SYN", h(IPv6(src=A, dst=B, tc=0x28, fl=0x12345, hlim=64)/TCP(sport=40000, dport=80, seq=0x01020304, flags="S", window=65535, options=[("MSS",1440)])))
# Echo request with hop-by-hop (PadN) and destination options (Pad1s + PadN) in front.
print("V6_EXT_ECHO", h(IPv6(src=A, dst=B, hlim=255)/IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\x00\x00\x00\x00")])/IPv6ExtHdrDestOpt(options=[Pad1(), Pad1(), PadN(optdata=b"\x00\x00")])/ICMPv6EchoRequest(id=0x1234, seq=7, data=b"synack ping")))
# Routing header type 0 with segments left 1 (RFC 5095) in front of UDP.
print("V6_RH0", h(IPv6(src=A, dst=B)/IPv6ExtHdrRouting(type=0, segleft=1, addresses=["2001:db8::3"])/UDP(sport=1, dport=2)/b"x"))
# Echo reply.
print("V6_ECHO_REPLY", h(IPv6(src=B, dst=A, hlim=64)/ICMPv6EchoReply(id=0x1234, seq=7, data=b"synack ping")))
# Packet Too Big quoting a 1400-byte TCP packet, mtu 1280.
inv = IPv6(src=A, dst=B)/TCP(sport=40000, dport=80, seq=5, flags="A")/(b"z"*1340)
print("V6_PTB", h(IPv6(src="2001:db8::fe", dst=A, hlim=64)/ICMPv6PacketTooBig(mtu=1280)/bytes(inv)[:1232]))
# Parameter problem code 1 pointer 6.
print("V6_PARAMPROB", h(IPv6(src=B, dst=A)/ICMPv6ParamProblem(code=1, ptr=6)/bytes(IPv6(src=A, dst=B, nh=253)/b"12345678")))
# Fragments of a UDP datagram with 400 octets of data, id 0xabcdef01, fragments of at most 200 octets.
data6 = bytes(i % 251 for i in range(400))
whole = IPv6(src=A, dst=B)/UDP(sport=5000, dport=6000)/data6
print("V6_WHOLE_UDP", h(whole))
for i, f in enumerate(fragment6(IPv6(src=A, dst=B)/IPv6ExtHdrFragment(id=0xabcdef01)/UDP(sport=5000, dport=6000)/data6, 200)):
    print("V6_FRAG%d" % i, h(f))
# IPv4 fragments of a UDP datagram with 300 octets of data, id 0x4242, 104-octet fragments.
w4 = IP(src="10.0.0.1", dst="10.0.0.2", id=0x4242, flags=0)/UDP(sport=5000, dport=6000)/(bytes(i % 253 for i in range(300)))
w4 = IP(bytes(w4))
print("V4_WHOLE_UDP", h(w4))
for i, f in enumerate(fragment(w4, fragsize=104)):
    print("V4_FRAG%d" % i, h(f))
