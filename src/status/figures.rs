//! The small formatters of the status page: HTML escaping, the quantile
//! estimate from histogram buckets, sizes, durations and times.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// `s` with `& < > " '` escaped: safe in text and in a quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The `q`-quantile estimated from cumulative buckets `(upper bound,
/// count)`, `+Inf` last, as Prometheus' `histogram_quantile` does: linear
/// within the bucket it falls in, from the bound below (0 for the first);
/// in the `+Inf` bucket, the largest finite bound. `None` with no
/// observations.
pub fn quantile(q: f64, buckets: &[(f64, u64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let (mut below, mut below_count) = (0.0, 0u64);
    for &(le, count) in buckets {
        if count as f64 >= rank {
            if le.is_infinite() {
                return Some(below);
            }
            let within = count.saturating_sub(below_count) as f64;
            if within == 0.0 {
                return Some(le);
            }
            return Some(below + (le - below) * (rank - below_count as f64) / within);
        }
        (below, below_count) = (le, count);
    }
    Some(below)
}

/// A size in bytes as people read it: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Seconds as `0.84 ms`, `120 ms`, `2.50 s`.
pub fn seconds(s: f64) -> String {
    if s < 0.01 {
        format!("{:.2} ms", s * 1000.0)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// An uptime as `2d 3h 4m 5s` (leading zero parts left out).
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let mut out = String::new();
    if days > 0 {
        let _ = write!(out, "{days}d ");
    }
    if days > 0 || h > 0 {
        let _ = write!(out, "{h}h ");
    }
    if days > 0 || h > 0 || m > 0 {
        let _ = write!(out, "{m}m ");
    }
    let _ = write!(out, "{s}s");
    out
}

/// A time of day in UTC: `2026-12-02 01:20:11`.
pub fn utc(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A rate: `0`, `0.25`, `12.3`, `1234`.
pub fn rate(r: f64) -> String {
    if r == 0.0 {
        "0".to_string()
    } else if r < 10.0 {
        format!("{r:.2}")
    } else if r < 1000.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.0}")
    }
}

/// A share as a percentage: `97.5%`.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape(r#"/a?q=<script>alert("x&y")</script>'"#),
            "/a?q=&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
        assert_eq!(escape("plain/é"), "plain/é");
    }

    #[test]
    fn quantile_interpolates_within_the_bucket() {
        let b = [(0.1, 0), (0.2, 50), (0.4, 100), (f64::INFINITY, 100)];
        // rank 50 reaches 50 at 0.2; rank 75 is half way through (0.2, 0.4].
        assert!((quantile(0.5, &b).unwrap() - 0.2).abs() < 1e-9);
        assert!((quantile(0.75, &b).unwrap() - 0.3).abs() < 1e-9);
        assert!((quantile(0.99, &b).unwrap() - 0.396).abs() < 1e-9);
        // From 0 in the first bucket.
        let first = [(1.0, 4), (f64::INFINITY, 4)];
        assert!((quantile(0.5, &first).unwrap() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn quantile_in_the_open_bucket_is_the_largest_bound() {
        let b = [(0.1, 1), (30.0, 1), (f64::INFINITY, 10)];
        assert_eq!(quantile(0.9, &b), Some(30.0));
        assert_eq!(quantile(0.5, &[(0.1, 0), (f64::INFINITY, 0)]), None);
        assert_eq!(quantile(0.5, &[]), None);
    }

    #[test]
    fn sizes_durations_and_rates_read_as_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(seconds(0.00084), "0.84 ms");
        assert_eq!(seconds(0.12), "120 ms");
        assert_eq!(seconds(2.5), "2.50 s");
        assert_eq!(uptime(Duration::from_secs(5)), "5s");
        assert_eq!(uptime(Duration::from_secs(93_784)), "1d 2h 3m 4s");
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(0.25), "0.25");
        assert_eq!(percent(0.975), "97.5%");
        assert_eq!(utc(SystemTime::UNIX_EPOCH), "1970-01-01 00:00:00");
    }
}
