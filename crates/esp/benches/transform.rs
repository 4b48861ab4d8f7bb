//! ESP (and AH) seal/open of 1400-byte payloads for every suite, and, in the same run, the
//! bare aws-lc-rs calls the two headline suites reduce to (AES-128-GCM; AES-128-CBC with
//! HMAC-SHA1-96) on the same lengths, so crates/esp/README.md can state sras / bare as a
//! ratio.
//!
//! `cargo bench -p sras-esp --bench transform -- --measurement-time 3 --warm-up-time 1`
//!
//! `open` needs a fresh, never-seen packet each time (the replay window refuses a second
//! copy, and decryption is in place), so both the sras and the bare `open` benchmarks build
//! their inputs in an untimed setup (`iter_batched_ref`) and time only the open.
#![allow(missing_docs)] // criterion_group! defines an undocumented `pub fn benches`

use std::hint::black_box;
use std::time::Instant;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128,
};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sras_esp::{
    AhInboundSa, AhOutboundSa, Encryption, InboundSa, Integrity, OutboundSa, SaParams, Spi,
};

/// Payload bytes per packet.
const LEN: usize = 1400;

const SUITES: [(&str, Encryption, Integrity); 13] = [
    ("aes128gcm", Encryption::AesGcm128, Integrity::None),
    ("aes256gcm", Encryption::AesGcm256, Integrity::None),
    (
        "aes128cbc-sha1",
        Encryption::AesCbc128,
        Integrity::HmacSha1_96,
    ),
    (
        "aes128cbc-sha256",
        Encryption::AesCbc128,
        Integrity::HmacSha256_128,
    ),
    (
        "aes128cbc-sha256_96",
        Encryption::AesCbc128,
        Integrity::HmacSha256_96,
    ),
    (
        "aes192cbc-sha384",
        Encryption::AesCbc192,
        Integrity::HmacSha384_192,
    ),
    (
        "aes256cbc-sha256",
        Encryption::AesCbc256,
        Integrity::HmacSha256_128,
    ),
    (
        "aes256cbc-sha512",
        Encryption::AesCbc256,
        Integrity::HmacSha512_256,
    ),
    (
        "3des-sha1",
        Encryption::TripleDesCbc,
        Integrity::HmacSha1_96,
    ),
    ("3des-md5", Encryption::TripleDesCbc, Integrity::HmacMd5_96),
    ("null-sha1", Encryption::Null, Integrity::HmacSha1_96),
    ("null-md5", Encryption::Null, Integrity::HmacMd5_96),
    ("null-sha256", Encryption::Null, Integrity::HmacSha256_128),
];

fn key(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed))
        .collect()
}

fn params(enc: Encryption, integ: Integrity) -> SaParams {
    SaParams::new(
        Spi(0xc000_1234),
        enc,
        key(enc.key_len(), 1),
        integ,
        key(integ.key_len(), 2),
    )
}

