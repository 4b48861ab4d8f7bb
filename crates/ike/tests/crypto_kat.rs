//! Known-answer tests of `sras_ike::crypto` against published vectors:
//! RFC 2202 / RFC 4231 (HMAC through `prf`), FIPS 180-4 and RFC 1321 (digests), RFC 3526 /
//! RFC 2409 §6.2 (MODP primes), RFC 5903 §8 (ECP groups 19 and 20), NIST SP 800-38A F.2
//! (AES-CBC), and RFC 2409 §5 / Appendix B derivations checked against independent
//! computations.

use hmac::Mac as _;
use rand::SeedableRng;
use sras_ike::crypto::dh::modp_prime;
use sras_ike::crypto::{
    from_hex, keymat, CipherAlgorithm, CryptoError, DhGroup, HashAlgorithm, Phase1Cipher,
};

fn hex(s: &str) -> Vec<u8> {
    from_hex(s).expect("valid hex in test vector")
}

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(2409)
}

// ----------------------------------------------------------------------------------------
// HMAC (the IKEv1 prf) and digests

const LARGER_KEY_FIRST: &[u8] = b"Test Using Larger Than Block-Size Key - Hash Key First";

/// RFC 2202 §2 (HMAC-MD5) and §3 (HMAC-SHA-1): test cases 1-7.
#[test]
fn rfc2202_hmac_md5_and_sha1() {
    let cases: [(Vec<u8>, &[u8], &str, &str); 7] = [
        (
            vec![0x0b; 20],
            b"Hi There",
            "9294727a3638bb1c13f48ef8158bfc9d",
            "b617318655057264e28bc0b6fb378c8ef146be00",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?",
            "750c783e6ab0b503eaa86e310a5db738",
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        ),
        (
            vec![0xaa; 20],
            &[0xdd; 50],
            "56be34521d144c88dbb8c733f0e8b3f6",
            "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
        ),
        (
            (1..=25).collect(),
            &[0xcd; 50],
            "697eaf0aca3a3aea3a75164746ffaa79",
            "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
        ),
        (
            vec![0x0c; 20],
            b"Test With Truncation",
            "56461ef2342edc00f9bab995690efd4c",
            "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
        ),
        (
            vec![0xaa; 80],
            LARGER_KEY_FIRST,
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd",
            "aa4ae5e15272d00e95705637ce8a3b55ed402112",
        ),
        (
            vec![0xaa; 80],
            b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
            "6f630fad67cda0ee1fb1f562db3aa53e",
            "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
        ),
    ];
    for (i, (key, data, md5, sha1)) in cases.iter().enumerate() {
        // The MD5 cases 1, 3 and 5 use 16-byte keys where SHA-1 uses 20.
        let md5_key = if matches!(i, 0 | 2 | 4) {
            &key[..16]
        } else {
            &key[..]
        };
        let got = HashAlgorithm::Md5.prf(md5_key, &[data]);
        assert_eq!(got.as_ref(), hex(md5).as_slice(), "HMAC-MD5 case {}", i + 1);
        let got = HashAlgorithm::Sha1.prf(key, &[data]);
        assert_eq!(
            got.as_ref(),
            hex(sha1).as_slice(),
            "HMAC-SHA1 case {}",
            i + 1
        );
        // Split input: prf hashes the concatenation of its parts.
        let (a, b) = data.split_at(data.len() / 2);
        assert_eq!(
            HashAlgorithm::Sha1.prf(key, &[a, b]).as_ref(),
            hex(sha1).as_slice()
        );
    }
}

