//! The contract of SPEC §3, rule by rule (properties over nasty input are
//! in `proptests.rs`).

use http::HeaderName;

use super::*;

const PLAIN: QueryRules<'static> = QueryRules {
    sort_query: false,
    ignore_query: &[],
};
const SORTED: QueryRules<'static> = QueryRules {
    sort_query: true,
    ignore_query: &[],
};

fn glob(pattern: &str) -> Glob {
    pattern.parse().expect("test patterns are valid globs")
}

fn canon(raw: &str) -> Result<String, TargetError> {
    canonical_target(raw, PLAIN)
}

#[track_caller]
fn assert_invalid(raw: &str, reason: &'static str) {
    assert_eq!(
        canon(raw),
        Err(TargetError::Invalid(reason)),
        "target {raw:?}"
    );
}

#[track_caller]
fn assert_canon(raw: &str, expected: &str) {
    assert_eq!(canon(raw).as_deref(), Ok(expected), "target {raw:?}");
}

#[test]
fn target_over_8_kib_is_too_long_before_any_other_check() {
    let at_limit = format!("/{}", "a".repeat(MAX_TARGET - 1));
    assert_eq!(canon(&at_limit).as_deref(), Ok(at_limit.as_str()));
    assert_eq!(canon(&format!("{at_limit}a")), Err(TargetError::TooLong));
    let bad_and_long = format!("//\\{}", "a".repeat(MAX_TARGET));
    assert_eq!(canon(&bad_and_long), Err(TargetError::TooLong));
    // Within the limit as received, over it once `\` is encoded as `%5C`.
    let grows = format!("/?\\{}", "a".repeat(MAX_TARGET - 3));
    assert_eq!(canon(&grows), Err(TargetError::TooLong));
}

#[test]
fn target_must_start_with_a_single_slash() {
    for raw in ["", "a/b", "?a=1", "*", "http://host/a", "\\a"] {
        assert_invalid(raw, "target must start with \"/\"");
    }
    for raw in ["//host", "//host/a?b=1", "///a"] {
        assert_invalid(raw, "target must start with a single \"/\"");
    }
}

#[test]
fn scheme_in_path_is_refused_but_not_in_query() {
    assert_invalid("/redirect/http://evil.example/", "scheme in path");
    assert_invalid("/a/javascript://x", "scheme in path");
    assert_canon("/login?next=http://x/", "/login?next=http://x/");
}

#[test]
fn backslash_in_path_is_refused_and_encoded_in_query() {
    assert_invalid("/\\evil.example", "backslash in path");
    assert_invalid("/a\\b?c=1", "backslash in path");
    assert_canon("/search?q=a\\b", "/search?q=a%5Cb");
}

#[test]
fn bytes_no_request_target_holds_are_encoded() {
    // A webhook url may hold them; the fetch URI must still parse.
    assert_canon("/a<b>`\"?q=<>`\"", "/a%3Cb%3E%60\"?q=%3C%3E`%22");
    let up: http::Uri = "http://app:8000".parse().expect("valid URI");
    let out = canon("/a<b>`?q=\"").expect("canonical");
    assert!(crate::fetch::upstream_uri(&up, &out).is_ok(), "{out}");
}

#[test]
fn control_characters_nul_and_del_are_refused() {
    for raw in [
        "/a\tb",
        "/a\0",
        "/a\x7f",
        "/a\r\nX: y",
        "/a?b=\n",
        "/a?\x1f",
    ] {
        assert_invalid(raw, "control character in target");
    }
}

#[test]
fn non_ascii_and_space_and_fragment_are_refused() {
    assert_invalid("/café", "non-ASCII byte in target");
    assert_invalid("/a?q=é", "non-ASCII byte in target");
    assert_invalid("/a b", "space in target");
    assert_invalid("/a?q=a b", "space in target");
    assert_invalid("/a#top", "fragment in target");
    assert_invalid("/a?b=1#top", "fragment in target");
}

#[test]
fn percent_encoded_control_characters_are_refused_anywhere() {
    for raw in [
        "/a%00", "/a%1f", "/a%1F/b", "/a%7F", "/a%7f", "/a?x=%0A", "/a?%00=1",
    ] {
        assert_invalid(raw, "percent-encoded control character");
    }
    // Encoded twice: an app that decodes twice would read a NUL.
    assert_invalid("/a%2500", "percent-encoded control character");
    // In the query the app decodes once and reads the text "%00".
    assert_canon("/a?x=%2500", "/a?x=%2500");
}

