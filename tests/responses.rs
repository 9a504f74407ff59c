//! Responses to clients that read slowly: handed to the event loop, so no Python thread
//! waits on them; files sent with sendfile from there; a streamed response held to the
//! buffer limit; and the minimum rate a client must read at.

use std::time::Duration;

use crate::rawhttp::{get, Client};
use crate::running::Server;
use crate::util::{wait_until_called, Sandbox};

/// A client that reads only when the test does, with a small receive buffer, so what the
/// server sends waits on it.
fn deaf_client(port: u16) -> Client {
    let client = Client::connect(port);
    socket2::SockRef::from(&client.stream).set_recv_buffer_size(64 << 10).unwrap();
    client
}

fn yielded(app: &Sandbox) -> usize {
    std::fs::read_to_string(app.app().join("yielded.log")).unwrap_or_default().trim().parse().unwrap_or(0)
}

#[test]
fn a_slow_reader_of_a_large_response_a_file_or_a_static_file_holds_no_thread() {
    let app = Sandbox::robust();
    let folder = app.root().join("files");
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("file.bin");
    let content: Vec<u8> = (0..48 << 20).map(|i: usize| (i % 253) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    // One thread, and a minute before a stalled write would give up: only a response the
    // thread handed over lets the next requests through.
    let server = Server::start(&app, &["start", "--threads", "1", "--url-alias", "/files/", folder.to_str().unwrap()]);

    let mut big = deaf_client(server.port);
    big.send(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    wait_until_called(&app, "/big", 1);
    assert_eq!(get(server.port, "/after-big").status, 200);

    let mut sent = deaf_client(server.port);
    sent.send(format!("GET /sendfile?{} HTTP/1.1\r\nHost: h\r\n\r\n", file.display()).as_bytes());
    wait_until_called(&app, "/sendfile", 1);
    assert_eq!(get(server.port, "/after-sendfile").status, 200);

    // A static file, which the thread answers without Python, is handed over too.
    let mut static_file = deaf_client(server.port);
    static_file.send(b"GET /files/file.bin HTTP/1.1\r\nHost: h\r\n\r\n");
    let head = static_file.head().expect("the static file's head");
    assert_eq!(head.status, 200);
    assert_eq!(get(server.port, "/after-static").status, 200);

    // All arrive whole, and their connections serve the next request.
    let response = big.response(false).unwrap();
    assert!(response.complete && response.body.len() == 32 << 20 && response.body.iter().all(|&b| b == b'x'));
    let response = sent.response(false).unwrap();
    assert!(response.complete && response.body == content, "the file arrived changed ({} bytes)", response.body.len());
    let (body, whole) = static_file.take(content.len());
    assert!(whole && body == content, "the static file arrived changed ({} bytes)", body.len());
    for client in [&mut big, &mut sent, &mut static_file] {
        client.send(b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(client.response(false).unwrap().status, 200);
    }
    assert!(server.stop().success());
}

#[test]
fn a_streamed_response_runs_ahead_of_a_slow_reader_only_to_the_buffer_limit() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--threads", "2"]);
    let mut client = deaf_client(server.port);
    client.send(b"GET /stream?64 HTTP/1.1\r\nHost: h\r\n\r\n");
    wait_until_called(&app, "/stream", 1);
    // The other thread serves meanwhile; the stream's thread waits once 1 MiB is waiting
    // (and the sockets' buffers are full), far from its 64 blocks.
    assert_eq!(get(server.port, "/meanwhile").status, 200);
    let ahead = yielded(&app);
    assert!((1..16).contains(&ahead), "the app was let run {ahead} MiB ahead of its client");
    let response = client.response(false).unwrap();
    assert!(response.complete && response.body.len() == 64 << 20);
    assert_eq!(yielded(&app), 64);
    assert!(server.stop().success());
}

#[test]
fn a_client_that_reads_slower_than_the_minimum_rate_is_cut_off() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--socket-timeout", "1", "--write-min-rate", "1M"]);
    let mut client = deaf_client(server.port);
    client.send(b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    // Never read until the server gives up on it: it closes the connection mid-body.
    server.wait_for_log("took the response too slowly (--write-min-rate)", Duration::from_secs(15));
    let response = client.response(false).unwrap();
    assert!(!response.complete && response.body.len() < 32 << 20, "{} bytes came", response.body.len());
    assert!(server.stop().success());
}

#[test]
fn a_request_sent_while_the_previous_one_runs_is_answered() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start"]);
    let mut client = Client::connect(server.port);
    client.send(b"GET /sleep?0.3 HTTP/1.1\r\nHost: h\r\n\r\n");
    wait_until_called(&app, "/sleep", 1);
    // Arrives while the connection is busy: the poller reports it then, and not again.
    client.send(b"GET /second HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(client.response(false).unwrap().status, 200);
    let second = client.response(false).expect("an answer to the request sent meanwhile");
    assert!(second.text().starts_with("/second "), "{}", second.text());
    assert!(server.stop().success());
}

#[test]
fn a_slow_app_under_load_gets_every_response_whole_and_in_order() {
    // An app this slow, with requests waiting for it, leaves its responses to the event
    // loop, which sends them and reads the next requests while the thread goes on in
    // Python: each client still gets its own answers, in order, on its connection.
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start", "--threads", "5"]);
    let port = server.port;
    let clients: Vec<_> = (0..8)
        .map(|c| {
            std::thread::spawn(move || {
                let mut client = Client::connect(port);
                for pair in 0..15 {
                    // Two at a time, the second pipelined behind the first.
                    let paths = [format!("/spin/{c}/{pair}a"), format!("/spin/{c}/{pair}b")];
                    client.send(paths.iter().map(|p| format!("GET {p} HTTP/1.1\r\nHost: h\r\n\r\n")).collect::<String>().as_bytes());
                    for path in &paths {
                        let response = client.response(false).expect("an answer on the same connection");
                        assert!(response.complete && response.text().starts_with(&format!("{path} ")), "{path}: {}", response.text());
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("every client got its answers");
    }
    assert_eq!(std::fs::read_to_string(app.app().join("calls.log")).unwrap().lines().count(), 8 * 15 * 2);
    assert!(server.stop().success());
}
