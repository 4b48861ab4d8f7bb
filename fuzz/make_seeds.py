#!/usr/bin/env python3
"""Writes the seed corpus of the L2TP fuzz targets (fuzz/corpus/<target>/seed-*).

Seeds: the trigger inputs of ROBUSTNESS.md section 5 cases 1-13, the real SoftEther SCCRP
and the hand-built SCCRQ from /work/shared/peers/pcap/softether-sccrq-ike-mm1.pcap, the two
malformed L2TP frames of loopback-l2tp-ppp-esp-malformed.pcap, a ZLB, data headers, and
messages with hidden AVPs (RFC 2661 section 4.3) under the fuzz secret. Independent of the
Rust code: hiding is implemented here from the RFC text with hashlib.

Usage: python3 fuzz/make_seeds.py [PCAP_DIR]   (run from the repository root or anywhere)
"""
import hashlib
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PCAP_DIR = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/peers/pcap"
TARGETS = ["l2tp_parse", "l2tp_roundtrip"]

FUZZ_SECRET = b"fuzz-secret"          # wire::FUZZ_SECRET
FUZZ_RV = b"fuzz-random-vect"         # wire::FUZZ_RANDOM_VECTOR


def avp(t, value, m=True, h=False, vendor=0, rsvd=0, length=None):
    if length is None:
        length = 6 + len(value)
    flags = (0x8000 if m else 0) | (0x4000 if h else 0) | (rsvd << 10)
    return struct.pack("!HHH", flags | (length & 0x3FF), vendor, t) + value


def mt(t, m=True):
    return avp(0, struct.pack("!H", t), m=m)


def control(body, tunnel=0, session=0, ns=0, nr=0, flags=0xC802, length=None):
    if length is None:
        length = 12 + len(body)
    return struct.pack("!HHHHHH", flags, length, tunnel, session, ns, nr) + body


def hide(t, secret, rv, value):
    """RFC 2661 4.3: subformat (length + value), XOR MD5(type + S + RV), then MD5(S + c(i-1))."""
    return hide_subformat(t, secret, rv, struct.pack("!H", len(value)) + value)


def hide_subformat(t, secret, rv, p):
    out = b""
    b = hashlib.md5(struct.pack("!H", t) + secret + rv).digest()
    for i in range(0, len(p), 16):
        c = bytes(x ^ y for x, y in zip(p[i:i + 16], b))
        out += c
        b = hashlib.md5(secret + c).digest()
    return out


def u16(x):
    return struct.pack("!H", x)


def u32(x):
    return struct.pack("!I", x)


