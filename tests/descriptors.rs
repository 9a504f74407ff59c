//! The descriptors the embedded server is handed and must not trust blindly: the listening
//! socket the master names in a worker's settings, and the files an app gives to
//! `wsgi.file_wrapper`, which the app may close, shrink or lie about while they are sent.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use warp_worker_config::{AccessLogFormat, LogLevel, WorkerConfig};

use crate::rawhttp::{get, Client};
use crate::running::Server;
use crate::util::Sandbox;

/// The misbehaving app, built once for every test here.
fn app() -> &'static Sandbox {
    static APP: OnceLock<Sandbox> = OnceLock::new();
    APP.get_or_init(Sandbox::robust)
}

/// More than the loopback send buffer and a slow client's receive buffer hold together,
/// so a send of it is still under way while that client holds back.
const LARGE: usize = 32 << 20;

/// A file of `size` bytes, every one `byte`.
fn file_of(dir: &Path, name: &str, byte: u8, size: usize) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, vec![byte; size]).unwrap();
    path
}

/// A client with a small receive buffer that reads only when the test does, so the
/// server's send of a large file waits on it.
fn slow_client(port: u16) -> Client {
    let client = Client::connect(port);
    socket2::SockRef::from(&client.stream).set_recv_buffer_size(64 << 10).unwrap();
    client
}

/// What follows the first byte of `body` that is not `byte`, for failure messages.
fn after_file_bytes(body: &[u8], byte: u8) -> String {
    match body.iter().position(|&b| b != byte) {
        Some(i) => format!("at byte {i}: {:?}", String::from_utf8_lossy(&body[i..body.len().min(i + 200)])),
        None => "nothing else".to_owned(),
    }
}

#[test]
fn a_file_wrapper_whose_fileno_is_negative_is_read_through_instead() {
    // One thread: the request after it shows that thread survived.
    let server = Server::start(app(), &["start", "--threads", "1"]);
    let response = get(server.port, "/negative-fileno");
    assert_eq!(response.status, 200, "{}", server.log());
    assert_eq!(response.text(), "read, not sent\n".repeat(1000));
    assert_eq!(get(server.port, "/after").status, 200);
    assert!(server.stop().success());
}

#[test]
fn a_file_closed_by_another_thread_while_it_is_sent_is_still_the_file_sent() {
    let dir = tempfile::tempdir().unwrap();
    let sent = file_of(dir.path(), "sent", b'a', LARGE);
    let other = file_of(dir.path(), "other", b'b', LARGE);
    let server = Server::start(app(), &["start", "--threads", "2"]);
    // Connected first, so its socket cannot take the number the app's file leaves free.
    let mut swapper = Client::connect(server.port);
    let mut client = slow_client(server.port);
    client.send(format!("GET /sendfile?{} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", sent.display()).as_bytes());
    let head = client.head().expect("a response head");
    assert_eq!((head.status, head.header("content-length")), (200, Some(LARGE.to_string())));
    // The head goes out after the server made its own descriptor for the file; the rest
    // now waits for this client, sent by the event loop. Meanwhile the app's descriptor is
    // closed (by the app's close(), or by the request below), and the request below makes
    // its number name another file.
    swapper.send(format!("GET /swap?sent={}&other={} HTTP/1.1\r\nHost: localhost\r\n\r\n", sent.display(), other.display()).as_bytes());
    let swap = swapper.response(false).expect("a response to /swap");
    assert_eq!(swap.status, 200, "{}", server.log());
    let (body, whole) = client.take(LARGE);
    assert!(whole, "the body ended after {} of {LARGE} bytes:\n{}", body.len(), server.log());
    assert!(body.iter().all(|&b| b == b'a'), "bytes of another file came {}", after_file_bytes(&body, b'a'));
    assert!(server.stop().success());
}

#[test]
fn a_file_that_shrinks_while_sent_as_a_chunk_ends_the_connection_without_a_last_chunk() {
    shrink_while_sent("/sendfile-chunked");
}

#[test]
fn a_file_that_shrinks_before_its_request_ends_ends_the_connection_too() {
    // The request thread, not the event loop, finds the file short.
    shrink_while_sent("/sendfile-chunked-held");
}

