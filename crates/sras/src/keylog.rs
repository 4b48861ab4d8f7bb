//! The IKE key log (`ike.keylog`, debug only): the keys Wireshark needs to decrypt a capture.
//!
//! One line per key, appended and flushed at once:
//!
//! - `ikev1:"<initiator cookie, 16 hex>","<phase 1 encryption key, hex>"`: an entry of
//!   Wireshark's `ikev1_decryption_table` (`uat:ikev1_decryption_table:<cookie>,<key>`);
//! - `esp:"IPv4","<src>","<dst>","0x<SPI>","<encryption>","0x<key>","<authentication>","0x<key>"`:
//!   an entry of its `esp_sa` table (`uat:esp_sa:` followed by the rest of the line), with the
//!   algorithm labels of Wireshark 4.0 (packet-ipsec.c). For AES-GCM the key is followed by the
//!   4-byte salt, and the authentication algorithm is NULL with an empty key.
//!
//! The file holds secrets: it is created with mode 0600.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use sras_esp::{Encryption, Integrity, SaParams};
use zeroize::Zeroizing;

/// The label of an encryption transform in Wireshark's `esp_sa` table.
pub(crate) fn enc_label(e: Encryption) -> &'static str {
    match e {
        Encryption::Null => "NULL",
        Encryption::AesCbc128 | Encryption::AesCbc192 | Encryption::AesCbc256 => {
            "AES-CBC [RFC3602]"
        }
        Encryption::TripleDesCbc => "TripleDES-CBC [RFC2451]",
        Encryption::AesGcm128 | Encryption::AesGcm256 => "AES-GCM with 16 octet ICV [RFC4106]",
    }
}

/// The label of an integrity transform in the `esp_sa` table ("NULL" with GCM: the ICV is
/// GCM's tag, which the decryption checks).
pub(crate) fn auth_label(i: Integrity) -> &'static str {
    match i {
        Integrity::None => "NULL",
        Integrity::HmacMd5_96 => "HMAC-MD5-96 [RFC2403]",
        Integrity::HmacSha1_96 => "HMAC-SHA-1-96 [RFC2404]",
        Integrity::HmacSha256_128 => "HMAC-SHA-256-128 [RFC4868]",
        // The pre-RFC 4868 truncation (Android 6 and 7, "sha2-truncbug") has its own label.
        Integrity::HmacSha256_96 => "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]",
        Integrity::HmacSha384_192 => "HMAC-SHA-384-192 [RFC4868]",
        Integrity::HmacSha512_256 => "HMAC-SHA-512-256 [RFC4868]",
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// A key as the `esp_sa` table wants it: `0x<hex>`, or nothing for no key.
fn push_key(out: &mut String, key: &[u8]) {
    if !key.is_empty() {
        out.push_str("0x");
        push_hex(out, key);
    }
}

/// The `ikev1:` line of a phase 1 SA.
pub(crate) fn ikev1_line(initiator_cookie: &[u8; 8], key: &[u8]) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(32 + 2 * key.len()));
    s.push_str("ikev1:\"");
    push_hex(&mut s, initiator_cookie);
    s.push_str("\",\"");
    push_hex(&mut s, key);
    s.push('"');
    s
}

/// The `esp:` line of one direction of an ESP SA, from `src` to `dst`.
pub(crate) fn esp_line(src: IpAddr, dst: IpAddr, sa: &SaParams) -> Zeroizing<String> {
    let family = if src.is_ipv4() { "IPv4" } else { "IPv6" };
    let mut s = Zeroizing::new(String::with_capacity(
        160 + 2 * (sa.enc_key.len() + sa.auth_key.len()),
    ));
    s.push_str(&format!(
        "esp:\"{family}\",\"{src}\",\"{dst}\",\"0x{:08x}\",\"{}\",\"",
        sa.spi.0,
        enc_label(sa.encryption)
    ));
    push_key(&mut s, &sa.enc_key);
    s.push_str(&format!("\",\"{}\",\"", auth_label(sa.integrity)));
    push_key(&mut s, &sa.auth_key);
    s.push('"');
    s
}

