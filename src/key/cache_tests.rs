//! The key cache gives what `resolve` gives, and reuses an entry only
//! under its own config and vary values.

use std::path::Path;

use http::header::{HeaderMap, HeaderValue};

use super::*;

fn config(text: &str) -> Arc<Config> {
    let text = format!("[upstream]\nurl = \"http://127.0.0.1:8000\"\n{text}");
    Arc::new(crate::config::from_str(Path::new("preload.toml"), &text, None).expect("loads"))
}

fn i18n() -> Arc<Config> {
    config("[[route]]\nmatch = \"/i18n/*\"\nvary = [\"Accept-Language\", \"X-Site\"]\n")
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(*name, HeaderValue::from_static(value));
    }
    h
}

#[track_caller]
fn assert_same(cached: &Target, resolved: &Target) {
    assert_eq!(cached.key, resolved.key);
    assert_eq!(cached.canonical, resolved.canonical);
    assert_eq!(cached.route, resolved.route);
    assert_eq!(cached.vary, resolved.vary);
}

#[test]
fn a_second_resolve_is_the_cached_target_and_the_same_as_resolve() {
    let cache = KeyCache::default();
    let config = config("[preload]\nsort_query = true\n[[route]]\nmatch = \"/a/*\"\n");
    let none = HeaderMap::new();
    for raw in ["/a/1", "/a/1?b=2&a=1", "/other?x=%7e", "/"] {
        let first = cache.resolve(&config, &none, raw).unwrap();
        let again = cache.resolve(&config, &none, raw).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "{raw}: cached");
        assert_same(&again, &resolve(&config, &none, raw).unwrap());
    }
    assert_eq!(cache.len(), 4);
}

#[test]
fn another_vary_value_is_another_key() {
    let cache = KeyCache::default();
    let config = i18n();
    let cases = [
        headers(&[("accept-language", "de")]),
        headers(&[("accept-language", "fr")]),
        headers(&[]),
        headers(&[("accept-language", "")]),
        headers(&[("x-site", "de")]),
        headers(&[("accept-language", "de"), ("accept-language", "fr")]),
        headers(&[("accept-language", "de, fr")]),
        headers(&[("accept-language", "de"), ("x-site", "b")]),
    ];
    // Twice round, each value replacing the last in the one slot.
    for h in cases.iter().chain(&cases) {
        let cached = cache.resolve(&config, h, "/i18n/p").unwrap();
        assert_same(&cached, &resolve(&config, h, "/i18n/p").unwrap());
    }
    let de = cache.resolve(&config, &cases[0], "/i18n/p").unwrap();
    let fr = cache.resolve(&config, &cases[1], "/i18n/p").unwrap();
    assert_ne!(de.key, fr.key);
    // Off the route, the header is no input.
    let a = cache.resolve(&config, &cases[0], "/p").unwrap();
    let b = cache.resolve(&config, &cases[1], "/p").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn an_entry_is_never_used_under_another_config() {
    let cache = KeyCache::default();
    let none = HeaderMap::new();
    let before = config("");
    let old = cache.resolve(&before, &none, "/p?utm_source=x").unwrap();
    assert_eq!(old.canonical, "/p?utm_source=x");
    // A reload: the query rule drops the parameter, so the key changes.
    let after = config("[preload]\nignore_query = [\"utm_*\"]\n");
    let new = cache.resolve(&after, &none, "/p?utm_source=x").unwrap();
    assert_eq!(new.canonical, "/p");
    assert_ne!(new.key, old.key);
    // Even the same text, loaded again, is another config.
    let same = config("");
    let again = cache.resolve(&same, &none, "/p?utm_source=x").unwrap();
    assert!(!Arc::ptr_eq(&again, &old));
    assert_same(&again, &old);
    // The routes are the config's too.
    let routed = i18n();
    let h = headers(&[("accept-language", "de")]);
    let plain = cache.resolve(&before, &h, "/i18n/p").unwrap();
    let varied = cache.resolve(&routed, &h, "/i18n/p").unwrap();
    assert_eq!(plain.route, None);
    assert_eq!(varied.route, Some(0));
    assert_ne!(plain.key, varied.key);
}

#[test]
fn a_dropped_config_leaves_no_entry_a_new_one_could_take() {
    let cache = KeyCache::default();
    let none = HeaderMap::new();
    let first = config("");
    let old = cache.resolve(&first, &none, "/p").unwrap();
    drop(first);
    // The entry's `Weak` keeps the old allocation: the new config is
    // elsewhere, so the entry is not taken for it.
    let second = config("");
    let new = cache.resolve(&second, &none, "/p").unwrap();
    assert!(!Arc::ptr_eq(&old, &new));
}

#[test]
fn refused_and_long_targets_are_not_kept() {
    let cache = KeyCache::default();
    let config = config("");
    let none = HeaderMap::new();
    for _ in 0..2 {
        assert_eq!(
            cache.resolve(&config, &none, "/a/../b").unwrap_err(),
            TargetError::Invalid("dot-segment in path")
        );
    }
    let long = format!("/{}", "a".repeat(MAX_CACHED));
    let first = cache.resolve(&config, &none, &long).unwrap();
    let again = cache.resolve(&config, &none, &long).unwrap();
    assert!(!Arc::ptr_eq(&first, &again));
    assert_eq!(first.key, again.key);
    assert!(cache.is_empty());
}

#[test]
fn it_never_holds_more_than_its_slots() {
    let cache = KeyCache::default();
    let config = config("");
    let none = HeaderMap::new();
    for i in 0..SLOTS * 2 {
        cache.resolve(&config, &none, &format!("/p/{i}")).unwrap();
    }
    assert!(cache.len() <= SLOTS);
    // The last one is there: a newer target takes the slot.
    let last = format!("/p/{}", SLOTS * 2 - 1);
    let a = cache.resolve(&config, &none, &last).unwrap();
    assert!(Arc::ptr_eq(
        &a,
        &cache.resolve(&config, &none, &last).unwrap()
    ));
}
