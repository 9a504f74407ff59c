//! The embedded server's self-healing, each feature proven on an app that misbehaves:
//! startup, queue, request and socket timeouts; recycling; graceful reload; reload on
//! changes; the access log.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::rawhttp::{exchange, get, Client, Response};
use crate::request_bodies::{chunked, digest_of, pattern, sha256};
use crate::running::Server;
use crate::util::{eventually, wait_until_called, Sandbox};

/// The pid of the worker that answers.
fn worker_pid(port: u16) -> String {
    pid_from(port, "/pid")
}

/// The pid of the worker that answers a GET of `path`.
fn pid_from(port: u16, path: &str) -> String {
    let text = get(port, path).text();
    text.split_whitespace().find_map(|word| word.strip_prefix("pid=")).unwrap_or_else(|| panic!("no pid in {text:?}")).to_owned()
}

fn calls(app: &Sandbox) -> String {
    std::fs::read_to_string(app.app().join("calls.log")).unwrap_or_default()
}

#[test]
fn a_worker_whose_import_hangs_or_fails_is_retried_until_the_app_loads() {
    let app = Sandbox::robust();
    app.write("hang-import", "");
    let server = Server::start_unready(&app, &["start", "--startup-timeout", "1"]);
    server.wait_for_log("did not load the app within the startup timeout (1s); killing it", Duration::from_secs(10));
    app.write("fail-import", "");
    std::fs::remove_file(app.app().join("hang-import")).unwrap();
    server.wait_for_log("RuntimeError: import failed on purpose", Duration::from_secs(15));
    assert!(server.log().contains("before it was ready"), "{}", server.log());
    std::fs::remove_file(app.app().join("fail-import")).unwrap();
    // Connections wait in the listen queue meanwhile: the first request is simply answered.
    assert_eq!(get(server.port, "/").status, 200);
    assert!(server.stop().success());
}

#[test]
fn requests_that_wait_past_the_queue_timeout_get_503_without_calling_the_app() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--threads", "1", "--queue-timeout", "1"]);
    let port = server.port;
    let busy = std::thread::spawn(move || get(port, "/sleep?2.5"));
    wait_until_called(&app, "/sleep", 1);
    let started = Instant::now();
    let waiting: Vec<_> = (0..4).map(|i| std::thread::spawn(move || get(port, &format!("/queued-{i}")))).collect();
    for client in waiting {
        let response = client.join().unwrap();
        assert_eq!(response.status, 503, "{}", response.text());
        assert!(response.text().contains("queue timeout"), "{}", response.text());
    }
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(2), "503s came after {waited:?}, not at the queue timeout");
    assert_eq!(busy.join().unwrap().status, 200);
    assert!(!calls(&app).contains("queued"), "the app was called: {}", calls(&app));
    // The backlog cleared: the next request is served at once.
    assert_eq!(get(port, "/after").status, 200);
    assert!(server.stop().success());
}

#[test]
fn a_stuck_request_dumps_every_stack_and_the_worker_is_replaced() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--threads", "3", "--request-timeout", "1", "--graceful-timeout", "1"]);
    let port = server.port;
    let first = worker_pid(port);
    let mut stuck = Client::connect(port);
    stuck.send(b"GET /hang HTTP/1.1\r\nHost: h\r\n\r\n");
    wait_until_called(&app, "/hang", 1);
    // Other requests complete meanwhile.
    assert_eq!(get(port, "/sleep?0.3").status, 200);
    server.wait_for_log("request timeout: GET /hang on thread", Duration::from_secs(5));
    assert_eq!(stuck.response(false).expect("an answer").status, 504);
    // faulthandler's dump names the frame that is stuck.
    server.wait_for_log("in application", Duration::from_secs(5));
    let started = Instant::now();
    eventually(Duration::from_secs(6), "a new worker answers", || worker_pid(port) != first);
    assert!(started.elapsed() < Duration::from_secs(4), "replacement took {:?}", started.elapsed());
    // The old worker gives up on the stuck request at the graceful timeout.
    server.wait_for_log("stop timeout: 1 request(s) still running", Duration::from_secs(6));
    assert!(server.stop().success());
}

