//! Explaining a url against a real store: spellings, route and vary, the
//! snapshot's state, the last PASS.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderValue;

use super::*;
use crate::store::snapshot::tests::sample;

fn config(dir: &Path) -> Config {
    let text = format!(
        "[upstream]\nurl = \"http://127.0.0.1:8000\"\n\
         [cache]\ndir = {:?}\ngrace = \"1m\"\n\
         [[route]]\nmatch = \"/events/*\"\nttl = \"1h\"\ntags = [\"events\"]\nvary = [\"Accept-Language\"]\n",
        dir.display().to_string()
    );
    crate::config::from_str(Path::new("preload.toml"), &text, None).expect("config")
}

use crate::store::open_for_tests as store;

#[test]
fn a_kept_page_is_explained_under_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let store = store(dir.path());
    let mut fr = HeaderMap::new();
    fr.insert("accept-language", HeaderValue::from_static("fr"));
    let target = key::resolve(&config, &fr, "/events/?b=1&a=2").unwrap();
    let now = SystemTime::now();
    let mut s = sample(1, b"");
    s.key = target.key;
    s.meta.target = target.canonical.clone();
    s.meta.tags = vec!["events".into(), "e-1".into()];
    s.meta.taken = now - Duration::from_secs(30);
    s.meta.expires = Some(now + Duration::from_secs(3600));
    s.body = Bytes::from_static(b"page");
    store.put(s).unwrap();

    for url in [
        "/events/?b=1&a=2",
        "/_preload/events/?b=1&a=2",
        "https://www.example.org/events/?b=1&a=2#top",
    ] {
        let e = explain(&config, &store, None, url, &fr, now).unwrap();
        assert_eq!(e.target, "/events/?a=2&b=1", "canonical: sorted");
        assert_eq!(e.key, target.key.to_hex());
        assert_eq!(e.preload_url, "/_preload/events/?a=2&b=1");
        let route = e.route.as_ref().expect("the route matched");
        assert_eq!((route.index, route.matcher.as_str()), (0, "/events/*"));
        assert_eq!(route.ttl.as_deref(), Some("1h"));
        assert_eq!(
            route.vary,
            [VaryValue {
                header: "accept-language".into(),
                value: Some("fr".into())
            }]
        );
        let snap = e.snapshot.as_ref().expect("kept");
        assert_eq!(snap.state, State::Fresh);
        assert_eq!(snap.tags, ["events", "e-1"]);
        assert!((29..=31).contains(&snap.age), "{}", snap.age);
        assert_eq!(e.next_request, Next::Hit);
        assert_eq!(e.kept_for_target, 1);
        assert!(!e.passes_known && e.last_pass.is_none());
    }
    // Without the vary header it is another key, not kept.
    let e = explain(
        &config,
        &store,
        None,
        "/events/?b=1&a=2",
        &HeaderMap::new(),
        now,
    )
    .unwrap();
    assert_ne!(e.key, target.key.to_hex());
    assert_eq!((e.snapshot, e.next_request), (None, Next::Fetch));
    assert_eq!(e.kept_for_target, 1, "the fr variant of the target");
    assert_eq!(e.route.unwrap().vary[0].value, None);
    // Past its ttl and grace: expired, fetched again.
    let later = now + Duration::from_secs(3600 + 61);
    let e = explain(&config, &store, None, "/events/?b=1&a=2", &fr, later).unwrap();
    assert_eq!(e.snapshot.map(|s| s.state), Some(State::Expired));
    assert_eq!(e.next_request, Next::Fetch);
}

#[test]
fn the_last_pass_is_reported_with_its_reason_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let store = store(dir.path());
    let passes = Passes::default();
    let now = SystemTime::now();
    let target = key::resolve(&config, &HeaderMap::new(), "/other").unwrap();
    passes.record(
        target.key,
        PassReason::NoStore,
        now - Duration::from_secs(5),
    );
    let e = explain(
        &config,
        &store,
        Some(&passes),
        "/other",
        &HeaderMap::new(),
        now,
    )
    .unwrap();
    assert!(e.route.is_none());
    assert!(e.passes_known);
    let last = e.last_pass.expect("recorded");
    assert_eq!((last.reason.as_str(), last.ago), ("no-store", 5));
    assert!(last.why.contains("no-store"));
    let text = serde_json::to_string(
        &explain(
            &config,
            &store,
            Some(&passes),
            "/other",
            &HeaderMap::new(),
            now,
        )
        .unwrap(),
    )
    .unwrap();
    assert!(text.contains("\"next_request\":\"fetch\""), "{text}");
    assert!(text.contains("\"route\":null"), "{text}");
}

#[test]
fn a_refused_target_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let store = store(dir.path());
    let now = SystemTime::now();
    for url in [
        "/../etc/passwd",
        "//evil/x",
        "events",
        "/a/%2e%2e/b",
        "ftp://x/y",
    ] {
        let err = explain(&config, &store, None, url, &HeaderMap::new(), now).unwrap_err();
        assert!(!err.to_string().is_empty(), "{url}");
    }
    for reason in PassReason::ALL {
        assert!(!why(reason).is_empty());
    }
    assert_eq!(url_param(Some("url=%2Fa%3Fb%3D1")).unwrap(), "/a?b=1");
    assert!(url_param(None).unwrap_err().contains("missing"));
    assert!(url_param(Some("u=/a")).unwrap_err().contains("\"u\""));
}
