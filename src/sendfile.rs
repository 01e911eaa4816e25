//! Large snapshot bodies go from the snapshot file to the socket by
//! `sendfile(2)`, while hyper keeps doing HTTP.
//!
//! Copying a 200 KiB body from memory into the socket costs more than
//! everything else on a HIT; nginx avoids it with sendfile, and so does
//! this module. Hyper frames the response as usual and hands the body's
//! `Bytes` to the connection's writer, [`Conn`], in a `writev`. The service
//! has told the connection ([`Spans::offer`]) which bytes are also in a
//! held snapshot file ([`FileBody`]); when a slice hyper writes lies inside
//! one of them, [`Conn`] sends the head before it with `MSG_MORE` (so it
//! shares the body's first segment) and the slice itself from the file.
//!
//! Why this cannot send a wrong body: the registered bytes *are* the body,
//! read from or written through the very descriptor that is held, and a
//! published snapshot file never changes (see `store::held`). A slice is
//! matched by address against bytes the span keeps alive, so the address
//! cannot be reused for other data while it is registered. Whether a slice
//! goes by `sendfile` or by `writev`, the same bytes reach the visitor;
//! should `sendfile` fail (or return nothing), the span is dropped and the
//! bytes are written from memory.

use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::store::{FileBody, HeldFile};

/// Bodies registered with one connection, oldest first.
#[derive(Debug, Default, Clone)]
pub struct Spans(Arc<Mutex<Vec<FileBody>>>);

/// Spans kept per connection. More are only there when responses are
/// registered and never written (the connection died): the oldest go,
/// which costs the optimization for them and nothing else.
const MAX_SPANS: usize = 8;

impl Spans {
    /// Lets the connection send `body` from its file.
    pub fn offer(&self, body: &FileBody) {
        let mut spans = lock(&self.0);
        if spans.len() == MAX_SPANS {
            spans.remove(0);
        }
        spans.push(body.clone());
    }

