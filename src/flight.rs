//! One upstream fetch per cold key: a leader fetches, followers wait for its
//! outcome (pingora's `lock.rs` idea, without polling).
//!
//! A leader that is dropped before it finishes (its client went away, the
//! task panicked) releases its followers: they see the channel close and
//! join again, and one of them becomes the next leader. A follower is woken
//! the moment the outcome is published, so a herd of N requests costs one
//! fetch and no more latency than the fetch itself.
//!
//! A leader may [`Leader::answer`] before it is done: the followers get the
//! outcome at once, and so does every request that joins while the leader
//! still holds the key (a snapshot being written). A joiner that finds the
//! answer no longer usable (a purge overtook it) [`Flights::retire`]s the
//! flight, and the next join leads a new one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::key::{Key, KeyMap};

/// A flight in progress: its id (so a late leader never ends a newer
/// flight) and the channel its outcome is published on.
type InProgress<T> = (u64, watch::Receiver<Option<T>>);

/// The table of fetches in progress, by key.
pub struct Flights<T> {
    in_progress: Mutex<KeyMap<InProgress<T>>>,
    next_id: AtomicU64,
    /// Notified when the table becomes empty ([`Flights::idle`]).
    emptied: Notify,
}

/// What a request becomes when it joins a flight.
pub enum Role<T> {
    /// Fetch, then [`Leader::finish`].
    Leader(Leader<T>),
    /// Wait with [`Follower::outcome`].
    Follower(Follower<T>),
}

pub struct Leader<T> {
    flights: Arc<Flights<T>>,
    key: Key,
    id: u64,
    tx: watch::Sender<Option<T>>,
}

pub struct Follower<T> {
    rx: watch::Receiver<Option<T>>,
    id: u64,
    /// The outcome was there when it joined: it waited for no fetch.
    late: bool,
}

impl<T: Clone> Default for Flights<T> {
    fn default() -> Self {
        Flights {
            in_progress: Mutex::new(KeyMap::default()),
            next_id: AtomicU64::new(0),
            emptied: Notify::new(),
        }
    }
}

