//! Times as the server keeps and reports them: instants in atomics, as nanoseconds since an
//! [`Epoch`] of the worker's own; the wall clock and CPU times, as mod_wsgi's events and
//! metrics give them.

use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};

/// Now, as seconds since the Unix epoch: the clock records and the master use too.
pub use warp_worker_config::utc::unix_seconds;

/// A fixed instant that others are counted from, so that an atomic `u64` can hold one.
pub struct Epoch(Instant);

impl Epoch {
    pub fn new() -> Epoch {
        Epoch(Instant::now())
    }

    /// Nanoseconds from the epoch to `at`; never 0, which holders keep for "none".
    pub fn nanos(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.0)).max(1)
    }

    /// [`Epoch::nanos`] of now.
    pub fn now(&self) -> u64 {
        self.nanos(Instant::now())
    }

    /// How long since the epoch.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A duration in nanoseconds, saturating.
pub fn nanos(took: Duration) -> u64 {
    u64::try_from(took.as_nanos()).unwrap_or(u64::MAX)
}

/// The user and system CPU time so far of `who`: the process, or the calling thread.
pub fn cpu_times(who: UsageWho) -> (Duration, Duration) {
    let timeval = |tv: nix::sys::time::TimeVal| {
        Duration::new(u64::try_from(tv.tv_sec()).unwrap_or(0), u32::try_from(tv.tv_usec()).unwrap_or(0) * 1000)
    };
    getrusage(who).map_or((Duration::ZERO, Duration::ZERO), |usage| (timeval(usage.user_time()), timeval(usage.system_time())))
}
