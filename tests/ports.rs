//! `warp start --port 0` (any free port, reported in the banner) and `--port-file` (the
//! port written once a worker is ready), and where they are refused: other servers,
//! programs that are their own server, and `--setup-only`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::rawhttp::get;
use crate::running::Server;
use crate::util::{run_fails, Sandbox};

/// The port in `file`, once it is there.
fn port_in(file: &Path, server: &mut Server) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(file) {
            assert!(text.ends_with('\n') && text.lines().count() == 1, "{text:?}");
            return text.trim().parse().unwrap_or_else(|_| panic!("not a port: {text:?}"));
        }
        assert!(server.child.try_wait().unwrap().is_none(), "warp ended:\n{}", server.log());
        assert!(Instant::now() < deadline, "no port file:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn port_0_serves_on_the_port_the_banner_and_the_port_file_name() {
    let sandbox = Sandbox::robust();
    let file = sandbox.root().join("run/port");
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    // A file left by an earlier run goes before the socket is bound; while no worker has
    // loaded the app, there is none.
    std::fs::write(&file, "1\n").unwrap();
    sandbox.write("hang-import", "");
    let cmd = sandbox.warp(&["start", "--port", "0", "--port-file", file.to_str().unwrap(), "--startup-timeout", "1"]);
    let mut server = Server::spawn_unready(cmd, sandbox.root());
    server.wait_for_log("  url:        http://127.0.0.1:", Duration::from_secs(20));
    assert!(!file.exists(), "the stale port file is still there:\n{}", server.log());
    server.wait_for_log("did not load the app within the startup timeout", Duration::from_secs(10));
    assert!(!file.exists(), "the port file came before a worker was ready");
    std::fs::remove_file(sandbox.app().join("hang-import")).unwrap();

    let port = port_in(&file, &mut server);
    assert_ne!(port, 0);
    let banner = format!("  url:        http://127.0.0.1:{port}/ (listening on 127.0.0.1:{port}, backlog 500)");
    assert!(server.log().lines().any(|line| line == banner), "{}", server.log());
    let env: serde_json::Value = serde_json::from_slice(&get(port, "/env").body).unwrap();
    assert_eq!(env["SERVER_PORT"], port.to_string(), "the app is told the real port");
    assert!(server.stop().success());
    assert!(!file.exists(), "the port file outlived the server");
}

#[test]
fn the_port_file_comes_from_the_variable_and_config_yaml_too() {
    let sandbox = Sandbox::robust();
    sandbox.write(".warp/config.yaml", "server:\n  port_file: from-config\n");
    let text = sandbox.ok(&["config"]);
    let line = text.lines().find(|l| l.trim_start().starts_with("--port-file")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("from-config") && line.ends_with(".warp/config.yaml:2"), "{line}");
    // A relative path is taken from the folder warp starts in.
    let mut cmd = sandbox.warp(&["start", "--port", "0"]);
    cmd.env("WARP_PORT_FILE", "from-variable");
    let mut server = Server::spawn_unready(cmd, sandbox.root());
    let port = port_in(&sandbox.app().join("from-variable"), &mut server);
    assert_eq!(get(port, "/").status, 200);
    assert!(!sandbox.app().join("from-config").exists(), "the variable beats config.yaml");
    assert!(server.stop().success());
}

#[test]
fn port_0_and_the_port_file_are_refused_where_warp_cannot_report_the_port() {
    let sandbox = Sandbox::new();
    sandbox.write("wsgi.py", "def application(e, s):\n    s('200 OK', [])\n    return [b'']\n");
    sandbox.ok(&["build"]);
    let one_line = |err: &str, expected: &str| {
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(expected), "{err}");
    };
    let err = sandbox.fails(&["start", "--port", "0", "--server", "gunicorn"], 2);
    one_line(&err, "error: --port: 0 (any free port) needs warp's embedded server, which binds the port and reports it; --server gunicorn must be given a port number");
    let err = run_fails(sandbox.warp(&["start", "--server", "waitress", "--port-file", "port"]).env("PORT", "8123"), 2);
    one_line(&err, "error: --port-file: only warp's embedded server writes a port file, and --server waitress serves on its own");
    // PORT=0 means nothing to a program that is its own server.
    sandbox.write_exec("app.sh", "#!/bin/sh\nexec python -m http.server \"$PORT\"\n");
    let err = run_fails(sandbox.warp(&["start"]).env("PORT", "0"), 2);
    one_line(&err, "error: PORT: 0 (any free port) needs warp's embedded server");
    assert!(err.contains("app.sh (the app's own server) must be given a port number"), "{err}");
    std::fs::remove_file(sandbox.app().join("app.sh")).unwrap();
    // --setup-only writes a port down for warpctl to probe: it must be a real one.
    let root = sandbox.root().join("server");
    let err = sandbox.fails(&["start", "--setup-only", "--server-root", root.to_str().unwrap(), "--port", "0"], 2);
    one_line(&err, "error: --port: 0 (any free port) cannot be written down for later");
    assert!(!root.exists(), "a refused setup wrote {}", root.display());
    // A port file where no file can be.
    let err = sandbox.fails(&["start", "--port", "0", "--port-file", "no/such/folder/port"], 2);
    one_line(&err, "error: --port-file: no/such/folder/port is not a file in an existing folder: create the folder, or name another file");
    // --explain binds nothing, and says so.
    let text = sandbox.ok(&["start", "--port", "0", "--explain"]);
    assert!(text.lines().any(|l| l == "  url:        any free port on 127.0.0.1, chosen when bound (backlog 500)"), "{text}");
}
