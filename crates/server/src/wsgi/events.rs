//! A request's events for monitoring (`warp_server.events`, mod_wsgi's API): published
//! only once the app subscribed a handler, so that a server nobody watches pays nothing.
//!
//! Each event is a dict handed to the Python `publish(name, event)`, which calls the
//! handlers and returns the dict as they left it: `request_started` before the app is
//! called (a handler may replace `application_object`), `response_started` from
//! `start_response`, `request_exception` when the app raised, and `request_finished` once
//! its iterable is closed; and `process_stopping`, with why, as the worker begins to stop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::resource::UsageWho;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::clock::{cpu_times, unix_seconds};

/// The Python function events go to, once a handler subscribed.
static PUBLISH: OnceLock<Py<PyAny>> = OnceLock::new();

/// Requests this worker has published events for, numbering their `request_id`.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// `_native.publish_events_to(publish)`: from now on each request's events go to
/// `publish(name, event)`, which returns the event.
#[pyfunction]
pub fn publish_events_to(publish: Py<PyAny>) {
    // The first one stays: `warp_server.events` passes the same function every time.
    let _ = PUBLISH.set(publish);
}

/// Where the request stood when its thread took it.
pub struct Timing {
    /// When its head was complete.
    pub queued: Instant,
    /// The thread serving it, from 1.
    pub thread_id: usize,
}

/// The events of one request, once handlers subscribed.
pub struct RequestEvents {
    /// `request_id` and `request_data`, which every event of the request carries.
    ids: Py<PyDict>,
    thread_id: usize,
    application_start: f64,
    started: Instant,
    /// The thread's user and system CPU time when the app was called.
    cpu_start: (Duration, Duration),
}

impl RequestEvents {
    /// Publish `request_started` for a request about to call `app` with `environ`, when
    /// handlers subscribed; returns its events and the app to call (a handler may have
    /// wrapped it).
    pub fn start<'py>(
        py: Python<'py>,
        timing: &Timing,
        environ: &Bound<'py, PyDict>,
        app: &Bound<'py, PyAny>,
    ) -> PyResult<Option<(RequestEvents, Bound<'py, PyAny>)>> {
        if PUBLISH.get().is_none() {
            return Ok(None);
        }
        let number = REQUESTS.fetch_add(1, Ordering::Relaxed) + 1;
        let ids = PyDict::new(py);
        ids.set_item("request_id", format!("{}-{number}", std::process::id()))?;
        ids.set_item("request_data", PyDict::new(py))?;
        let now = Instant::now();
        let application_start = unix_seconds();
        // Read off the socket and queued at once, when its head was complete.
        let queued = application_start - now.saturating_duration_since(timing.queued).as_secs_f64();
        let event = ids.copy()?;
        event.set_item("thread_id", timing.thread_id)?;
        event.set_item("server_pid", std::process::id())?;
        event.set_item("request_start", queued)?;
        event.set_item("queue_start", queued)?;
        event.set_item("application_start", application_start)?;
        event.set_item("request_environ", environ)?;
        event.set_item("application_object", app)?;
        let event = publish(py, "request_started", event)?;
        let app = event.get_item("application_object")?.unwrap_or_else(|| app.clone());
        let events =
            RequestEvents { ids: ids.unbind(), thread_id: timing.thread_id, application_start, started: now, cpu_start: thread_cpu() };
        Ok(Some((events, app)))
    }

    /// What `start_response` needs to publish `response_started`.
    pub fn ids(&self, py: Python<'_>) -> Py<PyDict> {
        self.ids.clone_ref(py)
    }

    /// Publish `request_exception` for the app's exception `err`.
    pub fn exception(&self, py: Python<'_>, err: &PyErr) -> PyResult<()> {
        let event = self.ids.bind(py).copy()?;
        let info = PyTuple::new(py, [err.get_type(py).into_any(), err.value(py).clone().into_any(), traceback(py, err)])?;
        event.set_item("exception_info", info)?;
        publish(py, "request_exception", event).map(drop)
    }

    /// Publish `request_finished`: the request read `input_length` bytes of its body and
    /// answered `status` with `output_length` body bytes.
    pub fn finish(&self, py: Python<'_>, status: u16, input_length: u64, output_length: u64) -> PyResult<()> {
        let application_time = self.started.elapsed();
        let (user, system) = thread_cpu();
        let event = self.ids.bind(py).copy()?;
        event.set_item("thread_id", self.thread_id)?;
        event.set_item("server_pid", std::process::id())?;
        event.set_item("application_start", self.application_start)?;
        event.set_item("application_finish", self.application_start + application_time.as_secs_f64())?;
        event.set_item("application_time", application_time.as_secs_f64())?;
        event.set_item("status", status)?;
        event.set_item("input_length", input_length)?;
        event.set_item("output_length", output_length)?;
        event.set_item("cpu_user_time", user.saturating_sub(self.cpu_start.0).as_secs_f64())?;
        event.set_item("cpu_system_time", system.saturating_sub(self.cpu_start.1).as_secs_f64())?;
        publish(py, "request_finished", event).map(drop)
    }
}

/// Publish `process_stopping` with its `shutdown_reason`, from the event loop (which holds
/// no GIL) as the worker begins to stop, when handlers subscribed.
pub fn process_stopping(reason: &str) {
    if PUBLISH.get().is_none() {
        return;
    }
    Python::attach(|py| {
        let stopping = (|| {
            let event = PyDict::new(py);
            event.set_item("shutdown_reason", reason)?;
            publish(py, "process_stopping", event).map(drop)
        })();
        if let Err(err) = stopping {
            err.print(py);
        }
    });
}

/// Publish `response_started` from `start_response`, for the request whose `ids` these are.
pub fn response_started(
    py: Python<'_>,
    ids: &Py<PyDict>,
    status: &Bound<'_, PyAny>,
    headers: &Bound<'_, PyAny>,
    exc_info: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let event = ids.bind(py).copy()?;
    event.set_item("response_status", status)?;
    event.set_item("response_headers", headers)?;
    event.set_item("exception_info", exc_info)?;
    publish(py, "response_started", event).map(drop)
}

fn publish<'py>(py: Python<'py>, name: &str, event: Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    let Some(publish) = PUBLISH.get() else { return Ok(event) };
    Ok(publish.bind(py).call1((name, event))?.cast_into::<PyDict>()?)
}

fn traceback<'py>(py: Python<'py>, err: &PyErr) -> Bound<'py, PyAny> {
    err.traceback(py).map_or_else(|| py.None().into_bound(py), |tb| tb.into_any())
}

/// The calling thread's user and system CPU time so far.
fn thread_cpu() -> (Duration, Duration) {
    cpu_times(UsageWho::RUSAGE_THREAD)
}
