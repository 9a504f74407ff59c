//! The hand-off of ready requests from the event loop to the request threads.
//!
//! Python runs one thread at a time, so under load a second thread that wakes to take a
//! request only waits for the GIL, and every such hand-off costs context switches. So the
//! thread that just finished a request takes the next one itself, and an idle thread is
//! woken only when no thread is serving, or when the threads that are have made no
//! progress for [`STALL`] and none of them is running (the app is waiting on a database, a
//! slow client, `sleep`): then the waiting requests get another thread, up to every thread
//! in the pool. A thread that runs through a long request is computing with the GIL, and
//! a second one would only slow it down. For the same reason a thread that finishes a
//! request while another serving thread runs goes back to idle: the stall it came to help
//! with is over.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::Epoch;

/// How long the running requests may make no progress before another thread joins in,
/// when none of their threads runs.
const STALL: Duration = Duration::from_micros(500);

/// How long they may make no progress before another thread joins in anyway.
const COMPUTING: Duration = Duration::from_millis(100);

pub struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    ready: Condvar,
    /// Threads serving requests (from taking one until they find no next one).
    serving: AtomicUsize,
    /// Their kernel thread ids, to tell one that computes from one that waits.
    serving_tids: Mutex<Vec<libc::pid_t>>,
    /// When a request last started or finished, in nanoseconds since `epoch`.
    progress: AtomicU64,
    epoch: Epoch,
    /// A thread is already waiting with a timeout to check for a stall.
    watching: AtomicBool,
    closed: AtomicBool,
}

