//! `packaging/grafana/preloadd.json`, the Grafana dashboard: valid JSON,
//! importable anywhere (a `${DS_PROMETHEUS}` input), and every metric a
//! panel queries is a sample name the real daemon's `/_preloadd/metrics`
//! shows (docs/operations.md, "Monitoring").

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::metrics::scrape;
use crate::support::{Sandbox, Upstream};

const DASHBOARD: &str = include_str!("../packaging/grafana/preloadd.json");

/// Every `expr` of every panel target, rows' nested panels included.
fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(targets)) = map.get("targets") {
                for t in targets {
                    if let Some(Value::String(e)) = t.get("expr") {
                        out.push(e.clone());
                    }
                }
            }
            map.values().for_each(|v| exprs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The identifiers starting with `preloadd_` in a PromQL expression, as
/// written: a histogram's series keep their `_bucket`, as in the scrape.
fn metric_names(expr: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("preloadd_") {
        let starts_word = !rest[..at].ends_with(ident);
        let tail = &rest[at..];
        let end = tail.find(|c| !ident(c)).unwrap_or(tail.len());
        if starts_word {
            names.push(tail[..end].to_string());
        }
        rest = &tail[end..];
    }
    names
}

fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("packaging/grafana/preloadd.json is not valid JSON")
}

fn queried() -> (Vec<String>, BTreeSet<String>) {
    let mut all = Vec::new();
    exprs(&dashboard(), &mut all);
    let names = all.iter().flat_map(|e| metric_names(e)).collect();
    (all, names)
}

#[test]
fn metric_names_are_read_from_promql() {
    assert_eq!(
        metric_names(
            r#"sum(rate(preloadd_a_total{x="preloadd_no"}[5m])) / xpreloadd_b + preloadd_c_bucket"#
        ),
        ["preloadd_a_total", "preloadd_no", "preloadd_c_bucket"]
    );
}

#[test]
fn the_dashboard_imports_anywhere_and_covers_the_six_areas() {
    let d = dashboard();
    assert_eq!(d["__inputs"][0]["name"], "DS_PROMETHEUS");
    assert_eq!(d["__inputs"][0]["pluginId"], "prometheus");
    let var = &d["templating"]["list"][0];
    assert_eq!(var["name"], "instance");
    assert_eq!(
        var["definition"],
        "label_values(preloadd_build_info, instance)"
    );
    let (all, names) = queried();
    for e in &all {
        assert!(e.contains("$instance"), "not filtered by $instance: {e}");
    }
    for area in [
        "preloadd_requests_total",
        "preloadd_pass_requests_total",
        "preloadd_upstream_fetch_duration_seconds_bucket",
        "preloadd_snapshots",
        "preloadd_invalidations_total",
        "preloadd_snapshot_disk_bytes",
    ] {
        assert!(names.contains(area), "no panel queries {area}: {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_the_dashboard_queries_is_in_the_scrape() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let text = scrape(&d).await.text;
    let scraped: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().unwrap_or(l))
        .collect();
    let (_, names) = queried();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !scraped.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries {missing:?}, not in /_preloadd/metrics:\n{text}"
    );
}
