//! Asking a running server whether it answers: what `warp alive` and `warp ready` check
//! before the app's own probe hooks.
//!
//! One GET over a fresh connection, `Connection: close`, and only the status line is read:
//! a probe runs every few seconds and must stay cheap for both sides.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Why a server did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("nothing answers on {addr} ({source}): is `warp start` running there?")]
    Connect { addr: SocketAddr, source: std::io::Error },
    #[error("{addr} did not answer GET {path} within {timeout:?}")]
    Timeout { addr: SocketAddr, path: String, timeout: Duration },
    #[error("{addr} answered GET {path} with something that is not HTTP: {line:?}")]
    NotHttp { addr: SocketAddr, path: String, line: String },
    #[error("{addr} closed the connection on GET {path} without answering ({source})")]
    Io { addr: SocketAddr, path: String, source: std::io::Error },
}

/// GET `path` from `addr` and return the response's status code.
pub fn status(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|source| match source.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ProbeError::Timeout { addr, path: path.to_owned(), timeout },
        _ => ProbeError::Connect { addr, source },
    })?;
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ProbeError::Timeout { addr, path: path.to_owned(), timeout },
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
    let text = String::from_utf8_lossy(&line);
    let first = text.lines().next().unwrap_or("").trim_end().to_owned();
    if first.is_empty() {
        return Err(ProbeError::Io { addr, path: path.to_owned(), source: std::io::ErrorKind::UnexpectedEof.into() });
    }
    let mut parts = first.splitn(3, ' ');
    match (parts.next(), parts.next().and_then(|code| code.parse::<u16>().ok())) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") && (100..600).contains(&code) => Ok(code),
        _ => Err(ProbeError::NotHttp { addr, path: path.to_owned(), line: first }),
    }
}
