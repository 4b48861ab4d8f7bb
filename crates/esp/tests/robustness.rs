//! ROBUSTNESS case 41, the data-plane half (the DPD half is IKE's): on UDP/4500 a one-octet
//! 0xFF NAT-keepalive from a peer that otherwise went silent is recognised and dropped without
//! touching any SA (it proves nothing, RFC 3948 §2.3); payloads shorter than an ESP header, and
//! a zero SPI (the non-ESP marker) not followed by a valid ISAKMP header, are dropped.

use std::time::Instant;

use sras_esp::udp_encap::{classify, InvalidUdp4500, Udp4500};
use sras_esp::{Encryption, InboundSa, Integrity, OutboundSa, SaParams, Spi};

fn params() -> SaParams {
    SaParams::new(
        Spi(0x1000),
        Encryption::AesCbc128,
        vec![7; 16],
        Integrity::HmacSha1_96,
        vec![9; 20],
    )
}

#[test]
fn robustness_41_keepalives_and_short_packets_on_udp_4500() {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let mut inbound = InboundSa::new(params(), now).unwrap();
    let mut outbound = OutboundSa::new(params(), now).unwrap();

    // One real ESP packet, classified as ESP and opened.
    let payload = b"\x06\xa5\x06\xa5\x00\x10\x00\x00l2tp-hello";
    let oh = outbound.overhead();
    let mut buf = vec![0u8; oh.header + payload.len() + oh.trailer_max];
    buf[oh.header..oh.header + payload.len()].copy_from_slice(payload);
    let esp = outbound
        .seal(now, &mut buf, oh.header..oh.header + payload.len(), 17)
        .unwrap();
    let datagram = buf[esp].to_vec();
    let Udp4500::Esp(bytes) = classify(&datagram) else {
        panic!("ESP not recognised")
    };
    let mut copy = bytes.to_vec();
    let n = copy.len();
    inbound.open(now, &mut copy, 0..n).unwrap();
    let before = *inbound.stats();

    // Keepalives every 20 s from the otherwise silent peer: recognised, nothing else happens.
    for _ in 0..30 {
        assert_eq!(classify(&[0xff]), Udp4500::Keepalive);
    }
    assert_eq!(
        inbound.stats(),
        &before,
        "a keepalive must not touch the SA"
    );

    // Shorter than an ESP header (SPI + sequence number = 8 octets): dropped.
    assert_eq!(classify(&[]), Udp4500::Invalid(InvalidUdp4500::Empty));
    for len in 2..8 {
        assert!(
            matches!(
                classify(&vec![1u8; len]),
                Udp4500::Invalid(InvalidUdp4500::TooShort { .. })
            ),
            "len {len}"
        );
    }
    // A zero SPI is the non-ESP marker: IKE follows, and it must be a whole ISAKMP header.
    assert!(matches!(
        classify(&[0, 0, 0, 0, 1, 2, 3, 4]),
        Udp4500::Invalid(InvalidUdp4500::IkeTooShort { .. })
    ));
    let mut ike = vec![0u8; 4 + 28];
    ike[4] = 0x11;
    assert!(matches!(classify(&ike), Udp4500::Ike(h) if h.len() == 28));
    assert_eq!(inbound.stats(), &before);
}
