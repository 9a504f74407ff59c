//! `warp start` as PID 1 of a pid namespace, as in a container: signals reach the app,
//! orphans are reaped, and the exit status means something. Needs root (for the namespace).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::rawhttp::get;
use crate::running::{reserve_port, Server};
use crate::util::{require, require_root, wait_until_called, Sandbox};

/// A process group that is killed when the test ends, however it ends.
struct Group(Child);

impl Group {
    fn spawn(mut cmd: Command) -> Group {
        cmd.stdin(Stdio::null()).process_group(0);
        Group(cmd.spawn().expect("unshare runs"))
    }

    /// The exit code, once the process ended by itself within `limit`.
    fn code_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "warp did not end within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(-(self.0.id() as i32)), Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

/// A pid namespace takes root and util-linux's unshare.
fn require_pid_namespaces() {
    require_root("to make a pid namespace");
    let unshare = Command::new("unshare").arg("--version").output().is_ok_and(|o| o.status.success());
    require(unshare, "unshare (apt-get install util-linux)");
}

/// `warp ARGS` as PID 1 of a new pid namespace (unshare is its parent, outside), with the
/// sandbox's clean warp environment, in its app folder.
fn as_pid_1(sandbox: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--kill-child", env!("CARGO_BIN_EXE_warp")]).args(args);
    let warp = sandbox.warp(&[]);
    for (key, value) in warp.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd.current_dir(sandbox.app());
    cmd
}

/// `warp start` as PID 1 of a new pid namespace: the embedded server on a port of the
/// kernel's choosing, a program on a reserved one given as PORT.
fn start_as_pid_1(sandbox: &Sandbox, program: bool) -> (Server, Pid) {
    let mut cmd = as_pid_1(sandbox, &["start"]);
    let server = if program {
        let port = reserve_port();
        cmd.env("PORT", port.port.to_string());
        Server::spawn(cmd, port, sandbox.root())
    } else {
        Server::launch(cmd, sandbox.root())
    };
    let warp = child_of(server.child.id());
    (server, Pid::from_raw(warp as i32))
}

/// Wait until `count` orphans have left their pid in the app's `orphans/` folder, then
/// until every one of them is gone from the process table: reaped, not a zombie of PID 1.
fn orphans_reaped(sandbox: &Sandbox, count: usize, parent: Pid) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let pids = || -> Vec<u32> {
        std::fs::read_dir(sandbox.app().join("orphans"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
            .collect()
    };
    while pids().len() < count {
        assert!(Instant::now() < deadline, "only {} of {count} orphans were made", pids().len());
        std::thread::sleep(Duration::from_millis(20));
    }
    while pids().iter().any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()) {
        assert!(Instant::now() < deadline, "orphans not reaped: zombies under PID 1 {:?}", zombies_of(parent.as_raw() as u32));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of `parent`'s first child, from the kernel's list.
fn child_of(parent: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).unwrap_or_default();
        if let Some(pid) = text.split_whitespace().next() {
            return pid.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "{parent} has no child");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Zombies whose parent is `pid`, from /proc.
fn zombies_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let status = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap_or_default();
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or("").to_owned();
        if field("State:").starts_with('Z') && field("PPid:") == pid.to_string() {
            out.push(child);
        }
    }
    out
}

/// A program that is its own server: warp forwards SIGTERM to it, reaps the orphans handed
/// to PID 1, and exits with the program's status.
#[test]
fn a_programs_signals_are_forwarded_and_orphans_reaped() {
    require_pid_namespaces();
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    // On /orphan the server leaves a grandchild that exits once its parent is gone: the
    // kernel hands it to PID 1, which must reap it. The grandchild leaves its pid (as the
    // machine's /proc knows it) in orphans/. SIGTERM ends the server with status 7, by
    // os._exit: a SystemExit raised while wsgiref still finishes a request is swallowed by
    // its error handler, and the server would go on serving.
    sandbox.write(
        "app.py",
        "import os, signal\nfrom wsgiref.simple_server import make_server\n\nsignal.signal(signal.SIGTERM, lambda *_: os._exit(7))\nos.makedirs('orphans', exist_ok=True)\n\n\
         def serve(environ, start_response):\n    if environ['PATH_INFO'] == '/orphan' and os.fork() == 0:\n        if os.fork() == 0:\n            open('orphans/' + os.readlink('/proc/self'), 'w').close()\n            os._exit(0)\n        os._exit(0)\n\
         \x20   start_response('200 OK', [])\n    return [b'ok']\n\nmake_server('127.0.0.1', int(os.environ['PORT']), serve).serve_forever()\n",
    );
    let (server, warp) = start_as_pid_1(&sandbox, true);
    let port = server.port;
    let program = child_of(warp.as_raw() as u32);
    for _ in 0..5 {
        assert_eq!(get(port, "/orphan").text(), "ok");
    }
    // Each request's intermediate child is the server's to reap (wsgiref never does): only
    // the grandchildren are PID 1's.
    orphans_reaped(&sandbox, 5, warp);
    assert_eq!(child_of(warp.as_raw() as u32), program, "the program is still warp's child");
    kill(warp, Signal::SIGTERM).unwrap();
    let status = server.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(7), "warp's exit status is the program's");
}

