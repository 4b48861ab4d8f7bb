//! The built-in user store: the `[[users]]` of the configuration and the users file
//! (`auth.users_file`, written by `sras user add|del`), who may log in over PPP and with which
//! password. RADIUS comes later and will answer the same `AuthRequest`s.
//!
//! Passwords are kept in clear, as pppd's chap-secrets keeps them: CHAP-MD5 needs the password
//! itself, MS-CHAPv1/v2 the NT hash of it, PAP either. So the file is protected instead: the
//! server refuses one that is a symlink or that anyone but its owner may read or write. It is
//! re-read when it changes (checked at most once a second, when someone logs in), so `sras
//! user add` and `del` take effect without a restart; a changed file that is unreadable or
//! invalid keeps the users it had, with one warning per change.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tracing::{info, warn};

use crate::config::{parse_users_file, Secret, User, TEST_PASSWORD, TEST_USER};

/// How often, at most, the users file is checked for changes.
const RECHECK: Duration = Duration::from_secs(1);

/// What identifies a version of the file: modification time, length, inode.
type Stamp = (SystemTime, u64, u64);

/// Local users by name.
#[derive(Debug)]
pub(crate) struct Users {
    /// `[[users]]` of the configuration: they win over the file's.
    config: HashMap<String, User>,
    /// The users file's, as last read.
    file: HashMap<String, User>,
    /// The users file, if one is configured (it may not exist yet).
    path: Option<PathBuf>,
    /// The version of the file last looked at.
    stamp: Option<Stamp>,
    /// When the file was last looked at.
    checked: Option<Instant>,
    /// The built-in test user, active while there is no other user.
    builtin: User,
}

/// Reads and checks a users file; `Ok(None)` when it does not exist.
pub(crate) fn load_file(path: &Path) -> Result<Option<(Vec<User>, Stamp)>, String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    check_file(path, &meta)?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = zeroize::Zeroizing::new(text);
    let users = parse_users_file(&text, &path.display().to_string()).map_err(|e| e.to_string())?;
    Ok(Some((users, stamp(&meta))))
}

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    (
        meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        meta.len(),
        meta.ino(),
    )
}

