//! The checks of the `esp_open` fuzz target (`fuzz/fuzz_targets/esp_open.rs`) as plain
//! functions, so that `cargo test` runs them over the seed corpus and proptest inputs too
//! (STYLE.md 2.6; as `sras_l2tp::wire::fuzz_support`).
//!
//! Compiled only for tests and with the `__fuzzing` feature. These functions panic (assert)
//! when a property fails: that is how a fuzzer reports a finding.
//!
//! Input format: a sequence of records `[len_hi, len_lo, bytes...]`, each an ESP packet
//! (a short last record takes what is left). Each packet goes to the fixed inbound SA whose
//! SPI it carries ([`fuzz_spi`]: every suite of [`FUZZ_SUITES`] with ESN off/on, transport
//! and tunnel mode), or, when no SA has that SPI, to SA number `spi % count` (which must
//! refuse it as [`Error::WrongSpi`]). SAs are built on first use, fresh for every input.

use std::time::Instant;

use crate::{Encryption, Error, InboundSa, Integrity, Mode, OutboundSa, SaParams, Spi};

/// The suites the fuzz target keys an SA for (every encryption, every integrity).
pub const FUZZ_SUITES: [(Encryption, Integrity); 13] = [
    (Encryption::AesGcm128, Integrity::None),
    (Encryption::AesGcm256, Integrity::None),
    (Encryption::AesCbc128, Integrity::HmacSha1_96),
    (Encryption::AesCbc192, Integrity::HmacSha256_128),
    (Encryption::AesCbc256, Integrity::HmacSha512_256),
    (Encryption::AesCbc128, Integrity::HmacSha256_96),
    (Encryption::AesCbc256, Integrity::HmacSha384_192),
    (Encryption::TripleDesCbc, Integrity::HmacSha1_96),
    (Encryption::TripleDesCbc, Integrity::HmacMd5_96),
    (Encryption::Null, Integrity::HmacSha1_96),
    (Encryption::Null, Integrity::HmacMd5_96),
    (Encryption::Null, Integrity::HmacSha256_128),
    (Encryption::Null, Integrity::HmacSha512_256),
];

/// Variants per suite: ESN off/on × transport/tunnel.
pub const FUZZ_VARIANTS: usize = 4;

/// Number of fixed SAs.
pub const FUZZ_SA_COUNT: usize = FUZZ_SUITES.len() * FUZZ_VARIANTS;

/// SPI of fixed SA `index` (suite `index / 4`; bit 0: ESN; bit 1: tunnel mode).
#[must_use]
pub const fn fuzz_spi(index: usize) -> Spi {
    Spi(0x0001_0000 + index as u32)
}

/// The parameters of fixed SA `index` (both directions use the same keys).
#[must_use]
pub fn fuzz_params(index: usize) -> SaParams {
    let (enc, integ) = FUZZ_SUITES[index / FUZZ_VARIANTS];
    let k = index as u8;
    let mut p = SaParams::new(
        fuzz_spi(index),
        enc,
        (0..enc.key_len())
            .map(|i| (i as u8).wrapping_mul(13).wrapping_add(k))
            .collect(),
        integ,
        (0..integ.key_len())
            .map(|i| (i as u8).wrapping_mul(29) ^ k)
            .collect(),
    );
    p.esn = index & 1 != 0;
    p.mode = if index & 2 != 0 {
        Mode::Tunnel
    } else {
        Mode::Transport
    };
    p
}

/// The fixed SA a packet goes to: by its SPI, else `spi % count`.
#[must_use]
pub fn fuzz_sa_index(packet: &[u8]) -> usize {
    let spi = crate::peek_spi(packet).map_or(0, |s| s.0);
    let base = fuzz_spi(0).0;
    match spi.checked_sub(base) {
        Some(i) if (i as usize) < FUZZ_SA_COUNT => i as usize,
        _ => spi as usize % FUZZ_SA_COUNT,
    }
}

/// Splits `data` into records (module docs).
pub fn fuzz_records(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    core::iter::from_fn(move || {
        if rest.len() < 2 {
            return None;
        }
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (r, tail) = rest[2..].split_at(n);
        rest = tail;
        Some(r)
    })
}

