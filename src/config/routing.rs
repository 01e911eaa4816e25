//! `[preload]`, `[[route]]`, `[invalidate]` and `[[schedule]]`: the request
//! paths the daemon claims for itself (the preload prefix, the webhook path),
//! how routes match and key pages (a match used twice, `vary`, `tags`), and
//! what a schedule drops. Every configured path is checked with
//! `path_problem` (`matchers.rs`), the rule route matchers use too, so that
//! a path that could never match a request is refused at its line.

use std::path::Path;

use http::HeaderName;
use toml::Spanned;

use super::checks::{count, non_empty, positive};
use super::file::{RawInvalidate, RawPreload, RawRoute, RawSchedule};
use super::matchers::path_problem;
use super::position::{line_col, Problems};
use super::{Invalidate, Preload, Route, Schedule, ADMIN_PREFIX};

pub(super) fn preload(p: &mut Problems<'_>, raw: RawPreload) -> Preload {
    let written = raw.prefix.get_ref();
    // "/_preload/" and "/_preload" mean the same; keep the form without the
    // slash, since preload requests are `prefix + "/" + target`.
    let prefix = written.trim_end_matches('/').to_string();
    let span = raw.prefix.span();
    if let Some(why) = path_problem(written) {
        p.at(span, "preload.prefix", format!("{written:?} {why}"));
    } else if prefix.is_empty() {
        p.at(span, "preload.prefix", "must not be \"/\": every request would be a preload request; the default is \"/_preload\"");
    } else if format!("{prefix}/").starts_with(ADMIN_PREFIX) {
        p.at(
            span,
            "preload.prefix",
            format!("{written:?} collides with the admin endpoints under {ADMIN_PREFIX}"),
        );
    }
    Preload {
        prefix,
        sort_query: raw.sort_query,
        ignore_query: raw.ignore_query,
        tags_header: raw.tags_header.0,
        max_tags: count(p, &raw.max_tags, "preload.max_tags"),
    }
}

/// Headers a route cannot vary on, with the reason.
fn vary_problem(name: &HeaderName) -> Option<&'static str> {
    match name.as_str() {
        "cookie" | "authorization" | "proxy-authorization" => Some("snapshot fetches are anonymous: a snapshot per value of this header would keep one visitor's personal page"),
        "host" => Some("the Host of snapshot fetches is `upstream.host`"),
        "connection" | "keep-alive" | "te" | "trailer" | "transfer-encoding" | "upgrade"
        | "content-length" => Some("a hop-by-hop or framing header is never forwarded"),
        _ => None,
    }
}

pub(super) fn routes(
    p: &mut Problems<'_>,
    text: &str,
    raw: Vec<RawRoute>,
    max_tags: usize,
) -> Vec<Route> {
    let mut routes: Vec<Route> = Vec::new();
    let mut starts = Vec::new();
    for r in raw {
        let span = r.matcher.span();
        let matcher = r.matcher.into_inner();
        if let Some(first) = routes.iter().position(|x| x.matcher == matcher) {
            let (line, _) = line_col(text, starts[first]);
            p.at(span.clone(), "route.match", format!("same match as the route on line {line}, which wins (the first match wins); this one is never used"));
        }
        let vary = r
            .vary
            .into_iter()
            .map(|h| {
                if let Some(why) = vary_problem(&h.get_ref().0) {
                    p.at(
                        h.span(),
                        "route.vary",
                        format!("`{}`: {why}", h.get_ref().0),
                    );
                }
                h.into_inner().0
            })
            .collect();
        if let Some(extra) = r.tags.get(max_tags) {
            let why = format!("more than `preload.max_tags` ({max_tags}): every page of the route would pass with reason too-many-tags");
            p.at(extra.span(), "route.tags", why);
        }
        routes.push(Route {
            matcher,
            snapshot: r.snapshot,
            tags: non_empty(p, r.tags, "route.tags"),
            ttl: r.ttl.map(|t| positive(p, &t, "route.ttl")),
            vary,
        });
        starts.push(span.start);
    }
    routes
}

pub(super) fn invalidate(
    p: &mut Problems<'_>,
    raw: RawInvalidate,
    prefix: &str,
    env_token: Option<String>,
    base: &Path,
) -> Invalidate {
    let path = raw.path.get_ref().clone();
    if let Some(why) = path_problem(&path) {
        p.at(
            raw.path.span(),
            "invalidate.path",
            format!("{path:?} {why}"),
        );
    } else if !prefix.is_empty() && path.starts_with(&format!("{prefix}/")) {
        p.at(raw.path.span(), "invalidate.path", format!("{path:?} is under `preload.prefix` ({prefix:?}), where it would be taken for a preload request"));
    }
    Invalidate {
        path,
        token: super::token::resolve(p, raw.token, raw.token_file, env_token, base),
        models: non_empty(p, raw.models, "invalidate.models"),
        daily: raw.daily,
        timezone: raw.timezone,
        rewarm: raw.rewarm,
        rewarm_concurrency: count(p, &raw.rewarm_concurrency, "invalidate.rewarm_concurrency"),
    }
}

pub(super) fn schedule(p: &mut Problems<'_>, raw: RawSchedule) -> Schedule {
    if !raw.all && raw.tags.is_empty() && raw.prefixes.is_empty() && raw.urls.is_empty() {
        p.at(
            raw.cron.span(),
            "schedule",
            "names nothing to drop: set `all = true` or any of `tags`, `prefixes`, `urls`",
        );
    }
    for prefix in &raw.prefixes {
        if let Some(why) = path_problem(prefix.get_ref()) {
            p.at(
                prefix.span(),
                "schedule.prefixes",
                format!("{:?} {why}", prefix.get_ref()),
            );
        }
    }
    for url in &raw.urls {
        if !url.get_ref().starts_with('/') {
            p.at(
                url.span(),
                "schedule.urls",
                format!(
                    "{:?} must be a target starting with \"/\", like \"/events/?page=2\"",
                    url.get_ref()
                ),
            );
        }
    }
    Schedule {
        cron: raw.cron.into_inner(),
        all: raw.all,
        tags: non_empty(p, raw.tags, "schedule.tags"),
        prefixes: raw.prefixes.into_iter().map(Spanned::into_inner).collect(),
        urls: raw.urls.into_iter().map(Spanned::into_inner).collect(),
        soft: raw.soft,
    }
}
