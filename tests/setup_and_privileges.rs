//! `warp start --user/--group/--allow-root` (bind as root, run the workers as someone else,
//! refuse root otherwise) and `warp start --setup-only --server-root DIR` (warp.env,
//! warpctl and warp.service written, nothing started; then warpctl runs the same server).
//!
//! Every test serves one app, built once. Its venv comes from /usr/bin/python3 when there
//! is one: an interpreter under root's home (pyenv) is out of other users' reach.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Group, Uid, User};

use crate::rawhttp::get;
use crate::running::{reserve_port, Reserved, Server};
use crate::util::{eventually, require, require_root, run_fails, run_ok, Sandbox};

const WHOAMI: &str = r#"import json, os

def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    if environ['PATH_INFO'] == '/pid':
        return [str(os.getpid()).encode()]
    who = {
        'uid': os.getuid(),
        'gid': os.getgid(),
        'groups': sorted(os.getgroups()),
        'home': os.environ.get('HOME'),
        'user': os.environ.get('USER'),
        'logname': os.environ.get('LOGNAME'),
    }
    return [json.dumps(who).encode()]
"#;

/// The app, built once; its folders readable by everyone.
fn app() -> &'static Sandbox {
    static APP: OnceLock<Sandbox> = OnceLock::new();
    APP.get_or_init(|| {
        let app = Sandbox::new();
        std::fs::set_permissions(app.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
        app.write("wsgi.py", WHOAMI);
        app.write("static/hello.txt", "hello from static\n");
        app.write("public files/robots.txt", "User-agent: *\n");
        let mut build = app.warp(&["build"]);
        let system_python = Path::new("/usr/bin/python3");
        if system_python.exists() {
            build.env("WARP_PYTHON", system_python);
        }
        run_ok(&mut build);
        app
    })
}

fn is_root() -> bool {
    Uid::effective().is_root()
}

fn nobody() -> User {
    User::from_name("nobody").unwrap().expect("a nobody user")
}

/// The tests of dropped privileges need root, and a venv that `nobody` can run: one made
/// from Debian's /usr/bin/python3, not from an interpreter under root's home.
fn require_nobody_can_run_the_app() {
    require_root("to drop privileges");
    let user = nobody();
    let runs = Command::new(app().venv().join("bin/python"))
        .args(["-c", "import wsgi"])
        .current_dir(app().app())
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .status()
        .is_ok_and(|s| s.success());
    require(
        runs,
        &format!(
            "a venv nobody can run ({}): Debian's python3 with venv support (apt-get install python3 python3-venv)",
            app().venv().display()
        ),
    );
}

/// `warp ARGS` without the harness's WARP_ALLOW_ROOT.
fn warp(args: &[&str]) -> Command {
    let mut cmd = app().warp(args);
    cmd.env_remove("WARP_ALLOW_ROOT");
    cmd
}

fn serve(args: &[&str]) -> Server {
    Server::launch(warp(args), app().root())
}

fn who(port: u16) -> serde_json::Value {
    let response = get(port, "/");
    assert_eq!(response.status, 200, "{}", response.text());
    serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{e}: {}", response.text()))
}

/// The groups `initgroups(name, gid)` gives, sorted as the app reports them.
fn groups_of(name: &str, gid: Gid) -> Vec<u32> {
    let name = std::ffi::CString::new(name).unwrap();
    let mut groups: Vec<u32> = nix::unistd::getgrouplist(&name, gid).unwrap().iter().map(|g| g.as_raw()).collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

fn process_uid(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find(|l| l.starts_with("Uid:")).unwrap().to_owned()
}

fn stderr_line(out: &str) -> &str {
    assert_eq!(out.trim_end().lines().count(), 1, "not one line:\n{out}");
    out.trim_end()
}

// ---------------------------------------------------------------------------------------
// Privileges

#[test]
fn root_without_a_user_is_refused() {
    require_root("to be refused as root");
    // Reserved: nothing else listens there while the test looks.
    let reserved = reserve_port();
    let port = reserved.port;
    let out = run_fails(warp(&["start", "--port", &port.to_string()]).env("WARP_ALLOW_ROOT", "0"), 1);
    assert_eq!(
        stderr_line(&out),
        "error: warp start refuses to run the app as root: pass --user NAME (and --group NAME) to run the workers as that user after binding, or --allow-root if this container must run as root"
    );
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "something listens on {port}");
    let out = run_fails(&mut warp(&["start", "--user", "root"]), 1);
    assert_eq!(
        stderr_line(&out),
        "error: --user root is root: pick an unprivileged user, or add --allow-root if this container must run as root"
    );
}