/// The open key log.
pub(crate) struct KeyLog {
    file: File,
}

impl KeyLog {
    /// Opens (creates, mode 0600) `path` for appending.
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        let mut o = OpenOptions::new();
        o.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        Ok(Self {
            file: o.open(path)?,
        })
    }

    /// Appends `line` and a newline, and flushes.
    pub(crate) fn write(&mut self, line: &str) -> std::io::Result<()> {
        let mut buf = Zeroizing::new(Vec::with_capacity(line.len() + 1));
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        self.file.write_all(&buf)?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sras_esp::Spi;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ikev1() {
        let line = ikev1_line(
            &[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef],
            &[0x00, 0x11, 0xfe, 0xff],
        );
        assert_eq!(line.as_str(), "ikev1:\"0123456789abcdef\",\"0011feff\"");
    }

    #[test]
    fn esp_cbc_with_hmac() {
        let sa = SaParams::new(
            Spi(0xc0ffee01),
            Encryption::AesCbc128,
            vec![0xaa; 16],
            Integrity::HmacSha1_96,
            vec![0x0b; 20],
        );
        assert_eq!(
            esp_line(ip("192.0.2.3"), ip("192.0.2.1"), &sa).as_str(),
            "esp:\"IPv4\",\"192.0.2.3\",\"192.0.2.1\",\"0xc0ffee01\",\"AES-CBC [RFC3602]\",\"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"HMAC-SHA-1-96 [RFC2404]\",\"0x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b\""
        );
        let sa = SaParams::new(
            Spi(0x100),
            Encryption::TripleDesCbc,
            vec![1; 24],
            Integrity::HmacSha256_128,
            vec![2; 32],
        );
        assert_eq!(
            esp_line(ip("10.0.0.1"), ip("10.0.0.2"), &sa).as_str(),
            format!(
                "esp:\"IPv4\",\"10.0.0.1\",\"10.0.0.2\",\"0x00000100\",\"TripleDES-CBC [RFC2451]\",\"0x{}\",\"HMAC-SHA-256-128 [RFC4868]\",\"0x{}\"",
                "01".repeat(24),
                "02".repeat(32)
            )
        );
    }

    #[test]
    fn esp_gcm_key_has_the_salt_and_no_auth_key() {
        let mut key = vec![0x11; 16];
        key.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let sa = SaParams::new(
            Spi(0x12345678),
            Encryption::AesGcm128,
            key,
            Integrity::None,
            Vec::new(),
        );
        assert_eq!(
            esp_line(ip("2001:db8::1"), ip("2001:db8::2"), &sa).as_str(),
            "esp:\"IPv6\",\"2001:db8::1\",\"2001:db8::2\",\"0x12345678\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x11111111111111111111111111111111deadbeef\",\"NULL\",\"\""
        );
    }

    #[test]
    fn labels() {
        assert_eq!(enc_label(Encryption::Null), "NULL");
        assert_eq!(enc_label(Encryption::AesCbc256), "AES-CBC [RFC3602]");
        assert_eq!(
            enc_label(Encryption::AesGcm256),
            "AES-GCM with 16 octet ICV [RFC4106]"
        );
        assert_eq!(auth_label(Integrity::HmacMd5_96), "HMAC-MD5-96 [RFC2403]");
        assert_eq!(
            auth_label(Integrity::HmacSha256_96),
            "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]"
        );
        assert_eq!(
            auth_label(Integrity::HmacSha384_192),
            "HMAC-SHA-384-192 [RFC4868]"
        );
        assert_eq!(
            auth_label(Integrity::HmacSha512_256),
            "HMAC-SHA-512-256 [RFC4868]"
        );
    }

    #[test]
    fn file_is_appended_and_private() {
        let dir = std::env::temp_dir().join(format!("sras-keylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys");
        let _ = std::fs::remove_file(&path);
        KeyLog::open(&path).unwrap().write("a").unwrap();
        KeyLog::open(&path).unwrap().write("b").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
