//! `preloadd explain` and `GET /_preloadd/explain?url=`: what decides one
//! URL's fate, from the daemon that decided it.

use crate::listing::{cli_config, preloadd, stderr, stdout};
use crate::support::webhook::{admin, warm};
use crate::support::{get, Daemon, Sandbox, Upstream};

const ROUTE: &str = "[[route]]\nmatch = \"/ev/*\"\ntags = [\"events\"]\nttl = \"1h\"\n\
                     vary = [\"Accept-Language\"]\n";

async fn explain_json(d: &Daemon, url: &str, headers: &[&str]) -> serde_json::Value {
    let reply = get(admin(d), &format!("/_preloadd/explain?url={url}"), headers).await;
    assert_eq!(reply.status, 200, "{url}: {}", reply.text());
    serde_json::from_slice(&reply.body).expect("JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_of_a_kept_page_shows_key_route_state_and_tags() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, ROUTE);
    let page = "/_preload/ev/1?tags=e-1";
    warm(&d, &[page]).await;
    let listed = get(admin(&d), "/_preloadd/snapshots", &[]).await;
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    let key = listed["snapshots"][0]["key"].as_str().unwrap().to_string();

    let config = cli_config(&sb, &d);
    let out = preloadd(&config, &["explain", page]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "target      /ev/1?tags=e-1",
        &format!("key         {key}"),
        "match = \"/ev/*\"",
        "ttl 1h",
        "vary        accept-language: (absent)",
        "kept, fresh",
        "events, e-1",
        "next        HIT",
        "last PASS   none recorded",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }

    let out = preloadd(
        &config,
        &["explain", "--json", "http://www.example.org/ev/1?tags=e-1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["key"], key.as_str());
    assert_eq!(json["route"]["match"], "/ev/*");
    assert_eq!(json["snapshot"]["state"], "fresh");
    assert_eq!(json["next_request"], "hit");
    assert_eq!(json["passes_known"], true);

    // A vary value makes another key, not kept; the command sends it.
    let out = preloadd(
        &config,
        &["explain", "--json", "-H", "Accept-Language: fr", page],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_ne!(json["key"], key.as_str());
    assert!(json["snapshot"].is_null());
    assert_eq!(json["route"]["vary"][0]["value"], "fr");
    assert_eq!(json["kept_for_target"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_of_a_passed_page_gives_the_reason() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let page = "/_preload/np?cc=no-store";
    let reply = get(d.main, page, &[]).await;
    assert_eq!(
        (reply.cache(), reply.header("x-preload-reason")),
        ("PASS", Some("no-store"))
    );
    let json = explain_json(&d, "/np%3Fcc%3Dno-store", &[]).await;
    assert_eq!(json["last_pass"]["reason"], "no-store");
    assert!(json["snapshot"].is_null());
    assert_eq!(json["next_request"], "fetch");

    let out = preloadd(&cli_config(&sb, &d), &["explain", page]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("last PASS   no-store, at "), "{text}");
    assert!(text.contains("Cache-Control: no-store"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_of_a_refused_target_is_a_clear_error() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let config = cli_config(&sb, &d);
    for url in ["/../etc/passwd", "//evil.example/x", "events"] {
        let out = preloadd(&config, &["explain", url]);
        assert_eq!(out.status.code(), Some(2), "{url}");
        assert_eq!(stdout(&out), "");
        let err = stderr(&out);
        assert!(
            err.starts_with("preloadd: explain: ") && err.lines().count() == 1,
            "{url}: {err}"
        );
    }
    let reply = get(admin(&d), "/_preloadd/explain?url=/a/%2e%2e/b", &[]).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.text().starts_with("url "), "{}", reply.text());
    let reply = get(admin(&d), "/_preloadd/explain", &[]).await;
    assert_eq!(reply.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_with_the_daemon_stopped_reads_the_cache_dir() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, ROUTE);
    warm(&d, &["/_preload/ev/2"]).await;
    let config = cli_config(&sb, &d);
    assert!(d.terminate().success());
    let out = preloadd(&config, &["explain", "/ev/2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kept, fresh"), "{text}");
    assert!(text.contains("unknown: no daemon is running"), "{text}");
}