/// Encodes packets as the records [`fuzz_open`] reads (for seeds).
#[must_use]
pub fn fuzz_encode(packets: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in packets {
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// The truncated ICV the SA code computes for `data` (known-answer tests of the HMACs,
/// RFC 2202, RFC 4231, RFC 4868).
///
/// # Panics
///
/// When the key length is wrong for `integrity`.
#[must_use]
pub fn mac_for_test(integrity: Integrity, key: &[u8], data: &[u8]) -> Vec<u8> {
    crate::crypto::Mac::new(integrity, key)
        .expect("key length")
        .compute(&[data])
        .as_slice()
        .to_vec()
}

fn now() -> Instant {
    // No lifetimes are set, so the time never matters.
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

/// `open()` on arbitrary packets with the fixed SAs. Checks: no panic; the payload lies
/// inside the packet; every call moves exactly one counter; a refused packet leaves the
/// replay window as it was (E3); an accepted packet is refused as `Replayed` the second
/// time; and the first record, sealed as a payload by the matching outbound SA, opens back
/// to itself.
///
/// # Panics
///
/// When a property fails.
pub fn fuzz_open(data: &[u8]) {
    let now = now();
    let mut sas: Vec<Option<InboundSa>> = (0..FUZZ_SA_COUNT).map(|_| None).collect();
    for (n, record) in fuzz_records(data).enumerate() {
        let i = fuzz_sa_index(record);
        let sa = sas[i].get_or_insert_with(|| {
            InboundSa::new(fuzz_params(i), now).expect("fixed fuzz SA must build")
        });
        open_one(sa, now, record);
        if n == 0 {
            round_trip(i, now, record);
        }
    }
}

fn open_one(sa: &mut InboundSa, now: Instant, record: &[u8]) {
    // Put the packet at an offset, with bytes around it that must not be touched.
    let mut buf = vec![0xee; record.len() + 7];
    buf[3..3 + record.len()].copy_from_slice(record);
    let range = 3..3 + record.len();
    let before = *sa.stats();
    let window = sa.replay_window().clone();
    let r = sa.open(now, &mut buf, range.clone());
    let after = *sa.stats();
    assert_eq!(&buf[..3], &[0xee; 3], "open wrote before the packet");
    assert_eq!(&buf[range.end..], &[0xee; 4], "open wrote after the packet");
    let moved = [
        after.packets - before.packets,
        after.replayed - before.replayed,
        after.auth_failed - before.auth_failed,
        after.malformed - before.malformed,
    ];
    assert_eq!(
        moved.iter().sum::<u64>(),
        1,
        "one counter per packet: {r:?}"
    );
    match r {
        Ok(o) => {
            assert!(o.payload.start >= range.start + 8 && o.payload.end <= range.end);
            assert_eq!(moved[0], 1);
            assert_eq!(after.bytes - before.bytes, o.payload.len() as u64);
            assert!(sa.replay_window().top() >= o.sequence);
            let mut again = record.to_vec();
            let n = again.len();
            assert_eq!(
                sa.open(now, &mut again, 0..n),
                Err(Error::Replayed),
                "accepted twice"
            );
        }
        Err(e) => {
            assert_eq!(sa.replay_window(), &window, "window moved on {e:?}");
            assert!(e.counter().is_some(), "uncounted {e:?}");
        }
    }
}

fn round_trip(i: usize, now: Instant, payload: &[u8]) {
    let mut tx = OutboundSa::new(fuzz_params(i), now).expect("fixed fuzz SA must build");
    let mut rx = InboundSa::new(fuzz_params(i), now).expect("fixed fuzz SA must build");
    let o = tx.overhead();
    let mut buf = vec![0u8; o.header + payload.len() + o.trailer_max];
    let range = o.header..o.header + payload.len();
    buf[range.clone()].copy_from_slice(payload);
    // Tunnel mode needs an IP packet: send a dummy (59), which carries anything.
    let nh = if fuzz_params(i).mode == Mode::Tunnel {
        59
    } else {
        17
    };
    let sealed = tx.seal(now, &mut buf, range, nh).expect("seal");
    assert_eq!(sealed.len(), tx.sealed_len(payload.len()));
    let opened = rx.open(now, &mut buf, sealed).expect("round trip");
    assert_eq!(&buf[opened.payload], payload);
    assert_eq!(opened.next_header, nh);
    assert_eq!(opened.sequence, 1);
}

/// Seeds for `fuzz/corpus/esp_open`: per suite and variant, valid packets out of order, a
/// duplicate, a tampered copy, a packet for an unknown SPI. Deterministic (the CBC IVs
/// derive from the keys and the sequence number).
#[must_use]
pub fn fuzz_seeds() -> Vec<(String, Vec<u8>)> {
    let now = now();
    let mut seeds = Vec::new();
    for i in 0..FUZZ_SA_COUNT {
        let p = fuzz_params(i);
        let name = format!(
            "seed-{:?}-{:?}{}{}",
            p.encryption,
            p.integrity,
            if p.esn { "-esn" } else { "" },
            if p.mode == Mode::Tunnel {
                "-tunnel"
            } else {
                ""
            }
        )
        .to_lowercase();
        let mut tx = OutboundSa::new(p, now).expect("fixed fuzz SA must build");
        if i & 1 != 0 {
            // ESN: start just below the 32-bit wrap so the seeds cross it.
            tx.set_sequence_for_test(u64::from(u32::MAX) - 2);
        }
        let mut packets = Vec::new();
        for n in 0..4u8 {
            // A small IPv4/UDP packet, valid in tunnel mode too.
            let mut inner = vec![
                0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x06, 0xa5,
                0x06, 0xa5, 0, 0, 0, 0,
            ];
            inner.extend(core::iter::repeat_n(n, 3 + 5 * usize::from(n)));
            let total = inner.len() as u16;
            inner[2..4].copy_from_slice(&total.to_be_bytes());
            let o = tx.overhead();
            let mut buf = vec![0u8; o.header + inner.len() + o.trailer_max];
            let range = o.header..o.header + inner.len();
            buf[range.clone()].copy_from_slice(&inner);
            let s = tx.seal(now, &mut buf, range, 4).expect("seal");
            packets.push(buf[s].to_vec());
        }
        let mut tampered = packets[3].clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x80;
        let mut foreign = packets[0].clone();
        foreign[..4].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        let order: [&[u8]; 8] = [
            &packets[1],
            &packets[0],
            &packets[2],
            &packets[0],
            &tampered,
            &packets[3],
            &foreign,
            &packets[3][..20],
        ];
        seeds.push((name, fuzz_encode(&order)));
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/esp_open");

    /// The committed seeds are the ones [`fuzz_seeds`] makes (rewrite them with
    /// `SRAS_WRITE_FUZZ_SEEDS=1`), and every one passes the checks.
    #[test]
    fn seeds_are_current_and_pass() {
        let seeds = fuzz_seeds();
        if std::env::var_os("SRAS_WRITE_FUZZ_SEEDS").is_some() {
            std::fs::create_dir_all(CORPUS).unwrap();
            for (name, data) in &seeds {
                std::fs::write(format!("{CORPUS}/{name}"), data).unwrap();
            }
        }
        for (name, data) in &seeds {
            let committed = std::fs::read(format!("{CORPUS}/{name}"))
                .unwrap_or_else(|_| panic!("seed {name} missing: SRAS_WRITE_FUZZ_SEEDS=1"));
            assert_eq!(
                &committed, data,
                "seed {name} stale: SRAS_WRITE_FUZZ_SEEDS=1"
            );
            fuzz_open(data);
        }
    }

    /// The seeds exercise what they are meant to: in-order and out-of-order acceptance, a
    /// replay, an authentication failure and an unknown SPI.
    #[test]
    fn seeds_cover_the_paths() {
        let now = now();
        for (name, data) in fuzz_seeds() {
            let records: Vec<_> = fuzz_records(&data).collect();
            let i = fuzz_sa_index(records[0]);
            let mut sa = InboundSa::new(fuzz_params(i), now).unwrap();
            let results: Vec<_> = records
                .iter()
                .map(|r| {
                    let mut b = r.to_vec();
                    let n = b.len();
                    sa.open(now, &mut b, 0..n).map(|o| o.sequence)
                })
                .collect();
            let base = if i & 1 != 0 {
                u64::from(u32::MAX) - 2
            } else {
                0
            };
            assert_eq!(
                results,
                [
                    Ok(base + 2),
                    Ok(base + 1),
                    Ok(base + 3),
                    Err(Error::Replayed),
                    Err(Error::AuthenticationFailed),
                    Ok(base + 4),
                    Err(Error::WrongSpi {
                        expected: fuzz_spi(i),
                        got: Spi(0xdead_beef)
                    }),
                    Err(Error::Truncated),
                ],
                "{name}"
            );
        }
    }

    fn mutated_seed() -> impl Strategy<Value = Vec<u8>> {
        let seeds = fuzz_seeds();
        (
            0..seeds.len(),
            proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        )
            .prop_map(move |(s, flips)| {
                let mut d = seeds[s].1.clone();
                for (at, x) in flips {
                    let n = d.len();
                    d[at % n] ^= x | 1;
                }
                d
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn fuzz_open_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            fuzz_open(&data);
        }

        #[test]
        fn fuzz_open_mutated_seeds(data in mutated_seed()) {
            fuzz_open(&data);
        }
    }
}
