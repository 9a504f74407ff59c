//! Programs that are their own server (app.sh, a Procfile line) stop as a whole: every
//! process of their group, on SIGTERM and on Ctrl-C at a terminal, killed after the
//! shutdown timeout when they will not stop.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::rawhttp::get;
use crate::running::{reserve_port, Server};
use crate::util::Sandbox;

/// A server of our own: writes its pid to argv[1], then serves HTTP on $PORT.
const SERVE_PY: &str = "import http.server, os, sys\n\
    with open(sys.argv[1], 'w') as f:\n    f.write(str(os.getpid()))\n\
    http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), http.server.SimpleHTTPRequestHandler).serve_forever()\n";

/// A process that ignores SIGTERM: writes its pid to argv[1], then waits for signals.
const STUBBORN_PY: &str = "import os, signal, sys\n\
    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
    with open(sys.argv[1], 'w') as f:\n    f.write(str(os.getpid()))\n\
    while True:\n    signal.pause()\n";

fn program_app() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    sandbox.write("serve.py", SERVE_PY);
    sandbox.write("stubborn.py", STUBBORN_PY);
    sandbox
}

/// The pid a program wrote to `file`, once it has.
fn pid_in(file: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(pid) = std::fs::read_to_string(file).ok().and_then(|text| text.trim().parse().ok()) {
            return pid;
        }
        assert!(Instant::now() < deadline, "{} was never written", file.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

/// Wait until nothing listens on `port` and none of `pids` exists.
fn all_gone(port: u16, pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() || pids.iter().any(|&pid| alive(pid)) {
        let left: Vec<i32> = pids.iter().copied().filter(|&pid| alive(pid)).collect();
        assert!(Instant::now() < deadline, "still there after warp ended: port {port} open, processes {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A Procfile line whose server runs in the background of the shell, beside a process
/// that ignores SIGTERM: a SIGTERM to warp must reach both, and the stubborn one is killed
/// after the shutdown timeout. Before, the shell alone got it and the server went on.
#[test]
fn sigterm_stops_a_procfiles_whole_process_group() {
    let sandbox = program_app();
    sandbox.write("Procfile", "web: python serve.py server.pid & python stubborn.py stubborn.pid; wait\n");
    let mut server = Server::start_on_reserved_port(&sandbox, &["start", "--shutdown-timeout", "1"]);
    let port = server.port;
    assert_eq!(get(port, "/serve.py").status, 200);
    let pids = [pid_in(&sandbox.app().join("server.pid")), pid_in(&sandbox.app().join("stubborn.pid"))];
    let stopped = Instant::now();
    server.signal(Signal::SIGTERM);
    let status = server.wait_within(Duration::from_secs(10));
    // The shell died of the SIGTERM it was passed: that is warp's status too.
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{}", server.log());
    all_gone(port, &pids);
    let took = stopped.elapsed();
    assert!(took >= Duration::from_secs(1), "the stubborn process got the shutdown timeout first: {took:?}");
    assert!(took < Duration::from_secs(5), "killed soon after the shutdown timeout (1 s and a margin): {took:?}");
    assert!(server.log().contains("did not stop within the shutdown timeout (1s): killing its process group"), "{}", server.log());
}

/// A program that ends by itself leaves nothing running: what its shell started in the
/// background is stopped, and warp's exit status is the shell's.
#[test]
fn what_a_program_leaves_behind_is_stopped_with_it() {
    let sandbox = program_app();
    sandbox.write_exec(
        "app.sh",
        "#!/bin/sh\npython serve.py server.pid &\nwhile [ ! -s server.pid ]; do sleep 0.05; done\nexec python -c 'import sys; sys.exit(4)'\n",
    );
    // Reserved, so that once the program is gone nothing else listens there.
    let reserved = reserve_port();
    let port = reserved.port;
    let mut cmd = sandbox.warp(&["start"]);
    cmd.env("PORT", port.to_string());
    let status = cmd.status().expect("warp runs");
    assert_eq!(status.code(), Some(4));
    all_gone(port, &[pid_in(&sandbox.app().join("server.pid"))]);
}

/// A new terminal session on a pseudo-terminal, with `warp ARGS` as its leader: what a
/// user's shell gives a command run in the foreground.
struct AtTerminal {
    child: Child,
    master: std::fs::File,
}

impl AtTerminal {
    fn start(mut cmd: Command) -> AtTerminal {
        let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
        let slave: OwnedFd = pty.slave;
        cmd.stdin(slave.try_clone().unwrap()).stdout(slave.try_clone().unwrap()).stderr(slave);
        // SAFETY: runs in the child between fork and exec, and makes only two system
        // calls (setsid, ioctl), both async-signal-safe, on no memory but its stack.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("warp runs");
        AtTerminal { child, master: std::fs::File::from(pty.master) }
    }

    /// Type `bytes` at the terminal.
    fn type_keys(&mut self, bytes: &[u8]) {
        std::io::Write::write_all(&mut self.master, bytes).unwrap();
    }

    /// The exit code once warp has ended (within `limit`), reading the terminal meanwhile
    /// so that output never blocks it.
    fn code_within(&mut self, limit: Duration) -> Option<i32> {
        let fd = self.master.as_raw_fd();
        nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK)).unwrap();
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        loop {
            let _ = self.master.read(&mut buf);
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "warp did not end within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AtTerminal {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(-(self.child.id() as i32)), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The fields of /proc/PID/stat after the command name.
fn stat(pid: i32) -> Vec<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    text.rsplit_once(") ").unwrap().1.split_whitespace().map(str::to_owned).collect()
}

/// Ctrl-C at a terminal reaches the program, whose group has the terminal's foreground;
/// its background server (which a shell makes ignore SIGINT) is stopped as it is left.
#[test]
fn ctrl_c_at_a_terminal_stops_the_program() {
    let sandbox = program_app();
    sandbox.write("Procfile", "web: python serve.py server.pid & wait\n");
    let reserved = reserve_port();
    let port = reserved.port;
    let mut cmd = sandbox.warp(&["start"]);
    cmd.env("PORT", port.to_string());
    let mut terminal = AtTerminal::start(cmd);
    let pid = pid_in(&sandbox.app().join("server.pid"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    // pgrp (field 3 after the name) is the terminal's foreground group (tpgid, field 6).
    let fields = stat(pid);
    assert_eq!(fields[2], fields[5], "the program's group has the terminal: {fields:?}");
    assert_ne!(fields[2], terminal.child.id().to_string(), "in a group of its own, not warp's");
    terminal.type_keys(b"\x03");
    assert_eq!(terminal.code_within(Duration::from_secs(10)), Some(128 + libc::SIGINT));
    all_gone(port, &[pid]);
}
