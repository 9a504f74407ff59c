//! The worker's request metrics, as mod_wsgi's `process_metrics()` and `request_metrics()`
//! report them: counts and times over the worker's life, and a window of them that each
//! `request_metrics()` closes and starts anew.
//!
//! A request is recorded once, as it ends, under one uncontended lock: its queue time
//! (from its head being complete to a thread taking it), its application time, status and
//! sizes. Capacity counts thread time: a request's time is split at window boundaries, and
//! a request still running when a window closes counts for the part it ran in it.
//!
//! With `--metrics-port` the worker also keeps a scoreboard the master reads (see
//! `warp_worker_config::scoreboard`): each request thread's mark while a request runs, and
//! the worker's totals as each ends. Without it, nothing of that is done.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::resource::UsageWho;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use warp_worker_config::memory::resident_bytes;
use warp_worker_config::scoreboard::{self, Scoreboard};

use crate::activity::Activity;
use crate::clock::{cpu_times, unix_seconds};

/// Histogram buckets: four a power of two, from 1 ms to 65.536 s, and one beyond.
const BUCKETS: usize = 65;

/// The worker's metrics, for `_native.process_metrics()` and `_native.request_metrics()`.
static WORKER: OnceLock<Arc<Metrics>> = OnceLock::new();

/// One request, as it ended.
pub struct Finished {
    pub thread: usize,
    /// When its head was complete, when a thread took it, and when it ended.
    pub queued: Instant,
    pub began: Instant,
    pub ended: Instant,
    pub status: u16,
    pub input: u64,
    pub output: u64,
}

pub struct Metrics {
    state: Mutex<State>,
    activity: Arc<Activity>,
    threads: usize,
    started: Instant,
    started_wall: f64,
    scoreboard: Option<Scoreboard>,
    /// `started` in [`scoreboard::monotonic_nanos`].
    started_nanos: u64,
}

struct State {
    /// Requests finished in each thread over the worker's life.
    served: Vec<u64>,
    /// Their thread time, in seconds.
    busy: f64,
    window: Window,
}

struct Window {
    since: Instant,
    since_wall: f64,
    cpu_at_start: (Duration, Duration),
    count: u64,
    /// Thread time in this window, in seconds, of requests that ended in it.
    busy: f64,
    /// Threads that finished a request in it.
    active: Vec<bool>,
    queue: f64,
    application: f64,
    status: [u64; 5],
    input: u64,
    output: u64,
    queue_buckets: [u64; BUCKETS],
    application_buckets: [u64; BUCKETS],
    request_buckets: [u64; BUCKETS],
}

impl Window {
    fn new(threads: usize, since: Instant) -> Window {
        Window {
            since,
            since_wall: unix_seconds(),
            cpu_at_start: process_cpu(),
            count: 0,
            busy: 0.0,
            active: vec![false; threads],
            queue: 0.0,
            application: 0.0,
            status: [0; 5],
            input: 0,
            output: 0,
            queue_buckets: [0; BUCKETS],
            application_buckets: [0; BUCKETS],
            request_buckets: [0; BUCKETS],
        }
    }
}

