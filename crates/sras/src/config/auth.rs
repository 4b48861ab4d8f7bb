//! The `[auth]` section: where the server's local users come from besides `[[users]]`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

/// Where `sras user add` writes and `sras server` reads, unless `auth.users_file` says otherwise.
pub(crate) const DEFAULT_USERS_FILE: &str = "/var/lib/sras/users.toml";

/// `[auth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    users_file: Option<String>,
}

/// `[auth]`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuthConfig {
    /// The users file (`sras user add|del|list`); it need not exist.
    pub(crate) users_file: PathBuf,
}

impl AuthConfig {
    pub(super) fn from_raw(r: RawAuth) -> Result<Self, ConfigError> {
        let f = r
            .users_file
            .unwrap_or_else(|| DEFAULT_USERS_FILE.to_owned());
        if !f.starts_with('/') || f.contains('\0') || f.ends_with('/') {
            return Err(invalid(
                "auth.users_file",
                format!("{f:?}"),
                "must be an absolute path to a file",
            ));
        }
        Ok(Self {
            users_file: PathBuf::from(f),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_errors() {
        let a = AuthConfig::from_raw(RawAuth::default()).unwrap();
        assert_eq!(a.users_file, PathBuf::from(DEFAULT_USERS_FILE));
        for bad in ["users.toml", "/var/lib/sras/", ""] {
            let e = AuthConfig::from_raw(RawAuth {
                users_file: Some(bad.into()),
            })
            .unwrap_err()
            .to_string();
            assert!(e.contains("auth.users_file"), "{e}");
        }
    }
}