impl<T> Queue<T> {
    pub fn new() -> Queue<T> {
        Queue {
            items: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            serving: AtomicUsize::new(0),
            serving_tids: Mutex::new(Vec::new()),
            progress: AtomicU64::new(0),
            epoch: Epoch::new(),
            watching: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the requests being served have stalled, or there are none. A request that
    /// makes no progress but whose thread runs is computing, holding the GIL: another thread
    /// would only wait for it, so help comes when every serving thread waits (on a
    /// database, a client, `sleep`, or the GIL that a thread outside the pool holds), or
    /// after [`COMPUTING`], so that a long computation does not hold up the short requests
    /// behind it.
    fn needs_help(&self) -> bool {
        if self.serving.load(Ordering::SeqCst) == 0 {
            return true;
        }
        let still = self.epoch.now().saturating_sub(self.progress.load(Ordering::SeqCst));
        still >= COMPUTING.as_nanos() as u64
            || (still >= STALL.as_nanos() as u64 && !lock_tids(&self.serving_tids).iter().any(|&tid| is_running(tid)))
    }

    /// Whether a serving thread other than this one is running.
    fn another_runs(&self) -> bool {
        let me = current_tid();
        lock_tids(&self.serving_tids).iter().any(|&tid| tid != me && is_running(tid))
    }

    /// This thread serves requests from now on.
    fn start_serving(&self) {
        self.serving.fetch_add(1, Ordering::SeqCst);
        lock_tids(&self.serving_tids).push(current_tid());
    }

    /// This thread found no next request.
    fn stop_serving(&self) {
        self.serving.fetch_sub(1, Ordering::SeqCst);
        let tid = current_tid();
        lock_tids(&self.serving_tids).retain(|&t| t != tid);
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    pub fn push(&self, item: T) {
        self.lock().push_back(item);
        if self.needs_help() || !self.watching.load(Ordering::SeqCst) {
            self.ready.notify_one();
        }
    }

    /// Queue an item from a serving thread that calls [`Queue::next_after_request`] next:
    /// it takes the first item itself, and only what is left needs a watcher.
    pub fn push_own(&self, item: T) {
        self.lock().push_back(item);
    }

    /// Take out the items `expired` picks, keeping the others in order.
    pub fn take_if(&self, mut expired: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut items = self.lock();
        if items.is_empty() {
            return Vec::new();
        }
        let (taken, kept): (VecDeque<T>, VecDeque<T>) = items.drain(..).partition(|item| expired(item));
        *items = kept;
        taken.into()
    }

    /// Wake every thread and make the pops return `None` once the queue is empty.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _items = self.lock();
        self.ready.notify_all();
    }

    /// A serving thread is busy with new work (reading the next requests itself): it is
    /// making progress, and needs no help for the items it queues.
    pub fn progressed(&self) {
        self.progress.store(self.epoch.now(), Ordering::SeqCst);
    }

    /// The next item for a thread that just finished a request: it is the one to go on.
    pub fn next_after_request(&self) -> Option<T> {
        self.progressed();
        if self.serving.load(Ordering::SeqCst) > 1 && self.another_runs() {
            // Help came while the requests stalled, and they no longer do: another serving
            // thread computes with the GIL, and this one would only take turns with it.
            self.stop_serving();
            return self.pop();
        }
        let mut items = self.lock();
        if let Some(item) = items.pop_front() {
            if !items.is_empty() && !self.watching.load(Ordering::SeqCst) {
                // Requests still wait (queued by this thread without a wake-up): an idle
                // thread watches for a stall.
                self.ready.notify_one();
            }
            return Some(item);
        }
        drop(items);
        self.stop_serving();
        self.pop()
    }

    /// The next item for an idle thread; `None` once the queue is closed and empty.
    pub fn pop(&self) -> Option<T> {
        let mut items = self.lock();
        loop {
            if !items.is_empty() && (self.needs_help() || self.closed.load(Ordering::SeqCst)) {
                self.start_serving();
                self.progress.store(self.epoch.now(), Ordering::SeqCst);
                let item = items.pop_front();
                if !items.is_empty() {
                    // Requests still wait: another idle thread takes over the watch (or
                    // the next one at once, when closing), else they would wait for a
                    // running request to finish while threads sleep.
                    self.ready.notify_one();
                }
                return item;
            }
            if items.is_empty() && self.closed.load(Ordering::SeqCst) {
                return None;
            }
            // Requests are waiting but the app is busy and making progress: at most one
            // idle thread watches for a stall; the others sleep until woken.
            if !items.is_empty() && !self.watching.swap(true, Ordering::SeqCst) {
                let (guard, _) = self.ready.wait_timeout(items, STALL).unwrap_or_else(|poisoned| poisoned.into_inner());
                items = guard;
                self.watching.store(false, Ordering::SeqCst);
            } else {
                items = self.ready.wait(items).unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
    }
}

fn lock_tids(tids: &Mutex<Vec<libc::pid_t>>) -> MutexGuard<'_, Vec<libc::pid_t>> {
    tids.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn current_tid() -> libc::pid_t {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Whether the thread `tid` of this process is running or ready to run, as the kernel's
/// `/proc/self/task/TID/stat` says (state `R`, after the parenthesised name).
fn is_running(tid: libc::pid_t) -> bool {
    std::fs::read(format!("/proc/self/task/{tid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = memchr::memrchr(b')', &stat)? + 1;
            stat[after_name..].iter().find(|b| !b.is_ascii_whitespace()).copied()
        })
        .is_some_and(|state| state == b'R')
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue::new()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    /// A queue whose request 1 this thread has taken (and serves), with request 2 waiting.
    fn serving_one_with_one_waiting() -> Arc<Queue<i32>> {
        let queue = Arc::new(Queue::new());
        queue.push(1);
        assert_eq!(queue.pop(), Some(1));
        queue.push(2);
        queue
    }

    /// Run on this thread without waiting on anything for `period`, calling `meanwhile`.
    fn compute_for(period: Duration, mut meanwhile: impl FnMut()) {
        let until = Instant::now() + period;
        while Instant::now() < until {
            meanwhile();
            std::hint::spin_loop();
        }
    }

    #[test]
    fn items_come_out_in_order() {
        let queue = Queue::new();
        for i in 0..3 {
            queue.push(i);
        }
        assert_eq!(queue.pop(), Some(0));
        assert_eq!(queue.next_after_request(), Some(1));
        assert_eq!(queue.next_after_request(), Some(2));
    }

    #[test]
    fn an_idle_thread_waits_for_an_item_and_gets_it() {
        let queue = Arc::new(Queue::new());
        let (started, waiting) = mpsc::channel();
        let idle = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                started.send(()).unwrap();
                queue.pop()
            })
        };
        waiting.recv().unwrap();
        queue.push("request");
        assert_eq!(idle.join().unwrap(), Some("request"));
    }

    #[test]
    fn the_thread_that_finished_a_request_takes_the_next_one() {
        let queue = Queue::new();
        queue.push(1);
        assert_eq!(queue.pop(), Some(1));
        // Whether or not an idle thread would be woken for it, the item is this thread's
        // once its request is done, without a hand-off.
        queue.push(2);
        assert_eq!(queue.next_after_request(), Some(2));
    }

    #[test]
    fn a_stalled_request_lets_an_idle_thread_take_the_next_one() {
        // This thread serves 1 and never finishes it.
        let queue = serving_one_with_one_waiting();
        let helper = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.pop())
        };
        // Returns once the first request has made no progress for STALL.
        assert_eq!(helper.join().unwrap(), Some(2));
    }

