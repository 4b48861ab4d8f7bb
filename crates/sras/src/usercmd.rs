//! `sras user add|del|list`: edits the users file (`auth.users_file`) the server reads
//! ([`crate::users`]). The file is written whole to a temporary file beside it (mode 0600,
//! flushed to disk) and renamed over the old one, so the server never reads half a file; its
//! directory is created 0700 if missing.

use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::config::{check_password_text, User};
use crate::users::load_file;

/// The file as written.
#[derive(Serialize)]
struct FileOut<'a> {
    users: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    password: &'a str,
}

/// The users in `path` (none if it does not exist), checked as the server checks them.
fn read(path: &Path) -> Result<Vec<User>, String> {
    Ok(load_file(path)?.map(|(u, _)| u).unwrap_or_default())
}

/// Writes `users` to `path` atomically, mode 0600.
fn write(path: &Path, users: &[User]) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let out = FileOut {
        users: users
            .iter()
            .map(|u| Entry {
                name: &u.name,
                password: u.password.as_str(),
            })
            .collect(),
    };
    let text = Zeroizing::new(format!(
        "# sras users file (sras user add|del|list): name and password of each user who may log in.\n# Passwords are in clear (CHAP needs them): keep this file mode 0600.\n{}",
        toml::to_string(&out).map_err(|e| e.to_string())?
    ));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("users"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    Ok(())
}

/// Reads the new user's password: from standard input (one line) with `--password-stdin` or
/// when it is not a terminal, else prompted twice without echo.
fn read_password(from_stdin: bool) -> Result<Zeroizing<String>, String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        let trimmed = line.trim_end_matches(['\r', '\n']);
        return Ok(Zeroizing::new(trimmed.to_owned()));
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Password: ")
            .map_err(|e| format!("cannot read the password: {e}"))?,
    );
    let again = Zeroizing::new(
        rpassword::prompt_password("Again: ")
            .map_err(|e| format!("cannot read the password: {e}"))?,
    );
    if *first != *again {
        return Err("the passwords differ".into());
    }
    Ok(first)
}

/// `sras user add NAME`.
pub(crate) fn add(
    path: &Path,
    name: &str,
    from_stdin: bool,
    replace: bool,
) -> Result<String, String> {
    let mut users = read(path)?;
    let exists = users.iter().position(|u| u.name == name);
    if exists.is_some() && !replace {
        return Err(format!(
            "user {name:?} exists in {} (--replace to change the password)",
            path.display()
        ));
    }
    let password = read_password(from_stdin)?;
    let user = check_password_text(name, &password).map_err(|e| e.to_string())?;
    match exists {
        Some(i) => users[i] = user,
        None => users.push(user),
    }
    write(path, &users)?;
    Ok(format!(
        "user {name:?} {} in {}",
        if exists.is_some() { "changed" } else { "added" },
        path.display()
    ))
}

/// `sras user del NAME`.
pub(crate) fn del(path: &Path, name: &str) -> Result<String, String> {
    let mut users = read(path)?;
    let Some(i) = users.iter().position(|u| u.name == name) else {
        return Err(format!("no user {name:?} in {}", path.display()));
    };
    users.remove(i);
    write(path, &users)?;
    Ok(format!("user {name:?} deleted from {}", path.display()))
}

/// `sras user list`: the names, one a line, sorted.
pub(crate) fn list(path: &Path) -> Result<String, String> {
    let mut names: Vec<String> = read(path)?.into_iter().map(|u| u.name).collect();
    names.sort();
    Ok(names.iter().map(|n| format!("{n}\n")).collect())
}
