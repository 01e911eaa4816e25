//! What a reload changes: every key of the config, whether a new value
//! takes effect at once (`Live`) or only at the next start (`Restart`),
//! and the comparison of two configs by those keys.
//!
//! A key is `Restart` when the daemon used it to build something that
//! cannot be rebuilt under running connections: the sockets (`listen`,
//! `admin_listen`), each listener's connection bound and HTTP settings
//! (`max_connections`, `header_timeout`), the store (`cache.dir`, and
//! `max_size` / `memory`, which the store's eviction and hot set were sized
//! by), and `[cluster]`. Their running values are copied into the new
//! config ([`keep_running`]), so that `app.config()` always says what is
//! in force. Every other key is read where it is used, per request or per
//! fetch, so the swap alone applies it; `max_fetches` and
//! `connect_timeout` are pushed into the fetcher and the connector, and
//! the schedules re-arm on the swap (`invalidate::runner`).
//!
//! docs/operations.md ("Reload") has the same table for operators; the test
//! below keeps this one and [`keep_running`] in step.

use crate::config::Config;

/// When a changed key takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applies {
    /// With the swap: requests and fetches begun after it use the new value.
    Live,
    /// At the next start; until then the running value stays.
    Restart,
}

struct Key {
    name: &'static str,
    applies: Applies,
    /// The value, compared as text (`Debug`): the config's types need no
    /// `PartialEq` for this, and it is compared in memory only, never
    /// logged (the token is one of the values).
    value: fn(&Config) -> String,
}

macro_rules! key {
    ($name:literal, $applies:ident, $($field:tt).+) => {
        Key {
            name: $name,
            applies: Applies::$applies,
            value: |c: &Config| format!("{:?}", c.$($field).+),
        }
    };
}

/// Every key of `preload.toml`, in the order of docs/configuration.md.
/// `[[route]]` and `[[schedule]]` count as one key each, as does
/// `[cluster]`.
const KEYS: &[Key] = &[
    key!("server.listen", Restart, server.listen),
    key!("server.admin_listen", Restart, server.admin_listen),
    key!("server.max_connections", Restart, server.max_connections),
    key!("server.header_timeout", Restart, server.header_timeout),
    key!("server.shutdown_timeout", Live, server.shutdown_timeout),
    key!("server.access_log", Live, server.access_log),
    key!("upstream.url", Live, upstream.url),
    key!("upstream.host", Live, upstream.host),
    key!("upstream.connect_timeout", Live, upstream.connect_timeout),
    key!("upstream.fetch_timeout", Live, upstream.fetch_timeout),
    key!("upstream.max_fetches", Live, upstream.max_fetches),
    key!("cache.dir", Restart, cache.dir),
    key!("cache.max_size", Restart, cache.max_size),
    key!("cache.max_object_size", Live, cache.max_object_size),
    key!("cache.statuses", Live, cache.statuses),
    key!("cache.strip_set_cookie", Live, cache.strip_set_cookie),
    key!("cache.on_write_error", Live, cache.on_write_error),
    key!("cache.grace", Live, cache.grace),
    key!("cache.memory", Restart, cache.memory),
    key!("cache.compress", Live, cache.compress),
    key!("preload.prefix", Live, preload.prefix),
    key!("preload.sort_query", Live, preload.sort_query),
    key!("preload.ignore_query", Live, preload.ignore_query),
    key!("preload.tags_header", Live, preload.tags_header),
    key!("preload.max_tags", Live, preload.max_tags),
    key!("routes", Live, routes),
    key!("invalidate.path", Live, invalidate.path),
    key!("invalidate.token", Live, invalidate.token),
    key!("invalidate.models", Live, invalidate.models),
    key!("invalidate.daily", Live, invalidate.daily),
    key!("invalidate.timezone", Live, invalidate.timezone),
    key!("invalidate.rewarm", Live, invalidate.rewarm),
    key!(
        "invalidate.rewarm_concurrency",
        Live,
        invalidate.rewarm_concurrency
    ),
    key!("schedules", Live, schedules),
    key!("cluster", Restart, cluster),
];

/// What a reload found changed, by key name in file order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Keys whose new value is in force from the swap on.
    pub applied: Vec<&'static str>,
    /// Keys changed in the file that keep their running value until a
    /// restart.
    pub need_restart: Vec<&'static str>,
}

