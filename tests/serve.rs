//! The embedded server, over real sockets: PEP 3333, HTTP/1.1, malformed requests, and
//! the master's supervision. The PEP 3333 and HTTP checks also run against gunicorn, to
//! show that they test the standard and not warp's reading of it.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::rawhttp::{exchange, get, Client};
use crate::running::{reserve_port, Server};
use crate::util::Sandbox;

/// The conformance app, built once (with gunicorn beside warp's server) for every test.
fn app() -> &'static Sandbox {
    static APP: OnceLock<Sandbox> = OnceLock::new();
    APP.get_or_init(|| {
        let sandbox = Sandbox::new();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance");
        for file in ["wsgi.py", "requirements.txt"] {
            std::fs::copy(fixture.join(file), sandbox.app().join(file)).unwrap();
        }
        sandbox.ok(&["build"]);
        sandbox
    })
}

fn warp(extra: &[&str]) -> Server {
    let mut args = vec!["start", ".", "wsgi:application", "--threads", "4"];
    args.extend_from_slice(extra);
    Server::start(app(), &args)
}

/// gunicorn itself, which must be given its port in advance.
fn gunicorn() -> Server {
    let port = reserve_port();
    let mut cmd = Command::new(app().venv().join("bin/gunicorn"));
    cmd.args(["--workers", "1", "--threads", "4", "--bind", &format!("127.0.0.1:{}", port.port), "wsgi:application"])
        .current_dir(app().app());
    Server::spawn(cmd, port, app().root())
}

fn calls() -> String {
    std::fs::read_to_string(app().app().join("calls.log")).unwrap_or_default()
}

fn closed_tags() -> String {
    std::fs::read_to_string(app().app().join("closed.log")).unwrap_or_default()
}

fn post(port: u16, path: &str, extra_headers: &str, body: &[u8]) -> crate::rawhttp::Response {
    let mut raw = format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra_headers}\r\n").into_bytes();
    raw.extend_from_slice(body);
    exchange(port, &raw).unwrap_or_else(|| panic!("no response to POST {path}"))
}

