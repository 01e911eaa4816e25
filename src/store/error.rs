//! What can go wrong in the store, as its callers tell the cases apart
//! (a write error is a PASS, a refused drop a 503, an unusable dir exit 2).

use std::path::PathBuf;

use super::{lock, snapshot};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cache dir {dir}: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another daemon holds the cache dir's lock (its pid, when it wrote
    /// one).
    #[error("{}", lock::describe(dir, *holder))]
    Locked { dir: PathBuf, holder: Option<u32> },
    #[error("writing snapshot: {0}")]
    Write(#[source] std::io::Error),
    #[error("snapshot of {size} bytes is larger than the whole cache ({max} bytes)")]
    TooLarge { size: u64, max: u64 },
    #[error("encoding snapshot: {0}")]
    Encode(#[source] snapshot::EncodeError),
    /// Everything was dropped (a generation bump) while this snapshot was
    /// being written; it was taken before the drop and is not kept.
    #[error("snapshot dropped by an invalidation while it was written")]
    Outdated,
    /// The gate of `put_if` refused it (an invalidation overtook the fetch).
    #[error("snapshot refused: an invalidation overtook its fetch")]
    Refused,
    /// No room could be made under `max_size` in time: writes in progress
    /// (or files that cannot be removed) hold it all.
    #[error("no room under max_size: writes in progress hold it all")]
    NoRoom,
    /// A drop the file system refused to make durable: the snapshots are
    /// out of the index, but a restart could bring them back (see
    /// `pending`).
    #[error("{count} snapshots dropped from memory, but not durably: {reason}")]
    NotDurable { count: usize, reason: String },
    /// Another daemon took the cache dir after it was emptied underneath
    /// this one (see `vanish`).
    #[error("the cache dir is held by another preloadd")]
    Lost,
}