impl Changes {
    /// Nothing changed (the file was saved as it was).
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty() && self.need_restart.is_empty()
    }
}

/// The keys whose value differs between `running` and `new`.
pub fn compare(running: &Config, new: &Config) -> Changes {
    let mut changes = Changes::default();
    for key in KEYS {
        if (key.value)(running) != (key.value)(new) {
            match key.applies {
                Applies::Live => changes.applied.push(key.name),
                Applies::Restart => changes.need_restart.push(key.name),
            }
        }
    }
    changes
}

/// Copies every `Restart` key's running value into `new`: a reload never
/// makes the config say something the daemon does not do.
pub fn keep_running(running: &Config, new: &mut Config) {
    new.server.listen = running.server.listen.clone();
    new.server.admin_listen = running.server.admin_listen;
    new.server.max_connections = running.server.max_connections;
    new.server.header_timeout = running.server.header_timeout;
    new.cache.dir = running.cache.dir.clone();
    new.cache.dir_place = running.cache.dir_place.clone();
    new.cache.max_size = running.cache.max_size;
    new.cache.memory = running.cache.memory;
    new.cluster = running.cluster.clone();
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn load(text: &str) -> Config {
        crate::config::from_str(Path::new("preload.toml"), text, None).expect("config loads")
    }

    /// Every key set to something other than its default.
    const EVERY_KEY_CHANGED: &str = r#"
[server]
listen = "127.0.0.1:9080"
admin_listen = "127.0.0.1:9081"
max_connections = 7
header_timeout = "3s"
shutdown_timeout = "4s"
access_log = true

[upstream]
url = "http://127.0.0.1:9000"
host = "www.example.org"
connect_timeout = "1s"
fetch_timeout = "9s"
max_fetches = 3

[cache]
dir = "/tmp/other-cache"
max_size = "2GiB"
max_object_size = "1MiB"
statuses = [200, 404]
strip_set_cookie = true
on_write_error = "fail"
grace = "5m"
memory = "1MiB"
compress = false

[preload]
prefix = "/_warm"
sort_query = false
ignore_query = ["utm_*"]
tags_header = "X-Tags"
max_tags = 10

[[route]]
match = "/events/*"
tags = ["events"]

[invalidate]
path = "/_purge"
token = "s3cret"
models = ["m.Page"]
daily = true
timezone = "Europe/Paris"
rewarm = true
rewarm_concurrency = 2

[[schedule]]
cron = "0 30 4 * * *"
all = true

[cluster]
redis = "redis://127.0.0.1:6379/0"
"#;

    #[test]
    fn every_key_is_compared_and_the_restart_ones_keep_their_running_value() {
        let running = load("[upstream]\nurl = \"http://127.0.0.1:8000\"\n");
        let mut new = load(EVERY_KEY_CHANGED);
        let changes = compare(&running, &new);
        assert_eq!(
            changes.applied.len() + changes.need_restart.len(),
            KEYS.len(),
            "each key changed in the file is found changed: {changes:?}"
        );
        keep_running(&running, &mut new);
        let after = compare(&running, &new);
        assert!(
            after.need_restart.is_empty(),
            "keep_running keeps every Restart key: {after:?}"
        );
        assert_eq!(after.applied, changes.applied);
        assert_eq!(
            changes.need_restart,
            [
                "server.listen",
                "server.admin_listen",
                "server.max_connections",
                "server.header_timeout",
                "cache.dir",
                "cache.max_size",
                "cache.memory",
                "cluster"
            ]
        );
    }

    #[test]
    fn the_same_file_changes_nothing() {
        let a = load(EVERY_KEY_CHANGED);
        let b = load(EVERY_KEY_CHANGED);
        assert!(compare(&a, &b).is_empty());
    }

    #[test]
    fn a_route_tag_is_a_live_change_of_routes() {
        let up = "[upstream]\nurl = \"http://127.0.0.1:8000\"\n";
        let a = load(&format!(
            "{up}[[route]]\nmatch = \"/a/*\"\ntags = [\"x\"]\n"
        ));
        let b = load(&format!(
            "{up}[[route]]\nmatch = \"/a/*\"\ntags = [\"y\"]\n"
        ));
        let changes = compare(&a, &b);
        assert_eq!(changes.applied, ["routes"]);
        assert!(changes.need_restart.is_empty());
    }
}