#[test]
fn a_request_timeout_answers_504_and_costs_no_innocent_request() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--threads", "3", "--request-timeout", "2", "--graceful-timeout", "10"]);
    let port = server.port;
    let mut stuck = Client::connect(port);
    stuck.send(b"GET /hang HTTP/1.1\r\nHost: h\r\n\r\n");
    wait_until_called(&app, "/hang", 1);
    // The scenario's timing, not a wait for the server: the requests below start when the
    // stuck one has run a while, so that they are in flight when its timeout strikes (two
    // running on the other threads, each shorter than the timeout; three waiting for them
    // on the same worker).
    std::thread::sleep(Duration::from_millis(1200));
    let innocent: Vec<_> = ["/sleep?1.5", "/sleep?1.5", "/queued-1", "/queued-2", "/queued-3"]
        .into_iter()
        .map(|path| std::thread::spawn(move || get(port, path)))
        .collect();
    let answer = stuck.response(false).expect("an answer to the stuck request");
    assert_eq!(answer.status, 504, "{}", answer.text());
    assert!(stuck.closed());
    server.wait_for_log("answered 504 for GET /hang (request timeout)", Duration::from_secs(5));
    for (i, request) in innocent.into_iter().enumerate() {
        let response = request.join().unwrap();
        assert_eq!(response.status, 200, "innocent request {i}: {}", response.text());
    }
    assert_eq!(calls(&app).lines().filter(|l| l.starts_with("/queued-")).count(), 3);
    assert!(server.stop().success());
}

