//! `--url-alias` and `--document-root`: files served by Rust, with validators, ranges and
//! HEAD, and every way out of the folder refused before the app sees it.

use std::sync::OnceLock;
use std::time::Duration;

use crate::rawhttp::{exchange, Client, Response};
use crate::running::Server;
use crate::util::{eventually, Sandbox};

const CSS: &str = "body { color: #123456; }\n";
const SECRET: &str = "the app's own secret\n";
const NOT_FOUND: &str = "404 Not Found: no such file\n";
const BAD_NAME: &str = "400 Bad Request: no file can have this name\n";

/// A file large enough that sending it must wait for the client to read.
fn big() -> Vec<u8> {
    (0..3u32 << 20).map(|i| (i % 251) as u8).collect()
}

/// The app with a static folder, a document root, and symlinks leading in and out of the
/// folder.
fn app() -> &'static Sandbox {
    static APP: OnceLock<Sandbox> = OnceLock::new();
    APP.get_or_init(|| {
        let sandbox = Sandbox::robust();
        sandbox.write("secret.txt", SECRET);
        sandbox.write("static/site.css", CSS);
        sandbox.write("static/docs/index.html", "<h1>docs</h1>");
        sandbox.write("static/numbers.txt", "0123456789");
        sandbox.write("static/empty/.keep", "");
        sandbox.write("static/img/logo.png", "not really a png");
        sandbox.write("media/img/logo.png", "the media logo");
        sandbox.write("public/robots.txt", "User-agent: *\n");
        sandbox.write("public/sub/page.html", "<p>sub</p>");
        std::fs::write(sandbox.app().join("static/big.bin"), big()).unwrap();
        let link = |target: &str, name: &str| std::os::unix::fs::symlink(target, sandbox.app().join(name)).unwrap();
        link("../secret.txt", "static/escape.txt");
        link("..", "static/up");
        link("numbers.txt", "static/same.txt");
        sandbox
    })
}

fn server() -> Server {
    Server::start(
        app(),
        &[
            "start",
            "--url-alias",
            "/static",
            "static",
            "--url-alias",
            "/static/img",
            "media/img",
            "--document-root",
            "public",
            "--access-log",
            "on",
        ],
    )
}

fn request(port: u16, raw: &str) -> Response {
    exchange(port, raw.as_bytes()).unwrap_or_else(|| panic!("no response to {raw:?}"))
}

