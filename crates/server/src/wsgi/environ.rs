//! Building the WSGI `environ` dict for a request (PEP 3333, "environ Variables").
//!
//! Strings are "native strings": text decoded as latin-1, so every byte the client sent
//! survives and frameworks can re-encode it. `PATH_INFO` is percent-decoded first, as CGI
//! servers do. Header names containing `_` are dropped, so `X-Forwarded_For` cannot pose as
//! `X-Forwarded-For` once both become `HTTP_X_FORWARDED_FOR`.

use std::borrow::Cow;
use std::net::SocketAddr;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::{intern, Py};

use warp_http::cgi::{cgi_name, percent_decode, split_host};
use warp_http::{BodyKind, RequestHead};

use crate::wsgi::proxy::ProxyTrust;

/// The values that are the same for every request a worker serves, made once.
pub struct Constants {
    pub server_name: Py<PyString>,
    pub server_port: Py<PyString>,
    pub version: Py<PyAny>,
    pub errors: Py<PyAny>,
    pub file_wrapper: Py<PyAny>,
    pub multithread: bool,
    pub multiprocess: bool,
    /// Proxy headers to believe, when any are configured.
    pub proxy: Option<ProxyTrust>,
    /// An exception in the app opens pdb post-mortem (`--enable-debugger`).
    pub debugger: bool,
}

/// Where a request came from.
pub struct Peer {
    pub addr: SocketAddr,
}

pub fn build<'py>(
    py: Python<'py>,
    head: &RequestHead,
    peer: &Peer,
    constants: &Constants,
    input: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let env = PyDict::new(py);
    env.set_item(intern!(py, "REQUEST_METHOD"), head.method())?;
    env.set_item(intern!(py, "SCRIPT_NAME"), intern!(py, ""))?;
    env.set_item(intern!(py, "PATH_INFO"), latin1(&percent_decode(head.path().as_bytes())))?;
    env.set_item(intern!(py, "QUERY_STRING"), head.query())?;
    env.set_item(intern!(py, "REQUEST_URI"), head.target())?;
    env.set_item(intern!(py, "SERVER_PROTOCOL"), head.version.as_str())?;
    env.set_item(intern!(py, "SERVER_NAME"), constants.server_name.bind(py))?;
    env.set_item(intern!(py, "SERVER_PORT"), constants.server_port.bind(py))?;
    env.set_item(intern!(py, "REMOTE_ADDR"), peer.addr.ip().to_string())?;
    env.set_item(intern!(py, "REMOTE_PORT"), peer.addr.port().to_string())?;
    env.set_item(intern!(py, "wsgi.version"), constants.version.bind(py))?;
    env.set_item(intern!(py, "wsgi.url_scheme"), intern!(py, "http"))?;
    env.set_item(intern!(py, "wsgi.input"), input)?;
    env.set_item(intern!(py, "wsgi.errors"), constants.errors.bind(py))?;
    env.set_item(intern!(py, "wsgi.multithread"), constants.multithread)?;
    env.set_item(intern!(py, "wsgi.multiprocess"), constants.multiprocess)?;
    env.set_item(intern!(py, "wsgi.run_once"), false)?;
    env.set_item(intern!(py, "wsgi.file_wrapper"), constants.file_wrapper.bind(py))?;
    env.set_item(intern!(py, "wsgi.input_terminated"), true)?;
    if let BodyKind::Length(n) = head.body {
        env.set_item(intern!(py, "CONTENT_LENGTH"), n.to_string())?;
    }
    for (name, value) in head.headers() {
        let Some(key) = cgi_name(name) else { continue };
        if key == "CONTENT_LENGTH" {
            continue; // set above from the validated framing
        }
        let value = latin1(value);
        match env.get_item(&key)? {
            // Repeated fields are joined with a comma (RFC 9110 section 5.3).
            Some(earlier) => env.set_item(&key, format!("{},{value}", earlier.extract::<String>()?))?,
            None => env.set_item(&key, value)?,
        }
    }
    if let Some(host) = head.header("host") {
        // SERVER_NAME and SERVER_PORT follow the Host the client used, as servers do for
        // URL reconstruction.
        let host = String::from_utf8_lossy(host);
        let (name, port) = split_host(&host);
        env.set_item(intern!(py, "SERVER_NAME"), name)?;
        if let Some(port) = port {
            env.set_item(intern!(py, "SERVER_PORT"), port)?;
        }
    }
    if let Some(proxy) = &constants.proxy {
        proxy.apply(py, &env, peer.addr.ip())?;
    }
    Ok(env)
}

/// Bytes as a native string: each byte becomes the code point of the same value.
pub fn latin1(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.is_ascii() => Cow::Borrowed(text),
        _ => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}