#[test]
fn what_a_replaced_worker_never_started_is_served_by_its_successor() {
    let app = Sandbox::robust();
    // One thread, which the stuck request keeps: the old worker has none left for the
    // requests queued behind it. It would wait up to the graceful timeout for that thread;
    // everything below is answered while it still does.
    let server =
        Server::start(&app, &["start", "--threads", "1", "--request-timeout", "2", "--graceful-timeout", "120", "--queue-timeout", "120"]);
    let port = server.port;
    let pid_in = |response: &Response| response.text().split_whitespace().find_map(|w| w.strip_prefix("pid=").map(str::to_owned));
    // A keep-alive connection that has had a request, and one whose head is half sent.
    let mut kept = Client::connect(port);
    kept.send(b"GET /pid HTTP/1.1\r\nHost: h\r\n\r\n");
    let old = pid_in(&kept.response(false).expect("an answer")).expect("a pid");
    let mut half = Client::connect(port);
    half.send(b"GET /half HTTP/1.1\r\nHo");
    let mut stuck = Client::connect(port);
    stuck.send(b"GET /hang HTTP/1.1\r\nHost: h\r\n\r\n");
    wait_until_called(&app, "/hang", 1);
    // Queued behind it: a GET, and two POSTs whose bodies the old worker has received, one
    // held in memory and one spilled to a file, chunked.
    let mut queued = Client::connect(port);
    queued.send(b"GET /queued HTTP/1.1\r\nHost: h\r\n\r\n");
    let (small, large) = (pattern(1000), pattern(3 << 20));
    let mut in_memory = Client::connect(port);
    in_memory.send(format!("POST /digest HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", small.len()).as_bytes());
    in_memory.send(&small);
    let mut spilled = Client::connect(port);
    spilled.send(b"POST /digest HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    spilled.send(&chunked(&large, 65536));

    assert_eq!(stuck.response(false).expect("an answer to the stuck request").status, 504);
    let answer = queued.response(false).expect("an answer to the queued request");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let new = pid_in(&answer).expect("a pid");
    assert_ne!(new, old, "the old worker answered:\n{}", server.log());
    for (client, body) in [(&mut in_memory, &small), (&mut spilled, &large)] {
        let said = digest_of(&client.response(false).expect("an answer to a POST"));
        assert_eq!((said["length"].as_u64(), said["sha256"].as_str()), (Some(body.len() as u64), Some(sha256(body).as_str())));
        assert_eq!(said["pid"].as_u64().map(|p| p.to_string()), Some(new.clone()));
    }
    // The idle connections went over too, and carry on there.
    kept.send(b"GET /pid HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(pid_in(&kept.response(false).expect("an answer on the kept connection")), Some(new.clone()));
    half.send(b"st: h\r\n\r\n");
    assert_eq!(pid_in(&half.response(false).expect("an answer to the half-sent head")), Some(new.clone()));
    let log = server.log();
    assert!(log.contains("connection(s) with no request started to the successor") && log.contains("took over "), "{log}");
    assert!(!log.contains("stop timeout"), "the old worker gave up first:\n{log}");
    assert!(server.stop().success());
}

#[test]
fn a_request_timeout_closes_a_response_that_began() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--request-timeout", "1", "--graceful-timeout", "1"]);
    let mut client = Client::connect(server.port);
    client.send(b"GET /hang-after-head HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(client.head().expect("the response head").status, 200);
    assert_eq!(client.line().as_deref(), Some(&b"6"[..]));
    assert_eq!(client.take(8), (b"begun\n\r\n".to_vec(), true));
    let (rest, closed) = client.until_closed(Duration::from_secs(10));
    assert!(closed && rest.is_empty(), "after the first chunk came {rest:?}");
    server.wait_for_log("closed the connection of GET /hang-after-head (request timeout, response begun)", Duration::from_secs(5));
    assert!(server.stop().success());
}

#[test]
fn a_head_that_takes_longer_than_the_header_timeout_gets_408() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--header-timeout", "1"]);
    let mut client = Client::connect(server.port);
    let started = Instant::now();
    client.send(b"GET / HTTP/1.1\r\nHost: h\r\n");
    let answer = client.response(false).expect("a response");
    assert_eq!(answer.status, 408, "{}", answer.text());
    assert!(started.elapsed() >= Duration::from_secs(1), "cut off after {:?}", started.elapsed());
    assert!(client.closed());
    assert!(server.stop().success());
}

#[test]
fn slow_and_stalled_clients_are_cut_off_without_holding_a_thread() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--threads", "1", "--socket-timeout", "1"]);
    let port = server.port;

    // Slowloris: a head that trickles in never completes.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n").unwrap();
    let started = Instant::now();
    let mut cut_off = false;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(200));
        if slow.write_all(b"X-A: b\r\n").is_err() {
            cut_off = true;
            break;
        }
    }
    let mut answer = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = slow.read_to_string(&mut answer);
    assert!(cut_off || answer.starts_with("HTTP/1.1 408"), "slowloris was not cut off: {answer:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "cut off after {:?}", started.elapsed());

    // A body that stops halfway frees the only thread within the socket timeout.
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stalled.write_all(b"POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789").unwrap();
    // Not a wait for the server: the body never reaches the app, so there is no event to
    // wait on. The pause only lets the half body arrive before the next request does; the
    // assertion below holds, or fails, whatever the pause.
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(get(port, "/after-body").status, 200);
    assert!(started.elapsed() < Duration::from_secs(3), "thread held for {:?}", started.elapsed());

    // A client that stops reading a large response frees it too.
    let mut deaf = TcpStream::connect(("127.0.0.1", port)).unwrap();
    deaf.write_all(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    wait_until_called(&app, "/big", 1);
    let started = Instant::now();
    assert_eq!(get(port, "/after-big").status, 200);
    assert!(started.elapsed() < Duration::from_secs(3), "thread held for {:?}", started.elapsed());
    drop((slow, stalled, deaf));

    // An idle keep-alive connection is closed after the socket timeout.
    let mut idle = Client::connect(port);
    idle.send(b"GET /idle HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(idle.response(false).unwrap().status, 200);
    assert!(idle.closed(), "the idle connection stayed open");
    assert!(server.stop().success());
}

/// Send requests one after another until `stop` is set; returns (sent, failures).
fn steady_load(port: u16, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> std::thread::JoinHandle<(u32, Vec<String>)> {
    std::thread::spawn(move || {
        let (mut sent, mut failures) = (0, Vec::new());
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            sent += 1;
            match exchange(port, b"GET /load HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") {
                Some(response) if response.status == 200 => {}
                Some(response) => failures.push(format!("{} {}", response.status, response.text())),
                None => failures.push("no response".to_owned()),
            }
        }
        (sent, failures)
    })
}

#[test]
fn sighup_reloads_new_code_without_dropping_a_request() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--processes", "2", "--threads", "2"]);
    let port = server.port;
    assert!(get(port, "/v").text().ends_with("version=1"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..3).map(|_| steady_load(port, stop.clone())).collect();

    let source = std::fs::read_to_string(app.app().join("wsgi.py")).unwrap();
    app.write("wsgi.py", &source.replace("VERSION = \"1\"", "VERSION = \"2\""));
    server.signal(Signal::SIGHUP);
    // Both workers replaced (a reload that supersedes one still loading would leave the
    // other process on the old code, which is not what this test is about).
    server.wait_for_log_count("stops accepting and finishes its requests", 2, Duration::from_secs(20));
    eventually(Duration::from_secs(10), "the new code serves", || get(port, "/v").text().ends_with("version=2"));
    // New code that fails to load leaves the running code serving.
    app.write("fail-import", "");
    app.write("wsgi.py", &source.replace("VERSION = \"1\"", "VERSION = \"3\""));
    server.signal(Signal::SIGHUP);
    server.wait_for_log("import failed on purpose", Duration::from_secs(10));
    // The master has seen the successor die: the old worker is still the one serving.
    server.wait_for_log("before it was ready", Duration::from_secs(10));
    for _ in 0..4 {
        let answer = get(port, "/v");
        assert!(answer.text().ends_with("version=2"), "{} {}\n{}", answer.status, answer.text(), server.log());
    }

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for handle in load {
        let (sent, failures) = handle.join().unwrap();
        assert!(sent > 10, "only {sent} requests were sent");
        assert!(failures.is_empty(), "{} of {sent} failed: {failures:?}\n{}", failures.len(), server.log());
    }
    assert!(server.stop().success());
}

#[test]
fn workers_are_recycled_after_maximum_requests_without_losing_any() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--maximum-requests", "20", "--threads", "2"]);
    let port = server.port;
    let mut pids = std::collections::BTreeSet::new();
    // Requests that take a little time, as real ones do, so that successors (which take
    // a few tens of milliseconds to load) take over while the test runs.
    for _ in 0..120 {
        pids.insert(pid_from(port, "/sleep?0.01"));
    }
    assert!(pids.len() >= 3, "only {pids:?} served 120 requests:\n{}", server.log());
    assert!(server.log().contains("asks to be replaced (maximum_requests)"), "{}", server.log());
    assert!(server.stop().success());
}

#[test]
fn restart_interval_inactivity_and_memory_limit_recycle_workers() {
    let app = Sandbox::robust();
    for (flags, nudge, reason) in [
        (&["--restart-interval", "1"][..], None, "restart_interval"),
        (&["--inactivity-timeout", "1"][..], None, "inactivity_timeout"),
        (&["--memory-limit", "200M"][..], Some("/grow?300"), "memory_limit"),
    ] {
        let mut args = vec!["start"];
        args.extend_from_slice(flags);
        let server = Server::start(&app, &args);
        let first = worker_pid(server.port);
        if let Some(path) = nudge {
            assert_eq!(get(server.port, path).status, 200);
        }
        // Idle until the worker asks to go, so the inactivity timeout can pass.
        server.wait_for_log(&format!("asks to be replaced ({reason})"), Duration::from_secs(8));
        eventually(Duration::from_secs(8), &format!("{flags:?} replaces the worker"), || worker_pid(server.port) != first);
        assert!(server.stop().success());
    }
}

#[test]
fn reload_on_changes_picks_up_an_edit() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--reload-on-changes"]);
    let port = server.port;
    assert!(get(port, "/v").text().ends_with("version=1"));
    let source = std::fs::read_to_string(app.app().join("wsgi.py")).unwrap();
    app.write("wsgi.py", &source.replace("VERSION = \"1\"", "VERSION = \"edited\""));
    eventually(Duration::from_secs(10), "the edit is served", || get(port, "/v").text().ends_with("version=edited"));
    assert!(server.log().contains("source changed: replacing every worker"), "{}", server.log());
    assert!(server.stop().success());
}