fn esp(c: &mut Criterion) {
    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    let mut g = c.benchmark_group("esp");
    g.throughput(Throughput::Bytes(LEN as u64));
    for (name, enc, integ) in SUITES {
        let mut tx = OutboundSa::new(params(enc, integ), t).unwrap();
        let o = tx.overhead();
        let range = o.header..o.header + LEN;
        let mut buf = vec![0x5au8; o.header + LEN + o.trailer_max];
        g.bench_function(format!("seal/{name}"), |b| {
            b.iter(|| {
                let r = tx.seal(t, black_box(&mut buf), range.clone(), 17).unwrap();
                black_box(r)
            });
        });

        let mut feeder = OutboundSa::new(params(enc, integ), t).unwrap();
        let mut rx = InboundSa::new(params(enc, integ), t).unwrap();
        let template = vec![0x5au8; o.header + LEN + o.trailer_max];
        g.bench_function(format!("open/{name}"), |b| {
            b.iter_batched_ref(
                || {
                    let mut p = template.clone();
                    let r = feeder.seal(t, &mut p, range.clone(), 17).unwrap();
                    (p, r)
                },
                |(p, r)| {
                    let opened = rx.open(t, black_box(p), r.clone()).unwrap();
                    black_box(opened)
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

fn ah(c: &mut Criterion) {
    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    let mut g = c.benchmark_group("ah");
    g.throughput(Throughput::Bytes(LEN as u64));
    let p = || {
        SaParams::new(
            Spi(0xc000_4321),
            Encryption::Null,
            vec![],
            Integrity::HmacSha1_96,
            key(20, 3),
        )
    };
    let mut tx = AhOutboundSa::new(p(), t).unwrap();
    let head = tx.overhead().header;
    let mut ip = vec![0u8; head + 20 + LEN];
    ip[head..head + 20].copy_from_slice(&[
        0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    ip[head + 2..head + 4].copy_from_slice(&((20 + LEN) as u16).to_be_bytes());
    let n = ip.len();
    g.bench_function("seal/sha1", |b| {
        b.iter_batched_ref(
            || ip.clone(),
            |buf| black_box(tx.seal(t, buf, head..n).unwrap()),
            BatchSize::SmallInput,
        );
    });
    let mut feeder = AhOutboundSa::new(p(), t).unwrap();
    let mut rx = AhInboundSa::new(p(), t).unwrap();
    g.bench_function("open/sha1", |b| {
        b.iter_batched_ref(
            || {
                let mut buf = ip.clone();
                let r = feeder.seal(t, &mut buf, head..n).unwrap();
                (buf, r)
            },
            |(buf, r)| black_box(rx.open(t, buf, r.clone()).unwrap()),
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

/// The bare aws-lc-rs calls on the bytes ESP processes for a 1400-byte payload.
fn bare(c: &mut Criterion) {
    let mut g = c.benchmark_group("bare");
    g.throughput(Throughput::Bytes(LEN as u64));

    // AES-128-GCM: 1404 bytes (payload + 2-byte trailer + 2 bytes of padding), 8 bytes of
    // AAD, a 16-byte tag; a counter nonce as ESP uses.
    const GCM_CT: usize = 1404;
    let gcm = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key(16, 1)).unwrap());
    let aad = [0xc0u8, 0, 0x12, 0x34, 0, 0, 0, 1];
    let nonce = |n: u64| {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&[1, 2, 3, 4]);
        b[4..].copy_from_slice(&n.to_be_bytes());
        Nonce::assume_unique_for_key(b)
    };
    let mut buf = vec![0x5au8; GCM_CT + 16];
    let mut n = 0u64;
    g.bench_function("seal/aes128gcm", |b| {
        b.iter(|| {
            n += 1;
            let (ct, tag) = buf.split_at_mut(GCM_CT);
            let t = gcm
                .seal_in_place_separate_tag(nonce(n), Aad::from(&aad), black_box(ct))
                .unwrap();
            tag.copy_from_slice(t.as_ref());
        });
    });
    let mut n = 0u64;
    g.bench_function("open/aes128gcm", |b| {
        b.iter_batched_ref(
            || {
                n += 1;
                let mut p = vec![0x5au8; GCM_CT + 16];
                let (ct, tag) = p.split_at_mut(GCM_CT);
                let t = gcm
                    .seal_in_place_separate_tag(nonce(n), Aad::from(&aad), ct)
                    .unwrap();
                tag.copy_from_slice(t.as_ref());
                (p, n)
            },
            |(p, n)| {
                black_box(
                    gcm.open_in_place(nonce(*n), Aad::from(&aad), black_box(p))
                        .unwrap(),
                );
            },
            BatchSize::SmallInput,
        );
    });

    // AES-128-CBC + HMAC-SHA1-96: 1408 bytes of ciphertext (1400 + 2 + 6 of padding), the
    // HMAC over SPI, sequence, 16-byte IV and ciphertext (1432 bytes), a fixed IV.
    const CBC_CT: usize = 1408;
    const AUTHED: usize = 8 + 16 + CBC_CT;
    let enc = EncryptingKey::cbc(UnboundCipherKey::new(&AES_128, &key(16, 1)).unwrap()).unwrap();
    let dec = DecryptingKey::cbc(UnboundCipherKey::new(&AES_128, &key(16, 1)).unwrap()).unwrap();
    let mac = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key(20, 2));
    let iv = [7u8; 16];
    let seal_cbc = |p: &mut [u8]| {
        enc.less_safe_encrypt(
            &mut p[24..24 + CBC_CT],
            EncryptionContext::Iv128(FixedLength::from(iv)),
        )
        .unwrap();
        let mut ctx = hmac::Context::with_key(&mac);
        ctx.update(&p[..AUTHED]);
        let tag = ctx.sign();
        p[AUTHED..AUTHED + 12].copy_from_slice(&tag.as_ref()[..12]);
    };
    let mut buf = vec![0x5au8; AUTHED + 12];
    g.bench_function("seal/aes128cbc-sha1", |b| {
        b.iter(|| seal_cbc(black_box(&mut buf)));
    });
    g.bench_function("open/aes128cbc-sha1", |b| {
        b.iter_batched_ref(
            || {
                let mut p = vec![0x5au8; AUTHED + 12];
                seal_cbc(&mut p);
                p
            },
            |p| {
                let mut ctx = hmac::Context::with_key(&mac);
                ctx.update(&p[..AUTHED]);
                let tag = ctx.sign();
                verify_slices_are_equal(&tag.as_ref()[..12], &p[AUTHED..]).unwrap();
                let out = dec
                    .decrypt(
                        &mut p[24..24 + CBC_CT],
                        DecryptionContext::Iv128(FixedLength::from(iv)),
                    )
                    .unwrap();
                black_box(out);
            },
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

criterion_group!(benches, bare, esp, ah);
criterion_main!(benches);