impl<T: Clone> Flights<T> {
    /// Joins the flight for `key`, leading it when there is none. The
    /// leader holds the table by `Arc` so that its fetch can run in a task of
    /// its own and finish even when the client that started it goes away.
    pub fn join(self: &Arc<Self>, key: Key) -> Role<T> {
        let mut map = self.in_progress.lock().expect("flight table lock poisoned");
        if let Some((id, rx)) = map.get(&key) {
            let late = rx.borrow().is_some();
            return Role::Follower(Follower {
                rx: rx.clone(),
                id: *id,
                late,
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        map.insert(key, (id, rx));
        Role::Leader(Leader {
            flights: Arc::clone(self),
            key,
            id,
            tx,
        })
    }

    /// True while a fetch for `key` runs.
    pub fn is_running(&self, key: &Key) -> bool {
        self.in_progress
            .lock()
            .expect("flight table lock poisoned")
            .contains_key(key)
    }

    /// Fetches in progress.
    pub fn len(&self) -> usize {
        self.in_progress
            .lock()
            .expect("flight table lock poisoned")
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ends the flight `id` of `key` if it still holds the key: a joiner
    /// found its answer unusable, and the next join leads a new flight.
    /// The old leader finishes its work unaware (its end no longer touches
    /// the key).
    pub fn retire(&self, key: &Key, id: u64) {
        self.release(key, id);
    }

    /// The answer of the flight for `key`, if it has one already (and the
    /// flight's id, for [`Flights::retire`]): a page answered and still
    /// being written.
    pub fn answered(&self, key: &Key) -> Option<(u64, T)> {
        let map = self.in_progress.lock().expect("flight table lock poisoned");
        let (id, rx) = map.get(key)?;
        let answer = rx.borrow().clone()?;
        Some((*id, answer))
    }

    /// Ends every flight whose answer `named` accepts (an invalidation
    /// names the page being written) and returns those answers.
    pub fn retire_answered(&self, mut named: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut map = self.in_progress.lock().expect("flight table lock poisoned");
        let mut retired = Vec::new();
        map.retain(|_, (_, rx)| match &*rx.borrow() {
            Some(answer) if named(answer) => {
                retired.push(answer.clone());
                false
            }
            _ => true,
        });
        if map.is_empty() {
            self.emptied.notify_waiters();
        }
        retired
    }

    /// Waits, up to `within`, until every flight whose answer `named`
    /// accepts now has ended (its snapshot written, or not kept). False
    /// when `within` ran out first.
    pub async fn landed(&self, mut named: impl FnMut(&T) -> bool, within: Duration) -> bool {
        let mut waiting: Vec<watch::Receiver<Option<T>>> = {
            let map = self.in_progress.lock().expect("flight table lock poisoned");
            map.values()
                .filter(|(_, rx)| rx.borrow().as_ref().is_some_and(&mut named))
                .map(|(_, rx)| rx.clone())
                .collect()
        };
        let ends = async {
            for rx in &mut waiting {
                // The answer is the flight's one value: what changes next is
                // its end, when the leader (and its sender) goes.
                rx.borrow_and_update();
                while rx.changed().await.is_ok() {}
            }
        };
        tokio::time::timeout(within, ends).await.is_ok()
    }

    /// Waits until no flight is left (the drain, before the index
    /// checkpoint: a snapshot still being written is written first).
    pub async fn idle(&self) {
        loop {
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if self.is_empty() {
                return;
            }
            emptied.await;
        }
    }

    fn release(&self, key: &Key, id: u64) {
        let mut map = self.in_progress.lock().expect("flight table lock poisoned");
        if map.get(key).is_some_and(|(current, _)| *current == id) {
            map.remove(key);
            if map.is_empty() {
                self.emptied.notify_waiters();
            }
        }
    }
}

impl<T: Clone> Leader<T> {
    /// Publishes the outcome to every follower and ends the flight. Callers
    /// store a snapshot *before* finishing, so a request that arrives after
    /// the flight ended finds it in the store.
    pub fn finish(self, outcome: T) {
        self.flights.release(&self.key, self.id);
        self.tx.send_replace(Some(outcome));
    }

    /// Publishes the outcome to every follower, and to every request that
    /// joins from now on, but keeps the key until the leader is dropped:
    /// the answer goes out while the snapshot is still being written, and
    /// a request arriving meanwhile is answered from it instead of fetching
    /// again.
    pub fn answer(&self, outcome: T) {
        self.tx.send_replace(Some(outcome));
    }
}

impl<T> Drop for Leader<T> {
    fn drop(&mut self) {
        // After `finish` this is a no-op; after `answer` it ends the
        // flight; otherwise followers see the channel close once `tx`
        // drops and join again.
        let mut map = self
            .flights
            .in_progress
            .lock()
            .expect("flight table lock poisoned");
        if map
            .get(&self.key)
            .is_some_and(|(current, _)| *current == self.id)
        {
            map.remove(&self.key);
            if map.is_empty() {
                self.flights.emptied.notify_waiters();
            }
        }
    }
}

impl<T: Clone> Follower<T> {
    /// The flight's id, for [`Flights::retire`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// True when the answer was already out when this request joined: it
    /// waited for no fetch.
    pub fn late(&self) -> bool {
        self.late
    }

    /// The leader's outcome, or `None` when the leader gave up without one
    /// (the caller joins again).
    pub async fn outcome(mut self) -> Option<T> {
        if let Ok(value) = self.rx.wait_for(Option::is_some).await {
            return value.clone();
        }
        // Closed: the leader may have published just before dropping.
        let last = self.rx.borrow().clone();
        last
    }
}

#[cfg(test)]
#[path = "flight_tests.rs"]
mod tests;
