//! Calling the app for one request and streaming what it returns (PEP 3333, "The
//! Server/Gateway Side").
//!
//! An exception before the head went out becomes a 500; after it, the connection is closed
//! so the client sees a truncated response rather than a wrong one. `close()` on the
//! returned iterable is always called. Either way the traceback goes to the error log.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::exchange::{Exchange, SendError};
use crate::log;
use crate::wsgi::environ::{self, Constants, Peer};
use crate::wsgi::events::{RequestEvents, Timing};
use crate::wsgi::objects::{lock, send_error, FileWrapper, Input, Slot, StartResponse, Write};
use warp_http::RequestHead;

/// What became of a request.
pub struct Served {
    /// The connection, back from the request's objects, with the end of the response still
    /// queued: the caller flushes it once the GIL is released. `None` when the request
    /// timed out and the watchdog answered it meanwhile.
    pub exchange: Option<Exchange>,
    /// The connection may carry another request.
    pub keep_alive: bool,
}

/// The request to serve.
pub struct Request<'a> {
    pub head: &'a RequestHead,
    pub peer: Peer,
    pub timing: Timing,
}

/// Run the app on the request in `slot`.
pub fn serve(py: Python<'_>, app: &Py<PyAny>, constants: &Constants, request: &Request<'_>, slot: &Slot) -> Served {
    let head = request.head;
    let mut events = None;
    let outcome = call_app(py, app, constants, request, slot, &mut events);
    let keep_alive = match outcome {
        Ok(keep_alive) => keep_alive,
        // The request timed out and was answered meanwhile: the app only learns it now.
        Err(_) if lock(slot).is_none() => {
            log::info(&format!("{} {} ended after its 504 (request timeout)", head.method(), head.target()));
            false
        }
        Err(err) => {
            if let Some(events) = &events {
                published(py, head, events.exception(py, &err));
            }
            log::app_error(py, head, &err);
            if constants.debugger {
                post_mortem(py, &err);
            }
            respond_500(slot)
        }
    };
    let exchange = lock(slot).take();
    if let Some(events) = &events {
        let (status, input, output) = exchange.as_ref().map_or((0, 0, 0), |ex| (ex.status_code().unwrap_or(0), ex.body.delivered, ex.sent));
        published(py, head, events.finish(py, status, input, output));
    }
    Served { exchange, keep_alive }
}

/// `--enable-debugger`: open pdb on the app's exception, on the terminal; the client waits
/// for its 500 until the debugger is left.
fn post_mortem(py: Python<'_>, err: &PyErr) {
    let debugged = py.import("pdb").and_then(|pdb| pdb.call_method1("post_mortem", (err.traceback(py),)));
    if let Err(failed) = debugged {
        failed.print(py);
    }
}

/// Log a failure to publish an event (the handlers' own failures are logged where they
/// are called): the request goes on regardless.
fn published(py: Python<'_>, head: &RequestHead, outcome: PyResult<()>) {
    if let Err(err) = outcome {
        log::app_error(py, head, &err);
    }
}

fn call_app(
    py: Python<'_>,
    app: &Py<PyAny>,
    constants: &Constants,
    request: &Request<'_>,
    slot: &Slot,
    events: &mut Option<RequestEvents>,
) -> PyResult<bool> {
    let input = Bound::new(py, Input { slot: slot.clone() })?;
    let environ = environ::build(py, request.head, &request.peer, constants, input.into_any())?;
    let app = match RequestEvents::start(py, &request.timing, &environ, app.bind(py))? {
        Some((started, app)) => {
            *events = Some(started);
            app
        }
        None => app.bind(py).clone(),
    };
    let write = Py::new(py, Write { slot: slot.clone() })?;
    let ids = events.as_ref().map(|events| events.ids(py));
    let start_response = Bound::new(py, StartResponse { slot: slot.clone(), write, events: ids })?;
    let result = app.call1((environ, start_response))?;
    let streamed = stream(py, &result, slot);
    // PEP 3333: close() is called however the iteration ended. A plain list or tuple has
    // none, and asking would build an AttributeError for nothing on most requests.
    let plain = result.is_exact_instance_of::<PyList>() || result.is_exact_instance_of::<PyTuple>();
    let closed = match (!plain).then(|| result.getattr(pyo3::intern!(py, "close"))) {
        Some(Ok(close)) => close.call0().map(drop),
        _ => Ok(()),
    };
    let keep_alive = streamed?;
    closed?;
    Ok(keep_alive)
}

/// Send the app's iterable; returns whether the connection may be kept. What completes
/// the response stays queued, to be written once the GIL is released.
fn stream(py: Python<'_>, result: &Bound<'_, PyAny>, slot: &Slot) -> PyResult<bool> {
    if let Some(single) = single_bytes(result) {
        // The common case: the whole body at once, written with the head in one go.
        with_exchange(slot, |ex| ex.stage_bytes(&single, true))?;
    } else if let Ok(wrapper) = result.cast::<FileWrapper>() {
        if !send_file(py, &wrapper.borrow(), slot)? {
            send_chunks(py, result, slot)?;
        }
    } else {
        send_chunks(py, result, slot)?;
    }
    with_exchange(slot, |ex| ex.finish())
}

