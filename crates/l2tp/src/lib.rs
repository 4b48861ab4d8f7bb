//! L2TP version 2 (RFC 2661) as a deterministic, I/O-free library.
//!
//! `sras-l2tp` contains no sockets, no clock and no threads: the caller passes `now`, feeds
//! datagrams in and drains what to send, what happened and when to call again
//! (DESIGN.md, quinn-proto's contract):
//!
//! ```text
//! endpoint.handle_datagram(now, remote, &datagram)  // control: state machines; data: a borrowed PPP frame
//! endpoint.handle_timeout(now)                       // retransmit, Hello, retention
//! endpoint.connect(now, lns) / open_session / close_session / close_tunnel
//! while let Some(t) = endpoint.poll_transmit() { .. } // datagrams to send
//! while let Some(e) = endpoint.poll_event() { .. }    // TunnelEstablished, SessionEstablished, ..
//! endpoint.poll_timeout()                             // next deadline
//! endpoint.encapsulate(session, buf, payload)         // data path: in-place, no allocation
//! ```
//!
//! Layers: [`wire`] (header, AVPs, hidden AVPs, control messages), [`reliable`] (the §5.8
//! control channel), [`endpoint`] (tunnel and session state machines of §7, demultiplexing,
//! the data path).
#![forbid(unsafe_code)]

pub mod endpoint;
pub mod reliable;
mod slab;
pub mod wire;

pub use endpoint::{
    CallDirection, CloseReason, Config, DataTransmit, Endpoint, Error, Event, Received,
    SessionHandle, SessionInfo, Stats, TunnelHandle, DATA_HEADER_MAX,
};
pub use wire::{SessionId, TunnelId};

#[cfg(feature = "__fuzzing")]
/// Internals for the fuzz targets only.
pub mod fuzzing {
    pub use crate::fuzz_lns::*;
    pub use crate::wire::*;
}

#[cfg(any(test, feature = "__fuzzing"))]
mod fuzz_lns;
