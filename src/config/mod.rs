//! Configuration: `preload.toml` in, one validated [`Config`] out.
//!
//! `file.rs` holds the strict TOML shape and the defaults (unknown keys are
//! errors, every error keeps its line and column); `units.rs`, `net.rs` and
//! `matchers.rs` the value newtypes that validate inside their
//! deserializers (durations, sizes, cron expressions, time zones, addresses,
//! the upstream URL, header names, route matchers, globs); `validate.rs` the
//! checks that need more than one value, with `routing.rs` (request paths
//! and routes), `checks.rs` (the one-value checks they share), `token.rs`
//! (where the token comes from) and `cluster.rs`; `position.rs` turns spans into
//! `FILE:LINE:COL: key` lines; `render.rs` prints the effective config for
//! `preloadd check`. [`load`] is the one loader that `run`, `check` and
//! reload share; nothing downstream re-parses a string from the file.

mod checks;
mod cluster;
mod file;
mod matchers;
mod net;
mod position;
mod render;
mod routing;
mod token;
mod units;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::HeaderName;

pub use matchers::{Glob, RouteMatch};
pub use position::Place;
pub use units::{CronSchedule, Timezone};

/// Where the admin endpoints live on every listener: no preload prefix or
/// webhook path may lie under it.
pub const ADMIN_PREFIX: &str = "/_preloadd/";

/// The validated, typed configuration the daemon runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was loaded from (for reload and messages).
    pub source: PathBuf,
    pub server: Server,
    pub upstream: Upstream,
    pub cache: Cache,
    pub preload: Preload,
    pub routes: Vec<Route>,
    pub invalidate: Invalidate,
    pub schedules: Vec<Schedule>,
    pub cluster: Option<Cluster>,
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: Vec<SocketAddr>,
    /// `None` when `admin_listen = ""`.
    pub admin_listen: Option<SocketAddr>,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub access_log: bool,
}

#[derive(Debug, Clone)]
pub struct Upstream {
    /// `scheme://authority` of the app, without a trailing slash or path.
    pub url: http::Uri,
    /// Host header sent on snapshot fetches.
    pub host: String,
    pub connect_timeout: Duration,
    pub fetch_timeout: Duration,
    pub max_fetches: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnWriteError {
    /// Pass the fetched page on (PASS, reason `write-error`).
    Serve,
    /// Answer 503.
    Fail,
}

#[derive(Debug, Clone)]
pub struct Cache {
    pub dir: PathBuf,
    /// Where `dir` is written, for a directory found unusable at start.
    pub dir_place: Place,
    pub max_size: u64,
    pub max_object_size: u64,
    pub statuses: Vec<u16>,
    pub strip_set_cookie: bool,
    pub on_write_error: OnWriteError,
    pub grace: Duration,
    /// Bytes of hot snapshot bodies kept in memory; 0 disables.
    pub memory: u64,
    pub compress: bool,
}

#[derive(Debug, Clone)]
pub struct Preload {
    /// Starts with "/", no trailing "/" (e.g. "/_preload").
    pub prefix: String,
    pub sort_query: bool,
    pub ignore_query: Vec<Glob>,
    pub tags_header: HeaderName,
    /// More tags on one page (route's and app's): PASS, `too-many-tags`.
    pub max_tags: usize,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub matcher: RouteMatch,
    pub snapshot: bool,
    pub tags: Vec<String>,
    pub ttl: Option<Duration>,
    /// Lower-case header names, in config order.
    pub vary: Vec<HeaderName>,
}

#[derive(Debug, Clone)]
pub struct Invalidate {
    pub path: String,
    /// From `token`, `token_file` or `$PRELOADD_TOKEN` (the environment wins).
    pub token: Option<String>,
    pub models: Vec<String>,
    pub daily: bool,
    pub timezone: Timezone,
    pub rewarm: bool,
    pub rewarm_concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub cron: CronSchedule,
    pub all: bool,
    pub tags: Vec<String>,
    pub prefixes: Vec<String>,
    pub urls: Vec<String>,
    pub soft: bool,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub redis: String,
    pub stream: String,
    pub node: String,
    pub max_len: u64,
}

/// A configuration that cannot be used. Its `Display` is the one line (or
/// lines, one per problem) the operator sees, naming file, line, column and
/// key where the problem sits in the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more problems, each already formatted as
    /// `FILE:LINE:COL: key `a.b`: message`.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

impl Config {
    /// The route a request path matches (first match wins).
    pub fn route_for(&self, path: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.matcher.matches(path))
    }

    /// A problem found after loading (the cache dir cannot be created),
    /// reported as the loader reports the file's own: at `place`, under
    /// `key`.
    pub fn problem(&self, place: &Place, key: &str, message: &str) -> ConfigError {
        ConfigError::Invalid(vec![place.line(&self.source, key, message)])
    }
}

/// Reads, parses and validates the file at `path`. The environment
/// (`PRELOADD_TOKEN`) is consulted here and nowhere else.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let env_token = std::env::var("PRELOADD_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    from_str(path, &text, env_token)
}

/// Parses and validates config text; `path` is only used in messages and to
/// resolve relative paths (`token_file`, `cache.dir` stay as written).
pub fn from_str(path: &Path, text: &str, env_token: Option<String>) -> Result<Config, ConfigError> {
    let raw = file::parse(path, text)?;
    validate::build(path, text, raw, env_token)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod render_tests;
