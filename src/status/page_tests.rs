use std::time::{Duration, Instant, SystemTime};

use super::*;
use crate::status::history::Sample;

fn view() -> View {
    let base = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let mut a = Sample {
        at: base,
        wall,
        requests: [0; RESULTS],
    };
    let mut b = a;
    b.at = base + Duration::from_secs(10);
    b.wall = wall + Duration::from_secs(10);
    b.requests[RequestResult::Hit as usize] = 9;
    b.requests[RequestResult::Miss as usize] = 1;
    a.requests[RequestResult::Miss as usize] = 0;
    View {
        version: "1.2.3",
        node: Some("web<1>".into()),
        cluster: None,
        now: b.wall,
        uptime: Duration::from_secs(61),
        totals: b.requests,
        intervals: vec![Interval::between(&a, &b)],
        passes: vec![(PassReason::NoStore, 4)],
        snapshots: 7,
        disk_bytes: 512,
        max_size: 1024,
        memory_bytes: 0,
        memory: 0,
        fetches: 2,
        fetch_seconds: 0.5,
        fetch_buckets: vec![(0.1, 1), (0.5, 2), (f64::INFINITY, 2)],
        invalidations: vec![(InvalidationSource::Webhook, 1)],
        recent: vec![Invalidation {
            at: wall,
            source: InvalidationSource::Webhook,
            selector: "urls /a?q=<script>alert(1)</script>".into(),
            count: 3,
        }],
    }
}

#[test]
fn every_user_string_is_escaped() {
    let html = render(&view());
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("urls /a?q=&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("<b id=\"node\">web&lt;1&gt;</b>"));
}

#[test]
fn figures_carry_their_metric() {
    let html = render(&view());
    for cell in [
        "data-metric=\"preloadd_requests_total{result=&quot;hit&quot;}\">9<",
        "data-metric=\"preloadd_requests_total{result=&quot;miss&quot;}\">1<",
        "data-metric=\"preloadd_pass_requests_total{reason=&quot;no-store&quot;}\">4<",
        "data-metric=\"preloadd_snapshots\">7<",
        "data-metric=\"preloadd_snapshot_disk_bytes\">512<",
        "data-metric=\"preloadd_upstream_fetch_duration_seconds_count\">2<",
        "data-metric=\"preloadd_invalidations_total{source=&quot;webhook&quot;}\">1<",
    ] {
        assert!(html.contains(cell), "no {cell} in\n{html}");
    }
    assert!(html.contains("<span id=\"hit-ratio-now\">90.0%</span>"));
    assert!(
        html.contains("width:50.0%"),
        "the disk bar at half of max_size"
    );
    assert!(html.contains("<td id=\"fetch-mean\">250 ms</td>"));
    assert!(html.contains("<td id=\"fetch-p50\">100 ms</td>"));
}

#[test]
fn the_chart_is_inline_svg_with_axes_and_a_line() {
    let html = render(&view());
    assert!(html.contains("<svg id=\"hit-ratio\""));
    for label in [">0%<", ">50%<", ">100%<", ">-10 min<", ">now<"] {
        assert!(html.contains(label), "no {label}");
    }
    assert!(html.contains("<path class=\"ratio\" d=\"M"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"10\">"));
    // Nothing loaded from elsewhere.
    assert!(!html.contains("src="));
    assert!(!html.contains("href="));
}

#[test]
fn an_idle_daemon_renders_without_a_line() {
    let mut v = view();
    v.intervals.clear();
    v.recent.clear();
    v.passes.clear();
    let html = render(&v);
    assert!(!html.contains("class=\"ratio\""));
    assert!(html.contains("none since start"));
    assert!(html.contains("no PASS yet"));
}
