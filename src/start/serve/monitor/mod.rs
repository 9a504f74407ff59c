//! `--metrics-port`: the master's own listener, apart from the app's, on loopback unless told
//! otherwise. `/metrics` is for Prometheus ([`exposition`]), `/` is the live status page (one
//! HTML file that polls `/status.json` every second), and `/status.json` is the [`Status`]
//! both are drawn from.
//!
//! It serves from a thread of the master, so a busy or stuck worker never delays it, and
//! reads the workers' scoreboards ([`board`]) without asking them anything. It is plain
//! HTTP/1.1 with one request per connection: scrapers and a browser tab, not the public.

pub mod board;
mod exposition;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use board::{Board, Status};

/// The status page.
const PAGE: &str = include_str!("page.html");
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 16;
/// A request head must arrive within this, and be no longer than `MAX_HEAD`.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEAD: usize = 8192;

/// Bind the metrics address (before any worker runs, so a port in use stops the start).
pub fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .with_context(|| format!("cannot listen for metrics on {addr}: is another program using that port? pick one with --metrics-port"))
}

/// Serve the board on `listener` from a thread of its own, for as long as the master runs.
pub fn spawn(listener: TcpListener, board: Arc<Board>) -> Result<()> {
    let registry = Arc::new(exposition::registry(board.clone()));
    let open = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("warp-metrics".to_owned())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    open.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                let (board, registry, done) = (board.clone(), registry.clone(), open.clone());
                let served = std::thread::Builder::new().name("warp-metrics-conn".to_owned()).spawn(move || {
                    let _ = serve(stream, &board, &registry);
                    done.fetch_sub(1, Ordering::SeqCst);
                });
                if served.is_err() {
                    open.fetch_sub(1, Ordering::SeqCst);
                }
            }
        })
        .context("cannot start the metrics listener's thread")?;
    Ok(())
}

fn serve(mut stream: TcpStream, board: &Board, registry: &prometheus_client::registry::Registry) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let answer = match request_line(&head) {
        Some((method, target)) => route(method, target, board, registry),
        None => Answer::text(400, "Bad Request", "a request line such as GET /metrics HTTP/1.1 was expected\n"),
    };
    let head_only = head.starts_with(b"HEAD ");
    stream.write_all(&answer.bytes(head_only))
}

/// The request's bytes up to the end of its head (or what came before the limit or EOF).
fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(head)
}

/// Method and target of the request line.
fn request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    (version.starts_with("HTTP/1.") && parts.next().is_none()).then_some((method, target))
}

fn route(method: &str, target: &str, board: &Board, registry: &prometheus_client::registry::Registry) -> Answer {
    if method != "GET" && method != "HEAD" {
        return Answer::text(405, "Method Not Allowed", "only GET and HEAD are served here\n");
    }
    match target.split('?').next().unwrap_or_default() {
        "/" => Answer { status: 200, reason: "OK", content_type: "text/html; charset=utf-8", body: PAGE.as_bytes().to_vec() },
        "/metrics" => {
            Answer { status: 200, reason: "OK", content_type: exposition::CONTENT_TYPE, body: exposition::encode(registry).into_bytes() }
        }
        "/status.json" => Answer { status: 200, reason: "OK", content_type: "application/json", body: status_json(&board.status()) },
        _ => Answer::text(404, "Not Found", "served here: / (status page), /metrics (Prometheus), /status.json\n"),
    }
}

/// The status as the page reads it: the [`Status`], with the totals it needs to compute
/// rates and percentiles between two samples.
fn status_json(status: &Status) -> Vec<u8> {
    let totals = &status.totals;
    let mut value = serde_json::to_value(status).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        fields.insert("request_count".to_owned(), totals.request_count().into());
        fields.insert("queue_seconds_sum".to_owned(), totals.queue.sum_seconds.into());
        fields.insert("bucket_bounds".to_owned(), warp_worker_config::scoreboard::BUCKETS.to_vec().into());
        fields.insert("duration_buckets".to_owned(), totals.response.buckets.to_vec().into());
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

struct Answer {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Answer {
    fn text(status: u16, reason: &'static str, body: &str) -> Answer {
        Answer { status, reason, content_type: "text/plain; charset=utf-8", body: body.as_bytes().to_vec() }
    }

    fn bytes(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        if self.status == 405 {
            out.push_str("Allow: GET, HEAD\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_well_formed_request_line_is_read() {
        assert_eq!(request_line(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), Some(("GET", "/metrics")));
        assert_eq!(request_line(b"HEAD / HTTP/1.0\r\n\r\n"), Some(("HEAD", "/")));
        assert_eq!(request_line(b"GET /metrics\r\n\r\n"), None);
        assert_eq!(request_line(b"GET / HTTP/1.1 extra\r\n\r\n"), None);
        assert_eq!(request_line(b"\xff / HTTP/1.1\r\n\r\n"), None);
    }
}