/// Truncate the file `route` sends as a chunk once the chunk began, with a second request
/// pipelined behind it.
fn shrink_while_sent(route: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = file_of(dir.path(), "shrinks", b'x', LARGE);
    let server = Server::start(app(), &["start"]);
    let mut client = slow_client(server.port);
    // A second request waits behind the first: it must not be answered on this connection.
    let first = format!("GET {route}?{} HTTP/1.1\r\nHost: localhost\r\n\r\n", file.display());
    client.send(format!("{first}GET /next HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes());
    let head = client.head().expect("a response head");
    assert_eq!((head.status, head.header("transfer-encoding").as_deref()), (200, Some("chunked")));
    assert_eq!(client.line().as_deref(), Some(&b"6"[..]));
    assert_eq!(client.take(8), (b"begin\n\r\n".to_vec(), true));
    let size_line = client.line().expect("the file's chunk header");
    let promised = usize::from_str_radix(std::str::from_utf8(&size_line).unwrap(), 16).unwrap();
    assert_eq!(promised, LARGE, "the chunk promises the whole file");
    // The file loses its bytes while the send waits for this client.
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(0).unwrap();
    let (rest, closed) = client.until_closed(Duration::from_secs(10));
    assert!(closed, "the connection stayed open after {} bytes; after the file's came {}", rest.len(), after_file_bytes(&rest, b'x'));
    assert!(rest.len() < promised, "all {promised} promised bytes came: the file shrank too late for this test");
    // Nothing but the file's bytes: no end of the chunk, no last chunk, no next response.
    assert!(rest.iter().all(|&b| b == b'x'), "after the file's bytes came {}", after_file_bytes(&rest, b'x'));
    server.wait_for_log("shrank while it was sent", Duration::from_secs(5));
    assert!(server.stop().success());
}

/// Worker settings as the master writes them, with `listen_fd` and no control channel.
fn worker_settings(listen_fd: i32) -> String {
    let config = WorkerConfig {
        app: "wsgi:application".to_owned(),
        src: app().app().to_string_lossy().into_owned(),
        listen_fd,
        control_fd: -1,
        scoreboard_fd: -1,
        threads: 1,
        processes: 1,
        server_name: "127.0.0.1".to_owned(),
        server_port: 8000,
        limit_request_body: 1 << 20,
        header_timeout: Duration::from_secs(20),
        buffer_request_body: true,
        body_timeout: Duration::from_secs(20),
        body_min_rate: 500,
        write_min_rate: 500,
        queue_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
        socket_timeout: Duration::from_secs(5),
        shutdown_timeout: Duration::from_secs(1),
        graceful_timeout: Duration::from_secs(1),
        maximum_requests: 0,
        restart_interval: Duration::ZERO,
        inactivity_timeout: Duration::ZERO,
        memory_limit: 0,
        url_aliases: Vec::new(),
        document_root: None,
        trust_proxy_headers: Vec::new(),
        trusted_proxies: Vec::new(),
        access_log: AccessLogFormat::Off,
        log_level: LogLevel::Info,
        health_path: None,
        debugger: false,
        profiler_dir: None,
        coverage_dir: None,
        recorder: None,
        worker_id: 0,
    };
    serde_json::to_string(&config).unwrap()
}

/// Run a worker by hand, as the master does, with `stdin` as its fd 0; its exit status
/// and stderr once it has ended, which it must within a few seconds.
fn run_worker(listen_fd: i32, stdin: Stdio) -> (ExitStatus, String) {
    let mut child = Command::new(app().venv().join("bin/python"))
        .args(["-m", "warp_server"])
        .current_dir(app().app())
        .env("WARP_WORKER_CONFIG", worker_settings(listen_fd))
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("a worker with listen_fd {listen_fd} still runs after 20 s:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status, stderr)
}

fn assert_refused(listen_fd: i32, stdin: Stdio, why: &str) {
    let (status, stderr) = run_worker(listen_fd, stdin);
    assert_eq!(status.code(), Some(1), "{stderr}");
    let expected = format!("warp: worker 0 cannot start: the listening socket (listen_fd {listen_fd}) {why}");
    assert!(stderr.contains(&expected), "expected {expected:?} in:\n{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

#[test]
fn a_worker_whose_listen_fd_is_closed_exits_saying_so() {
    // No descriptor 1000 is open in the worker.
    assert_refused(1000, Stdio::null(), "is not an open file descriptor");
}

#[test]
fn a_worker_whose_listen_fd_is_a_file_exits_saying_so() {
    let file = std::fs::File::open(app().app().join("wsgi.py")).unwrap();
    assert_refused(0, Stdio::from(file), "is a regular file, not a listening TCP socket");
}

#[test]
fn a_worker_whose_listen_fd_is_a_connection_exits_saying_so() {
    // Not a listener: the worker would wait for clients forever.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let connection = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    assert_refused(0, Stdio::from(OwnedFd::from(connection)), "is a TCP socket that is not listening");
}
