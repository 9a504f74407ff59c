//! The descriptors a worker inherits from the master: its listening socket, its control
//! channel and, with `--metrics-port`, its scoreboard, named by number in the worker
//! settings (`listen_fd`, `control_fd`, `scoreboard_fd`).
//!
//! A number is only a promise. Taking ownership of one that is closed, or that is some
//! other file, would have the worker close a descriptor that is not its own, hand a file
//! to epoll, or wait forever on a socket that never accepts. So each is checked to be what
//! it must be (open; a socket of the right family and type; listening, for the listener)
//! before it is taken, and a wrong one is an [`FdError`] that says which and why.
//!
//! What it cannot check: that nothing else in the process uses the descriptor. That is the
//! master's side of the contract: it creates both for this worker alone.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Listener,
    Control,
    Scoreboard,
}

/// Which inherited descriptor, and its number.
#[derive(Debug, Clone, Copy)]
pub struct Which {
    role: Role,
    fd: RawFd,
}

impl fmt::Display for Which {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.role {
            Role::Listener => write!(f, "the listening socket (listen_fd {})", self.fd),
            Role::Control => write!(f, "the control channel (control_fd {})", self.fd),
            Role::Scoreboard => write!(f, "the scoreboard (scoreboard_fd {})", self.fd),
        }
    }
}

/// Why an inherited descriptor cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FdError {
    #[error("{0} is not an open file descriptor")]
    NotOpen(Which),
    #[error("{which} is {found}, not {wanted}")]
    WrongKind { which: Which, found: String, wanted: &'static str },
    #[error("{0} is a TCP socket that is not listening (never listen()ed, or a connection)")]
    NotListening(Which),
    #[error("the listening socket, the control channel and the scoreboard share descriptor {0}")]
    Same(RawFd),
    #[error("the inherited descriptors were taken already: a worker process serves once")]
    Taken,
    #[error("{which} cannot be examined: {source}")]
    Os { which: Which, source: io::Error },
}

/// The inherited descriptors, owned.
pub struct Inherited {
    pub listener: std::net::TcpListener,
    pub control: Option<UnixStream>,
    /// The memory the master reads this worker's metrics from (see
    /// `warp_worker_config::scoreboard`).
    pub scoreboard: Option<OwnedFd>,
}

impl Inherited {
    /// Check and take `listen_fd` and, unless they are negative (no master to report to, no
    /// metrics to keep), `control_fd` and `scoreboard_fd`.
    pub fn take(listen_fd: RawFd, control_fd: RawFd, scoreboard_fd: RawFd) -> Result<Inherited, FdError> {
        /// Set once this process has taken its descriptors, so no second call can take
        /// ownership of the same numbers again.
        static TAKEN: AtomicBool = AtomicBool::new(false);

        let shared = [(listen_fd, control_fd), (listen_fd, scoreboard_fd), (control_fd, scoreboard_fd)];
        if let Some((fd, _)) = shared.into_iter().find(|&(a, b)| a >= 0 && a == b) {
            return Err(FdError::Same(fd));
        }
        let listen = Which { role: Role::Listener, fd: listen_fd };
        check(listen, &[libc::AF_INET, libc::AF_INET6], "a listening TCP socket")?;
        if int_option(listen, libc::SO_ACCEPTCONN)? == 0 {
            return Err(FdError::NotListening(listen));
        }
        let control = Which { role: Role::Control, fd: control_fd };
        if control_fd >= 0 {
            check(control, &[libc::AF_UNIX], "a Unix stream socket")?;
        }
        let scoreboard = Which { role: Role::Scoreboard, fd: scoreboard_fd };
        if scoreboard_fd >= 0 && file_type(scoreboard)? != Some("a regular file") {
            return Err(FdError::WrongKind { which: scoreboard, found: describe(scoreboard)?, wanted: "a memory file" });
        }
        if TAKEN.swap(true, Ordering::SeqCst) {
            return Err(FdError::Taken);
        }
        // SAFETY: `from_raw_fd` needs an open descriptor that nothing else owns. `check`
        // found `listen_fd` open, and a listening TCP socket, just above. Nothing else in
        // this process owns it: the master created it for this worker and names it only in
        // this worker's settings, and `TAKEN` makes sure this process takes it only once.
        let listener = unsafe { std::net::TcpListener::from_raw_fd(listen_fd) };
        // SAFETY: likewise for `control_fd`: checked open and a Unix stream socket when not
        // negative, created by the master for this worker alone, taken once.
        let control = (control_fd >= 0).then(|| unsafe { UnixStream::from_raw_fd(control_fd) });
        // SAFETY: likewise for `scoreboard_fd`: checked open and a regular file when not
        // negative, created by the master for this worker alone, taken once.
        let scoreboard = (scoreboard_fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(scoreboard_fd) });
        if let Some(fd) = &scoreboard {
            // The app's own children have no use for it.
            nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))
                .map_err(|e| FdError::Os { which: scoreboard_which(fd), source: e.into() })?;
        }
        Ok(Inherited { listener, control, scoreboard })
    }
}

fn scoreboard_which(fd: &OwnedFd) -> Which {
    Which { role: Role::Scoreboard, fd: fd.as_raw_fd() }
}

/// What kind of file `which` is: `None` for a socket.
fn file_type(which: Which) -> Result<Option<&'static str>, FdError> {
    let stat = match nix::sys::stat::fstat(which.fd) {
        Ok(stat) => stat,
        Err(Errno::EBADF) => return Err(FdError::NotOpen(which)),
        Err(e) => return Err(FdError::Os { which, source: e.into() }),
    };
    Ok(match stat.st_mode & libc::S_IFMT {
        libc::S_IFSOCK => None,
        libc::S_IFREG => Some("a regular file"),
        libc::S_IFDIR => Some("a directory"),
        libc::S_IFIFO => Some("a pipe"),
        libc::S_IFCHR => Some("a character device"),
        libc::S_IFBLK => Some("a block device"),
        _ => Some("not a socket"),
    })
}

