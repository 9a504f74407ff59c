//! `warp start --setup-only --server-root DIR`: settings, control script and systemd unit
//! written, nothing started; then `warpctl` runs the same server.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::rawhttp::get;
use crate::running::free_port;
use crate::util::{run_fails, run_ok, Sandbox};

fn warpctl(dir: &Path, action: &str) -> Command {
    let mut cmd = Command::new(dir.join("warpctl"));
    cmd.arg(action);
    cmd
}

#[test]
fn setup_only_writes_the_configuration_and_warpctl_runs_it() {
    let app = Sandbox::robust();
    let root = app.root().join("server");
    let port = free_port();
    let out = app.ok(&[
        "start", "--setup-only", "--server-root", root.to_str().unwrap(), "--port", &port.to_string(), "--processes", "2",
        "--queue-timeout", "7", "--trust-proxy-header", "X-Forwarded-For",
    ]);
    assert!(out.contains("warpctl start"), "{out}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "--setup-only started a server");

    let env = std::fs::read_to_string(root.join("warp.env")).unwrap();
    for line in [format!("WARP_PORT={port}"), "WARP_PROCESSES=2".into(), "WARP_QUEUE_TIMEOUT=7".into(), "WARP_APP=wsgi.py".into(), "WARP_TRUST_PROXY_HEADER=x-forwarded-for".into(), format!("WARP_SRC={}", app.app().display())] {
        assert!(env.lines().any(|l| l == line), "warp.env lacks {line}:\n{env}");
    }
    let unit = std::fs::read_to_string(root.join("warp.service")).unwrap();
    assert!(unit.contains(&format!("EnvironmentFile={}/warp.env", root.display())), "{unit}");
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"), "{unit}");

    let started = run_ok(&mut warpctl(&root, "start"));
    assert!(started.contains(&format!("serving http://127.0.0.1:{port}/")), "{started}");
    let first = get(port, "/pid").text();
    assert!(run_ok(&mut warpctl(&root, "status")).contains("is running"));
    run_fails(&mut warpctl(&root, "start"), 1);
    run_ok(&mut warpctl(&root, "graceful"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get(port, "/pid").text() == first {
        assert!(std::time::Instant::now() < deadline, "graceful did not replace the workers");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(root.join("error.log")).unwrap();
    assert!(log.contains("queue 7s") && log.contains("2 process(es)"), "{log}");
    run_ok(&mut warpctl(&root, "stop"));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "still listening after stop");
    run_fails(&mut warpctl(&root, "status"), 3);
    run_fails(&mut warpctl(&root, "bogus"), 2);
    assert!(!root.join("warp.pid").exists());
}
