//! The worker's end of its control channel to the master (see `warp_worker_config::control`).

use std::io::{self, Read, Write};

use mio::net::UnixStream;
use warp_worker_config::control::{Report, STOP};

/// What the master said.
#[derive(Debug, PartialEq, Eq)]
pub enum Order {
    /// Stop gracefully: the replacement is ready.
    Stop,
    /// The channel closed: the master is gone, so stop as on SIGTERM.
    MasterGone,
}

pub struct Control {
    pub stream: UnixStream,
    inbox: Vec<u8>,
}

impl Control {
    /// Use the inherited socket (see [`crate::inherited`]).
    pub fn new(std_stream: std::os::unix::net::UnixStream) -> io::Result<Control> {
        std_stream.set_nonblocking(true)?;
        Ok(Control { stream: UnixStream::from_std(std_stream), inbox: Vec::new() })
    }

    /// Tell the master; a master that is gone cannot be told, and the read side notices.
    pub fn report(&mut self, report: Report) {
        let _ = self.stream.write_all(report.to_string().as_bytes());
    }

    /// Read what arrived; `None` while the master has said nothing new.
    pub fn read(&mut self) -> Option<Order> {
        let mut buf = [0u8; 64];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Some(Order::MasterGone),
                Ok(n) => self.inbox.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Some(Order::MasterGone),
            }
        }
        let stop = memchr::memmem::find(&self.inbox, STOP).is_some();
        self.inbox.clear();
        stop.then_some(Order::Stop)
    }
}
