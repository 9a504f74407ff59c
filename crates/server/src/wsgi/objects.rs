//! The Python objects a WSGI app is handed: `wsgi.input`, `start_response`, the `write`
//! callable, `wsgi.errors` and `wsgi.file_wrapper`.
//!
//! Each holds the request's [`Slot`]. Its mutex is taken in two ways:
//! - for socket I/O (reading the body, writing the response: `wsgi.input`, `write`, the
//!   flushes and sendfile in [`crate::wsgi::call`]), only after the GIL is released;
//! - for bookkeeping without I/O (`start_response`, queuing body bytes and the end of the
//!   response in the output buffer, the 500 after an app error), with the GIL held, which
//!   spares a release and re-acquire of the GIL per call.
//!
//! So the GIL may be held when the mutex is taken, but no code takes the GIL (calls into
//! Python, attaches) while it holds the mutex: the order is always GIL then mutex, and the
//! two locks cannot deadlock. The cost of the first way: if the app uses one request's
//! objects from two threads at once, a thread holding the GIL may wait for the other's
//! socket I/O. Once the request is over the slot is empty: reads return `b""` and writes
//! raise.

use std::io::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::{PyAssertionError, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::exchange::{Exchange, SendError};
use crate::wsgi::events;
use warp_http::check_app_header;

/// The request an object belongs to, while it is being served.
pub type Slot = Arc<Mutex<Option<Exchange>>>;

pub fn lock(slot: &Slot) -> MutexGuard<'_, Option<Exchange>> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn finished() -> PyErr {
    PyOSError::new_err("the request is finished: its objects cannot be used any more")
}

pub fn send_error(err: SendError) -> PyErr {
    match err {
        SendError::Io(e) => PyOSError::new_err(format!("client connection: {e}")),
        SendError::App(e) => PyValueError::new_err(e.to_string()),
        SendError::NoStatus => PyAssertionError::new_err("write() called before start_response()"),
    }
}

/// `wsgi.input`: the request body, ending exactly where the body ends.
#[pyclass(module = "warp_server", name = "Input")]
pub struct Input {
    pub slot: Slot,
}

/// A negative or missing size means "no limit", as for Python files.
fn limit(size: Option<isize>) -> Option<usize> {
    size.and_then(|s| usize::try_from(s).ok())
}

impl Input {
    fn read_with(
        &self,
        py: Python<'_>,
        op: impl FnOnce(&mut Exchange) -> Result<Vec<u8>, crate::body::BodyError> + Send,
    ) -> PyResult<Py<PyBytes>> {
        let data = py.detach(|| match lock(&self.slot).as_mut() {
            Some(ex) => op(ex).map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        });
        match data {
            Ok(data) => Ok(PyBytes::new(py, &data).unbind()),
            Err(message) => Err(PyOSError::new_err(format!("reading the request body: {message}"))),
        }
    }
}

#[pymethods]
impl Input {
    #[pyo3(signature = (size = None))]
    fn read(&self, py: Python<'_>, size: Option<isize>) -> PyResult<Py<PyBytes>> {
        let max = limit(size);
        self.read_with(py, move |ex| ex.read_body(max))
    }

    #[pyo3(signature = (size = None))]
    fn readline(&self, py: Python<'_>, size: Option<isize>) -> PyResult<Py<PyBytes>> {
        let max = limit(size);
        self.read_with(py, move |ex| ex.read_body_line(max))
    }

