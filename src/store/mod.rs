//! The snapshot store: the only code that touches `cache.dir`.
//!
//! A snapshot is one file named by its key (`layout`), in a versioned binary
//! format (`snapshot`), published atomically (`write`). An in-memory index
//! (`index`, `tags`, `order`), rebuilt from file headers at start (`scan`),
//! says what exists and finds what an invalidation names (`select`); the
//! least recently used go first when `max_size` is passed (`evict`); hot
//! bodies stay decoded in memory (`memory`), and a cold one is read from
//! the page cache without waiting where it can be (`nowait`, `lookup`);
//! mass removals
//! finish in the background (`reaper`); soft invalidations are kept in a
//! small append-only log replayed at start (`soft`, format in `soft_log`).
//! [`preflight`] asks whether a directory would open without opening it
//! (for `check` and before `run`). Listings page through the index
//! (`listing`); [`Survey`] reads a dir no daemon holds without changing it.
//! Writes reserve their room before they touch the disk, so that `max_size`
//! holds at every moment (`space`); drops the file system refuses are kept
//! and retried, and never acknowledged as durable (`pending`); a cache dir
//! emptied underneath is noticed and recovered from (`vanish`). After a
//! crash the store serves at once while the index is rebuilt in the
//! background (`rebuild`, `lazy`, `filter`, `ceilings`).
//!
//! Rules kept throughout: the index is the authority on what is visible, and
//! every change to a key's file and its index entry happens under that key's
//! stripe lock, in the order that never lets a reader see a wrong body; no
//! file I/O happens under the index lock. The store never sees URL text
//! except as the opaque `target` kept inside a snapshot; files are named by
//! key only. It assumes it is the only writer of `cache.dir`.

mod batch;
mod ceilings;
mod checkpoint;
mod entry;
mod error;
mod evict;
mod filter;
mod filter_log;
mod held;
mod index;
mod layout;
mod lazy;
mod listing;
mod lock;
mod lookup;
mod memory;
mod nowait;
mod open;
pub mod page_cache;
#[cfg(test)]
pub(crate) use self::open::open_for_tests;
mod order;
mod pending;
mod preflight;
mod put;
mod rebuild;
pub use self::rebuild::GATE_ENV as REBUILD_GATE_ENV;
mod reader;
mod reaper;
mod remove;
mod scan;
mod select;
mod slab;
pub mod snapshot;
mod soft;
mod soft_log;
mod space;
mod survey;
mod tags;
mod vanish;
mod views;
mod write;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use crate::key::Key;

pub use self::error::StoreError;
pub use self::filter::Filter;
pub use self::held::{FileBody, HeldFile, KEEP_OPEN_MIN};
pub use self::listing::{Catalog, Cursor, ListQuery, Page, DEFAULT_LIMIT, MAX_LIMIT};
pub use self::lock::{lock_state, LockState};
pub use self::lookup::{Cold, Lookup, Unindexed};
pub use self::preflight::preflight;
pub use self::put::Room;
pub use self::survey::Survey;
pub use self::views::{EntryInfo, EntryView, Found};

use self::batch::LOCK_BATCH;
pub(crate) use self::held::FileBudget;
use self::index::Index;
use self::lock::DirLock;
use self::memory::HotSet;
use self::pending::Pending;
use self::reaper::Reaper;
use self::soft::SoftLog;
use self::space::Space;

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
    /// When the snapshot was taken (kept to the millisecond).
    pub taken: SystemTime,
    /// When it stops being fresh (route `ttl`), if ever (to the millisecond).
    pub expires: Option<SystemTime>,
    /// The store generation it was written in (a drop of everything and a
    /// soft invalidation bump it).
    pub generation: u64,
    /// The app's `Age` at fetch time, in seconds (0 when absent).
    pub age: u64,
    /// The app's ETag, else one derived from the body.
    pub etag: HeaderValue,
    /// The app's Last-Modified, else the time taken.
    pub last_modified: HeaderValue,
}

/// A content coding a body variant is kept in (identity is `Snapshot::body`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Gzip,
    Brotli,
}

impl Encoding {
    /// The content-coding token (`Content-Encoding`, `Accept-Encoding`).
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
        }
    }
}

/// The body in one content coding, made once when the snapshot was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub encoding: Encoding,
    pub body: Bytes,
}

/// A complete snapshot.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub key: Key,
    pub meta: Meta,
    /// The body as the app sent it (the identity representation).
    pub body: Bytes,
    /// The same body in other content codings, at most one per encoding.
    pub variants: Vec<Variant>,
    /// The response headers the serving code builds from `meta` on first
    /// use, so that a HIT copies them instead of building them again: one
    /// map per representation, `[0]` for `body` and `[i + 1]` for
    /// `variants[i]`. The store never reads or writes it.
    pub head: std::sync::OnceLock<Vec<http::HeaderMap>>,
    /// `head` as the bytes a HIT's answer starts with (`respond::prepared::wire`),
    /// made on first use by the connection loop. The store never reads it.
    pub wire: std::sync::OnceLock<Vec<Bytes>>,
    /// The snapshot's file, kept open when its body is large enough to be
    /// worth sending by `sendfile(2)` (see `held`). Set by the store only.
    pub file: Option<Arc<HeldFile>>,
}

impl Snapshot {
    /// Bytes held by the bodies, identity and variants (what the hot set
    /// counts).
    pub fn bodies_len(&self) -> u64 {
        let variants: usize = self.variants.iter().map(|v| v.body.len()).sum();
        (self.body.len() + variants) as u64
    }
}