    /// Spans registered and not yet sent to their end.
    pub fn len(&self) -> usize {
        lock(&self.0).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Which span holds `slice`, and where the slice starts in its file.
fn find(spans: &[FileBody], slice: &[u8]) -> Option<(usize, u64)> {
    if slice.is_empty() {
        return None;
    }
    let at = slice.as_ptr() as usize;
    spans.iter().enumerate().find_map(|(i, span)| {
        let start = span.bytes.as_ptr() as usize;
        let inside = at >= start && at + slice.len() <= start + span.bytes.len();
        inside.then(|| (i, span.offset + (at - start) as u64))
    })
}

/// A served TCP connection whose writer sends registered bodies from their
/// files (everything else as `TokioIo` would). The stream is shared: the
/// visitor's connection loop (`crate::conn`) writes HITs on it itself.
pub struct Conn {
    stream: Arc<TcpStream>,
    spans: Spans,
}

impl Conn {
    pub fn new(stream: TcpStream, spans: Spans) -> Conn {
        Conn::shared(Arc::new(stream), spans)
    }

    pub fn shared(stream: Arc<TcpStream>, spans: Spans) -> Conn {
        Conn { stream, spans }
    }

    /// Reads into `buf` what the socket has, waiting for some.
    pub fn poll_read_into(
        &self,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: recv only writes into the slice, and `advance` counts
        // just the bytes it wrote.
        let n = ready!(self.poll_recv(cx, unsafe { buf.as_mut() }))?;
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }

    /// A `recv` into `buf`, waiting until the socket has something.
    pub fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        poll_recv(&self.stream, cx, buf)
    }

    /// [`Write::poll_write_vectored`] without the pin.
    pub fn poll_write_all_of(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(done) = self.write_spans(cx, bufs) {
            return done;
        }
        let stream = &*self.stream;
        poll_send(stream, cx, || sendmsg(stream, bufs, 0))
    }

    /// Shuts the write side down (the visitor reads the end).
    pub fn shutdown(&self) -> io::Result<()> {
        // SAFETY: the fd is open while `stream` lives.
        let r = unsafe { libc::shutdown(self.stream.as_raw_fd(), libc::SHUT_WR) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn write_spans(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Option<Poll<io::Result<usize>>> {
        let mut spans = lock(&self.spans.0);
        let (i, span, offset) = bufs
            .iter()
            .enumerate()
            .find_map(|(i, b)| find(&spans, b).map(|(span, offset)| (i, span, offset)))?;
        let stream = &*self.stream;
        let mut sent = 0;
        if i > 0 {
            // The head (and anything queued before the body) first, held back
            // to go out with the body's first bytes.
            sent = match send_more(stream, cx, &bufs[..i]) {
                Poll::Ready(Ok(n)) => n,
                other => return Some(other),
            };
            if sent < bufs[..i].iter().map(|b| b.len()).sum() {
                return Some(Poll::Ready(Ok(sent)));
            }
        }
        let len = bufs[i].len();
        let end = spans[span].offset + spans[span].bytes.len() as u64;
        match send_file(stream, cx, &spans[span].file, offset, len) {
            Poll::Ready(Ok(n)) if n > 0 => {
                if offset + n as u64 >= end {
                    spans.remove(span);
                }
                Some(Poll::Ready(Ok(sent + n)))
            }
            // Nothing sent, or an error: from here on these bytes go from
            // memory (a socket error shows up again there).
            Poll::Ready(_) => {
                spans.remove(span);
                (sent > 0).then_some(Poll::Ready(Ok(sent)))
            }
            Poll::Pending if sent > 0 => Some(Poll::Ready(Ok(sent))),
            Poll::Pending => Some(Poll::Pending),
        }
    }
}

impl Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_read_into(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_all_of(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing is buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown())
    }
}

/// A non-blocking `recv` into `buf` once the socket is readable.
pub fn poll_recv(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    buf: &mut [std::mem::MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    loop {
        ready!(stream.poll_read_ready(cx))?;
        match try_recv(stream, buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            done => return Poll::Ready(done),
        }
    }
}

/// One non-blocking `recv` into `buf` if the socket may have bytes
/// (`WouldBlock` without a system call when tokio knows it has none).
///
/// A read that fills less than `buf` has drained the socket, and tokio is
/// told so (its `poll_read` does the same): the next read then waits for
/// the kernel's next event instead of costing a `recv` that finds nothing.
/// tokio tells events apart by a tick, so bytes that arrive meanwhile are
/// never missed.
pub fn try_recv(stream: &TcpStream, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
    let mut got = None;
    let tried = stream.try_io(Interest::READABLE, || {
        // SAFETY: the fd is open; recv writes at most `buf.len()` bytes
        // into memory `buf` owns.
        let n = unsafe { libc::recv(stream.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        got = Some(n);
        if n > 0 && n < buf.len() {
            // Drained: have tokio clear its readiness.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    });
    match got {
        Some(n) => Ok(n),
        None => tried,
    }
}

/// Runs a non-blocking send on `stream` once it is writable.
///
/// The send is tried first and the socket's readiness asked only when it
/// would block: a socket with room, the common case, costs no readiness
/// poll (tokio's `try_io` tells without a system call when it knows there
/// is no room). No task budget is taken here, then: the connection loop
/// takes one per request (`conn::serve`).
pub fn poll_send(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    mut send: impl FnMut() -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        match stream.try_io(Interest::WRITABLE, &mut send) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                ready!(stream.poll_write_ready(cx))?;
            }
            done => return Poll::Ready(done),
        }
    }
}

/// `sendmsg(2)` with `MSG_MORE`: the kernel holds the bytes back to go out
/// with the next send's.
pub fn send_more(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    poll_send(stream, cx, || sendmsg(stream, bufs, libc::MSG_MORE))
}

/// One `sendmsg(2)` of `bufs` (never raising `SIGPIPE`).
pub fn sendmsg(stream: &TcpStream, bufs: &[IoSlice<'_>], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: an all-zero msghdr is valid; IoSlice is ABI-compatible
    // with iovec on Unix, and `bufs` outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    // SAFETY: the fd is open; msg points at live buffers.
    let n = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, flags | libc::MSG_NOSIGNAL) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// `sendfile(2)` of `len` bytes of `file` from `offset`; may send fewer.
pub fn send_file(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    file: &HeldFile,
    offset: u64,
    len: usize,
) -> Poll<io::Result<usize>> {
    let Ok(mut off) = libc::off_t::try_from(offset) else {
        return Poll::Ready(Err(io::ErrorKind::InvalidInput.into()));
    };
    poll_send(stream, cx, || {
        // SAFETY: both fds are open; sendfile reads `off` and writes back
        // where it stopped, leaving the file's own position alone.
        let n = unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut off, len) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "sendfile_tests.rs"]
mod tests;
