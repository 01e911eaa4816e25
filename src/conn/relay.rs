//! hyper behind the connection loop: it answers every request the loop
//! does not answer itself, on the same connection, one request at a time.
//!
//! hyper reads through a [`Link`], not the socket: the loop hands it the
//! bytes of exactly one request (its head, and its `Content-Length` body,
//! which the link reads on from the socket), and when hyper has written
//! that request's answer to its end and asks for more, the loop takes the
//! connection back ([`Shared::idle`]). What the visitor sends meanwhile
//! (its next requests) is kept for the loop, not given to hyper; a close
//! is noticed. When the framing is not plain (chunked, an upgrade, a head
//! hyper must refuse) the link goes [`Shared::through`]: hyper reads the
//! socket itself until the connection ends, as it did before the loop.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use hyper::rt::{Read, ReadBufCursor, Write};

use crate::body::{Body, BoxError};
use crate::sendfile::Conn;
use crate::server::MAX_HEAD;

/// What the loop and hyper's link share.
#[derive(Debug, Default)]
pub struct Shared {
    /// Bytes for hyper to read: a request's head and body bytes read with it.
    pub feed: BytesMut,
    /// Body bytes of that request still to come: the link reads them from
    /// the socket.
    pub body_left: u64,
    /// hyper reads the socket itself, until the connection ends.
    pub through: bool,
    /// What the visitor sent past hyper's request (its next ones), for the
    /// loop.
    pub ahead: BytesMut,
    /// The visitor closed its end.
    pub eof: bool,
    /// hyper asked for bytes and there were none for it.
    waiting: bool,
    /// A write of hyper's is waiting for room in the socket.
    write_pending: bool,
    /// Requests hyper is answering (from the service's call to the drop of
    /// the answer's body).
    open: usize,
}

impl Shared {
    /// Hands hyper a request: `feed` is its head and the body bytes read
    /// with it, `body_left` the body bytes still to come.
    pub fn give(&mut self, feed: BytesMut, body_left: u64, ahead: BytesMut) {
        self.feed = feed;
        self.body_left = body_left;
        self.ahead = ahead;
        self.waiting = false;
    }

    /// hyper has answered everything it was given, written the answer out
    /// and waits for the next request: the loop has the connection again.
    pub fn idle(&self) -> bool {
        !self.through
            && self.open == 0
            && self.feed.is_empty()
            && self.body_left == 0
            && self.waiting
            && !self.write_pending
    }
}

pub type Handle = Arc<Mutex<Shared>>;

pub fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// hyper's connection: reads what the loop gives it, writes to the socket.
pub struct Link {
    pub conn: Conn,
    pub shared: Handle,
}

impl Read for Link {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut shared = lock(&this.shared);
        if !shared.feed.is_empty() {
            let n = buf.remaining().min(shared.feed.len());
            buf.put_slice(&shared.feed[..n]);
            shared.feed.advance(n);
            return Poll::Ready(Ok(()));
        }
        if shared.through {
            drop(shared);
            return this.conn.poll_read_into(cx, buf);
        }
        if shared.body_left > 0 {
            // SAFETY: as in `Conn::poll_read_into`.
            let room = unsafe { buf.as_mut() };
            let want = room
                .len()
                .min(usize::try_from(shared.body_left).unwrap_or(usize::MAX));
            if want == 0 {
                return Poll::Ready(Ok(()));
            }
            let n = std::task::ready!(this.conn.poll_recv(cx, &mut room[..want]))?;
            unsafe { buf.advance(n) };
            shared.body_left -= n as u64;
            if n == 0 {
                // The visitor left mid-body: hyper sees the end.
                shared.body_left = 0;
                shared.eof = true;
            }
            return Poll::Ready(Ok(()));
        }
        // hyper waits for the next request, which is the loop's to read.
        // Keep what arrives for it, and notice a close.
        shared.waiting = true;
        while !shared.eof && shared.ahead.len() < MAX_HEAD {
            shared.ahead.reserve(4096);
            let spare = shared.ahead.spare_capacity_mut();
            match this.conn.poll_recv(cx, spare) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => shared.eof = true,
                // SAFETY: recv wrote these bytes.
                Poll::Ready(Ok(n)) => {
                    let len = shared.ahead.len() + n;
                    unsafe { shared.ahead.set_len(len) }
                }
                Poll::Pending => break,
            }
        }
        Poll::Pending
    }
}

impl Write for Link {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = this.conn.poll_write_all_of(cx, bufs);
        lock(&this.shared).write_pending = written.is_pending();
        written
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.conn.shutdown())
    }
}

/// One request hyper is answering: counted open from the service's call
/// until the answer's body is dropped (or the call is, unanswered).
pub struct Open(Handle);

impl Open {
    pub fn new(shared: &Handle) -> Open {
        lock(shared).open += 1;
        Open(Arc::clone(shared))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut shared = lock(&self.0);
        shared.open = shared.open.saturating_sub(1);
    }
}

/// An answer's body, holding its request [`Open`].
pub struct Tracked {
    pub body: Body,
    pub _open: Open,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