def pcap_udp_payloads(path):
    """UDP payloads of a classic little-endian pcap or a pcapng file (Ethernet, IPv4)."""
    d = open(path, "rb").read()
    frames = []
    if d[:4] == b"\xd4\xc3\xb2\xa1":
        off = 24
        while off + 16 <= len(d):
            _, _, incl, _ = struct.unpack("<IIII", d[off:off + 16])
            frames.append(d[off + 16:off + 16 + incl])
            off += 16 + incl
    elif d[:4] == b"\x0a\x0d\x0d\x0a":
        off = 0
        while off + 12 <= len(d):
            btype, blen = struct.unpack("<II", d[off:off + 8])
            if btype == 6:  # Enhanced Packet Block
                caplen = struct.unpack("<I", d[off + 20:off + 24])[0]
                frames.append(d[off + 28:off + 28 + caplen])
            off += blen
    out = []
    for f in frames:
        ip = f[14:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        udp = ip[ihl:]
        sport, dport = struct.unpack("!HH", udp[:4])
        out.append((sport, dport, udp[8:]))
    return out


SCCRQ_AVPS = [
    avp(2, u16(0x0100)),                 # Protocol Version 1.0
    avp(3, u32(3)),                      # Framing Capabilities
    avp(7, b"sras-seed"),                # Host Name
    avp(9, u16(4242)),                   # Assigned Tunnel ID
    avp(10, u16(4)),                     # Receive Window Size
]


def sccrq(*extra, drop=None, replace=None):
    avps = list(SCCRQ_AVPS)
    if drop is not None:
        del avps[drop]
    if replace is not None:
        avps[replace[0]] = replace[1]
    return control(mt(1) + b"".join(avps) + b"".join(extra))


def seeds():
    s = {}
    rv = FUZZ_RV
    # --- captures -----------------------------------------------------------------------
    se = pcap_udp_payloads(os.path.join(PCAP_DIR, "softether-sccrq-ike-mm1.pcap"))
    l2tp = [p for (sp, dp, p) in se if 1701 in (sp, dp)]
    s["seed-handcraft-sccrq"] = l2tp[0]
    s["seed-softether-sccrp"] = l2tp[1]
    lo = pcap_udp_payloads(os.path.join(PCAP_DIR, "loopback-l2tp-ppp-esp-malformed.pcap"))
    lo = [p for (sp, dp, p) in lo if dp == 1701]
    s["seed-pcap-data-lcp-confreq"] = lo[1]
    s["seed-case03-avp-past-end"] = lo[2]          # AVP Length 40 in an 8-byte body
    s["seed-pcap-malformed-4-bytes"] = lo[3]       # header cut after Length
    # --- ROBUSTNESS 5, cases 1-13 --------------------------------------------------------
    s["seed-case01-avp-length-0"] = sccrq(replace=(1, avp(3, u32(3), length=0)))
    s["seed-case02-host-name-length-3"] = sccrq(replace=(2, avp(7, b"sras-seed", length=3)))
    s["seed-case02-vendor-name-length-5"] = sccrq(avp(8, b"vendor", m=False, length=5))
    s["seed-case03-length-past-datagram"] = control(mt(1) + b"".join(SCCRQ_AVPS), length=200)
    s["seed-case04-reserved-bits-m1"] = sccrq(avp(9, u16(7), rsvd=0x4))
    s["seed-case05-hidden-without-rv"] = sccrq(avp(14, hide(14, FUZZ_SECRET, rv, u16(1)), h=True))
    bad = hide(9, FUZZ_SECRET, rv, b"\x12\x34\x56")[:-1]    # original length 3, 2 available
    s["seed-case06-hidden-length-too-big"] = control(mt(1) + avp(36, rv) + avp(9, bad, h=True) + avp(7, b"next"))
    s["seed-case07-first-avp-not-message-type"] = control(avp(7, b"host") + mt(1))
    s["seed-case07-message-type-hidden"] = control(avp(0, u16(1), h=True) + avp(36, rv))
    s["seed-case07-body-too-short"] = control(b"\x80\x08\x00\x00")
    s["seed-case08-unknown-type-m1"] = control(mt(200) + avp(7, b"h"), tunnel=1)
    s["seed-case08-unknown-type-m0"] = control(mt(200, m=False) + avp(7, b"h"), tunnel=1)
    icrq = mt(10) + avp(14, u16(3)) + avp(15, u32(1))
    s["seed-case09-vendor-m1-icrq"] = control(icrq + avp(7, b"x", vendor=311), tunnel=1)
    s["seed-case09-vendor-m0-icrq"] = control(icrq + avp(7, b"x", m=False, vendor=311), tunnel=1)
    s["seed-case09-vendor-m1-hello"] = control(mt(6) + avp(1, b"\x00", vendor=9), tunnel=1)
    s["seed-case10-tunnel-id-0"] = sccrq(replace=(3, avp(9, u16(0))))
    s["seed-case10-session-id-0"] = control(mt(10) + avp(14, u16(0)) + avp(15, u32(1)), tunnel=1)
    s["seed-case11-missing-host-name"] = sccrq(drop=2)
    s["seed-case11-missing-protocol-version"] = sccrq(drop=0)
    s["seed-case11-short-framing-caps"] = sccrq(replace=(1, avp(3, b"\x00\x00\x03")))
    s["seed-case12-stopccn-result-8"] = control(mt(4) + avp(9, u16(7)) + avp(1, u16(1)), tunnel=1)
    s["seed-case12-cdn-result-8"] = control(mt(14) + avp(1, u16(3)) + avp(14, u16(2)), tunnel=1, session=5)
    s["seed-case12-stopccn-full-result"] = control(
        mt(4) + avp(9, u16(7)) + avp(1, u16(2) + u16(8) + b"unknown mandatory AVP 99"), tunnel=1)
    good = sccrq()
    s["seed-case13-version-3"] = bytes([good[0], 0x03]) + good[2:]
    s["seed-case13-version-1-l2f"] = bytes([good[0], 0x01]) + good[2:]
    s["seed-case13-t1-l0"] = struct.pack("!HHHHH", 0x8802, 1, 0, 0, 0) + good[12:]
    s["seed-case13-t1-s0"] = struct.pack("!HHHH", 0xC002, 8 + len(good) - 12, 0, 0) + good[12:]
    s["seed-case13-t1-o1"] = struct.pack("!HHHHHHH", 0xCA02, len(good) + 2, 0, 0, 0, 0, 0) + good[12:]
    s["seed-case13-short-control"] = good[:8]
    # --- more valid shapes ---------------------------------------------------------------
    s["seed-zlb"] = control(b"", tunnel=5, ns=4, nr=7)
    s["seed-sccrq-full"] = sccrq(avp(4, u32(0)), avp(5, b"\x01" * 8, m=False), avp(6, u16(0x0680), m=False),
                                 avp(8, b"sras", m=False), avp(11, bytes(range(16))))
    s["seed-sccrp-challenge-response"] = control(
        mt(2) + b"".join(SCCRQ_AVPS) + avp(13, hashlib.md5(b"\x02" + FUZZ_SECRET + bytes(range(16))).digest()),
        tunnel=4242, nr=1)
    s["seed-scccn"] = control(mt(3), tunnel=1, ns=1, nr=1)
    s["seed-hello"] = control(mt(6), tunnel=1, ns=2, nr=2)
    s["seed-iccn"] = control(mt(12) + avp(24, u32(100000000)) + avp(19, u32(1)) + avp(39, b"")
                             + avp(29, u16(4), m=False) + avp(38, u32(1), m=False), tunnel=1, session=3)
    s["seed-ocrq"] = control(mt(7) + avp(14, u16(9)) + avp(15, u32(1)) + avp(16, u32(0)) + avp(17, u32(1 << 20))
                             + avp(18, u32(1)) + avp(19, u32(1)) + avp(21, b"555") + avp(23, b"x"), tunnel=1)
    s["seed-cdn-q931"] = control(mt(14) + avp(1, u16(3)) + avp(14, u16(2)) + avp(12, u16(16) + b"\x45advice"),
                                 tunnel=1, session=5)
    s["seed-wen"] = control(mt(15) + avp(34, b"\x00\x00" + b"".join(u32(i) for i in range(6))), tunnel=1, session=5)
    s["seed-sli"] = control(mt(16) + avp(35, b"\x00\x00" + u32(0xFFFFFFFF) + u32(0)), tunnel=1, session=5)
    # Hidden AVPs under the fuzz secret. Must equal wire::tests::hidden_icrq().
    s["seed-hidden-icrq"] = control(
        mt(10) + avp(36, rv)
        + avp(14, hide(14, FUZZ_SECRET, rv, u16(0x0102)), h=True)
        + avp(15, hide(15, FUZZ_SECRET, rv, u32(7)), h=True)
        + avp(22, hide(22, FUZZ_SECRET, rv, b"+15551234567"), h=True),
        tunnel=4242, ns=1, nr=1)
    rv2 = b"second-vector"
    long_name = b"a-calling-number-longer-than-two-md5-blocks-0123456789"
    s["seed-hidden-two-vectors-padded"] = control(
        mt(10) + avp(36, rv) + avp(14, hide(14, FUZZ_SECRET, rv, u16(9)), h=True)
        + avp(36, rv2)
        # padded subformat: original length 4, then 4 value octets and 7 octets of padding
        + avp(15, hide_subformat(15, FUZZ_SECRET, rv2, u16(4) + u32(1) + b"PADDING"), h=True)
        + avp(22, hide(22, FUZZ_SECRET, rv2, long_name), h=True),
        tunnel=7, ns=3, nr=3)
    # Data messages.
    s["seed-data-l-s-o-p"] = bytes.fromhex("4b02001400070009000300000002eeeeff03c021")
    s["seed-data-minimal"] = bytes.fromhex("000210920001" "ff03c02101010004")
    s["seed-data-offset-past-end"] = bytes.fromhex("4b020014000700090003000000ffeeeeff03c021")
    return s


def main():
    s = seeds()
    for t in TARGETS:
        d = os.path.join(HERE, "corpus", t)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(s.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print(f"wrote {len(s)} seeds to each of {', '.join(TARGETS)}")


if __name__ == "__main__":
    main()