#[test]
fn unknown_users_and_groups_are_one_line_errors() {
    let out = run_fails(&mut warp(&["start", "--user", "no-such-user-here"]), 1);
    assert_eq!(stderr_line(&out), "error: --user no-such-user-here: no such user on this machine");
    let out = run_fails(&mut warp(&["start", "--user", "nobody", "--group", "no-such-group-here"]), 1);
    assert_eq!(stderr_line(&out), "error: --group no-such-group-here: no such group on this machine");
    // --group alone is a usage error.
    let out = run_fails(&mut warp(&["start", "--group", "nogroup"]), 2);
    assert!(out.contains("--user"), "{out}");
}

#[test]
fn allow_root_serves_as_root() {
    require_root("for --allow-root to matter");
    let server = serve(&["start", "--allow-root"]);
    let me = who(server.port);
    assert_eq!((me["uid"].as_u64(), me["gid"].as_u64()), (Some(0), Some(0)));
    assert!(!server.log().contains("workers run as"), "{}", server.log());
    assert!(server.stop().success());
}

#[test]
fn workers_run_as_nobody_while_the_master_stays_root() {
    require_nobody_can_run_the_app();
    let user = nobody();
    let server = serve(&["start", "--user", "nobody"]);
    let me = who(server.port);
    assert_eq!(me["uid"].as_u64(), Some(u64::from(user.uid.as_raw())));
    assert_eq!(me["gid"].as_u64(), Some(u64::from(user.gid.as_raw())));
    let groups: Vec<u32> = serde_json::from_value(me["groups"].clone()).unwrap();
    assert_eq!(groups, groups_of("nobody", user.gid));
    assert_eq!(me["home"].as_str(), user.dir.to_str());
    assert_eq!((me["user"].as_str(), me["logname"].as_str()), (Some("nobody"), Some("nobody")));
    let banner = format!("  user:       workers run as nobody (uid {}, gid {})", user.uid, user.gid);
    assert!(server.log().lines().any(|l| l == banner), "{}", server.log());
    // The master keeps root, to bind and to signal its workers.
    assert_eq!(process_uid(server.child.id()), "Uid:\t0\t0\t0\t0");
    assert!(server.stop().success());
}

#[test]
fn user_and_group_by_number_take_that_group() {
    require_nobody_can_run_the_app();
    let user = nobody();
    // A group nobody is not in, given as a number: the workers get it and only it.
    let daemon = Group::from_name("daemon").unwrap().map_or(Gid::from_raw(1), |g| g.gid);
    let server = serve(&["start", "--user", &user.uid.to_string(), "--group", &daemon.to_string()]);
    let me = who(server.port);
    assert_eq!(me["uid"].as_u64(), Some(u64::from(user.uid.as_raw())));
    assert_eq!(me["gid"].as_u64(), Some(u64::from(daemon.as_raw())));
    let groups: Vec<u32> = serde_json::from_value(me["groups"].clone()).unwrap();
    assert_eq!(groups, groups_of("nobody", daemon));
    assert!(groups.contains(&daemon.as_raw()), "{groups:?}");
    assert!(server.stop().success());
}

#[test]
fn port_80_is_bound_as_root_and_served_as_nobody() {
    require_nobody_can_run_the_app();
    // Port 80 is the one port tests share across processes: wait for any other test
    // process to be done with it, then it must be free.
    let port_80 = Reserved::wait_for(80);
    require(TcpListener::bind("127.0.0.1:80").is_ok(), "port 80 on 127.0.0.1 free (another program holds it): stop that program");
    let mut cmd = warp(&["start", "--user", "nobody", "--group", "nogroup", "--port", "80"]);
    cmd.env_remove("PORT");
    let server = Server::spawn(cmd, port_80, app().root());
    let me = who(80);
    let nogroup = Group::from_name("nogroup").unwrap().map_or(nobody().gid, |g| g.gid);
    assert_eq!(me["uid"].as_u64(), Some(u64::from(nobody().uid.as_raw())));
    assert_eq!(me["gid"].as_u64(), Some(u64::from(nogroup.as_raw())));
    assert!(server.stop().success());
}