/// A users file must be a regular file (not a symlink) that only its owner may read or write.
pub(crate) fn check_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{} (auth.users_file) is a symbolic link: refused (it holds passwords); point auth.users_file at the file itself",
            path.display()
        ));
    }
    if !meta.is_file() {
        return Err(format!(
            "{} (auth.users_file) is not a regular file",
            path.display()
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} (auth.users_file) has mode {mode:04o}: it holds passwords, so group and others must have no access; run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

impl Users {
    /// A store of the configuration's `users` (names are unique: the configuration checks it)
    /// and the users file at `path`, read now; an unreadable or invalid file is an error.
    pub(crate) fn new(users: Vec<User>, path: Option<&Path>) -> Result<Self, String> {
        let mut s = Self {
            config: users.into_iter().map(|u| (u.name.clone(), u)).collect(),
            file: HashMap::new(),
            path: path.map(Path::to_path_buf),
            stamp: None,
            checked: None,
            builtin: User {
                name: TEST_USER.to_owned(),
                password: Secret::new(TEST_PASSWORD),
            },
        };
        if let Some(p) = path {
            if let Some((users, stamp)) = load_file(p)? {
                s.set_file(users, stamp);
            }
        }
        Ok(s)
    }

    fn set_file(&mut self, users: Vec<User>, stamp: Stamp) {
        for u in &users {
            if self.config.contains_key(&u.name) {
                warn!(user = %u.name, "user in both [[users]] and the users file: the configuration's entry is used");
            }
        }
        self.file = users.into_iter().map(|u| (u.name.clone(), u)).collect();
        self.stamp = Some(stamp);
    }

    /// Re-reads the users file if it changed (at most once per [`RECHECK`]).
    fn refresh(&mut self, now: Instant) {
        let Some(path) = self.path.clone() else {
            return;
        };
        if self
            .checked
            .is_some_and(|t| now.saturating_duration_since(t) < RECHECK)
        {
            return;
        }
        self.checked = Some(now);
        let current = std::fs::symlink_metadata(&path).ok().map(|m| stamp(&m));
        if current == self.stamp {
            return;
        }
        match load_file(&path) {
            Ok(Some((users, stamp))) => {
                info!(file = %path.display(), users = users.len(), "users file re-read");
                self.set_file(users, stamp);
            }
            Ok(None) => {
                if !self.file.is_empty() {
                    info!(file = %path.display(), "users file removed: its users can no longer log in");
                }
                self.file.clear();
                self.stamp = None;
            }
            Err(e) => {
                // Keep the users we had; warn once for this version of the file.
                warn!("{e}; keeping the {} users read before", self.file.len());
                self.stamp = current;
            }
        }
    }

    /// The user a peer named: exactly as sent, or else without a "DOMAIN\\" prefix (Windows
    /// sends one; MS-CHAPv2 hashes the name without it, RFC 2759 §8.2). The configuration's
    /// users first, then the file's; the built-in test user only while there is no other.
    pub(crate) fn lookup(&mut self, now: Instant, sent: &str) -> Option<&User> {
        self.refresh(now);
        let bare = sent.rsplit_once('\\').map(|(_, b)| b);
        let find = |m: &HashMap<String, User>| -> Option<String> {
            [Some(sent), bare]
                .into_iter()
                .flatten()
                .find(|n| m.contains_key(*n))
                .map(str::to_owned)
        };
        if let Some(n) = find(&self.config) {
            return self.config.get(&n);
        }
        if let Some(n) = find(&self.file) {
            return self.file.get(&n);
        }
        if self.is_builtin() && (sent == TEST_USER || bare == Some(TEST_USER)) {
            return Some(&self.builtin);
        }
        None
    }

    /// Whether only the built-in test user can log in (no `[[users]]`, no user in the file).
    pub(crate) fn is_builtin(&self) -> bool {
        self.config.is_empty() && self.file.is_empty()
    }

    /// How many users there are (the built-in one included while it is active).
    pub(crate) fn len(&self) -> usize {
        if self.is_builtin() {
            1
        } else {
            let shadowed = self
                .file
                .keys()
                .filter(|n| self.config.contains_key(*n))
                .count();
            self.config.len() + self.file.len() - shadowed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn user(name: &str, password: &str) -> User {
        User {
            name: name.into(),
            password: Secret::new(password),
        }
    }

    fn store() -> Users {
        Users::new(
            vec![user("alice", "wonderland"), user("Bob", "builder")],
            None,
        )
        .unwrap()
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sras-users-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("users.toml")
    }

    fn write(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn exact_names_match() {
        let mut u = store();
        let now = crate::driver::now();
        assert_eq!(u.len(), 2);
        assert_eq!(
            u.lookup(now, "alice").unwrap().password.as_str(),
            "wonderland"
        );
        assert_eq!(u.lookup(now, "Bob").unwrap().password.as_str(), "builder");
        assert!(
            u.lookup(now, TEST_USER).is_none(),
            "the test user is off once there are users"
        );
    }

    #[test]
    fn domain_prefix_is_ignored() {
        let mut u = store();
        let now = crate::driver::now();
        assert_eq!(u.lookup(now, "CORP\\alice").unwrap().name, "alice");
        assert_eq!(u.lookup(now, "a\\b\\Bob").unwrap().name, "Bob");
    }

    #[test]
    fn others_do_not_match() {
        let mut u = store();
        let now = crate::driver::now();
        for name in [
            "",
            "bob",
            "ALICE",
            "alice ",
            "alice\\",
            "CORP\\",
            "\\",
            "alice@corp",
        ] {
            assert!(u.lookup(now, name).is_none(), "{name:?} matched");
        }
    }

    #[test]
    fn the_file_is_read_and_reread_when_it_changes() {
        let path = tmp("reread");
        let mut u = Users::new(vec![], Some(&path)).unwrap();
        let t0 = crate::driver::now();
        // No file yet: the built-in test user.
        assert!(u.is_builtin() && u.lookup(t0, TEST_USER).is_some());
        write(
            &path,
            "[[users]]\nname = \"carol\"\npassword = \"c-pass\"\n",
            0o600,
        );
        // Checked at most once a second.
        assert!(u.lookup(t0, "carol").is_none());
        let t1 = t0 + RECHECK;
        assert_eq!(u.lookup(t1, "carol").unwrap().password.as_str(), "c-pass");
        assert!(u.lookup(t1, TEST_USER).is_none());
        // A broken version keeps the users read before.
        write(&path, "[[users]]\nname = \"carol\"\n", 0o600);
        let t2 = t1 + RECHECK;
        assert_eq!(u.lookup(t2, "carol").unwrap().password.as_str(), "c-pass");
        // So does a file others may read.
        write(
            &path,
            "[[users]]\nname = \"dave\"\npassword = \"d-pass\"\n",
            0o644,
        );
        let t3 = t2 + RECHECK;
        assert!(u.lookup(t3, "dave").is_none());
        assert!(u.lookup(t3, "carol").is_some());
        // Fixed: read.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            &path,
            "[[users]]\nname = \"dave\"\npassword = \"d-pass2\"\n",
        )
        .unwrap();
        let t4 = t3 + RECHECK;
        assert_eq!(u.lookup(t4, "dave").unwrap().password.as_str(), "d-pass2");
        assert!(u.lookup(t4, "carol").is_none());
        // Removed: back to the built-in user.
        std::fs::remove_file(&path).unwrap();
        let t5 = t4 + RECHECK;
        assert!(u.lookup(t5, "dave").is_none());
        assert!(u.is_builtin());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn config_users_win_and_unsafe_files_are_refused_at_start() {
        let path = tmp("start");
        write(&path, "[[users]]\nname = \"alice\"\npassword = \"from-file\"\n[[users]]\nname = \"erin\"\npassword = \"e-pass\"\n", 0o600);
        let mut u = Users::new(vec![user("alice", "from-config")], Some(&path)).unwrap();
        let now = crate::driver::now();
        assert_eq!(
            u.lookup(now, "alice").unwrap().password.as_str(),
            "from-config"
        );
        assert_eq!(u.lookup(now, "erin").unwrap().password.as_str(), "e-pass");
        assert_eq!(u.len(), 2);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = Users::new(vec![], Some(&path)).unwrap_err();
        assert!(e.contains("0640") && e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = path.with_file_name("link.toml");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let e = Users::new(vec![], Some(&link)).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        write(
            &path,
            "[[users]]\nname = \"a\\\\b\"\npassword = \"x\"\n",
            0o600,
        );
        let e = Users::new(vec![], Some(&path)).unwrap_err();
        assert!(
            e.contains("users.toml") && e.contains("users[0].name"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
