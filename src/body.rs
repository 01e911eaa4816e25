//! The one response/request body type the daemon hands to hyper.
//!
//! An enum instead of a boxed trait object: a HIT is `Full`, and serving it
//! must not allocate a box per response.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;

use crate::oversized::Watch;
use crate::store::FileBody;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body: nothing, bytes in memory, or a stream from a peer.
pub enum Body {
    Empty,
    Full(Option<Bytes>),
    /// Bytes that also lie in a held snapshot file: served like `Full`,
    /// and the connection may send them from the file (`sendfile`).
    File(Option<FileBody>),
    /// A peer's body streamed through (pass-through, both ways).
    Incoming(Incoming),
    /// Bytes already read from a peer, then the rest of its stream: a
    /// fetched page that turned out too large to keep.
    Prefixed(VecDeque<Bytes>, Incoming),
    /// A page once found too large, streamed and counted: one that ends
    /// within `max_object_size` is kept again from the next request on.
    Watched(Incoming, Watch),
}

impl Body {
    pub fn full(bytes: impl Into<Bytes>) -> Body {
        let bytes = bytes.into();
        if bytes.is_empty() {
            Body::Empty
        } else {
            Body::Full(Some(bytes))
        }
    }
}

impl From<Incoming> for Body {
    fn from(body: Incoming) -> Body {
        Body::Incoming(body)
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::File(file) => Poll::Ready(file.take().map(|f| Ok(Frame::data(f.bytes)))),
            Body::Incoming(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Body::Prefixed(prefix, rest) => match prefix.pop_front() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None => Pin::new(rest).poll_frame(cx).map_err(Into::into),
            },
            Body::Watched(body, watch) => {
                let polled = Pin::new(body).poll_frame(cx);
                match &polled {
                    Poll::Ready(Some(Ok(frame))) => {
                        watch.data(frame.data_ref().map_or(0, |d| d.len()));
                    }
                    Poll::Ready(None) => watch.end(),
                    _ => {}
                }
                polled.map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(bytes) => bytes.is_none(),
            Body::File(file) => file.is_none(),
            Body::Incoming(body) => body.is_end_stream(),
            Body::Prefixed(prefix, rest) => prefix.is_empty() && rest.is_end_stream(),
            Body::Watched(body, watch) => {
                // hyper may stop at this answer without polling the end.
                let ended = body.is_end_stream();
                if ended {
                    watch.end();
                }
                ended
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Body::File(file) => {
                SizeHint::with_exact(file.as_ref().map_or(0, |f| f.bytes.len() as u64))
            }
            Body::Incoming(body) | Body::Watched(body, _) => body.size_hint(),
            Body::Prefixed(prefix, rest) => {
                let buffered: u64 = prefix.iter().map(|b| b.len() as u64).sum();
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(buffered + rest.lower());
                if let Some(upper) = rest.upper() {
                    hint.set_upper(buffered + upper);
                }
                hint
            }
        }
    }
}
