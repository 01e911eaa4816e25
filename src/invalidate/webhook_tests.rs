//! Webhook bodies, one behaviour per test: each selector in JSON and in
//! form encoding, the spellings of urls, and every 400.

use super::*;
use crate::config::Glob;

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn with_rules<T>(f: impl FnOnce(&WebhookRules<'_>) -> T) -> T {
    let ignore = [Glob("utm_*".into())];
    let models = ["app.Model1".to_string()];
    let rules = WebhookRules {
        preload_prefix: "/_preload",
        query: QueryRules {
            sort_query: true,
            ignore_query: &ignore,
        },
        models: &models,
    };
    f(&rules)
}

fn ok(content_type: Option<&str>, body: &str) -> Selector {
    with_rules(|rules| match parse(content_type, body.as_bytes(), rules) {
        Ok(s) => s,
        Err(e) => panic!("{body:?} should parse: {e}"),
    })
}

fn err(content_type: Option<&str>, body: &str) -> BodyError {
    with_rules(|rules| match parse(content_type, body.as_bytes(), rules) {
        Ok(s) => panic!("{body:?} should be refused, got {s:?}"),
        Err(e) => e,
    })
}

fn tags(t: &[&str]) -> Selector {
    Selector {
        tags: t.iter().map(|s| s.to_string()).collect(),
        ..Selector::default()
    }
}

#[test]
fn json_tags_list_or_null() {
    assert_eq!(ok(JSON, r#"{"tags": ["a", "b"]}"#), tags(&["a", "b"]));
    assert_eq!(ok(JSON, r#"{"tags": ["a"], "urls": null}"#), tags(&["a"]));
}

#[test]
fn form_tags_singular_plural_and_brackets() {
    assert_eq!(ok(FORM, "tag=a&tags=b&tag%5B%5D=c"), tags(&["a", "b", "c"]));
}

#[test]
fn models_are_tags() {
    assert_eq!(
        ok(JSON, r#"{"models": ["events.Event"]}"#),
        tags(&["events.Event"])
    );
    assert_eq!(
        ok(FORM, "model=events.Event&tag=x"),
        tags(&["x", "events.Event"])
    );
}

#[test]
fn an_invalidating_model_drops_everything() {
    let s = ok(JSON, r#"{"models": ["app.Model1"]}"#);
    assert!(s.all);
    assert!(ok(FORM, "tag=app.Model1").all);
    assert!(!ok(FORM, "tag=app.model1").all, "exact names, as tags");
}

#[test]
fn tags_are_trimmed_blanks_ignored_duplicates_merged() {
    assert_eq!(
        ok(JSON, r#"{"tags": [" a ", "", "a", "  "], "models": ["a"]}"#),
        tags(&["a"])
    );
}

#[test]
fn only_tag_separators_are_trimmed_from_names() {
    // A page's tag may start with an ideographic space; a name ends at a
    // tab or a comma as it does in the tags header.
    assert_eq!(
        ok(JSON, r#"{"tags": ["\u3000caf\u00e9", "\tb,"]}"#),
        tags(&["\u{3000}café", "b"])
    );
}

#[test]
fn all_in_json_and_form() {
    assert!(ok(JSON, r#"{"all": true}"#).all);
    for body in ["all=1", "all=true", "all=on", "all=TRUE"] {
        assert!(ok(FORM, body).all, "{body}");
    }
}

#[test]
fn soft_in_json_and_form() {
    let s = ok(JSON, r#"{"tags": ["a"], "soft": true}"#);
    assert!(s.soft && !s.all);
    assert!(ok(FORM, "tag=a&soft=1").soft);
    assert!(!ok(FORM, "tag=a&soft=0").soft);
    assert!(!ok(FORM, "tag=a&soft=").soft);
}

#[test]
fn urls_are_canonicalized() {
    let s = ok(JSON, r#"{"urls": ["/events/?page=2&utm_source=x&a=%7e"]}"#);
    assert_eq!(s.urls, ["/events/?a=~&page=2"]);
    let s = ok(FORM, "url=%2Fevents%2F%3Fpage%3D2&urls=/news/");
    assert_eq!(s.urls, ["/events/?page=2", "/news/"]);
}

#[test]
fn preload_urls_lose_the_prefix() {
    let s = ok(
        JSON,
        r#"{"urls": ["/_preload/events/?page=2", "/_preload/"]}"#,
    );
    assert_eq!(s.urls, ["/events/?page=2", "/"]);
    // Only `prefix + "/"` is preload form.
    assert_eq!(
        ok(JSON, r#"{"urls": ["/_preloadx/"]}"#).urls,
        ["/_preloadx/"]
    );
}

#[test]
fn absolute_urls_give_path_and_query() {
    let s = ok(
        JSON,
        r#"{"urls": ["https://www.example.org/events/?page=2#top", "HTTP://example.org", "http://h?x=1", "https://h/_preload/a/"]}"#,
    );
    assert_eq!(s.urls, ["/events/?page=2", "/", "/?x=1", "/a/"]);
}

#[test]
fn non_ascii_urls_are_encoded_as_a_browser_would() {
    assert_eq!(
        ok(JSON, r#"{"urls": ["/café/?q=a b"]}"#).urls,
        ["/caf%C3%A9/?q=a%20b"]
    );
}

#[test]
fn invalid_url_is_refused_by_name() {
    for bad in ["/a/../b", "events/", "//evil.com/", "/%zz", "ftp://h/x"] {
        let e = err(JSON, &format!(r#"{{"urls": ["/ok/", {bad:?}]}}"#));
        assert!(
            matches!(e, BodyError::Url { ref url, .. } if url == bad),
            "{bad}: {e}"
        );
        assert!(e.to_string().contains(bad), "{e}");
    }
}

#[test]
fn prefixes_in_json_and_form() {
    assert_eq!(
        ok(JSON, r#"{"prefixes": ["/events/"]}"#).prefixes,
        ["/events/"]
    );
    assert_eq!(
        ok(FORM, "prefix=/events/&prefixes=%2Fnews").prefixes,
        ["/events/", "/news"]
    );
}

#[test]
fn preload_form_prefix_is_stripped() {
    assert_eq!(
        ok(JSON, r#"{"prefixes": ["/_preload/events/", "/_preload/"]}"#).prefixes,
        ["/events/", "/"]
    );
}

#[test]
fn prefix_must_start_with_a_slash() {
    let e = err(JSON, r#"{"prefixes": ["events/"]}"#);
    assert!(
        matches!(
            e,
            BodyError::Prefix {
                reason: PrefixError::NoSlash,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        r#"invalid prefix "events/": must start with "/""#
    );
    let e = err(FORM, "prefix=/a%3Fb");
    assert!(
        matches!(
            e,
            BodyError::Prefix {
                reason: PrefixError::Query,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn unknown_json_field_is_named() {
    let e = err(JSON, r#"{"tag": ["a"]}"#);
    assert_eq!(
        e.to_string(),
        "unknown field `tag`: expected tags, models, urls, prefixes, all or soft"
    );
}

#[test]
fn unknown_form_field_is_named() {
    let e = err(FORM, "tag=a&everything=1");
    assert_eq!(
        e.to_string(),
        "unknown field `everything`: expected tag, model, url, prefix, all or soft"
    );
}

#[test]
fn an_unknown_field_name_is_escaped_into_one_line() {
    let form = err(FORM, "tag%0A=a").to_string();
    assert_eq!(
        form,
        "unknown field `tag\\n`: expected tag, model, url, prefix, all or soft"
    );
    let json = err(JSON, "{\"a\\r\\nb\": []}").to_string();
    assert!(json.starts_with("unknown field `a\\r\\nb`"), "{json}");
}

#[test]
fn malformed_json_is_refused() {
    for body in [
        r#"{"tags": ["a"]"#,
        "{tags: 1}",
        "{} x",
        r#"{"tags": ["a"]} {"#,
    ] {
        assert!(matches!(err(JSON, body), BodyError::Json(_)), "{body}");
    }
    for body in [r#"["a"]"#, "\"a\"", "1"] {
        let e = err(JSON, body);
        assert!(matches!(e, BodyError::NotObject), "{body}");
        assert_eq!(
            e.to_string(),
            r#"invalid JSON body: expected an object like {"tags": ["..."]}"#
        );
    }
}

#[test]
fn wrong_types_are_refused_naming_the_field() {
    for (body, message) in [
        (
            r#"{"tags": "events.Event"}"#,
            "`tags` must be a list of strings, not a string",
        ),
        (
            r#"{"models": "a.B"}"#,
            "`models` must be a list of strings, not a string",
        ),
        (
            r#"{"urls": "/a"}"#,
            "`urls` must be a list of strings, not a string",
        ),
        (
            r#"{"prefixes": "/a/"}"#,
            "`prefixes` must be a list of strings, not a string",
        ),
        (
            r#"{"tags": 1}"#,
            "`tags` must be a list of strings, not a number",
        ),
        (
            r#"{"tags": {"a": 1}}"#,
            "`tags` must be a list of strings, not an object",
        ),
        (
            r#"{"urls": ["/a", 2]}"#,
            "`urls[1]` must be a string, not a number",
        ),
        (
            r#"{"tags": ["a", ["b"]]}"#,
            "`tags[1]` must be a string, not a list",
        ),
        (
            r#"{"tags": [null]}"#,
            "`tags[0]` must be a string, not null",
        ),
        (
            r#"{"tags": ["a"], "all": "yes"}"#,
            "`all` must be true or false, not a string",
        ),
        (r#"{"all": 1}"#, "`all` must be true or false, not a number"),
        (
            r#"{"tags": ["a"], "soft": "true"}"#,
            "`soft` must be true or false, not a string",
        ),
        (
            r#"{"tags": ["a"], "soft": null}"#,
            "`soft` must be true or false, not null",
        ),
    ] {
        let e = err(JSON, body);
        assert!(matches!(e, BodyError::Type { .. }), "{body}: {e}");
        assert_eq!(e.to_string(), message, "{body}");
    }
    let e = err(FORM, "all=maybe");
    assert_eq!(
        e.to_string(),
        r#"`all` must be 1, true, 0 or false, not "maybe""#
    );
}

#[test]
fn empty_or_naming_nothing_is_refused() {
    for (ct, body) in [
        (JSON, ""),
        (JSON, "  \n"),
        (JSON, "{}"),
        (JSON, r#"{"tags": [], "all": false, "soft": true}"#),
        (JSON, r#"{"tags": null, "urls": ["", " "]}"#),
        (FORM, ""),
        (FORM, "tag=&soft=1"),
        (None, ""),
    ] {
        let e = err(ct, body);
        assert!(matches!(e, BodyError::Empty), "{body:?}: {e}");
        assert_eq!(
            e.to_string(),
            "nothing to invalidate: name tags, models, urls, prefixes or all"
        );
    }
}

#[test]
fn content_type_picks_the_parser_and_parameters_are_ignored() {
    assert_eq!(
        ok(
            Some("Application/JSON; charset=utf-8"),
            r#"{"tags": ["a"]}"#
        ),
        tags(&["a"])
    );
    assert_eq!(
        ok(Some("application/vnd.app+json"), r#"{"tags": ["a"]}"#),
        tags(&["a"])
    );
    assert_eq!(
        ok(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            "tag=a"
        ),
        tags(&["a"])
    );
    let e = err(Some("text/plain"), "tag=a");
    assert!(
        matches!(e, BodyError::ContentType(ref t) if t == "text/plain"),
        "{e}"
    );
}

#[test]
fn without_content_type_json_is_sniffed() {
    assert_eq!(ok(None, r#" {"tags": ["a"]}"#), tags(&["a"]));
    assert_eq!(ok(None, "tag=a"), tags(&["a"]));
    assert_eq!(ok(Some(""), "tag=a"), tags(&["a"]));
}

#[test]
fn form_decoding_plus_and_percent() {
    assert_eq!(
        ok(FORM, "tag=a+b&tag=c%2Bd&tag=100%&tag=%e2%82%ac"),
        tags(&["a b", "c+d", "100%", "€"])
    );
    assert!(matches!(err(FORM, "tag=%FF"), BodyError::NotUtf8));
}

#[test]
fn long_lists_keep_their_first_order_once_each() {
    let urls: Vec<String> = (0..30_000)
        .map(|i| format!("\"/p/{}\"", i % 20_000))
        .collect();
    let body = format!("{{\"urls\": [{}]}}", urls.join(","));
    let s = ok(JSON, &body);
    assert_eq!(s.urls.len(), 20_000);
    assert_eq!(s.urls[0], "/p/0");
    assert_eq!(s.urls[19_999], "/p/19999");
}
