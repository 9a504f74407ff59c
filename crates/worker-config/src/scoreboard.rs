//! The scoreboard: what a worker's requests add up to, in memory the master shares with it.
//!
//! With `--metrics-port` the master makes one region per worker (a memfd), which the worker
//! inherits and maps. Each request thread has a block of its own there: it marks the block
//! with the start and target of the request it runs, and adds to the block's counters as the
//! request ends. The master reads the region whenever it is asked, without a word from the
//! worker, and adds the blocks up: a scrape costs the workers nothing, and a worker that dies
//! leaves its counts behind for the master to keep.
//!
//! Every field is an atomic `u64` in a `#[repr(C)]` layout that both sides build from the
//! same code; times are nanoseconds of `CLOCK_MONOTONIC`, which every process on the
//! machine shares. Each block has one writer, its thread, and cache lines of its own: a
//! request costs a few plain stores, with no locked instruction and no line passed between
//! cores. A thread's mark is a seqlock: the master rereads a mark that changed while it read
//! it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU64, Ordering};

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use nix::time::{clock_gettime, ClockId};

/// Upper bounds of the histogram buckets, in seconds; one more bucket holds the rest.
pub const BUCKETS: [f64; 18] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0];

/// Requests by status class: 1xx to 5xx. A request that got no response counts as 5xx.
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The bytes of a request's method and target that its mark keeps.
const TARGET_WORDS: usize = 16;
pub const TARGET_BYTES: usize = TARGET_WORDS * 8;

/// Now, in nanoseconds of `CLOCK_MONOTONIC`.
pub fn monotonic_nanos() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map_or(0, |t| u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec()).unwrap_or(0))
}

#[repr(C)]
struct Histogram {
    sum_nanos: AtomicU64,
    counts: [AtomicU64; BUCKETS.len() + 1],
}

/// One request thread's counters.
#[repr(C)]
struct Totals {
    requests: [AtomicU64; CLASSES.len()],
    request_bytes: AtomicU64,
    response_bytes: AtomicU64,
    /// Thread time of the requests that ended.
    busy_nanos: AtomicU64,
    queue: Histogram,
    application: Histogram,
    /// Queue and application time together: the response time the server can see.
    response: Histogram,
}

/// What a request thread is running.
#[repr(C)]
struct Mark {
    /// Odd while the mark is being written.
    seq: AtomicU64,
    /// When its request began (0: idle).
    started: AtomicU64,
    /// `METHOD target`, cut to [`TARGET_BYTES`], zero-padded.
    target: [AtomicU64; TARGET_WORDS],
}

/// A request thread's block: aligned to cache lines of its own (two, as the adjacent-line
/// prefetcher pairs them), so no two threads write the same line.
#[repr(C, align(128))]
struct Block {
    mark: Mark,
    totals: Totals,
}

/// One request, as it ended.
pub struct Ended {
    pub status: u16,
    pub queue_nanos: u64,
    pub application_nanos: u64,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

/// A histogram as read: the sum of what was observed, and the count in each bucket (not
/// cumulative).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub sum_seconds: f64,
    pub buckets: [u64; BUCKETS.len() + 1],
}

impl Counts {
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    fn add(&mut self, other: &Counts) {
        self.sum_seconds += other.sum_seconds;
        self.buckets.iter_mut().zip(other.buckets).for_each(|(a, b)| *a += b);
    }
}

/// A worker's totals as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub requests: [u64; CLASSES.len()],
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub busy_seconds: f64,
    pub queue: Counts,
    pub application: Counts,
    pub response: Counts,
}

impl Snapshot {
    pub fn request_count(&self) -> u64 {
        self.requests.iter().sum()
    }

    /// Fold `other` into this: a worker that ended, into its slot's past.
    pub fn add(&mut self, other: &Snapshot) {
        self.requests.iter_mut().zip(other.requests).for_each(|(a, b)| *a += b);
        self.request_bytes += other.request_bytes;
        self.response_bytes += other.response_bytes;
        self.busy_seconds += other.busy_seconds;
        self.queue.add(&other.queue);
        self.application.add(&other.application);
        self.response.add(&other.response);
    }
}

/// A worker's region as read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub totals: Snapshot,
    pub running: Vec<Running>,
}

/// A request running, as read from its thread's mark.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub thread: usize,
    pub started: u64,
    /// `METHOD target`, perhaps cut short.
    pub target: String,
}

/// A worker's region, mapped.
pub struct Scoreboard {
    base: NonNull<u8>,
    len: usize,
    threads: usize,
}

// SAFETY: the region is only ever read and written through the atomics that `totals` and
// `marks` hand out, which any thread (and process) may use at once.
unsafe impl Send for Scoreboard {}
unsafe impl Sync for Scoreboard {}

