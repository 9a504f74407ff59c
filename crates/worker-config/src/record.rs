//! One request and its response as `--enable-recorder` keeps them: a JSON file per request,
//! `ID.json` in the recorder's folder, written by the worker that served the request and
//! read back by `warp recorder`.
//!
//! ```json
//! {
//!   "warp_record": 1,
//!   "id": "20261206-061514-4242-17",
//!   "time": "2026-12-06T06:15:14.123456Z",
//!   "duration_ms": 12.345,
//!   "pid": 4242,
//!   "peer": "127.0.0.1:51234",
//!   "secrets": "masked",
//!   "request": {
//!     "method": "POST",
//!     "target": "/login?next=/",
//!     "version": "HTTP/1.1",
//!     "headers": [["Host", "example.com"], ["Authorization", "Bearer ****"]],
//!     "body": { "size": 5, "text": "hello" }
//!   },
//!   "response": {
//!     "version": "HTTP/1.1",
//!     "status": 200,
//!     "reason": "OK",
//!     "headers": [["Content-Type", "image/png"], ["Content-Length", "100000"]],
//!     "body": { "size": 100000, "cut": true, "base64": "iVBORw0KGgo..." }
//!   }
//! }
//! ```
//!
//! - `warp_record` is the format's version, [`FORMAT`]; it also tells a record from other
//!   JSON files.
//! - `id` is the time in UTC to the second, the worker's pid and its count of records
//!   (see [`id`]). `time` is when the request was in whole, its head and (unless streamed)
//!   its body, in UTC; `duration_ms` runs from then until the response was handed over to
//!   be sent.
//! - Headers are in the order they came or went, each value as its bytes read as latin-1
//!   (every byte kept, as WSGI reads them). The response's are those on the wire, the
//!   ones the server adds (`Date`, `Content-Length`, `Connection`, ...) included.
//! - A body keeps its first [`BODY_CAP`] bytes, as `text` when they are UTF-8, else as
//!   `base64`; `size` is how many bytes it really had and `cut` says that only the first
//!   ones were kept. `file`: a response sent from a file with sendfile (its first bytes
//!   are read from the file). `unfinished`: a streamed request body the server never read
//!   to its end (the app left it, and too much of it to read and drop), so `size` counts
//!   only what was read.
//! - `secrets` is `masked` unless the server ran with `--recorder-keep-secrets`: see
//!   [`mask`]. `response` is null when no response head went out.

use std::borrow::Cow;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::utc::Utc;

/// The version of the format, the value of every record's `warp_record`.
pub const FORMAT: u32 = 1;

/// Bytes of each body a record keeps; beyond them a body is only counted.
pub const BODY_CAP: usize = 64 * 1024;

/// What stands for a secret that [`mask`] hides.
pub const MASK: &str = "****";

/// One request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub warp_record: u32,
    pub id: String,
    pub time: String,
    pub duration_ms: f64,
    pub pid: u32,
    pub peer: String,
    pub secrets: Secrets,
    pub request: Request,
    pub response: Option<Response>,
}

/// Whether the values of the headers that carry secrets were masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Secrets {
    Masked,
    Kept,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// A body's first bytes and its real size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    pub size: u64,
    #[serde(flatten)]
    pub data: Data,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cut: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub file: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unfinished: bool,
}

/// The bytes a record keeps of a body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Data {
    Text(String),
    Base64(String),
}

fn is_false(value: &bool) -> bool {
    !value
}

impl Body {
    /// A body of `size` bytes whose first ones are `kept`. A cut that splits a UTF-8
    /// character leaves that character out, so text stays text.
    pub fn new(mut kept: Vec<u8>, size: u64) -> Body {
        let cut = size > kept.len() as u64;
        if let (true, Err(err)) = (cut, std::str::from_utf8(&kept)) {
            if err.error_len().is_none() {
                kept.truncate(err.valid_up_to());
            }
        }
        let data = match String::from_utf8(kept) {
            Ok(text) => Data::Text(text),
            Err(err) => Data::Base64(STANDARD.encode(err.as_bytes())),
        };
        Body { size, data, cut, file: false, unfinished: false }
    }

    /// The bytes kept.
    pub fn bytes(&self) -> Result<Cow<'_, [u8]>, base64::DecodeError> {
        match &self.data {
            Data::Text(text) => Ok(Cow::Borrowed(text.as_bytes())),
            Data::Base64(encoded) => STANDARD.decode(encoded).map(Cow::Owned),
        }
    }
}

impl Record {
    /// The record in a record file's text.
    pub fn from_json(text: &str) -> Result<Record, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The text of the record's file.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a record is plain data, always serializable");
        text.push('\n');
        text
    }
}

