//! `--trust-proxy-header` and `--trust-proxy`: forwarded headers rewrite the environ only
//! when the peer is a trusted proxy.

use crate::rawhttp::exchange;
use crate::running::Server;
use crate::util::Sandbox;

const FORWARDED: &[u8] = b"GET /env HTTP/1.1\r\nHost: internal:8000\r\nConnection: close\r\n\
X-Forwarded-For: 203.0.113.9, 10.1.1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example.com\r\n\r\n";

fn environ(server: &Server) -> serde_json::Value {
    let response = exchange(server.port, FORWARDED).expect("a response");
    assert_eq!(response.status, 200, "{}", response.text());
    serde_json::from_slice(&response.body).unwrap()
}

#[test]
fn a_trusted_proxy_sets_client_scheme_and_host() {
    let app = Sandbox::robust();
    let headers = "X-Forwarded-For,X-Forwarded-Proto,X-Forwarded-Host";
    let server =
        Server::start(&app, &["start", "--trust-proxy-header", headers, "--trust-proxy", "127.0.0.1", "--trust-proxy", "10.0.0.0/8"]);
    let env = environ(&server);
    // Read from the right: 10.1.1.1 is a trusted proxy, so 203.0.113.9 is the client.
    assert_eq!(env["REMOTE_ADDR"], "203.0.113.9");
    assert_eq!(env["wsgi.url_scheme"], "https");
    assert_eq!(env["HTTPS"], "on");
    assert_eq!(env["HTTP_HOST"], "shop.example.com");
    assert_eq!(env["SERVER_NAME"], "shop.example.com");
    assert!(server.log().contains("proxies:"), "{}", server.log());
    assert!(server.stop().success());
}

#[test]
fn headers_from_an_untrusted_peer_are_ignored_and_removed() {
    let app = Sandbox::robust();
    let server = Server::start(
        &app,
        &["start", "--trust-proxy-header", "X-Forwarded-For,X-Forwarded-Proto,X-Forwarded-Host", "--trust-proxy", "192.0.2.0/24"],
    );
    let env = environ(&server);
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(env["wsgi.url_scheme"], "http");
    assert_eq!(env["HTTP_HOST"], "internal:8000");
    assert!(env["HTTP_X_FORWARDED_FOR"].is_null(), "{env}");
    assert!(env["HTTP_X_FORWARDED_PROTO"].is_null(), "{env}");
    assert!(server.stop().success());
}

#[test]
fn without_trusted_headers_forwarded_values_are_only_headers() {
    let app = Sandbox::robust();
    let server = Server::start(&app, &["start"]);
    let env = environ(&server);
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(env["wsgi.url_scheme"], "http");
    assert_eq!(env["HTTP_X_FORWARDED_FOR"], "203.0.113.9, 10.1.1.1");
    assert!(server.stop().success());
}

#[test]
fn bad_proxy_settings_are_one_line_errors() {
    let app = Sandbox::new();
    app.write("wsgi.py", "application = None\n");
    let out = app.fails(&["start", "--trust-proxy", "10.0.0.0/33", "--trust-proxy-header", "X-Forwarded-For"], 2);
    assert!(out.contains("not an address or CIDR block"), "{out}");
    let out = app.fails(&["start", "--trust-proxy-header", "X-Client"], 2);
    assert!(out.contains("is not a proxy header warp knows"), "{out}");
    let out = app.fails(&["start", "--trust-proxy", "10.0.0.0/8"], 1);
    assert!(out.contains("add --trust-proxy-header"), "{out}");
}
