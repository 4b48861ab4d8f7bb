//! Known answers from real IKEv1 exchanges between two strongSwan 5.9.8 charons (Debian
//! bookworm, `strongswan 5.9.8-5+deb12u5`, in the test bed's VMs): Main Mode with pre-shared
//! keys (and, in `h-rsa-*`, RSA signatures) and Quick Mode (transport mode, UDP/1701), charon at log level 4, which prints g^xy,
//! SKEYID*, Ka, the IVs, HASH_I/HASH_R and their inputs, and the Quick Mode KEYMAT.
//!
//! Each `tests/data/strongswan/<suite>.txt` holds the values of one exchange, cross-checked
//! when it was written between both charons' logs, `ip xfrm state` in both VMs (the ESP keys
//! the Linux kernel used) and a capture of the exchange (`<suite>.pcap`; `<suite>.log` is the
//! log excerpt). `capture.sh` in that folder regenerates them. The private Diffie-Hellman
//! values are never logged, so g^xy is taken as given.
//!
//! For every suite this recomputes, with `sras_ike::crypto`, and compares byte for byte:
//! SKEYID (PSK or signatures), SKEYID_d/a/e, Ka (truncated or expanded, RFC 2409 Appendix B), the phase 1
//! IV, HASH_I and HASH_R, the first Quick Mode IV, and the KEYMAT of both ESP SAs (with the
//! Quick Mode g^xy in the PFS suite).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sras_ike::crypto::{keymat, CipherAlgorithm, HashAlgorithm};

/// Protocol ID of ESP (RFC 2407 §4.4.1).
const PROTO_ESP: u8 = 3;

struct Kat {
    name: String,
    v: BTreeMap<String, String>,
}

impl Kat {
    fn load(path: &Path) -> Self {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut v = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, val) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: bad line {line:?}", path.display()));
            v.insert(k.trim().to_string(), val.trim().to_string());
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        Self { name, v }
    }

    fn s(&self, k: &str) -> &str {
        self.v
            .get(k)
            .unwrap_or_else(|| panic!("{}: no {k}", self.name))
    }

    fn b(&self, k: &str) -> Vec<u8> {
        hex(self.s(k)).unwrap_or_else(|| panic!("{}: {k} is not hex", self.name))
    }

    fn opt(&self, k: &str) -> Option<Vec<u8>> {
        self.v.contains_key(k).then(|| self.b(k))
    }

    fn n(&self, k: &str) -> usize {
        self.s(k)
            .parse()
            .unwrap_or_else(|_| panic!("{}: {k} is not a number", self.name))
    }

    fn cookie(&self, k: &str) -> [u8; 8] {
        self.b(k)
            .try_into()
            .unwrap_or_else(|_| panic!("{}: {k} is not 8 bytes", self.name))
    }

    fn spi(&self, k: &str) -> [u8; 4] {
        self.b(k)
            .try_into()
            .unwrap_or_else(|_| panic!("{}: {k} is not 4 bytes", self.name))
    }

    fn prf(&self) -> HashAlgorithm {
        match self.s("prf") {
            "md5" => HashAlgorithm::Md5,
            "sha1" => HashAlgorithm::Sha1,
            "sha256" => HashAlgorithm::Sha256,
            "sha384" => HashAlgorithm::Sha384,
            "sha512" => HashAlgorithm::Sha512,
            p => panic!("{}: unknown prf {p}", self.name),
        }
    }

    fn cipher(&self) -> CipherAlgorithm {
        match self.s("cipher") {
            "3des" => CipherAlgorithm::TripleDesCbc,
            "aes128" => CipherAlgorithm::AesCbc128,
            "aes192" => CipherAlgorithm::AesCbc192,
            "aes256" => CipherAlgorithm::AesCbc256,
            c => panic!("{}: unknown cipher {c}", self.name),
        }
    }

    /// Asserts `got` equals the value of `k`, naming the suite and the key.
    fn eq(&self, k: &str, got: &[u8]) {
        let want = self.b(k);
        assert!(
            got == want.as_slice(),
            "{}: {k} differs\n  strongSwan: {}\n  sras-ike:   {}",
            self.name,
            self.s(k),
            to_hex(got)
        );
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    sras_ike::crypto::from_hex(s)
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/strongswan")
}

fn suites() -> Vec<Kat> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data/strongswan")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no known-answer files in {}",
        data_dir().display()
    );
    paths.iter().map(|p| Kat::load(p)).collect()
}

fn check_phase1(k: &Kat) -> keymat::Phase1Keys {
    let prf = k.prf();
    let skeyid = match k.s("auth") {
        "psk" => keymat::skeyid_psk(prf, &k.b("psk"), &k.b("ni"), &k.b("nr")),
        "rsa" => keymat::skeyid_sig(prf, &k.b("ni"), &k.b("nr"), &k.b("gxy")),
        a => panic!("{}: unknown auth {a}", k.name),
    };
    k.eq("skeyid", skeyid.as_ref());
    let keys = keymat::derive_phase1(
        prf,
        skeyid,
        &k.b("gxy"),
        &k.cookie("cky_i"),
        &k.cookie("cky_r"),
        k.cipher(),
        k.n("key_len"),
        &k.b("gxi"),
        &k.b("gxr"),
    );
    k.eq("skeyid", keys.skeyid.as_ref());
    k.eq("skeyid_d", keys.skeyid_d.as_ref());
    k.eq("skeyid_a", keys.skeyid_a.as_ref());
    k.eq("skeyid_e", keys.skeyid_e.as_ref());
    k.eq("ka", &keys.ka);
    k.eq("iv", &keys.iv);
    keys
}