/// What `which` is, in words: its file type, or its socket's family and type.
fn describe(which: Which) -> Result<String, FdError> {
    if let Some(found) = file_type(which)? {
        return Ok(found.to_owned());
    }
    let family = match int_option(which, libc::SO_DOMAIN)? {
        libc::AF_INET => "an IPv4",
        libc::AF_INET6 => "an IPv6",
        libc::AF_UNIX => "a Unix",
        _ => "another family's",
    };
    let kind = match int_option(which, libc::SO_TYPE)? {
        libc::SOCK_STREAM => "stream",
        libc::SOCK_DGRAM => "datagram",
        libc::SOCK_SEQPACKET => "seqpacket",
        _ => "other",
    };
    Ok(format!("{family} {kind} socket"))
}

/// Check that `which` is an open stream socket in one of `families`.
fn check(which: Which, families: &[libc::c_int], wanted: &'static str) -> Result<(), FdError> {
    if file_type(which)?.is_some() {
        return Err(FdError::WrongKind { which, found: describe(which)?, wanted });
    }
    let family = int_option(which, libc::SO_DOMAIN)?;
    let kind = int_option(which, libc::SO_TYPE)?;
    if !families.contains(&family) || kind != libc::SOCK_STREAM {
        return Err(FdError::WrongKind { which, found: describe(which)?, wanted });
    }
    Ok(())
}

/// An integer socket option at the `SOL_SOCKET` level.
fn int_option(which: Which, name: libc::c_int) -> Result<libc::c_int, FdError> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes to `value`, a c_int of ours that lives
    // through the call, and stores the length written in `len`, also ours. The descriptor is
    // only a number to it: a wrong one fails with EBADF or ENOTSOCK and touches nothing.
    let rc = unsafe { libc::getsockopt(which.fd, libc::SOL_SOCKET, name, (&raw mut value).cast(), &mut len) };
    if rc != 0 {
        return Err(FdError::Os { which, source: io::Error::last_os_error() });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    // Only the refusals are tested here: `take` succeeds once per process, and the workers in
    // the integration tests take theirs.

    fn refusal(listen_fd: RawFd, control_fd: RawFd) -> String {
        refusal_with(listen_fd, control_fd, -1)
    }

    fn refusal_with(listen_fd: RawFd, control_fd: RawFd, scoreboard_fd: RawFd) -> String {
        match Inherited::take(listen_fd, control_fd, scoreboard_fd) {
            Ok(_) => panic!("fds {listen_fd}, {control_fd} were taken"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_closed_descriptor_is_refused() {
        // Numbers no process has open (closing one of ours here would race with the tests
        // running beside this one, which open files too).
        assert_eq!(refusal(RawFd::MAX, -1), format!("the listening socket (listen_fd {}) is not an open file descriptor", RawFd::MAX));
        assert_eq!(refusal(-1, -1), "the listening socket (listen_fd -1) is not an open file descriptor");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            refusal(listener.as_raw_fd(), RawFd::MAX),
            format!("the control channel (control_fd {}) is not an open file descriptor", RawFd::MAX)
        );
    }

    #[test]
    fn a_file_is_not_a_socket() {
        let file = unlinked_file();
        let fd = file.as_raw_fd();
        assert_eq!(refusal(fd, -1), format!("the listening socket (listen_fd {fd}) is a regular file, not a listening TCP socket"));
    }

    #[test]
    fn a_socket_must_be_tcp_and_listening() {
        let (unix, _peer) = UnixStream::pair().unwrap();
        let fd = unix.as_raw_fd();
        assert!(refusal(fd, -1).ends_with("is a Unix stream socket, not a listening TCP socket"), "{}", refusal(fd, -1));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(refusal(udp.as_raw_fd(), -1).ends_with("is an IPv4 datagram socket, not a listening TCP socket"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let connection = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let fd = connection.as_raw_fd();
        assert_eq!(
            refusal(fd, -1),
            format!("the listening socket (listen_fd {fd}) is a TCP socket that is not listening (never listen()ed, or a connection)")
        );
    }

    #[test]
    fn the_control_channel_must_be_a_unix_stream_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (fd, other_fd) = (listener.as_raw_fd(), other.as_raw_fd());
        assert_eq!(
            refusal(fd, other_fd),
            format!("the control channel (control_fd {other_fd}) is an IPv4 stream socket, not a Unix stream socket")
        );
        assert_eq!(refusal(fd, fd), format!("the listening socket, the control channel and the scoreboard share descriptor {fd}"));
    }

    #[test]
    fn the_scoreboard_must_be_a_file() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (fd, other_fd) = (listener.as_raw_fd(), other.as_raw_fd());
        assert_eq!(
            refusal_with(fd, -1, other_fd),
            format!("the scoreboard (scoreboard_fd {other_fd}) is an IPv4 stream socket, not a memory file")
        );
        assert_eq!(
            refusal_with(fd, -1, RawFd::MAX),
            format!("the scoreboard (scoreboard_fd {}) is not an open file descriptor", RawFd::MAX)
        );
        assert_eq!(refusal_with(fd, -1, fd), format!("the listening socket, the control channel and the scoreboard share descriptor {fd}"));
    }

    fn unlinked_file() -> std::fs::File {
        let path = std::env::temp_dir().join(format!("warp-server-inherited-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }
}