#[test]
fn without_root_only_the_current_user_is_accepted() {
    require_nobody_can_run_the_app();
    let user = nobody();
    let as_nobody = |args: &[&str]| {
        let mut cmd = warp(args);
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw()).env("HOME", "/");
        cmd
    };
    let out = run_fails(&mut as_nobody(&["start", "--user", "root"]), 1);
    assert_eq!(
        stderr_line(&out),
        format!(
            "error: --user root needs root: warp runs as uid {} gid {} and cannot switch; start it as root, or drop --user and --group",
            user.uid, user.gid
        )
    );
    // Its own user is no switch at all: here checked through --setup-only, which starts
    // nothing, and whose unit then runs warp as that user.
    let root = tempfile::Builder::new().prefix("warp-root-").tempdir_in(app().root()).unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let dir = root.path().join("server");
    run_ok(&mut as_nobody(&["start", "--user", "nobody", "--setup-only", "--server-root", dir.to_str().unwrap()]));
    let env = std::fs::read_to_string(dir.join("warp.env")).unwrap();
    assert!(env.lines().any(|l| l == "WARP_USER=nobody"), "{env}");
    let unit = std::fs::read_to_string(dir.join("warp.service")).unwrap();
    let group = Group::from_gid(user.gid).unwrap().unwrap().name;
    assert!(unit.lines().any(|l| l == "User=nobody") && unit.lines().any(|l| l == format!("Group={group}")), "{unit}");
}

