//! Captures of in-memory exchanges decoded by an independent dissector: tshark 4.0 parses
//! every ISAKMP message, decrypts Main Mode 5/6, Quick Mode and Informational with the
//! initiator cookie and phase 1 key (`ikev1_decryption_table`), and decrypts ESP sealed with
//! the negotiated IPsec SAs (`esp_sa`) with the ICV checked: both sides' keys are right by a
//! decoder no one here wrote.

mod support;

use std::time::Duration;

use sras_esp::{Encryption, Integrity, OutboundSa};
use sras_ike::{ChildRequest, ChildSa, Config, Event};
use sras_testkit::{scratch_file, tshark, tshark_fields, LinkConfig, Network, PcapWriter};
use support::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

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

fn auth_label(i: Integrity) -> &'static str {
    match i {
        Integrity::None => "NULL",
        Integrity::HmacMd5_96 => "HMAC-MD5-96 [RFC2403]",
        Integrity::HmacSha1_96 => "HMAC-SHA-1-96 [RFC2404]",
        Integrity::HmacSha256_128 => "HMAC-SHA-256-128 [RFC4868]",
        Integrity::HmacSha256_96 => "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
        Integrity::HmacSha384_192 => "HMAC-SHA-384-192 [RFC4868]",
        Integrity::HmacSha512_256 => "HMAC-SHA-512-256 [RFC4868]",
    }
}

fn esp_uat(p: &sras_esp::SaParams) -> String {
    let key = |k: &[u8]| {
        if k.is_empty() {
            String::new()
        } else {
            format!("0x{}", hex(k))
        }
    };
    format!(
        "uat:esp_sa:\"IPv4\",\"*\",\"*\",\"0x{:08x}\",\"{}\",\"{}\",\"{}\",\"{}\"",
        p.spi.0,
        enc_label(p.encryption),
        key(&p.enc_key),
        auth_label(p.integrity),
        key(&p.auth_key)
    )
}

/// An L2TP Hello-sized UDP segment 1701 -> 1701, sealed in transport mode by `sa`.
fn esp_packet(sa: &sras_esp::SaParams) -> Vec<u8> {
    #[allow(clippy::disallowed_methods)]
    let t = std::time::Instant::now();
    let mut out = OutboundSa::new(clone_params(sa), t).unwrap();
    let l2tp = [
        0xc8u8, 0x02, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x08, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x06,
    ];
    let mut udp = vec![0x06, 0xa5, 0x06, 0xa5, 0, (8 + l2tp.len()) as u8, 0, 0];
    udp.extend_from_slice(&l2tp);
    let o = out.overhead();
    let mut buf = vec![0u8; o.header + udp.len() + o.trailer_max];
    let range = o.header..o.header + udp.len();
    buf[range.clone()].copy_from_slice(&udp);
    let r = out.seal(t, &mut buf, range, 17).unwrap();
    buf[r].to_vec()
}

struct Run {
    net: Network<IkeNode>,
    s: usize,
    c: usize,
}

fn run(server: Config, client: Config) -> Run {
    let mut net = Network::new(1, LinkConfig::with_latency(Duration::from_millis(5)));
    net.set_capture(true);
    let (s, c) = add_pair(
        &mut net,
        IkeNode::new(
            Config {
                export_keys: true,
                ..server
            },
            1,
        ),
        IkeNode::new(
            Config {
                export_keys: true,
                ..client
            },
            2,
        ),
        CLIENT,
    );
    let now = net.now();
    net.node_mut(s).ep.set_unix_time(now, UNIX_NOW);
    net.node_mut(c).ep.set_unix_time(now, UNIX_NOW);
    net.node_mut(c).ep.connect(
        now,
        addr(CLIENT, 500),
        addr(SERVER, 500),
        ChildRequest::default(),
    );
    assert!(
        net.drive_until(MINUTE, |n| !n.node(s).children_up().is_empty()
            && !n.node(c).children_up().is_empty())
    );
    // An Informational exchange too: the client deletes everything.
    let now = net.now();
    net.node_mut(c).ep.delete_all(now);
    net.run_for(Duration::from_secs(2));
    Run { net, s, c }
}

