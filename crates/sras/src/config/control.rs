//! The `[control]` section: the server's local control socket (`sras sessions`,
//! `sras disconnect`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};
use crate::control::DEFAULT_SOCKET;

/// `[control]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawControl {
    enabled: Option<bool>,
    socket: Option<String>,
}

/// `[control]`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ControlConfig {
    /// Listen on the socket.
    pub(crate) enabled: bool,
    /// Its path.
    pub(crate) socket: PathBuf,
    /// The path was configured (a socket held by another server is then an error, not a
    /// warning).
    #[serde(skip)]
    pub(crate) explicit: bool,
}

impl ControlConfig {
    pub(super) fn from_raw(r: RawControl) -> Result<Self, ConfigError> {
        let explicit = r.socket.is_some();
        let socket = r.socket.unwrap_or_else(|| DEFAULT_SOCKET.to_owned());
        if !socket.starts_with('/') || socket.len() > 100 || socket.contains('\0') {
            return Err(invalid(
                "control.socket",
                format!("{socket:?}"),
                "must be an absolute path of at most 100 bytes (a Unix socket address)",
            ));
        }
        Ok(Self {
            enabled: r.enabled.unwrap_or(true),
            socket: PathBuf::from(socket),
            explicit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = ControlConfig::from_raw(RawControl::default()).unwrap();
        assert!(c.enabled && !c.explicit);
        assert_eq!(c.socket, PathBuf::from(DEFAULT_SOCKET));
        let c = ControlConfig::from_raw(RawControl {
            enabled: Some(false),
            socket: Some("/tmp/x.sock".into()),
        })
        .unwrap();
        assert!(!c.enabled && c.explicit);
        for bad in ["x.sock", "", &format!("/{}", "a".repeat(100))] {
            let e = ControlConfig::from_raw(RawControl {
                enabled: None,
                socket: Some(bad.into()),
            })
            .unwrap_err()
            .to_string();
            assert!(e.contains("control.socket"), "{e}");
        }
    }
}
