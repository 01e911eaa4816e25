//! End to end with the real parts: real nginx (Debian's package) running
//! the shipped site file → the real daemon → the example Django project
//! (packaging/django/example: sqlite, one model, the app installed from
//! packaging/django with pip), each on a loopback port of its own.
//!
//! The pages say how many times the app rendered them (`render N`): a HIT
//! that shows the count of an earlier MISS was not rendered again, and
//! `/renders/` (passed through, never kept) gives the app's own count.
//! Rows are changed the way a visitor changes them: a form POST through
//! nginx and the daemon's pass-through, to paths outside the snapshot
//! route, so that what drops a page is the model hook and nothing else.
//!
//! Needs the venv of `packaging/django/run-tests.sh` and nginx; without
//! them each test prints SKIPPED and passes, unless
//! `PRELOADD_REQUIRE_DJANGO=1` (CI).

use std::time::{Duration, Instant};

use crate::support::django::{self, Site};
use crate::support::nginx::Nginx;
use crate::support::webhook::{admin, FORM};
use crate::support::{get, request, Daemon, Reply, Sandbox};

struct Stack {
    // Dropped first to last: each kills its own process by its pid.
    nginx: Nginx,
    daemon: Daemon,
    site: Site,
    _sandbox: Sandbox,
}

/// The daemon's config an operator would write for the example: the list
/// page is a snapshot route (kept at its own URL), detail pages are
/// reached by the preload URLs the template tag prints, and the pages'
/// `X-Preload-Tags` (from `@preload_tags`) say which rows they show.
fn config(rewarm: bool) -> String {
    format!("[[route]]\nmatch = \"/events/\"\nsnapshot = true\n\n[invalidate]\nrewarm = {rewarm}\n")
}

impl Stack {
    fn start(test: &str, rewarm: bool) -> Option<Stack> {
        let (python, nginx) = django::parts(test)?;
        let sandbox = Sandbox::new();
        let mut site = Site::start(&python, sandbox.dir.path());
        let daemon = sandbox.daemon_url(&format!("http://{}", site.addr), &config(rewarm));
        let hook = format!("http://{}", admin(&daemon));
        site.configure(&[
            ("PRELOADD_URL", hook.as_str()),
            ("ALLOWED_HOSTS", "test.local,127.0.0.1"),
        ]);
        let nginx = Nginx::start(&nginx, &sandbox.dir.path().join("nginx"), daemon.main);
        Some(Stack {
            nginx,
            daemon,
            site,
            _sandbox: sandbox,
        })
    }

    /// `GET target` through nginx.
    async fn get(&self, target: &str) -> Reply {
        let reply = get(self.nginx.addr, target, &[]).await;
        assert!(
            reply.status < 500,
            "GET {target}: {}\n{}\nDjango:\n{}\nnginx:\n{}",
            reply.status,
            reply.text(),
            self.site.log(),
            self.nginx.error_log()
        );
        reply
    }

    /// Fills in the form at `form` (its CSRF cookie and token) and posts
    /// `title`, through nginx: the app answers with a redirect.
    async fn post_form(&self, form: &str, title: &str) -> Reply {
        let page = self.get(form).await;
        assert_eq!(page.cache(), "-", "a form page is passed through");
        let cookie = page
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("a CSRF cookie")
            .to_string();
        let text = page.text();
        let token = text
            .split("name=\"csrfmiddlewaretoken\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a CSRF token in the form");
        let body = format!("csrfmiddlewaretoken={token}&title={title}");
        let cookie = format!("Cookie: {cookie}");
        let reply = request(
            self.nginx.addr,
            "POST",
            form,
            &[FORM, &cookie],
            body.as_bytes(),
        )
        .await;
        assert_eq!(
            reply.status,
            302,
            "POST {form}: {}\nDjango:\n{}",
            reply.text(),
            self.site.log()
        );
        reply
    }

    /// How many times the app rendered `page` ("list", "detail 1").
    async fn renders(&self, page: &str) -> u64 {
        let reply = self.get("/renders/").await;
        assert_eq!(reply.cache(), "-", "/renders/ is passed through");
        let counts: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
        counts[page].as_u64().unwrap_or(0)
    }

    async fn snapshots(&self) -> u64 {
        let health = get(admin(&self.daemon), "/_preloadd/health", &[]).await;
        let v: serde_json::Value = serde_json::from_slice(&health.body).expect("health JSON");
        v["snapshots"].as_u64().expect("snapshots")
    }
}

