#!/usr/bin/env python3
"""Turns charon's level-4 logs of one IKEv1 exchange into a known-answer file.

    extract.py NAME SUITE_LINE INI_LOG RSP_LOG INI_XFRM RSP_XFRM PCAP OUT_DIR

INI_LOG / RSP_LOG: charon's filelog (ike 4, enc 4, chd 4) of the initiator (VM cli) and the
responder (VM srv); *_XFRM: `ip xfrm state` in each VM after establishment; PCAP: the
capture on the test bed's bridge (Main Mode messages 1-4 are in the clear: their cookies, KE
and nonces are checked against the log).

Writes OUT_DIR/NAME.txt (`key = hex` lines, see README.md) and OUT_DIR/NAME.log (the log
lines the values come from). Every value read from the initiator's log is checked against
the responder's log, `ip xfrm state` of both VMs and the capture; any mismatch aborts.
Used by capture.sh.
"""
import re
import subprocess
import sys

LINE = re.compile(r"^(\w{3} [ \d]\d [\d:]{8}) (\d+)\[(\w+)\] (?:<[^>]*> )?(.*)$")
LABEL = re.compile(r"^(.*?) ?=> (\d+) bytes @ 0x[0-9a-f]+\s*$")
DUMP = re.compile(r"^\s*(\d+): ((?:[0-9A-F]{2} )*[0-9A-F]{2})")


def parse(path):
    """Returns (records, dumps): records are (lineno, thread, group, text, raw line);
    dumps are dicts {label, data, thread, line_first, line_last, prev} where prev is the
    text of the thread's previous non-dump line before the label."""
    records = []
    with open(path, errors="replace") as f:
        for n, raw in enumerate(f, 1):
            m = LINE.match(raw.rstrip("\n"))
            if m:
                records.append((n, m.group(2), m.group(3), m.group(4), raw.rstrip("\n")))
    dumps = []
    open_dump = {}  # thread -> dump being filled
    prev = {}  # thread -> last non-dump text before the current one
    for n, th, grp, text, raw in records:
        d = open_dump.get(th)
        if d is not None:
            m = DUMP.match(text)
            if m and int(m.group(1)) == len(d["data"]):
                want = min(16, d["len"] - len(d["data"]))
                d["data"] += bytes.fromhex(m.group(2).replace(" ", "")[: 2 * want])
                d["line_last"] = n
                d["raws"].append(raw)
                if len(d["data"]) == d["len"]:
                    del open_dump[th]
                continue
            del open_dump[th]
        m = LABEL.match(text)
        if m:
            d = {
                "label": m.group(1).strip(),
                "len": int(m.group(2)),
                "data": b"",
                "thread": th,
                "group": grp,
                "line_first": n,
                "line_last": n,
                "prev": prev.get(th, ""),
                "raws": [raw],
            }
            dumps.append(d)
            if d["len"]:
                open_dump[th] = d
        else:
            prev[th] = text
    return records, dumps


def payload_chunks(records, dumps, ptype):
    """The CHUNK_DATA of every generated / parsed payload of type ptype, in order:
    [("gen"|"parse", bytes)]."""
    cur = {}  # thread -> ("gen"|"parse", type)
    out = []
    by_line = {d["line_first"]: d for d in dumps}
    for n, th, grp, text, raw in records:
        m = re.match(r"generating payload of type (\S+)$", text)
        if m:
            cur[th] = ("gen", m.group(1))
        m = re.match(r"parsing (\S+) payload, \d+ bytes left$", text)
        if m:
            cur[th] = ("parse", m.group(1))
        d = by_line.get(n)
        if d and d["label"] == "" and "CHUNK_DATA" in d["prev"] and cur.get(th, (None, None))[1] == ptype:
            out.append((cur[th][0], d["data"], d))
    return out


def one(dumps, label, nth=0):
    found = [d for d in dumps if d["label"] == label]
    if len(found) <= nth:
        sys.exit(f"extract.py: no dump {label!r} #{nth} in the log")
    return found[nth]


def maybe(dumps, label, nth=0):
    found = [d for d in dumps if d["label"] == label]
    return found[nth] if len(found) > nth else None


def check(what, a, b):
    if a != b:
        sys.exit(f"extract.py: {what} differs:\n  {a.hex() if isinstance(a, bytes) else a}\n  {b.hex() if isinstance(b, bytes) else b}")


