//! Responses a request thread leaves to the event loop to send, and when it leaves them.
//!
//! A response the client did not take whole goes to the event loop, which sends the rest as
//! the client reads. Under load, when the app itself is slow (Flask or Django, not a
//! hello world), a request thread leaves it the whole response: with one thread in Python
//! at a time, the GIL is what limits throughput, and writing to the socket and reading the
//! next request on the event loop's thread, on another core, keeps that thread in Python.
//! For a fast app the hand-off would cost more than the write, and the thread sends itself.
//!
//! The event loop is woken for a response only when it sleeps: under load it finds the
//! responses between its polls. Waking it costs the request thread as much as a tenth of a
//! Flask request (an inter-processor interrupt, dear in a virtual machine), so while a slow
//! call runs the loop naps instead, until the call is due to end by the app's average,
//! and is not woken for a response that comes meanwhile: the response waits at most
//! [`NAP_MAX`], and only while requests wait anyway.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mio::Waker;

use crate::clock::{self, Epoch};

/// An app whose calls take this long on average has its responses sent by the event loop
/// while others wait for it; below it, handing a response over costs more than writing it.
const SLOW_APP: Duration = Duration::from_micros(40);

/// The weight of the newest call in the running average, as a shift: 1/8.
const AVERAGE_SHIFT: u32 = 3;

/// The longest the event loop naps while a call runs.
const NAP_MAX: Duration = Duration::from_micros(250);

/// What the event loop does, for a request thread that hands it a response.
const AWAKE: u8 = 0;
/// Waiting in its poll: woken for a response.
const ASLEEP: u8 = 1;
/// Napping until a call is due to end: it looks for responses then.
const NAPPING: u8 = 2;

/// How the event loop waits for news.
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    /// Not at all: responses were handed over already.
    Not,
    /// A nap this long, woken only by the connections and the other sources.
    Nap(Duration),
    /// Until woken.
    Sleep,
}

/// What request threads hand over, `T` (a connection and its token), and how slow the app is.
pub struct Outgoing<T> {
    conns: Mutex<Vec<T>>,
    /// What the event loop does: [`AWAKE`], [`ASLEEP`] or [`NAPPING`].
    loop_state: AtomicU8,
    /// The running average of the app's calls, in nanoseconds.
    app_nanos: AtomicU64,
    /// When the call that began last began, in nanoseconds since `epoch`; 0 once it ended.
    calling_since: AtomicU64,
    epoch: Epoch,
}

impl<T> Default for Outgoing<T> {
    fn default() -> Self {
        Outgoing {
            conns: Mutex::new(Vec::new()),
            loop_state: AtomicU8::new(AWAKE),
            app_nanos: AtomicU64::new(0),
            calling_since: AtomicU64::new(0),
            epoch: Epoch::new(),
        }
    }
}

impl<T> Outgoing<T> {
    fn lock(&self) -> MutexGuard<'_, Vec<T>> {
        self.conns.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A call of the app begins now: returns now.
    pub fn call_begins(&self) -> Instant {
        let now = Instant::now();
        self.calling_since.store(self.epoch.nanos(now), Ordering::Relaxed);
        now
    }

    /// The call that began at `began` ended.
    pub fn call_ended(&self, began: Instant) {
        self.app_took(began.elapsed());
    }

    fn app_took(&self, took: Duration) {
        self.calling_since.store(0, Ordering::Relaxed);
        let took = clock::nanos(took);
        // Only request threads write it, and a lost update between two of them only
        // delays the average by one call.
        let average = self.app_nanos.load(Ordering::Relaxed);
        let next = average - (average >> AVERAGE_SHIFT) + (took >> AVERAGE_SHIFT);
        self.app_nanos.store(next, Ordering::Relaxed);
    }

    /// Whether a request thread leaves its whole response to the event loop: the app is
    /// slow and `others_wait` for it (asked only of a slow app: it takes the queue's lock).
    pub fn leaves_sending(&self, others_wait: impl FnOnce() -> bool) -> bool {
        self.app_nanos.load(Ordering::Relaxed) >= SLOW_APP.as_nanos() as u64 && others_wait()
    }

    /// Give the event loop a connection whose response is in its outbox.
    pub fn push(&self, conn: T, waker: &Waker) {
        self.lock().push(conn);
        // Paired with `wait`: either the loop sees the connection before it polls, or
        // this sees it asleep and wakes it.
        if self.loop_state.load(Ordering::SeqCst) == ASLEEP {
            let _ = waker.wake();
        }
    }

    /// The connections handed over so far, swapped into `into` (empty).
    pub fn take(&self, into: &mut Vec<T>) {
        std::mem::swap(&mut *self.lock(), into);
    }

    /// How the event loop, about to poll, waits.
    pub fn wait(&self) -> Wait {
        let (state, wait) = match self.due_in() {
            Some(due) => (NAPPING, Wait::Nap(due)),
            None => (ASLEEP, Wait::Sleep),
        };
        self.loop_state.store(state, Ordering::SeqCst);
        if self.lock().is_empty() {
            wait
        } else {
            Wait::Not
        }
    }