/// What the store needs from `[cache]`.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub dir: PathBuf,
    pub max_size: u64,
    pub memory: u64,
    /// How many snapshot files may be held open for sendfile (0: none).
    pub open_files: usize,
}

/// The snapshot store. `Send + Sync`; share it in an `Arc`.
/// [`Store::lookup_hot`], [`Store::read_cached`] and the methods that only
/// read the index (`len`, `keys_where`, `entries`, ...) never wait for the
/// disk; any other may: call it where blocking is fine, never on a runtime
/// worker, where it would stall every connection the worker serves.
pub struct Store {
    shared: Arc<Shared>,
    reaper: Reaper,
    /// The background rebuild of the index after a crash, while it runs.
    rebuild: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Number of stripe locks serializing file changes per key.
const STRIPES: usize = 64;

/// State shared with the reaper thread.
struct Shared {
    dir: PathBuf,
    max_size: u64,
    /// Held as long as the store is open: one daemon per cache dir (taken
    /// again if the dir is emptied underneath: `vanish`).
    lock: Mutex<DirLock>,
    /// Set while another daemon holds the lock: nothing is written.
    lost: AtomicBool,
    /// The format marker was there (or written) at some point: its absence
    /// since then means the dir was emptied.
    marker_seen: AtomicBool,
    /// Bytes on disk and reserved by writes in progress, kept within
    /// `max_size`.
    space: Space,
    /// Drops the file system refused, retried (`pending`).
    pending: Mutex<Pending>,
    /// Something is in `pending` (checked without its lock).
    unsettled: AtomicBool,
    index: RwLock<Index>,
    hot: HotSet,
    /// Descriptors of snapshot files held open (`held`).
    files: Arc<FileBudget>,
    /// Held while a key's file and index entry change together, so that
    /// the two always agree (put vs remove vs eviction of one key).
    stripes: Box<[Mutex<()>]>,
    /// Source of unique ticks: serials of puts and uses of entries.
    clock: AtomicU64,
    /// Current generation: new snapshots carry it. A soft invalidation
    /// raises it, so that its record can tell the snapshots it marked
    /// (below) from those taken after it (see `soft`).
    generation: AtomicU64,
    /// The persisted minimum generation: snapshots below it are gone.
    min_generation: AtomicU64,
    /// Serializes generation changes.
    bump: Mutex<()>,
    /// Taken by a bulk change of the index for each of its holds and the
    /// pause after it (`batch`), so that bulk changes take turns.
    bulk: Mutex<()>,
    /// The soft-mark log; held while a soft mark is recorded and applied.
    soft: Mutex<SoftLog>,
    /// Fan-out directories known to exist.
    fanout_ready: Box<[AtomicBool]>,
    /// Snapshots evicted since open (metrics).
    evictions: AtomicU64,
    /// The last snapshot write failed on the disk (`Store::writes_failing`).
    failing: AtomicBool,
    /// Set by `checkpoint` at shutdown: no snapshot is published after it.
    closed: AtomicBool,
    /// The index is being rebuilt from the files after a crash (`rebuild`).
    rebuilding: AtomicBool,
    /// Snapshot files the rebuild has read so far (metrics, health).
    scanned: AtomicU64,
    /// Ticks of the entries the rebuild indexes: below every other tick,
    /// so that they are the least recently used.
    scan_clock: AtomicU64,
    /// The rebuild's invalidations, kept until it has seen every file
    /// (`filter`).
    rules: Mutex<filter::RuleLog>,
    /// The persisted generation and size ceilings (`ceilings`).
    ceilings: Mutex<ceilings::Ceilings>,
}

impl Shared {
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    fn stripe(&self, key: &Key) -> MutexGuard<'_, ()> {
        lock(&self.stripes[usize::from(key.0[31]) % STRIPES])
    }

    /// Raises the current generation by one and returns it: every snapshot
    /// indexed so far is of a generation below it.
    fn next_generation(&self) -> u64 {
        let _bump = lock(&self.bump);
        let next = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.keep_below_ceiling(next);
        next
    }
}

impl Store {
    // open (open.rs), get / lookup (lookup.rs), put (put.rs), remove /
    // remove_many / set_min_generation (remove.rs), mark_stale /
    // mark_all_stale (soft.rs) live beside their helpers.

    /// Number of snapshots.
    pub fn len(&self) -> usize {
        read_lock(&self.shared.index).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total size of the snapshot files.
    pub fn bytes(&self) -> u64 {
        read_lock(&self.shared.index).bytes()
    }

    /// The generation new snapshots are written in.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// Snapshots evicted to keep within `max_size` since open.
    pub fn evictions(&self) -> u64 {
        self.shared.evictions.load(Ordering::Relaxed)
    }

    /// Approximate memory held by the index, in bytes (for metrics).
    pub fn index_memory(&self) -> usize {
        read_lock(&self.shared.index).approx_bytes()
    }

    /// Body bytes held decoded in memory, and how many snapshots.
    pub fn hot_set(&self) -> (u64, usize) {
        (self.shared.hot.bytes(), self.shared.hot.len())
    }

    /// Snapshot files held open for sendfile.
    pub fn open_files(&self) -> usize {
        self.shared.files.open()
    }

    /// Waits until background removals queued so far are done.
    pub fn wait_background(&self) {
        self.reaper.wait();
    }
}

fn time(ms: u64) -> SystemTime {
    snapshot::from_ms(ms).unwrap_or(SystemTime::UNIX_EPOCH)
}

// A panic while holding one of these locks leaves no half-done state that a
// reader could misread (index updates are single calls), so poisoning is
// ignored rather than spread to every later request.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod room_tests;
#[cfg(test)]
mod tests;
