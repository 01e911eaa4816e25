use std::collections::{BTreeSet, HashMap};

use super::*;
use crate::store::StoreSettings;

fn store(dir: &tempfile::TempDir) -> Store {
    Store::open_whole(StoreSettings {
        dir: dir.path().join("cache"),
        max_size: 1 << 20,
        memory: 1 << 20,
        open_files: 0,
    })
    .expect("store")
}

/// `name{labels}` → value, from the text format.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').expect("sample line");
            (key.to_string(), value.parse().expect("number"))
        })
        .collect()
}

#[test]
fn every_series_exists_at_zero_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = samples(&Metrics::new().encode(&store(&dir), Now::default(), None, false));
    for result in RequestResult::ALL {
        let key = format!("preloadd_requests_total{{result=\"{}\"}}", result.as_str());
        assert_eq!(s.get(&key), Some(&0.0), "{key}");
    }
    for reason in PassReason::ALL {
        let key = format!(
            "preloadd_pass_requests_total{{reason=\"{}\"}}",
            reason.as_str()
        );
        assert_eq!(s.get(&key), Some(&0.0), "{key}");
    }
    for source in InvalidationSource::ALL {
        let key = format!(
            "preloadd_invalidations_total{{source=\"{}\"}}",
            source.as_str()
        );
        assert_eq!(s.get(&key), Some(&0.0), "{key}");
    }
    assert_eq!(s["preloadd_config_reloads_total{result=\"error\"}"], 0.0);
    assert_eq!(s["preloadd_upstream_fetch_duration_seconds_count"], 0.0);
    assert_eq!(s["preloadd_snapshots"], 0.0);
    assert_eq!(s["preloadd_evictions_total"], 0.0);
    let build = format!(
        "preloadd_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(s[&build], 1.0);
}

#[test]
fn counters_move_by_exactly_what_was_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let m = Metrics::new();
    m.request(RequestResult::Hit);
    m.request(RequestResult::Hit);
    m.pass(PassReason::NoStore);
    m.fetched(FetchOutcome::Kept, Duration::from_millis(5));
    m.fetched(FetchOutcome::Timeout, Duration::from_secs(40));
    m.coalesced();
    m.invalidated(InvalidationSource::WriteThrough, 3);
    m.write_error();
    m.reloaded(ReloadResult::Ok);
    let s = samples(&m.encode(&store, Now::default(), None, false));
    assert_eq!(s["preloadd_requests_total{result=\"hit\"}"], 2.0);
    assert_eq!(s["preloadd_requests_total{result=\"pass\"}"], 1.0);
    assert_eq!(s["preloadd_requests_total{result=\"miss\"}"], 0.0);
    assert_eq!(s["preloadd_pass_requests_total{reason=\"no-store\"}"], 1.0);
    assert_eq!(s["preloadd_pass_requests_total{reason=\"private\"}"], 0.0);
    assert_eq!(s["preloadd_upstream_fetches_total{outcome=\"kept\"}"], 1.0);
    assert_eq!(
        s["preloadd_upstream_fetches_total{outcome=\"timeout\"}"],
        1.0
    );
    assert_eq!(s["preloadd_upstream_fetch_duration_seconds_count"], 2.0);
    let bucket =
        |le: &str| s[&format!("preloadd_upstream_fetch_duration_seconds_bucket{{le=\"{le}\"}}")];
    assert_eq!(bucket("0.0025"), 0.0);
    assert_eq!(bucket("0.005"), 1.0, "5 ms is within its bound");
    assert_eq!(bucket("30"), 1.0);
    assert_eq!(bucket("+Inf"), 2.0);
    assert_eq!(s["preloadd_coalesced_waiters_total"], 1.0);
    assert_eq!(
        s["preloadd_invalidations_total{source=\"write-through\"}"],
        1.0
    );
    assert_eq!(
        s["preloadd_invalidated_snapshots_total{source=\"write-through\"}"],
        3.0
    );
    assert_eq!(
        s["preloadd_invalidated_snapshots_total{source=\"webhook\"}"],
        0.0
    );
    assert_eq!(s["preloadd_write_errors_total"], 1.0);
    assert_eq!(s["preloadd_config_reloads_total{result=\"ok\"}"], 1.0);
}

#[test]
fn openmetrics_is_given_to_those_who_ask_for_it() {
    assert!(!wants_openmetrics(None));
    assert!(!wants_openmetrics(Some(b"text/plain;version=0.0.4")));
    assert!(wants_openmetrics(Some(
        b"application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
    )));
    assert!(wants_openmetrics(Some(b"Application/OpenMetrics-Text")));
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let open = Metrics::new().encode(&store, Now::default(), None, true);
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(open.contains("# TYPE preloadd_build info\n"), "{open}");
    assert!(open.contains("# UNIT preloadd_snapshot_disk_bytes bytes\n"));
    let plain = Metrics::new().encode(&store, Now::default(), None, false);
    assert!(!plain.contains("# EOF"));
    assert!(plain.contains("# TYPE preloadd_requests_total counter\n"));
}

/// The metrics that docs/operations.md lists, as (name, type), from the
/// rows of its "Monitoring" table: "| `preloadd_...` | type | ...".
fn documented() -> BTreeSet<(String, String)> {
    let doc = include_str!("../../docs/operations.md");
    let section = doc
        .split("\n## Monitoring\n")
        .nth(1)
        .expect("a Monitoring section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    section
        .lines()
        .filter_map(|l| {
            let mut cells = l.split('|').map(str::trim).skip(1);
            let name = cells
                .next()?
                .strip_prefix("`preloadd_")?
                .strip_suffix('`')?;
            let kind = cells.next()?;
            Some((format!("preloadd_{name}"), kind.to_string()))
        })
        .collect()
}

#[test]
fn the_operations_doc_lists_every_metric_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    // With [cluster]: its series too.
    let text = Metrics::new().encode(
        &store(&dir),
        Now::default(),
        Some(ClusterFigures::default()),
        false,
    );
    let registered: BTreeSet<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').expect("name and type");
            let kind = if name.ends_with("_info") {
                "info"
            } else {
                kind
            };
            (name.to_string(), kind.to_string())
        })
        .collect();
    assert_eq!(documented(), registered);
}