impl Metrics {
    /// The metrics of this worker, whose `threads` request threads `activity` follows; the
    /// Python API reads them from now on.
    pub fn install(threads: usize, activity: Arc<Activity>, scoreboard: Option<Scoreboard>) -> Arc<Metrics> {
        let started = Instant::now();
        let state = State { served: vec![0; threads], busy: 0.0, window: Window::new(threads, started) };
        let metrics = Arc::new(Metrics {
            state: Mutex::new(state),
            activity,
            threads,
            started,
            started_wall: unix_seconds(),
            scoreboard,
            started_nanos: scoreboard::monotonic_nanos(),
        });
        let _ = WORKER.set(metrics.clone());
        metrics
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Thread `thread` takes `method target` at `began`: the master sees it running.
    pub fn begin(&self, thread: usize, began: Instant, method: &str, target: &str) {
        if let Some(board) = &self.scoreboard {
            board.begin(thread, self.monotonic(began), method, target);
        }
    }

    /// [`scoreboard::monotonic_nanos`] at `at`: an `Instant` reads that clock, but keeps its
    /// count to itself, so it is counted from an instant whose count is known.
    fn monotonic(&self, at: Instant) -> u64 {
        self.started_nanos + crate::clock::nanos(at.saturating_duration_since(self.started))
    }

    pub fn record(&self, request: &Finished) {
        let queue = request.began.saturating_duration_since(request.queued);
        let application = request.ended.saturating_duration_since(request.began);
        if let Some(board) = &self.scoreboard {
            let ended = scoreboard::Ended {
                status: request.status,
                queue_nanos: crate::clock::nanos(queue),
                application_nanos: crate::clock::nanos(application),
                request_bytes: request.input,
                response_bytes: request.output,
            };
            board.end(request.thread, self.monotonic(request.ended), &ended);
        }
        let mut state = self.lock();
        state.served[request.thread] += 1;
        state.busy += application.as_secs_f64();
        let window = &mut state.window;
        window.count += 1;
        window.busy += request.ended.saturating_duration_since(request.began.max(window.since)).as_secs_f64();
        window.active[request.thread] = true;
        window.queue += queue.as_secs_f64();
        window.application += application.as_secs_f64();
        // Status 0 (no response) counts as a server error, as mod_wsgi counts it.
        let class = usize::from(request.status / 100).clamp(1, 5) - 1;
        window.status[if request.status == 0 { 4 } else { class }] += 1;
        window.input += request.input;
        window.output += request.output;
        window.queue_buckets[bucket(queue)] += 1;
        window.application_buckets[bucket(application)] += 1;
        window.request_buckets[bucket(queue + application)] += 1;
    }

    /// `process_metrics()`: the worker's life so far.
    fn process<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let state = self.lock();
        let running = self.activity.running_since();
        let now = Instant::now();
        let in_flight: f64 = running.iter().map(|(_, since)| now.saturating_duration_since(*since).as_secs_f64()).sum();
        let dict = PyDict::new(py);
        dict.set_item("pid", std::process::id())?;
        dict.set_item("restart_time", self.started_wall)?;
        dict.set_item("current_time", unix_seconds())?;
        dict.set_item("running_time", now.saturating_duration_since(self.started).as_secs())?;
        dict.set_item("request_count", state.served.iter().sum::<u64>())?;
        dict.set_item("request_busy_time", state.busy + in_flight)?;
        dict.set_item("request_threads", self.threads)?;
        dict.set_item("active_requests", running.len())?;
        let (user, system) = process_cpu();
        dict.set_item("cpu_user_time", user.as_secs_f64())?;
        dict.set_item("cpu_system_time", system.as_secs_f64())?;
        dict.set_item("cpu_time", (user + system).as_secs_f64())?;
        dict.set_item("memory_rss", resident_bytes(None).unwrap_or(0))?;
        dict.set_item("memory_max_rss", peak_resident_bytes())?;
        let threads = PyList::empty(py);
        for (index, served) in state.served.iter().enumerate() {
            let thread = PyDict::new(py);
            thread.set_item("thread_id", index + 1)?;
            thread.set_item("request_count", served)?;
            threads.append(thread)?;
        }
        dict.set_item("threads", threads)?;
        Ok(dict)
    }