/// The embedded server's master as PID 1: a request in flight at SIGTERM is answered, the
/// master exits 0, and orphans from the app's workers are reaped meanwhile.
#[test]
fn the_embedded_server_stops_gracefully_and_reaps_orphans() {
    require_pid_namespaces();
    let sandbox = Sandbox::robust();
    let (server, warp) = start_as_pid_1(&sandbox, false);
    let port = server.port;
    for _ in 0..5 {
        assert_eq!(get(port, "/orphan").status, 200);
    }
    orphans_reaped(&sandbox, 5, warp);
    let in_flight = std::thread::spawn(move || get(port, "/sleep?1.5"));
    wait_until_called(&sandbox, "/sleep", 1);
    let stopped = Instant::now();
    kill(warp, Signal::SIGTERM).unwrap();
    let response = in_flight.join().unwrap();
    assert_eq!(response.status, 200, "the request in flight was answered: {}", response.text());
    let status = server.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    // Within the default shutdown timeout (5 s) and its margin.
    assert!(stopped.elapsed() < Duration::from_secs(7), "{:?}", stopped.elapsed());
}

/// Exit codes are what a container's runtime sees: an app that cannot be served is a
/// failure with one line saying why, not a PID 1 waiting to be stopped.
#[test]
fn pid_1_exits_non_zero_when_there_is_nothing_to_serve() {
    require_pid_namespaces();
    let sandbox = Sandbox::new();
    let failure = |expected: &str| {
        let out = as_pid_1(&sandbox, &["start"]).output().expect("unshare runs");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(expected), "{err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    };
    failure("run `warp build` first");
    sandbox.ok(&["build"]);
    failure("no app found");
}

/// PID 1 has no default signal actions: a SIGTERM that arrives while warp is still getting
/// ready (here during a slow `deploy` hook) must end it at once, not be dropped until the
/// container's runtime gives up and kills it.
#[test]
fn pid_1_stops_at_once_when_told_to_before_it_serves() {
    require_pid_namespaces();
    let sandbox = Sandbox::robust();
    sandbox.write_exec(".warp/action_hooks/deploy", "#!/bin/sh\ntouch deploying\nexec sleep 60\n");
    let mut cmd = as_pid_1(&sandbox, &["start"]);
    cmd.args(["--port", "0"]).stdout(Stdio::null()).stderr(Stdio::null());
    let mut unshare = Group::spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sandbox.app().join("deploying").exists() {
        assert!(Instant::now() < deadline, "the deploy hook never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    let warp = Pid::from_raw(child_of(unshare.0.id()) as i32);
    let hook = child_of(warp.as_raw() as u32);
    kill(warp, Signal::SIGTERM).unwrap();
    assert_eq!(unshare.code_within(Duration::from_secs(5)), Some(128 + libc::SIGTERM), "ended by SIGTERM before serving");
    // The namespace ended with its PID 1, the hook included.
    assert!(!std::path::Path::new(&format!("/proc/{hook}")).exists(), "the deploy hook {hook} outlived warp");
}