fn get(port: u16, path: &str, extra: &str) -> Response {
    request(port, &format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n{extra}\r\n"))
}

/// Paths the app was called with (it logs every plain request).
fn app_calls() -> String {
    std::fs::read_to_string(app().app().join("calls.log")).unwrap_or_default()
}

#[test]
fn files_come_with_their_type_validators_and_length() {
    let server = server();
    let port = server.port;
    let css = get(port, "/static/site.css", "");
    assert_eq!((css.status, css.text().as_str()), (200, CSS));
    assert!(css.complete);
    assert_eq!(css.header("content-type").as_deref(), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("content-length"), Some(CSS.len().to_string()));
    assert_eq!(css.header("accept-ranges").as_deref(), Some("bytes"));
    assert_eq!(css.header("server").as_deref(), Some("warp"));
    assert_eq!(css.header("cache-control"), None);
    assert!(css.header("date").is_some_and(|d| d.ends_with(" GMT")));
    let etag = css.header("etag").expect("an ETag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(css.header("last-modified").is_some_and(|d| d.ends_with(" GMT")));

    let png = get(port, "/static/numbers.txt", "");
    assert_eq!(png.header("content-type").as_deref(), Some("text/plain; charset=utf-8"));
    // A symlink that stays inside the folder is followed.
    let same = get(port, "/static/same.txt", "");
    assert_eq!((same.status, same.text().as_str()), (200, "0123456789"));
    // Names are decoded.
    let encoded = get(port, "/static/site%2Ecss", "");
    assert_eq!((encoded.status, encoded.text().as_str()), (200, CSS));

    // Sent with sendfile, waiting for the client to read.
    let big_file = get(port, "/static/big.bin", "");
    assert_eq!(big_file.status, 200);
    assert_eq!(big_file.header("content-type").as_deref(), Some("application/octet-stream"));
    assert!(big_file.body == big(), "the big file came back altered ({} bytes)", big_file.body.len());

    // The access log records static answers like the app's.
    eventually(Duration::from_secs(5), "the access log line", || {
        server.output().contains(&format!("\"GET /static/site.css HTTP/1.1\" 200 {}", CSS.len()))
    });
    let banner = server.log();
    let aliased = format!("static:     /static -> {}", app().app().join("static").canonicalize().unwrap().display());
    assert!(banner.contains(&aliased), "the banner shows the static folders:\n{banner}");
    assert!(banner.contains("(document root), else the app"), "{banner}");
    assert!(server.stop().success());
}

#[test]
fn the_longest_alias_wins() {
    let server = server();
    let logo = get(server.port, "/static/img/logo.png", "");
    assert_eq!((logo.status, logo.text().as_str()), (200, "the media logo"));
    assert_eq!(logo.header("content-type").as_deref(), Some("image/png"));
    let css = get(server.port, "/static/site.css", "");
    assert_eq!(css.status, 200);
    // `/static/imgx` is not under `/static/img`.
    let other = get(server.port, "/static/imgx/logo.png", "");
    assert_eq!((other.status, other.text().as_str()), (404, NOT_FOUND));
    assert!(server.stop().success());
}

#[test]
fn validators_give_304() {
    let server = server();
    let port = server.port;
    let first = get(port, "/static/site.css", "");
    let etag = first.header("etag").unwrap();
    let modified = first.header("last-modified").unwrap();

    let again = get(port, "/static/site.css", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("etag"), Some(etag.clone()));
    assert_eq!(again.header("last-modified"), Some(modified.clone()));
    let weak = get(port, "/static/site.css", &format!("If-None-Match: \"x\", W/{etag}\r\n"));
    assert_eq!(weak.status, 304);
    let any = get(port, "/static/site.css", "If-None-Match: *\r\n");
    assert_eq!(any.status, 304);

    let since = get(port, "/static/site.css", &format!("If-Modified-Since: {modified}\r\n"));
    assert_eq!((since.status, since.body.len()), (304, 0));
    let before = get(port, "/static/site.css", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
    assert_eq!((before.status, before.text().as_str()), (200, CSS));

    // If-None-Match decides alone: a different tag means 200 even when the date matches.
    let changed = get(port, "/static/site.css", &format!("If-None-Match: \"something-else\"\r\nIf-Modified-Since: {modified}\r\n"));
    assert_eq!((changed.status, changed.text().as_str()), (200, CSS));

    // Another file, another tag.
    let numbers = get(port, "/static/numbers.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(numbers.status, 200);
    assert_ne!(numbers.header("etag"), Some(etag));
    assert!(server.stop().success());
}

#[test]
fn ranges_give_206_and_416() {
    let server = server();
    let port = server.port;
    let part = get(port, "/static/numbers.txt", "Range: bytes=2-5\r\n");
    assert_eq!((part.status, part.text().as_str()), (206, "2345"));
    assert_eq!(part.header("content-range").as_deref(), Some("bytes 2-5/10"));
    assert_eq!(part.header("content-length").as_deref(), Some("4"));
    let tail = get(port, "/static/numbers.txt", "Range: bytes=-3\r\n");
    assert_eq!((tail.status, tail.text().as_str()), (206, "789"));
    assert_eq!(tail.header("content-range").as_deref(), Some("bytes 7-9/10"));
    let open = get(port, "/static/numbers.txt", "Range: bytes=8-\r\n");
    assert_eq!((open.status, open.text().as_str()), (206, "89"));
    let clipped = get(port, "/static/numbers.txt", "Range: bytes=6-100\r\n");
    assert_eq!((clipped.status, clipped.text().as_str()), (206, "6789"));
    assert_eq!(clipped.header("content-range").as_deref(), Some("bytes 6-9/10"));

    let beyond = get(port, "/static/numbers.txt", "Range: bytes=10-\r\n");
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range").as_deref(), Some("bytes */10"));
    assert_eq!(beyond.text(), "416 Range Not Satisfiable: the range starts past the end of the file\n");

    let several = get(port, "/static/numbers.txt", "Range: bytes=0-1,4-5\r\n");
    assert_eq!((several.status, several.text().as_str()), (200, "0123456789"));
    let stale = get(port, "/static/numbers.txt", "Range: bytes=2-5\r\nIf-Range: \"old\"\r\n");
    assert_eq!((stale.status, stale.text().as_str()), (200, "0123456789"));
    let etag = stale.header("etag").unwrap();
    let current = get(port, "/static/numbers.txt", &format!("Range: bytes=2-5\r\nIf-Range: {etag}\r\n"));
    assert_eq!((current.status, current.text().as_str()), (206, "2345"));

    // A range deep inside a file sent with sendfile.
    let offset = (1u64 << 20) + 7;
    let deep = get(port, "/static/big.bin", &format!("Range: bytes={offset}-{}\r\n", offset + 999));
    assert_eq!(deep.status, 206);
    assert!(deep.body == big()[offset as usize..offset as usize + 1000], "wrong bytes");
    assert!(server.stop().success());
}

#[test]
fn head_sends_the_headers_only() {
    let server = server();
    // Pipelined after a HEAD, the GET's response would be garbled if the HEAD had a body.
    let mut client = Client::connect(server.port);
    client.send(b"HEAD /static/site.css HTTP/1.1\r\nHost: h\r\n\r\nGET /static/numbers.txt HTTP/1.1\r\nHost: h\r\n\r\n");
    let head = client.response(true).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(CSS.len().to_string()));
    assert_eq!(head.header("content-type").as_deref(), Some("text/css; charset=utf-8"));
    assert!(head.header("etag").is_some());
    let get = client.response(false).unwrap();
    assert_eq!((get.status, get.text().as_str()), (200, "0123456789"));
    // HEAD ignores Range (it is defined for GET only).
    let ranged = request(server.port, "HEAD /static/numbers.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n");
    assert_eq!((ranged.status, ranged.body.len()), (200, 0));
    assert_eq!(ranged.header("content-length").as_deref(), Some("10"));
    assert!(server.stop().success());
}

#[test]
fn folders_serve_their_index() {
    let server = server();
    let port = server.port;
    let index = get(port, "/static/docs/", "");
    assert_eq!((index.status, index.text().as_str()), (200, "<h1>docs</h1>"));
    assert_eq!(index.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    let moved = get(port, "/static/docs?lang=en", "");
    assert_eq!(moved.status, 301);
    assert_eq!(moved.header("location").as_deref(), Some("/static/docs/?lang=en"));
    let empty = get(port, "/static/empty/", "");
    assert_eq!((empty.status, empty.text().as_str()), (404, NOT_FOUND));
    let top = get(port, "/static", "");
    assert_eq!((top.status, top.text().as_str()), (404, NOT_FOUND));
    // A file is not a folder.
    let slash = get(port, "/static/site.css/", "");
    assert_eq!(slash.status, 404);
    assert!(server.stop().success());
}

#[test]
fn every_way_out_of_the_folder_is_refused_before_the_app() {
    let server = server();
    let port = server.port;
    let refused = [
        ("/static/../secret.txt", 404),
        ("/static/../wsgi.py", 404),
        ("/static/%2e%2e/wsgi.py", 404),
        ("/static/%2e%2e%2fwsgi.py", 404),
        ("/static/.%2E/secret.txt", 404),
        ("/static/docs/..%2f..%2fsecret.txt", 404),
        ("/static/..%5csecret.txt", 404),
        ("/static/escape.txt", 404),
        ("/static/up/secret.txt", 404),
        ("/static/missing.css", 404),
        ("/static/a%00b", 400),
        ("/static/site.css%00.png", 400),
        ("/static/%zz", 400),
    ];
    for (path, status) in refused {
        let response = get(port, path, "");
        let body = if status == 404 { NOT_FOUND } else { BAD_NAME };
        assert_eq!((response.status, response.text().as_str()), (status, body), "{path}");
    }
    let calls = app_calls();
    assert!(!calls.contains("static") && !calls.contains("secret") && !calls.contains("wsgi"), "the app saw {calls}");
    assert!(server.stop().success());
}

#[test]
fn other_methods_get_405_and_the_connection_goes_on() {
    let server = server();
    let mut client = Client::connect(server.port);
    // The POST's body is read and dropped, so the next request starts at the right byte.
    client.send(
        b"POST /static/site.css HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /static/numbers.txt HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    let post = client.response(false).unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow").as_deref(), Some("GET, HEAD"));
    assert_eq!(post.text(), "405 Method Not Allowed: static files answer GET and HEAD only\n");
    let next = client.response(false).unwrap();
    assert_eq!((next.status, next.text().as_str()), (200, "0123456789"));
    let delete = request(server.port, "DELETE /static/missing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!(delete.status, 405);
    assert!(!app_calls().contains("static"), "the app saw {}", app_calls());
    assert!(server.stop().success());
}

#[test]
fn the_document_root_serves_its_files_and_leaves_the_rest_to_the_app() {
    let server = server();
    let port = server.port;
    let robots = get(port, "/robots.txt", "");
    assert_eq!((robots.status, robots.text().as_str()), (200, "User-agent: *\n"));
    assert_eq!(robots.header("content-type").as_deref(), Some("text/plain; charset=utf-8"));
    let page = get(port, "/sub/page.html", "");
    assert_eq!((page.status, page.text().as_str()), (200, "<p>sub</p>"));
    // A missing file, a folder, the root, a way out and another method: the app's.
    for (method, path) in [("GET", "/not-a-file"), ("GET", "/sub"), ("GET", "/"), ("GET", "/%2e%2e/robots.txt"), ("POST", "/robots.txt")] {
        let response = request(port, &format!("{method} {path} HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        assert_eq!(response.status, 200, "{method} {path}");
        assert!(response.text().starts_with("/"), "{method} {path}: {}", response.text());
        assert!(response.text().contains(" pid="), "{method} {path} did not reach the app: {}", response.text());
    }
    assert!(server.stop().success());
}

#[test]
fn keep_alive_and_pipelining_go_on_after_static_answers() {
    let server = server();
    let mut client = Client::connect(server.port);
    let etag = get(server.port, "/static/site.css", "").header("etag").unwrap();
    let pipelined = format!(
        "GET /static/numbers.txt HTTP/1.1\r\nHost: h\r\n\r\n\
         GET /static/site.css HTTP/1.1\r\nHost: h\r\nIf-None-Match: {etag}\r\n\r\n\
         GET /static/numbers.txt HTTP/1.1\r\nHost: h\r\nRange: bytes=1-2\r\n\r\n\
         GET /static/missing HTTP/1.1\r\nHost: h\r\n\r\n\
         GET /app HTTP/1.1\r\nHost: h\r\n\r\n\
         GET /static/site.css HTTP/1.1\r\nHost: h\r\n\r\n"
    );
    client.send(pipelined.as_bytes());
    let mut next = || client.response(false).expect("a response");
    assert_eq!(next().text(), "0123456789");
    assert_eq!(next().status, 304);
    assert_eq!(next().text(), "12");
    assert_eq!(next().status, 404);
    let app_answer = next();
    assert!(app_answer.text().starts_with("/app pid="), "{} {}", app_answer.status, app_answer.text());
    assert_eq!(next().text(), CSS);
    assert!(!client.closed(), "the connection was closed after static answers");
    assert!(server.stop().success());
}

#[test]
fn warp_url_alias_is_read_without_the_flag() {
    let mut cmd = app().warp(&["start"]);
    cmd.env("WARP_URL_ALIAS", "/assets=static /files=public");
    let server = Server::launch(cmd, app().root());
    let port = server.port;
    let css = get(port, "/assets/site.css", "");
    assert_eq!((css.status, css.text().as_str()), (200, CSS));
    let robots = get(port, "/files/robots.txt", "");
    assert_eq!((robots.status, robots.text().as_str()), (200, "User-agent: *\n"));
    assert!(server.stop().success());
}

#[test]
fn static_settings_are_checked() {
    let out = app().fails(&["start", "--url-alias", "/static", "nowhere"], 1);
    assert!(out.contains("nowhere is not a folder"), "{out}");
    let out = app().fails(&["start", "--url-alias", "/static", "static/site.css"], 1);
    assert!(out.contains("is not a folder"), "{out}");
    let out = app().fails(&["start", "--url-alias", "static", "static"], 2);
    assert!(out.contains("must start with '/'"), "{out}");
    let out = app().fails(&["start", "--document-root", "missing"], 1);
    assert!(out.contains("--document-root") && out.contains("is not a folder"), "{out}");
    let out = app().fails(&["start", "--document-root", "."], 1);
    assert!(out.contains("holds the app's source"), "{out}");
    let out = app().fails(&["start", "--url-alias", "/", ".."], 1);
    assert!(out.contains("holds the app's source"), "{out}");
    let out = run_with_env("WARP_URL_ALIAS", "/static:static");
    assert!(out.contains("is not URL=PATH"), "{out}");
}

fn run_with_env(name: &str, value: &str) -> String {
    let mut cmd = app().warp(&["start"]);
    cmd.env(name, value);
    crate::util::run_fails(&mut cmd, 2)
}
