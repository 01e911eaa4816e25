//! What the pool keeps its app connections on: a list of idle ones per
//! kind ([`Shelf`]), and the loop's own kind of connection ([`RawConn`]).
//! Both kinds answer the same questions ([`Reusable`]), so the bounds of
//! `pool` hold alike for each.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::BytesMut;
use http::uri::Authority;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::pool::{IDLE_TIMEOUT, KEEP_IDLE};

/// An app connection the connection loop speaks HTTP/1.1 on itself: a
/// socket and what it read past the last answer's end (nothing, or the
/// connection is not kept).
pub struct RawConn {
    pub stream: TcpStream,
    pub buf: BytesMut,
    pub(super) authority: Authority,
}

/// What the idle lists and the held slots ask of a connection.
pub(super) trait Reusable {
    /// Known closed (hyper's connection task notices; a raw connection by
    /// its readiness). One closed unnoticed is found closed when used, and
    /// its request sent again (`send`, `conn::pass`).
    fn is_closed(&self) -> bool;
    fn authority(&self) -> &Authority;

    fn usable_for(&self, authority: &Authority) -> bool {
        !self.is_closed() && self.authority() == authority
    }
}

impl Reusable for RawConn {
    /// Readable while idle: the app closed it, or sent bytes no request
    /// asked for (a broken app's body after a 204); either way it cannot
    /// carry the next exchange. tokio's readiness is asked first, without a
    /// system call; it is only a hint (the bytes that raised it may have
    /// been read with the answer already), so a set one is checked by a
    /// peek, which clears it when nothing is there.
    fn is_closed(&self) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if self.stream.poll_read_ready(&mut cx).is_pending() {
            return false;
        }
        let peeked = self.stream.try_io(tokio::io::Interest::READABLE, || {
            let mut byte = 0u8;
            // SAFETY: the fd is open; recv writes at most one byte into
            // `byte`, and MSG_PEEK leaves it in the socket.
            let n = unsafe {
                libc::recv(
                    std::os::fd::AsRawFd::as_raw_fd(&self.stream),
                    (&mut byte as *mut u8).cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_DONTWAIT,
                )
            };
            usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
        });
        // Nothing there: usable. The end (0), a byte, or an error: not.
        !matches!(peeked, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    fn authority(&self) -> &Authority {
        &self.authority
    }
}

pub(super) struct Idle<C> {
    pub(super) conn: C,
    since: Instant,
}

/// Idle connections of one kind, newest last, at most [`KEEP_IDLE`].
pub(super) struct Shelf<C>(Mutex<VecDeque<Idle<C>>>);

impl<C: Reusable> Shelf<C> {
    pub(super) fn new() -> Shelf<C> {
        Shelf(Mutex::new(VecDeque::new()))
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle<C>>> {
        // The list stays consistent whatever panicked while holding it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest idle connection to `authority`; closed, expired and
    /// other apps' ones met on the way are dropped.
    pub(super) fn take(&self, authority: &Authority) -> Option<C> {
        let now = Instant::now();
        let mut idle = self.lock();
        while let Some(kept) = idle.pop_back() {
            if kept.conn.usable_for(authority) && now - kept.since < IDLE_TIMEOUT {
                return Some(kept.conn);
            }
        }
        None
    }

    /// Keeps `conn` idle, within [`KEEP_IDLE`]; false if it was closed.
    pub(super) fn put(&self, conn: C) -> bool {
        if conn.is_closed() {
            return false;
        }
        let surplus = {
            let mut idle = self.lock();
            idle.push_back(Idle {
                conn,
                since: Instant::now(),
            });
            let over = idle.len().saturating_sub(KEEP_IDLE);
            idle.drain(..over).collect::<Vec<_>>()
        };
        // Closed outside the lock.
        drop(surplus);
        true
    }

    /// Closes the idle connections unused for [`IDLE_TIMEOUT`] at `now`.
    pub(super) fn sweep(&self, now: Instant) {
        let expired = {
            let mut idle = self.lock();
            let fresh = idle
                .iter()
                .position(|kept| now - kept.since < IDLE_TIMEOUT)
                .unwrap_or(idle.len());
            idle.drain(..fresh).collect::<Vec<_>>()
        };
        drop(expired);
    }
}
