//! Runs `tshark` on a capture to prove it decodes with an independent dissector.
//!
//! These helpers panic when `tshark` is missing (`apt-get install tshark`) rather than
//! skipping: a test that needs an independent decoder must not pass without one.
//! `extra` arguments are decoding options for every run, e.g. `["-d", "udp.port==1702,l2tp"]`,
//! `["-o", "esp.enable_encryption_decode:TRUE", "-o", "uat:esp_sa:..."]`, or `["-O", "l2tp"]`
//! (which replaces `-V` for the verbose text); not display filters or output formats.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// Expert-info severity of an error (`PI_ERROR`), as `_ws.expert.severity` prints it.
const SEVERITY_ERROR: &str = "8388608";
/// Separates the occurrences of one field in `-T fields` output.
const AGGREGATOR: &str = "\u{1f}";

/// What tshark made of a capture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TsharkReport {
    /// Frames in the file.
    pub frames: usize,
    /// Frames with a `_ws.malformed` item (a dissector ran out of bytes or hit an exception).
    pub malformed: usize,
    /// Expert items of error severity, as `"frame N: message"`.
    pub expert_errors: Vec<String>,
    /// The `frame.protocols` of each frame, e.g. `"raw:ip:udp:l2tp"`.
    pub protocols: Vec<String>,
    /// The detailed dissection (`tshark -V`, or `-O ...` when given in `extra`).
    pub verbose: String,
}

impl TsharkReport {
    /// Panics, showing the dissection, unless no frame is malformed and there is no expert error.
    pub fn assert_clean(&self) {
        assert!(
            self.malformed == 0 && self.expert_errors.is_empty(),
            "tshark: {} malformed frame(s), expert errors {:?}\n{}",
            self.malformed,
            self.expert_errors,
            self.verbose
        );
    }

    /// How many frames have `protocol` among their `frame.protocols` (e.g. `"l2tp"`, `"esp"`).
    pub fn frames_with(&self, protocol: &str) -> usize {
        self.protocols
            .iter()
            .filter(|p| p.split(':').any(|x| x == protocol))
            .count()
    }
}

/// Runs `tshark -r path` with `extra` decoding options, counting frames, `_ws.malformed`
/// frames and error-severity expert items, and keeping the verbose dissection.
///
/// # Panics
///
/// If tshark is not installed or fails (bad options, unreadable file).
pub fn tshark(path: &Path, extra: &[&str]) -> TsharkReport {
    let rows = fields_raw(
        path,
        extra,
        &[
            "frame.number",
            "frame.protocols",
            "_ws.malformed",
            "_ws.expert.severity",
            "_ws.expert.message",
        ],
    );
    let mut report = TsharkReport {
        frames: rows.len(),
        ..TsharkReport::default()
    };
    for row in &rows {
        let [frame, protocols, malformed, severities, messages] = &row[..] else {
            panic!("tshark: unexpected field row {row:?}");
        };
        report.protocols.push(protocols.clone());
        if !malformed.is_empty() {
            report.malformed += 1;
        }
        let severities: Vec<&str> = severities.split(AGGREGATOR).collect();
        let messages: Vec<&str> = messages.split(AGGREGATOR).collect();
        for (i, severity) in severities.iter().enumerate() {
            if *severity == SEVERITY_ERROR {
                let message = messages.get(i).copied().unwrap_or("(no message)");
                report
                    .expert_errors
                    .push(format!("frame {frame}: {message}"));
            }
        }
    }
    let detail = if extra.contains(&"-O") {
        &[][..]
    } else {
        &["-V"][..]
    };
    report.verbose = run(path, extra, detail);
    report
}

/// Runs `tshark -r path -T fields -e FIELD...` with `extra` decoding options and returns one
/// row per frame, one string per field (several occurrences of a field joined by `,`).
///
/// # Panics
///
/// If tshark is not installed or fails.
pub fn tshark_fields(path: &Path, extra: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let mut rows = fields_raw(path, extra, fields);
    for f in rows.iter_mut().flatten() {
        *f = f.replace(AGGREGATOR, ",");
    }
    rows
}

