//! From the raw shape to the typed [`Config`]: the checks a single value
//! cannot make on its own (ranges, paths that must not collide, a token the
//! admin listener needs, ...) and the conversions to the types the daemon
//! uses.
//!
//! Every problem is collected, one line each with file, line, column and
//! key, so an operator fixes a file in one pass. This file holds the one
//! [`build`], the listeners and the upstream, and the cache; the sections
//! about request paths and routes are in `routing.rs`, the checks of one
//! value they all share in `checks.rs`, and the token (`token.rs`) and
//! `[cluster]` (`cluster.rs`) have files of their own. `cache.dir` is
//! never created nor probed here, so that loading stays a pure reading of
//! the text (`url`, tests, reload): `run` and `check` probe it after
//! loading (`store::preflight`), and report at the place kept in
//! `Cache::dir_place`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use toml::Spanned;

use super::checks::{count, positive};
use super::file::{RawCache, RawConfig, RawServer, RawUpstream};
use super::position::{Place, Problems};
use super::routing::{invalidate, preload, routes, schedule};
use super::{Cache, Config, ConfigError, Server, Upstream};

pub(crate) fn build(
    path: &Path,
    text: &str,
    raw: RawConfig,
    env_token: Option<String>,
) -> Result<Config, ConfigError> {
    let mut p = Problems::new(path, text);
    let admin_span = raw.server.admin_listen.span();
    let server = server(&mut p, raw.server);
    let upstream = upstream(&mut p, raw.upstream, &server.listen);
    let cache = cache(&mut p, text, raw.cache);
    let preload = preload(&mut p, raw.preload);
    let routes = routes(&mut p, text, raw.route, preload.max_tags);
    let base = path.parent().unwrap_or(Path::new(""));
    let invalidate = invalidate(&mut p, raw.invalidate, &preload.prefix, env_token, base);
    let schedules = raw
        .schedule
        .into_iter()
        .map(|s| schedule(&mut p, s))
        .collect();
    let cluster = raw.cluster.and_then(|c| super::cluster::build(&mut p, c));

    if let Some(addr) = server.admin_listen {
        if !addr.ip().is_loopback() && invalidate.token.is_none() {
            p.at(admin_span.clone(), "server.admin_listen", format!("the admin listener on {addr} is reachable from other hosts and there is no token: set `[invalidate] token` or `token_file` (or $PRELOADD_TOKEN), or listen on 127.0.0.1"));
        }
        // Port 0 asks for any free port: never the same socket twice.
        if addr.port() != 0 && server.listen.contains(&addr) {
            p.at(
                admin_span,
                "server.admin_listen",
                format!(
                    "{addr} is also in `server.listen`; the admin listener needs its own address"
                ),
            );
        }
    }

    let problems = p.into_lines();
    match upstream {
        Some(upstream) if problems.is_empty() => Ok(Config {
            source: path.to_path_buf(),
            server,
            upstream,
            cache,
            preload,
            routes,
            invalidate,
            schedules,
            cluster,
        }),
        _ => Err(ConfigError::Invalid(problems)),
    }
}

fn server(p: &mut Problems<'_>, raw: RawServer) -> Server {
    let listen = raw.listen.get_ref().0.clone();
    for (i, addr) in listen.iter().enumerate() {
        if addr.port() != 0 && listen[..i].contains(addr) {
            p.at(
                raw.listen.span(),
                "server.listen",
                format!("{addr} is listed twice"),
            );
        }
    }
    Server {
        listen,
        admin_listen: raw.admin_listen.get_ref().0,
        max_connections: count(p, &raw.max_connections, "server.max_connections"),
        header_timeout: positive(p, &raw.header_timeout, "server.header_timeout"),
        shutdown_timeout: raw.shutdown_timeout.0,
        access_log: raw.access_log,
    }
}

