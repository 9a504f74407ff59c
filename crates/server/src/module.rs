//! The Python module `warp_server._native`: it only registers what Python may call.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyString, PyTuple};
use warp_worker_config::WorkerConfig;

use crate::inherited::Inherited;

use crate::wsgi::environ::Constants;
use crate::wsgi::objects::{ErrorStream, FileWrapper, Input, StartResponse, Write};
use crate::wsgi::proxy::ProxyTrust;

create_exception!(
    _native,
    SettingsError,
    PyValueError,
    "The worker settings cannot be used: not valid JSON, or a descriptor that is not what the master passes."
);

/// Serve `app` with the settings in `config_json` until the process is told to stop.
/// Returns whether every request finished within the shutdown timeout.
#[pyfunction]
fn serve(py: Python<'_>, app: Py<PyAny>, config_json: &str) -> PyResult<bool> {
    let config: WorkerConfig =
        serde_json::from_str(config_json).map_err(|e| SettingsError::new_err(format!("bad worker settings: {e}")))?;
    let inherited =
        Inherited::take(config.listen_fd, config.control_fd, config.scoreboard_fd).map_err(|e| SettingsError::new_err(e.to_string()))?;
    crate::log::set_level(config.log_level);
    let constants = Constants {
        server_name: PyString::new(py, &config.server_name).unbind(),
        server_port: PyString::new(py, &config.server_port.to_string()).unbind(),
        version: PyTuple::new(py, [1, 0])?.into_any().unbind(),
        errors: Py::new(py, ErrorStream)?.into_any(),
        file_wrapper: py.get_type::<FileWrapper>().into_any().unbind(),
        multithread: config.threads > 1,
        multiprocess: config.processes > 1,
        proxy: ProxyTrust::new(&config.trust_proxy_headers, &config.trusted_proxies),
        debugger: config.debugger,
    };
    // The watchdog dumps every thread's stack on a request timeout by raising SIGUSR2.
    let all_threads = [("all_threads", true)].into_py_dict(py)?;
    py.import("faulthandler")?.call_method("register", (libc::SIGUSR2,), Some(&all_threads))?;
    crate::worker::serve(py, app, config, constants, inherited)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(serve, m)?)?;
    m.add_function(wrap_pyfunction!(crate::wsgi::events::publish_events_to, m)?)?;
    m.add_function(wrap_pyfunction!(crate::metrics::process_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(crate::metrics::request_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(crate::metrics::start_recording_metrics, m)?)?;
    m.add("SettingsError", m.py().get_type::<SettingsError>())?;
    m.add_class::<FileWrapper>()?;
    m.add_class::<ErrorStream>()?;
    m.add_class::<Input>()?;
    m.add_class::<StartResponse>()?;
    m.add_class::<Write>()?;
    Ok(())
}
