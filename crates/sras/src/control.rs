//! The local control socket of `sras server`: `sras sessions` and `sras disconnect ID` talk to
//! the running server through a Unix stream socket (mode 0600, in a 0700 directory), as
//! `accel-cmd` talks to accel-ppp and `xl2tpd-control` to xl2tpd.
//!
//! One request per connection: a single line (`sessions`, `disconnect ID`), answered with text
//! and the connection closed. The first line of an answer is `ok` or `error: WHY`. Connections
//! are served by small tasks that hand the request to the driver's loop over a channel, so the
//! driver answers from its own state without locks and a slow or silent client never stalls it.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// Where the server listens unless `control.socket` says otherwise.
pub(crate) const DEFAULT_SOCKET: &str = "/run/sras/control.sock";
/// The longest request line accepted.
const MAX_REQUEST: u64 = 256;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests waiting for the driver; more are refused at once.
const QUEUE: usize = 16;

/// A request from `sras sessions` / `sras disconnect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// List the sessions.
    Sessions,
    /// Disconnect the session with this ID.
    Disconnect(u64),
}

impl Command {
    /// Parses a request line.
    pub(crate) fn parse(line: &str) -> Result<Self, String> {
        let mut words = line.split_whitespace();
        let cmd = match (words.next(), words.next()) {
            (Some("sessions"), None) => Self::Sessions,
            (Some("disconnect"), Some(id)) => Self::Disconnect(
                id.parse()
                    .map_err(|_| format!("session ID {id:?} is not a number"))?,
            ),
            (Some("disconnect"), None) => return Err("disconnect needs a session ID".into()),
            _ => return Err(format!("unknown request {line:?}")),
        };
        if words.next().is_some() {
            return Err(format!("unexpected words in {line:?}"));
        }
        Ok(cmd)
    }

    /// The request line.
    pub(crate) fn line(&self) -> String {
        match self {
            Self::Sessions => "sessions\n".into(),
            Self::Disconnect(id) => format!("disconnect {id}\n"),
        }
    }
}

/// A request and where its answer goes.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) command: Command,
    pub(crate) reply: oneshot::Sender<String>,
}

/// The listening socket (removed when dropped) and the requests it received.
#[derive(Debug)]
pub(crate) struct Control {
    path: PathBuf,
    rx: mpsc::Receiver<Request>,
}

impl Control {
    /// Listens on `path`: creates its directory (0700) if missing, refuses when another server
    /// answers there, replaces a stale socket, and makes the socket 0600. Needs a tokio runtime.
    pub(crate) fn bind(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| {
                        format!("cannot create {} (control.socket): {e}", dir.display())
                    })?;
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) => {
                use std::os::unix::fs::FileTypeExt;
                if !m.file_type().is_socket() {
                    return Err(format!(
                        "{} (control.socket) exists and is not a socket; remove it or choose another path",
                        path.display()
                    ));
                }
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(format!(
                        "another sras server answers on {} (control.socket); stop it or choose another path",
                        path.display()
                    ));
                }
                std::fs::remove_file(path)
                    .map_err(|e| format!("cannot remove the stale {}: {e}", path.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{} (control.socket): {e}", path.display())),
        }
        let listener = UnixListener::bind(path)
            .map_err(|e| format!("cannot listen on {} (control.socket): {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot chmod 600 {}: {e}", path.display()))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(accept_loop(listener, tx));
        info!(socket = %path.display(), "control socket listening");
        Ok(Self {
            path: path.to_path_buf(),
            rx,
        })
    }

    /// The next request.
    pub(crate) async fn recv(&mut self) -> Option<Request> {
        self.rx.recv().await
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept_loop(listener: UnixListener, tx: mpsc::Sender<Request>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, tx.clone()));
            }
            Err(e) => {
                warn!(error = %e, "control socket: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads one request line, passes it to the driver, writes the answer.
async fn serve(stream: UnixStream, tx: mpsc::Sender<Request>) {
    // The socket is 0600; the peer's credentials are checked anyway, as a second lock.
    let me = nix_uid();
    match stream.peer_cred() {
        Ok(c) if c.uid() == 0 || c.uid() == me => {}
        Ok(c) => {
            warn!(
                uid = c.uid(),
                "control socket: connection from another user refused"
            );
            return;
        }
        Err(e) => {
            debug!(error = %e, "control socket: no peer credentials");
            return;
        }
    }
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    let mut rd = BufReader::new(rd.take(MAX_REQUEST));
    let answer = match tokio::time::timeout(REQUEST_TIMEOUT, rd.read_line(&mut line)).await {
        Ok(Ok(_)) if line.ends_with('\n') => match Command::parse(line.trim()) {
            Ok(command) => {
                let (reply, answer) = oneshot::channel();
                match tx.try_send(Request { command, reply }) {
                    Ok(()) => answer
                        .await
                        .unwrap_or_else(|_| "error: the server is shutting down\n".into()),
                    Err(_) => "error: busy, try again\n".into(),
                }
            }
            Err(e) => format!("error: {e}\n"),
        },
        Ok(Ok(_)) => "error: request too long or not ended by a newline\n".into(),
        Ok(Err(e)) => format!("error: {e}\n"),
        Err(_) => "error: no request within 5 s\n".into(),
    };
    let _ = wr.write_all(answer.as_bytes()).await;
    let _ = wr.shutdown().await;
}

fn nix_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::getuid()
    }
}

/// Client side: sends `command` to the server at `path` and returns its answer, or why not.
pub(crate) fn request(path: &Path, command: &Command) -> Result<String, String> {
    let mut s = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot reach the server at {} ({e}); is `sras server` running, with this control.socket?",
            path.display()
        )
    })?;
    let t = Some(Duration::from_secs(10));
    let _ = s.set_read_timeout(t);
    let _ = s.set_write_timeout(t);
    s.write_all(command.line().as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_print() {
        for c in [Command::Sessions, Command::Disconnect(42)] {
            assert_eq!(Command::parse(c.line().trim()), Ok(c));
        }
        for bad in [
            "",
            "session",
            "disconnect",
            "disconnect x",
            "disconnect 1 2",
            "sessions all",
        ] {
            assert!(Command::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_reaches_the_driver_and_its_answer_the_client() {
        let dir = std::env::temp_dir().join(format!("sras-control-{}", std::process::id()));
        let path = dir.join("c.sock");
        let mut control = Control::bind(&path).unwrap();
        // A second server on the same path is refused while the first answers.
        let e = Control::bind(&path).unwrap_err();
        assert!(e.contains("another sras server"), "{e}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let p = path.clone();
        let client = tokio::task::spawn_blocking(move || request(&p, &Command::Disconnect(7)));
        let r = control.recv().await.unwrap();
        assert_eq!(r.command, Command::Disconnect(7));
        r.reply.send("ok\n".into()).unwrap();
        assert_eq!(client.await.unwrap().unwrap(), "ok\n");
        drop(control);
        assert!(!path.exists());
        // A stale socket file is replaced.
        let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(stale);
        let control = Control::bind(&path).unwrap();
        drop(control);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