    #[test]
    fn a_request_that_computes_gets_no_helper_until_it_waits() {
        let queue = serving_one_with_one_waiting();
        let computed = Arc::new(AtomicBool::new(false));
        let helper = {
            let (queue, computed) = (queue.clone(), computed.clone());
            std::thread::spawn(move || (queue.pop(), computed.load(Ordering::SeqCst)))
        };
        // Runs, without waiting on anything, for many times the stall period (and a fifth of
        // the computing period): the helper must not take 2 meanwhile.
        compute_for(COMPUTING / 5, || {});
        computed.store(true, Ordering::SeqCst);
        // Now this thread waits (on the join), and the helper takes 2.
        assert_eq!(helper.join().unwrap(), (Some(2), true));
    }

    #[test]
    fn a_long_computation_gets_a_helper_after_the_computing_period() {
        let queue = Arc::new(Queue::new());
        queue.push(1);
        // Before the request starts, so that no helper can come sooner after it.
        let started = Instant::now();
        assert_eq!(queue.pop(), Some(1));
        queue.push(2);
        let helper = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.pop())
        };
        // Computes until the helper took 2, which it does although this thread runs.
        while !helper.is_finished() {
            assert!(started.elapsed() < COMPUTING * 50, "no helper came");
            std::hint::spin_loop();
        }
        assert!(started.elapsed() >= COMPUTING, "the helper came after {:?}", started.elapsed());
        assert_eq!(helper.join().unwrap(), Some(2));
    }

    #[test]
    fn a_helper_goes_back_to_idle_once_the_thread_it_helped_runs_again() {
        let queue = serving_one_with_one_waiting();
        let (finish, finished) = (mpsc::channel::<()>(), mpsc::channel());
        let helper = {
            let queue = queue.clone();
            let (wait, report) = (finish.1, finished.0);
            std::thread::spawn(move || {
                // Taken while this test's thread waits below: a stall.
                report.send(queue.pop()).unwrap();
                wait.recv().unwrap();
                report.send(queue.next_after_request()).unwrap();
            })
        };
        assert_eq!(finished.1.recv().unwrap(), Some(2));
        queue.push(3);
        finish.0.send(()).unwrap();
        // This thread computes again: the helper's next request is not its to take.
        compute_for(COMPUTING / 5, || assert!(finished.1.try_recv().is_err(), "the helper went on serving"));
        assert_eq!(queue.next_after_request(), Some(3));
        queue.close();
        assert_eq!(finished.1.recv().unwrap(), None);
        helper.join().unwrap();
    }

    #[test]
    fn closing_wakes_idle_threads_and_they_stop_once_the_queue_is_empty() {
        let queue = Arc::new(Queue::<u32>::new());
        let (started, waiting) = mpsc::channel();
        let idle: Vec<_> = (0..3)
            .map(|_| {
                let (queue, started) = (queue.clone(), started.clone());
                std::thread::spawn(move || {
                    started.send(()).unwrap();
                    queue.pop()
                })
            })
            .collect();
        for _ in 0..3 {
            waiting.recv().unwrap();
        }
        queue.close();
        for thread in idle {
            assert_eq!(thread.join().unwrap(), None);
        }
    }

    #[test]
    fn items_queued_before_closing_are_still_served() {
        let queue = Queue::new();
        queue.push(1);
        queue.push(2);
        queue.close();
        assert_eq!(queue.pop(), Some(1));
        // Closing hands items out even while another thread serves: no stall wait.
        assert_eq!(queue.pop(), Some(2));
        assert_eq!(queue.pop(), None);
        assert_eq!(queue.next_after_request(), None);
    }

    #[test]
    fn take_if_removes_the_picked_items_and_keeps_the_others_in_order() {
        let queue = Queue::new();
        for i in 0..6 {
            queue.push(i);
        }
        assert_eq!(queue.take_if(|i| i % 2 == 0), [0, 2, 4]);
        assert_eq!(queue.take_if(|_| false), Vec::<i32>::new());
        assert_eq!(queue.take_if(|_| true), [1, 3, 5]);
        assert_eq!(queue.take_if(|_| true), Vec::<i32>::new());
    }
}
