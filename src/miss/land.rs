//! The write of a kept snapshot, after its answer: the variants (br / gzip,
//! [`crate::compress`]), then the store's write (temp file, fsync, rename,
//! directory fsync) through the publish gate (`invalidate::log`), off the
//! runtime's workers. The room under `max_size` was taken before the answer
//! ([`take_room`]), as part of the keep decision.
//!
//! A write that fails after the answer is logged and counted
//! (`preloadd_write_errors_total`); the page is simply not kept, and the
//! next request fetches it again. A crash before the rename leaves at most
//! a temp file, removed at start: never a file to serve.
//!
//! TEST ONLY, not an operator setting (and not in docs/configuration.md):
//! with `PRELOADD_TEST_HOLD_WRITES=FIFO` in the daemon's environment, each
//! snapshot write, once its temp file is written and fsynced and just
//! before the publish gate, logs `test: snapshot write held` and waits
//! until it can read one byte from FIFO: the tests' way to hold a write
//! between the answer and the publish.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tokio::sync::OwnedSemaphorePermit;

use crate::flight::Leader;
use crate::outcome::Outcome;
use crate::state::App;
use crate::store::{Room, Snapshot, StoreError};

/// The environment variable that holds snapshot writes (tests only).
pub const HOLD_WRITES_ENV: &str = "PRELOADD_TEST_HOLD_WRITES";

/// A kept snapshot answered before it is written.
pub(super) struct Landing {
    pub snapshot: Snapshot,
    /// The invalidation log's sequence when the fetch began.
    pub since: u64,
    /// Its room under `max_size`, taken before the answer.
    pub room: Room,
    /// Whether it gets precompressed variants.
    pub variants: bool,
    /// Its place among the writes behind (`App::writes_behind`).
    pub _behind: Option<OwnedSemaphorePermit>,
}

impl Landing {
    /// Makes the variants and writes the snapshot, then ends the flight
    /// (`leader`), so that a request from then on finds the snapshot in the
    /// store, or (not kept) fetches it again. A failure is logged and
    /// counted, never anyone's answer: that went out already.
    pub(super) async fn land(self, app: &Arc<App>, leader: Leader<Outcome>) {
        let Landing {
            mut snapshot,
            since,
            room,
            variants,
            _behind,
        } = self;
        if variants {
            snapshot.variants = app.compressor.variants(snapshot.body.clone()).await;
        }
        let target = snapshot.meta.target.clone();
        let written = write(app, Some(room), snapshot, since).await;
        drop(leader);
        match written {
            Ok(_) => {}
            Err(StoreError::Refused | StoreError::Outdated) => {
                tracing::debug!(%target, "an invalidation overtook the fetch; not kept");
            }
            Err(err) => {
                tracing::warn!(%target, error = %err, "snapshot not written; the next request fetches it again");
                app.metrics.write_error();
            }
        }
    }
}

/// Room for `snapshot` under `max_size`: taken on the worker when it is
/// free, else (an eviction to make, writes in progress to wait for) on the
/// blocking pool.
pub(super) async fn take_room(app: &Arc<App>, snapshot: &Snapshot) -> Result<Room, StoreError> {
    if let Some(room) = app.store.try_room_for(snapshot)? {
        return Ok(room);
    }
    let (app, snapshot) = (Arc::clone(app), snapshot.clone());
    tokio::task::spawn_blocking(move || app.store.room_for(&snapshot))
        .await
        .map_err(|e| StoreError::Write(std::io::Error::other(e.to_string())))?
}

/// Makes the variants and writes `snapshot` before anyone is answered
/// (`on_write_error = "fail"`, or a disk refusing writes).
pub(super) async fn write_now(
    app: &Arc<App>,
    mut snapshot: Snapshot,
    since: u64,
    variants: bool,
) -> Result<Arc<Snapshot>, StoreError> {
    if variants {
        // Made here, once, a bounded number at a time.
        snapshot.variants = app.compressor.variants(snapshot.body.clone()).await;
    }
    write(app, None, snapshot, since).await
}

/// The store's write, on the blocking pool (it fsyncs), into `room` or
/// into room it takes; published only if no invalidation since `since`
/// names the page.
async fn write(
    app: &Arc<App>,
    room: Option<Room>,
    snapshot: Snapshot,
    since: u64,
) -> Result<Arc<Snapshot>, StoreError> {
    let writer = Arc::clone(app);
    tokio::task::spawn_blocking(move || {
        let (target, tags) = (snapshot.meta.target.clone(), snapshot.meta.tags.clone());
        let admit = || {
            hold_if_told();
            writer.invalidations.admit(since, &target, &tags)
        };
        match room {
            Some(room) => writer.store.put_in(room, snapshot, admit),
            None => writer.store.put_if(snapshot, admit),
        }
    })
    .await
    .map_err(|e| StoreError::Write(std::io::Error::other(e.to_string())))?
}

/// The tests' hold (see the module doc): a no-op unless the environment
/// names a FIFO.
fn hold_if_told() {
    // Opened once, for reading and writing, and kept: the open never waits
    // for the test, and a byte the test writes stays in the FIFO until a
    // held write takes it, whenever each comes.
    static FIFO: OnceLock<Option<std::fs::File>> = OnceLock::new();
    let fifo = FIFO.get_or_init(|| {
        let path = PathBuf::from(std::env::var_os(HOLD_WRITES_ENV)?);
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path);
        opened
            .map_err(
                |err| tracing::warn!(error = %err, "test: the write hold's FIFO cannot be opened"),
            )
            .ok()
    });
    let Some(mut fifo) = fifo.as_ref() else {
        return;
    };
    tracing::info!("test: snapshot write held");
    let _ = fifo.read(&mut [0u8; 1]);
    tracing::info!("test: snapshot write released");
}
