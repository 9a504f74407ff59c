//! Bodies crossing between blocking code and the engine client's async requests, a bounded
//! number of chunks at a time, so an archive of any size goes to or comes from the engine
//! without being held in memory or written to a file first.
//!
//! A request body: a [`Write`] on one thread feeds a stream that the engine client sends on
//! another ([`channel`]). A response body: the pieces the engine sends are handed to a [`Read`]
//! on another thread ([`receiver`]).

use std::io::{self, Read, Write};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

/// How much is sent in one piece.
const CHUNK: usize = 256 * 1024;
/// How many pieces may wait for the engine: memory stays at about `CHUNK * DEPTH`.
const DEPTH: usize = 4;

/// The writing end; [`BodyWriter::finish`] ends the body.
pub struct BodyWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: Vec<u8>,
    reader_gone: bool,
}

/// The stream of what is written to a [`BodyWriter`].
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// How the writing of a body ended.
#[derive(Debug)]
pub enum Finished<E> {
    /// All of it was handed to the stream.
    Sent,
    /// The stream's reader stopped reading first: the engine's answer says why.
    ReaderGone,
    /// The writing failed on its own.
    Failed(E),
}

/// A writer and the stream of what is written to it.
pub fn channel() -> (BodyWriter, BodyStream) {
    let (sender, receiver) = mpsc::channel(DEPTH);
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) });
    (BodyWriter { sender, buffer: Vec::with_capacity(CHUNK), reader_gone: false }, Box::pin(stream))
}

impl BodyWriter {
    /// End the body: what is buffered is sent when the writing succeeded; when it failed, the
    /// stream ends in an error so the engine sees a broken request, never a body that merely
    /// looks short.
    pub fn finish<E>(mut self, written: Result<(), E>) -> Finished<E> {
        let finished = match written {
            Ok(()) => self.send().map_or(Finished::ReaderGone, |()| Finished::Sent),
            Err(err) => {
                let _ = self.sender.blocking_send(Err(io::Error::other("the request body could not be written")));
                Finished::Failed(err)
            }
        };
        // A write that failed because the reader went away is not the writer's failure.
        if self.reader_gone {
            return Finished::ReaderGone;
        }
        finished
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK)));
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            self.reader_gone = true;
            io::Error::new(io::ErrorKind::BrokenPipe, "the engine stopped reading the request")
        })
    }
}

impl Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The end an async task hands a response body's pieces to; an `Err` ends the body there as
/// broken.
pub type BodySender = mpsc::Sender<io::Result<Bytes>>;

/// The reading end of a response body; it ends when every [`BodySender`] is gone.
pub struct BodyReader {
    receiver: mpsc::Receiver<io::Result<Bytes>>,
    piece: Bytes,
}

/// A sender of pieces and a reader of what is sent.
pub fn receiver() -> (BodySender, BodyReader) {
    let (sender, receiver) = mpsc::channel(DEPTH);
    (sender, BodyReader { receiver, piece: Bytes::new() })
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.piece.is_empty() {
            match self.receiver.blocking_recv() {
                Some(piece) => self.piece = piece?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn collect(stream: impl Stream<Item = io::Result<Bytes>>) -> Vec<io::Result<Bytes>> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(stream.collect())
    }

    #[test]
    fn what_is_written_arrives_in_order_in_bounded_chunks() {
        let (mut writer, stream) = channel();
        let data: Vec<u8> = (0..CHUNK * 3 + 17).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let producer = std::thread::spawn(move || {
            let written = writer.write_all(&sent);
            writer.finish(written)
        });
        let chunks = collect(stream);
        assert!(matches!(producer.join().unwrap(), Finished::Sent));
        assert!(chunks.iter().all(|c| c.as_ref().unwrap().len() <= CHUNK));
        let received: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap().to_vec()).collect();
        assert_eq!(received, data);
    }

    #[test]
    fn a_failed_write_ends_the_stream_in_an_error() {
        let (mut writer, stream) = channel();
        let producer = std::thread::spawn(move || {
            let written = writer.write_all(b"partial").and(Err::<(), _>(io::Error::other("disk")));
            writer.finish(written)
        });
        let chunks = collect(stream);
        assert!(matches!(producer.join().unwrap(), Finished::Failed(_)));
        assert!(chunks.last().unwrap().is_err(), "the stream must not end cleanly");
    }

    #[test]
    fn pieces_sent_are_read_in_order_and_an_error_breaks_the_body() {
        let (sender, mut reader) = receiver();
        let sending = std::thread::spawn(move || {
            for piece in [&b"first "[..], b"", b"second"] {
                sender.blocking_send(Ok(Bytes::from_static(piece))).unwrap();
            }
        });
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        sending.join().unwrap();
        assert_eq!(text, "first second");

        let (sender, mut reader) = receiver();
        sender.blocking_send(Ok(Bytes::from_static(b"part"))).unwrap();
        sender.blocking_send(Err(io::Error::other("the engine went away"))).unwrap();
        drop(sender);
        let mut read = Vec::new();
        assert!(reader.read_to_end(&mut read).is_err(), "a broken body must not look complete");
        assert_eq!(read, b"part");
    }

    #[test]
    fn a_reader_that_goes_away_stops_the_writer() {
        let (mut writer, stream) = channel();
        drop(stream);
        let written = writer.write_all(&vec![0; CHUNK * 2]);
        assert_eq!(written.as_ref().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        assert!(matches!(writer.finish(written), Finished::ReaderGone));
    }
}
