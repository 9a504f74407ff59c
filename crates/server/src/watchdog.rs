//! Deciding when a worker should be replaced: a stuck request, or a recycling limit.
//!
//! The worker does not stop by itself: it asks the master for a replacement and keeps
//! serving until the replacement is ready, so capacity never drops to zero.

use std::time::{Duration, Instant};

use warp_worker_config::control::Reason;
use warp_worker_config::memory::resident_bytes;
use warp_worker_config::WorkerConfig;

use crate::activity::Activity;
use crate::log;

pub struct Watchdog {
    started: Instant,
    /// Set once the worker asked to be replaced: it asks only once.
    asked: bool,
}

impl Watchdog {
    pub fn new() -> Watchdog {
        Watchdog { started: Instant::now(), asked: false }
    }

    /// The reason to replace this worker, the first time there is one.
    pub fn check(&mut self, config: &WorkerConfig, activity: &Activity, busy: usize) -> Option<Reason> {
        if self.asked {
            return None;
        }
        let reason = reason(config, activity, busy, self.started.elapsed())?;
        self.asked = true;
        Some(reason)
    }
}

fn reason(config: &WorkerConfig, activity: &Activity, busy: usize, age: Duration) -> Option<Reason> {
    let overdue = activity.overdue(config.request_timeout);
    if !overdue.is_empty() {
        for request in &overdue {
            log::error(&format!(
                "request timeout: {} on thread {} has run {:.1}s (limit {}s); every thread's stack follows, then this worker is replaced",
                request.what,
                request.thread,
                request.elapsed.as_secs_f64(),
                config.request_timeout.as_secs_f64()
            ));
        }
        dump_python_stacks();
        return Some(Reason::RequestTimeout);
    }
    let on = |limit: Duration| !limit.is_zero();
    if config.maximum_requests > 0 && activity.served() >= config.maximum_requests {
        log::info(&format!("served {} requests (maximum requests); asking for a replacement", activity.served()));
        return Some(Reason::MaximumRequests);
    }
    if on(config.restart_interval) && age >= config.restart_interval {
        log::info(&format!("ran {:.0}s (restart interval); asking for a replacement", age.as_secs_f64()));
        return Some(Reason::RestartInterval);
    }
    // A worker that never served has nothing to give back: replacing it would only cycle.
    if on(config.inactivity_timeout) && busy == 0 && activity.served() > 0 && activity.idle_for() >= config.inactivity_timeout {
        log::info(&format!("idle for {:.0}s (inactivity timeout); asking for a replacement", activity.idle_for().as_secs_f64()));
        return Some(Reason::InactivityTimeout);
    }
    if config.memory_limit > 0 {
        if let Some(rss) = resident_bytes(None).filter(|rss| *rss > config.memory_limit) {
            log::info(&format!(
                "resident memory {} MiB is over the limit of {} MiB; asking for a replacement",
                rss >> 20,
                config.memory_limit >> 20
            ));
            return Some(Reason::MemoryLimit);
        }
    }
    None
}

/// Write every Python thread's stack to stderr. Python's faulthandler is registered on
/// SIGUSR2 when the worker starts; its handler walks the threads without the GIL, so this
/// works even when the stuck thread holds the GIL in C code.
fn dump_python_stacks() {
    // SAFETY: kill(2) on our own pid with a signal whose handler is installed; no memory
    // is involved.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGUSR2);
    }
}