/// RFC 4231 §4.2-4.8: HMAC-SHA-256/384/512 test cases 1-7 (case 5 truncated to 128 bits).
#[test]
fn rfc4231_hmac_sha2() {
    let cases: [(Vec<u8>, &[u8], [&str; 3]); 7] = [
        (
            vec![0x0b; 20],
            b"Hi There",
            [
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c\
                 faea9ea9076ede7f4af152e8b2fa9cb6",
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                 daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ],
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?",
            [
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                 8e2240ca5e69e2c78b3239ecfab21649",
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ],
        ),
        (
            vec![0xaa; 20],
            &[0xdd; 50],
            [
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b\
                 2a5ab39dc13814b94e3ab6e101a34f27",
                "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39\
                 bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
            ],
        ),
        (
            (1..=25).collect(),
            &[0xcd; 50],
            [
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
                "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e\
                 6801dd23c4a7d679ccf8a386c674cffb",
                "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db\
                 a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
            ],
        ),
        (
            vec![0x0c; 20],
            b"Test With Truncation",
            [
                "a3b6167473100ee06e0c796c2955552b",
                "3abf34c3503b2a23a46efc619baef897",
                "415fad6271580a531d4179bc891d87a6",
            ],
        ),
        (
            vec![0xaa; 131],
            LARGER_KEY_FIRST,
            [
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6\
                 0c2ef6ab4030fe8296248df163f44952",
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352\
                 6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ],
        ),
        (
            vec![0xaa; 131],
            b"This is a test using a larger than block-size key and a larger than \
              block-size data. The key needs to be hashed before being used by the HMAC \
              algorithm.",
            [
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5\
                 a678cc31e799176d3860e6110c46523e",
                "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944\
                 b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
            ],
        ),
    ];
    let algs = [
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ];
    for (i, (key, data, outs)) in cases.iter().enumerate() {
        for (alg, want) in algs.iter().zip(outs) {
            let want = hex(want);
            let got = alg.prf(key, &[data]);
            assert_eq!(got.len(), alg.output_len());
            // Case 5 publishes only the leftmost 128 bits.
            assert_eq!(
                &got.as_ref()[..want.len()],
                want.as_slice(),
                "{alg:?} case {}",
                i + 1
            );
        }
    }
}

