//! `preloadd warm` (SPEC §8): requests a list of pages through the running
//! daemon, so that visitors meet snapshots.
//!
//! The list comes from a file, stdin, or a sitemap ([`lines`] says what a
//! line may be, [`sitemap`] and [`loc`] read sitemaps); it is gathered
//! whole first ([`list`]), then [`pages`] requests it with `--concurrency`
//! workers while [`progress`] shows how far it got. The daemon does the
//! fetching and keeping by its own rules: this command only asks, through
//! the daemon's main listener as a visitor would, and never touches the
//! cache directory.
//!
//! The config (`--config`, `$PRELOADD_CONFIG`, `./preload.toml`) gives the
//! daemon's address, its preload prefix, `max_fetches` (the ceiling of
//! `--concurrency`) and the app a sitemap is fetched from.

mod lines;
mod list;
mod loc;
mod pages;
mod progress;
mod sitemap;

use std::fs::File;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config;
use crate::error::Error;
use crate::fetch;
use crate::key::QueryRules;

use list::List;
use pages::{Daemon, Tally};
use progress::Progress;

/// How long a page may take beyond `fetch_timeout`, which bounds the
/// daemon's own fetch: writing the snapshot and sending it.
const PAGE_MARGIN: Duration = Duration::from_secs(10);

/// How long the daemon's listener may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `preloadd warm`: where the pages come from, and how many at once.
#[derive(Debug, Clone, clap::Args)]
#[command(group(
    clap::ArgGroup::new("source")
        .required(true)
        .args(["file", "sitemap"])
))]
pub struct WarmArgs {
    /// A file of URLs, one a line: preload URLs (/_preload/events/),
    /// upstream targets (/events/, the prefix is added) or absolute URLs
    /// (their path and query are used); `-` reads stdin. Blank lines and
    /// lines starting with `#` are skipped.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Read the pages from the `<loc>` entries of a sitemap or sitemap
    /// index (gzipped too), fetched from the app (`[upstream] url`) at this
    /// URL's path and query.
    #[arg(long, value_name = "URL")]
    pub sitemap: Option<String>,
    /// Pages requested at once; never more than `[upstream] max_fetches`.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub concurrency: u32,
}

/// Reads the list, warms every page, prints the summary on stdout; an
/// error (exit 1) when any page failed or any line named no page.
pub fn warm(config_path: &Path, args: &WarmArgs) -> Result<(), Error> {
    let config = config::load(config_path)?;
    let concurrency = clamped(args.concurrency as usize, config.upstream.max_fetches);
    let Some(&listen) = config.server.listen.first() else {
        return Err(Error::Usage(
            "warm: the config has no [server] listen address".into(),
        ));
    };
    let addr = super::remote::connectable(listen);
    let client = fetch::client(config.upstream.connect_timeout);
    let runtime = super::runtime()?;
    runtime.block_on(reachable(addr))?;

    let prefix = config.preload.prefix.trim_end_matches('/');
    let mut list = List::new(prefix, QueryRules::of(&config.preload));
    match (&args.file, &args.sitemap) {
        (Some(file), _) if file.as_os_str() == "-" => {
            list.read("stdin", std::io::stdin().lock())?
        }
        (Some(file), _) => {
            let opened = File::open(file)
                .map_err(|e| Error::Usage(format!("warm: cannot read {}: {e}", file.display())))?;
            list.read(&file.display().to_string(), BufReader::new(opened))?;
        }
        (None, Some(url)) => {
            let source = sitemap::Source {
                client: client.clone(),
                upstream: &config.upstream.url,
                host: &config.upstream.host,
                timeout: config.upstream.fetch_timeout,
            };
            runtime.block_on(sitemap::read(&source, url, &mut list))?;
        }
        (None, None) => {
            return Err(Error::Usage(
                "warm: name a FILE, `-` or --sitemap URL".into(),
            ))
        }
    }

    let started = Instant::now();
    let pages = Arc::new(std::mem::take(&mut list.pages));
    let progress = Arc::new(Progress::new(pages.len() as u64));
    let daemon = Arc::new(Daemon {
        client,
        addr,
        timeout: config.upstream.fetch_timeout + PAGE_MARGIN,
    });
    let tally = runtime.block_on(pages::warm_all(
        daemon,
        Arc::clone(&pages),
        concurrency,
        Arc::clone(&progress),
    ));
    progress.finish();
    println!("{}", summary(pages.len(), started.elapsed(), &tally));
    verdict(&tally, &list)
}