#[test]
fn the_recorder_folder_is_made_for_the_workers_and_refused_when_they_cannot_write_to_it() {
    require_nobody_can_run_the_app();
    let made = app().root().join("records-for-nobody");
    let server = serve(&["start", "--user", "nobody", "--enable-recorder", made.to_str().unwrap()]);
    assert_eq!(get(server.port, "/").status, 200);
    let records = || {
        std::fs::read_dir(&made)
            .map_or(0, |dir| dir.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json")).count())
    };
    eventually(Duration::from_secs(10), "a worker running as nobody writes a record", || records() == 1);
    assert_eq!(std::fs::metadata(&made).unwrap().uid(), nobody().uid.as_raw(), "warp made the folder for the workers");
    assert!(server.stop().success());

    let roots = app().root().join("records-of-root");
    std::fs::create_dir(&roots).unwrap();
    std::fs::set_permissions(&roots, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run_fails(&mut warp(&["start", "--user", "nobody", "--enable-recorder", roots.to_str().unwrap()]), 2);
    assert_eq!(
        stderr_line(&out),
        format!(
            "error: --enable-recorder: the workers run as nobody, who cannot write to {0}: give them the folder (chown nobody {0}), or name another",
            roots.display()
        )
    );
}

// ---------------------------------------------------------------------------------------
// --setup-only and warpctl

/// `DIR/warpctl ACTION` from `/`, with nothing of the test's environment but PATH: all it
/// knows comes from warp.env.
fn warpctl(dir: &Path, action: &str) -> Command {
    let mut cmd = Command::new(dir.join("warpctl"));
    cmd.arg(action).current_dir("/").env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

fn output(cmd: &mut Command) -> (Option<i32>, String, String) {
    let Output { status, stdout, stderr } = cmd.output().expect("warpctl runs");
    (status.code(), String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned())
}

fn server_root() -> (tempfile::TempDir, PathBuf) {
    let holder = tempfile::Builder::new().prefix("warp-root-").tempdir_in(app().root()).unwrap();
    let dir = holder.path().join("server");
    (holder, dir)
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn setup_only_needs_a_server_root() {
    let out = run_fails(&mut app().warp(&["start", "--setup-only"]), 2);
    assert!(out.contains("--server-root"), "{out}");
}

#[test]
fn setup_only_refuses_what_warp_env_cannot_hold() {
    app().write("it's/index.html", "x");
    let (_holder, dir) = server_root();
    let out = app().fails(&["start", "--setup-only", "--server-root", dir.to_str().unwrap(), "--document-root", "it's"], 1);
    let line = stderr_line(&out);
    assert!(line.starts_with("error: WARP_DOCUMENT_ROOT would be ") && line.contains("which warp.env cannot hold"), "{line}");
    assert!(!dir.exists(), "a refused setup wrote {}", dir.display());
}

#[test]
fn setup_only_writes_the_resolved_settings_and_warpctl_runs_them() {
    let app = app();
    let (_holder, dir) = server_root();
    // warp.env names a port, so it is reserved, for warpctl's server and the blocker below.
    let reserved = reserve_port();
    let port = reserved.port;
    let src = std::fs::canonicalize(app.app()).unwrap();
    let out = app.ok(&[
        "start",
        "--setup-only",
        "--server-root",
        dir.to_str().unwrap(),
        "--port",
        &port.to_string(),
        "--processes",
        "2",
        "--threads",
        "3",
        "--listen-backlog",
        "64",
        "--startup-timeout",
        "20",
        "--queue-timeout",
        "7",
        "--request-timeout",
        "30",
        "--socket-timeout",
        "9",
        "--shutdown-timeout",
        "2.5",
        "--graceful-timeout",
        "4",
        "--maximum-requests",
        "1000",
        "--restart-interval",
        "3600",
        "--inactivity-timeout",
        "600",
        "--memory-limit",
        "512M",
        "--limit-request-body",
        "1M",
        "--access-log",
        "--log-level",
        "warning",
        "--trust-proxy-header",
        "X-Forwarded-For",
        "--trust-proxy-header",
        "X-Forwarded-Proto",
        "--trust-proxy",
        "127.0.0.1/32",
        "--url-alias",
        "/static",
        "static",
        "--document-root",
        "public files",
    ]);
    let dir = std::fs::canonicalize(&dir).unwrap();
    assert!(out.contains(&format!("{}/warpctl start", dir.display())), "{out}");
    assert!(!listening(port), "--setup-only started a server");
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["warp.env", "warp.service", "warpctl"]);
    assert_eq!(std::fs::metadata(dir.join("warpctl")).unwrap().permissions().mode() & 0o777, 0o755);

    // warp.env: every setting, resolved.
    let env = std::fs::read_to_string(dir.join("warp.env")).unwrap();
    let mut lines: Vec<&str> = env.lines().filter(|l| !l.starts_with('#')).collect();
    lines.sort_unstable();
    let mut expected = vec![
        format!("WARP_SRC={}", src.display()),
        "WARP_APP=wsgi.py".to_owned(),
        "WARP_HOST=127.0.0.1".to_owned(),
        format!("WARP_PORT={port}"),
        "WARP_METRICS_HOST=127.0.0.1".to_owned(),
        "WARP_LISTEN_BACKLOG=64".to_owned(),
        "WARP_PROCESSES=2".to_owned(),
        "WARP_THREADS=3".to_owned(),
        "WARP_STARTUP_TIMEOUT=20".to_owned(),
        "WARP_QUEUE_TIMEOUT=7".to_owned(),
        "WARP_REQUEST_TIMEOUT=30".to_owned(),
        "WARP_SOCKET_TIMEOUT=9".to_owned(),
        "WARP_SHUTDOWN_TIMEOUT=2.5".to_owned(),
        "WARP_GRACEFUL_TIMEOUT=4".to_owned(),
        "WARP_MAXIMUM_REQUESTS=1000".to_owned(),
        "WARP_RESTART_INTERVAL=3600".to_owned(),
        "WARP_INACTIVITY_TIMEOUT=600".to_owned(),
        "WARP_MEMORY_LIMIT=536870912".to_owned(),
        "WARP_LIMIT_REQUEST_BODY=1048576".to_owned(),
        "WARP_BUFFER_REQUEST_BODY=on".to_owned(),
        "WARP_HEADER_TIMEOUT=20".to_owned(),
        "WARP_BODY_TIMEOUT=20".to_owned(),
        "WARP_BODY_MIN_RATE=500".to_owned(),
        "WARP_WRITE_MIN_RATE=500".to_owned(),
        "WARP_RELOAD_ON_CHANGES=false".to_owned(),
        "WARP_RECORDER_KEEP_SECRETS=false".to_owned(),
        "WARP_ACCESS_LOG=on".to_owned(),
        "WARP_LOG_LEVEL=warning".to_owned(),
        "WARP_ALLOW_ROOT=true".to_owned(),
        "WARP_SERVER_TYPE=warp".to_owned(),
        // A program that is its own server is found again at each start, by these rules.
        "WARP_DETECTION=warp".to_owned(),
        format!("WARP_URL_ALIAS=/static={}/static", src.display()),
        format!("WARP_DOCUMENT_ROOT='{}/public files'", src.display()),
        "WARP_TRUST_PROXY_HEADER=x-forwarded-for,x-forwarded-proto".to_owned(),
        "WARP_TRUST_PROXY=127.0.0.1/32".to_owned(),
    ];
    expected.sort_unstable();
    assert_eq!(lines, expected, "warp.env:\n{env}");

    // warp.service.
    let warp = std::fs::canonicalize(env!("CARGO_BIN_EXE_warp")).unwrap();
    let unit = std::fs::read_to_string(dir.join("warp.service")).unwrap();
    for line in [
        "Type=simple".to_owned(),
        format!("EnvironmentFile={}/warp.env", dir.display()),
        format!("WorkingDirectory={}", src.display()),
        format!("ExecStart={} start", warp.display()),
        "ExecReload=/bin/kill -HUP $MAINPID".to_owned(),
        "KillSignal=SIGTERM".to_owned(),
        "KillMode=mixed".to_owned(),
        "TimeoutStopSec=8".to_owned(),
        "Restart=on-failure".to_owned(),
    ] {
        assert!(unit.lines().any(|l| l == line), "warp.service lacks {line}:\n{unit}");
    }
    if is_root() {
        assert!(!unit.lines().any(|l| l.starts_with("User=") || l.starts_with("Group=")), "{unit}");
    }
    // systemd's own reading, where it is installed: a line it cannot parse is named as
    // warp.service:LINE.
    if let Ok(verified) = Command::new("systemd-analyze").arg("verify").arg(dir.join("warp.service")).output() {
        let complaints = String::from_utf8_lossy(&verified.stderr);
        assert!(!complaints.contains("warp.service:"), "{complaints}");
    }

    // A stale pid file (a process that is gone) is not a running warp.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    std::fs::write(dir.join("warp.pid"), format!("{}\n", gone.id())).unwrap();
    let (code, stdout, _) = output(&mut warpctl(&dir, "status"));
    assert_eq!(
        (code, stdout.trim()),
        (Some(3), format!("warpctl: warp is not running (stale pid file {}/warp.pid)", dir.display()).as_str())
    );

    // The port taken: warp exits, and warpctl says so.
    let blocker = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (code, _, stderr) = output(&mut warpctl(&dir, "start"));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with("warpctl: warp exited while starting (status 1)"), "{stderr}");
    assert!(!dir.join("warp.pid").exists());
    drop(blocker);

    // Started from warp.env alone, from another folder, with the error log at warning
    // level (no "ready" line to wait for): the port answers when start returns.
    let (code, stdout, stderr) = output(&mut warpctl(&dir, "start"));
    assert_eq!(code, Some(0), "{stdout}{stderr}\n{}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
    let pid: u32 = std::fs::read_to_string(dir.join("warp.pid")).unwrap().trim().parse().unwrap();
    assert_eq!(stdout.trim(), format!("warpctl: warp is serving http://127.0.0.1:{port}/ (pid {pid})"));
    let _cleanup = Killer(pid);
    assert_eq!(who(port)["uid"].as_u64(), Some(u64::from(Uid::effective().as_raw())));
    assert_eq!(get(port, "/static/hello.txt").text(), "hello from static\n");
    assert_eq!(get(port, "/robots.txt").text(), "User-agent: *\n", "the quoted document root");

    let (code, stdout, _) = output(&mut warpctl(&dir, "status"));
    assert_eq!(
        (code, stdout.trim()),
        (Some(0), format!("warpctl: warp is running (pid {pid}), serving http://127.0.0.1:{port}/").as_str())
    );
    let (code, _, stderr) = output(&mut warpctl(&dir, "start"));
    assert_eq!((code, stderr.trim()), (Some(1), format!("warpctl: warp is already running (pid {pid})").as_str()));

    // graceful: new workers, the same master, and no moment without an answer.
    let before = get(port, "/pid").text();
    let (code, _, stderr) = output(&mut warpctl(&dir, "graceful"));
    assert_eq!(code, Some(0), "{stderr}");
    wait_until("graceful replaced the workers", || {
        let response = get(port, "/pid");
        assert_eq!(response.status, 200);
        response.text() != before
    });
    assert_eq!(std::fs::read_to_string(dir.join("warp.pid")).unwrap().trim(), pid.to_string());

    let (code, stdout, _) = output(&mut warpctl(&dir, "stop"));
    assert_eq!((code, stdout.trim()), (Some(0), "warpctl: warp stopped"));
    assert!(!listening(port), "still listening after stop");
    assert!(!dir.join("warp.pid").exists());
    let (code, stdout, _) = output(&mut warpctl(&dir, "status"));
    assert_eq!((code, stdout.trim()), (Some(3), "warpctl: warp is not running"));
    let (code, stdout, _) = output(&mut warpctl(&dir, "stop"));
    assert_eq!((code, stdout.trim()), (Some(0), "warpctl: warp is not running"));
    assert_eq!(output(&mut warpctl(&dir, "graceful")).0, Some(7));
    for wrong in ["bogus", ""] {
        let (code, stdout, stderr) = output(&mut warpctl(&dir, wrong));
        assert_eq!((code, stdout.as_str(), stderr.trim()), (Some(2), "", "usage: warpctl start | stop | restart | graceful | status"));
    }

    // The logs: the banner with the resolved settings, and the requests served.
    let errors = std::fs::read_to_string(dir.join("error.log")).unwrap();
    assert!(errors.contains("capacity:   2 process(es) x 3 thread(s) = 6"), "{errors}");
    for line in [
        format!("  url:        http://127.0.0.1:{port}/ (listening on 127.0.0.1:{port}, backlog 64)"),
        "  timeouts:   startup 20s, queue 7s, request 30s, socket 9s, shutdown 2.5s, graceful 4s, header 20s, body 20s".to_owned(),
        "  recycling:  maximum requests 1000, restart interval 3600s, inactivity 600s, memory limit 512 MiB".to_owned(),
        "  body limit: 1048576 bytes, received whole before the app runs".to_owned(),
        "  proxies:    x-forwarded-for, x-forwarded-proto from 127.0.0.1/32".to_owned(),
        format!("  static:     /static -> {}/static", src.display()),
        format!("  static:     files in {}/public files (document root), else the app", src.display()),
    ] {
        assert!(errors.lines().any(|l| l == line), "the banner lacks {line:?}:\n{errors}");
    }
    assert!(errors.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{errors}");
    let access = std::fs::read_to_string(dir.join("access.log")).unwrap();
    assert!(access.lines().any(|l| l.contains("\"GET /static/hello.txt HTTP/1.1\" 200")), "{access}");
}

#[test]
fn warpctl_restart_keeps_the_workers_as_the_user_given() {
    require_nobody_can_run_the_app();
    let (_holder, dir) = server_root();
    let reserved = reserve_port();
    let port = reserved.port;
    run_ok(&mut warp(&["start", "--setup-only", "--server-root", dir.to_str().unwrap(), "--port", &port.to_string(), "--user", "nobody"]));
    let env = std::fs::read_to_string(dir.join("warp.env")).unwrap();
    assert!(env.lines().any(|l| l == "WARP_USER=nobody") && env.lines().any(|l| l == "WARP_ALLOW_ROOT=false"), "{env}");
    let unit = std::fs::read_to_string(dir.join("warp.service")).unwrap();
    assert!(!unit.lines().any(|l| l.starts_with("User=")), "{unit}");

    let (code, stdout, stderr) = output(&mut warpctl(&dir, "start"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let pid: u32 = std::fs::read_to_string(dir.join("warp.pid")).unwrap().trim().parse().unwrap();
    let _cleanup = Killer(pid);
    assert_eq!(who(port)["uid"].as_u64(), Some(u64::from(nobody().uid.as_raw())));
    assert_eq!(process_uid(pid), "Uid:\t0\t0\t0\t0");

    let (code, stdout, stderr) = output(&mut warpctl(&dir, "restart"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let new_pid: u32 = std::fs::read_to_string(dir.join("warp.pid")).unwrap().trim().parse().unwrap();
    assert_ne!(new_pid, pid);
    let _cleanup_new = Killer(new_pid);
    assert_eq!(who(port)["uid"].as_u64(), Some(u64::from(nobody().uid.as_raw())));
    run_ok(&mut warpctl(&dir, "stop"));
    assert!(!listening(port));
}

/// Kills a warp that warpctl started, with its workers, if a test fails before stopping it.
struct Killer(u32);

impl Drop for Killer {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.0 as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
    }
}