/// FIPS 180-4 examples (via the NIST "Examples with intermediate values") and RFC 1321
/// §A.5 for MD5.
#[test]
fn fips_180_and_rfc1321_digests() {
    let abc: &[u8] = b"abc";
    let two_block: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    let long: &[u8] = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn\
        hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    let cases: [(HashAlgorithm, &[u8], &str); 12] = [
        (HashAlgorithm::Md5, b"", "d41d8cd98f00b204e9800998ecf8427e"),
        (HashAlgorithm::Md5, abc, "900150983cd24fb0d6963f7d28e17f72"),
        (
            HashAlgorithm::Sha1,
            b"",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ),
        (
            HashAlgorithm::Sha1,
            abc,
            "a9993e364706816aba3e25717850c26c9cd0d89d",
        ),
        (
            HashAlgorithm::Sha1,
            two_block,
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
        ),
        (
            HashAlgorithm::Sha256,
            abc,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            HashAlgorithm::Sha256,
            two_block,
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            HashAlgorithm::Sha384,
            abc,
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            HashAlgorithm::Sha384,
            long,
            "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712\
             fcc7c71a557e2db966c3e9fa91746039",
        ),
        (
            HashAlgorithm::Sha512,
            abc,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        (
            HashAlgorithm::Sha512,
            long,
            "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018\
             501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
        ),
        (
            HashAlgorithm::Sha512,
            b"",
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
             47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
        ),
    ];
    for (alg, msg, want) in cases {
        assert_eq!(alg.hash(&[msg]).as_ref(), hex(want).as_slice(), "{alg:?}");
        let (a, b) = msg.split_at(msg.len() / 3);
        assert_eq!(alg.hash(&[a, b]).as_ref(), hex(want).as_slice(), "{alg:?}");
    }
}

// ----------------------------------------------------------------------------------------
// MODP groups

/// Each prime as in the RFC text: length, the fixed 64-bit all-ones ends, the first bits
/// of pi after them (`C90FDAA2 2168C234`), the last eight bytes before the low ones as
/// printed in the RFC, and the SHA-256 of the whole prime, computed once (with Python)
/// from the defining formula `2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k)` (RFC 2409
/// §6.2, RFC 3526 §2-5) — a derivation independent of the hex text.
#[test]
fn modp_primes_match_the_rfcs() {
    let cases = [
        (
            DhGroup::Modp1024,
            128,
            "49286651 ECE65381",
            "3f35a3f5f6c4376a744acad409bb22f8d897f949d2311d885adaa890981b67a0",
        ),
        (
            DhGroup::Modp1536,
            192,
            "F1746C08 CA237327",
            "64fcc83ec403930bf18393dbc883ccaa1fbb08ac876f77f7aa99748ca945019b",
        ),
        (
            DhGroup::Modp2048,
            256,
            "15728E5A 8AACAA68",
            "d66436f79bbd6b2e38c0ffbd079be904d2641415e2e67140e09448be9a60890e",
        ),
        (
            DhGroup::Modp3072,
            384,
            "4B82D120 A93AD2CA",
            "48cf8b092fbce4359d9871abf74f98e25b6163379eaa15cd9087e800c6d1c55c",
        ),
        (
            DhGroup::Modp4096,
            512,
            "4DF435C9 34063199",
            "4ee95187682bcb230ad26a95205f6920e84708f6251b3894329b09ec23919e33",
        ),
    ];
    for (group, len, tail, sha256) in cases {
        let p = modp_prime(group).unwrap();
        assert_eq!(p.len(), len, "{group:?}");
        assert_eq!(group.public_len(), len);
        assert_eq!(&p[..8], &[0xff; 8], "{group:?}: top 64 bits");
        assert_eq!(&p[len - 8..], &[0xff; 8], "{group:?}: bottom 64 bits");
        assert_eq!(&p[8..16], hex("C90FDAA2 2168C234").as_slice(), "{group:?}");
        assert_eq!(&p[len - 16..len - 8], hex(tail).as_slice(), "{group:?}");
        assert_eq!(
            HashAlgorithm::Sha256.hash(&[&p]).as_ref(),
            hex(sha256).as_slice(),
            "{group:?}"
        );
    }
    assert!(modp_prime(DhGroup::Ecp256).is_none());
}

#[test]
fn dh_agreement_every_group() {
    let mut rng = rng();
    for &group in DhGroup::ALL {
        let i = group.generate(&mut rng).unwrap();
        let r = group.generate(&mut rng).unwrap();
        assert_eq!(i.public_value().len(), group.public_len());
        let gir = i.agree(r.public_value()).unwrap();
        let gri = r.agree(i.public_value()).unwrap();
        assert_eq!(gir.as_ref(), gri.as_ref(), "{group:?}");
        assert_eq!(gir.as_ref().len(), group.shared_len());
    }
}

#[test]
fn modp_invalid_peer_values_refused() {
    let mut rng = rng();
    for &group in &DhGroup::ALL[..5] {
        let k = group.generate(&mut rng).unwrap();
        let len = group.public_len();
        let p = modp_prime(group).unwrap();
        let mut p_minus_1 = p.clone();
        p_minus_1[len - 1] = 0xfe;
        let mut one = vec![0; len];
        one[len - 1] = 1;
        for bad in [
            vec![0; len],
            one,
            p_minus_1,
            p.clone(),
            vec![0xff; len],
            p[..len - 1].to_vec(),
            vec![],
        ] {
            assert_eq!(
                k.agree(&bad).unwrap_err(),
                CryptoError::InvalidPublicValue,
                "{group:?}"
            );
        }
    }
}

// ----------------------------------------------------------------------------------------
// ECP groups: RFC 5903 §8

struct EcpVector {
    group: DhGroup,
    i: &'static str,
    gix: &'static str,
    giy: &'static str,
    r: &'static str,
    grx: &'static str,
    gry: &'static str,
    girx: &'static str,
}

const RFC5903_8_1: EcpVector = EcpVector {
    group: DhGroup::Ecp256,
    i: "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
    gix: "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180",
    giy: "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
    r: "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
    grx: "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63",
    gry: "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
    girx: "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE",
};

const RFC5903_8_2: EcpVector = EcpVector {
    group: DhGroup::Ecp384,
    i: "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655 \
        E35B5380 41E649EE 3FAEF896 783AB194",
    gix: "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6 \
          DE3AC808 ACB4BDB4 C88732AE E95F41AA",
    giy: "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E \
          EB9FCFF3 C2C947DA E69B4C63 4573A81C",
    r: "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942 \
        E0308312 916B8ED2 960E4BD5 5A7448FC",
    grx: "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D \
          0D1AC43A 0336DEF9 6FDA41D0 774A3571",
    gry: "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF \
          F83FA401 42209DFF 5EAAD96D B9E6386C",
    girx: "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4 \
           D6031355 69B9E9D0 9CF5D4A2 70F59746",
};

fn check_ecp(v: &EcpVector) {
    let i = v.group.private_from_bytes(&hex(v.i)).unwrap();
    let r = v.group.private_from_bytes(&hex(v.r)).unwrap();
    let gi = [hex(v.gix), hex(v.giy)].concat();
    let gr = [hex(v.grx), hex(v.gry)].concat();
    // RFC 5903 §7: the public value is x | y, no point-format octet.
    assert_eq!(i.public_value(), gi.as_slice(), "{:?} g^i", v.group);
    assert_eq!(r.public_value(), gr.as_slice(), "{:?} g^r", v.group);
    // The shared secret is the x coordinate alone.
    assert_eq!(
        i.agree(&gr).unwrap().as_ref(),
        hex(v.girx).as_slice(),
        "{:?} g^ir",
        v.group
    );
    assert_eq!(r.agree(&gi).unwrap().as_ref(), hex(v.girx).as_slice());
    // Off-curve: the RFC's point with y changed.
    let mut off = gr.clone();
    let last = off.len() - 1;
    off[last] ^= 0x01;
    assert_eq!(i.agree(&off).unwrap_err(), CryptoError::InvalidPublicValue);
    // The SEC 1 encoding (with 0x04) is not the IKE encoding.
    let tagged = [&[0x04], gr.as_slice()].concat();
    assert_eq!(
        i.agree(&tagged).unwrap_err(),
        CryptoError::InvalidPublicValue
    );
    assert_eq!(
        i.agree(&gr[..gr.len() - 1]).unwrap_err(),
        CryptoError::InvalidPublicValue
    );
    assert_eq!(
        i.agree(&vec![0; gr.len()]).unwrap_err(),
        CryptoError::InvalidPublicValue
    );
}

#[test]
fn rfc5903_ecp256() {
    check_ecp(&RFC5903_8_1);
}

#[test]
fn rfc5903_ecp384() {
    check_ecp(&RFC5903_8_2);
}

// ----------------------------------------------------------------------------------------
// Phase 1 cipher

const SP800_38A_IV: &str = "000102030405060708090a0b0c0d0e0f";
const SP800_38A_PLAIN: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 \
     30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";

fn check_cbc(alg: CipherAlgorithm, key: &str, iv: &str, plain: &str, cipher: &str) {
    let c = Phase1Cipher::new(alg, &hex(key)).unwrap();
    assert_eq!(c.algorithm(), alg);
    let (iv, plain, cipher) = (hex(iv), hex(plain), hex(cipher));
    let mut buf = plain.clone();
    c.encrypt(&iv, &mut buf).unwrap();
    assert_eq!(buf, cipher, "{alg:?} encrypt");
    c.decrypt(&iv, &mut buf).unwrap();
    assert_eq!(buf, plain, "{alg:?} decrypt");
    // IKE chains IVs across messages (RFC 2409 Appendix B): block by block with the
    // previous ciphertext block as IV gives the same result.
    let bl = c.block_len();
    let mut iv_n = iv.clone();
    let mut out = Vec::new();
    for block in plain.chunks(bl) {
        let mut b = block.to_vec();
        c.encrypt(&iv_n, &mut b).unwrap();
        iv_n = b.clone();
        out.extend_from_slice(&b);
    }
    assert_eq!(out, cipher, "{alg:?} chained");
}

/// NIST SP 800-38A F.2.1/F.2.2 (CBC-AES128), F.2.3/F.2.4 (CBC-AES192), F.2.5/F.2.6
/// (CBC-AES256).
#[test]
fn sp800_38a_aes_cbc() {
    check_cbc(
        CipherAlgorithm::AesCbc128,
        "2b7e151628aed2a6abf7158809cf4f3c",
        SP800_38A_IV,
        SP800_38A_PLAIN,
        "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2 \
         73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
    );
    check_cbc(
        CipherAlgorithm::AesCbc192,
        "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
        SP800_38A_IV,
        SP800_38A_PLAIN,
        "4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a \
         571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd",
    );
    check_cbc(
        CipherAlgorithm::AesCbc256,
        "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        SP800_38A_IV,
        SP800_38A_PLAIN,
        "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d \
         39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
    );
}

/// 3DES-EDE-CBC with the three-key bundle of NIST SP 800-67 (`0123456789ABCDEF`,
/// `23456789ABCDEF01`, `456789ABCDEF0123`) over the SP 800-38A plaintext; the ciphertext
/// was computed with OpenSSL 3.0 (`openssl enc -des-ede3-cbc -nopad`), an independent
/// implementation.
#[test]
fn triple_des_cbc() {
    check_cbc(
        CipherAlgorithm::TripleDesCbc,
        "0123456789abcdef 23456789abcdef01 456789abcdef0123",
        "1234567890abcdef",
        SP800_38A_PLAIN,
        "9d50047a85efb2057a51e45711dae03948cd3b077c4b56a5b30d38701104bbdb \
         9000f41c5092c88618b82c0823a7b54a8fb602f7049441c1859872d5dc10b234",
    );
}

#[test]
fn cipher_lengths() {
    for &alg in CipherAlgorithm::ALL {
        let key: Vec<u8> = (0..alg.key_len() as u8).collect();
        let c = Phase1Cipher::new(alg, &key).unwrap();
        let bl = alg.block_len();
        assert_eq!(
            Phase1Cipher::new(alg, &key[1..]).unwrap_err(),
            CryptoError::InvalidKeyLength
        );
        let mut buf = vec![0u8; 3 * bl - 1];
        assert_eq!(
            c.encrypt(&vec![0; bl], &mut buf).unwrap_err(),
            CryptoError::InvalidLength
        );
        assert_eq!(
            c.decrypt(&vec![0; bl], &mut buf).unwrap_err(),
            CryptoError::InvalidLength
        );
        let mut buf = vec![0u8; 3 * bl];
        assert_eq!(
            c.decrypt(&vec![0; bl + 1], &mut buf).unwrap_err(),
            CryptoError::InvalidLength
        );
    }
}

// ----------------------------------------------------------------------------------------
// RFC 2409 §5 and Appendix B

/// HMAC-SHA1 straight from its definition (RFC 2104 §2) over aws-lc-rs' plain SHA-1, so
/// that the expansion below is checked against an HMAC that is not the one under test.
fn hmac_sha1_by_definition(key: &[u8], msg: &[&[u8]]) -> Vec<u8> {
    use aws_lc_rs::digest::{digest, Context, SHA1_FOR_LEGACY_USE_ONLY as SHA1};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..20].copy_from_slice(digest(&SHA1, key).as_ref());
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Context::new(&SHA1);
    inner.update(&k.map(|b| b ^ 0x36));
    for m in msg {
        inner.update(m);
    }
    let inner = inner.finish();
    let mut outer = Context::new(&SHA1);
    outer.update(&k.map(|b| b ^ 0x5c));
    outer.update(inner.as_ref());
    outer.finish().as_ref().to_vec()
}

