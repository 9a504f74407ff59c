//! CGI naming rules that WSGI inherits: header fields as environ keys, the decoded path,
//! and the parts of a Host header.

use std::borrow::Cow;

/// `Content-Type` → `CONTENT_TYPE`, `X-Id` → `HTTP_X_ID`; `None` for names WSGI must not see.
pub fn cgi_name(name: &str) -> Option<String> {
    if name.contains('_') {
        return None;
    }
    let upper: String = name.chars().map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }).collect();
    Some(match upper.as_str() {
        "CONTENT_TYPE" | "CONTENT_LENGTH" => upper,
        _ => format!("HTTP_{upper}"),
    })
}

/// The path as CGI's `PATH_INFO` has it: percent-decoded, with malformed escapes (`%zz`,
/// a `%` at the end) kept as they are rather than refused, as Python's `urllib.parse.unquote`
/// keeps them.
pub fn percent_decode(path: &[u8]) -> Cow<'_, [u8]> {
    percent_encoding::percent_decode(path).into()
}

/// `example.com:8080` → (`example.com`, `8080`); `[::1]:80` → (`[::1]`, `80`).
pub fn split_host(host: &str) -> (&str, Option<&str>) {
    match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => (&host[..colon], Some(&host[colon + 1..])),
        _ => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(&*percent_decode(b"/a%20b"), b"/a b");
        assert_eq!(&*percent_decode(b"/%zz%4"), b"/%zz%4");
        assert_eq!(&*percent_decode(b"/%C3%A9"), &[b'/', 0xc3, 0xa9]);
    }

    #[test]
    fn header_names_become_cgi_names() {
        assert_eq!(cgi_name("Content-Type").as_deref(), Some("CONTENT_TYPE"));
        assert_eq!(cgi_name("x-request-id").as_deref(), Some("HTTP_X_REQUEST_ID"));
        assert_eq!(cgi_name("X_Forwarded_For"), None);
    }

    #[test]
    fn host_splits_into_name_and_port() {
        assert_eq!(split_host("example.com:8080"), ("example.com", Some("8080")));
        assert_eq!(split_host("example.com"), ("example.com", None));
        assert_eq!(split_host("[::1]:80"), ("[::1]", Some("80")));
        assert_eq!(split_host("[::1]"), ("[::1]", None));
    }
}