impl Scoreboard {
    fn size(threads: usize) -> usize {
        threads * std::mem::size_of::<Block>()
    }

    /// A new zeroed region for a worker with `threads` request threads, and the descriptor
    /// the worker maps it from (close-on-exec: the caller lets the worker inherit it).
    pub fn create(threads: usize) -> io::Result<(Scoreboard, OwnedFd)> {
        let fd = memfd_create(c"warp-scoreboard", MemFdCreateFlag::MFD_CLOEXEC)?;
        let len = Self::size(threads);
        nix::unistd::ftruncate(&fd, i64::try_from(len).map_err(io::Error::other)?)?;
        let board = Scoreboard::map(&fd, threads)?;
        Ok((board, fd))
    }

    /// Map the region `fd` holds, made by [`Scoreboard::create`] for `threads` threads.
    pub fn open(fd: impl AsFd, threads: usize) -> io::Result<Scoreboard> {
        let stat = nix::sys::stat::fstat(fd.as_fd().as_raw_fd())?;
        if usize::try_from(stat.st_size).ok() != Some(Self::size(threads)) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the scoreboard's size does not match the worker's threads"));
        }
        Scoreboard::map(fd, threads)
    }

    fn map(fd: impl AsFd, threads: usize) -> io::Result<Scoreboard> {
        let len = Self::size(threads);
        let length = std::num::NonZeroUsize::new(len).ok_or_else(|| io::Error::other("empty scoreboard"))?;
        // SAFETY: a fresh shared mapping of the whole file, at an address the kernel picks;
        // no Rust object refers to that memory yet. The file is `len` bytes long (made so by
        // `create`, checked by `open`), and a memfd is never truncated by either side.
        let base = unsafe { mmap(None, length, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_SHARED, fd, 0)? };
        Ok(Scoreboard { base: base.cast(), len, threads })
    }

    fn blocks(&self) -> &[Block] {
        // SAFETY: the mapping is page-aligned (so each 128-byte block is aligned) and holds
        // `threads` blocks, and lives as long as `self`. A block is only atomics, for which
        // every bit pattern (zero, as the memfd starts, included) is valid, and which
        // tolerate writes from the other process.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().cast::<Block>(), self.threads) }
    }

    /// Worker: thread `thread` began a request at `started` (monotonic nanoseconds). Only
    /// that thread may call this, and [`Scoreboard::end`], for its block.
    pub fn begin(&self, thread: usize, started: u64, method: &str, target: &str) {
        let Some(Block { mark, .. }) = self.blocks().get(thread) else { return };
        let mut bytes = [0u8; TARGET_BYTES];
        let mut at = 0;
        for part in [method.as_bytes(), b" ", target.as_bytes()] {
            let n = part.len().min(TARGET_BYTES - at);
            bytes[at..at + n].copy_from_slice(&part[..n]);
            at += n;
        }
        let seq = write_begins(mark);
        for (word, chunk) in mark.target.iter().zip(bytes.chunks_exact(8)) {
            word.store(u64::from_le_bytes(chunk.try_into().unwrap_or_default()), Ordering::Relaxed);
        }
        mark.started.store(started.max(1), Ordering::Relaxed);
        mark.seq.store(seq + 2, Ordering::Release);
    }

    /// Worker: thread `thread` ended its request at `now`; the request is counted.
    pub fn end(&self, thread: usize, now: u64, ended: &Ended) {
        let Some(Block { mark, totals }) = self.blocks().get(thread) else { return };
        let started = mark.started.load(Ordering::Relaxed);
        let seq = write_begins(mark);
        mark.started.store(0, Ordering::Relaxed);
        mark.seq.store(seq + 2, Ordering::Release);
        add(&totals.busy_nanos, now.saturating_sub(started.max(1)));
        let class = if ended.status < 100 { 4 } else { usize::from(ended.status / 100).min(5) - 1 };
        add(&totals.requests[class], 1);
        add(&totals.request_bytes, ended.request_bytes);
        add(&totals.response_bytes, ended.response_bytes);
        observe(&totals.queue, ended.queue_nanos);
        observe(&totals.application, ended.application_nanos);
        observe(&totals.response, ended.queue_nanos + ended.application_nanos);
    }

    /// Master: the totals so far, the time of the requests still running included in the
    /// busy time, and those requests.
    pub fn read(&self, now: u64) -> Reading {
        let mut reading = Reading { totals: Snapshot::default(), running: Vec::new() };
        for (thread, Block { mark, totals }) in self.blocks().iter().enumerate() {
            let mut busy = totals.busy_nanos.load(Ordering::Relaxed);
            if let Some((started, target)) = read_mark(mark) {
                busy += now.saturating_sub(started);
                reading.running.push(Running { thread, started, target });
            }
            reading.totals.add(&Snapshot {
                requests: totals.requests.each_ref().map(|c| c.load(Ordering::Relaxed)),
                request_bytes: totals.request_bytes.load(Ordering::Relaxed),
                response_bytes: totals.response_bytes.load(Ordering::Relaxed),
                busy_seconds: busy as f64 / 1e9,
                queue: counts(&totals.queue),
                application: counts(&totals.application),
                response: counts(&totals.response),
            });
        }
        reading
    }
}

