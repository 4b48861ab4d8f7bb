//! tshark as the independent decryptor of our ESP (issue 4, "What proves it").
//!
//! One SA per legal suite and mode (every `Encryption` with every `Integrity` that
//! [`Encryption::check_pair`] allows: NULL, AES-CBC-128/192/256 and 3DES with each HMAC,
//! AES-GCM-128/256), each sealing
//!
//! - in transport mode, a UDP/1701 L2TP Hello (as L2TP/IPsec sends it), and
//! - in tunnel mode, an IPv4/UDP packet carrying the same Hello,
//!
//! written three times: as raw ESP (IP protocol 50) over IPv4, as UDP-encapsulated ESP on
//! port 4500 (RFC 3948), and as raw ESP over IPv6. tshark 4.0, given every SA's keys in
//! its `esp_sa` table, must decrypt every frame with the ICV marked correct, decode the
//! inner UDP (with its checksum verified) and L2TP, and find nothing malformed.
//!
//! Not covered: extended sequence numbers. Wireshark 4.0's ESP dissector has no ESN
//! support (the high 32 bits are not in the packet, and its ICV check does not append
//! them), so ESN SAs are left to the known-answer tests.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sras_esp::{Encryption, Integrity, Mode, OutboundSa, SaParams, Spi};
use sras_testkit::pcap::{udp_packet, udp_segment, PcapWriter};
use sras_testkit::{scratch_file, tshark, tshark_fields, VirtualClock};

/// IP protocol numbers used as ESP Next Header.
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_UDP: u8 = 17;

/// An L2TP Hello: control header (T, L, S, version 2), length 20, tunnel `tid`, session 0,
/// Ns 2, Nr 2, then the Message Type AVP (M, length 8, vendor 0, type 0) of value 6.
fn hello(tid: u16) -> [u8; 20] {
    let t = tid.to_be_bytes();
    [
        0xc8, 0x02, 0x00, 0x14, t[0], t[1], 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, //
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
    ]
}

/// The label of an encryption transform in Wireshark's `esp_sa` table (packet-ipsec.c).
fn enc_label(e: Encryption) -> &'static str {
    match e {
        Encryption::Null => "NULL",
        Encryption::AesCbc128 | Encryption::AesCbc192 | Encryption::AesCbc256 => {
            "AES-CBC [RFC3602]"
        }
        Encryption::TripleDesCbc => "TripleDES-CBC [RFC2451]",
        Encryption::AesGcm128 | Encryption::AesGcm256 => "AES-GCM with 16 octet ICV [RFC4106]",
    }
}

/// The label of an integrity transform in the `esp_sa` table. With GCM the authentication
/// algorithm must be "NULL": the ICV is GCM's tag, which the decryption checks.
fn auth_label(i: Integrity) -> &'static str {
    match i {
        Integrity::None => "NULL",
        Integrity::HmacMd5_96 => "HMAC-MD5-96 [RFC2403]",
        Integrity::HmacSha1_96 => "HMAC-SHA-1-96 [RFC2404]",
        Integrity::HmacSha256_128 => "HMAC-SHA-256-128 [RFC4868]",
        // The pre-RFC 4868 truncation (Android 6 and 7) has its own label.
        Integrity::HmacSha256_96 => "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
        Integrity::HmacSha384_192 => "HMAC-SHA-384-192 [RFC4868]",
        Integrity::HmacSha512_256 => "HMAC-SHA-512-256 [RFC4868]",
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Key bytes that differ per SA and per use.
fn key(len: usize, spi: u32, salt: u8) -> Vec<u8> {
    let s = spi.to_be_bytes();
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7) ^ s[i % 4] ^ salt)
        .collect()
}

struct TestSa {
    spi: Spi,
    encryption: Encryption,
    integrity: Integrity,
    mode: Mode,
    sa: OutboundSa,
    enc_key: Vec<u8>,
    auth_key: Vec<u8>,
}

impl TestSa {
    fn new(
        spi: u32,
        encryption: Encryption,
        integrity: Integrity,
        mode: Mode,
        now: Instant,
    ) -> Self {
        let enc_key = key(encryption.key_len(), spi, 0x5a);
        let auth_key = key(integrity.key_len(), spi, 0xa5);
        let mut params = SaParams::new(
            Spi(spi),
            encryption,
            enc_key.clone(),
            integrity,
            auth_key.clone(),
        );
        params.mode = mode;
        let sa = OutboundSa::new(params, now)
            .unwrap_or_else(|e| panic!("{encryption:?}/{integrity:?}: {e}"));
        Self {
            spi: Spi(spi),
            encryption,
            integrity,
            mode,
            sa,
            enc_key,
            auth_key,
        }
    }

