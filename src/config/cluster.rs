//! `[cluster]` checks and the default node name. Only the settings are
//! checked here; nothing connects to Redis while a config is loaded.

use super::checks::at_least_one;
use super::file::RawCluster;
use super::position::Problems;
use super::Cluster;

pub(crate) fn build(p: &mut Problems<'_>, raw: RawCluster) -> Option<Cluster> {
    let redis = raw.redis?;
    let url = redis.get_ref();
    if url.starts_with("rediss://") {
        p.at(
            redis.span(),
            "cluster.redis",
            "TLS to Redis is not supported yet; use redis:// on a trusted network",
        );
    } else if !matches!(url.strip_prefix("redis://"), Some(rest) if !rest.is_empty()) {
        p.at(
            redis.span(),
            "cluster.redis",
            format!("{url:?} is not a Redis URL; write it like \"redis://127.0.0.1:6379/0\""),
        );
    }
    if raw.stream.get_ref().trim().is_empty() {
        p.at(raw.stream.span(), "cluster.stream", "must not be empty");
    }
    let node = match raw.node {
        Some(n) => {
            if n.get_ref().is_empty()
                || n.get_ref()
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                p.at(
                    n.span(),
                    "cluster.node",
                    "must be a non-empty name without spaces",
                );
            }
            n.into_inner()
        }
        None => host_name(),
    };
    Some(Cluster {
        redis: redis.into_inner(),
        stream: raw.stream.into_inner(),
        node,
        max_len: at_least_one(p, &raw.max_len, "cluster.max_len"),
    })
}

/// The default node name: the host name, so that logs and metrics of a
/// cluster tell the machines apart without configuration.
fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_else(|| "preloadd".to_string())
}
