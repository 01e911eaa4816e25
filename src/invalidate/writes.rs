//! RFC 9111 §4.4: a successful unsafe request (POST, PUT, PATCH, DELETE, or
//! a method of unknown safety) on a snapshot route's own path drops that
//! target's snapshots, and those of its `Location` / `Content-Location`
//! when they name a path of the same site.

use http::header::{HeaderMap, CONTENT_LOCATION, HOST, LOCATION};
use http::{Method, StatusCode};

use crate::key::{canonical_target, QueryRules};

use super::selector::Selector;

/// Methods that never change what the app would serve.
pub fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The invalidation a passed-through unsafe request causes, if any: only a
/// 2xx or 3xx answer drops anything.
pub fn selector(
    target: &str,
    status: StatusCode,
    request: &HeaderMap,
    response: &HeaderMap,
    rules: QueryRules<'_>,
) -> Option<Selector> {
    if !(status.is_success() || status.is_redirection()) {
        return None;
    }
    let host = request.get(HOST).and_then(|h| h.to_str().ok());
    let mut urls: Vec<String> = Vec::new();
    let named = std::iter::once(Some(target.to_string())).chain(
        [LOCATION, CONTENT_LOCATION].iter().map(|name| {
            response
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| same_site_path(v, host))
        }),
    );
    for raw in named.flatten() {
        if let Ok(canonical) = canonical_target(&raw, rules) {
            if !urls.contains(&canonical) {
                urls.push(canonical);
            }
        }
    }
    (!urls.is_empty()).then(|| Selector {
        urls,
        ..Selector::default()
    })
}

/// The path and query of `value` when it names this site: an absolute
/// path, or an absolute URL whose authority is the request's Host.
fn same_site_path(value: &str, host: Option<&str>) -> Option<String> {
    if value.starts_with('/') && !value.starts_with("//") {
        return Some(value.split('#').next().unwrap_or(value).to_string());
    }
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))?;
    let (authority, path) = rest.split_at(rest.find('/')?);
    (Some(authority) == host).then(|| path.split('#').next().unwrap_or(path).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn rules() -> QueryRules<'static> {
        QueryRules {
            sort_query: true,
            ignore_query: &[],
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    http::HeaderName::from_static(n),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn success_drops_the_target_and_same_site_locations() {
        let req = headers(&[("host", "example.org")]);
        let res = headers(&[
            ("location", "http://example.org/events/2/?b=1&a=2"),
            ("content-location", "/events/"),
        ]);
        let sel = selector("/events/1/", StatusCode::FOUND, &req, &res, rules()).unwrap();
        assert_eq!(sel.urls, ["/events/1/", "/events/2/?a=2&b=1", "/events/"]);
        assert!(!sel.all && !sel.soft);
    }

    #[test]
    fn other_sites_and_errors_drop_nothing_more() {
        let req = headers(&[("host", "example.org")]);
        let res = headers(&[
            ("location", "https://elsewhere.net/x"),
            ("content-location", "//evil/x"),
        ]);
        let sel = selector("/a", StatusCode::OK, &req, &res, rules()).unwrap();
        assert_eq!(sel.urls, ["/a"]);
        assert!(selector("/a", StatusCode::BAD_REQUEST, &req, &res, rules()).is_none());
        assert!(selector("/a", StatusCode::INTERNAL_SERVER_ERROR, &req, &res, rules()).is_none());
    }

    #[test]
    fn safe_methods() {
        assert!(is_safe(&Method::GET) && is_safe(&Method::OPTIONS));
        assert!(!is_safe(&Method::POST) && !is_safe(&Method::from_bytes(b"M-SEARCH").unwrap()));
    }
}