#[test]
fn strongswan_phase1_keys() {
    for k in suites() {
        assert_eq!(k.cipher().key_len(), k.n("key_len"), "{}: key_len", k.name);
        check_phase1(&k);
    }
}

/// The length of an SA payload body at the start of `b` (RFC 2408 §3.4: DOI, Situation, then
/// Proposal payloads chained by their Next Payload field, 2 = another Proposal).
fn sa_body_len(b: &[u8]) -> usize {
    let mut at = 8;
    loop {
        let next = b[at];
        at += usize::from(u16::from_be_bytes([b[at + 2], b[at + 3]]));
        if next != 2 {
            return at;
        }
    }
}

/// HASH_I and HASH_R from charon's "HASH_I data" / "HASH_R data" (`g^xi | g^xr | CKY-I |
/// CKY-R | SAi_b | IDii_b` and `g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b`).
#[test]
fn strongswan_hash_i_and_hash_r() {
    for k in suites() {
        let prf = k.prf();
        let (gxi, gxr) = (k.b("gxi"), k.b("gxr"));
        let (cky_i, cky_r) = (k.cookie("cky_i"), k.cookie("cky_r"));
        let head = gxi.len() + gxr.len() + 16;
        let data_i = k.b("hash_i_data");
        let data_r = k.b("hash_r_data");
        assert_eq!(
            &data_i[..head],
            [&gxi[..], &gxr, &cky_i, &cky_r].concat(),
            "{}: HASH_I data head",
            k.name
        );
        assert_eq!(
            &data_r[..head],
            [&gxr[..], &gxi, &cky_r, &cky_i].concat(),
            "{}: HASH_R data head",
            k.name
        );
        let (sai_b, idii_b) = data_i[head..].split_at(sa_body_len(&data_i[head..]));
        let (sai_b_r, idir_b) = data_r[head..].split_at(sa_body_len(&data_r[head..]));
        assert_eq!(
            sai_b, sai_b_r,
            "{}: SAi_b differs in HASH_I and HASH_R data",
            k.name
        );
        let skeyid = k.b("skeyid");
        let hi = keymat::hash_i(prf, &skeyid, &gxi, &gxr, &cky_i, &cky_r, sai_b, idii_b);
        k.eq("hash_i", hi.as_ref());
        let hr = keymat::hash_r(prf, &skeyid, &gxi, &gxr, &cky_i, &cky_r, sai_b, idir_b);
        k.eq("hash_r", hr.as_ref());
    }
}

/// The first IV of the Quick Mode: hash(last phase 1 CBC block | M-ID) (RFC 2409 Appendix B).
#[test]
fn strongswan_quick_mode_iv() {
    for k in suites() {
        let mid = u32::from_be_bytes(k.spi("qm_mid"));
        let iv = keymat::message_iv(k.prf(), &k.b("p1_last_block"), mid, k.cipher().block_len());
        k.eq("qm_iv", &iv);
    }
}

/// KEYMAT of both ESP SAs; as the Linux kernel in both VMs used them (`ip xfrm state`).
#[test]
fn strongswan_quick_mode_keymat() {
    for k in suites() {
        let keys = check_phase1(&k);
        let gxy_qm = k.opt("gxy2");
        assert_eq!(gxy_qm.is_some(), k.s("pfs") == "yes", "{}: pfs", k.name);
        let (enc, auth) = (k.n("esp_enc_len"), k.n("esp_auth_len"));
        for spi in ["spi_i", "spi_r"] {
            let km = keymat::keymat(
                k.prf(),
                keys.skeyid_d.as_ref(),
                gxy_qm.as_deref(),
                PROTO_ESP,
                k.spi(spi),
                &k.b("ni2"),
                &k.b("nr2"),
                enc + auth,
            );
            assert_eq!(km.len(), enc + auth, "{}: KEYMAT length", k.name);
            k.eq(&format!("esp_{spi}_enc"), &km[..enc]);
            k.eq(&format!("esp_{spi}_auth"), &km[enc..]);
        }
    }
}

/// The data set covers what it claims: every hash as prf, AES with truncated and expanded Ka,
/// PFS, and both authentication methods.
#[test]
fn strongswan_coverage() {
    let all = suites();
    for prf in HashAlgorithm::ALL {
        assert!(
            all.iter().any(|k| k.prf() == *prf),
            "no suite with prf {prf:?}"
        );
    }
    assert!(
        all.iter().any(|k| k.b("skeyid_e").len() < k.n("key_len")),
        "no suite expands Ka"
    );
    assert!(
        all.iter().any(|k| k.b("skeyid_e").len() > k.n("key_len")),
        "no suite truncates Ka"
    );
    assert!(all.iter().any(|k| k.s("pfs") == "yes"), "no PFS suite");
    assert!(
        all.iter().any(|k| k.s("auth") == "psk"),
        "no pre-shared key suite"
    );
    assert!(
        all.iter().any(|k| k.s("auth") == "rsa"),
        "no RSA signature suite"
    );
}