/// The `render N` a page shows.
fn render(reply: &Reply) -> u64 {
    let text = reply.text();
    let n = text
        .split("render ")
        .nth(1)
        .and_then(|r| r.split('<').next());
    n.and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no render count in {text}"))
}

/// The preload URLs the list page links its rows with (the template tag's
/// output, HTML-escaped in the page).
fn row_links(list: &Reply) -> Vec<String> {
    list.text()
        .split("<li><a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_saved_through_the_site_drops_the_list_and_the_next_visit_shows_it() {
    let Some(stack) = Stack::start(
        "a_row_saved_through_the_site_drops_the_list_and_the_next_visit_shows_it",
        false,
    ) else {
        return;
    };
    let first = stack.get("/events/").await;
    assert_eq!((first.status, first.cache()), (200, "MISS"));
    assert!(first.text().contains("No events yet."), "{}", first.text());
    let second = stack.get("/events/").await;
    assert_eq!(second.cache(), "HIT");
    assert_eq!(render(&second), render(&first), "a HIT is not rendered");
    assert_eq!(second.header("x-preload-tags"), None, "tags stay inside");

    let saved = stack.post_form("/add/", "Concert").await;
    assert_eq!(saved.header("location"), Some("/events/"));
    assert_eq!(saved.cache(), "-", "the form POST is passed through");

    let after = stack.get("/events/").await;
    assert_eq!(after.cache(), "MISS", "the hook dropped the list");
    assert!(after.text().contains("Concert"), "{}", after.text());
    assert_eq!(render(&after), render(&first) + 1);
    let again = stack.get("/events/").await;
    assert_eq!((again.cache(), render(&again)), ("HIT", render(&after)));
    assert!(again.text().contains("Concert"));
    assert_eq!(
        stack.renders("list").await,
        2,
        "two renders for five visits"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_rewarm_the_list_is_already_a_hit_showing_the_new_row() {
    let Some(stack) = Stack::start(
        "with_rewarm_the_list_is_already_a_hit_showing_the_new_row",
        true,
    ) else {
        return;
    };
    assert_eq!(stack.get("/events/").await.cache(), "MISS");
    assert_eq!(stack.get("/events/").await.cache(), "HIT");

    stack.post_form("/add/", "Opera").await;
    // The hook's POST was answered (the old page gone) before the form's
    // redirect; the rewarm fetch renders the list once more and keeps it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(stack.renders("list").await == 2 && stack.snapshots().await == 1) {
        assert!(
            Instant::now() < deadline,
            "the list was not refetched in the background within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let warm = stack.get("/events/").await;
    assert_eq!(warm.cache(), "HIT", "rewarmed before the first visit");
    assert!(warm.text().contains("Opera"), "{}", warm.text());
    assert_eq!(render(&warm), 2);
    assert_eq!(stack.renders("list").await, 2, "no visitor reached the app");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tagged_detail_page_is_dropped_only_when_its_own_row_changes() {
    let Some(stack) = Stack::start(
        "a_tagged_detail_page_is_dropped_only_when_its_own_row_changes",
        false,
    ) else {
        return;
    };
    stack.post_form("/add/", "Ballet").await;
    stack.post_form("/add/", "Circus").await;
    let list = stack.get("/events/").await;
    let links = row_links(&list);
    assert_eq!(links, ["/_preload/events/1/", "/_preload/events/2/"]);
    for link in &links {
        let miss = stack.get(link).await;
        assert_eq!(miss.cache(), "MISS", "{link}");
        let hit = stack.get(link).await;
        assert_eq!((hit.cache(), render(&hit)), ("HIT", 1), "{link}");
    }

    let saved = stack.post_form("/edit/1/", "Ballet-matinee").await;
    assert_eq!(saved.header("location"), Some("/events/1/"));

    let other = stack.get(&links[1]).await;
    assert_eq!(
        (other.cache(), render(&other)),
        ("HIT", 1),
        "row 2 untouched"
    );
    let own = stack.get(&links[0]).await;
    assert_eq!(own.cache(), "MISS", "row 1's page was dropped");
    assert!(own.text().contains("Ballet-matinee"), "{}", own.text());
    assert_eq!(render(&own), 2);
    let list = stack.get("/events/").await;
    assert_eq!(list.cache(), "MISS", "the list shows every row");
    assert!(list.text().contains("Ballet-matinee"));
    assert_eq!(stack.renders("detail 2").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_nginx_site_pools_forwards_and_hides_the_admin_paths() {
    let test = "the_shipped_nginx_site_pools_forwards_and_hides_the_admin_paths";
    let Some(stack) = Stack::start(test, false) else {
        return;
    };
    // Five visitors, one connection each: nginx reaches the daemon over
    // one kept connection (its keep-alive pool), not one per visitor.
    for _ in 0..5 {
        stack.get("/events/").await;
    }
    assert_eq!(connections_to(stack.daemon.main.port()), 1, "nginx's pool");

    let seen = stack.get("/proxy-check/").await;
    let seen: serde_json::Value = serde_json::from_slice(&seen.body).expect("JSON");
    assert_eq!(seen["HTTP_HOST"], "test.local");
    // nginx adds the visitor, the daemon adds nginx (both on loopback).
    assert_eq!(seen["HTTP_X_FORWARDED_FOR"], "127.0.0.1, 127.0.0.1");
    assert_eq!(seen["HTTP_X_FORWARDED_PROTO"], "http");
    assert_eq!(seen["HTTP_X_FORWARDED_HOST"], "test.local");

    for target in ["/_preloadd/health", "/_preloadd/", "/_invalidate"] {
        let reply = request(stack.nginx.addr, "POST", target, &[FORM], b"all=1").await;
        assert_eq!(reply.status, 404, "POST {target} through nginx");
        assert_eq!(
            get(stack.nginx.addr, target, &[]).await.status,
            404,
            "GET {target}"
        );
    }
    // The daemon's own main listener would have answered: it was nginx.
    let direct = request(stack.daemon.main, "POST", "/_invalidate", &[FORM], b"all=1").await;
    assert_eq!(direct.status, 403);
}

/// Established TCP connections to `port` on 127.0.0.1, from the client
/// side (`/proc/net/tcp`: remote address `0100007F:PORT`, state 01).
fn connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"01")
        })
        .count()
}

/// The template tag, rendered by Django, against `preloadd url` for the
/// same path, parameters and prefix (SPEC §3: one joining rule).
#[test]
fn the_template_tag_renders_what_preloadd_url_prints() {
    let test = "the_template_tag_renders_what_preloadd_url_prints";
    let python = match django::python() {
        Ok(python) => python,
        Err(why) => return django::skip(test, &why),
    };
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "/_preload",
            "/something/to/preload",
            &["query=foo&page=bar", "?a=1&", ""],
        ),
        ("/_preload", "/a", &["", "?", "&&"]),
        ("/_preload", "/a?x=1", &["&b=2"]),
        ("/_preload", "/a?", &["b=2", "c=3"]),
        ("/_preload", "/a?x=1&", &["b=2"]),
        ("/_preload", "/events/", &["??b=1", "&&c=3&&"]),
        ("/_preload/", "/events/", &["page=2", "lang=en"]),
        ("/static-preload", "/caf%C3%A9/", &["q=%26", "-1"]),
        ("/p", "/", &[]),
    ];
    let script = r#"
import json, sys
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django_preloadd"],
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
)
django.setup()
from django.template import Context, Template
out = []
for prefix, path, params in json.load(sys.stdin):
    settings.PRELOADD_PREFIX = prefix
    args = " ".join(f"p{i}" for i in range(len(params)))
    source = "{% load static_preload %}{% autoescape off %}{% static_preload path " + args + " %}{% endautoescape %}"
    context = {"path": path, **{f"p{i}": p for i, p in enumerate(params)}}
    out.append(Template(source).render(Context(context)))
json.dump(out, sys.stdout)
"#;
    let input = serde_json::to_vec(cases).unwrap();
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
    let out = child.wait_with_output().expect("python's answer");
    assert!(out.status.success(), "the template script failed");
    let rendered: Vec<String> = serde_json::from_slice(&out.stdout).expect("JSON");
    for ((prefix, path, params), tag) in cases.iter().zip(&rendered) {
        let cli = std::process::Command::new(crate::support::daemon::binary())
            .args(["url", "--prefix", prefix, path])
            .args(params.iter())
            .env_remove("PRELOADD_CONFIG")
            .output()
            .expect("run preloadd url");
        assert!(cli.status.success(), "preloadd url {path} {params:?}");
        let printed = String::from_utf8_lossy(&cli.stdout);
        assert_eq!(tag, printed.trim_end(), "{prefix} {path} {params:?}");
    }
    assert_eq!(rendered.len(), cases.len());
}
