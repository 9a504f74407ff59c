//! The health path (`--health-path`): answered by the server itself, never by the app.
//!
//! The event loop answers it as soon as the request head is in, so it needs no Python
//! thread and answers while every thread is busy; a request thread answers one that came
//! pipelined behind an app request on its connection. Either way the answer is 200 `OK`,
//! or 503 once the worker is stopping so that balancers send elsewhere, and the connection
//! closes after it (probes open a new one each time). Health checks stay out of the access
//! log: a probe every few seconds would drown it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use warp_http::{BodyKind, RequestHead, Version};

use crate::conn::Conn;
use crate::worker::Shared;

/// Whether `head` is a body-less GET or HEAD of the configured health path (its query
/// string aside).
pub fn is_check(shared: &Shared, head: &RequestHead) -> bool {
    shared.config.health_path.as_deref().is_some_and(|path| head.path() == path)
        && matches!(head.method(), "GET" | "HEAD")
        && matches!(head.body, BodyKind::Empty)
}

/// Answer the health check whose head is `head`.
pub fn answer(shared: &Shared, conn: &mut Conn, head: &RequestHead) {
    let stopping = shared.stopping.load(Ordering::SeqCst);
    let (status, body): (&str, &[u8]) = if stopping { ("503 Service Unavailable", b"stopping\n") } else { ("200 OK", b"OK\n") };
    let version = if head.version == Version::Http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    let mut out = format!(
        "{version} {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if head.method() != "HEAD" {
        out.extend_from_slice(body);
    }
    // The answer fits in any socket buffer: the short limit only guards against a peer
    // that stopped reading (the event loop must not wait on it).
    let _ = conn.write_all(&out, Duration::from_millis(100));
}
