//! `--url-alias` and `--document-root`: files served by Rust, with validators, ranges and
//! HEAD, and every way out of the folder refused before the app sees it.

use std::sync::OnceLock;

use crate::rawhttp::{exchange, Client};
use crate::running::Server;
use crate::util::Sandbox;

const CSS: &str = "body { color: #123456; }\n";

/// The app with a static folder, a document root, and a symlink leading out of the folder.
fn app() -> &'static Sandbox {
    static APP: OnceLock<Sandbox> = OnceLock::new();
    APP.get_or_init(|| {
        let sandbox = Sandbox::robust();
        sandbox.write("static/site.css", CSS);
        sandbox.write("static/docs/index.html", "<h1>docs</h1>");
        sandbox.write("static/numbers.txt", "0123456789");
        sandbox.write("public/robots.txt", "User-agent: *\n");
        std::os::unix::fs::symlink(sandbox.app().join("wsgi.py"), sandbox.app().join("static/escape.py")).unwrap();
        sandbox
    })
}

fn server() -> Server {
    Server::start(app(), &["start", "--url-alias", "/static", "static", "--document-root", "public"])
}

fn request(port: u16, raw: &str) -> crate::rawhttp::Response {
    exchange(port, raw.as_bytes()).expect("a response")
}

fn get(port: u16, path: &str, extra: &str) -> crate::rawhttp::Response {
    request(port, &format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n{extra}\r\n"))
}

fn app_calls() -> String {
    std::fs::read_to_string(app().app().join("calls.log")).unwrap_or_default()
}

#[test]
fn files_come_with_type_validators_and_conditional_answers() {
    let server = server();
    let port = server.port;
    let css = get(port, "/static/site.css", "");
    assert_eq!((css.status, css.text().as_str()), (200, CSS));
    assert_eq!(css.header("content-type").as_deref(), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("accept-ranges").as_deref(), Some("bytes"));
    let etag = css.header("etag").expect("an ETag");
    let modified = css.header("last-modified").expect("a Last-Modified");

    let again = get(port, "/static/site.css", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("etag"), Some(etag.clone()));
    let since = get(port, "/static/site.css", &format!("If-Modified-Since: {modified}\r\n"));
    assert_eq!(since.status, 304);
    let changed = get(port, "/static/site.css", "If-None-Match: \"something-else\"\r\n");
    assert_eq!(changed.status, 200);

    let head = request(port, "HEAD /static/site.css HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some(CSS.len().to_string()));

    let index = get(port, "/static/docs/", "");
    assert_eq!((index.status, index.text().as_str()), (200, "<h1>docs</h1>"));
    assert_eq!(index.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert!(server.stop().success());
}

#[test]
fn ranges_give_206_and_416() {
    let server = server();
    let port = server.port;
    let part = get(port, "/static/numbers.txt", "Range: bytes=2-5\r\n");
    assert_eq!((part.status, part.text().as_str()), (206, "2345"));
    assert_eq!(part.header("content-range").as_deref(), Some("bytes 2-5/10"));
    let tail = get(port, "/static/numbers.txt", "Range: bytes=-3\r\n");
    assert_eq!((tail.status, tail.text().as_str()), (206, "789"));
    let beyond = get(port, "/static/numbers.txt", "Range: bytes=10-\r\n");
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range").as_deref(), Some("bytes */10"));
    let stale = get(port, "/static/numbers.txt", "Range: bytes=2-5\r\nIf-Range: \"old\"\r\n");
    assert_eq!((stale.status, stale.text().as_str()), (200, "0123456789"));
    assert!(server.stop().success());
}

#[test]
fn every_way_out_of_the_folder_is_refused_before_the_app() {
    let server = server();
    let port = server.port;
    for path in ["/static/../wsgi.py", "/static/%2e%2e/wsgi.py", "/static/%2e%2e%2fwsgi.py", "/static/escape.py", "/static/a%00b", "/static/missing.css"] {
        let response = get(port, path, "");
        assert_eq!(response.status, 404, "{path}: {}", response.text());
        assert!(!response.text().contains("application"), "{path} leaked the source");
    }
    let post = request(port, "POST /static/site.css HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow").as_deref(), Some("GET, HEAD"));
    assert!(!app_calls().contains("static"), "the app saw {}", app_calls());
    assert!(server.stop().success());
}

#[test]
fn the_document_root_serves_its_files_and_leaves_the_rest_to_the_app() {
    let server = server();
    let port = server.port;
    let robots = get(port, "/robots.txt", "");
    assert_eq!((robots.status, robots.text().as_str()), (200, "User-agent: *\n"));
    let other = get(port, "/not-a-file", "");
    assert_eq!(other.status, 200);
    assert!(other.text().starts_with("/not-a-file pid="), "{}", other.text());
    assert!(server.stop().success());
}

#[test]
fn keep_alive_and_pipelining_go_on_after_static_answers() {
    let server = server();
    let mut client = Client::connect(server.port);
    client.send(b"GET /static/numbers.txt HTTP/1.1\r\nHost: h\r\n\r\nGET /static/site.css HTTP/1.1\r\nHost: h\r\n\r\nGET /app HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(client.response(false).unwrap().text(), "0123456789");
    assert_eq!(client.response(false).unwrap().text(), CSS);
    assert!(client.response(false).unwrap().text().starts_with("/app pid="));
    assert!(server.stop().success());
}

#[test]
fn static_settings_are_checked() {
    let out = app().fails(&["start", "--url-alias", "/static", "nowhere"], 1);
    assert!(out.contains("is not a folder"), "{out}");
    let out = app().fails(&["start", "--url-alias", "static", "static"], 1);
    assert!(out.contains("must start with '/'"), "{out}");
}