def xfrm_states(path):
    """{spi: {"enc": bytes, "auth": bytes, "src", "dst", "enc_alg", "auth_alg"}} from `ip xfrm state`."""
    states = {}
    cur = None
    src = dst = None
    for line in open(path):
        m = re.match(r"^src (\S+) dst (\S+)", line)
        if m:
            src, dst = m.groups()
            continue
        m = re.match(r"^\s+proto esp spi 0x([0-9a-f]{8})", line)
        if m:
            cur = states.setdefault(m.group(1), {"src": src, "dst": dst})
            continue
        m = re.match(r"^\s+(auth-trunc|auth|enc) (\S+) 0x([0-9a-f]+)", line)
        if m and cur is not None:
            kind = "enc" if m.group(1) == "enc" else "auth"
            cur[kind] = bytes.fromhex(m.group(3))
            cur[kind + "_alg"] = m.group(2)
    return states


def tshark(pcap, fields, filt):
    cmd = ["tshark", "-r", pcap, "-Y", filt, "-T", "fields"] + sum((["-e", f] for f in fields), [])
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    return [l.split("\t") for l in out.splitlines() if l.strip()]


def main():
    name, suite, ini_log, rsp_log, ini_xfrm, rsp_xfrm, pcap, out_dir = sys.argv[1:9]
    ir, idumps = parse(ini_log)
    rr, rdumps = parse(rsp_log)
    vals = {}
    used = []  # dumps to keep in the trimmed log

    def take(key, label, nth=0, both=True):
        d = one(idumps, label, nth)
        if both:
            check(f"{label} (initiator vs responder log)", d["data"], one(rdumps, label, nth)["data"])
        vals[key] = d["data"]
        used.append(d)
        return d["data"]

    gxy = take("gxy", "shared Diffie Hellman secret")
    take("skeyid", "SKEYID")
    take("skeyid_d", "SKEYID_d")
    take("skeyid_a", "SKEYID_a")
    take("skeyid_e", "SKEYID_e")
    take("ka", "encryption key Ka")
    take("iv", "initial IV")

    # KE and nonces as the initiator generated / parsed them.
    ke = payload_chunks(ir, idumps, "KEY_EXCHANGE_V1")
    no = payload_chunks(ir, idumps, "NONCE_V1")
    gen_ke = [c for c in ke if c[0] == "gen"]
    par_ke = [c for c in ke if c[0] == "parse"]
    gen_no = [c for c in no if c[0] == "gen"]
    par_no = [c for c in no if c[0] == "parse"]
    vals["gxi"], vals["gxr"] = gen_ke[0][1], par_ke[0][1]
    vals["ni"], vals["nr"] = gen_no[0][1], par_no[0][1]
    vals["ni2"], vals["nr2"] = gen_no[1][1], par_no[1][1]
    used += [gen_ke[0][2], par_ke[0][2], gen_no[0][2], par_no[0][2], gen_no[1][2], par_no[1][2]]
    pfs = len(gen_ke) > 1
    if pfs:
        vals["gxi2"], vals["gxr2"] = gen_ke[1][1], par_ke[1][1]
        used += [gen_ke[1][2], par_ke[1][2]]
    # The responder saw the same values the other way round.
    rke = payload_chunks(rr, rdumps, "KEY_EXCHANGE_V1")
    rno = payload_chunks(rr, rdumps, "NONCE_V1")
    check("g^xi (responder parsed)", [c for c in rke if c[0] == "parse"][0][1], vals["gxi"])
    check("g^xr (responder generated)", [c for c in rke if c[0] == "gen"][0][1], vals["gxr"])
    check("Ni_b (responder parsed)", [c for c in rno if c[0] == "parse"][0][1], vals["ni"])
    check("Nr_b (responder generated)", [c for c in rno if c[0] == "gen"][0][1], vals["nr"])

    # Cookies: NAT-D input is CKY-I | CKY-R | IP | port; HASH_I data is g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b.
    natd = one(idumps, "natd_chunk")["data"]
    vals["cky_i"], vals["cky_r"] = natd[:8], natd[8:16]
    hi = maybe(idumps, "HASH_I data")
    if hi:
        lx = len(vals["gxi"]) + len(vals["gxr"])
        check("HASH_I data prefix", hi["data"][:lx], vals["gxi"] + vals["gxr"])
        check("HASH_I data cookies", hi["data"][lx : lx + 16], vals["cky_i"] + vals["cky_r"])
        vals["hash_i_data"] = hi["data"]
        vals["hash_i"] = one(idumps, "HASH_I")["data"]
        used += [hi, one(idumps, "HASH_I")]
    hr = maybe(idumps, "HASH_R data")
    if hr:
        vals["hash_r_data"] = hr["data"]
        vals["hash_r"] = one(idumps, "HASH_R")["data"]
        used += [hr, one(idumps, "HASH_R")]

    # The capture: Main Mode 1-4 in the clear.
    rows = tshark(pcap, ["isakmp.ispi", "isakmp.rspi", "isakmp.key_exchange.data", "isakmp.nonce"], "isakmp.exchangetype == 2 && isakmp.key_exchange.data")
    if len(rows) < 2:
        sys.exit(f"extract.py: fewer than 2 Main Mode KE messages in {pcap}")
    for r in rows:
        check("cookie I (pcap)", bytes.fromhex(r[0]), vals["cky_i"])
        check("cookie R (pcap)", bytes.fromhex(r[1]), vals["cky_r"])
    check("g^xi (pcap)", bytes.fromhex(rows[0][2]), vals["gxi"])
    check("Ni_b (pcap)", bytes.fromhex(rows[0][3]), vals["ni"])
    check("g^xr (pcap)", bytes.fromhex(rows[1][2]), vals["gxr"])
    check("Nr_b (pcap)", bytes.fromhex(rows[1][3]), vals["nr"])

    # Phase 2 IVs: the last phase 1 CBC block and the Quick Mode's first IV = hash(that | M-ID).
    qm = [d for d in idumps if d["label"].startswith("next IV for MID ") and d["label"] != "next IV for MID 0"]
    p1 = [d for d in idumps if d["label"] == "next IV for MID 0" and d["line_first"] < qm[0]["line_first"]]
    vals["qm_mid"] = int(qm[0]["label"].split()[-1]).to_bytes(4, "big")
    vals["p1_last_block"] = p1[-1]["data"]
    vals["qm_iv"] = qm[0]["data"]
    used += [p1[-1], qm[0]]

    # Quick Mode KEYMAT. seed = [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b; the "initiator" SA
    # (initiator -> responder) uses the responder's SPI, and the other way round.
    iseed = one(idumps, "initiator SA seed")
    rseed = one(idumps, "responder SA seed")
    check("initiator SA seed (both logs)", iseed["data"], one(rdumps, "initiator SA seed")["data"])
    used += [iseed, rseed]
    tail = len(vals["ni2"]) + len(vals["nr2"])
    check("seed nonces", iseed["data"][-tail:], vals["ni2"] + vals["nr2"])
    pre = iseed["data"][:-tail]
    if pfs:
        vals["gxy2"] = one(idumps, "DH secret")["data"]
        used.append(one(idumps, "DH secret"))
        check("seed g(qm)^xy", pre[:-5], vals["gxy2"])
    check("seed protocol", pre[-5:-4], b"\x03")
    vals["spi_r"] = pre[-4:]
    vals["spi_i"] = rseed["data"][:-tail][-4:]
    keys = {}
    for k, label in [("enc_i", "encryption initiator key"), ("enc_r", "encryption responder key"),
                     ("auth_i", "integrity initiator key"), ("auth_r", "integrity responder key")]:
        keys[k] = take("_" + k, label)
    vals["esp_spi_r_enc"], vals["esp_spi_r_auth"] = keys["enc_i"], keys["auth_i"]
    vals["esp_spi_i_enc"], vals["esp_spi_i_auth"] = keys["enc_r"], keys["auth_r"]
    # ip xfrm state in both VMs: SPI spi_r is the SA 192.0.2.3 -> 192.0.2.2.
    for path in (ini_xfrm, rsp_xfrm):
        st = xfrm_states(path)
        for spi, e, a in [(vals["spi_r"], "esp_spi_r_enc", "esp_spi_r_auth"), (vals["spi_i"], "esp_spi_i_enc", "esp_spi_i_auth")]:
            s = st.get(spi.hex())
            if s is None:
                sys.exit(f"extract.py: SPI {spi.hex()} not in {path}")
            check(f"xfrm enc key of {spi.hex()} ({path})", s["enc"], vals[e])
            check(f"xfrm auth key of {spi.hex()} ({path})", s["auth"], vals[a])
    st = xfrm_states(ini_xfrm)
    check("SA of spi_r goes initiator -> responder", (st[vals["spi_r"].hex()]["src"], st[vals["spi_r"].hex()]["dst"]), ("192.0.2.3", "192.0.2.2"))
    xfrm_algs = f"{st[vals['spi_r'].hex()]['enc_alg']} / {st[vals['spi_r'].hex()]['auth_alg']}"

    version = next((t for _, _, _, t, _ in ir if "Starting IKE charon daemon" in t), "unknown")
    ike_sel = next((t for _, _, _, t, _ in ir if t.startswith("selected proposal: IKE:")), "")
    esp_sel = next((t for _, _, _, t, _ in ir if t.startswith("selected proposal: ESP:")), "")
    order = ["psk", "cky_i", "cky_r", "gxi", "gxr", "gxy", "ni", "nr", "skeyid", "skeyid_d", "skeyid_a",
             "skeyid_e", "ka", "iv", "hash_i_data", "hash_i", "hash_r_data", "hash_r", "p1_last_block",
             "qm_mid", "qm_iv", "spi_i", "spi_r", "ni2", "nr2", "gxi2", "gxr2", "gxy2",
             "esp_spi_r_enc", "esp_spi_r_auth", "esp_spi_i_enc", "esp_spi_i_auth"]
    suite_kv = dict(kv.split("=", 1) for kv in suite.split())
    psk = suite_kv.pop("psk")
    if suite_kv.get("auth", "psk") == "psk":
        vals["psk"] = psk.encode()
    with open(f"{out_dir}/{name}.txt", "w") as f:
        f.write(f"# IKEv1 known answers from a real exchange: {version}\n")
        f.write("# charon in VM cli (192.0.2.3, initiator) -> charon in VM srv (192.0.2.2, responder),\n")
        f.write("# Main Mode + Quick Mode, transport mode, UDP/1701 selectors. Written by capture.sh/extract.py;\n")
        f.write("# every value below was cross-checked between both logs, `ip xfrm state` in both VMs and the capture.\n")
        f.write(f"# {ike_sel}\n# {esp_sel}\n# kernel xfrm: {xfrm_algs}\n")
        for k, v in suite_kv.items():
            f.write(f"{k} = {v}\n")
        f.write("pfs = " + ("yes" if pfs else "no") + "\n")
        f.write("# spi_i: the initiator's inbound SPI (it chose it, proposed in QM1); spi_r: the responder's.\n")
        f.write("# esp_spi_X_*: KEYMAT(SPI X) = prf+(SKEYID_d, [g(qm)^xy |] 3 | SPI X | Ni_b | Nr_b), encryption key\n")
        f.write("# first, then integrity key; SPI spi_r carries initiator -> responder (192.0.2.3 -> 192.0.2.2).\n")
        for k in order:
            if k in vals:
                f.write(f"{k} = {vals[k].hex()}\n")
    keep = set()
    for d in used:
        keep.update(range(d["line_first"], d["line_last"] + 1))
    summary = re.compile(r"Starting IKE charon|selected proposal|(generating|parsed) (ID_PROT|QUICK_MODE)|established|sending packet|received packet")
    with open(f"{out_dir}/{name}.log", "w") as f:
        f.write(f"# {name}: the lines of charon's log (initiator, VM cli) the values in {name}.txt come from\n")
        for n, th, grp, text, raw in ir:
            if n in keep or summary.search(text):
                f.write(raw + "\n")
        f.write(f"# responder (VM srv): the same derivation\n")
        rkeep = set()
        for label in ["shared Diffie Hellman secret", "SKEYID", "SKEYID_d", "SKEYID_a", "SKEYID_e", "encryption key Ka", "initial IV"]:
            d = one(rdumps, label)
            rkeep.update(range(d["line_first"], d["line_last"] + 1))
        for n, th, grp, text, raw in rr:
            if n in rkeep or re.search(r"Starting IKE charon|selected proposal|established", text):
                f.write(raw + "\n")
    print(f"{name}: ok ({len(vals)} values{', PFS' if pfs else ''})")


if __name__ == "__main__":
    main()
