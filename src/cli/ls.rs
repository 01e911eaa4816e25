//! `preloadd ls [--prefix P] [--tag T] [--json]`: the snapshots kept, as an
//! aligned table (target, size, age, state, tags, expiry) or as JSON.
//!
//! From the running daemon when one holds the cache dir (its admin
//! listener, found through the config as `invalidate` finds it, paged until
//! the last page), else from the cache dir itself, read without changing
//! anything (`store::Survey`). Either way the rows are built by the same
//! code ([`crate::listing::rows`]).

use std::fmt::Write as _;
use std::path::Path;

use crate::clock::Clock;
use crate::config::{self, Config};
use crate::error::Error;
use crate::listing::{self, Listing, Row};
use crate::store::{self, LockState, Survey, MAX_LIMIT};

use super::remote::{self, AdminTarget};

#[derive(Debug, Clone, clap::Args)]
pub struct LsArgs {
    /// Only pages whose path starts with PREFIX (e.g. /events/), as
    /// `invalidate --prefix` reads it.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Only pages carrying TAG.
    #[arg(long, value_name = "T")]
    pub tag: Option<String>,
    /// Print JSON (`{"snapshots": [...]}`, the rows of
    /// `GET /_preloadd/snapshots`) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn ls(config_path: &Path, args: &LsArgs) -> Result<(), Error> {
    let config = config::load(config_path)?;
    // Checked here, with the daemon's own rules, before asking anyone.
    let query_text = query_string(args, MAX_LIMIT, None);
    let query = listing::parse_query(Some(&query_text), &config.preload.prefix)
        .map_err(|e| Error::Usage(format!("ls: {e}")))?;
    let live = daemon_runs(&config.cache.dir);
    let mut incomplete = false;
    let rows = if live {
        let (rows, partial) = from_daemon(&config, args)?;
        incomplete = partial;
        rows
    } else {
        let clock = Clock::from_env().map_err(Error::Usage)?;
        let survey = open_survey(&config.cache.dir, &clock)?;
        let mut rows = Vec::new();
        let mut query = query;
        loop {
            let page = listing::rows(&survey, &query, clock.now(), config.cache.grace);
            rows.extend(page.snapshots);
            match page.next.as_deref().and_then(store::Cursor::decode) {
                Some(next) => query.after = Some(next),
                None => break rows,
            }
        }
    };
    if args.json {
        let listing = Listing {
            snapshots: rows,
            next: None,
            incomplete,
        };
        let text = serde_json::to_string_pretty(&listing)
            .map_err(|e| Error::Runtime(format!("ls: encoding JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", table(&rows));
        if !live {
            println!("(read from the cache dir: no daemon is running)");
        }
        if incomplete {
            println!("(incomplete: the daemon is still rebuilding its index after a crash)");
        }
    }
    Ok(())
}

/// Does a daemon hold `dir` now? Then it is asked; else the dir is read.
pub(super) fn daemon_runs(dir: &Path) -> bool {
    match store::lock_state(dir) {
        LockState::Held(_) => true,
        LockState::Free => false,
        LockState::Unknown => {
            eprintln!(
                "preloadd: cannot tell whether a daemon holds {} (no /proc/locks): reading the cache dir without changing it",
                dir.display()
            );
            false
        }
    }
}

/// The cache dir read without changing it; one that does not exist yet
/// holds nothing.
pub(super) fn open_survey(dir: &Path, clock: &Clock) -> Result<Survey, Error> {
    if !dir.exists() {
        eprintln!(
            "preloadd: the cache dir {} does not exist yet: nothing is kept",
            dir.display()
        );
    }
    Ok(Survey::open(dir, clock.now())?)
}

/// Every page from the daemon's admin listener.
/// The rows, and whether the daemon said its index was incomplete.
fn from_daemon(config: &Config, args: &LsArgs) -> Result<(Vec<Row>, bool), Error> {
    let target = AdminTarget::from_config(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    let mut incomplete = false;
    let mut cursor: Option<String> = None;
    loop {
        let path = format!(
            "/_preloadd/snapshots?{}",
            query_string(args, MAX_LIMIT, cursor.as_deref())
        );
        let (status, reply) = runtime.block_on(remote::get(&target, &path, &[]))?;
        if status != 200 {
            return Err(remote::reply_error(
                "ls",
                status,
                &reply,
                target.token.is_some(),
            ));
        }
        let page: Listing = serde_json::from_str(&reply)
            .map_err(|e| Error::Runtime(format!("ls: unexpected reply from the daemon: {e}")))?;
        rows.extend(page.snapshots);
        incomplete |= page.incomplete;
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((rows, incomplete)),
        }
    }
}

/// `prefix=…&tag=…&limit=…&cursor=…`, each value form-encoded.
fn query_string(args: &LsArgs, limit: usize, cursor: Option<&str>) -> String {
    let mut q = format!("limit={limit}");
    let given = [
        ("prefix", args.prefix.as_deref()),
        ("tag", args.tag.as_deref()),
        ("cursor", cursor),
    ];
    for (name, value) in given {
        if let Some(value) = value {
            let _ = write!(q, "&{name}={}", remote::form_encode(value));
        }
    }
    q
}

/// The aligned table, a header line first, a total last.
pub fn table(rows: &[Row]) -> String {
    let header = ["TARGET", "SIZE", "AGE", "STATE", "TAGS", "EXPIRY"].map(String::from);
    let lines: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.target.clone(),
                human_size(r.size),
                human_age(r.age),
                r.state.as_str().to_string(),
                if r.tags.is_empty() {
                    "-".to_string()
                } else {
                    r.tags.join(",")
                },
                expiry(r.expires_in),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in std::iter::once(&header).chain(&lines) {
        let mut text = String::new();
        for (i, (cell, w)) in line.iter().zip(widths).enumerate() {
            // SIZE and AGE right-aligned; the last column not padded.
            match i {
                1 | 2 => text.push_str(&format!("{cell:>w$}  ")),
                5 => text.push_str(cell),
                _ => text.push_str(&format!("{cell:<w$}  ")),
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    let bytes: u64 = rows.iter().map(|r| r.size).sum();
    let plural = if rows.len() == 1 { "" } else { "s" };
    let _ = writeln!(
        out,
        "{} snapshot{plural}, {}",
        rows.len(),
        human_size(bytes)
    );
    out
}

/// `512 B`, `12.3 KiB`, `4.0 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The largest whole unit: `35s`, `12m`, `3h`, `2d`.
pub fn human_age(d: u64) -> String {
    match d {
        0..60 => format!("{d}s"),
        60..3600 => format!("{}m", d / 60),
        3600..86_400 => format!("{}h", d / 3600),
        _ => format!("{}d", d / 86_400),
    }
}

/// `never`, `in 5m`, `5m ago`.
pub fn expiry(expires_in: Option<i64>) -> String {
    match expires_in {
        None => "never".to_string(),
        Some(s) if s >= 0 => format!("in {}", human_age(s.unsigned_abs())),
        Some(s) => format!("{} ago", human_age(s.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::State;

    fn row(target: &str, size: u64, tags: &[&str], expires_in: Option<i64>) -> Row {
        Row {
            target: target.into(),
            key: "0".repeat(64),
            size,
            taken: "2026-12-01T10:00:00Z".into(),
            age: 125,
            expires: None,
            expires_in,
            stale_since: None,
            state: State::Fresh,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            variants: vec![],
        }
    }

    #[test]
    fn the_table_is_aligned_with_a_total() {
        let rows = [
            row("/events/?page=2", 12_600, &["events", "e-1"], Some(300)),
            row("/", 512, &[], None),
        ];
        let text = table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let size_col = |l: &str| l.find("SIZE").or_else(|| l.find(" B").or(l.find("KiB")));
        assert!(lines[0].starts_with("TARGET "), "{text}");
        assert!(
            lines[1].contains("12.3 KiB") && lines[1].contains("events,e-1"),
            "{text}"
        );
        assert!(
            lines[1].ends_with("in 5m") && lines[2].ends_with("never"),
            "{text}"
        );
        // Columns start where the header's do.
        let state = lines[0].find("STATE").unwrap();
        assert_eq!(lines[1].find("fresh"), Some(state), "{text}");
        assert_eq!(lines[2].find("fresh"), Some(state), "{text}");
        assert!(size_col(lines[1]).is_some());
        assert_eq!(lines[3], "2 snapshots, 12.8 KiB");
    }

    #[test]
    fn sizes_ages_and_expiries_read_as_a_person_would() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 30), "5.0 GiB");
        assert_eq!(human_age(59), "59s");
        assert_eq!(human_age(3599), "59m");
        assert_eq!(human_age(86_400 * 3), "3d");
        assert_eq!(expiry(Some(-7200)), "2h ago");
        let q = query_string(
            &LsArgs {
                prefix: Some("/a b/".into()),
                tag: Some("x&y".into()),
                json: false,
            },
            7,
            Some("c"),
        );
        assert_eq!(q, "limit=7&prefix=%2Fa%20b%2F&tag=x%26y&cursor=c");
    }
}