/// The value a record keeps for header `name`, when it is one that carries secrets:
/// `Authorization` and `Proxy-Authorization` keep their scheme (`Bearer ****`), `Cookie`
/// its cookies' names (`session=****; theme=****`), `Set-Cookie` its cookie's name and
/// attributes (`session=****; Path=/; HttpOnly`). `None` for any other header.
pub fn mask(name: &str, value: &str) -> Option<String> {
    let masked = if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("proxy-authorization") {
        match value.trim().split_once(' ') {
            Some((scheme, _)) => format!("{scheme} {MASK}"),
            None => MASK.to_owned(),
        }
    } else if name.eq_ignore_ascii_case("cookie") {
        value.split(';').map(|cookie| masked_cookie(cookie.trim())).collect::<Vec<_>>().join("; ")
    } else if name.eq_ignore_ascii_case("set-cookie") {
        let (cookie, attributes) = value.split_once(';').map_or((value, None), |(cookie, rest)| (cookie, Some(rest)));
        let cookie = masked_cookie(cookie.trim());
        attributes.map_or(cookie.clone(), |attributes| format!("{cookie};{attributes}"))
    } else {
        return None;
    };
    Some(masked)
}

/// `name=value` as `name=****`.
fn masked_cookie(cookie: &str) -> String {
    match cookie.split_once('=') {
        Some((name, _)) => format!("{name}={MASK}"),
        None => MASK.to_owned(),
    }
}

/// A record's id: `at` in UTC to the second, the worker's `pid` and the worker's `count`
/// of records so far, `20261206-061514-4242-17`. Ids sort by time within a second's
/// precision; `time` sorts them within it.
pub fn id(at: SystemTime, pid: u32, count: u64) -> String {
    let t = Utc::of(at);
    format!("{:04}{:02}{:02}-{:02}{:02}{:02}-{pid}-{count}", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

/// `at` as RFC 3339 in UTC to the microsecond, `2026-12-06T06:15:14.123456Z`: fixed width,
/// so records sort by it as text.
pub fn time(at: SystemTime) -> String {
    let t = Utc::of(at);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", t.year, t.month, t.day, t.hour, t.minute, t.second, t.micros)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn at(seconds: u64, micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros)
    }

    #[test]
    fn times_and_ids_are_utc() {
        assert_eq!(time(at(1_700_000_000, 42)), "2023-11-14T22:13:20.000042Z");
        assert_eq!(time(at(951_782_400, 0)), "2000-02-29T00:00:00.000000Z", "a leap day");
        assert_eq!(time(at(4_102_444_799, 999_999)), "2099-12-31T23:59:59.999999Z");
        assert_eq!(time(UNIX_EPOCH - Duration::from_secs(1)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(id(at(1_700_000_000, 42), 4242, 17), "20231114-221320-4242-17");
    }

    #[test]
    fn secrets_keep_what_tells_them_apart() {
        assert_eq!(mask("Authorization", "Bearer abc.def.ghi").as_deref(), Some("Bearer ****"));
        assert_eq!(mask("proxy-authorization", "Basic dXNlcjpwYXNz").as_deref(), Some("Basic ****"));
        assert_eq!(mask("Authorization", "opaque-token").as_deref(), Some("****"));
        assert_eq!(mask("Cookie", "session=s3cr3t; theme=dark;flag").as_deref(), Some("session=****; theme=****; ****"));
        assert_eq!(mask("Set-Cookie", "session=s3cr3t; Path=/; HttpOnly").as_deref(), Some("session=****; Path=/; HttpOnly"));
        assert_eq!(mask("set-cookie", "id=1").as_deref(), Some("id=****"));
        assert_eq!(mask("Content-Type", "text/plain"), None);
    }

    #[test]
    fn bodies_are_text_when_utf8_and_base64_otherwise() {
        let text = Body::new(b"caf\xc3\xa9".to_vec(), 5);
        assert_eq!((&text.data, text.cut), (&Data::Text("café".to_owned()), false));
        let binary = Body::new(vec![0xff, 0x00, 0x01], 3);
        assert_eq!(binary.data, Data::Base64("/wAB".to_owned()));
        assert_eq!(binary.bytes().unwrap().as_ref(), [0xff, 0x00, 0x01]);

        // Cut inside the two bytes of é: the half is dropped and the rest stays text.
        let cut = Body::new(b"caf\xc3".to_vec(), 100);
        assert_eq!((&cut.data, cut.cut, cut.size), (&Data::Text("caf".to_owned()), true, 100));
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let body = |text: &str| Body::new(text.as_bytes().to_vec(), text.len() as u64);
        let record = Record {
            warp_record: FORMAT,
            id: id(at(1_700_000_000, 0), 7, 1),
            time: time(at(1_700_000_000, 0)),
            duration_ms: 1.5,
            pid: 7,
            peer: "127.0.0.1:5000".to_owned(),
            secrets: Secrets::Masked,
            request: Request {
                method: "POST".to_owned(),
                target: "/".to_owned(),
                version: "HTTP/1.1".to_owned(),
                headers: vec![("Host".to_owned(), "h".to_owned())],
                body: body("hi"),
            },
            response: Some(Response {
                version: "HTTP/1.1".to_owned(),
                status: 200,
                reason: "OK".to_owned(),
                headers: Vec::new(),
                body: Body { file: true, ..Body::new(vec![0xff; 3], 10) },
            }),
        };
        let text = record.to_json();
        assert!(text.contains(r#""text": "hi""#) && text.contains(r#""base64": "////""#) && text.contains(r#""cut": true"#), "{text}");
        assert!(!text.contains("unfinished"), "flags that are off are left out: {text}");
        assert_eq!(Record::from_json(&text).unwrap(), record);
    }
}