/// Each block goes out as it comes (PEP 3333 forbids holding one back while the app
/// produces the next), except one that completes the declared length.
fn send_chunks(py: Python<'_>, result: &Bound<'_, PyAny>, slot: &Slot) -> PyResult<()> {
    for item in result.try_iter()? {
        let item = item?;
        let bytes = item.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!(
                "the app yielded {}, not bytes",
                item.get_type().name().map(|n| n.to_string()).unwrap_or_default()
            ))
        })?;
        if with_exchange(slot, |ex| ex.stage_bytes(bytes, false))? {
            py.detach(|| with_exchange(slot, Exchange::flush))?;
        }
    }
    Ok(())
}

/// A list or tuple holding exactly one bytes object.
fn single_bytes<'py>(result: &Bound<'py, PyAny>) -> Option<Bound<'py, PyBytes>> {
    let item = if let Ok(list) = result.cast::<PyList>() {
        (list.len() == 1).then(|| list.get_item(0).ok()).flatten()?
    } else if let Ok(tuple) = result.cast::<PyTuple>() {
        (tuple.len() == 1).then(|| tuple.get_item(0).ok()).flatten()?
    } else {
        return None;
    };
    item.cast_into::<PyBytes>().ok()
}

/// Send a wrapped real file with sendfile(2), from its current position. Returns false
/// when the object is not a regular file with a descriptor, so the caller iterates it
/// instead: PEP 3333 lets a server use a platform API only when the object suits it, and
/// otherwise the wrapper is an iterable of the object's `read()` blocks.
fn send_file(py: Python<'_>, wrapper: &FileWrapper, slot: &Slot) -> PyResult<bool> {
    let filelike = wrapper.filelike.bind(py);
    let Some(raw) = filelike.call_method0("fileno").ok().and_then(|n| n.extract::<RawFd>().ok()) else {
        return Ok(false);
    };
    // The send runs without the GIL, so another Python thread may close the app's
    // descriptor meanwhile, and the number may come back naming another file. The send
    // uses a descriptor of our own for the same open file instead, made here, before any
    // Python code can run again: nothing between fileno() and this line releases the GIL.
    let Some(file) = duplicate(raw) else { return Ok(false) };
    let Ok(stat) = nix::sys::stat::fstat(file.as_raw_fd()) else { return Ok(false) };
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(false);
    }
    let offset = filelike.call_method0("tell").ok().and_then(|n| n.extract::<u64>().ok()).unwrap_or(0);
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    // `file` goes with the response; the app's descriptor is the app's to close.
    py.detach(|| with_exchange(slot, |ex| ex.send_file(file, offset, size)))?;
    Ok(true)
}

/// A close-on-exec duplicate of `raw`, or `None` when `raw` is not an open descriptor
/// (negative, such as the -1 of an object with no descriptor of its own, or closed).
fn duplicate(raw: RawFd) -> Option<OwnedFd> {
    if raw < 0 {
        return None;
    }
    // fcntl takes the number as a plain integer: a closed one fails with EBADF, and an open
    // one that is not the app's file is only duplicated, never changed.
    let copy = nix::fcntl::fcntl(raw, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(0)).ok()?;
    // SAFETY: F_DUPFD_CLOEXEC just returned `copy`, a new open descriptor that nothing
    // else in the process knows of, so the OwnedFd is its only owner.
    Some(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// Run `op` on the request's exchange, holding the slot's mutex: with the GIL held only
/// for bookkeeping, released for socket I/O (see [`crate::wsgi::objects`]).
fn with_exchange<T>(slot: &Slot, op: impl FnOnce(&mut Exchange) -> Result<T, SendError>) -> PyResult<T> {
    match lock(slot).as_mut() {
        Some(ex) => op(ex).map_err(send_error),
        None => Err(pyo3::exceptions::PyOSError::new_err("the request is finished")),
    }
}

/// After an app error: a 500 (408 when the request body came too slowly) if nothing was
/// sent yet (queued, not written). The connection is closed either way, since the app's
/// state for this request is unknown.
fn respond_500(slot: &Slot) -> bool {
    let mut guard = lock(slot);
    let Some(ex) = guard.as_mut() else { return false };
    if !ex.head_sent() {
        // The app failed on a body that came too slowly: the client's fault, and told so.
        let (status, body): (&str, &[u8]) = if ex.body_too_slow {
            ("408 Request Timeout", b"408 Request Timeout: the request body arrived too slowly\n")
        } else {
            ("500 Internal Server Error", b"500 Internal Server Error\n")
        };
        ex.status = Some(status.to_owned());
        ex.headers = vec![("Content-Type".to_owned(), "text/plain; charset=utf-8".to_owned())];
        ex.facts.keep_alive = false;
        let _ = ex.stage(body, true).and_then(|_| ex.finish());
    }
    false
}
