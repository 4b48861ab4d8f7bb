//! IKEv1 as a sans-IO library (RFC 2407, RFC 2408, RFC 2409), for L2TP/IPsec (RFC 3193).
//!
//! - [`wire`]: the ISAKMP codec (header, every IKEv1 payload, SA/proposal/transform attributes);
//! - [`crypto`]: PRFs, Diffie-Hellman (MODP with crypto-bigint, ECP with aws-lc-rs), the phase 1
//!   cipher, and the RFC 2409 key derivations;
//! - [`cert`]: X.509 certificates, chain validation and the IKEv1 RSA signature;
//! - [`fragment`]: reassembly of IKE fragments (the Cisco/Microsoft vendor extension).
#![forbid(unsafe_code)]

pub mod cert;
pub mod config;
pub mod crypto;
mod endpoint;
pub mod fragment;
#[cfg(any(test, feature = "__fuzzing"))]
mod fuzz_support;
mod info;
mod phase1;
pub mod proposal;
mod quick;
mod sa;
pub mod wire;

pub use config::{CertConfig, ChildRequest, Config, DpdConfig, PeerSelector, PskEntry};
pub use endpoint::{
    ChildSa, DownReason, Dropped, Endpoint, Event, Phase1Info, Selectors, Stats, NON_ESP_MARKER,
};
pub use proposal::{AuthMethod, Encapsulation, Phase1Suite, Phase2Suite, Profile};
pub use sa::{Role, SaId};

/// Internals for fuzz targets and robustness tests.
#[cfg(any(test, feature = "__fuzzing"))]
pub mod fuzzing {
    pub use crate::fuzz_support::HashMode;
}