/// `--concurrency`, never above `max_fetches`: more would only wait for
/// the daemon's fetch slots, and past `fetch_timeout` turn into 504s.
fn clamped(asked: usize, max_fetches: usize) -> usize {
    if asked > max_fetches {
        eprintln!(
            "warm: --concurrency {asked} is above [upstream] max_fetches = {max_fetches}: warming {max_fetches} at a time"
        );
        return max_fetches.max(1);
    }
    asked
}

/// One connection to the main listener first: a daemon that is not
/// running is one line, not a failure per page.
async fn reachable(addr: SocketAddr) -> Result<(), Error> {
    let why =
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no connection within {}s", CONNECT_TIMEOUT.as_secs()),
        };
    Err(Error::Runtime(format!(
        "warm: cannot reach the daemon at {addr}: {why} (is it running?)"
    )))
}

/// `6 pages in 0.2s: 3 kept, 1 already warm, 0 stale, 1 passed (set-cookie 1), 1 failed`.
fn summary(pages: usize, took: Duration, tally: &Tally) -> String {
    let mut passed = format!("{} passed", tally.passed_total());
    if !tally.passed.is_empty() {
        let reasons: Vec<String> = tally
            .passed
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        passed.push_str(&format!(" ({})", reasons.join(", ")));
    }
    format!(
        "{pages} {} in {:.1}s: {} kept, {} already warm, {} stale, {passed}, {} failed",
        if pages == 1 { "page" } else { "pages" },
        took.as_secs_f64(),
        tally.kept,
        tally.warm,
        tally.stale,
        tally.failed,
    )
}

/// Exit 1, after everything was tried, when anything was not warmed for
/// a reason other than the daemon's decision not to keep it.
fn verdict(tally: &Tally, list: &List<'_>) -> Result<(), Error> {
    let mut problems = Vec::new();
    let mut count = |n: usize, one: &str, many: &str| {
        if n > 0 {
            problems.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    };
    count(tally.failed, "page failed", "pages failed");
    count(list.invalid, "line named no page", "lines named no page");
    count(
        list.failed_sitemaps,
        "sitemap could not be read",
        "sitemaps could not be read",
    );
    match problems.is_empty() {
        true => Ok(()),
        false => Err(Error::Runtime(format!("warm: {}", problems.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_never_exceeds_max_fetches() {
        assert_eq!(clamped(4, 32), 4);
        assert_eq!(clamped(32, 32), 32);
        assert_eq!(clamped(64, 32), 32);
        assert_eq!(clamped(8, 2), 2);
    }

    #[test]
    fn the_summary_names_every_count_and_the_pass_reasons() {
        let mut tally = Tally {
            kept: 3,
            warm: 1,
            failed: 1,
            ..Tally::default()
        };
        tally.passed.insert("set-cookie".into(), 1);
        tally.passed.insert("no-store".into(), 2);
        assert_eq!(
            summary(8, Duration::from_millis(240), &tally),
            "8 pages in 0.2s: 3 kept, 1 already warm, 0 stale, 3 passed (no-store 2, set-cookie 1), 1 failed"
        );
        assert_eq!(
            summary(1, Duration::ZERO, &Tally::default()),
            "1 page in 0.0s: 0 kept, 0 already warm, 0 stale, 0 passed, 0 failed"
        );
    }
}