fn upstream(
    p: &mut Problems<'_>,
    raw: Spanned<RawUpstream>,
    listen: &[SocketAddr],
) -> Option<Upstream> {
    let section = raw.span();
    let raw = raw.into_inner();
    let connect_timeout = positive(p, &raw.connect_timeout, "upstream.connect_timeout");
    let fetch_timeout = positive(p, &raw.fetch_timeout, "upstream.fetch_timeout");
    let max_fetches = count(p, &raw.max_fetches, "upstream.max_fetches");
    let Some(url) = raw.url else {
        p.at(
            section,
            "upstream.url",
            "required: the address of the app, like \"http://127.0.0.1:8000\"",
        );
        return None;
    };
    let span = url.span();
    let url = url.into_inner().0;
    let Some(authority) = url.authority().cloned() else {
        // `UpstreamUrl` guarantees one; still, never refuse without a line.
        p.at(span, "upstream.url", "has no host");
        return None;
    };
    // An upstream that is preloadd itself would send every miss around in
    // a loop until the fetch limit is reached.
    let ip = authority
        .host()
        .trim_matches(['[', ']'])
        .parse::<IpAddr>()
        .ok();
    let port = authority.port_u16().unwrap_or(80);
    if let Some(ip) = ip {
        let own = listen.iter().any(|l| {
            l.port() == port && (l.ip() == ip || (l.ip().is_unspecified() && ip.is_loopback()))
        });
        if own {
            p.at(span, "upstream.url", format!("{authority} is one of preloadd's own `server.listen` addresses; point it at the app"));
        }
    }
    Some(Upstream {
        host: raw.host.map_or_else(|| authority.to_string(), |h| h.0),
        url,
        connect_timeout,
        fetch_timeout,
        max_fetches,
    })
}

fn cache(p: &mut Problems<'_>, text: &str, raw: RawCache) -> Cache {
    if raw.dir.get_ref().as_os_str().is_empty() {
        p.at(
            raw.dir.span(),
            "cache.dir",
            "must not be empty; the default is \"./preload-cache\"",
        );
    }
    let max_size = raw.max_size.get_ref().0;
    if max_size == 0 {
        p.at(
            raw.max_size.span(),
            "cache.max_size",
            "must be more than 0, or nothing could be kept",
        );
    }
    let max_object_size = raw.max_object_size.get_ref().0;
    if max_object_size == 0 {
        p.at(
            raw.max_object_size.span(),
            "cache.max_object_size",
            "must be more than 0, or nothing could be kept",
        );
    } else if max_object_size > max_size && max_size > 0 && raw.max_object_size.span().end != 0 {
        // Written by the operator: say so. The default is lowered to fit.
        let (big, small) = (raw.max_object_size.get_ref(), raw.max_size.get_ref());
        p.at(
            raw.max_object_size.span(),
            "cache.max_object_size",
            format!("{big} is larger than `cache.max_size` ({small}); one snapshot could not fit"),
        );
    }
    let max_object_size = max_object_size.min(max_size);
    let statuses_span = raw.statuses.span();
    let raw_statuses = raw.statuses.into_inner();
    if raw_statuses.is_empty() {
        p.at(
            statuses_span,
            "cache.statuses",
            "must list at least one status, or nothing would be kept (e.g. [200])",
        );
    }
    let mut statuses = Vec::new();
    for s in raw_statuses {
        match u16::try_from(*s.get_ref()) {
            Ok(code @ 100..=599) => statuses.push(code),
            _ => p.at(
                s.span(),
                "cache.statuses",
                format!("{} is not an HTTP status (100 to 599)", s.get_ref()),
            ),
        }
    }
    Cache {
        dir_place: Place::of(text, raw.dir.span()),
        dir: raw.dir.into_inner(),
        max_size,
        max_object_size,
        statuses,
        strip_set_cookie: raw.strip_set_cookie,
        on_write_error: raw.on_write_error,
        grace: raw.grace.0,
        memory: raw.memory.0,
        compress: raw.compress,
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
