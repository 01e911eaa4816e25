//! Several nodes kept coherent through a Redis stream (SPEC §10,
//! `[cluster]`). Without `[cluster]` none of this exists: [`Node`] is never
//! made, so nothing connects to Redis and no path does any extra work.
//!
//! Every invalidation a node accepts (webhook, `preloadd invalidate`, a
//! write through a snapshot route) is applied here first, then appended to
//! the stream ([`Node::publish`]); when Redis does not take it within
//! [`SEND_TIMEOUT`], it waits in the on-disk outbox ([`disk`]) and is sent,
//! in order, once Redis answers ([`Node::drain`]). Every node follows the
//! stream ([`follow`]) and applies the other nodes' entries through
//! [`crate::invalidate::run`], the local path, which publishes nothing. The
//! last applied id is kept on disk, so a node that was down catches up at
//! start before it accepts requests; a stream trimmed past that id, or
//! lost, drops every snapshot ([`stream::start`]).
//!
//! Only invalidations travel. Snapshots stay per node: each node fetches
//! its own from the app, and schedules and TTLs run on each node alike.

pub mod disk;
pub mod entry;
pub mod follow;
mod publish;
pub mod stream;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::Notify;

use crate::config;
use crate::error::Error;

use self::disk::Outbox;
use self::entry::Id;

pub use self::publish::Sent;

/// How long an `XADD` may take before the invalidation goes to the outbox
/// and the reply says `pending`.
pub const SEND_TIMEOUT: Duration = Duration::from_millis(500);

/// This node's part in a cluster: the settings it started with (`[cluster]`
/// needs a restart to change), its outbox, its connection for sending, and
/// the figures health shows.
pub struct Node {
    pub settings: config::Cluster,
    cache_dir: PathBuf,
    outbox: Mutex<Outbox>,
    /// One sender at a time, so that entries reach the stream in the order
    /// they were accepted: a publish and the outbox's drain take turns.
    turn: tokio::sync::Mutex<()>,
    /// Made at start ([`follow::catch_up`]); reconnects by itself.
    sender: OnceLock<ConnectionManager>,
    /// Woken when the outbox gains an entry.
    wake: Notify,
    connected: AtomicBool,
    applied: AtomicU64,
    lag_ms: AtomicU64,
    last_id: Mutex<Option<Id>>,
}

/// What `/_preloadd/health` shows of the cluster.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub node: String,
    pub connected: bool,
    /// Invalidations accepted here that Redis has not taken yet.
    pub outbox: usize,
    /// Other nodes' entries applied since start.
    pub applied: u64,
    /// From the `XADD` of the last entry applied to its application here.
    pub lag_ms: u64,
}

/// The node of `config`'s `[cluster]`, or `None` (a single node: nothing
/// made, nothing connected). Blocking: it reads the outbox.
pub fn open(config: &config::Config) -> Result<Option<Arc<Node>>, Error> {
    let Some(settings) = config.cluster.clone() else {
        return Ok(None);
    };
    let dir = &config.cache.dir;
    let node = Node::open(settings, dir).map_err(|e| {
        Error::Runtime(format!(
            "cannot open the cluster outbox in {}: {e}",
            dir.join(disk::DIR).display()
        ))
    })?;
    Ok(Some(Arc::new(node)))
}

impl Node {
    /// Reads what a previous run left under `cache_dir` (the outbox, the
    /// last applied id). Blocking; connects to nothing.
    pub fn open(settings: config::Cluster, cache_dir: &Path) -> std::io::Result<Node> {
        let outbox = Outbox::open(cache_dir)?;
        let last_id = disk::read_applied(cache_dir, &settings.stream);
        Ok(Node {
            settings,
            cache_dir: cache_dir.to_path_buf(),
            outbox: Mutex::new(outbox),
            turn: tokio::sync::Mutex::new(()),
            sender: OnceLock::new(),
            wake: Notify::new(),
            connected: AtomicBool::new(false),
            applied: AtomicU64::new(0),
            lag_ms: AtomicU64::new(0),
            last_id: Mutex::new(last_id),
        })
    }

    pub fn status(&self) -> Status {
        Status {
            node: self.settings.node.clone(),
            connected: self.connected.load(Ordering::Relaxed),
            outbox: self.outbox_len(),
            applied: self.applied.load(Ordering::Relaxed),
            lag_ms: self.lag_ms.load(Ordering::Relaxed),
        }
    }

    fn outbox_len(&self) -> usize {
        self.outbox.lock().expect("outbox poisoned").len()
    }

    fn last_id(&self) -> Option<Id> {
        *self.last_id.lock().expect("last id poisoned")
    }

    /// Says whether Redis answers; logs the change, not every attempt.
    fn set_connected(&self, up: bool) {
        if self.connected.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!(node = %self.settings.node, "cluster: connected to Redis");
            } else {
                tracing::warn!(node = %self.settings.node, "cluster: Redis does not answer; invalidations wait in the outbox");
            }
        }
    }
}
