//! `preloadd explain URL [--header 'Name: value']... [--json]`: what decides
//! one URL's fate, from the running daemon (`GET /_preloadd/explain`) when
//! one holds the cache dir, else from the config and the cache dir read
//! without changing it (then without the last PASS, which only the daemon
//! remembers). The URL is checked here first with the daemon's own rules,
//! so a target it would refuse is exit 2 whether or not it runs.

use std::fmt::Write as _;
use std::path::Path;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::clock::Clock;
use crate::config;
use crate::error::Error;
use crate::explain::{self, Explained, Next};

use super::ls::{daemon_runs, expiry, human_age, human_size, open_survey};
use super::remote::{self, AdminTarget};

#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// A preload URL (/_preload/events/?page=2), an upstream target
    /// (/events/?page=2) or an absolute URL.
    pub url: String,
    /// A request header, for a route that varies on it
    /// ("Accept-Language: fr"). Repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Print the JSON of `GET /_preloadd/explain` instead.
    #[arg(long)]
    pub json: bool,
}

pub fn explain(config_path: &Path, args: &ExplainArgs) -> Result<(), Error> {
    let config = config::load(config_path)?;
    let headers = parse_headers(&args.headers)?;
    let url = args.url.trim();
    if let Err(e) = explain::resolve(&config, &headers, url) {
        return Err(Error::Usage(format!("explain: {url}: {e}")));
    }
    let explained = if daemon_runs(&config.cache.dir) {
        let target = AdminTarget::from_config(&config)?;
        let path = format!("/_preloadd/explain?url={}", remote::form_encode(url));
        let sent: Vec<(HeaderName, HeaderValue)> = headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (status, reply) = runtime.block_on(remote::get(&target, &path, &sent))?;
        if status != 200 {
            return Err(remote::reply_error(
                "explain",
                status,
                &reply,
                target.token.is_some(),
            ));
        }
        serde_json::from_str::<Explained>(&reply).map_err(|e| {
            Error::Runtime(format!("explain: unexpected reply from the daemon: {e}"))
        })?
    } else {
        let clock = Clock::from_env().map_err(Error::Usage)?;
        let survey = open_survey(&config.cache.dir, &clock)?;
        explain::explain(&config, &survey, None, url, &headers, clock.now())
            .map_err(|e| Error::Usage(format!("explain: {url}: {e}")))?
    };
    if args.json {
        let text = serde_json::to_string_pretty(&explained)
            .map_err(|e| Error::Runtime(format!("explain: encoding JSON: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", render(&explained));
    }
    Ok(())
}

/// `Name: value` lines as headers.
fn parse_headers(lines: &[String]) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::new();
    for line in lines {
        let bad = |why: &str| Error::Usage(format!("explain: --header {line:?}: {why}"));
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("write it as \"Name: value\""))?;
        let name =
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad("not a header name"))?;
        let value = HeaderValue::from_str(value.trim()).map_err(|_| bad("not a header value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// The human-readable report.
pub fn render(e: &Explained) -> String {
    let mut o = String::new();
    let mut line = |label: &str, text: &str| {
        let _ = writeln!(o, "{label:<12}{text}");
    };
    line("target", &e.target);
    line("key", &e.key);
    line("preload URL", &e.preload_url);
    match &e.route {
        Some(r) => {
            let mut text = format!("[[route]] #{} match = {:?}", r.index + 1, r.matcher);
            if r.snapshot {
                text.push_str(", snapshot = true");
            }
            if let Some(ttl) = &r.ttl {
                let _ = write!(text, ", ttl {ttl}");
            }
            if !r.tags.is_empty() {
                let _ = write!(text, ", tags {}", r.tags.join(","));
            }
            line("route", &text);
            for v in &r.vary {
                let value = v
                    .value
                    .as_deref()
                    .map_or("(absent)".to_string(), |v| format!("{v:?}"));
                line("vary", &format!("{}: {value}", v.header));
            }
        }
        None => line("route", "none matches: no route tags, no ttl, no vary"),
    }
    match &e.snapshot {
        Some(s) => {
            line("snapshot", &format!("kept, {}", s.state.as_str()));
            line(
                "",
                &format!(
                    "{}, taken {} ({} ago), expires {}",
                    human_size(s.size),
                    s.taken,
                    human_age(s.age),
                    expiry(s.expires_in)
                ),
            );
            if let Some(since) = &s.stale_since {
                line("", &format!("soft-invalidated at {since}"));
            }
            let tags = if s.tags.is_empty() {
                "none".to_string()
            } else {
                s.tags.join(", ")
            };
            line("tags", &tags);
            let mut variants = vec!["identity".to_string()];
            variants.extend(s.variants.iter().cloned());
            line("variants", &variants.join(", "));
        }
        None => line("snapshot", "none kept under this key"),
    }
    if e.kept_for_target > 1 || (e.kept_for_target == 1 && e.snapshot.is_none()) {
        line(
            "",
            &format!(
                "{} snapshots kept for this target, one per vary value",
                e.kept_for_target
            ),
        );
    }
    let next = match e.next_request {
        Next::Hit => "HIT, from the snapshot",
        Next::Stale => "STALE, from the snapshot, while one refetch runs",
        Next::Fetch => "fetched from the app: MISS if the answer is kept, PASS if not",
    };
    line("next", next);
    match (&e.last_pass, e.passes_known) {
        (Some(p), _) => {
            line(
                "last PASS",
                &format!("{}, at {} ({} ago)", p.reason, p.at, human_age(p.ago)),
            );
            line("", &p.why);
        }
        (None, true) => line(
            "last PASS",
            "none recorded (since the daemon started, or since the page was last kept)",
        ),
        (None, false) => line(
            "last PASS",
            "unknown: no daemon is running, and only the daemon remembers PASSes",
        ),
    }
    o
}
