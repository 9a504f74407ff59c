//! `--user`, `--group` and `--allow-root`: as root, warp binds and the workers drop to the
//! user given; without one it refuses.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::rawhttp::get;
use crate::running::Server;
use crate::util::Sandbox;

const WHOAMI: &str = "import os\n\ndef application(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [('%d:%d:%s' % (os.getuid(), os.getgid(), os.environ.get('HOME'))).encode()]\n";

/// An app any user can read and run: the venv is made from the system Python, since an
/// interpreter under root's home (pyenv) is out of other users' reach.
fn shared_app() -> Option<Sandbox> {
    let system_python = Path::new("/usr/bin/python3");
    if !system_python.exists() {
        eprintln!("note: no /usr/bin/python3, so no venv another user can run: dropping privileges is not tested here");
        return None;
    }
    let app = Sandbox::new();
    std::fs::set_permissions(app.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    app.write("wsgi.py", WHOAMI);
    crate::util::run_ok(app.warp(&["build"]).env("WARP_PYTHON", system_python));
    Some(app)
}

fn nobody() -> (u32, u32) {
    let user = nix::unistd::User::from_name("nobody").unwrap().expect("a nobody user");
    (user.uid.as_raw(), user.gid.as_raw())
}

#[test]
fn root_without_a_user_is_refused() {
    let app = Sandbox::new();
    app.write("wsgi.py", WHOAMI);
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("note: not root, so the refusal cannot be seen");
        return;
    }
    let out = crate::util::run_fails(app.warp(&["start"]).env_remove("WARP_ALLOW_ROOT"), 1);
    assert!(out.contains("refuses to run the app as root") && out.contains("--user") && out.contains("--allow-root"), "{out}");
    assert_eq!(out.trim().lines().count(), 1, "{out}");
    let out = crate::util::run_fails(app.warp(&["start", "--user", "no-such-user-here"]).env_remove("WARP_ALLOW_ROOT"), 1);
    assert!(out.contains("no such user"), "{out}");
    let out = crate::util::run_fails(app.warp(&["start", "--group", "nogroup"]).env_remove("WARP_ALLOW_ROOT"), 2);
    assert!(out.contains("--user"), "{out}");
}

#[test]
fn workers_run_as_the_user_given_while_the_master_binds() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("note: not root, so privileges cannot be dropped");
        return;
    }
    let Some(app) = shared_app() else { return };
    let (uid, gid) = nobody();
    let mut start = app.warp(&["start", "--user", "nobody"]);
    start.env_remove("WARP_ALLOW_ROOT");
    let port = crate::running::free_port();
    start.args(["--port", &port.to_string()]);
    let server = Server::spawn(start, port, app.root());
    let answer = get(port, "/").text();
    let home = nix::unistd::User::from_name("nobody").unwrap().unwrap().dir;
    assert_eq!(answer, format!("{uid}:{gid}:{}", home.display()));
    assert!(server.log().contains("workers run as nobody"), "{}", server.log());
    // The master itself stays root, so it can bind and signal.
    let master_uid = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    assert!(master_uid.lines().any(|l| l.starts_with("Uid:\t0\t")), "{master_uid}");
    assert!(server.stop().success());
}

#[test]
fn port_80_is_bound_as_root_and_served_as_nobody() {
    if !nix::unistd::Uid::effective().is_root() || std::net::TcpListener::bind("127.0.0.1:80").is_err() {
        eprintln!("note: not root or port 80 taken: binding a privileged port is not tested here");
        return;
    }
    let Some(app) = shared_app() else { return };
    let mut start = app.warp(&["start", "--user", "nobody", "--group", "nogroup", "--port", "80"]);
    start.env_remove("WARP_ALLOW_ROOT");
    let server = Server::spawn(start, 80, app.root());
    let (uid, _) = nobody();
    let gid = nix::unistd::Group::from_name("nogroup").unwrap().unwrap().gid.as_raw();
    assert!(get(80, "/").text().starts_with(&format!("{uid}:{gid}:")));
    assert!(server.stop().success());
}
