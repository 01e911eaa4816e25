//! The shared `App` handle: the one owner of the daemon's state, given by
//! `Arc` to every connection and background task (mini-redis's `Db`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::HeaderName;
use tokio::sync::{watch, Semaphore};

use crate::clock::Clock;
use crate::compress::Compressor;
use crate::config::Config;
use crate::connector::{ConnectTimeout, Connector};
use crate::fetch::pool::Pool;
use crate::fetch::{self, Fetcher};
use crate::flight::Flights;
use crate::invalidate::log::Log;
use crate::key::KeyCache;
use crate::metrics::Metrics;
use crate::outcome::Outcome;
use crate::oversized::Oversized;
use crate::passes::Passes;
use crate::status::Status;
use crate::store::{Store, StoreError, StoreSettings};

/// A connection's view of the configuration ([`App::config_cache`]).
pub type ConfigCache = arc_swap::Cache<Arc<ArcSwap<Config>>, Arc<Config>>;

/// How many snapshots may be answered and not yet written at once.
pub const WRITES_BEHIND: usize = 64;

pub struct App {
    /// Reloadable settings, swapped whole.
    config: Arc<ArcSwap<Config>>,
    /// Counts the swaps, for tasks that re-arm on a new config (schedules).
    swaps: watch::Sender<u64>,
    pub store: Store,
    /// The wall clock every time of day is read from (`clock`).
    pub clock: Arc<Clock>,
    pub fetcher: Fetcher,
    /// The pass-through proxy's idle connections to the app.
    pub upstreams: Arc<Pool>,
    /// `upstream.connect_timeout` as the clients read it at each connect.
    pub connect_timeout: ConnectTimeout,
    pub flights: Arc<Flights<Outcome>>,
    /// Pages found too large to keep: streamed, not read, next time.
    pub oversized: Arc<Oversized>,
    /// Makes the variants of kept pages, a bounded number at once.
    pub compressor: Compressor,
    /// A permit per snapshot answered and not yet written (`miss`): when
    /// none is left, a MISS waits for its write again, so that a burst of
    /// misses cannot queue more bodies than this for the writes.
    pub writes_behind: Arc<Semaphore>,
    /// Recent invalidations: the gate a fetch's snapshot passes to be kept.
    pub invalidations: Log,
    /// Counters and histograms of `/_preloadd/metrics`.
    pub metrics: Metrics,
    /// The last PASS of recently passed keys (`explain`).
    pub passes: Passes,
    /// Preload targets resolved recently, per config (`key::KeyCache`).
    pub keys: KeyCache,
    /// This node's part in a cluster; `None` without `[cluster]` (set by
    /// `server::Daemon::start`).
    pub cluster: Option<Arc<crate::cluster::Node>>,
    /// The status page's history and recent invalidations.
    pub status: Status,
    /// (route index, header) pairs already warned about: an app `Vary`
    /// naming a header the route does not vary on.
    warned_vary: Mutex<HashSet<(usize, HeaderName)>>,
}

impl App {
    /// Opens the store (blocking: it rebuilds the index from disk) and
    /// builds the upstream client. `clock` is the wall clock it reads.
    pub fn new(config: Config, clock: Arc<Clock>) -> Result<App, StoreError> {
        let open_files = crate::limits::raise_open_files();
        let store = Store::open(StoreSettings {
            dir: config.cache.dir.clone(),
            max_size: config.cache.max_size,
            memory: config.cache.memory,
            open_files: crate::limits::held_files(open_files),
        })?;
        let connect_timeout = ConnectTimeout::new(config.upstream.connect_timeout);
        let client = fetch::client_with(connect_timeout.clone());
        Ok(App {
            fetcher: Fetcher::new(client, config.upstream.max_fetches),
            upstreams: Pool::new(Connector::new(connect_timeout.clone())),
            connect_timeout,
            store,
            clock,
            flights: Arc::new(Flights::default()),
            oversized: Arc::new(Oversized::default()),
            compressor: Compressor::per_core(),
            writes_behind: Arc::new(Semaphore::new(WRITES_BEHIND)),
            invalidations: Log::default(),
            metrics: Metrics::new(),
            passes: Passes::default(),
            keys: KeyCache::default(),
            cluster: None,
            status: Status::default(),
            warned_vary: Mutex::new(HashSet::new()),
            config: Arc::new(ArcSwap::from_pointee(config)),
            swaps: watch::Sender::new(0),
        })
    }

    /// The configuration in force now.
    pub fn config(&self) -> arc_swap::Guard<Arc<Config>> {
        self.config.load()
    }

    /// The configuration in force, as one connection reads it at each
    /// request: while it has not changed, one atomic load and a comparison.
    pub fn config_cache(&self) -> ConfigCache {
        arc_swap::Cache::new(Arc::clone(&self.config))
    }

    /// The configuration in force now, for a task that holds it across
    /// awaits (a fetch): an owned `Arc` rather than a short-lived guard.
    pub fn config_owned(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Replaces the configuration (`reload`). Requests and fetches under
    /// way keep the one they loaded.
    pub fn set_config(&self, config: Config) {
        self.config.store(Arc::new(config));
        // Route indices may name other routes now.
        self.warned_vary
            .lock()
            .expect("vary warning set poisoned")
            .clear();
        self.swaps.send_modify(|n| *n += 1);
    }

    /// Marked changed at each [`App::set_config`] after it is subscribed.
    pub fn config_swaps(&self) -> watch::Receiver<u64> {
        self.swaps.subscribe()
    }

    /// True the first time a route/header pair is seen: the caller logs.
    pub fn first_vary_warning(&self, route: usize, header: &HeaderName) -> bool {
        self.warned_vary
            .lock()
            .expect("vary warning set poisoned")
            .insert((route, header.clone()))
    }

    /// Pages answered whose snapshot write has not ended (each holds a
    /// permit of `writes_behind` until it has).
    pub fn writes_behind_now(&self) -> usize {
        WRITES_BEHIND.saturating_sub(self.writes_behind.available_permits())
    }

    /// What `/_preloadd/health` shows under `cluster`, for the metrics and
    /// the status page; `None` without `[cluster]`.
    pub fn cluster_figures(&self) -> Option<crate::metrics::ClusterFigures> {
        let status = self.cluster.as_ref()?.status();
        Some(crate::metrics::ClusterFigures {
            connected: status.connected,
            outbox: status.outbox,
            applied: status.applied,
            lag_ms: status.lag_ms,
        })
    }
}
