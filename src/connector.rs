//! How the daemon connects to the app: hyper-util's `HttpConnector` with
//! `upstream.connect_timeout` read at each connect from a shared cell, so
//! that a reload changes it without building a new client. A new client
//! would drop the idle keep-alive connections to the app that the fetcher
//! and the pass-through proxy (`fetch::pool`) keep; this keeps them.
//!
//! It never decides where to connect: the request's URI says that.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

/// The connect timeout in force, shared by every clone of a [`Connector`]
/// and by whoever reloads the config.
#[derive(Clone, Debug)]
pub struct ConnectTimeout(Arc<AtomicU64>);

impl ConnectTimeout {
    pub fn new(timeout: Duration) -> ConnectTimeout {
        ConnectTimeout(Arc::new(AtomicU64::new(nanos(timeout))))
    }

    /// Connects started from now on use `timeout`; those under way keep
    /// theirs.
    pub fn set(&self, timeout: Duration) {
        self.0.store(nanos(timeout), Ordering::Relaxed);
    }

    pub fn get(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// TCP connections to the app, each bounded by the current connect timeout.
#[derive(Clone)]
pub struct Connector {
    inner: HttpConnector,
    timeout: ConnectTimeout,
}

impl Connector {
    pub fn new(timeout: ConnectTimeout) -> Connector {
        let mut inner = HttpConnector::new();
        // The timeout is ours (below), read at each connect.
        inner.set_connect_timeout(None);
        inner.set_nodelay(true);
        Connector { inner, timeout }
    }
}

/// A connect that took longer than `connect_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("connect timed out after {0:?}")]
pub struct ConnectTimedOut(Duration);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Service<Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let timeout = self.timeout.get();
        let connecting = self.inner.call(dst);
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected.map_err(Into::into),
                Err(_) => Err(ConnectTimedOut(timeout).into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clone_sees_a_new_timeout() {
        let timeout = ConnectTimeout::new(Duration::from_secs(2));
        let connector = Connector::new(timeout.clone());
        timeout.set(Duration::from_millis(250));
        assert_eq!(connector.timeout.get(), Duration::from_millis(250));
    }
}