impl Drop for Scoreboard {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, of `len` bytes; the references `blocks` hands
        // out borrow `self`, so none outlives this.
        let _ = unsafe { munmap(self.base.cast(), self.len) };
    }
}

/// Add to a counter of the calling thread's block, whose only writer it is: a plain load and
/// store, not a locked read-modify-write.
fn add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// Make a mark odd, for its writer, before the writes that follow; returns its even value.
fn write_begins(mark: &Mark) -> u64 {
    let seq = mark.seq.load(Ordering::Relaxed);
    mark.seq.store(seq + 1, Ordering::Relaxed);
    // A reader that sees any of the writes after this sees the odd value too.
    fence(Ordering::Release);
    seq
}

fn observe(histogram: &Histogram, nanos: u64) {
    let seconds = nanos as f64 / 1e9;
    let bucket = BUCKETS.iter().position(|&bound| seconds <= bound).unwrap_or(BUCKETS.len());
    add(&histogram.counts[bucket], 1);
    add(&histogram.sum_nanos, nanos);
}

fn counts(histogram: &Histogram) -> Counts {
    Counts {
        sum_seconds: histogram.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        buckets: histogram.counts.each_ref().map(|c| c.load(Ordering::Relaxed)),
    }
}

/// A mark's start and target, read whole; `None` when its thread is idle.
fn read_mark(mark: &Mark) -> Option<(u64, String)> {
    loop {
        let before = mark.seq.load(Ordering::Acquire);
        if before % 2 == 1 {
            std::hint::spin_loop();
            continue;
        }
        let started = mark.started.load(Ordering::Relaxed);
        let words = mark.target.each_ref().map(|w| w.load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        if mark.seq.load(Ordering::Relaxed) != before {
            continue;
        }
        if started == 0 {
            return None;
        }
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).take_while(|&b| b != 0).collect();
        return Some((started, String::from_utf8_lossy(&bytes).into_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_worker_writes_the_master_reads_through_another_mapping() {
        let (master, fd) = Scoreboard::create(3).unwrap();
        let worker = Scoreboard::open(&fd, 3).unwrap();
        assert!(Scoreboard::open(&fd, 4).is_err(), "a region for other threads is refused");
        assert_eq!(master.read(1), Reading { totals: Snapshot::default(), running: Vec::new() });

        worker.begin(1, 1_000, "GET", "/slow?x=1");
        let long = "/".repeat(300);
        worker.begin(2, 2_000, "POST", &long);
        let running = master.read(3_000).running;
        assert_eq!(running.len(), 2);
        assert_eq!(running[0], Running { thread: 1, started: 1_000, target: "GET /slow?x=1".to_owned() });
        assert_eq!(running[1].target.len(), TARGET_BYTES, "cut to the mark's size");
        assert_eq!(master.read(3_000).totals.busy_seconds, 3_000.0 / 1e9, "running time counts as busy");

        worker.end(
            1,
            501_000,
            &Ended { status: 200, queue_nanos: 2_000_000, application_nanos: 500_000, request_bytes: 5, response_bytes: 12 },
        );
        worker.end(
            2,
            2_002_000,
            &Ended { status: 0, queue_nanos: 0, application_nanos: 3_000_000_000, request_bytes: 0, response_bytes: 0 },
        );
        let Reading { totals: read, running } = master.read(9_999_999);
        assert!(running.is_empty());
        assert_eq!(read.requests, [0, 1, 0, 0, 1], "no response counts as 5xx");
        assert_eq!((read.request_bytes, read.response_bytes, read.request_count()), (5, 12, 2));
        assert!((read.busy_seconds - 0.0025).abs() < 1e-12, "{}", read.busy_seconds);
        assert_eq!(read.queue.buckets[BUCKETS.iter().position(|&b| b == 0.0025).unwrap()], 1);
        assert_eq!(read.application.buckets[BUCKETS.iter().position(|&b| b == 0.0005).unwrap()], 1, "a bound is its own bucket's");
        assert_eq!(read.application.buckets[BUCKETS.iter().position(|&b| b == 5.0).unwrap()], 1);
        assert_eq!(read.response.count(), 2);
        assert!((read.application.sum_seconds - 3.0005).abs() < 1e-9);

        let mut past = read.clone();
        past.add(&read);
        assert_eq!(past.request_count(), 4);
        assert_eq!(past.response.count(), 4);
    }
}
