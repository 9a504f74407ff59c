//! The worker's end of its control channel to the master (see `warp_worker_config::control`).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use mio::net::UnixStream;
use nix::errno::Errno;
use warp_worker_config::control::{Report, STOP, TAKEOVER};

use crate::rights;

/// What the master said.
#[derive(Debug)]
pub enum Order {
    /// Stop gracefully: the replacement is ready. Connections with no request started go to
    /// it through the handoff channel, when one came.
    Stop(Option<OwnedFd>),
    /// Take in the connections a stopping worker passes through this handoff channel.
    TakeOver(OwnedFd),
    /// The channel closed: the master is gone, so stop as on SIGTERM.
    MasterGone,
}

pub struct Control {
    pub stream: UnixStream,
    inbox: Vec<u8>,
    /// Descriptors received and not yet matched to the line that carried them.
    fds: VecDeque<OwnedFd>,
}

impl Control {
    /// Use the inherited socket (see [`crate::inherited`]).
    pub fn new(std_stream: std::os::unix::net::UnixStream) -> io::Result<Control> {
        std_stream.set_nonblocking(true)?;
        Ok(Control { stream: UnixStream::from_std(std_stream), inbox: Vec::new(), fds: VecDeque::new() })
    }

    /// Tell the master; a master that is gone cannot be told, and the read side notices.
    pub fn report(&mut self, report: Report) {
        let _ = self.stream.write_all(report.to_string().as_bytes());
    }

    /// Read what arrived: the orders in the order given, none while the master has said
    /// nothing new.
    pub fn read(&mut self) -> Vec<Order> {
        let gone = !self.receive();
        let mut orders = Vec::new();
        while let Some(end) = memchr::memchr(b'\n', &self.inbox) {
            let line: Vec<u8> = self.inbox.drain(..=end).collect();
            // The master sends a descriptor only with these lines, in one message each.
            if line == STOP {
                orders.push(Order::Stop(self.fds.pop_front()));
            } else if line == TAKEOVER {
                if let Some(fd) = self.fds.pop_front() {
                    orders.push(Order::TakeOver(fd));
                }
            }
        }
        if gone {
            orders.push(Order::MasterGone);
        }
        orders
    }

    /// Take in every byte and descriptor waiting; returns whether the channel is still open.
    fn receive(&mut self) -> bool {
        let mut buf = [0u8; 64];
        loop {
            let received = match rights::receive(self.stream.as_raw_fd(), &mut buf) {
                Ok(received) => received,
                Err(Errno::EAGAIN) => return true,
                Err(_) => return false,
            };
            self.fds.extend(received.fds);
            if received.bytes == 0 {
                return false;
            }
            self.inbox.extend_from_slice(&buf[..received.bytes]);
        }
    }
}
