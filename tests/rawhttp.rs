//! A raw HTTP/1.1 client for the server tests: it sends exactly the bytes given and reads
//! back exactly what the server wrote, so malformed requests and framing can be checked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// The body was complete by its framing (not cut short by a closed connection).
    pub complete: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A connection that keeps what it read past the current response.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        Client { stream, buf: Vec::new() }
    }

    pub fn send(&mut self, raw: &[u8]) {
        self.stream.write_all(raw).expect("send the request");
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next line, without its CRLF; `None` once the connection ends first.
    pub fn line(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Some(line);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// The next `n` bytes, and whether all of them came before the connection ended.
    pub fn take(&mut self, n: usize) -> (Vec<u8>, bool) {
        while self.buf.len() < n {
            if !self.fill() {
                let all = std::mem::take(&mut self.buf);
                return (all, false);
            }
        }
        (self.buf.drain(..n).collect(), true)
    }

    /// Everything until the server closes the connection, and whether it did close it
    /// within `wait` (rather than going quiet with the connection open).
    pub fn until_closed(&mut self, wait: Duration) -> (Vec<u8>, bool) {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 16384];
        let closed = loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => break !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
            }
        };
        (std::mem::take(&mut self.buf), closed)
    }

    /// Read the status line and headers of the next response, leaving its body unread.
    pub fn head(&mut self) -> Option<Response> {
        let status_line = self.line()?;
        let status_line = String::from_utf8_lossy(&status_line).into_owned();
        let mut parts = status_line.splitn(3, ' ').skip(1);
        let status: u16 = parts.next()?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let colon = line.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&line[..colon]).into_owned();
            let value = line[colon + 1..].trim_ascii().to_vec();
            headers.push((name, value));
        }
        Some(Response { status, headers, body: Vec::new(), complete: true })
    }

    /// Read the next response; `head_request` says it answers a HEAD (no body).
    pub fn response(&mut self, head_request: bool) -> Option<Response> {
        let mut response = self.head()?;
        let status = response.status;
        if head_request || status < 200 || status == 204 || status == 304 {
            return Some(response);
        }
        let chunked = response.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            loop {
                let Some(size_line) = self.line() else {
                    response.complete = false;
                    break;
                };
                let size = usize::from_str_radix(String::from_utf8_lossy(&size_line).trim(), 16).ok()?;
                if size == 0 {
                    while self.line().is_some_and(|l| !l.is_empty()) {}
                    break;
                }
                let (data, whole) = self.take(size + 2);
                response.body.extend_from_slice(&data[..size.min(data.len())]);
                if !whole {
                    response.complete = false;
                    break;
                }
            }
        } else if let Some(length) = response.header("content-length") {
            let (data, whole) = self.take(length.parse().ok()?);
            response.body = data;
            response.complete = whole;
        } else {
            while self.fill() {}
            response.body = std::mem::take(&mut self.buf);
        }
        Some(response)
    }

    /// Whether the server closed the connection: a read ends in EOF (or a reset) rather
    /// than data or a time-out.
    pub fn closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        self.stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        }
    }
}

/// Send one request on a fresh connection and read its response.
pub fn exchange(port: u16, raw: &[u8]) -> Option<Response> {
    let mut client = Client::connect(port);
    client.send(raw);
    client.response(raw.starts_with(b"HEAD "))
}

/// A GET with `Connection: close`.
pub fn get(port: u16, path: &str) -> Response {
    exchange(port, format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap_or_else(|| panic!("no response to GET {path}"))
}
