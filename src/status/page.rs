//! The status page's HTML: one document, inline CSS and SVG, no script,
//! refreshed by `<meta http-equiv="refresh">`. Every string that comes
//! from a user (selectors, targets, reasons) is escaped; each figure that
//! is also a metric carries `data-metric="NAME{LABELS}"` with the value
//! the scrape shows.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::metrics::{InvalidationSource, RequestResult};
use crate::policy::PassReason;

use super::figures::{self, escape, escape_into};
use super::history::{Interval, EVERY, KEPT, RESULTS};
use super::recent::Invalidation;

/// Seconds between refreshes of the page.
pub const REFRESH: u64 = 10;

/// Everything the page shows, read from the daemon at one moment.
pub struct View {
    pub version: &'static str,
    pub node: Option<String>,
    /// With `[cluster]`: this node's part in it.
    pub cluster: Option<crate::metrics::ClusterFigures>,
    pub now: SystemTime,
    pub uptime: Duration,
    /// `preloadd_requests_total` by `RequestResult as usize`.
    pub totals: [u64; RESULTS],
    /// Oldest first; the last one runs to now.
    pub intervals: Vec<Interval>,
    /// Non-zero PASS counts, largest first.
    pub passes: Vec<(PassReason, u64)>,
    pub snapshots: usize,
    pub disk_bytes: u64,
    pub max_size: u64,
    pub memory_bytes: u64,
    pub memory: u64,
    pub fetches: u64,
    pub fetch_seconds: f64,
    pub fetch_buckets: Vec<(f64, u64)>,
    pub invalidations: Vec<(InvalidationSource, u64)>,
    /// Newest first.
    pub recent: Vec<Invalidation>,
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fafafa}\
h1{font-size:20px;margin:0 0 .2em}h2{font-size:15px;margin:1.2em 0 .4em}\
.meta{color:#666}.grid{display:flex;flex-wrap:wrap;gap:2em}\
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}\
th{background:#eee}td.l,th.l{text-align:left}.sel{max-width:40em;overflow-wrap:anywhere;text-align:left}\
.bar{display:inline-block;width:10em;height:.8em;background:#e5e5e5;vertical-align:middle}\
.bar span{display:block;height:100%;background:#4a8}.none{color:#888}svg text{font-size:11px;fill:#555}";

/// The page as HTML.
pub fn render(v: &View) -> String {
    let mut o = String::with_capacity(16 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"{REFRESH}\">\
<meta name=\"viewport\" content=\"width=device-width\">\
<title>preloadd status</title><style>{STYLE}</style></head><body>\n\
<h1>preloadd <span id=\"version\">{}</span></h1><p class=\"meta\">",
        escape(v.version)
    );
    if let Some(node) = &v.node {
        o.push_str("node <b id=\"node\">");
        escape_into(&mut o, node);
        o.push_str("</b> · ");
    }
    if let Some(c) = &v.cluster {
        let redis = if c.connected { "connected" } else { "down" };
        let _ = write!(
            o,
            "Redis <b id=\"cluster-connected\">{redis}</b> · outbox \
<b data-metric=\"preloadd_cluster_outbox_entries\">{}</b> · applied \
<b data-metric=\"preloadd_cluster_applied_entries_total\">{}</b> · lag \
<b id=\"cluster-lag\">{} ms</b> · ",
            c.outbox, c.applied, c.lag_ms
        );
    }
    let _ = write!(
        o,
        "up <span id=\"uptime\">{}</span> · {} UTC · refreshes every {REFRESH} s</p>",
        figures::uptime(v.uptime),
        figures::utc(v.now)
    );
    o.push('\n');
    chart(&mut o, v);
    o.push_str("<div class=\"grid\">\n");
    requests(&mut o, v);
    store(&mut o, v);
    fetches(&mut o, v);
    passes(&mut o, v);
    o.push_str("</div>\n");
    recent(&mut o, v);
    o.push_str("</body></html>\n");
    o
}

/// `<td>` holding `value`, tagged with its metric.
fn metric_cell(o: &mut String, metric: &str, value: impl std::fmt::Display) {
    o.push_str("<td data-metric=\"");
    escape_into(o, metric);
    let _ = write!(o, "\">{value}</td>");
}

fn chart(o: &mut String, v: &View) {
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    const LEFT: f64 = 40.0;
    const TOP: f64 = 8.0;
    const BOTTOM: f64 = 20.0;
    let window = EVERY.as_secs_f64() * (KEPT - 1) as f64;
    let (pw, ph) = (W - LEFT - 8.0, H - TOP - BOTTOM);
    let latest = v.intervals.last().and_then(Interval::hit_ratio);
    let _ = write!(
        o,
        "<h2>Hit ratio, last {} minutes: <span id=\"hit-ratio-now\">{}</span></h2>\n\
<svg id=\"hit-ratio\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
aria-label=\"hit ratio over the last minutes\"><title>HIT and STALE over every answer, per {} s</title>\
<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"#fff\" stroke=\"#ccc\"/>",
        window as u64 / 60,
        latest.map_or("–".to_string(), figures::percent),
        EVERY.as_secs()
    );
    for pct in [0u32, 50, 100] {
        let y = TOP + ph * (1.0 - pct as f64 / 100.0);
        let _ = write!(
            o,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#eee\"/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{pct}%</text>",
            LEFT + pw,
            LEFT - 4.0,
            y + 4.0
        );
    }
    for (i, label) in ["-10 min", "-5 min", "now"].iter().enumerate() {
        let x = LEFT + pw * i as f64 / 2.0;
        let _ = write!(
            o,
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            H - 4.0
        );
    }
    // A gap where nothing was asked; an area under each run of points.
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for iv in &v.intervals {
        let ago = v
            .now
            .duration_since(iv.end)
            .unwrap_or_default()
            .as_secs_f64();
        let x = LEFT + pw * (1.0 - (ago / window).min(1.0));
        match iv.hit_ratio() {
            Some(r) => runs
                .last_mut()
                .expect("one run")
                .push((x, TOP + ph * (1.0 - r))),
            None => runs.push(Vec::new()),
        }
    }
    let base = TOP + ph;
    for run in runs.iter().filter(|r| !r.is_empty()) {
        let mut line = String::new();
        for (i, (x, y)) in run.iter().enumerate() {
            let _ = write!(line, "{}{x:.1},{y:.1} ", if i == 0 { 'M' } else { 'L' });
        }
        let (x0, xn) = (run[0].0, run[run.len() - 1].0);
        let _ = write!(
            o,
            "<path d=\"{line}L{xn:.1},{base} L{x0:.1},{base} Z\" fill=\"#4a8\" fill-opacity=\".15\"/>\
<path class=\"ratio\" d=\"{line}\" fill=\"none\" stroke=\"#4a8\" stroke-width=\"2\"/>"
        );
        if run.len() == 1 {
            let _ = write!(
                o,
                "<circle cx=\"{x0:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#4a8\"/>",
                run[0].1
            );
        }
    }
    o.push_str("</svg>\n");
}

fn requests(o: &mut String, v: &View) {
    let last = v.intervals.last();
    let _ = write!(
        o,
        "<section><h2>Requests</h2><table id=\"requests\"><tr><th class=\"l\">result</th>\
<th>per second, last {} s</th><th>since start</th></tr>",
        last.map_or(0, |iv| iv.seconds.round() as u64)
    );
    for &result in RequestResult::ALL {
        let rate = last.map_or(0.0, |iv| iv.rate(result));
        let _ = write!(
            o,
            "<tr><td class=\"l\">{}</td><td>{}</td>",
            result.as_str(),
            figures::rate(rate)
        );
        let metric = format!("preloadd_requests_total{{result=\"{}\"}}", result.as_str());
        metric_cell(o, &metric, v.totals[result as usize]);
        o.push_str("</tr>");
    }
    let total: u64 = v.totals.iter().sum();
    let hits = v.totals[RequestResult::Hit as usize] + v.totals[RequestResult::Stale as usize];
    let ratio = if total > 0 {
        figures::percent(hits as f64 / total as f64)
    } else {
        "–".to_string()
    };
    let _ = write!(
        o,
        "<tr><th class=\"l\">all</th><th>{}</th><th id=\"requests-total\">{total}</th></tr>\
<tr><td class=\"l\">hit ratio</td><td>{}</td><td id=\"hit-ratio-total\">{ratio}</td></tr></table></section>",
        figures::rate(last.map_or(0.0, |iv| iv.total() as f64 / iv.seconds.max(f64::MIN_POSITIVE))),
        last.and_then(Interval::hit_ratio)
            .map_or("–".to_string(), figures::percent),
    );
    o.push('\n');
}

/// A bar of `used` against `limit` and its percentage.
fn bar(o: &mut String, used: u64, limit: u64) {
    let share = if limit == 0 {
        0.0
    } else {
        used as f64 / limit as f64
    };
    let _ = write!(
        o,
        "<td class=\"l\"><span class=\"bar\"><span style=\"width:{:.1}%\"></span></span> {} of {}</td>",
        (share * 100.0).min(100.0),
        figures::percent(share),
        figures::bytes(limit)
    );
}

fn store(o: &mut String, v: &View) {
    o.push_str("<section><h2>Store</h2><table id=\"store\"><tr><td class=\"l\">snapshots</td>");
    metric_cell(o, "preloadd_snapshots", v.snapshots);
    o.push_str("<td></td></tr><tr><td class=\"l\">on disk (bytes)</td>");
    metric_cell(o, "preloadd_snapshot_disk_bytes", v.disk_bytes);
    bar(o, v.disk_bytes, v.max_size);
    o.push_str("</tr><tr><td class=\"l\">in memory (bytes)</td>");
    metric_cell(o, "preloadd_snapshot_memory_bytes", v.memory_bytes);
    bar(o, v.memory_bytes, v.memory);
    o.push_str("</tr></table></section>\n");
}

fn fetches(o: &mut String, v: &View) {
    o.push_str(
        "<section><h2>Upstream fetches</h2><table id=\"fetches\"><tr><td class=\"l\">fetches</td>",
    );
    metric_cell(
        o,
        "preloadd_upstream_fetch_duration_seconds_count",
        v.fetches,
    );
    o.push_str("</tr>");
    let mean = (v.fetches > 0).then(|| v.fetch_seconds / v.fetches as f64);
    let rows = [
        ("mean", mean),
        ("p50", figures::quantile(0.5, &v.fetch_buckets)),
        ("p90", figures::quantile(0.9, &v.fetch_buckets)),
        ("p99", figures::quantile(0.99, &v.fetch_buckets)),
    ];
    for (name, value) in rows {
        let shown = value.map_or("–".to_string(), figures::seconds);
        let _ = write!(
            o,
            "<tr><td class=\"l\">{name}</td><td id=\"fetch-{name}\">{shown}</td></tr>"
        );
    }
    o.push_str("</table></section>\n");
}

fn passes(o: &mut String, v: &View) {
    o.push_str("<section><h2>Top PASS reasons</h2><table id=\"passes\">");
    if v.passes.is_empty() {
        o.push_str("<tr><td class=\"none\">no PASS yet</td></tr>");
    }
    for &(reason, count) in &v.passes {
        o.push_str("<tr><td class=\"l\">");
        escape_into(o, reason.as_str());
        o.push_str("</td>");
        let metric = format!(
            "preloadd_pass_requests_total{{reason=\"{}\"}}",
            reason.as_str()
        );
        metric_cell(o, &metric, count);
        o.push_str("</tr>");
    }
    o.push_str("</table></section>\n");
}

fn recent(o: &mut String, v: &View) {
    o.push_str("<h2>Invalidations</h2><table id=\"invalidation-counts\"><tr>");
    for &(source, _) in &v.invalidations {
        let _ = write!(o, "<th>{}</th>", source.as_str());
    }
    o.push_str("</tr><tr>");
    for &(source, count) in &v.invalidations {
        let metric = format!(
            "preloadd_invalidations_total{{source=\"{}\"}}",
            source.as_str()
        );
        metric_cell(o, &metric, count);
    }
    let _ = write!(
        o,
        "</tr></table>\n<h2>Last {} invalidations</h2><table id=\"recent\">\
<tr><th class=\"l\">time (UTC)</th><th class=\"l\">source</th><th class=\"l\">selector</th><th>snapshots</th></tr>",
        super::recent::KEPT
    );
    if v.recent.is_empty() {
        o.push_str("<tr><td colspan=\"4\" class=\"none l\">none since start</td></tr>");
    }
    for inv in &v.recent {
        let _ = write!(
            o,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"sel\">",
            figures::utc(inv.at),
            inv.source.as_str()
        );
        escape_into(o, &inv.selector);
        let _ = write!(o, "</td><td>{}</td></tr>", inv.count);
    }
    o.push_str("</table>\n");
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