    /// One `uat:esp_sa` entry: protocol, source, destination, SPI, encryption and its key
    /// (for GCM the key followed by the salt, as the SA holds it), authentication and its
    /// key. Hex keys are quoted in this table (unlike `ikev1_decryption_table`).
    fn uat(&self, family: &str) -> String {
        let key = |k: &[u8]| {
            if k.is_empty() {
                String::new()
            } else {
                format!("0x{}", hex(k))
            }
        };
        format!(
            "uat:esp_sa:\"{family}\",\"*\",\"*\",\"0x{:08x}\",\"{}\",\"{}\",\"{}\",\"{}\"",
            self.spi.0,
            enc_label(self.encryption),
            key(&self.enc_key),
            auth_label(self.integrity),
            key(&self.auth_key),
        )
    }

    /// Seals `inner` and returns the ESP packet.
    fn seal(&mut self, now: Instant, inner: &[u8]) -> Vec<u8> {
        let o = self.sa.overhead();
        let mut buf = vec![0; o.header + inner.len() + o.trailer_max];
        buf[o.header..o.header + inner.len()].copy_from_slice(inner);
        let next = match self.mode {
            Mode::Transport => IPPROTO_UDP,
            Mode::Tunnel => IPPROTO_IPIP,
        };
        let r = self
            .sa
            .seal(now, &mut buf, o.header..o.header + inner.len(), next)
            .unwrap();
        buf[r].to_vec()
    }
}

fn suites() -> Vec<(Encryption, Integrity)> {
    let mut v = Vec::new();
    for e in Encryption::ALL {
        for i in Integrity::ALL {
            if e.check_pair(i).is_ok() {
                v.push((e, i));
            }
        }
    }
    v
}