#[test]
fn the_banner_names_every_timeout_and_the_access_log_speaks_json() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--access-log", "json", "--queue-timeout", "7", "--graceful-timeout", "9"]);
    assert_eq!(get(server.port, "/json?q=1").status, 200);
    let output = server.output();
    eventually(Duration::from_secs(5), "the access log is written", || server.output().contains("/json"));
    let line = server.output().lines().find(|l| l.contains("/json")).map(str::to_owned).unwrap_or_else(|| panic!("{output}"));
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["uri"], "/json?q=1");
    let log = server.log();
    for part in [
        "startup 15s",
        "queue 7s",
        "request 60s",
        "socket 60s",
        "shutdown 5s",
        "graceful 9s",
        "capacity:   1 process(es) x 5 thread(s) = 5",
    ] {
        assert!(log.contains(part), "the banner lacks {part:?}:\n{log}");
    }
    assert!(server.stop().success());
}

#[test]
fn requests_arriving_together_each_get_a_thread() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--threads", "5", "--queue-timeout", "1.5"]);
    let port = server.port;
    let started = Instant::now();
    let clients: Vec<_> = (0..5).map(|_| std::thread::spawn(move || get(port, "/sleep?1").status)).collect();
    for client in clients {
        assert_eq!(client.join().unwrap(), 200);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "5 one-second requests on 5 threads took {took:?}");
    assert!(server.stop().success());
}

#[test]
fn sigterm_gives_a_stuck_request_the_shutdown_timeout_and_no_more() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--shutdown-timeout", "1"]);
    let mut stuck = Client::connect(server.port);
    stuck.send(b"GET /hang HTTP/1.1\r\nHost: h\r\n\r\n");
    wait_until_called(&app, "/hang", 1);
    let started = Instant::now();
    let status = server.stop();
    let took = started.elapsed();
    assert!(status.success(), "{status}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "stopped after {took:?}");
}
