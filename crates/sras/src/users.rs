//! The built-in user store (`[[users]]`): who may log in over PPP, and with which password.
//! RADIUS comes later and will answer the same `AuthRequest`s.

use std::collections::HashMap;

use crate::config::User;

/// Local users by name.
#[derive(Debug)]
pub(crate) struct Users {
    by_name: HashMap<String, User>,
}

impl Users {
    /// A store of `users` (names are unique: the configuration checks it).
    pub(crate) fn new(users: Vec<User>) -> Self {
        Self {
            by_name: users.into_iter().map(|u| (u.name.clone(), u)).collect(),
        }
    }

    /// The user a peer named: exactly as sent, or else without a "DOMAIN\\" prefix (Windows
    /// sends one; MS-CHAPv2 hashes the name without it, RFC 2759 §8.2).
    pub(crate) fn lookup(&self, sent: &str) -> Option<&User> {
        self.by_name.get(sent).or_else(|| {
            let (_, bare) = sent.rsplit_once('\\')?;
            self.by_name.get(bare)
        })
    }

    /// How many users there are.
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn store() -> Users {
        Users::new(vec![
            User {
                name: "alice".into(),
                password: Secret::new("wonderland"),
            },
            User {
                name: "Bob".into(),
                password: Secret::new("builder"),
            },
        ])
    }

    #[test]
    fn exact_names_match() {
        let u = store();
        assert_eq!(u.len(), 2);
        assert_eq!(u.lookup("alice").unwrap().password.as_str(), "wonderland");
        assert_eq!(u.lookup("Bob").unwrap().password.as_str(), "builder");
    }

    #[test]
    fn domain_prefix_is_ignored() {
        let u = store();
        assert_eq!(u.lookup("CORP\\alice").unwrap().name, "alice");
        assert_eq!(u.lookup("a\\b\\Bob").unwrap().name, "Bob");
    }

    #[test]
    fn others_do_not_match() {
        let u = store();
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
            assert!(u.lookup(name).is_none(), "{name:?} matched");
        }
    }
}