/// The frames of one run: which SA and what it carried, in capture order.
struct Expect {
    suite: (Encryption, Integrity),
    spi: u32,
    tid: u16,
    mode: Mode,
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Writes one capture of every suite for the outer family `v6` and returns the tshark
/// options and what each frame should hold.
fn capture(path: &std::path::Path, v6: bool) -> (Vec<String>, Vec<Expect>) {
    let now = VirtualClock::new().now();
    let (client, server) = if v6 {
        (sa("[2001:db8::10]:1701"), sa("[2001:db8::1]:1701"))
    } else {
        (sa("192.0.2.10:1701"), sa("198.51.100.1:1701"))
    };
    // Tunnel mode carries traffic between the networks behind the gateways.
    let (inner_src, inner_dst) = (sa("10.0.0.2:1701"), sa("10.0.1.2:1701"));
    let family = if v6 { "IPv6" } else { "IPv4" };
    let mut w = PcapWriter::create(path).unwrap();
    let mut uats = Vec::new();
    let mut expect = Vec::new();
    let mut ts = Duration::ZERO;
    let mut spi = if v6 { 0x6000_0100 } else { 0x4000_0100 };
    let mut tid = 1u16;
    for (e, i) in suites() {
        for mode in [Mode::Transport, Mode::Tunnel] {
            let mut t = TestSa::new(spi, e, i, mode, now);
            uats.push(t.uat(family));
            let encaps: &[bool] = if v6 { &[false] } else { &[false, true] };
            for &udp_encap in encaps {
                let inner = match mode {
                    // The UDP checksum covers the (outer) addresses, as transport mode
                    // sends it.
                    Mode::Transport => udp_segment(client, server, &hello(tid)).unwrap(),
                    Mode::Tunnel => udp_packet(inner_src, inner_dst, &hello(tid)).unwrap(),
                };
                let esp = t.seal(now, &inner);
                if udp_encap {
                    let (s, d) = (
                        SocketAddr::new(client.ip(), 4500),
                        SocketAddr::new(server.ip(), 4500),
                    );
                    w.write_udp(ts, s, d, &esp).unwrap();
                } else {
                    w.write_esp(ts, client.ip(), server.ip(), &esp).unwrap();
                }
                expect.push(Expect {
                    suite: (e, i),
                    spi,
                    tid,
                    mode,
                });
                ts += Duration::from_millis(1);
                tid += 1;
            }
            spi += 1;
        }
    }
    w.flush().unwrap();
    let mut opts: Vec<String> = [
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
    ]
    .map(str::to_owned)
    .to_vec();
    for u in uats {
        opts.push("-o".to_owned());
        opts.push(u);
    }
    (opts, expect)
}

fn check(v6: bool) {
    let name = if v6 {
        "esp-suites-v6.pcap"
    } else {
        "esp-suites-v4.pcap"
    };
    let path = scratch_file(name);
    let (opts, expect) = capture(&path, v6);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    assert_eq!(suites().len(), 32, "5 ciphers x 6 HMACs + 2 GCM");
    assert_eq!(expect.len(), 32 * 2 * if v6 { 1 } else { 2 });

    let report = tshark(&path, &opts);
    report.assert_clean();
    assert_eq!(report.frames, expect.len());
    assert_eq!(
        report.frames_with("esp"),
        expect.len(),
        "{:?}",
        report.protocols
    );
    assert_eq!(
        report.frames_with("l2tp"),
        expect.len(),
        "{:?}",
        report.protocols
    );
    let icv_correct = report
        .verbose
        .lines()
        .filter(|l| l.trim_start().starts_with("ESP ICV:") && l.ends_with("[correct]"))
        .count();
    assert_eq!(
        icv_correct,
        expect.len(),
        "not every ICV checked correct:\n{}",
        report.verbose
    );

    let rows = tshark_fields(
        &path,
        &opts,
        &[
            "esp.spi",
            "esp.sequence",
            "esp.icv_good",
            "esp.icv_bad",
            "udp.dstport",
            "ip.src",
            "l2tp.type",
            "l2tp.tunnel",
            "l2tp.avp.message_type",
            "udp.checksum.status",
        ],
    );
    assert_eq!(rows.len(), expect.len());
    for (n, (row, e)) in rows.iter().zip(&expect).enumerate() {
        let frame = n + 1;
        let suite = e.suite;
        let ctx = format!(
            "frame {frame}, SPI {:#010x}, {suite:?} {:?}: {row:?}",
            e.spi, e.mode
        );
        assert_eq!(row[0], format!("{:#010x}", e.spi), "{ctx}");
        assert_eq!(row[2], "1", "ICV not verified: {ctx}");
        assert_eq!(row[3], "0", "ICV bad: {ctx}");
        // The decrypted UDP is L2TP to port 1701, its checksum good (1 = "Good").
        assert!(row[4].split(',').any(|p| p == "1701"), "{ctx}");
        assert_eq!(row[6], "1", "L2TP control message: {ctx}");
        assert_eq!(row[7], e.tid.to_string(), "{ctx}");
        assert_eq!(row[8], "6", "Hello: {ctx}");
        assert!(row[9].split(',').all(|s| s == "1"), "UDP checksum: {ctx}");
        // Tunnel mode: the inner IPv4 packet decoded (its header checksum checked too).
        let inner = row[5].split(',').any(|a| a == "10.0.0.2");
        assert_eq!(inner, e.mode == Mode::Tunnel, "inner IPv4: {ctx}");
    }
}

#[test]
fn tshark_decrypts_every_suite_over_ipv4_raw_and_udp_encapsulated() {
    check(false);
}

#[test]
fn tshark_decrypts_every_suite_over_ipv6() {
    check(true);
}

/// The control: with one wrong key bit tshark reports the ICV as bad, so the checks above
/// are real.
#[test]
fn tshark_flags_a_wrong_key() {
    let now = VirtualClock::new().now();
    let path = scratch_file("esp-wrong-key.pcap");
    let (client, server) = (sa("192.0.2.10:1701"), sa("198.51.100.1:1701"));
    let mut t = TestSa::new(
        0x4bad_0001,
        Encryption::AesCbc128,
        Integrity::HmacSha1_96,
        Mode::Transport,
        now,
    );
    let esp = t.seal(now, &udp_segment(client, server, &hello(1)).unwrap());
    let mut w = PcapWriter::create(&path).unwrap();
    w.write_esp(Duration::ZERO, client.ip(), server.ip(), &esp)
        .unwrap();
    w.flush().unwrap();
    t.auth_key[0] ^= 1;
    let uat = t.uat("IPv4");
    let opts = [
        "-o",
        "esp.enable_encryption_decode:TRUE",
        "-o",
        "esp.enable_authentication_check:TRUE",
        "-o",
        &uat,
    ];
    let rows = tshark_fields(&path, &opts, &["esp.icv_good", "esp.icv_bad", "l2tp.type"]);
    // Decrypted (the encryption key is right), but the ICV does not verify.
    assert_eq!(rows, [["0", "1", "1"]]);
}
