//! The daemon's metrics (`GET /_preloadd/metrics`): one [`Metrics`] in the
//! shared `App`, counters that the request path bumps where a result is
//! known, and the store's figures read at scrape time.
//!
//! The hit path pays one relaxed atomic add: every label set is resolved
//! once, here, into a `Counter` handle kept in an array indexed by the
//! label's enum, so a HIT neither hashes a label set nor takes the
//! family's lock. Figures the store keeps anyway (snapshots, bytes, the
//! hot set, held descriptors, evictions) are read when scraped rather than
//! updated per operation. Every series exists from the start, at zero.
//!
//! The names are in docs/operations.md ("Monitoring"); a test here keeps
//! that list and this registry the same.

use std::time::Duration;

use prometheus_client::encoding::{text, EncodeLabelSet};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::policy::PassReason;
use crate::store::Store;

pub use self::labels::{FetchOutcome, InvalidationSource, ReloadResult, RequestResult};
use self::labels::{OutcomeLabel, ReasonLabel, ReloadLabel, ResultLabel, SourceLabel};
pub use self::read::FetchHistogram;

mod labels;
mod read;

/// The `Content-Type` of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The `Content-Type` of the OpenMetrics text format.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the fetch latency buckets, in seconds: from a page the
/// app has ready to one that takes most of a default `fetch_timeout`.
const FETCH_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The metrics registry and a handle on every series.
pub struct Metrics {
    registry: Registry,
    /// By `RequestResult as usize`.
    requests: Vec<Counter>,
    /// By the index of the reason in `PassReason::ALL`.
    passes: Vec<Counter>,
    /// By `FetchOutcome as usize`.
    fetches: Vec<Counter>,
    fetch_seconds: Histogram,
    coalesced: Counter,
    /// By `InvalidationSource as usize`.
    invalidations: Vec<Counter>,
    /// Snapshots dropped or softened, by `InvalidationSource as usize`.
    invalidated: Vec<Counter>,
    write_errors: Counter,
    /// By `ReloadResult as usize`.
    reloads: Vec<Counter>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// Registers a family under `name` and resolves one counter per value.
fn family<L, V>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    values: &[V],
    label: impl Fn(V) -> L,
) -> Vec<Counter>
where
    L: EncodeLabelSet + Clone + std::hash::Hash + Eq + std::fmt::Debug + Send + Sync + 'static,
    V: Copy,
{
    let family = Family::<L, Counter>::default();
    let handles = values
        .iter()
        .map(|&v| family.get_or_create_owned(&label(v)))
        .collect();
    registry.register(name, help, family);
    handles
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("preloadd");
        let r = &mut registry;
        let requests = family(
            r,
            "requests",
            "Preload requests by how they were answered",
            RequestResult::ALL,
            |result| ResultLabel { result },
        );
        let passes = family(
            r,
            "pass_requests",
            "Preload requests answered PASS, by reason (X-Preload-Reason)",
            &PassReason::ALL,
            |reason| ReasonLabel { reason },
        );
        let fetches = family(
            r,
            "upstream_fetches",
            "Snapshot fetches from the app, by what they came to",
            FetchOutcome::ALL,
            |outcome| OutcomeLabel { outcome },
        );
        let fetch_seconds = Histogram::new(FETCH_BUCKETS);
        r.register_with_unit(
            "upstream_fetch_duration",
            "Time from the start of a snapshot fetch (the wait for a fetch slot included) until its head, or its whole body when it was read to be kept",
            Unit::Seconds,
            fetch_seconds.clone(),
        );
        let coalesced = Counter::default();
        r.register(
            "coalesced_waiters",
            "Preload requests that waited for another request's fetch of the same page",
            coalesced.clone(),
        );
        let invalidations = family(
            r,
            "invalidations",
            "Invalidations applied, by source",
            InvalidationSource::ALL,
            |source| SourceLabel { source },
        );
        let invalidated = family(
            r,
            "invalidated_snapshots",
            "Snapshots dropped or marked stale by invalidations, by source",
            InvalidationSource::ALL,
            |source| SourceLabel { source },
        );
        let write_errors = Counter::default();
        r.register(
            "write_errors",
            "Snapshots fetched to be kept that the store could not write",
            write_errors.clone(),
        );
        let reloads = family(
            r,
            "config_reloads",
            "Configuration reloads, by result",
            ReloadResult::ALL,
            |result| ReloadLabel { result },
        );
        r.register(
            "build",
            "The build: its version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics {
            registry,
            requests,
            passes,
            fetches,
            fetch_seconds,
            coalesced,
            invalidations,
            invalidated,
            write_errors,
            reloads,
        }
    }

    /// A preload request answered HIT, MISS, STALE or with the daemon's
    /// own 5xx. (A PASS is [`Metrics::pass`], which counts its reason too.)
    #[inline]
    pub fn request(&self, result: RequestResult) {
        self.requests[result as usize].inc();
    }

    /// A preload request answered PASS.
    pub fn pass(&self, reason: PassReason) {
        self.request(RequestResult::Pass);
        if let Some(i) = PassReason::ALL.iter().position(|&r| r == reason) {
            self.passes[i].inc();
        }
    }

    /// A snapshot fetch ended; `took` is its upstream part.
    pub fn fetched(&self, outcome: FetchOutcome, took: Duration) {
        self.fetches[outcome as usize].inc();
        self.fetch_seconds.observe(took.as_secs_f64());
    }

    /// A request was answered from another request's fetch.
    pub fn coalesced(&self) {
        self.coalesced.inc();
    }

    /// An invalidation from `source` dropped or softened `count` snapshots.
    pub fn invalidated(&self, source: InvalidationSource, count: usize) {
        self.invalidations[source as usize].inc();
        self.invalidated[source as usize].inc_by(count as u64);
    }

    /// The store could not write a snapshot.
    pub fn write_error(&self) {
        self.write_errors.inc();
    }

    /// A configuration reload ended with `result`.
    pub fn reloaded(&self, result: ReloadResult) {
        self.reloads[result as usize].inc();
    }

    /// Every metric as text: OpenMetrics when `openmetrics`, else the
    /// Prometheus text format. The store's figures are read now, and so
    /// are the daemon's in `now`.
    pub fn encode(
        &self,
        store: &Store,
        now: Now,
        cluster: Option<ClusterFigures>,
        openmetrics: bool,
    ) -> String {
        let mut scraped = store_registry(store);
        now.register(&mut scraped);
        if let Some(cluster) = cluster {
            cluster_series(&mut scraped, cluster);
        }
        let mut out = String::with_capacity(8 * 1024);
        // Writing to a String cannot fail.
        if openmetrics {
            let _ = text::encode_registry(&mut out, &self.registry);
            let _ = text::encode_registry(&mut out, &scraped);
            let _ = text::encode_eof(&mut out);
        } else {
            use prometheus_client::encoding::prometheus_text;
            let _ = prometheus_text::encode(&mut out, &self.registry);
            let _ = prometheus_text::encode(&mut out, &scraped);
        }
        out
    }
}

