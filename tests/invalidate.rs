//! Invalidation end to end: the webhook's selectors and auth, the promise
//! that a dropped page is never a HIT after the reply (also across a
//! kill -9), the CLI, and writes on snapshot routes. Invalidation over time
//! (soft marks, schedules, TTLs, rewarm) is in `schedule.rs`.

use crate::support::webhook::{
    admin, cli_config, cli_invalidate, count, eventually, invalidate, warm, FORM, JSON,
};
use crate::support::{get, request, Sandbox, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn each_selector_drops_what_it_names_in_json_and_form() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(
        &up,
        "[[route]]\nmatch = \"/events/*\"\ntags = [\"events.Event\"]\n",
    );
    let cases: [(&str, &str, &str, &[&str]); 8] = [
        (
            JSON,
            r#"{"tags": ["t1"]}"#,
            "/_preload/a?tags=t1",
            &["/_preload/b?tags=t2"],
        ),
        (
            FORM,
            "tag=t1",
            "/_preload/a?tags=t1",
            &["/_preload/b?tags=t2"],
        ),
        (
            JSON,
            r#"{"models": ["events.Event"]}"#,
            "/_preload/events/1/",
            &["/_preload/other/"],
        ),
        (
            FORM,
            "model=events.Event",
            "/_preload/events/1/",
            &["/_preload/other/"],
        ),
        (
            JSON,
            r#"{"urls": ["/_preload/u/?b=2&a=1"]}"#,
            "/_preload/u/?a=1&b=2",
            &["/_preload/u/"],
        ),
        (
            FORM,
            "url=%2Fu%2F%3Fa%3D1%26b%3D2",
            "/_preload/u/?a=1&b=2",
            &["/_preload/u/"],
        ),
        (
            JSON,
            r#"{"prefixes": ["/p/"]}"#,
            "/_preload/p/x?y=1",
            &["/_preload/q/x"],
        ),
        (FORM, "prefix=/p/", "/_preload/p/x?y=1", &["/_preload/q/x"]),
    ];
    for (ctype, body, dropped, kept) in cases {
        warm(&d, &[dropped]).await;
        warm(&d, kept).await;
        let reply = invalidate(admin(&d), &[ctype], body).await;
        assert_eq!(reply.status, 200, "{body}: {}", reply.text());
        assert!(count(&reply) >= 1, "{body}");
        assert_eq!(
            get(d.main, dropped, &[]).await.cache(),
            "MISS",
            "{body} drops {dropped}"
        );
        for k in kept {
            assert_eq!(get(d.main, k, &[]).await.cache(), "HIT", "{body} keeps {k}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn all_and_invalidating_models_drop_everything() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[invalidate]\nmodels = [\"site.Settings\"]\n");
    warm(&d, &["/_preload/a", "/_preload/b"]).await;
    let reply = invalidate(admin(&d), &[JSON], r#"{"models": ["site.Settings"]}"#).await;
    assert_eq!(count(&reply), 2);
    assert_eq!(get(d.main, "/_preload/a", &[]).await.cache(), "MISS");
    warm(&d, &["/_preload/b"]).await;
    let reply = invalidate(admin(&d), &[FORM], "all=1").await;
    assert!(count(&reply) >= 2);
    assert_eq!(get(d.main, "/_preload/b", &[]).await.cache(), "MISS");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_refused_with_a_reason() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    for (body, ctype) in [
        ("", FORM),
        ("{", JSON),
        (r#"{"tagz": ["x"]}"#, JSON),
        (r#"{"urls": ["/a/../b"]}"#, JSON),
        ("frob=1", FORM),
    ] {
        let reply = invalidate(admin(&d), &[ctype], body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert!(!reply.text().trim().is_empty(), "a message for {body}");
    }
    assert_eq!(
        request(admin(&d), "GET", "/_invalidate", &[], b"")
            .await
            .status,
        405
    );
    let big = format!("tag={}", "x".repeat(1024 * 1024 + 10));
    assert_eq!(invalidate(admin(&d), &[FORM], &big).await.status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_field_of_the_wrong_type_is_refused_by_name_and_drops_nothing() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let page = "/_preload/e/?tags=events.Event";
    warm(&d, &[page]).await;
    for (body, field) in [
        (r#"{"tags": "events.Event"}"#, "`tags`"),
        (r#"{"models": "events.Event"}"#, "`models`"),
        (r#"{"urls": "/e/?tags=events.Event"}"#, "`urls`"),
        (r#"{"prefixes": "/e/"}"#, "`prefixes`"),
        (r#"{"tags": ["events.Event", 1]}"#, "`tags[1]`"),
        (r#"{"all": "true"}"#, "`all`"),
        (r#"{"all": 1}"#, "`all`"),
        (r#"{"tags": ["events.Event"], "soft": "yes"}"#, "`soft`"),
        (r#"[{"all": true}]"#, "expected an object"),
    ] {
        let reply = invalidate(admin(&d), &[JSON], body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text());
        assert!(reply.text().contains(field), "{body}: {}", reply.text());
        assert_eq!(
            get(d.main, page, &[]).await.cache(),
            "HIT",
            "{body} dropped nothing"
        );
    }
    assert_eq!(up.count_of("/e/?tags=events.Event"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_main_listener_always_needs_a_token() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let reply = invalidate(d.main, &[FORM], "all=1").await;
    assert_eq!(reply.status, 403, "no token configured");
    assert!(reply.text().contains("token"));
    drop(d);

    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[invalidate]\ntoken = \"s3cret\"\n");
    assert_eq!(invalidate(d.main, &[FORM], "all=1").await.status, 401);
    assert_eq!(
        invalidate(d.main, &[FORM, "Authorization: Bearer wrong"], "all=1")
            .await
            .status,
        401
    );
    assert_eq!(
        invalidate(admin(&d), &[FORM], "all=1").await.status,
        401,
        "configured: the admin listener needs it too"
    );
    let ok = invalidate(d.main, &[FORM, "Authorization: Bearer s3cret"], "all=1").await;
    assert_eq!(ok.status, 200);
    assert_eq!(up.count(), 0, "the webhook never reaches the app");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bearer_scheme_is_matched_in_any_case() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[invalidate]\ntoken = \"s3cret\"\n");
    // RFC 9110 §11.1: the scheme is case-insensitive; the token is not.
    for auth in ["bearer s3cret", "BEARER s3cret", "Bearer  s3cret"] {
        let header = format!("Authorization: {auth}");
        let reply = invalidate(d.main, &[FORM, &header], "all=1").await;
        assert_eq!(reply.status, 200, "{auth}: {}", reply.text());
    }
    for auth in ["Bearer S3CRET", "Bearers3cret", "Basic s3cret"] {
        let header = format!("Authorization: {auth}");
        let reply = invalidate(d.main, &[FORM, &header], "all=1").await;
        assert_eq!(reply.status, 401, "{auth}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_admin_gets_also_take_the_token_as_a_basic_password() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[invalidate]\ntoken = \"s3cret\"\n");
    // base64("ops:s3cret") and base64("ops:wrong").
    let good = "Authorization: Basic b3BzOnMzY3JldA==";
    let bad = "Authorization: Basic b3BzOndyb25n";
    for listener in [d.main, admin(&d)] {
        let ok = get(listener, "/_preloadd/health", &[good]).await;
        assert_eq!(ok.status, 200, "{}", ok.text());
        let refused = get(listener, "/_preloadd/health", &[bad]).await;
        assert_eq!(refused.status, 401);
        let challenges: Vec<&str> = refused
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(
            challenges.iter().any(|c| c.starts_with("Basic realm=")),
            "a browser is asked for the password: {challenges:?}"
        );
    }
    // The webhook changes things: the bearer token only.
    let basic_post = invalidate(d.main, &[FORM, good], "all=1").await;
    assert_eq!(basic_post.status, 401);
    let bearer = invalidate(d.main, &[FORM, "Authorization: Bearer s3cret"], "all=1").await;
    assert_eq!(bearer.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalidation_overtaking_a_fetch_keeps_its_result_out() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let main = d.main;
    let slow = tokio::spawn(async move { get(main, "/_preload/race?delay=700", &[]).await });
    assert!(eventually(|| up.count() == 1).await, "the fetch started");
    let reply = invalidate(admin(&d), &[JSON], r#"{"urls": ["/race?delay=700"]}"#).await;
    assert_eq!(reply.status, 200);
    let raced = slow.await.unwrap();
    assert_eq!(raced.cache(), "PASS");
    assert_eq!(raced.header("x-preload-reason"), Some("invalidated"));
    assert_eq!(
        get(d.main, "/_preload/race?delay=700", &[]).await.cache(),
        "MISS"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill9_right_after_the_reply_does_not_bring_pages_back() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &["/_preload/k1", "/_preload/k2", "/_preload/k3?tags=z"]).await;
    assert_eq!(invalidate(admin(&d), &[FORM], "url=/k1").await.status, 200);
    assert_eq!(invalidate(admin(&d), &[FORM], "tag=z").await.status, 200);
    d.kill9();
    let d = sb.daemon(&up, "");
    assert_eq!(get(d.main, "/_preload/k1", &[]).await.cache(), "MISS");
    assert_eq!(
        get(d.main, "/_preload/k3?tags=z", &[]).await.cache(),
        "MISS"
    );
    assert_eq!(get(d.main, "/_preload/k2", &[]).await.cache(), "HIT");
    assert_eq!(invalidate(admin(&d), &[FORM], "all=1").await.status, 200);
    d.kill9();
    let d = sb.daemon(&up, "");
    assert_eq!(get(d.main, "/_preload/k2", &[]).await.cache(), "MISS");
}

#[tokio::test(flavor = "multi_thread")]
async fn preloadd_invalidate_calls_the_admin_listener() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    warm(&d, &["/_preload/cli?tags=c"]).await;
    let cli_config = cli_config(&d, sb.dir.path());
    let out = cli_invalidate(&cli_config, &["--tag", "c"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "invalidated 1");
    assert_eq!(
        get(d.main, "/_preload/cli?tags=c", &[]).await.cache(),
        "MISS"
    );
    drop(d);
    let out = cli_invalidate(&cli_config, &["--all"]);
    assert_eq!(out.status.code(), Some(1), "daemon gone");
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_successful_write_on_a_snapshot_route_drops_its_pages() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "[[route]]\nmatch = \"/events/*\"\n");
    let page = "/events/1/?poststatus=204";
    let failing = "/events/2/?poststatus=403";
    let moved = "/events/3/";
    warm(&d, &[page, failing, moved]).await;

    assert_eq!(request(d.main, "POST", page, &[], b"x=1").await.status, 204);
    assert_eq!(
        get(d.main, page, &[]).await.cache(),
        "MISS",
        "dropped before the answer went out"
    );
    assert_eq!(
        request(d.main, "DELETE", failing, &[], b"").await.status,
        403
    );
    assert_eq!(
        get(d.main, failing, &[]).await.cache(),
        "HIT",
        "an error drops nothing"
    );
    let create = "/events/new?poststatus=303&location=http://test.local/events/3/";
    assert_eq!(
        request(d.main, "M-SEARCH", create, &[], b"").await.status,
        303
    );
    assert_eq!(
        get(d.main, moved, &[]).await.cache(),
        "MISS",
        "its Location is dropped too"
    );
}