    /// `request_metrics()`: the window since the previous call (or since the worker
    /// started), which this closes.
    fn sample<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let now = Instant::now();
        let running = self.activity.running_since();
        let window = std::mem::replace(&mut self.lock().window, Window::new(self.threads, now));
        let period = now.saturating_duration_since(window.since).as_secs_f64().max(1e-6);
        let in_flight: f64 = running.iter().map(|(_, since)| now.saturating_duration_since((*since).max(window.since)).as_secs_f64()).sum();
        let active = (0..self.threads).filter(|&t| window.active[t] || running.iter().any(|(r, _)| *r == t)).count();
        let count = window.count;
        let average = |total: f64| if count == 0 { 0.0 } else { total / count as f64 };
        let (user, system) = process_cpu();
        let (user, system) = (user.saturating_sub(window.cpu_at_start.0), system.saturating_sub(window.cpu_at_start.1));
        let dict = PyDict::new(py);
        dict.set_item("pid", std::process::id())?;
        dict.set_item("start_time", window.since_wall)?;
        dict.set_item("stop_time", window.since_wall + period)?;
        dict.set_item("sample_period", period)?;
        dict.set_item("request_count", count)?;
        dict.set_item("request_throughput", count as f64 / period)?;
        dict.set_item("request_threads_maximum", self.threads)?;
        dict.set_item("request_threads_started", self.threads)?;
        dict.set_item("request_threads_active", active)?;
        dict.set_item("capacity_utilization", (window.busy + in_flight) / (period * self.threads as f64))?;
        // The head is read by the event loop, which hands the request straight to the queue:
        // no server or daemon phase of its own.
        dict.set_item("server_time", 0.0)?;
        dict.set_item("daemon_time", 0.0)?;
        dict.set_item("queue_time", average(window.queue))?;
        dict.set_item("application_time", average(window.application))?;
        dict.set_item("request_time", average(window.queue + window.application))?;
        dict.set_item("queue_time_buckets", window.queue_buckets.to_vec())?;
        dict.set_item("application_time_buckets", window.application_buckets.to_vec())?;
        dict.set_item("request_time_buckets", window.request_buckets.to_vec())?;
        for (class, counted) in window.status.iter().enumerate() {
            dict.set_item(format!("status_{}xx", class + 1), counted)?;
        }
        dict.set_item("input_bytes", window.input)?;
        dict.set_item("output_bytes", window.output)?;
        dict.set_item("cpu_user_utilization", user.as_secs_f64() / period)?;
        dict.set_item("cpu_system_utilization", system.as_secs_f64() / period)?;
        dict.set_item("cpu_utilization", (user + system).as_secs_f64() / period)?;
        dict.set_item("memory_rss", resident_bytes(None).unwrap_or(0))?;
        dict.set_item("memory_max_rss", peak_resident_bytes())?;
        Ok(dict)
    }
}

/// The histogram bucket of a duration: entry `4k + j` holds 2^k·(1 + j/4) ms up to the next
/// quarter; under 1 ms goes to the first, 65.536 s and over to the last.
fn bucket(took: Duration) -> usize {
    let ms = took.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        return 0;
    }
    let power = ms.log2().floor();
    let quarter = ((ms / power.exp2() - 1.0) * 4.0).floor();
    ((power as usize) * 4 + quarter as usize).min(BUCKETS - 1)
}

/// `_native.process_metrics()`: `None` before the worker serves.
#[pyfunction]
pub fn process_metrics(py: Python<'_>) -> PyResult<Option<Bound<'_, PyDict>>> {
    WORKER.get().map(|metrics| metrics.process(py)).transpose()
}

/// `_native.request_metrics()`: `None` before the worker serves.
#[pyfunction]
pub fn request_metrics(py: Python<'_>) -> PyResult<Option<Bound<'_, PyDict>>> {
    WORKER.get().map(|metrics| metrics.sample(py)).transpose()
}

/// `_native.start_recording_metrics()`: the next `request_metrics()` covers from now.
#[pyfunction]
pub fn start_recording_metrics() {
    if let Some(metrics) = WORKER.get() {
        metrics.lock().window = Window::new(metrics.threads, Instant::now());
    }
}

/// The process's user and system CPU time so far.
fn process_cpu() -> (Duration, Duration) {
    cpu_times(UsageWho::RUSAGE_SELF)
}

/// The peak resident memory of this program (VmHWM): not `ru_maxrss`, which also counts
/// what the process held before its exec, as the master's fork.
fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    kib.unwrap_or(0) * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_quarters_of_powers_of_two_from_one_millisecond() {
        let ms = |n: f64| Duration::from_secs_f64(n / 1000.0);
        assert_eq!(bucket(ms(0.3)), 0, "under 1 ms");
        assert_eq!(bucket(ms(1.0)), 0);
        assert_eq!(bucket(ms(1.3)), 1);
        assert_eq!(bucket(ms(1.8)), 3);
        assert_eq!(bucket(ms(2.0)), 4);
        assert_eq!(bucket(ms(3.1)), 6);
        assert_eq!(bucket(ms(1000.0)), 39, "2^9 * 1.953: the fourth quarter of 512 ms");
        assert_eq!(bucket(ms(65_536.0)), 64);
        assert_eq!(bucket(Duration::from_secs(3600)), 64, "everything longer in the last");
    }
}
