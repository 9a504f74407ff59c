//! A server under test, its stderr kept in a file, and killed with its workers if a test
//! fails before stopping it.
//!
//! warp's embedded server is started with `--port 0 --port-file F`: the master binds
//! whatever port the kernel gives and writes it to F once a worker is ready, so no two
//! tests can be handed the same port and no test connects before the server serves.
//!
//! What must be told its port in advance (another server, a program given PORT, a probe or
//! a setup written for a port) gets a [`Reserved`] one instead: from a range the kernel
//! never hands out by itself (below its ephemeral range, where port 0 and outgoing
//! connections take theirs), checked free, and locked for as long as the test holds it,
//! across every test process on the machine. A bind, a close and a reuse cannot race with
//! another test there.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use crate::util::Sandbox;

/// How long a server may take to serve after it was started: loading a venv and an app.
const START_WITHIN: Duration = Duration::from_secs(20);

/// A port no other test (in this process or another) is given while this is held.
pub struct Reserved {
    pub port: u16,
    _lock: Flock<File>,
}

impl Reserved {
    /// `port` itself (a privileged one, say), once no other test process holds it.
    pub fn wait_for(port: u16) -> Reserved {
        let lock = Flock::lock(lock_file(port), FlockArg::LockExclusive).map_err(|(_, e)| e).unwrap();
        Reserved { port, _lock: lock }
    }
}

/// The file whose lock stands for `port`, shared by every test process on the machine.
fn lock_file(port: u16) -> File {
    let dir = std::env::temp_dir().join("warp-test-ports");
    std::fs::create_dir_all(&dir).unwrap();
    File::options().create(true).truncate(false).write(true).open(dir.join(port.to_string())).unwrap()
}

/// A port for a server that must be told it in advance; see the module's comment.
pub fn reserve_port() -> Reserved {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let ephemeral_start: u16 = range.split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(32768);
    // Start at a place that differs between processes, so they seldom try the same ports.
    let span = ephemeral_start.saturating_sub(20000).max(1);
    let offset = (std::process::id() as u16).wrapping_mul(97) % span;
    for step in 0..span {
        let port = 20000 + (offset + step) % span;
        let Ok(lock) = Flock::lock(lock_file(port), FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        // Held by nothing outside the tests either.
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() && std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return Reserved { port, _lock: lock };
        }
    }
    panic!("no free port from 20000 up to the ephemeral range ({ephemeral_start}) for a test server");
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    stderr: PathBuf,
    stdout: PathBuf,
    _reserved: Option<Reserved>,
}

impl Server {
    /// `warp ARGS` in the sandbox's app folder on a port of the kernel's choosing; returns
    /// once a worker is ready.
    pub fn start(sandbox: &Sandbox, args: &[&str]) -> Server {
        Server::launch(sandbox.warp(args), sandbox.root())
    }

    /// `warp ARGS --port P` in the sandbox's app folder, P reserved: for programs that are
    /// their own server and other servers, which cannot take port 0.
    pub fn start_on_reserved_port(sandbox: &Sandbox, args: &[&str]) -> Server {
        let port = reserve_port();
        let mut cmd = sandbox.warp(args);
        cmd.arg("--port").arg(port.port.to_string());
        Server::spawn(cmd, port, sandbox.root())
    }

    /// `cmd`, a `warp start` of the embedded server, given `--port 0` and a port file under
    /// `logs`; returns once the file says the server serves, and on which port.
    pub fn launch(cmd: Command, logs: &Path) -> Server {
        Server::launch_with(cmd, logs, run)
    }

    /// [`Server::launch`] with the server's standard input, output and error on `terminal`
    /// (its log files stay empty).
    pub fn launch_on_terminal(cmd: Command, terminal: &OwnedFd, logs: &Path) -> Server {
        Server::launch_with(cmd, logs, |mut cmd, _, _| {
            let stdio = || Stdio::from(terminal.try_clone().unwrap());
            cmd.stdin(stdio()).stdout(stdio()).stderr(stdio()).process_group(0);
            cmd.spawn().expect("start the server")
        })
    }

