//! The strict TOML shape of `preload.toml` and every default of SPEC §2.
//!
//! The text is deserialized straight into these structs (never through
//! `toml::Value`, which would lose positions): unknown keys are errors, and
//! the value newtypes of `units.rs` / `net.rs` check themselves, so every
//! error the toml parser reports has a line, a column and a key. Values that
//! a later cross-key check needs to point at are kept as `Spanned`.
//! Defaults that never appear in the file get the empty span `0..0`.
//!
//! This module decides the shape only; `validate.rs` decides what makes
//! sense together and builds the typed `Config`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::matchers::{Glob, RouteMatch};
use super::net::{AdminListen, HeaderNameValue, HostHeader, ListenAddrs, UpstreamUrl};
use super::position::line_at;
use super::units::{ByteSize, CronSchedule, Dur, Timezone};
use super::{ConfigError, OnWriteError};

/// A default value: present in no file, so it has no position.
fn dflt<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

fn secs(s: u64) -> Dur {
    Dur(std::time::Duration::from_secs(s))
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawConfig {
    pub server: RawServer,
    /// Spanned so that a missing `url` can point at the `[upstream]` header.
    pub upstream: Spanned<RawUpstream>,
    pub cache: RawCache,
    pub preload: RawPreload,
    pub route: Vec<RawRoute>,
    pub invalidate: RawInvalidate,
    pub schedule: Vec<RawSchedule>,
    pub cluster: Option<RawCluster>,
}

// Written out because `Spanned` has no `Default`.
impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            server: RawServer::default(),
            upstream: dflt(RawUpstream::default()),
            cache: RawCache::default(),
            preload: RawPreload::default(),
            route: Vec::new(),
            invalidate: RawInvalidate::default(),
            schedule: Vec::new(),
            cluster: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawServer {
    pub listen: Spanned<ListenAddrs>,
    pub admin_listen: Spanned<AdminListen>,
    pub max_connections: Spanned<i64>,
    pub header_timeout: Spanned<Dur>,
    pub shutdown_timeout: Dur,
    pub access_log: bool,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: dflt(ListenAddrs(vec![([127, 0, 0, 1], 8080).into()])),
            admin_listen: dflt(AdminListen(Some(([127, 0, 0, 1], 8081).into()))),
            max_connections: dflt(10_000),
            header_timeout: dflt(secs(10)),
            shutdown_timeout: secs(30),
            access_log: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawUpstream {
    /// Required; `None` is reported by `validate`, beside other problems.
    pub url: Option<Spanned<UpstreamUrl>>,
    /// Defaults to the authority of `url`.
    pub host: Option<HostHeader>,
    pub connect_timeout: Spanned<Dur>,
    pub fetch_timeout: Spanned<Dur>,
    pub max_fetches: Spanned<i64>,
}

impl Default for RawUpstream {
    fn default() -> Self {
        RawUpstream {
            url: None,
            host: None,
            connect_timeout: dflt(secs(2)),
            fetch_timeout: dflt(secs(30)),
            max_fetches: dflt(32),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCache {
    /// Kept as written; relative to the working directory, as an operator
    /// expects from a path on a command line.
    pub dir: Spanned<PathBuf>,
    pub max_size: Spanned<ByteSize>,
    pub max_object_size: Spanned<ByteSize>,
    pub statuses: Spanned<Vec<Spanned<i64>>>,
    pub strip_set_cookie: bool,
    pub on_write_error: OnWriteError,
    pub grace: Dur,
    pub memory: ByteSize,
    pub compress: bool,
}

impl Default for RawCache {
    fn default() -> Self {
        RawCache {
            dir: dflt(PathBuf::from("./preload-cache")),
            max_size: dflt(ByteSize(1 << 30)),
            max_object_size: dflt(ByteSize(16 << 20)),
            statuses: dflt(vec![dflt(200)]),
            strip_set_cookie: false,
            on_write_error: OnWriteError::Serve,
            grace: secs(3600),
            memory: ByteSize(256 << 20),
            compress: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawPreload {
    pub prefix: Spanned<String>,
    pub sort_query: bool,
    pub ignore_query: Vec<Glob>,
    pub tags_header: HeaderNameValue,
    pub max_tags: Spanned<i64>,
}

impl Default for RawPreload {
    fn default() -> Self {
        RawPreload {
            prefix: dflt("/_preload".to_string()),
            sort_query: true,
            ignore_query: Vec::new(),
            tags_header: HeaderNameValue(http::HeaderName::from_static("x-preload-tags")),
            max_tags: dflt(1000),
        }
    }
}

/// One `[[route]]`; `match` is required, so no section-wide default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    #[serde(rename = "match")]
    pub matcher: Spanned<RouteMatch>,
    #[serde(default = "yes")]
    pub snapshot: bool,
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    #[serde(default)]
    pub ttl: Option<Spanned<Dur>>,
    #[serde(default)]
    pub vary: Vec<Spanned<HeaderNameValue>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawInvalidate {
    pub path: Spanned<String>,
    pub token: Option<Spanned<String>>,
    pub token_file: Option<Spanned<PathBuf>>,
    pub models: Vec<Spanned<String>>,
    pub daily: bool,
    pub timezone: Timezone,
    pub rewarm: bool,
    pub rewarm_concurrency: Spanned<i64>,
}

impl Default for RawInvalidate {
    fn default() -> Self {
        RawInvalidate {
            path: dflt("/_invalidate".to_string()),
            token: None,
            token_file: None,
            models: Vec::new(),
            daily: false,
            timezone: Timezone::Utc,
            rewarm: false,
            rewarm_concurrency: dflt(4),
        }
    }
}

/// One `[[schedule]]`; `cron` is required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSchedule {
    pub cron: Spanned<CronSchedule>,
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    #[serde(default)]
    pub prefixes: Vec<Spanned<String>>,
    #[serde(default)]
    pub urls: Vec<Spanned<String>>,
    #[serde(default)]
    pub soft: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCluster {
    /// Unset: a single node, whatever else the section says.
    pub redis: Option<Spanned<String>>,
    pub stream: Spanned<String>,
    /// Defaults to the host name.
    pub node: Option<Spanned<String>>,
    pub max_len: Spanned<i64>,
}

impl Default for RawCluster {
    fn default() -> Self {
        RawCluster {
            redis: None,
            stream: dflt("preloadd:invalidations".to_string()),
            node: None,
            max_len: dflt(100_000),
        }
    }
}

/// Parses the text into the raw shape. toml stops at the first problem, so
/// this reports one line; `validate` then reports all the others at once.
pub(crate) fn parse(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let line = match e.span() {
            Some(span) => {
                // "missing field `match`" points at the table's header:
                // name the missing key itself.
                let key = super::position::key_path(text, span.start).map(|table| {
                    match missing_field(e.message()) {
                        Some(field) => format!("{table}.{field}"),
                        None => table,
                    }
                });
                // toml says nothing of some syntax errors (a lone "\r").
                let message = Some(e.message()).filter(|m| !m.trim().is_empty());
                let message = message.unwrap_or("invalid TOML syntax");
                line_at(path, text, span.start, key.as_deref(), message)
            }
            None => format!("{}: {}", path.display(), e.message().replace('\n', "; ")),
        };
        ConfigError::Invalid(vec![line])
    })
}

fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")?
        .split('`')
        .next()
        .filter(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        match parse(Path::new("preload.toml"), text) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn an_empty_file_is_all_defaults() {
        let raw = parse(Path::new("p.toml"), "").expect("empty file parses");
        assert!(raw.upstream.get_ref().url.is_none());
        assert!(raw.route.is_empty() && raw.schedule.is_empty() && raw.cluster.is_none());
    }

    #[test]
    fn unknown_key_names_file_line_column_and_key() {
        let e = parse_err("[server]\nlisten = \"127.0.0.1:8080\"\n\n\ntimout = \"5s\"\n");
        assert!(
            e.starts_with(
                "preload.toml:5:1: key `server.timout`: unknown field `timout`, expected one of"
            ),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1);
    }

    #[test]
    fn unknown_section_is_an_error() {
        let e = parse_err("[srever]\nlisten = \"x\"\n");
        assert!(
            e.starts_with("preload.toml:1:2: key `srever`: unknown field `srever`"),
            "{e}"
        );
    }

    #[test]
    fn bad_value_names_its_key() {
        let e = parse_err("[cache]\nmax_size = \"10 parsecs\"\n");
        assert!(
            e.starts_with("preload.toml:2:12: key `cache.max_size`: invalid size"),
            "{e}"
        );
        let e = parse_err("[cache]\non_write_error = \"ignore\"\n");
        assert!(
            e.contains(
                "key `cache.on_write_error`: unknown variant `ignore`, expected `serve` or `fail`"
            ),
            "{e}"
        );
    }

    #[test]
    fn missing_route_match_names_the_field() {
        let e = parse_err("[[route]]\nmatch = \"/a\"\n\n[[route]]\ntags = [\"x\"]\n");
        assert_eq!(
            e,
            "preload.toml:4:1: key `route.match`: missing field `match`"
        );
    }

    #[test]
    fn a_syntax_error_toml_leaves_unexplained_still_has_a_message() {
        assert_eq!(
            parse_err("\r a = 1\n"),
            "preload.toml:1:1: invalid TOML syntax"
        );
    }

    #[test]
    fn syntax_errors_are_one_line() {
        let e = parse_err("[server]\nlisten = \"127.0.0.1:8080\n");
        assert!(e.starts_with("preload.toml:2:"), "{e}");
        let e = parse_err("[server]\naccess_log = true\n[server]\n");
        assert!(e.starts_with("preload.toml:3:"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}
