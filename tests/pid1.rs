//! `warp start` as PID 1 of a pid namespace, as in a container: signals reach the app,
//! orphans are reaped, and the exit status means something. Needs root (for the namespace).

use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::rawhttp::get;
use crate::running::{free_port, Server};
use crate::util::Sandbox;

fn can_make_pid_namespaces() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    if !root {
        eprintln!("note: not root, so no pid namespace can be made: PID 1 is not tested here");
    }
    root
}

/// `warp start` as PID 1 of a new pid namespace (unshare is its parent, outside), serving
/// on `port`.
fn start_as_pid_1(sandbox: &Sandbox, port: u16) -> (Server, Pid) {
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--kill-child", env!("CARGO_BIN_EXE_warp"), "start"]);
    cmd.envs(sandbox.warp(&[]).get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))));
    cmd.env("PORT", port.to_string()).current_dir(sandbox.app());
    let server = Server::spawn(cmd, port, sandbox.root());
    let warp = child_of(server.child.id());
    (server, Pid::from_raw(warp as i32))
}

/// Wait until no zombie has `parent` as its parent.
fn no_zombies_under(parent: Pid) {
    let deadline = Instant::now() + Duration::from_secs(5);
    std::thread::sleep(Duration::from_millis(300));
    while !zombies_of(parent.as_raw() as u32).is_empty() {
        assert!(Instant::now() < deadline, "zombies left under PID 1: {:?}", zombies_of(parent.as_raw() as u32));
        std::thread::sleep(Duration::from_millis(50));
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
    if !can_make_pid_namespaces() {
        return;
    }
    let sandbox = Sandbox::new();
    sandbox.ok(&["build"]);
    // On /orphan the server leaves a grandchild that exits once its parent is gone: the
    // kernel hands it to PID 1, which must reap it. SIGTERM ends the server with status 7.
    sandbox.write(
        "app.py",
        "import os, signal, sys\nfrom wsgiref.simple_server import make_server\n\nsignal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\n\n\
         def serve(environ, start_response):\n    if environ['PATH_INFO'] == '/orphan' and os.fork() == 0:\n        if os.fork() == 0:\n            os._exit(0)\n        os._exit(0)\n\
         \x20   start_response('200 OK', [])\n    return [b'ok']\n\nmake_server('127.0.0.1', int(os.environ['PORT']), serve).serve_forever()\n",
    );
    let port = free_port();
    let (server, warp) = start_as_pid_1(&sandbox, port);
    let program = child_of(warp.as_raw() as u32);
    for _ in 0..5 {
        assert_eq!(get(port, "/orphan").text(), "ok");
    }
    // Each request's intermediate child is the server's to reap (wsgiref never does): only
    // the grandchildren are PID 1's.
    no_zombies_under(warp);
    assert_eq!(child_of(warp.as_raw() as u32), program, "the program is still warp's child");
    kill(warp, Signal::SIGTERM).unwrap();
    let status = server.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(7), "warp's exit status is the program's");
}

/// The embedded server's master as PID 1: a request in flight at SIGTERM is answered, the
/// master exits 0, and orphans from the app's workers are reaped meanwhile.
#[test]
fn the_embedded_server_stops_gracefully_and_reaps_orphans() {
    if !can_make_pid_namespaces() {
        return;
    }
    let sandbox = Sandbox::robust();
    let port = free_port();
    let (server, warp) = start_as_pid_1(&sandbox, port);
    for _ in 0..5 {
        assert_eq!(get(port, "/orphan").status, 200);
    }
    no_zombies_under(warp);
    let in_flight = std::thread::spawn(move || get(port, "/sleep?1.5"));
    std::thread::sleep(Duration::from_millis(300));
    let stopped = Instant::now();
    kill(warp, Signal::SIGTERM).unwrap();
    let response = in_flight.join().unwrap();
    assert_eq!(response.status, 200, "the request in flight was answered: {}", response.text());
    let status = server.exit_within(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    // Within the default shutdown timeout (5 s) and its margin.
    assert!(stopped.elapsed() < Duration::from_secs(7), "{:?}", stopped.elapsed());
}
