//! Sending this node's invalidations: straight to the stream when Redis
//! answers within [`SEND_TIMEOUT`] and nothing older waits, else to the
//! outbox, which [`Node::drain`] empties in order once Redis answers.

use std::sync::Arc;
use std::time::Duration;

use super::{stream, Node, SEND_TIMEOUT};
use crate::invalidate::selector::Selector;

/// What became of an invalidation for the other nodes: the webhook's
/// `"cluster"` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// In the stream.
    Ok,
    /// In the outbox, on disk: sent once Redis answers.
    Pending,
    /// Neither: the outbox could not be written (logged). The local drop
    /// holds; the other nodes do not learn of it.
    Failed,
}

impl Sent {
    pub fn as_str(self) -> &'static str {
        match self {
            Sent::Ok => "ok",
            Sent::Pending => "pending",
            Sent::Failed => "failed",
        }
    }
}

/// The longest wait between two tries to empty the outbox.
const MAX_RETRY: Duration = Duration::from_secs(1);

impl Node {
    /// Sends `selector`, applied here already, to the other nodes.
    pub async fn publish(self: &Arc<Self>, selector: &Selector) -> Sent {
        let _turn = self.turn.lock().await;
        if self.outbox_len() == 0 && self.send(selector).await {
            return Sent::Ok;
        }
        let node = Arc::clone(self);
        let waiting = selector.clone();
        let pushed = tokio::task::spawn_blocking(move || {
            node.outbox.lock().expect("outbox poisoned").push(&waiting)
        })
        .await;
        match pushed {
            Ok(Ok(())) => {
                self.wake.notify_one();
                Sent::Pending
            }
            Ok(Err(err)) => {
                tracing::error!(error = %err, "cluster: invalidation not written to the outbox; the other nodes will not apply it");
                Sent::Failed
            }
            Err(err) => {
                tracing::error!(error = %err, "cluster: outbox write failed");
                Sent::Failed
            }
        }
    }

    /// One `XADD` within [`SEND_TIMEOUT`]; false when Redis did not take it.
    async fn send(&self, selector: &Selector) -> bool {
        let Some(conn) = self.sender.get() else {
            return false;
        };
        let mut conn = conn.clone();
        let s = &self.settings;
        let sent = tokio::time::timeout(
            SEND_TIMEOUT,
            stream::xadd(&mut conn, &s.stream, s.max_len, &s.node, selector),
        )
        .await;
        match sent {
            Ok(Ok(())) => true,
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "cluster: XADD failed");
                self.set_connected(false);
                false
            }
            Err(_) => {
                tracing::debug!("cluster: XADD timed out");
                self.set_connected(false);
                false
            }
        }
    }

    /// Empties the outbox, oldest first, whenever it holds entries: at
    /// once when woken, then retrying every second at most while Redis
    /// does not answer. Runs for the daemon's life.
    pub async fn drain(self: Arc<Self>) {
        let mut retry = Duration::from_millis(100);
        loop {
            if self.outbox_len() == 0 {
                self.wake.notified().await;
                continue;
            }
            if self.send_oldest().await {
                retry = Duration::from_millis(100);
            } else {
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(MAX_RETRY);
            }
        }
    }

    /// Sends the oldest outbox entry and removes it; false when Redis did
    /// not take it (or its removal failed: it is sent again later, which
    /// drops nothing more).
    async fn send_oldest(self: &Arc<Self>) -> bool {
        let _turn = self.turn.lock().await;
        let front = self
            .outbox
            .lock()
            .expect("outbox poisoned")
            .front()
            .cloned();
        let Some((seq, selector)) = front else {
            return true;
        };
        if !self.send(&selector).await {
            return false;
        }
        let node = Arc::clone(self);
        let popped = tokio::task::spawn_blocking(move || {
            node.outbox.lock().expect("outbox poisoned").pop(seq)
        })
        .await;
        match popped {
            Ok(Ok(())) => {
                tracing::info!(left = self.outbox_len(), "cluster: outbox entry sent");
                true
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "cluster: sent outbox entry not removed; it will be sent again");
                false
            }
            Err(err) => {
                tracing::warn!(error = %err, "cluster: outbox removal failed");
                false
            }
        }
    }
}