/// Field rows with the occurrences of a field joined by [`AGGREGATOR`].
fn fields_raw(path: &Path, extra: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let aggregator = format!("aggregator={AGGREGATOR}");
    let mut args = vec!["-T", "fields", "-E", "occurrence=a", "-E", &aggregator];
    for f in fields {
        args.extend(["-e", f]);
    }
    // Field output ignores `-O`; drop it and its argument.
    let mut kept = Vec::with_capacity(extra.len());
    let mut it = extra.iter();
    while let Some(a) = it.next() {
        if *a == "-O" {
            it.next();
        } else {
            kept.push(*a);
        }
    }
    run(path, &kept, &args)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut row: Vec<String> = l.split('\t').map(str::to_owned).collect();
            row.resize(fields.len(), String::new());
            row
        })
        .collect()
}

/// Runs `tshark -n -r path EXTRA... ARGS...` and returns its standard output.
fn run(path: &Path, extra: &[&str], args: &[&str]) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(path).args(extra).args(args);
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "tshark is not installed (apt-get install tshark); it is needed to check {}",
                path.display()
            )
        }
        Err(e) => panic!("could not run tshark: {e}"),
    };
    assert!(
        out.status.success(),
        "tshark {} failed ({}):\n{}",
        cmd.get_args()
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::*;
    use crate::pcap::PcapWriter;
    use crate::{scratch_file, LinkConfig, Network, Probe};

    const CHECKSUMS: [&str; 4] = [
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
    ];

    /// An L2TP ZLB acknowledgement: control header only (T, L, S bits, version 2), length 12,
    /// tunnel 0x1234, session 0, Ns 1, Nr 2 (RFC 2661 §3.1, §5.8).
    const ZLB: [u8; 12] = [
        0xc8, 0x02, 0x00, 0x0c, 0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02,
    ];
    /// An L2TP Hello: the header plus a Message Type AVP (M bit, length 8, type 0) of value 6.
    const HELLO: [u8; 20] = [
        0xc8, 0x02, 0x00, 0x14, 0x12, 0x34, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, //
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06,
    ];

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn l2tp_frames_decode_cleanly() {
        let path = scratch_file("l2tp-clean.pcap");
        let mut w = PcapWriter::create(&path).unwrap();
        w.write_udp(
            Duration::ZERO,
            sa("192.0.2.1:1701"),
            sa("192.0.2.2:1701"),
            &HELLO,
        )
        .unwrap();
        w.write_udp(
            Duration::from_millis(30),
            sa("192.0.2.2:1701"),
            sa("192.0.2.1:1701"),
            &ZLB,
        )
        .unwrap();
        w.write_udp(
            Duration::from_millis(60),
            sa("[2001:db8::1]:1701"),
            sa("[2001:db8::2]:1701"),
            &HELLO,
        )
        .unwrap();
        w.flush().unwrap();

        let r = tshark(&path, &CHECKSUMS);
        r.assert_clean();
        assert_eq!(r.frames, 3);
        assert_eq!(r.frames_with("l2tp"), 3, "{:?}", r.protocols);
        assert_eq!(r.protocols[0], "raw:ip:udp:l2tp");
        assert_eq!(r.protocols[2], "raw:ipv6:udp:l2tp");
        assert!(r.verbose.contains("Hello"), "{}", r.verbose);
        assert!(r.verbose.contains("Tunnel ID: 4660"), "{}", r.verbose);
        assert!(
            r.verbose.contains("[correct]"),
            "checksums not verified:\n{}",
            r.verbose
        );

        let rows = tshark_fields(
            &path,
            &[],
            &["l2tp.tunnel", "l2tp.Ns", "l2tp.avp.message_type"],
        );
        assert_eq!(rows[0], ["4660", "2", "6"]);
        assert_eq!(rows[1], ["4660", "1", ""]);
    }

    #[test]
    fn truncated_l2tp_is_malformed() {
        let path = scratch_file("l2tp-truncated.pcap");
        let mut w = PcapWriter::create(&path).unwrap();
        w.write_udp(
            Duration::ZERO,
            sa("192.0.2.1:1701"),
            sa("192.0.2.2:1701"),
            &ZLB,
        )
        .unwrap();
        // The header says 20 bytes but the Message Type AVP is cut after 4 of its 8.
        w.write_udp(
            Duration::from_millis(1),
            sa("192.0.2.1:1701"),
            sa("192.0.2.2:1701"),
            &HELLO[..16],
        )
        .unwrap();
        w.flush().unwrap();

        let r = tshark(&path, &["-O", "l2tp"]);
        assert_eq!(r.frames, 2);
        assert_eq!(r.malformed, 1, "{r:?}");
        assert_eq!(r.expert_errors.len(), 1, "{r:?}");
        assert!(
            r.expert_errors[0].starts_with("frame 2: Malformed"),
            "{r:?}"
        );
        assert!(r.verbose.contains("Layer 2 Tunneling Protocol"));
        assert!(
            !r.verbose.contains("Internet Protocol Version 4\n    0100"),
            "-O should limit detail"
        );
    }

    #[test]
    fn bad_checksum_is_an_expert_error() {
        let path = scratch_file("bad-checksum.pcap");
        let mut p =
            crate::pcap::udp_packet(sa("192.0.2.1:1701"), sa("192.0.2.2:1701"), &ZLB).unwrap();
        p[26] ^= 0xff; // UDP checksum
        let mut w = PcapWriter::create(&path).unwrap();
        w.write_ip(Duration::ZERO, &p).unwrap();
        w.flush().unwrap();
        let r = tshark(&path, &CHECKSUMS);
        assert_eq!(r.malformed, 0);
        assert_eq!(r.expert_errors.len(), 1, "{r:?}");
    }

    #[test]
    fn esp_frames_decode() {
        let path = scratch_file("esp.pcap");
        let mut w = PcapWriter::create(&path).unwrap();
        let esp = [
            0x11, 0x22, 0x33, 0x44, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0,
        ];
        w.write_esp(
            Duration::ZERO,
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            &esp,
        )
        .unwrap();
        w.flush().unwrap();
        let r = tshark(&path, &CHECKSUMS);
        r.assert_clean();
        assert_eq!(r.protocols, ["raw:ip:esp"]);
        let rows = tshark_fields(&path, &[], &["esp.spi", "esp.sequence"]);
        assert_eq!(rows, [["0x11223344", "1"]]);
    }

    #[test]
    fn network_capture_decodes() {
        let ms = Duration::from_millis;
        let (a, b) = (sa("198.51.100.1:1701"), sa("198.51.100.2:1701"));
        let mut net = Network::new(5, LinkConfig::with_latency(ms(15)));
        let pa = net.add(a, Probe::new());
        let pb = net.add(b, Probe::new());
        net.node_mut(pa).send(b, HELLO);
        net.run_for(ms(100));
        net.node_mut(pb).send(a, ZLB);
        net.run_for(ms(100));
        let path = scratch_file("network.pcap");
        net.write_pcap(&path).unwrap();

        let r = tshark(&path, &CHECKSUMS);
        r.assert_clean();
        assert_eq!(r.frames_with("l2tp"), 2);
        let rows = tshark_fields(&path, &[], &["frame.time_relative", "ip.src", "l2tp.Ns"]);
        assert_eq!(rows[0], ["0.000000000", "198.51.100.1", "2"]);
        assert_eq!(rows[1], ["0.100000000", "198.51.100.2", "1"]);
        let rows = tshark_fields(&path, &[], &["frame.time_epoch"]);
        assert_eq!(rows[0], ["0.015000000"]);
    }
}