fn hmac_md5(key: &[u8], msg: &[&[u8]]) -> Vec<u8> {
    let mut mac = <hmac::Hmac<md5::Md5> as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
    for m in msg {
        mac.update(m);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Appendix B: SKEYID_e of SHA-1 is 20 bytes, AES-256 needs 32: Ka = (K1 | K2)[..32] with
/// K1 = prf(SKEYID_e, 0), K2 = prf(SKEYID_e, K1).
#[test]
fn appendix_b_expansion_sha1_aes256() {
    let skeyid_e = hex("b61e0e5844236bb257e1e137218a0df8c2436a51");
    let k1 = hmac_sha1_by_definition(&skeyid_e, &[&[0]]);
    let k2 = hmac_sha1_by_definition(&skeyid_e, &[&k1]);
    let want = [k1, k2].concat();
    let ka = keymat::expand_ka(HashAlgorithm::Sha1, &skeyid_e, 32);
    assert_eq!(ka.as_slice(), &want[..32]);
    // The same value from Python's hmac module (a third implementation).
    assert_eq!(
        ka.as_slice(),
        hex("3cdcca5f1d50cb13c9a0a6cc2e85a2e1b9d6e4ba7690147c6357c0535d26612c").as_slice()
    );
    // 3DES (24 bytes) also needs K2; AES-128 (16) truncates SKEYID_e.
    assert_eq!(
        keymat::expand_ka(HashAlgorithm::Sha1, &skeyid_e, 24).as_slice(),
        &want[..24]
    );
    assert_eq!(
        keymat::expand_ka(HashAlgorithm::Sha1, &skeyid_e, 16).as_slice(),
        &skeyid_e[..16]
    );
}

/// Appendix B with HMAC-MD5 (RustCrypto `hmac`): 16-byte SKEYID_e, 3DES needs 24 bytes
/// and AES-256 32.
#[test]
fn appendix_b_expansion_md5() {
    let skeyid_e: Vec<u8> = (0x30..0x40).collect();
    let k1 = hmac_md5(&skeyid_e, &[&[0]]);
    let k2 = hmac_md5(&skeyid_e, &[&k1]);
    let want = [k1, k2].concat();
    assert_eq!(
        keymat::expand_ka(HashAlgorithm::Md5, &skeyid_e, 24).as_slice(),
        &want[..24]
    );
    assert_eq!(
        keymat::expand_ka(HashAlgorithm::Md5, &skeyid_e, 32).as_slice(),
        &want[..]
    );
    assert_eq!(
        keymat::expand_ka(HashAlgorithm::Md5, &skeyid_e, 16).as_slice(),
        &skeyid_e[..]
    );
}

/// A whole phase 1 + Quick Mode derivation (PSK, SHA-1, AES-256) with fixed inputs; the
/// expected values were computed with Python's `hmac`/`hashlib` straight from the RFC 2409
/// §5, §5.5 and Appendix B formulas.
#[test]
fn rfc2409_derivation_sha1_aes256() {
    let prf = HashAlgorithm::Sha1;
    let psk = b"sras kat psk";
    let ni: Vec<u8> = (0x00..0x10).collect();
    let nr: Vec<u8> = (0x40..0x60).collect();
    let gxy: Vec<u8> = (0..128u32).map(|i| ((i * 7 + 3) & 0xff) as u8).collect();
    let gxi: Vec<u8> = (0..128u32).map(|i| ((i * 5 + 1) & 0xff) as u8).collect();
    let gxr: Vec<u8> = (0..128u32).map(|i| ((i * 11 + 9) & 0xff) as u8).collect();
    let cky_i: [u8; 8] = hex("0102030405060708").try_into().unwrap();
    let cky_r: [u8; 8] = hex("a1a2a3a4a5a6a7a8").try_into().unwrap();
    let sai_b = hex("00000001000000010000002c01010001");
    let idii_b = hex("01000000c0000203");
    let idir_b = hex("01000000c0000201");

    let skeyid = keymat::skeyid_psk(prf, psk, &ni, &nr);
    assert_eq!(
        skeyid.as_ref(),
        hex("1626fcdd26e22c085297095d11a31c558001cbc2").as_slice()
    );
    assert_eq!(
        keymat::skeyid_sig(prf, &ni, &nr, &gxy).as_ref(),
        hex("832586f1e23cc90d60183069bb8ba93d6579c45c").as_slice()
    );
    let keys = keymat::derive_phase1(
        prf,
        skeyid,
        &gxy,
        &cky_i,
        &cky_r,
        CipherAlgorithm::AesCbc256,
        CipherAlgorithm::AesCbc256.key_len(),
        &gxi,
        &gxr,
    );
    let check = |name: &str, got: &[u8], want: &str| {
        assert_eq!(got, hex(want).as_slice(), "{name}");
    };
    check(
        "SKEYID_d",
        keys.skeyid_d.as_ref(),
        "7730158c0f2de54c3fde03bc450346eee660323c",
    );
    check(
        "SKEYID_a",
        keys.skeyid_a.as_ref(),
        "62d0070117dc1a634023f816572c2ca2786038dd",
    );
    check(
        "SKEYID_e",
        keys.skeyid_e.as_ref(),
        "b61e0e5844236bb257e1e137218a0df8c2436a51",
    );
    check(
        "Ka",
        &keys.ka,
        "3cdcca5f1d50cb13c9a0a6cc2e85a2e1b9d6e4ba7690147c6357c0535d26612c",
    );
    check("IV", &keys.iv, "d118e046b45a29556c9b42bff2eca143");
    let sk = keys.skeyid.as_ref();
    check(
        "HASH_I",
        keymat::hash_i(prf, sk, &gxi, &gxr, &cky_i, &cky_r, &sai_b, &idii_b).as_ref(),
        "51def50d25f5c499732718490a8f119206e8dbca",
    );
    check(
        "HASH_R",
        keymat::hash_r(prf, sk, &gxi, &gxr, &cky_i, &cky_r, &sai_b, &idir_b).as_ref(),
        "06ce3364230f4709a9099cb2271b405a9f3fd449",
    );
    let last_block: Vec<u8> = (0xf0..=0xff).collect();
    check(
        "Quick Mode IV",
        &keymat::message_iv(prf, &last_block, 0xdead_beef, 16),
        "ec8f5749012b49d7f430328c693e8faf",
    );
    let spi = [0xc0, 0xff, 0xee, 0x01];
    let qni = b"qm-nonce-iqm-nonce-i";
    let qnr = b"qm-nonce-rqm-nonce-r";
    // ESP AES-128 + HMAC-SHA1: 16 + 20 bytes, K1 | K2 truncated.
    check(
        "KEYMAT",
        &keymat::keymat(prf, keys.skeyid_d.as_ref(), None, 3, spi, qni, qnr, 36),
        "3e09c431df61e13b33d6659fd7b823d72c374e1edded2c40d65caf7403e8d21b3c991264",
    );
    // With PFS (g(qm)^xy = the first 64 bytes of gxr here): K1..K4 truncated to 72.
    check(
        "KEYMAT with PFS",
        &keymat::keymat(
            prf,
            keys.skeyid_d.as_ref(),
            Some(&gxr[..64]),
            3,
            spi,
            qni,
            qnr,
            72,
        ),
        "15246504ee30ec3dc8735abd9d2b4571f4a3c8a5a926eb4d61a689b7329612335e8ca2bd\
         4881716f8ddb799a630dd3f7fc17bcc90997134f5f03834d7ed8c37832dee72c36a91357",
    );
}
