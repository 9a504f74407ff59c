//! Request bodies: received whole by the server before the app runs (in memory, or spilled
//! to an unlinked temporary file), `Expect: 100-continue`, 400 and 413 before the app, the
//! minimum rate, and streaming with `--buffer-request-body off`.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::rawhttp::{get, Client, Response};
use crate::running::Server;
use crate::util::{wait_until_called, Sandbox};

/// The robust app, served with a temporary folder of its own, so its spilled bodies can be
/// told from anything else's.
fn serve(app: &Sandbox, args: &[&str]) -> Server {
    let tmp = app.root().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cmd = app.warp(&[&["start"], args].concat());
    cmd.env("TMPDIR", &tmp);
    Server::launch(cmd, app.root())
}

/// What /digest says of the body it read.
pub fn digest_of(response: &Response) -> serde_json::Value {
    assert_eq!(response.status, 200, "{}", response.text());
    serde_json::from_slice(&response.body).unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn called(app: &Sandbox, path: &str) -> bool {
    std::fs::read_to_string(app.app().join("started.log")).unwrap_or_default().lines().any(|line| line == path)
}

/// `data` as a chunked body in pieces of `piece` bytes.
pub fn chunked(data: &[u8], piece: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    for part in data.chunks(piece) {
        wire.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        wire.extend_from_slice(part);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn bodies_are_received_whole_before_the_app_runs_and_read_byte_exact() {
    let app = Sandbox::robust();
    let server = serve(&app, &["--threads", "1"]);
    let port = server.port;

    // In memory.
    let small = pattern(100 * 1024);
    let mut client = Client::connect(port);
    client.send(format!("POST /digest HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n", small.len()).as_bytes());
    client.send(&small);
    let said = digest_of(&client.response(false).unwrap());
    assert_eq!((said["length"].as_u64(), said["sha256"].as_str()), (Some(small.len() as u64), Some(sha256(&small).as_str())));
    assert_eq!((said["CONTENT_LENGTH"].as_str(), said["spilled"].as_u64()), (Some("102400"), Some(0)));

    // Past the memory threshold, chunked: spilled to an unlinked file, and the app is told
    // the decoded length.
    let large = pattern(3 << 20);
    client.send(b"POST /digest HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    client.send(&chunked(&large, 65536));
    let said = digest_of(&client.response(false).unwrap());
    assert_eq!((said["length"].as_u64(), said["sha256"].as_str()), (Some(large.len() as u64), Some(sha256(&large).as_str())));
    assert_eq!((said["CONTENT_LENGTH"].as_str(), said["spilled"].as_u64()), (Some("3145728"), Some(1)));
    let tmp = app.root().join("tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the spilled body left nothing in {}", tmp.display());

    // A body on its way holds no thread: with the only thread free, other requests are
    // answered, and the app sees the request only once its body is whole.
    let mut slow = Client::connect(port);
    slow.send(b"POST /digest HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234");
    assert_eq!(get(port, "/meanwhile").status, 200);
    let calls = std::fs::read_to_string(app.app().join("started.log")).unwrap().lines().filter(|l| *l == "/digest").count();
    assert_eq!(calls, 2, "the slow body's request reached the app before its body was whole");
    slow.send(b"56789");
    let said = digest_of(&slow.response(false).unwrap());
    assert_eq!(said["sha256"].as_str(), Some(sha256(b"0123456789").as_str()));
    assert!(server.stop().success());
}

#[test]
fn expect_100_continue_is_answered_before_the_body_and_an_oversized_body_is_refused_unread() {
    let app = Sandbox::robust();
    let server = serve(&app, &["--limit-request-body", "1K"]);

    let mut client = Client::connect(server.port);
    client.send(b"POST /digest HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
    let interim = client.head().expect("an interim response");
    assert_eq!(interim.status, 100);
    client.send(b"0123456789");
    assert_eq!(digest_of(&client.response(false).unwrap())["length"].as_u64(), Some(10));

    // Over the limit: 413 at once, with no go-ahead, and the body is not waited for.
    let mut client = Client::connect(server.port);
    client.send(b"POST /digest HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
    let refused = client.response(false).expect("a response");
    assert_eq!(refused.status, 413, "{}", refused.text());
    assert!(client.closed(), "the connection stays open after a 413");
    assert!(server.stop().success());
}

#[test]
fn bad_chunked_bodies_get_400_or_413_from_the_server_and_never_reach_the_app() {
    let app = Sandbox::robust();
    let server = serve(&app, &["--limit-request-body", "1K"]);
    let cases: [(&[u8], u16); 3] = [
        // Over the limit once decoded.
        (&chunked(&[b'x'; 1600], 800), 413),
        // The data is longer than its size line says.
        (b"3\r\nabcd\r\n0\r\n\r\n", 400),
        // A size that is not hexadecimal.
        (b"zz\r\nabc\r\n0\r\n\r\n", 400),
    ];
    for (wire, status) in cases {
        let mut client = Client::connect(server.port);
        client.send(b"POST /digest HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
        client.send(wire);
        let answer = client.response(false).expect("a response");
        assert_eq!(answer.status, status, "{}: {}", String::from_utf8_lossy(wire), answer.text());
        assert!(client.closed());
    }
    assert!(!called(&app, "/digest"), "a bad body reached the app");
    server.wait_for_log_count("refused a request from", 3, Duration::from_secs(5));
    assert!(!server.log().contains("Traceback"), "{}", server.log());
    assert!(server.stop().success());
}

#[test]
fn a_body_slower_than_the_minimum_rate_gets_408_without_reaching_the_app() {
    let app = Sandbox::robust();
    let server = serve(&app, &["--body-timeout", "1", "--body-min-rate", "1000"]);
    let mut client = Client::connect(server.port);
    let started = Instant::now();
    // 1 s, plus a hundredth of a second for the 10 bytes: then it is overdue.
    client.send(b"POST /digest HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n0123456789");
    let answer = client.response(false).expect("a response");
    assert_eq!(answer.status, 408, "{}", answer.text());
    assert!(started.elapsed() >= Duration::from_secs(1), "cut off after {:?}", started.elapsed());
    assert!(client.closed());
    assert!(!called(&app, "/digest"));

    // A body that keeps the rate is received, however long it takes in all.
    let mut client = Client::connect(server.port);
    client.send(b"POST /digest HTTP/1.1\r\nHost: h\r\nContent-Length: 3000\r\n\r\n");
    for part in pattern(3000).chunks(1000) {
        client.send(part);
        // The client's pace, not a wait for the server: 1000 bytes every 0.6 s keeps
        // above 1000 bytes/s only thanks to the first second's allowance.
        std::thread::sleep(Duration::from_millis(600));
    }
    assert_eq!(digest_of(&client.response(false).unwrap())["length"].as_u64(), Some(3000));
    assert!(server.stop().success());
}

#[test]
fn streaming_mode_hands_the_body_to_the_app_as_it_arrives() {
    let app = Sandbox::robust();
    let server = serve(&app, &["--buffer-request-body", "off"]);
    let mut client = Client::connect(server.port);
    client.send(b"POST /echo-first?5 HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello");
    wait_until_called(&app, "/echo-first", 1);
    let head = client.head().expect("the response head");
    assert_eq!(head.status, 200);
    // The first chunk carries the first five bytes, echoed before the rest was sent.
    assert_eq!(client.line().as_deref(), Some(&b"5"[..]));
    assert_eq!(client.take(7).0, b"hello\r\n");
    client.send(b"world");
    assert_eq!(client.line().as_deref(), Some(&b"2"[..]));
    assert_eq!(client.take(4).0, b"|5\r\n");
    assert!(server.stop().success());
}

#[test]
fn a_streamed_body_slower_than_the_minimum_rate_gets_408() {
    let app = Sandbox::robust();
    let server = serve(&app, &["--buffer-request-body", "off", "--body-timeout", "1", "--body-min-rate", "1000"]);
    let mut client = Client::connect(server.port);
    let started = Instant::now();
    client.send(b"POST /digest HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n0123456789");
    // The app reads the body as it comes, and its read gives up once the allowance is spent.
    wait_until_called(&app, "/digest", 1);
    let answer = client.response(false).expect("a response");
    assert_eq!(answer.status, 408, "{}", answer.text());
    assert!(started.elapsed() >= Duration::from_secs(1), "cut off after {:?}", started.elapsed());
    assert!(client.closed());
    assert!(server.stop().success());
}