#[test]
fn malformed_percent_escapes_are_refused() {
    for raw in [
        "/a%", "/a%2", "/a%zz", "/a%%41", "/a%g0", "/a?x=%G1", "/a?x=%",
    ] {
        assert_invalid(raw, "malformed percent escape");
    }
    // Escapes anywhere are checked before the path's dot-segments.
    assert_invalid("/a/..?x=%", "malformed percent escape");
    assert_invalid("/a/..?x=%01", "percent-encoded control character");
}

#[test]
fn dot_segments_are_refused_also_percent_encoded() {
    for raw in [
        "/.",
        "/..",
        "/./a",
        "/a/./b",
        "/a/../b",
        "/a/..",
        "/a/.?b=1",
        "/%2e",
        "/%2E%2e/b",
        "/a/.%2E",
        "/a/%2e./",
        "/%2e%2e?x",
    ] {
        assert_invalid(raw, "dot-segment in path");
    }
    for ok in [
        "/a.b",
        "/..a",
        "/a..",
        "/a/...",
        "/.well-known/x",
        "/a?x=..&y=./",
    ] {
        assert_eq!(canon(ok).as_deref(), Ok(ok));
    }
}

#[test]
fn decoded_path_with_dot_segment_or_backslash_is_refused() {
    for raw in [
        "/a/.%2F",
        "/a/..%2Fb",
        "/a%2F..",
        "/a/%252e%252e/x",
        "/a/%2E%252E%252Fb",
    ] {
        assert_invalid(raw, "dot-segment in decoded path");
    }
    for raw in ["/a/%5C", "/a/%5c..", "/a/%255C", "/a/%25255c"] {
        assert_invalid(raw, "backslash in decoded path");
    }
    assert_invalid("/%2F%2Fevil.example", "decoded path starts with \"//\"");
    assert_invalid("/%252F/evil.example", "decoded path starts with \"//\"");
    // Reserved characters stay encoded in the canonical target.
    assert_canon("/a%2fb/%3a", "/a%2Fb/%3A");
}

#[test]
fn percent_encoding_is_normalized() {
    assert_canon("/%7euser/%41%62c", "/~user/Abc");
    assert_canon("/a%2d%2E%5f%30", "/a-._0");
    assert_canon("/caf%c3%a9", "/caf%C3%A9");
    assert_canon("/a%2f%26%3d%3F%25", "/a%2F%26%3D%3F%25");
    assert_canon(
        "/a?q=%e2%82%ac&x=%26%3d&%7e=%41",
        "/a?q=%E2%82%AC&x=%26%3D&~=A",
    );
}

#[test]
fn plus_in_the_query_is_kept() {
    assert_canon("/a?q=a+b&c+d=1", "/a?q=a+b&c+d=1");
}

#[test]
fn empty_query_is_no_query() {
    assert_canon("/a?", "/a");
    assert_canon("/a?&&", "/a");
    assert_canon("/a?b=&c=", "/a");
    assert_canon("/?=", "/");
}

#[test]
fn empty_pieces_and_empty_values_are_dropped_bare_names_kept() {
    assert_canon("/a?&&b=1&&c=2&", "/a?b=1&c=2");
    assert_canon("/a?b=&c=1", "/a?c=1");
    assert_canon("/a?print&c=1", "/a?print&c=1");
    assert_canon("/a?x==&y=a=b", "/a?x==&y=a=b");
    assert_canon("/a?=1", "/a?=1");
}

#[test]
fn sorting_is_by_normalized_name_and_stable() {
    let raw = "/a?b=2&a=1&b=1&a=2&%62=0&ab=9&a";
    assert_eq!(
        canonical_target(raw, SORTED).as_deref(),
        Ok("/a?a=1&a=2&a&ab=9&b=2&b=1&b=0")
    );
    assert_eq!(
        canonical_target(raw, PLAIN).as_deref(),
        Ok("/a?b=2&a=1&b=1&a=2&b=0&ab=9&a")
    );
    // Byte order of the normalized name: "%" < "A" < "_" < "a".
    assert_eq!(
        canonical_target("/?a=1&_=2&B=3&%2F=4", SORTED).as_deref(),
        Ok("/?%2F=4&B=3&_=2&a=1")
    );
}

#[test]
fn sorting_keeps_the_received_order_of_repeated_names_in_long_queries() {
    // Long enough that an unstable sort would shuffle the equal names.
    let names = ["t", "s", "u"];
    let params: Vec<String> = (0..200).map(|i| format!("{}={i}", names[i % 3])).collect();
    let mut expected: Vec<&String> = params.iter().collect();
    expected.sort_by_key(|p| &p[..1]); // stable, by the one-letter name
    let expected: Vec<&str> = expected.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        canonical_target(&format!("/?{}", params.join("&")), SORTED),
        Ok(format!("/?{}", expected.join("&")))
    );
}

