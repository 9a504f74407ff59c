//! Asking a running server whether it answers: what `warp alive` and `warp ready` check
//! before the app's own probe hooks.
//!
//! One GET over a fresh connection, `Connection: close`, and only the status line is read:
//! a probe runs every few seconds and must stay cheap for both sides. Judging the status
//! (any answer, or one below 500) is the caller's business, as are the app's hooks.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Why a server did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("nothing answers on {addr} ({}): is `warp start` running there?", reason(.source))]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("{addr} did not answer GET {path} within {timeout:?}")]
    Timeout { addr: SocketAddr, path: String, timeout: Duration },
    #[error("{addr} answered GET {path} with something that is not HTTP: {line:?}")]
    NotHttp { addr: SocketAddr, path: String, line: String },
    #[error("{addr} closed the connection on GET {path} without answering ({})", reason(.source))]
    Io { addr: SocketAddr, path: String, source: std::io::Error },
}

/// An I/O error as a short phrase ("connection refused"), without the errno.
fn reason(err: &std::io::Error) -> String {
    let kind = err.kind().to_string();
    if err.kind() == std::io::ErrorKind::Other || kind.contains("uncategorized") {
        err.to_string()
    } else {
        kind
    }
}

/// GET `path` from `addr` and return the response's status code.
pub fn status(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
    let deadline = Instant::now() + timeout;
    let timed_out = || ProbeError::Timeout { addr, path: path.to_owned(), timeout };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|source| match source.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => timed_out(),
        _ => ProbeError::Connect { addr, source },
    })?;
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => timed_out(),
        _ => ProbeError::Io { addr, path: path.to_owned(), source },
    };
    let left = || deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    stream.set_write_timeout(Some(left())).map_err(io)?;
    let host = if addr.is_ipv6() { format!("[{}]", addr.ip()) } else { addr.ip().to_string() };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: warp-probe\r\nConnection: close\r\n\r\n", addr.port());
    stream.write_all(request.as_bytes()).map_err(io)?;
    // Read up to the end of the status line; the rest of the response does not matter.
    let mut line = Vec::new();
    let mut chunk = [0u8; 256];
    while !line.contains(&b'\n') && line.len() < 1024 {
        stream.set_read_timeout(Some(left())).map_err(io)?;
        match stream.read(&mut chunk).map_err(io)? {
            0 => break,
            n => line.extend_from_slice(&chunk[..n]),
        }
    }
    if line.is_empty() {
        return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    parse_status_line(&line).ok_or_else(|| {
        let first = String::from_utf8_lossy(&line).lines().next().unwrap_or("").trim_end().to_owned();
        ProbeError::NotHttp { addr, path: path.to_owned(), line: first }
    })
}

/// The status code of a response that begins with `bytes`, when they begin with a whole,
/// valid HTTP/1.x status line.
fn parse_status_line(bytes: &[u8]) -> Option<u16> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    // A bare LF ends the line too, as RFC 9112 lets a recipient accept.
    let line = std::str::from_utf8(&bytes[..end]).ok()?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    let code = parts.next()?;
    let valid = matches!(version, "HTTP/1.0" | "HTTP/1.1") && code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit());
    let code: u16 = code.parse().ok().filter(|_| valid)?;
    (100..600).contains(&code).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::parse_status_line;

    #[test]
    fn a_status_line_gives_its_code() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 503 Service Unavailable\r\n"), Some(503));
        // The reason phrase may be empty, and the line may be all that arrived.
        assert_eq!(parse_status_line(b"HTTP/1.1 204 \r\n"), Some(204));
        assert_eq!(parse_status_line(b"HTTP/1.1 418\r\n"), Some(418));
        assert_eq!(parse_status_line(b"HTTP/1.1 301 Moved\nLocation: /x\n"), Some(301));
    }

    #[test]
    fn anything_else_is_not_an_answer() {
        for bytes in [
            &b"HTTP/1.1 200 OK"[..],    // the line never ended
            b"SSH-2.0-OpenSSH_9.6\r\n", // another protocol
            b"HTTP/2 200\r\n",          // not HTTP/1
            b"HTTP/1.1 2000 OK\r\n",    // four digits
            b"HTTP/1.1 +20 OK\r\n",     // a sign is not a digit
            b"HTTP/1.1 099 Early\r\n",  // below any status
            b"\r\n",                    // empty
        ] {
            assert_eq!(parse_status_line(bytes), None, "{:?}", String::from_utf8_lossy(bytes));
        }
    }
}