    fn launch_with(mut cmd: Command, logs: &Path, spawn: impl FnOnce(Command, &Path, &Path) -> Child) -> Server {
        let (stdout, stderr) = log_files(logs);
        let port_file = stdout.with_extension("port");
        cmd.arg("--port").arg("0").arg("--port-file").arg(&port_file);
        let mut server = Server { child: spawn(cmd, &stdout, &stderr), port: 0, stderr, stdout, _reserved: None };
        let deadline = Instant::now() + START_WITHIN;
        server.port = loop {
            if let Some(port) = std::fs::read_to_string(&port_file).ok().and_then(|text| text.trim().parse().ok()) {
                break port;
            }
            server.still_starting(deadline);
            std::thread::sleep(Duration::from_millis(20));
        };
        server
    }

    /// Run `cmd`, which listens on the reserved port; returns once the port accepts
    /// connections. The port stays reserved while the server lives.
    pub fn spawn(cmd: Command, port: Reserved, logs: &Path) -> Server {
        let (stdout, stderr) = log_files(logs);
        let mut server = Server { child: run(cmd, &stdout, &stderr), port: port.port, stderr, stdout, _reserved: Some(port) };
        let deadline = Instant::now() + START_WITHIN;
        while std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err() {
            server.still_starting(deadline);
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// `warp ARGS --port 0` in the sandbox's app folder, returning once the port is bound
    /// (as the banner says) without waiting for a worker: for apps that do not load at first.
    pub fn start_unready(sandbox: &Sandbox, args: &[&str]) -> Server {
        let mut cmd = sandbox.warp(args);
        cmd.args(["--port", "0"]);
        let mut server = Server::spawn_unready(cmd, sandbox.root());
        let deadline = Instant::now() + START_WITHIN;
        server.port = loop {
            let url = server.log().lines().find_map(|line| line.strip_prefix("  url:        http://127.0.0.1:").map(str::to_owned));
            if let Some(port) = url.and_then(|rest| rest.split('/').next()?.parse().ok()) {
                break port;
            }
            server.still_starting(deadline);
            std::thread::sleep(Duration::from_millis(20));
        };
        server
    }

    /// Run `cmd` with its output in files under `logs`, and return at once: for tests of
    /// how a server starts.
    pub fn spawn_unready(cmd: Command, logs: &Path) -> Server {
        let (stdout, stderr) = log_files(logs);
        Server { child: run(cmd, &stdout, &stderr), port: 0, stderr, stdout, _reserved: None }
    }

    /// Fail the test when the server has ended, or is past its deadline to serve.
    fn still_starting(&mut self, deadline: Instant) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the server ended ({status}) before serving:\n{}", self.log());
        }
        assert!(Instant::now() < deadline, "the server did not serve within {START_WITHIN:?}:\n{}", self.log());
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What the server wrote to stdout so far (the access log).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Wait until the log contains `text`.
    pub fn wait_for_log(&self, text: &str, within: Duration) {
        self.wait_for_log_count(text, 1, within);
    }

    /// Wait until the log contains `text` at least `count` times.
    pub fn wait_for_log_count(&self, text: &str, count: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.log().matches(text).count() < count {
            assert!(Instant::now() < deadline, "the log never said {text:?} {count} time(s):\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// SIGTERM, then the exit status (within the shutdown timeout and a margin).
    pub fn stop(self) -> ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.exit_within(Duration::from_secs(15))
    }

    /// The exit status, once the server has ended by itself within `limit`.
    pub fn exit_within(mut self, limit: Duration) -> ExitStatus {
        self.wait_within(limit)
    }

    /// `exit_within` that keeps the server's logs readable afterwards.
    pub fn wait_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Fresh files under `logs` for a server's stdout and stderr.
fn log_files(logs: &Path) -> (PathBuf, PathBuf) {
    static SERVERS: AtomicUsize = AtomicUsize::new(0);
    let n = SERVERS.fetch_add(1, Ordering::SeqCst);
    (logs.join(format!("server-{n}.out")), logs.join(format!("server-{n}.err")))
}

/// Start `cmd` in a process group of its own (killed whole when the test ends), its output
/// in files.
fn run(mut cmd: Command, stdout: &Path, stderr: &Path) -> Child {
    cmd.stdout(File::create(stdout).unwrap()).stderr(File::create(stderr).unwrap()).stdin(Stdio::null());
    cmd.process_group(0);
    cmd.spawn().expect("start the server")
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