#[test]
fn ignored_names_are_dropped_comparing_the_decoded_name() {
    let ignore = [glob("utm_*"), glob("tag[]"), glob("fbclid"), glob("a b")];
    let rules = QueryRules {
        sort_query: true,
        ignore_query: &ignore,
    };
    assert_eq!(
        canonical_target(
            "/e?utm_source=x&page=2&utm%5fmedium=y&tag%5B%5D=1&fbclid&tag=3",
            rules
        )
        .as_deref(),
        Ok("/e?page=2&tag=3")
    );
    assert_eq!(canonical_target("/e?fbclid=1", rules).as_deref(), Ok("/e"));
    // Only the name is matched, never the value; `+` is not a space.
    assert_eq!(
        canonical_target("/e?q=utm_source&a+b=1", rules).as_deref(),
        Ok("/e?a+b=1&q=utm_source")
    );
}

#[test]
fn canonical_examples_are_fixed_points() {
    for raw in [
        "/events/?page=2",
        "/a?b=1&b=2",
        "/caf%C3%A9?q=a+b",
        "/a?print",
        "/",
    ] {
        assert_canon(raw, raw);
    }
}

fn header(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

#[test]
fn key_is_sha256_of_the_versioned_fields() {
    // printf 'preloadd-v1\n/a?b=1\n' | sha256sum
    let key = Key::new("/a?b=1", &[]);
    assert_eq!(
        key.to_hex(),
        "680b455b57346cfaddf6fe99c749317cfa568e37173cc940305cf73ff295cf2e"
    );
    // printf 'preloadd-v1\n/a?b=1\naccept-language:de\nx-device:\n' | sha256sum
    let (lang, device) = (header("accept-language"), header("x-device"));
    let key = Key::new("/a?b=1", &[(&lang, b"de"), (&device, b"")]);
    assert_eq!(
        key.to_hex(),
        "991705da703e5d568a74025d72c903ceeb3b2922e73789228b88ca92527a1c48"
    );
}

#[test]
fn key_depends_on_vary_order_and_values() {
    let (a, b) = (header("x-a"), header("x-b"));
    let both = Key::new("/", &[(&a, b"1"), (&b, b"")]);
    assert_ne!(both, Key::new("/", &[(&b, b""), (&a, b"1")]));
    assert_ne!(both, Key::new("/", &[(&a, b""), (&b, b"1")]));
    assert_ne!(both, Key::new("/", &[(&a, b"1")]));
    assert_ne!(Key::new("/", &[]), Key::new("/", &[(&a, b"")]));
}

#[test]
fn key_hex_round_trips_and_rejects_bad_input() {
    let key = Key::new("/", &[]);
    let hex = key.to_hex();
    assert_eq!(hex.len(), 64);
    assert_eq!(Key::from_hex(&hex), Some(key));
    assert_eq!(format!("{key:?}"), format!("Key({hex})"));
    assert_eq!(Key::from_hex(&"0f".repeat(32)), Some(Key([0x0f; 32])));
    for bad in [
        String::new(),
        hex[..63].to_string(),
        format!("{hex}0"),
        hex.to_uppercase(),
        format!("{}g", &hex[..63]),
        format!("{}é", &hex[..62]),
    ] {
        assert_eq!(Key::from_hex(&bad), None, "{bad:?}");
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn join_params_follows_the_seed_rule() {
    let params = strings(&["query=foo&page=bar", "?a=1&", ""]);
    assert_eq!(
        join_params("/something/to/preload", &params),
        "/something/to/preload?query=foo&page=bar&a=1"
    );
    assert_eq!(join_params("/a", &strings(&["", "?", "&&"])), "/a");
    assert_eq!(join_params("/a?x=1", &strings(&["&b=2"])), "/a?x=1&b=2");
    assert_eq!(join_params("/a?", &strings(&["b=2", "c=3"])), "/a?b=2&c=3");
}

#[test]
fn preload_url_prefixes_the_joined_target() {
    let params = strings(&["query=foo&page=bar", "?a=1&", ""]);
    assert_eq!(
        preload_url("/_preload", "/something/to/preload", &params),
        "/_preload/something/to/preload?query=foo&page=bar&a=1"
    );
    assert_eq!(preload_url("/_preload/", "a", &[]), "/_preload/a");
}
