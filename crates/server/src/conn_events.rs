//! The connections' readiness, read by whichever thread is about to need it.
//!
//! Connections are registered with a poller of their own, nested in the event loop's. Under
//! load, the request thread that just finished a request reads that poller itself and takes
//! the next request at once: the request goes from its socket to Python on one thread, and
//! neither the event loop nor a second request thread is woken for it. While a request
//! thread does so ([`ConnEvents::beat`], at most [`FRESH`] ago), the event loop leaves the
//! connections to it; once none has for that long (its request runs long, or it went idle
//! and said so with [`ConnEvents::rest`]), the event loop reads them again, so a long
//! request never holds up the others.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use mio::{Events, Poll, Registry};

use crate::clock::Epoch;

/// How long after a request thread last read the connections the event loop leaves them
/// to it.
pub const FRESH: Duration = Duration::from_millis(2);

/// How long a request thread that found nothing to do waits for news of the connections
/// before it goes idle: under load the next request comes within it, and the thread takes
/// it with no other thread woken. Less than [`FRESH`], so the event loop stays out.
pub const LINGER: Duration = Duration::from_millis(1);

const CAPACITY: usize = 256;

pub struct ConnEvents {
    poll: Mutex<(Poll, Events)>,
    fd: std::os::fd::RawFd,
    /// When a request thread last read the connections or finished a request, in
    /// nanoseconds since `epoch`; 0 when the last one went idle.
    beat: AtomicU64,
    epoch: Epoch,
    /// The event loop has left the connections to the request threads.
    left: AtomicBool,
}

impl ConnEvents {
    /// The poller, and the registry connections are registered with.
    pub fn new() -> std::io::Result<(ConnEvents, Registry)> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&poll);
        let events = ConnEvents {
            poll: Mutex::new((poll, Events::with_capacity(CAPACITY))),
            fd,
            beat: AtomicU64::new(0),
            epoch: Epoch::new(),
            left: AtomicBool::new(false),
        };
        Ok((events, registry))
    }

    /// The poller's descriptor, readable while connections have news: the event loop waits
    /// on it.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.fd
    }

    /// Hand the token of every connection with news to `each`, until none is left, waiting
    /// up to `wait` for the first. Returns at once when another thread is at it.
    pub fn drain(&self, wait: Duration, mut each: impl FnMut(usize)) {
        let mut guard = match self.poll.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let (poll, events) = &mut *guard;
        let mut wait = wait;
        loop {
            if let Err(e) = poll.poll(events, Some(wait)) {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            wait = Duration::ZERO;
            let mut count = 0;
            for event in events.iter() {
                count += 1;
                each(event.token().0);
            }
            if count < CAPACITY {
                return;
            }
        }
    }

    /// A request thread will read the connections before it waits: the event loop need not.
    pub fn beat(&self) {
        self.beat.store(self.epoch.now(), Ordering::SeqCst);
    }

    /// The request thread that last said [`ConnEvents::beat`] goes idle; returns whether
    /// the event loop has left the connections to it and must be woken to take them back.
    pub fn rest(&self) -> bool {
        self.beat.store(0, Ordering::SeqCst);
        self.left.load(Ordering::SeqCst)
    }

    /// Whether a request thread reads the connections, as far as the event loop can tell.
    pub fn tended(&self) -> bool {
        let beat = self.beat.load(Ordering::SeqCst);
        beat != 0 && self.epoch.elapsed().as_nanos() < u128::from(beat) + FRESH.as_nanos()
    }

    /// The event loop leaves the connections to the request threads, or takes them back.
    pub fn set_left(&self, left: bool) {
        self.left.store(left, Ordering::SeqCst);
    }
}
