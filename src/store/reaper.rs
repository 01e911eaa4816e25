//! The background remover: one thread that unlinks the files of snapshots
//! already dropped from the index (a generation bump can drop a million at
//! once; the caller must not wait for a million unlinks), and that, between
//! jobs, runs the store's upkeep once every `TICK` (retrying refused drops,
//! noticing a cache dir emptied underneath: see `pending`, `vanish`).
//!
//! It owns only its thread. What "unlink" means (which file, under which
//! lock, whether a newer snapshot took the key meanwhile) and what the
//! upkeep does are the closures `Store` gives it. Dropping the reaper stops
//! it between two files and joins it; files it did not get to are removed
//! at the next start, since their generation is below the persisted one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::key::Key;

/// How often the upkeep runs.
pub(crate) const TICK: Duration = Duration::from_secs(1);

/// Keys with the sizes of their files.
type Keys = Box<dyn Iterator<Item = (Key, u64)> + Send>;

enum Job {
    Unlink(Keys),
    /// Answered once every job sent before it is done.
    Barrier(mpsc::Sender<()>),
}

pub(crate) struct Reaper {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Reaper {
    pub(crate) fn spawn(
        unlink: impl Fn(&Key, u64) + Send + 'static,
        upkeep: impl Fn() + Send + 'static,
    ) -> std::io::Result<Reaper> {
        let (tx, rx) = mpsc::channel::<Job>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("preloadd-store-reaper".into())
            .spawn(move || {
                let mut next = std::time::Instant::now() + TICK;
                loop {
                    let wait = next.saturating_duration_since(std::time::Instant::now());
                    match rx.recv_timeout(wait) {
                        Ok(Job::Unlink(keys)) => {
                            for (key, size) in keys {
                                if stopped.load(Ordering::Relaxed) {
                                    break;
                                }
                                unlink(&key, size);
                            }
                        }
                        Ok(Job::Barrier(done)) => {
                            let _ = done.send(());
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                    if std::time::Instant::now() >= next {
                        upkeep();
                        next = std::time::Instant::now() + TICK;
                    }
                }
            })?;
        Ok(Reaper {
            jobs: Some(tx),
            thread: Some(thread),
            stop,
        })
    }

    /// Queues the removal of these keys' files.
    pub(crate) fn unlink(&self, keys: impl Iterator<Item = (Key, u64)> + Send + 'static) {
        self.send(Job::Unlink(Box::new(keys)));
    }

    /// Waits until everything queued so far is done.
    pub(crate) fn wait(&self) {
        let (tx, rx) = mpsc::channel();
        self.send(Job::Barrier(tx));
        let _ = rx.recv();
    }

    fn send(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            if jobs.send(job).is_err() {
                tracing::warn!("store reaper is gone; old files are removed at next start");
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn unlinks_in_the_background_and_waits() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let reaper =
            Reaper::spawn(move |k, _| s.lock().expect("lock").push(*k), || {}).expect("spawn");
        reaper.unlink(vec![(Key([1; 32]), 1), (Key([2; 32]), 2)].into_iter());
        reaper.wait();
        assert_eq!(seen.lock().expect("lock").len(), 2);
        drop(reaper);
    }

    #[test]
    fn the_upkeep_runs_between_jobs() {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let reaper = Reaper::spawn(
            |_, _| {},
            move || {
                let _ = tx.lock().expect("lock").send(());
            },
        )
        .expect("spawn");
        reaper.unlink(std::iter::empty());
        assert!(rx.recv_timeout(TICK * 5).is_ok(), "upkeep ran");
        assert!(rx.recv_timeout(TICK * 5).is_ok(), "and again");
        drop(reaper);
    }
}
