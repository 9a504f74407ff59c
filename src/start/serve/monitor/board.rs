//! What the master knows of its workers' requests: each worker's scoreboard while it runs,
//! what the workers that ended left behind, and the restarts.
//!
//! Everything is kept per worker slot (the N places workers serve from), so the counts of a
//! slot go on rising across the workers that take turns in it: the ones that ended are
//! folded into the slot's past as they are reaped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use warp_worker_config::memory::resident_bytes;
use warp_worker_config::scoreboard::{monotonic_nanos, Reading, Scoreboard, Snapshot};
use warp_worker_config::utc::unix_seconds;

/// The restarts the status page lists.
const RECENT_RESTARTS: usize = 20;
/// Requests running longer than this are listed.
const LONG_REQUEST_SECONDS: f64 = 1.0;

pub struct Board {
    threads: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board").field("threads", &self.threads).finish_non_exhaustive()
    }
}

struct Inner {
    slots: Vec<SlotBoard>,
    restarts: BTreeMap<&'static str, u64>,
    recent: VecDeque<Restart>,
}

#[derive(Default)]
struct SlotBoard {
    /// The totals of the workers that ended.
    past: Snapshot,
    live: Vec<Live>,
    /// The busy time last reported: a request that ends between the reads of its mark and of
    /// the totals would otherwise dip it, and a counter must never go down.
    busy_reported: f64,
}

struct Live {
    pid: i32,
    board: Scoreboard,
}

/// A worker replaced, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Restart {
    /// Seconds since the Unix epoch.
    pub time: f64,
    pub worker: usize,
    pub pid: i32,
    pub reason: &'static str,
}

/// One slot, as read.
#[derive(Debug, Clone, Serialize)]
pub struct SlotStatus {
    pub worker: usize,
    pub pids: Vec<i32>,
    pub threads: usize,
    pub busy_seconds: f64,
    pub in_flight: usize,
    pub resident_bytes: u64,
}

/// A request running for longer than [`LONG_REQUEST_SECONDS`].
#[derive(Debug, Clone, Serialize)]
pub struct LongRequest {
    pub worker: usize,
    pub pid: i32,
    pub request: String,
    pub seconds: f64,
}

/// Everything at one moment: what /metrics and the status page show.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Seconds since the Unix epoch.
    pub time: f64,
    pub threads_per_worker: usize,
    pub capacity: usize,
    pub workers: Vec<SlotStatus>,
    #[serde(skip)]
    pub totals: Snapshot,
    pub restarts: BTreeMap<&'static str, u64>,
    pub recent_restarts: Vec<Restart>,
    pub long_requests: Vec<LongRequest>,
}

impl Board {
    pub fn new(processes: usize, threads: usize) -> Board {
        let slots = (0..processes).map(|_| SlotBoard::default()).collect();
        Board { threads, inner: Mutex::new(Inner { slots, restarts: BTreeMap::new(), recent: VecDeque::new() }) }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Worker `pid` serves slot `worker` and keeps `board`.
    pub fn attach(&self, worker: usize, pid: i32, board: Scoreboard) {
        if let Some(slot) = self.lock().slots.get_mut(worker) {
            slot.live.push(Live { pid, board });
        }
    }

    /// Worker `pid` ended: what it counted joins its slot's past.
    pub fn detach(&self, pid: i32) {
        let now = monotonic_nanos();
        for slot in &mut self.lock().slots {
            if let Some(at) = slot.live.iter().position(|l| l.pid == pid) {
                let gone = slot.live.swap_remove(at);
                slot.past.add(&gone.board.read(now).totals);
            }
        }
    }

    /// Worker `pid` of slot `worker` is being replaced for `reason`.
    pub fn restart(&self, worker: usize, pid: i32, reason: &'static str) {
        let mut inner = self.lock();
        *inner.restarts.entry(reason).or_default() += 1;
        if inner.recent.len() == RECENT_RESTARTS {
            inner.recent.pop_front();
        }
        inner.recent.push_back(Restart { time: unix_seconds(), worker, pid, reason });
    }

    pub fn status(&self) -> Status {
        let now = monotonic_nanos();
        let mut inner = self.lock();
        let mut totals = Snapshot::default();
        let mut workers = Vec::new();
        let mut long_requests = Vec::new();
        for (id, slot) in inner.slots.iter_mut().enumerate() {
            let mut slot_totals = slot.past.clone();
            let mut in_flight = 0;
            for live in &slot.live {
                let Reading { totals, running } = live.board.read(now);
                slot_totals.add(&totals);
                in_flight += running.len();
                long_requests.extend(running.into_iter().filter_map(|r| {
                    let seconds = now.saturating_sub(r.started) as f64 / 1e9;
                    (seconds > LONG_REQUEST_SECONDS).then_some(LongRequest { worker: id, pid: live.pid, request: r.target, seconds })
                }));
            }
            slot_totals.busy_seconds = slot_totals.busy_seconds.max(slot.busy_reported);
            slot.busy_reported = slot_totals.busy_seconds;
            totals.add(&slot_totals);
            workers.push(SlotStatus {
                worker: id,
                pids: slot.live.iter().map(|l| l.pid).collect(),
                threads: self.threads,
                busy_seconds: slot_totals.busy_seconds,
                in_flight,
                resident_bytes: slot.live.iter().filter_map(|l| resident_bytes(Some(l.pid))).sum(),
            });
        }
        long_requests.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        Status {
            time: unix_seconds(),
            threads_per_worker: self.threads,
            capacity: self.threads * inner.slots.len(),
            workers,
            totals,
            restarts: inner.restarts.clone(),
            recent_restarts: inner.recent.iter().rev().cloned().collect(),
            long_requests,
        }
    }
}

#[cfg(test)]
mod tests {
    use warp_worker_config::scoreboard::Ended;

    use super::*;

    #[test]
    fn a_slot_keeps_counting_across_the_workers_that_take_turns_in_it() {
        let board = Board::new(2, 4);
        let (first, fd) = Scoreboard::create(4).unwrap();
        let worker = Scoreboard::open(&fd, 4).unwrap();
        board.attach(1, 100, first);
        let ok = Ended { status: 200, queue_nanos: 1_000, application_nanos: 2_000_000, request_bytes: 0, response_bytes: 10 };
        let now = monotonic_nanos();
        worker.begin(0, now - 3_000_000_000, "GET", "/report");
        worker.begin(1, now, "GET", "/quick");
        worker.end(1, now + 2_000_000, &ok);

        let status = board.status();
        assert_eq!(status.capacity, 8);
        assert_eq!(status.totals.request_count(), 1);
        assert_eq!(status.workers[1].in_flight, 1);
        assert_eq!(status.long_requests.len(), 1, "{:?}", status.long_requests);
        assert_eq!((status.long_requests[0].worker, status.long_requests[0].pid), (1, 100));
        assert_eq!(status.long_requests[0].request, "GET /report");
        let busy = status.workers[1].busy_seconds;
        assert!(busy >= 3.0, "the running request counts: {busy}");

        // The worker is replaced: its count stays with the slot.
        board.restart(1, 100, "maximum_requests");
        board.detach(100);
        let (second, _fd) = Scoreboard::create(4).unwrap();
        board.attach(1, 101, second);
        let status = board.status();
        assert_eq!(status.totals.request_count(), 1);
        assert_eq!(status.workers[1].pids, [101]);
        assert!(status.workers[1].busy_seconds >= busy, "never goes down");
        assert_eq!(status.restarts.get("maximum_requests"), Some(&1));
        assert_eq!(status.recent_restarts[0].pid, 100);
        assert!(status.long_requests.is_empty());
    }
}
