//! Following the stream: at start, everything missed while down is applied
//! before the node accepts requests ([`catch_up`]); then a task reads on
//! with `XREAD BLOCK` and reconnects with backoff ([`spawn`]). Each
//! (re)connection first asks where to start ([`stream::start`]), so a
//! stream trimmed past this node's last applied id, or lost, drops every
//! snapshot, once, with a line saying why.
//!
//! The other nodes' entries go through [`invalidate::run`], the local path:
//! applied, made durable, rewarmed, never published again. This node's own
//! entries are passed over. An entry that does not read is logged and
//! skipped.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, RedisResult};
use tokio::task::JoinHandle;

use super::entry::{self, Id};
use super::stream::{self, Raw, Start};
use super::{disk, Node, SEND_TIMEOUT};
use crate::invalidate;
use crate::invalidate::selector::Selector;
use crate::metrics::InvalidationSource;
use crate::state::App;

/// How long one `XREAD BLOCK` waits for an entry.
const BLOCK_MS: u64 = 2000;
/// Entries read at a time.
const BATCH: usize = 500;
/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest wait between two tries to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// At start, before any request: makes the sending connection and applies
/// every entry after the last applied id (or drops everything when the
/// stream no longer holds them). When Redis does not answer within
/// [`CONNECT_TIMEOUT`], the node starts anyway, says so, and catches up
/// once it answers: a Redis outage must not keep every node from starting.
pub async fn catch_up(app: &Arc<App>) {
    let Some(node) = app.cluster.as_ref() else {
        return;
    };
    match sender(node) {
        Ok(conn) => {
            let _ = node.sender.set(conn);
        }
        Err(err) => {
            tracing::error!(error = %err, "cluster: cannot use the Redis URL");
            return;
        }
    }
    let caught = async {
        let mut conn = connect(node).await?;
        sync(app, node, &mut conn, false).await
    };
    if let Err(err) = caught.await {
        tracing::warn!(error = %err, "cluster: Redis does not answer at start; serving without catching up, until it does");
        node.set_connected(false);
    }
}

/// Starts the follower and the outbox's drain; `None` without `[cluster]`.
pub fn spawn(app: &Arc<App>) -> Option<[JoinHandle<()>; 2]> {
    let node = app.cluster.as_ref()?;
    let drain = tokio::spawn(Arc::clone(node).drain());
    let follow = tokio::spawn(follow(Arc::clone(app)));
    Some([drain, follow])
}

/// Reads the stream for the daemon's life, reconnecting with backoff.
async fn follow(app: Arc<App>) {
    let node = app.cluster.as_ref().expect("a cluster node");
    let mut backoff = Duration::from_millis(100);
    loop {
        let result = async {
            let mut conn = connect(node).await?;
            backoff = Duration::from_millis(100);
            sync(&app, node, &mut conn, true).await
        }
        .await;
        if let Err(err) = result {
            tracing::debug!(error = %err, "cluster: following the stream stopped");
        }
        node.set_connected(false);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn client(node: &Node) -> RedisResult<Client> {
    Client::open(node.settings.redis.as_str())
}

/// The sending connection: made at once, connecting when first used and
/// again whenever it breaks; each command bounded by [`SEND_TIMEOUT`].
fn sender(node: &Node) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(SEND_TIMEOUT))
        .set_response_timeout(Some(SEND_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(1));
    ConnectionManager::new_lazy_with_config(client(node)?, config)
}

/// A connection of the follower's own: an `XREAD BLOCK` holds up whatever
/// is queued behind it on its connection, so it never shares the sender's.
async fn connect(node: &Node) -> RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(Duration::from_millis(BLOCK_MS) + CONNECT_TIMEOUT));
    client(node)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// Finds where to start, drops everything if need be, then applies what
/// follows: until none is left (`block` false, the catch-up) or for as long
/// as the connection holds (`block` true).
async fn sync(
    app: &Arc<App>,
    node: &Arc<Node>,
    conn: &mut MultiplexedConnection,
    block: bool,
) -> RedisResult<()> {
    let stream_name = node.settings.stream.as_str();
    let info = stream::info(conn, stream_name).await?;
    node.set_connected(true);
    let applied = node.last_id();
    let mut after = match stream::start(info.as_ref(), applied) {
        Start::After(id) => id,
        Start::DropAll { after, why } => {
            tracing::warn!(
                stream = stream_name,
                "cluster: dropping every snapshot: {why}"
            );
            let all = Selector {
                all: true,
                ..Selector::default()
            };
            if let Err(err) = invalidate::run(app, all, InvalidationSource::Cluster).await {
                tracing::error!(error = %err, "cluster: dropping every snapshot failed");
            }
            after
        }
    };
    if Some(after) != applied {
        // Also `0-0`: joined before the stream had an entry, this node
        // must read the first one, whenever it reconnects.
        record(node, after).await;
    }
    loop {
        let batch =
            stream::read(conn, stream_name, after, block.then_some(BLOCK_MS), BATCH).await?;
        if batch.is_empty() {
            if block {
                continue;
            }
            return Ok(());
        }
        after = apply(app, node, batch).await;
    }
}

/// Applies a batch of entries, then records the last one's id; returns it.
async fn apply(app: &Arc<App>, node: &Arc<Node>, batch: Vec<Raw>) -> Id {
    let mut last = Id::ZERO;
    for (id, fields) in batch {
        last = id;
        let entry = match entry::decode(&fields) {
            Ok(entry) => entry,
            Err(why) => {
                tracing::warn!(id = %id, "cluster: skipping a stream entry that does not read: {why}");
                continue;
            }
        };
        if entry.node == node.settings.node {
            continue;
        }
        match invalidate::run(app, entry.selector, InvalidationSource::Cluster).await {
            Ok(count) => {
                tracing::debug!(id = %id, from = %entry.node, count, "cluster: entry applied");
            }
            Err(err) => {
                tracing::error!(id = %id, from = %entry.node, error = %err, "cluster: applying an entry failed");
            }
        }
        node.applied.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        node.lag_ms
            .store(now.saturating_sub(id.ms), Ordering::Relaxed);
    }
    record(node, last).await;
    last
}

/// Keeps `id` as the last applied, in memory and on disk.
async fn record(node: &Arc<Node>, id: Id) {
    *node.last_id.lock().expect("last id poisoned") = Some(id);
    let dir = node.cache_dir.clone();
    let stream_name = node.settings.stream.clone();
    let written =
        tokio::task::spawn_blocking(move || disk::write_applied(&dir, &stream_name, id)).await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "cluster: last applied id not saved; a restart applies again what follows the one saved")
        }
        Err(err) => tracing::warn!(error = %err, "cluster: saving the last applied id failed"),
    }
}
