//! One upstream fetch per cold key: a leader fetches, followers wait for its
//! outcome (pingora's `lock.rs` idea, without polling).
//!
//! A leader that is dropped before it finishes (its client went away, the
//! task panicked) releases its followers: they see the channel close and
//! join again, and one of them becomes the next leader. A follower is woken
//! the moment the outcome is published, so a herd of N requests costs one
//! fetch and no more latency than the fetch itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::key::{Key, KeyMap};

/// A flight in progress: its id (so a late leader never ends a newer
/// flight) and the channel its outcome is published on.
type InProgress<T> = (u64, watch::Receiver<Option<T>>);

/// The table of fetches in progress, by key.
pub struct Flights<T> {
    in_progress: Mutex<KeyMap<InProgress<T>>>,
    next_id: AtomicU64,
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
}

impl<T: Clone> Default for Flights<T> {
    fn default() -> Self {
        Flights {
            in_progress: Mutex::new(KeyMap::default()),
            next_id: AtomicU64::new(0),
        }
    }
}

impl<T: Clone> Flights<T> {
    /// Joins the flight for `key`, leading it when there is none. The
    /// leader holds the table by `Arc` so that its fetch can run in a task of
    /// its own and finish even when the client that started it goes away.
    pub fn join(self: &Arc<Self>, key: Key) -> Role<T> {
        let mut map = self.in_progress.lock().expect("flight table lock poisoned");
        if let Some((_, rx)) = map.get(&key) {
            return Role::Follower(Follower { rx: rx.clone() });
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

    fn release(&self, key: &Key, id: u64) {
        let mut map = self.in_progress.lock().expect("flight table lock poisoned");
        if map.get(key).is_some_and(|(current, _)| *current == id) {
            map.remove(key);
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
}

impl<T> Drop for Leader<T> {
    fn drop(&mut self) {
        // After `finish` this is a no-op; otherwise followers see the
        // channel close once `tx` drops and join again.
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
        }
    }
}

impl<T: Clone> Follower<T> {
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
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        Key([n; 32])
    }

    #[tokio::test]
    async fn followers_get_the_leaders_outcome() {
        let flights = Arc::new(Flights::<u32>::default());
        let Role::Leader(leader) = flights.join(key(1)) else {
            panic!("first joiner must lead")
        };
        let mut waiters = Vec::new();
        for _ in 0..10 {
            let Role::Follower(f) = flights.join(key(1)) else {
                panic!("later joiners must follow")
            };
            waiters.push(tokio::spawn(f.outcome()));
        }
        leader.finish(7);
        for w in waiters {
            assert_eq!(w.await.unwrap(), Some(7));
        }
        assert!(flights.is_empty());
    }

    #[tokio::test]
    async fn a_dropped_leader_releases_followers_and_the_key() {
        let flights = Arc::new(Flights::<u32>::default());
        let Role::Leader(leader) = flights.join(key(2)) else {
            panic!("first joiner must lead")
        };
        let Role::Follower(f) = flights.join(key(2)) else {
            panic!("second joiner must follow")
        };
        drop(leader);
        assert_eq!(f.outcome().await, None);
        assert!(matches!(flights.join(key(2)), Role::Leader(_)));
    }

    #[tokio::test]
    async fn distinct_keys_fly_independently() {
        let flights = Arc::new(Flights::<u32>::default());
        let a = flights.join(key(3));
        let b = flights.join(key(4));
        assert!(matches!(a, Role::Leader(_)) && matches!(b, Role::Leader(_)));
        assert_eq!(flights.len(), 2);
    }

    #[tokio::test]
    async fn a_follower_joining_after_finish_starts_a_new_flight() {
        let flights = Arc::new(Flights::<u32>::default());
        let Role::Leader(leader) = flights.join(key(5)) else {
            panic!("first joiner must lead")
        };
        leader.finish(1);
        assert!(matches!(flights.join(key(5)), Role::Leader(_)));
    }
}
