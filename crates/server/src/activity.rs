//! What each request thread is doing, for the watchdog: which request it runs and since
//! when, how many requests the worker has served, and when it last served one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use warp_http::RequestHead;

use crate::clock::Epoch;
use crate::wsgi::objects::Slot;

/// A request a thread is running.
struct Running {
    since: Instant,
    /// `METHOD target`, written into a buffer the slot keeps, so tracking allocates nothing.
    what: String,
    busy: bool,
    /// The connection's key and the request's objects, once the app is called.
    request: Option<(usize, Slot)>,
}

pub struct Activity {
    threads: Vec<Mutex<Running>>,
    served: AtomicU64,
    /// When a request last finished, in nanoseconds after `epoch`.
    last_finished: AtomicU64,
    epoch: Epoch,
}

/// A request that has run longer than allowed.
pub struct Overdue {
    pub thread: usize,
    pub elapsed: Duration,
    pub what: String,
    pub request: Option<(usize, Slot)>,
}

impl Activity {
    pub fn new(threads: usize) -> Activity {
        let idle = || Mutex::new(Running { since: Instant::now(), what: String::new(), busy: false, request: None });
        Activity {
            threads: (0..threads).map(|_| idle()).collect(),
            served: AtomicU64::new(0),
            last_finished: AtomicU64::new(0),
            epoch: Epoch::new(),
        }
    }

    fn slot(&self, thread: usize) -> std::sync::MutexGuard<'_, Running> {
        self.threads[thread].lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn begin(&self, thread: usize, head: &RequestHead) {
        let mut slot = self.slot(thread);
        slot.since = Instant::now();
        slot.busy = true;
        slot.what.clear();
        slot.what.push_str(head.method());
        slot.what.push(' ');
        slot.what.push_str(head.target());
    }

    /// The app is about to be called for the request on connection `key`, with the objects
    /// in `request`: what the watchdog answers for it if it runs too long.
    pub fn watch(&self, thread: usize, key: usize, request: &Slot) {
        self.slot(thread).request = Some((key, request.clone()));
    }

    /// Returns how many requests the worker has now served.
    pub fn end(&self, thread: usize) -> u64 {
        let mut slot = self.slot(thread);
        slot.busy = false;
        slot.request = None;
        drop(slot);
        let served = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        self.last_finished.store(self.epoch.now(), Ordering::Relaxed);
        served
    }

    /// The threads running a request, and since when.
    pub fn running_since(&self) -> Vec<(usize, Instant)> {
        (0..self.threads.len())
            .filter_map(|thread| {
                let slot = self.slot(thread);
                slot.busy.then_some((thread, slot.since))
            })
            .collect()
    }

    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// How long since a request last finished (or since the worker started).
    pub fn idle_for(&self) -> Duration {
        self.epoch.elapsed().saturating_sub(Duration::from_nanos(self.last_finished.load(Ordering::Relaxed)))
    }

    /// The requests running longer than `limit`; none when `limit` is zero (no limit).
    pub fn overdue(&self, limit: Duration) -> Vec<Overdue> {
        if limit.is_zero() {
            return Vec::new();
        }
        (0..self.threads.len())
            .filter_map(|thread| {
                let slot = self.slot(thread);
                let elapsed = slot.since.elapsed();
                (slot.busy && elapsed >= limit).then(|| Overdue { thread, elapsed, what: slot.what.clone(), request: slot.request.clone() })
            })
            .collect()
    }
}