/// Writes the capture plus one ESP packet each way; returns the tshark options that decrypt.
fn write(run: &Run, name: &str) -> (std::path::PathBuf, Vec<String>) {
    let path = scratch_file(name);
    let mut w = PcapWriter::create(&path).unwrap();
    let mut last = Duration::ZERO;
    for d in run.net.capture() {
        w.write_udp(d.time, d.src, d.dst, &d.payload).unwrap();
        last = d.time;
    }
    let key = run
        .net
        .node(run.c)
        .events
        .iter()
        .find_map(|e| {
            if let Event::Phase1Up(i) = e {
                Some((i.cookies.0, i.encryption_key.clone().unwrap()))
            } else {
                None
            }
        })
        .unwrap();
    let mut opts = vec![
        "-o".to_string(),
        format!("uat:ikev1_decryption_table:{},{}", hex(&key.0), hex(&key.1)),
    ];
    opts.push("-o".into());
    opts.push("esp.enable_encryption_decode:TRUE".into());
    let cs: &ChildSa = run.net.node(run.c).children_up()[0];
    for (i, sa) in [&cs.outbound, &cs.inbound].into_iter().enumerate() {
        opts.push("-o".into());
        opts.push(esp_uat(sa));
        let esp = esp_packet(sa);
        let (src, dst) = if i == 0 {
            (cs.local, cs.remote)
        } else {
            (cs.remote, cs.local)
        };
        let t = last + Duration::from_millis(1 + i as u64);
        if cs.encapsulation.is_udp() {
            w.write_udp(t, src, dst, &esp).unwrap();
        } else {
            w.write_esp(t, src.ip(), dst.ip(), &esp).unwrap();
        }
    }
    w.flush().unwrap();
    (path, opts)
}

fn check(run: &Run, name: &str, frames: usize) {
    let (path, opts) = write(run, name);
    let o: Vec<&str> = opts.iter().map(String::as_str).collect();
    let report = tshark(&path, &o);
    report.assert_clean();
    assert_eq!(report.frames, frames + 2, "{}", report.verbose);
    assert_eq!(report.frames_with("isakmp"), frames, "{}", report.verbose);
    // Every encrypted message was decrypted: its payloads are dissected (ID in MM5/MM6, HASH
    // in every Quick Mode and Informational message).
    let rows = tshark_fields(
        &path,
        &o,
        &["isakmp.flag_e", "isakmp.typepayload", "isakmp.hash"],
    );
    let mut encrypted = 0;
    for (n, row) in rows.iter().enumerate().take(frames) {
        if row[0] == "1" || row[0] == "True" {
            encrypted += 1;
            // A HASH (PSK, Quick Mode, Informational) or a SIG (certificates) inside.
            assert!(
                row[1].split(',').any(|p| p == "8" || p == "9"),
                "frame {}: not decrypted: {row:?}\n{}",
                n + 1,
                report.verbose
            );
        }
    }
    // MM5, MM6, three Quick Mode messages and the two Informationals.
    assert_eq!(encrypted, frames - 4, "{rows:?}");
    // Both ESP packets decrypt to UDP 1701 -> 1701 with the ICV marked correct.
    let esp = tshark_fields(&path, &o, &["esp.spi", "udp.dstport", "esp.icv_good"]);
    let tail = &esp[frames..];
    for row in tail {
        assert!(
            row[1].split(',').any(|p| p == "1701"),
            "ESP not decrypted: {row:?}\n{}",
            report.verbose
        );
    }
    let _ = run.s;
}

#[test]
fn psk_main_mode_quick_mode_delete_decode_and_decrypt() {
    let r = run(psk_config(), psk_config());
    // 6 Main Mode + 3 Quick Mode + 2 Informational (Delete ESP, Delete ISAKMP).
    check(&r, "ike-psk.pcap", 11);
}

#[test]
fn nat_t_forced_decodes_on_4500() {
    let r = run(
        Config {
            force_encapsulation: true,
            ..psk_config()
        },
        psk_config(),
    );
    check(&r, "ike-natt.pcap", 11);
}

#[test]
fn certificates_decode_and_decrypt() {
    let r = run(cert_config("server"), cert_config("client"));
    check(&r, "ike-cert.pcap", 11);
}