    /// How long until the running call of a slow app is due to end, when it is due within
    /// [`NAP_MAX`].
    fn due_in(&self) -> Option<Duration> {
        let since = self.calling_since.load(Ordering::Relaxed);
        let average = self.app_nanos.load(Ordering::Relaxed);
        if since == 0 || average < SLOW_APP.as_nanos() as u64 {
            return None;
        }
        let due = Duration::from_nanos((since + average).checked_sub(self.epoch.now())?);
        (due <= NAP_MAX).then_some(due)
    }

    /// The event loop is back from its poll.
    pub fn wake(&self) {
        self.loop_state.store(AWAKE, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after_calls(outgoing: &Outgoing<usize>, took: Duration, calls: usize) {
        for _ in 0..calls {
            outgoing.app_took(took);
        }
    }

    #[test]
    fn a_slow_app_leaves_sending_only_while_others_wait() {
        let outgoing = Outgoing::<usize>::default();
        after_calls(&outgoing, Duration::from_micros(200), 40);
        assert!(outgoing.leaves_sending(|| true));
        assert!(!outgoing.leaves_sending(|| false), "with nobody waiting the thread sends at once");
    }

    #[test]
    fn a_fast_app_sends_itself() {
        let outgoing = Outgoing::<usize>::default();
        after_calls(&outgoing, Duration::from_micros(5), 40);
        assert!(!outgoing.leaves_sending(|| true));
    }

    #[test]
    fn the_average_follows_the_app_as_it_changes() {
        let outgoing = Outgoing::<usize>::default();
        after_calls(&outgoing, Duration::from_micros(5), 40);
        after_calls(&outgoing, Duration::from_micros(500), 20);
        assert!(outgoing.leaves_sending(|| true), "slow calls raise the average");
        after_calls(&outgoing, Duration::from_micros(5), 60);
        assert!(!outgoing.leaves_sending(|| true), "fast calls bring it down again");
    }

    fn loop_and_waker() -> (mio::Poll, Waker, mio::Events) {
        let poll = mio::Poll::new().unwrap();
        let waker = Waker::new(poll.registry(), mio::Token(0)).unwrap();
        (poll, waker, mio::Events::with_capacity(4))
    }

    fn taken(outgoing: &Outgoing<usize>) -> Vec<usize> {
        let mut handed = Vec::new();
        outgoing.take(&mut handed);
        handed
    }

    #[test]
    fn the_loop_is_woken_only_when_it_sleeps_and_never_misses_a_connection() {
        let (mut poll, waker, mut events) = loop_and_waker();
        let outgoing = Outgoing::default();

        // Handed over while the loop runs: no wake-up, and the loop does not wait.
        outgoing.push(1, &waker);
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(events.is_empty(), "a running loop is not woken");
        assert_eq!(outgoing.wait(), Wait::Not, "the loop sees the connection before it waits");
        outgoing.wake();
        assert_eq!(taken(&outgoing), [1]);

        // Handed over while it waits: woken.
        assert_eq!(outgoing.wait(), Wait::Sleep);
        outgoing.push(2, &waker);
        poll.poll(&mut events, Some(Duration::from_secs(5))).unwrap();
        assert!(!events.is_empty(), "a waiting loop is woken");
        outgoing.wake();
        assert_eq!(taken(&outgoing), [2]);
    }

    #[test]
    fn while_a_slow_call_runs_the_loop_naps_until_it_is_due_and_is_not_woken() {
        let (mut poll, waker, mut events) = loop_and_waker();
        let outgoing = Outgoing::default();
        after_calls(&outgoing, Duration::from_micros(200), 40);
        outgoing.call_begins();
        let Wait::Nap(nap) = outgoing.wait() else { panic!("no nap during a slow call") };
        assert!(nap <= Duration::from_micros(200), "a nap of {nap:?} outlasts the average call");
        outgoing.push(1, &waker);
        poll.poll(&mut events, Some(Duration::from_millis(50))).unwrap();
        assert!(events.is_empty(), "a napping loop is not woken");
        outgoing.wake();
        assert_eq!(taken(&outgoing), [1]);

        // Once the call ended the loop sleeps, and a response wakes it.
        outgoing.app_took(Duration::from_micros(200));
        assert_eq!(outgoing.wait(), Wait::Sleep);
        outgoing.push(2, &waker);
        poll.poll(&mut events, Some(Duration::from_secs(5))).unwrap();
        assert!(!events.is_empty());
    }

    #[test]
    fn a_fast_app_or_a_call_long_overdue_gets_no_nap() {
        let outgoing = Outgoing::<usize>::default();
        after_calls(&outgoing, Duration::from_micros(5), 40);
        outgoing.call_begins();
        assert_eq!(outgoing.wait(), Wait::Sleep, "a fast app");
        after_calls(&outgoing, Duration::from_micros(200), 40);
        outgoing.call_begins();
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(outgoing.wait(), Wait::Sleep, "a call past its average");
    }
}
