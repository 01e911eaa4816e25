//! The snapshot store: the only code that touches `cache.dir`. (Stub: being
//! written.) It never sees URL text except as the opaque `target` field kept
//! inside a snapshot; files are named by key only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use crate::key::Key;

/// What is kept beside a body.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub status: u16,
    /// End-to-end response headers as kept (no hop-by-hop, no Set-Cookie,
    /// no tags header), in the app's order.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub tags: Vec<String>,
    /// Canonical upstream target.
    pub target: String,
    /// When the snapshot was taken.
    pub taken: SystemTime,
    /// When it stops being fresh (route `ttl`), if ever.
    pub expires: Option<SystemTime>,
    /// The store generation it was written in (a drop of everything bumps it).
    pub generation: u64,
    /// The app's `Age` at fetch time, in seconds (0 when absent).
    pub age: u64,
    /// The app's ETag, else one derived from the body.
    pub etag: HeaderValue,
    /// The app's Last-Modified, else the time taken.
    pub last_modified: HeaderValue,
}

/// A complete snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub key: Key,
    pub meta: Meta,
    pub body: Bytes,
}

/// What the store needs from `[cache]`.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub dir: PathBuf,
    pub max_size: u64,
    pub memory: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cache dir {dir}: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing snapshot: {0}")]
    Write(#[source] std::io::Error),
}

/// The snapshot store.
pub struct Store {
    _settings: StoreSettings,
}

impl Store {
    pub fn open(settings: StoreSettings) -> Result<Store, StoreError> {
        Ok(Store { _settings: settings })
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Snapshot>> {
        let _ = key;
        None
    }

    pub fn put(&self, snapshot: Snapshot) -> Result<Arc<Snapshot>, StoreError> {
        Ok(Arc::new(snapshot))
    }

    pub fn remove(&self, key: &Key) -> bool {
        let _ = key;
        false
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> u64 {
        0
    }
}
