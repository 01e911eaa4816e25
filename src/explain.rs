//! `GET /_preloadd/explain?url=` and `preloadd explain URL`: for one
//! preload URL or target, everything that decides its fate, in one answer.
//!
//! The url goes through the same functions a visitor's request does: the
//! spelling rules of the webhook's `urls` ([`upstream_target`]), then
//! [`key::resolve`] with the headers of the explain request itself (so a
//! route's `vary` headers can be given, as a visitor would send them). The
//! snapshot is looked up in the index (an explanation neither reads the
//! body nor counts as a use), its state is [`crate::cached::freshness_of`] with
//! `[cache] grace`, and the last PASS comes from [`crate::passes`]. The
//! same report is built from a cache dir no daemon holds, without the PASS
//! record, which lives in the daemon's memory only.

use std::sync::Arc;
use std::time::SystemTime;

use http::header::HeaderMap;
use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::body::Body;
use crate::config::Config;
use crate::invalidate::webhook::upstream_target;
use crate::key::{self, Target, TargetError};
use crate::listing::{query_pairs, rfc3339, row, seconds_between, Row, State};
use crate::passes::Passes;
use crate::policy::PassReason;
use crate::respond::{json, Own};
use crate::state::App;
use crate::store::Catalog;

/// The answer, as JSON and as `preloadd explain` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explained {
    /// The url as given.
    pub url: String,
    /// The canonical upstream target: what is fetched.
    pub target: String,
    /// The key it is kept under (64 hex digits).
    pub key: String,
    pub preload_url: String,
    /// The `[[route]]` that matched, if one did.
    pub route: Option<RouteInfo>,
    /// The snapshot kept under the key, if there is one.
    pub snapshot: Option<Row>,
    /// Snapshots kept for the target, one per vary value (this key's
    /// included).
    pub kept_for_target: usize,
    /// What the next request for it gets.
    pub next_request: Next,
    /// The last fetch for the key that was not kept, since it was last kept.
    pub last_pass: Option<LastPassInfo>,
    /// False when no daemon answered: PASS records live in its memory.
    pub passes_known: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    /// Its place among the `[[route]]`s, from 0.
    pub index: usize,
    #[serde(rename = "match")]
    pub matcher: String,
    pub snapshot: bool,
    /// Its `ttl`, if any ("1h").
    pub ttl: Option<String>,
    pub tags: Vec<String>,
    /// Its `vary` headers with the values that made the key.
    pub vary: Vec<VaryValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaryValue {
    pub header: String,
    /// As received; `null` when absent (the key then has it empty).
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPassInfo {
    /// The `X-Preload-Reason` it was passed on with.
    pub reason: String,
    /// What that reason means, and what to change.
    pub why: String,
    pub at: String,
    /// Seconds ago.
    pub ago: u64,
}

/// What the next request for the url gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Next {
    /// HIT, from the snapshot.
    Hit,
    /// STALE, while one refetch runs.
    Stale,
    /// A fetch from the app: MISS if it is kept, PASS if not.
    Fetch,
}

/// `GET /_preloadd/explain?url=` (and HEAD).
pub async fn handle(app: &Arc<App>, req: &Request<hyper::body::Incoming>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Own::MethodNotAllowed("GET, HEAD").response();
    }
    let url = match url_param(req.uri().query()) {
        Ok(url) => url,
        Err(text) => return Own::BadQuery(text).response(),
    };
    let config = app.config_owned();
    let headers = req.headers().clone();
    let now = app.clock.now();
    let reader = Arc::clone(app);
    let explained = tokio::task::spawn_blocking(move || {
        explain(
            &config,
            &reader.store,
            Some(&reader.passes),
            &url,
            &headers,
            now,
        )
        .map_err(|e| format!("url {url:?}: {e}"))
    })
    .await;
    match explained {
        Ok(Ok(explained)) => json(StatusCode::OK, &serde_json::json!(explained)),
        Ok(Err(text)) => Own::BadQuery(text).response(),
        Err(err) => {
            tracing::error!(error = %err, "explain failed");
            Own::AdminFailed.response()
        }
    }
}