fn chunked(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ---------------------------------------------------------------------------------------
// The checks shared by warp and gunicorn.

fn environ_is_complete(port: u16) {
    let response = exchange(
        port,
        b"GET /environ/caf%C3%A9?a=1&b=%20 HTTP/1.1\r\nHost: example.test:8123\r\nX-Custom: one\r\nX-Custom: two\r\nContent-Type: text/x-test\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(response.status, 200);
    let env: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(env["REQUEST_METHOD"], "GET");
    assert_eq!(env["SCRIPT_NAME"], "");
    assert_eq!(env["PATH_INFO"], "/environ/caf\u{c3}\u{a9}", "percent-decoded, as latin-1");
    assert_eq!(env["QUERY_STRING"], "a=1&b=%20");
    assert_eq!(env["SERVER_PROTOCOL"], "HTTP/1.1");
    assert_eq!(env["CONTENT_TYPE"], "text/x-test");
    assert!(env.get("HTTP_CONTENT_TYPE").is_none());
    assert_eq!(env["HTTP_X_CUSTOM"], "one,two");
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(env["wsgi.version"], serde_json::json!([1, 0]));
    assert_eq!(env["wsgi.url_scheme"], "http");
    assert_eq!(env["wsgi.multithread"], true);
    assert_eq!(env["wsgi.multiprocess"], false);
    assert_eq!(env["wsgi.run_once"], false);
}

fn input_reads_end_at_the_body(port: u16) {
    let body = b"abcdef\nsecond line\nthird\nlast";
    for framing in ["length", "chunked"] {
        let response = if framing == "length" {
            post(port, "/read-parts", &format!("Content-Length: {}\r\n", body.len()), body)
        } else {
            post(port, "/read-parts", "Transfer-Encoding: chunked\r\n", &chunked(&[b"abc", b"def\nsec", b"ond line\nthird\nlast"]))
        };
        let parts: Vec<String> = serde_json::from_slice(&response.body).unwrap();
        // read(3), readline(), readline(4), iteration of the rest, then EOF three times.
        assert_eq!(parts, ["abc", "def\n", "seco", "nd line\n", "third\n", "last", "", "", ""], "{framing}");
    }
    let response = post(port, "/readlines", "Content-Length: 8\r\n", b"a\nb\nc\nd\n");
    assert_eq!(response.text(), r#"["a\n", "b\n", "c\n", "d\n"]"#);
    let response = post(port, "/echo", "Transfer-Encoding: chunked\r\n", &chunked(&[b"hello ", b"world"]));
    assert_eq!(response.text(), "hello world");
}

fn write_callable(port: u16) {
    assert_eq!(get(port, "/write").text(), "abc");
}

/// PEP 3333: headers must not go out "until there is at least one non-empty bytestring
/// available for transmission", so an `exc_info` call after an empty chunk still sets the
/// status. gunicorn sends the headers with the empty chunk, so this check is warp's only.
fn empty_chunk_does_not_send_headers(port: u16) {
    let late = get(port, "/late-status");
    assert_eq!((late.status, late.text().as_str()), (503, "replaced"));
}

fn exc_info_after_headers_cuts_the_response(port: u16) {
    let response = get(port, "/exc-after-headers");
    assert_eq!(response.status, 200);
    assert!(response.text().starts_with("partial"));
    assert!(!response.text().contains("never"));
    assert!(!response.complete, "the response must not look complete");
}

fn close_is_always_called(port: u16) {
    let tag = format!("ok-{port}");
    assert_eq!(get(port, &format!("/close?{tag}")).text(), "xy");
    let failed = format!("fail-{port}");
    let response = exchange(port, format!("GET /close-fail?{failed} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").as_bytes());
    assert!(response.is_none_or(|r| !r.complete || r.status == 500));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(closed_tags().contains(&tag) && closed_tags().contains(&failed)) {
        assert!(Instant::now() < deadline, "close() not called: {}", closed_tags());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn file_wrapper_sends_the_file(port: u16) {
    let file = std::fs::read(app().app().join("wsgi.py")).unwrap();
    assert_eq!(get(port, "/file").body, file);
}

fn headers_are_latin1(port: u16) {
    let response = get(port, "/latin1");
    assert_eq!(response.headers.iter().find(|(n, _)| n == "X-Name").unwrap().1, b"caf\xe9");
}

fn header_injection_gives_500(port: u16) {
    let response = get(port, "/crlf");
    assert_eq!(response.status, 500);
    assert!(response.header("injected").is_none());
}

/// PEP 3333 forbids apps to set hop-by-hop headers but leaves the server's answer open;
/// warp's is a 500 (gunicorn honours `Connection: close` from the app instead).
fn hop_by_hop_header_gives_500(port: u16) {
    assert_eq!(get(port, "/hop").status, 500);
}

fn content_length_is_the_limit(port: u16) {
    let mut short = Client::connect(port);
    short.send(b"GET /short HTTP/1.1\r\nHost: h\r\n\r\n");
    let response = short.response(false).unwrap();
    assert!(!response.complete && response.body == b"12345", "fewer bytes than declared");
    assert!(short.closed(), "the connection is closed after a short body");
    let mut long = Client::connect(port);
    long.send(b"GET /long HTTP/1.1\r\nHost: h\r\n\r\nGET /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!(long.response(false).unwrap().body, b"12345");
    assert_eq!(long.response(false).unwrap().text(), "hello /hello", "nothing past the length leaked");
}

fn app_errors_give_500_and_the_server_goes_on(port: u16) {
    assert_eq!(get(port, "/error").status, 500);
    assert_eq!(get(port, "/after-error").text(), "hello /after-error");
}

fn keep_alive_and_pipelining(port: u16) {
    let mut client = Client::connect(port);
    for i in 0..3 {
        client.send(format!("GET /ka{i} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
        assert_eq!(client.response(false).unwrap().text(), format!("hello /ka{i}"));
    }
    client.send(b"GET /p1 HTTP/1.1\r\nHost: h\r\n\r\nGET /p2 HTTP/1.1\r\nHost: h\r\n\r\nGET /p3 HTTP/1.1\r\nHost: h\r\n\r\n");
    for i in 1..=3 {
        assert_eq!(client.response(false).unwrap().text(), format!("hello /p{i}"));
    }
}

fn chunked_and_close_delimited_responses(port: u16) {
    let response = get(port, "/chunks");
    assert_eq!(response.header("transfer-encoding").as_deref(), Some("chunked"));
    assert_eq!(response.text(), "onetwothree");
    let old = exchange(port, b"GET /chunks HTTP/1.0\r\n\r\n").unwrap();
    assert!(old.header("transfer-encoding").is_none(), "no chunking for HTTP/1.0");
    assert_eq!(old.text(), "onetwothree");
}

fn expect_continue(port: u16) {
    let mut client = Client::connect(port);
    client.send(b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = client.response(false).unwrap();
    assert_eq!(interim.status, 100);
    client.send(b"hello");
    assert_eq!(client.response(false).unwrap().text(), "hello");
}

fn head_and_http10(port: u16) {
    let head = exchange(port, b"HEAD /hello HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length").as_deref(), Some("12"));
    let mut client = Client::connect(port);
    client.send(b"GET /old HTTP/1.0\r\n\r\n");
    assert_eq!(client.response(false).unwrap().text(), "hello /old");
    assert!(client.closed(), "HTTP/1.0 closes without keep-alive");
}

/// An HTTP/1.0 client asking for keep-alive gets it. warp's only: under a loaded CI run,
/// gunicorn 27's gthread worker once left such a first request unanswered.
fn http10_keep_alive(port: u16) {
    let mut client = Client::connect(port);
    client.send(b"GET /old1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(client.response(false).unwrap().text(), "hello /old1");
    client.send(b"GET /old2 HTTP/1.0\r\n\r\n");
    assert_eq!(client.response(false).unwrap().text(), "hello /old2");
}

/// A named check against a server listening on the given port.
type Check = (&'static str, fn(u16));

const SHARED: &[Check] = &[
    ("environ_is_complete", environ_is_complete),
    ("input_reads_end_at_the_body", input_reads_end_at_the_body),
    ("write_callable", write_callable),
    ("exc_info_after_headers_cuts_the_response", exc_info_after_headers_cuts_the_response),
    ("close_is_always_called", close_is_always_called),
    ("file_wrapper_sends_the_file", file_wrapper_sends_the_file),
    ("headers_are_latin1", headers_are_latin1),
    ("header_injection_gives_500", header_injection_gives_500),
    ("content_length_is_the_limit", content_length_is_the_limit),
    ("app_errors_give_500_and_the_server_goes_on", app_errors_give_500_and_the_server_goes_on),
    ("keep_alive_and_pipelining", keep_alive_and_pipelining),
    ("chunked_and_close_delimited_responses", chunked_and_close_delimited_responses),
    ("expect_continue", expect_continue),
    ("head_and_http10", head_and_http10),
];

fn run_shared(server: &Server) {
    for (name, check) in SHARED {
        let outcome = std::panic::catch_unwind(|| check(server.port));
        assert!(outcome.is_ok(), "check {name} failed; server log:\n{}", server.log());
    }
}

/// warp names the server after the Host the client used (gunicorn reports its own bind
/// address), so applications rebuild their URLs the way the client sees them.
fn server_name_follows_host(port: u16) {
    let response = exchange(port, b"GET /environ HTTP/1.1\r\nHost: example.test:8123\r\nConnection: close\r\n\r\n").unwrap();
    let env: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!((env["SERVER_NAME"].as_str(), env["SERVER_PORT"].as_str()), (Some("example.test"), Some("8123")));
}

#[test]
fn warp_passes_the_pep3333_and_http_checks() {
    let server = warp(&[]);
    run_shared(&server);
    server_name_follows_host(server.port);
    http10_keep_alive(server.port);
    empty_chunk_does_not_send_headers(server.port);
    hop_by_hop_header_gives_500(server.port);
    let log = server.log();
    assert!(log.contains("boom from the app") && log.contains("Traceback"), "app errors are logged with a traceback:\n{log}");
    assert!(log.contains("wsgi.errors works"));
    assert!(server.stop().success());
}

#[test]
fn gunicorn_passes_the_same_checks() {
    let server = gunicorn();
    run_shared(&server);
}

// ---------------------------------------------------------------------------------------
// warp's own contract: statuses for malformed requests (gunicorn answers some of these
// differently, or not at all), and the master's supervision.

#[test]
fn malformed_requests_never_reach_the_app() {
    let server = warp(&["--limit-request-body", "1000"]);
    let big_head = format!("GET /m-big HTTP/1.1\r\nHost: h\r\nX-Big: {}\r\n\r\n", "a".repeat(70 * 1024));
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /m-many HTTP/1.1\r\nHost: h\r\n{many}\r\n");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("bad request line", b"GARBAGE\r\n\r\n".to_vec(), 400),
        ("HTTP/2.0", b"GET /m-v2 HTTP/2.0\r\nHost: h\r\n\r\n".to_vec(), 505),
        ("head over 64 KiB", big_head.into_bytes(), 431),
        ("over 100 headers", many.into_bytes(), 431),
        ("obs-fold", b"GET /m-fold HTTP/1.1\r\nHost: h\r\nX-A: a\r\n  folded\r\n\r\n".to_vec(), 400),
        ("NUL in a value", b"GET /m-nul HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n".to_vec(), 400),
        ("bad Content-Length", b"POST /m-cl HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n".to_vec(), 400),
        ("two Content-Lengths", b"POST /m-cl2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(), 400),
        (
            "CL and TE",
            b"POST /m-clte HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            400,
        ),
        ("unknown coding", b"POST /m-gzip HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(), 501),
        ("body over the limit", b"POST /m-413 HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n".to_vec(), 413),
    ];
    for (what, raw, status) in &cases {
        let mut client = Client::connect(server.port);
        client.send(raw);
        let response = client.response(false).unwrap_or_else(|| panic!("{what}: no response"));
        assert_eq!(response.status, *status, "{what}");
        assert!(client.closed(), "{what}: the connection is closed");
    }
    // Bad chunk sizes are found while the app reads the body: a 400 instead of the app's
    // response, never the app seeing bad data.
    let bad_chunk = post(server.port, "/echo", "Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n");
    assert_ne!(bad_chunk.status, 200);

    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/http/fuzz/corpus/parse_head");
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("valid_") {
            continue;
        }
        let mut client = Client::connect(server.port);
        client.send(&std::fs::read(&path).unwrap());
        // A head that is merely incomplete gets no answer until the client gives up; the
        // rest must get an error status.
        let _ = client.stream.shutdown(std::net::Shutdown::Write);
        if let Some(response) = client.response(false) {
            assert!(response.status >= 400, "{name}: {}", response.status);
        }
    }
    let called = calls();
    assert!(!called.contains("/m-"), "a malformed request reached the app:\n{called}");
    assert_eq!(get(server.port, "/still-serving").text(), "hello /still-serving");
    assert!(server.stop().success());
}

#[test]
fn a_crashed_worker_is_replaced() {
    let server = warp(&[]);
    assert!(exchange(server.port, b"GET /crash HTTP/1.1\r\nHost: h\r\n\r\n").is_none());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(response) = exchange(server.port, b"GET /back HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") {
            assert_eq!(response.text(), "hello /back");
            break;
        }
        assert!(Instant::now() < deadline, "no worker came back:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.log().contains("exited with code 1"), "{}", server.log());
    assert!(server.stop().success());
}

#[test]
fn sigterm_loses_no_request_in_flight() {
    let server = warp(&[]);
    let port = server.port;
    let clients: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                exchange(port, format!("GET /sleep?1 HTTP/1.1\r\nHost: h\r\nX-N: {i}\r\nConnection: close\r\n\r\n").as_bytes())
            })
        })
        .collect();
    // Stop once every thread is in the app (the other four requests wait their turn).
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls().lines().filter(|line| *line == "/sleep").count() < 4 {
        assert!(Instant::now() < deadline, "the app never had four requests at once:\n{}", calls());
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = server.stop();
    for client in clients {
        let response = client.join().unwrap().expect("every accepted request is answered");
        assert_eq!((response.status, response.text().as_str()), (200, "slept"));
    }
    assert!(status.success(), "{status}");
}