/// Figures of the daemon read at the scrape, beside the store's.
#[derive(Debug, Default, Clone, Copy)]
pub struct Now {
    /// Pages answered whose snapshot write has not ended.
    pub writes_behind: usize,
    /// App connections idle in the pool, and held by visitor connections.
    pub upstream_idle: usize,
    pub upstream_held: usize,
}

impl Now {
    fn register(self, r: &mut Registry) {
        r.register(
            "writes_behind",
            "Pages answered from memory whose snapshot write has not ended yet (at most 64: beyond that a MISS waits for its own write)",
            ConstGauge::new(self.writes_behind as u64),
        );
        r.register(
            "upstream_idle_connections",
            "Keep-alive connections to the app waiting in the pool for a visitor connection to take them",
            ConstGauge::new(self.upstream_idle as u64),
        );
        r.register(
            "upstream_held_connections",
            "Connections to the app held by visitor connections for their passed-through requests",
            ConstGauge::new(self.upstream_held as u64),
        );
    }
}

/// The store's figures at this moment, as constant series.
fn store_registry(store: &Store) -> Registry {
    let mut r = Registry::with_prefix("preloadd");
    let (hot_bytes, hot_count) = store.hot_set();
    r.register(
        "snapshots",
        "Snapshots in the store",
        ConstGauge::new(store.len() as u64),
    );
    r.register_with_unit(
        "snapshot_disk",
        "Size of the snapshot files in cache.dir",
        Unit::Bytes,
        ConstGauge::new(store.bytes()),
    );
    r.register(
        "snapshots_in_memory",
        "Snapshots whose bodies are held decoded in memory (the hot set)",
        ConstGauge::new(hot_count as u64),
    );
    r.register_with_unit(
        "snapshot_memory",
        "Body bytes held decoded in memory (the hot set, within cache.memory)",
        Unit::Bytes,
        ConstGauge::new(hot_bytes),
    );
    r.register_with_unit(
        "index_memory",
        "Approximate memory of the snapshot index",
        Unit::Bytes,
        ConstGauge::new(store.index_memory() as u64),
    );
    r.register(
        "held_files",
        "Snapshot files held open to send large bodies by sendfile",
        ConstGauge::new(store.open_files() as u64),
    );
    r.register(
        "index_rebuilding",
        "1 while the snapshot index is rebuilt from the files after a crash (the other store figures count what it has read so far)",
        ConstGauge::new(u64::from(store.is_rebuilding())),
    );
    r.register(
        "index_rebuild_files",
        "Snapshot files read by the rebuild of the index after a crash, since start",
        ConstGauge::new(store.rebuild_scanned()),
    );
    r.register(
        "evictions",
        "Snapshots evicted, least recently used first, to stay within cache.max_size",
        ConstCounter::new(store.evictions()),
    );
    r
}

/// A cluster node's figures at the moment of a scrape (`[cluster]` only):
/// what `/_preloadd/health` shows in its `cluster` object.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterFigures {
    pub connected: bool,
    /// Invalidations accepted here that Redis has not taken yet.
    pub outbox: usize,
    /// Other nodes' entries applied since start.
    pub applied: u64,
    /// From the `XADD` of the last entry applied to its application here.
    pub lag_ms: u64,
}

fn cluster_series(r: &mut Registry, c: ClusterFigures) {
    r.register(
        "cluster_connected",
        "1 while Redis answers this node, else 0",
        ConstGauge::new(u64::from(c.connected)),
    );
    r.register(
        "cluster_outbox_entries",
        "Invalidations accepted here and waiting in the outbox for Redis",
        ConstGauge::new(c.outbox as u64),
    );
    r.register(
        "cluster_applied_entries",
        "Other nodes' invalidations read from the stream and applied since start",
        ConstCounter::new(c.applied),
    );
    r.register_with_unit(
        "cluster_lag",
        "From the XADD of the last entry applied to its application here",
        Unit::Seconds,
        ConstGauge::new(c.lag_ms as f64 / 1000.0),
    );
}

/// The text of `encode` wants OpenMetrics when the scraper's `Accept`
/// names it (Prometheus sends it first when it can read it).
pub fn wants_openmetrics(accept: Option<&[u8]>) -> bool {
    accept.is_some_and(|a| {
        a.windows(b"application/openmetrics-text".len())
            .any(|w| w.eq_ignore_ascii_case(b"application/openmetrics-text"))
    })
}

#[cfg(test)]
mod tests;