/// The one parameter, `url`, required.
fn url_param(query: Option<&str>) -> Result<String, String> {
    let mut url = None;
    for (name, value) in query_pairs(query)? {
        match name.as_str() {
            "url" => url = Some(value),
            other => return Err(format!("unknown parameter {other:?}: expected url")),
        }
    }
    url.filter(|u| !u.trim().is_empty())
        .map(|u| u.trim().to_string())
        .ok_or_else(|| "url: missing; e.g. /_preloadd/explain?url=/events/".to_string())
}

/// Explains `url`; a target the daemon would refuse is the error. Reads
/// the snapshot's header: call it where blocking is fine. `passes` is
/// `None` when no daemon's record is at hand.
pub fn explain(
    config: &Config,
    catalog: &impl Catalog,
    passes: Option<&Passes>,
    url: &str,
    headers: &HeaderMap,
    now: SystemTime,
) -> Result<Explained, TargetError> {
    let target = resolve(config, headers, url)?;
    let route = target.route.map(|index| {
        let r = &config.routes[index];
        RouteInfo {
            index,
            matcher: r.matcher.to_string(),
            snapshot: r.snapshot,
            ttl: r.ttl.map(|d| humantime::format_duration(d).to_string()),
            tags: r.tags.clone(),
            vary: r
                .vary
                .iter()
                .map(|name| VaryValue {
                    header: name.as_str().to_string(),
                    value: target
                        .vary
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                })
                .collect(),
        }
    });
    let grace = config.cache.grace;
    let snapshot = catalog
        .info(&target.key)
        .map(|info| row(&info, catalog.encodings(&info.key), now, grace));
    let next_request = match snapshot.as_ref().map(|s| s.state) {
        Some(State::Fresh) => Next::Hit,
        Some(State::Stale) => Next::Stale,
        Some(State::Expired) | None => Next::Fetch,
    };
    let last_pass = passes
        .and_then(|p| p.get(&target.key))
        .map(|last| LastPassInfo {
            reason: last.reason.as_str().to_string(),
            why: why(last.reason).to_string(),
            at: rfc3339(last.at),
            ago: seconds_between(last.at, now).max(0) as u64,
        });
    Ok(Explained {
        url: url.to_string(),
        preload_url: format!("{}{}", config.preload.prefix, target.canonical),
        kept_for_target: catalog.count_of_target(&target.canonical),
        key: target.key.to_hex(),
        target: target.canonical,
        route,
        snapshot,
        next_request,
        last_pass,
        passes_known: passes.is_some(),
    })
}

/// The target `url` names and its key, as a visitor's request with
/// `headers` would have them; the error says why the daemon refuses it.
pub fn resolve(config: &Config, headers: &HeaderMap, url: &str) -> Result<Target, TargetError> {
    let raw = upstream_target(url, &config.preload.prefix);
    if !raw.starts_with('/') {
        return Err(TargetError::Invalid(
            "not a path (start it with \"/\", or give an http:// or https:// URL)",
        ));
    }
    key::resolve(config, headers, &raw)
}

/// What a PASS reason means for the operator, and where to look.
pub fn why(reason: PassReason) -> &'static str {
    match reason {
        PassReason::Status => {
            "the app answered with a status not in [cache] statuses (by default only 200 is kept)"
        }
        PassReason::NoStore => {
            "the app sent Cache-Control: no-store (CDN-Cache-Control, when sent, decides instead)"
        }
        PassReason::NoCache => {
            "the app sent Cache-Control: no-cache (CDN-Cache-Control, when sent, decides instead)"
        }
        PassReason::Private => {
            "the app sent Cache-Control: private (CDN-Cache-Control, when sent, decides instead)"
        }
        PassReason::Vary => "the app sent Vary: *",
        PassReason::SetCookie => {
            "the app sent Set-Cookie (set [cache] strip_set_cookie = true to keep such pages without it)"
        }
        PassReason::TooLarge => "the body is larger than [cache] max_object_size",
        PassReason::TooManyTags => {
            "the app named more tags than [preload] max_tags, or a tags header over 64 KiB"
        }
        PassReason::BadTags => "the app named a tag that is not UTF-8",
        PassReason::WriteError => "the snapshot could not be written (see the daemon's log)",
        PassReason::Invalidated => {
            "an invalidation overtook the fetch; the next request fetches it again"
        }
    }
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