    /// Lines until the end, or until their total size reaches `hint`.
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(&self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        let hint = limit(hint).filter(|&h| h > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.readline(py, None)?;
            let len = line.bind(py).as_bytes().len();
            if len == 0 {
                return Ok(lines);
            }
            lines.append(line)?;
            total += len;
            if hint.is_some_and(|h| total >= h) {
                return Ok(lines);
            }
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyBytes>>> {
        let line = self.readline(py, None)?;
        Ok((!line.bind(py).as_bytes().is_empty()).then_some(line))
    }
}

/// The `start_response` callable.
#[pyclass(module = "warp_server", name = "StartResponse")]
pub struct StartResponse {
    pub slot: Slot,
    pub write: Py<Write>,
    /// The request's ids for `response_started`, when handlers subscribed to events.
    pub events: Option<Py<PyDict>>,
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__(
        &self,
        py: Python<'_>,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<Write>> {
        let exc_info = exc_info.filter(|e| !e.is_none());
        if let Some(ids) = &self.events {
            events::response_started(py, ids, status, headers, exc_info)?;
        }
        let status: String = status
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("start_response: status must be a str, such as '200 OK'"))?
            .to_cow()?
            .into_owned();
        let headers = header_list(headers)?;
        // Taken with the GIL held (see the module docs): no Python may run until the guard
        // is dropped, which is why it is dropped before the exception is looked at.
        let mut guard = lock(&self.slot);
        let ex = guard.as_mut().ok_or_else(finished)?;
        match exc_info {
            Some(info) if ex.head_sent() => {
                // PEP 3333: too late to change the status; re-raise the app's exception.
                drop(guard);
                let value = info.get_item(1)?;
                return Err(PyErr::from_value(value));
            }
            None if ex.status.is_some() => {
                return Err(PyAssertionError::new_err("start_response called a second time without exc_info"));
            }
            _ => {}
        }
        ex.status = Some(status);
        ex.headers = headers;
        Ok(self.write.clone_ref(py))
    }
}

/// Validate the app's header list: a list of `(str, str)` tuples with legal names and values.
fn header_list(headers: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let list =
        headers.cast::<PyList>().map_err(|_| PyTypeError::new_err("start_response: headers must be a list of (name, value) tuples"))?;
    let mut out = Vec::with_capacity(list.len());
    for item in list.iter() {
        let pair = item.cast::<PyTuple>().map_err(|_| PyTypeError::new_err("start_response: each header must be a (name, value) tuple"))?;
        if pair.len() != 2 {
            return Err(PyTypeError::new_err("start_response: each header must be a (name, value) tuple"));
        }
        let as_str = |i: usize| -> PyResult<String> {
            let item = pair.get_item(i)?;
            let text = item.cast::<PyString>().map_err(|_| PyTypeError::new_err("start_response: header names and values must be str"))?;
            Ok(text.to_cow()?.into_owned())
        };
        let (name, value) = (as_str(0)?, as_str(1)?);
        check_app_header(&name, &value).map_err(|e| PyValueError::new_err(e.to_string()))?;
        out.push((name, value));
    }
    Ok(out)
}

/// The `write` callable returned by `start_response` (for old-style apps).
#[pyclass(module = "warp_server", name = "Write")]
pub struct Write {
    pub slot: Slot,
}

#[pymethods]
impl Write {
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = data.cast::<PyBytes>().map_err(|_| PyTypeError::new_err("write() takes bytes"))?;
        let data = bytes.as_bytes();
        py.detach(|| match lock(&self.slot).as_mut() {
            Some(ex) => ex.send(data).map_err(Some),
            None => Err(None),
        })
        .map_err(|e| e.map_or_else(finished, send_error))
    }
}

/// `wsgi.errors`: text written here goes to the error log (stderr).
#[pyclass(module = "warp_server", name = "ErrorStream")]
pub struct ErrorStream;

#[pymethods]
impl ErrorStream {
    fn write(&self, py: Python<'_>, text: &str) -> usize {
        let len = text.chars().count();
        py.detach(|| {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        });
        len
    }

    fn writelines(&self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(py, &line?.extract::<String>()?);
        }
        Ok(())
    }

    fn flush(&self) {
        let _ = std::io::stderr().lock().flush();
    }
}

/// `wsgi.file_wrapper`: lets the server send a file with sendfile(2). It is also a plain
/// iterable of blocks, so middleware that does not know it still works.
#[pyclass(module = "warp_server", name = "FileWrapper")]
pub struct FileWrapper {
    pub filelike: Py<PyAny>,
    pub blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize = 8192))]
    fn new(filelike: Py<PyAny>, blksize: usize) -> FileWrapper {
        FileWrapper { filelike, blksize: blksize.max(1) }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let block = self.filelike.bind(py).call_method1("read", (self.blksize,))?;
        Ok((block.len()? > 0).then(|| block.unbind()))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let filelike = self.filelike.bind(py);
        if filelike.hasattr("close")? {
            filelike.call_method0("close")?;
        }
        Ok(())
    }
}
