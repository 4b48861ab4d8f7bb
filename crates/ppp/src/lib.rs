//! PPP (RFC 1661) as a deterministic, I/O-free library, for the PPP that rides in each L2TP
//! session: in the server it authenticates the remote user and hands out an address; in the
//! client it logs in and brings the link up.
//!
//! No sockets, no clock, no threads: the caller passes `now`, feeds PPP frames in, and drains
//! frames to send, events and the next deadline (DESIGN.md).
//!
//! Layers: [`wire`] (frames, control packets, options, PAP/CHAP/EAP packets), [`fsm`] (the
//! RFC 1661 option-negotiation automaton, generic over a [`fsm::Protocol`]), [`auth`]
//! (PAP, CHAP-MD5, MS-CHAPv1/v2, EAP, MPPE keys).
#![forbid(unsafe_code)]

pub mod auth;
pub mod fsm;
pub mod wire;

#[cfg(any(test, feature = "__fuzzing"))]
mod fuzz_link;
#[cfg(feature = "__fuzzing")]
/// Internals for the fuzz targets only.
pub mod fuzzing {
    pub use crate::fuzz_link::*;
    pub use crate::wire::*;
}

mod ipcp;
mod lcp;
pub mod link;

pub use auth::{Accept, AuthMethod, AuthRequest, Credentials, Verdict};
pub use link::{
    DownReason, EncryptionPolicy, Event, Link, LinkConfig, LinkInfo, Phase, Received, Role,
    PPP_HEADER_LEN,
};
