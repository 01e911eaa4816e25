//! Unit tests of `policy.rs`.
use super::*;
use http::HeaderValue;
use PassReason::*;

const RULES: KeepRules<'static> = KeepRules {
    statuses: &[200],
    strip_set_cookie: false,
};

/// Field lines written `name: value | name: value`; `cc` and `cdn` stand
/// for `Cache-Control` and `CDN-Cache-Control`.
fn headers(lines: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines.split(" | ") {
        let (name, value) = line.split_once(": ").expect("name: value");
        let name = match name {
            "cc" => "cache-control",
            "cdn" => "cdn-cache-control",
            other => other,
        };
        let name = HeaderName::from_bytes(name.as_bytes()).expect("test header name");
        map.append(
            name,
            HeaderValue::from_str(value).expect("test header value"),
        );
    }
    map
}

/// Each case: the app's headers on a 200, and the expected decision.
fn check(cases: &[(&str, Option<PassReason>)]) {
    for &(lines, expected) in cases {
        let got = pass_reason(StatusCode::OK, &headers(lines), RULES);
        assert_eq!(got, expected, "{lines}");
    }
}

#[test]
fn reasons_have_their_spec_names() {
    let names = PassReason::ALL.map(PassReason::as_str).join(" ");
    let spec = "status no-store no-cache private vary set-cookie too-large \
                too-many-tags bad-tags write-error invalidated";
    assert_eq!(names, spec);
}

#[test]
fn unlisted_status_passes_before_anything_else() {
    let h = headers("cc: no-store");
    assert_eq!(pass_reason(StatusCode::FOUND, &h, RULES), Some(Status));
    assert_eq!(pass_reason(StatusCode::OK, &HeaderMap::new(), RULES), None);
}

#[test]
fn cache_control_passes_no_store_then_no_cache_then_private() {
    check(&[
        ("cc: public, max-age=60", None),
        ("cc: no-store", Some(NoStore)),
        ("cc: No-Cache", Some(NoCache)),
        ("cc: PRIVATE, max-age=5", Some(Private)),
        ("cc: private, no-cache", Some(NoCache)),
        ("cc: private, no-cache | cc: no-store", Some(NoStore)),
        (r#"cc: no-cache="set-cookie""#, Some(NoCache)),
        (r#"cc: private = "x""#, Some(Private)),
        ("cc: no-storex, privately", None),
    ]);
}

#[test]
fn quoted_commas_in_cache_control_do_not_split() {
    check(&[
        (r#"cc: private="a, no-store", max-age=5"#, Some(Private)),
        (r#"cc: x="a\", no-store", public"#, None),
        (r#"cc: no-cache="a,b", no-store"#, Some(NoStore)),
    ]);
}

#[test]
fn cdn_cache_control_decides_alone_both_ways() {
    check(&[
        ("cc: no-store, private | cdn: max-age=60", None),
        ("cc: no-store | cdn: ", None),
        ("cc: public | cdn: no-store", Some(NoStore)),
        ("cc: public | cdn: no-cache", Some(NoCache)),
        (
            r#"cc: public | cdn: max-age=5, private="set-cookie""#,
            Some(Private),
        ),
        (
            r#"cc: public | cdn: private, no-cache=("a" "b")"#,
            Some(NoCache),
        ),
        // Lines make one dictionary, so an empty line is a trailing comma.
        ("cdn: max-age=5 | cdn: private", Some(Private)),
        ("cc: no-cache | cdn: s-maxage=5 | cdn: ", Some(NoCache)),
        // Of a repeated key, the last value is the one that counts.
        ("cc: private | cdn: max-age=x, max-age=5", None),
        ("cc: private | cdn: max-age=5, max-age=x", Some(Private)),
    ]);
}

#[test]
fn malformed_cdn_cache_control_is_ignored_whole() {
    for cdn in [
        "max-age=abc",
        "max-age=1.5",
        "s-maxage=\"5\"",
        "max-age=(1)",
        ",,=",
        "No-Store",
    ] {
        check(&[
            (&format!("cc: no-store | cdn: {cdn}"), Some(NoStore)),
            (&format!("cdn: {cdn}"), None),
        ]);
    }
}

#[test]
fn vary_star_then_set_cookie_pass_after_cache_control() {
    check(&[
        ("vary: *", Some(Vary)),
        ("vary: accept-encoding | vary: cookie ,  * ", Some(Vary)),
        ("vary: accept-encoding, x-star*", None),
        ("set-cookie: a=b", Some(SetCookie)),
        ("set-cookie: a=b | vary: *", Some(Vary)),
        ("set-cookie: a=b | vary: * | cc: private", Some(Private)),
    ]);
    let strip = KeepRules {
        strip_set_cookie: true,
        ..RULES
    };
    let h = headers("set-cookie: a=b");
    assert_eq!(pass_reason(StatusCode::OK, &h, strip), None);
}

#[test]
fn vary_names_are_lowercase_unique_and_valid() {
    let h = headers("vary: Accept-Language, *, X-Theme | vary: x-theme, bad name,");
    let names: Vec<_> = vary_names(&h).iter().map(HeaderName::to_string).collect();
    assert_eq!(names, ["accept-language", "x-theme"]);
    assert!(vary_names(&HeaderMap::new()).is_empty());
}
