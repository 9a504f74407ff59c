//! `--health-path` in the embedded server, and the `warp alive` / `warp ready` probes.

use std::time::{Duration, Instant};

use crate::rawhttp::{exchange, get, Client};
use crate::running::{reserve_port, Server};
use crate::util::{run_fails, run_ok, wait_until_called, Sandbox};

fn calls(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.app().join("calls.log")).unwrap_or_default()
}

#[test]
fn the_health_path_answers_without_the_app_even_when_every_thread_is_busy() {
    let sandbox = Sandbox::robust();
    let server = Server::start(&sandbox, &["start", "--threads", "1", "--health-path", "/healthz", "--access-log", "on"]);
    assert!(server.log().contains("health:     /healthz"), "{}", server.log());
    let port = server.port;
    let busy = std::thread::spawn(move || get(port, "/sleep?3").status);
    wait_until_called(&sandbox, "/sleep", 1);
    let started = Instant::now();
    let health = get(port, "/healthz?from=probe");
    assert_eq!((health.status, health.text().as_str()), (200, "OK\n"));
    assert!(started.elapsed() < Duration::from_secs(2), "the health check waited for the busy thread: {:?}", started.elapsed());
    assert_eq!(health.header("content-type").as_deref(), Some("text/plain"));
    let head = exchange(port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n").expect("an answer");
    assert_eq!((head.status, head.header("content-length").as_deref()), (200, Some("3")));
    assert_eq!(busy.join().unwrap(), 200);
    // Other paths still reach the app, and the health path never does, also when it comes
    // pipelined behind an app request (then the request thread answers it, still without
    // the app).
    let mut client = Client::connect(port);
    client.send(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(client.response(false).expect("the app's answer").status, 200);
    let health = client.response(false).expect("the health answer");
    assert_eq!((health.status, health.text().as_str()), (200, "OK\n"));
    assert_eq!(calls(&sandbox), "/sleep\n/other\n");
    // Probes every few seconds would drown the access log.
    let access = server.output();
    assert!(access.contains("GET /other") && !access.contains("/healthz"), "{access}");
    assert!(server.stop().success());

    // Off by default: the same path is the app's.
    let server = Server::start(&sandbox, &["start"]);
    assert!(get(server.port, "/healthz").text().starts_with("/healthz pid="));
    server.stop();
    let err = sandbox.fails(&["start", "--health-path", "healthz"], 2);
    assert!(err.lines().next().unwrap_or("").contains("\"healthz\" is not a URL path: give one such as /healthz"), "{err}");
    let err = run_fails(sandbox.warp(&["start"]).env("WARP_HEALTH_PATH", "/healthz?full"), 2);
    assert!(err.contains("has a query string"), "{err}");
}

/// A stopping worker tells balancers to go elsewhere: its health path says 503.
#[test]
fn the_health_path_says_503_while_the_worker_stops() {
    let sandbox = Sandbox::robust();
    let server = Server::start(&sandbox, &["start", "--health-path", "/healthz"]);
    let port = server.port;
    // A request in flight keeps the worker stopping for a while; a connection accepted
    // before the stop may still send its first request (it gets a short grace).
    let in_flight = std::thread::spawn(move || get(port, "/sleep?2").status);
    let waiting: Vec<Client> = (0..20).map(|_| Client::connect(port)).collect();
    wait_until_called(&sandbox, "/sleep", 1);
    server.signal(nix::sys::signal::Signal::SIGTERM);
    // The worker learns of the stop a moment after the signal: each connection asks once,
    // until one is answered by a stopping worker.
    let mut answers = Vec::new();
    for mut client in waiting {
        client.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        let response = client.response(false).expect("an answer");
        answers.push((response.status, response.text()));
        if response.status != 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(answers.last().map(|(s, t)| (*s, t.as_str())), Some((503, "stopping\n")), "{answers:?}");
    assert_eq!(in_flight.join().unwrap(), 200);
    assert!(server.exit_within(Duration::from_secs(10)).success());
}

/// An app answering 500 on /broken and 200 elsewhere.
fn app_with_a_broken_page() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write(
        "wsgi.py",
        "def application(environ, start_response):\n    broken = environ['PATH_INFO'] == '/broken'\n    start_response('500 Internal Server Error' if broken else '200 OK', [])\n    return [b'']\n",
    );
    sandbox.ok(&["build"]);
    sandbox
}

/// `warp WHICH --port PORT EXTRA...` in the sandbox.
pub fn probe(sandbox: &Sandbox, which: &str, port: u16, extra: &[&str]) -> std::process::Command {
    let port = port.to_string();
    let mut args = vec![which, "--port", &port];
    args.extend_from_slice(extra);
    sandbox.warp(&args)
}

#[test]
fn alive_and_ready_exit_0_only_when_the_server_answers_well_enough() {
    let sandbox = app_with_a_broken_page();
    // Nothing listening: both fail with one line.
    // A port nothing listens on, and nothing will while the test holds it.
    let reserved = reserve_port();
    let nobody = reserved.port;
    for which in ["alive", "ready"] {
        let err = run_fails(&mut probe(&sandbox, which, nobody, &[]), 1);
        assert_eq!(
            err.trim_end(),
            format!("error: warp {which}: nothing answers on 127.0.0.1:{nobody} (connection refused): is `warp start` running there?")
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let server = Server::start(&sandbox, &["start", "--health-path", "/healthz"]);
    let port = server.port;
    assert_eq!(run_ok(&mut probe(&sandbox, "alive", port, &[])), "", "a passing probe prints nothing");
    run_ok(&mut probe(&sandbox, "ready", port, &[]));
    // A 500 is alive but not ready.
    run_ok(&mut probe(&sandbox, "alive", port, &["--path", "/broken"]));
    let err = run_fails(&mut probe(&sandbox, "ready", port, &["--path", "/broken?verbose=1"]), 1);
    assert_eq!(err.trim_end(), format!("error: warp ready: 127.0.0.1:{port} answered GET /broken?verbose=1 with 500: not ready"));
    // The health path is the default path when set, through WARP_HEALTH_PATH as for start;
    // the host warp start listens on everywhere is probed on loopback.
    run_ok(probe(&sandbox, "ready", port, &["--host", "0.0.0.0"]).env("WARP_HEALTH_PATH", "/healthz"));

    // The app's hooks have the last word: a failure is quoted by its last line.
    sandbox.write_exec(".warp/action_hooks/ready", "#!/bin/sh\necho checking\necho database unreachable\nexit 3\n");
    let err = run_fails(&mut probe(&sandbox, "ready", port, &[]), 1);
    assert_eq!(err.trim_end(), "error: warp ready: the action hook ready exited with code 3: database unreachable");
    run_ok(&mut probe(&sandbox, "alive", port, &[]));
    // A passing hook runs in the app's environment, and its output is not shown.
    sandbox.write_exec(".warp/action_hooks/alive", "#!/bin/sh\necho \"$VIRTUAL_ENV\" > alive-ran\necho all good\n");
    sandbox.write_exec(".warp/action_hooks/ready", "#!/bin/sh\ntest -n \"$VIRTUAL_ENV\" && echo fine\n");
    assert_eq!(run_ok(&mut probe(&sandbox, "ready", port, &[])), "");
    assert_eq!(run_ok(&mut probe(&sandbox, "alive", port, &[])), "");
    let venv = std::fs::read_to_string(sandbox.app().join("alive-ran")).unwrap();
    assert_eq!(std::path::Path::new(venv.trim()).canonicalize().unwrap(), sandbox.venv().canonicalize().unwrap());
    // The server is asked first: a hook never makes up for a server that does not answer.
    // (Asked where nothing listens for sure: the port the server had is the kernel's again.)
    server.stop();
    let err = run_fails(&mut probe(&sandbox, "alive", nobody, &[]), 1);
    assert!(err.contains("nothing answers"), "{err}");
}

#[test]
fn a_server_that_does_not_answer_in_time_fails_the_probe() {
    // Accepts connections (the kernel's queue) but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sandbox = Sandbox::new();
    let started = Instant::now();
    let err = run_fails(&mut probe(&sandbox, "alive", port, &["--timeout", "0.5"]), 1);
    assert!(err.contains("did not answer GET / within"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    drop(listener);
}

#[test]
fn probe_settings_that_cannot_work_are_usage_errors() {
    let sandbox = Sandbox::new();
    let err = sandbox.fails(&["ready", "--path", "healthz"], 2);
    assert!(err.contains("\"healthz\" is not a URL path"), "{err}");
    let err = sandbox.fails(&["alive", "--timeout", "0"], 2);
    assert_eq!(err.trim_end(), "error: warp alive: --timeout 0 leaves the server no time to answer: give seconds, such as 1 or 0.5");
    let err = run_fails(sandbox.warp(&["alive"]).env("PORT", "http"), 2);
    assert_eq!(err, "error: PORT: \"http\" is not a port number: give one from 0 to 65535\n");
}
