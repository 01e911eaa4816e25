//! Pass-through forwarded by the connection loop (`src/conn/pass.rs`):
//! the app gets the request hyper's path would send it, and the visitor
//! the answer hyper's path would give, for every way an app frames an
//! answer. The same requests go to two daemons in front of one scripted
//! app: one as configured by default (the loop forwards plain requests)
//! and one with the access log on, whose requests all take hyper's path.
//! The app writes `X-Mark` in that case; hyper writes every field name in
//! lower case, the loop as the app wrote it, which tells the paths apart.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::scripted_app::ScriptedApp;
use crate::support::{config_text, dead_app, send_until_closed, Daemon, Sandbox};

/// An answer as the visitor read it.
#[derive(Debug, PartialEq)]
struct Seen {
    status_line: String,
    /// Lower-cased names but `date`, sorted.
    fields: Vec<(String, String)>,
    body: Vec<u8>,
    /// The app's `X-Mark` came with its name as the app wrote it.
    marked_as_written: bool,
    has_date: bool,
}

/// Reads one answer off `raw` (all a connection carried): its head, and
/// its body by its framing (none for HEAD).
fn read_answer(raw: &[u8], head_only: bool) -> Seen {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("a head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_string();
    let written: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_string(), v.trim().to_string()))
        .collect();
    let field = |name: &str| {
        written
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut rest = &raw[end + 4..];
    let mut body = Vec::new();
    let no_body = head_only || status_line.contains(" 204 ") || status_line.contains(" 304 ");
    if no_body {
    } else if field("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            let line = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("size line");
            let size = std::str::from_utf8(&rest[..line]).unwrap();
            let size = usize::from_str_radix(size.split(';').next().unwrap(), 16).unwrap();
            rest = &rest[line + 2..];
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
            if size == 0 {
                break;
            }
        }
    } else if let Some(len) = field("content-length") {
        body = rest[..len.parse::<usize>().unwrap()].to_vec();
    } else {
        body = rest.to_vec();
    }
    let mut fields: Vec<(String, String)> = written
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    fields.sort();
    Seen {
        status_line,
        fields,
        body,
        marked_as_written: written.iter().any(|(n, _)| n == "X-Mark"),
        has_date: field("date").is_some(),
    }
}

/// A head's request line and its fields, lower-cased and sorted.
fn normalized(head: &str) -> (String, Vec<String>) {
    let mut lines = head.trim_end().split("\r\n");
    let line = lines.next().unwrap().to_string();
    let mut fields: Vec<String> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            format!("{}:{}", n.to_ascii_lowercase(), v.trim())
        })
        .collect();
    fields.sort();
    (line, fields)
}

/// The two daemons in front of `url`: the loop's and hyper's.
fn daemons(loop_box: &Sandbox, hyper_box: &Sandbox, url: &str) -> (Daemon, Daemon) {
    let looped = loop_box.daemon_url(url, "");
    let text = config_text(url, &hyper_box.cache_dir(), "", "").replacen(
        "[server]\n",
        "[server]\naccess_log = true\n",
        1,
    );
    (looped, Daemon::start(hyper_box.dir.path(), &text))
}

fn request(method: &str, path: &str, close: bool) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: site.test\r\nUser-Agent: t\r\n\
         X-Forwarded-For: 10.0.0.1\r\nKeep-Alive: 300\r\nTE: trailers\r\n\
         Proxy-Authorization: Basic eA==\r\n{}\r\n",
        if close { "Connection: close\r\n" } else { "" }
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_loop_forwards_and_relays_what_hypers_path_does() {
    let app = ScriptedApp::start().await;
    let (loop_box, hyper_box) = (Sandbox::new(), Sandbox::new());
    let (looped, hypered) = daemons(&loop_box, &hyper_box, &app.url());
    let paths = [
        "/length",
        "/chunked",
        "/close",
        "/http10",
        "/reason",
        "/nocontent",
        "/notmodified",
        "/early",
        "/large",
        "/ambiguous",
    ];
    for path in paths {
        for method in ["GET", "HEAD"] {
            let what = format!("{method} {path}");
            let head_only = method == "HEAD";
            let raw = request(method, path, true);
            let by_loop = read_answer(
                &send_until_closed(looped.main, raw.as_bytes()).await,
                head_only,
            );
            let loop_heads = app.take_heads();
            let by_hyper = read_answer(
                &send_until_closed(hypered.main, raw.as_bytes()).await,
                head_only,
            );
            let hyper_heads = app.take_heads();

            assert_eq!(by_loop.status_line, by_hyper.status_line, "{what}");
            assert_eq!(by_loop.fields, by_hyper.fields, "{what}");
            assert_eq!(by_loop.body, by_hyper.body, "{what}");
            assert!(by_loop.has_date && by_hyper.has_date, "{what}");
            if path == "/ambiguous" {
                assert!(by_loop.status_line.starts_with("HTTP/1.1 502 "), "{what}");
                let text: &[u8] = if head_only {
                    b""
                } else {
                    b"bad upstream response\n"
                };
                assert_eq!(by_loop.body, text, "{what}");
            } else {
                assert!(by_loop.marked_as_written, "{what}: the loop relayed it");
                assert!(!by_hyper.marked_as_written, "{what}: hyper relayed it");
            }
            assert!(
                by_loop
                    .fields
                    .contains(&("connection".into(), "close".into())),
                "{what}"
            );
            // The request each sent the app.
            assert_eq!(loop_heads.len(), 1, "{what}: {loop_heads:?}");
            assert_eq!(hyper_heads.len(), 1, "{what}: {hyper_heads:?}");
            assert_eq!(
                normalized(&loop_heads[0]),
                normalized(&hyper_heads[0]),
                "{what}"
            );
        }
    }
    let (_, fields) = normalized(&app_head(&app, &looped, "/length").await);
    for expected in [
        "host:site.test",
        "x-forwarded-for:10.0.0.1, 127.0.0.1",
        "x-forwarded-proto:http",
        "x-forwarded-host:site.test",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} in {fields:?}"
        );
    }
    for gone in ["keep-alive:", "te:", "proxy-authorization:", "connection:"] {
        assert!(
            !fields.iter().any(|f| f.starts_with(gone)),
            "{gone} in {fields:?}"
        );
    }
}

/// The head the app got for one request to `path` through `d`.
async fn app_head(app: &ScriptedApp, d: &Daemon, path: &str) -> String {
    let raw = request("GET", path, true);
    send_until_closed(d.main, raw.as_bytes()).await;
    app.take_heads().pop().expect("the app got it")
}

#[tokio::test(flavor = "multi_thread")]
async fn one_app_connection_carries_a_visitors_requests_and_a_closed_one_is_replaced() {
    let app = ScriptedApp::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    // Four requests on one visitor connection: one app connection.
    let raw = [
        request("GET", "/length", false),
        request("GET", "/chunked", false),
        request("HEAD", "/length", false),
        request("GET", "/length", true),
    ]
    .concat();
    let all = send_until_closed(d.main, raw.as_bytes()).await;
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 4, "{text}");
    assert_eq!(app.take_heads().len(), 4);
    assert_eq!(app.accepted.load(Ordering::SeqCst), 1, "one app connection");

    // The app closes its end after `/drop`; the daemon finds out on the
    // next request and sends it again on a new connection, once.
    let drop = send_until_closed(d.main, request("GET", "/drop", true).as_bytes()).await;
    assert!(String::from_utf8_lossy(&drop).ends_with("drop"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.closed.load(Ordering::SeqCst) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the app closed");
        tokio::task::yield_now().await;
    }
    let before = app.accepted.load(Ordering::SeqCst);
    let again = send_until_closed(d.main, request("GET", "/length", true).as_bytes()).await;
    assert!(String::from_utf8_lossy(&again).ends_with("hello"));
    assert_eq!(
        app.accepted.load(Ordering::SeqCst),
        before + 1,
        "one new app connection"
    );
    let heads = app.take_heads();
    assert_eq!(
        heads.len(),
        2,
        "each request reached the app once: {heads:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_is_down_gets_the_502_hypers_path_gives() {
    let (loop_box, hyper_box) = (Sandbox::new(), Sandbox::new());
    let (looped, hypered) = daemons(&loop_box, &hyper_box, &dead_app());
    for method in ["GET", "HEAD"] {
        let raw = request(method, "/page", false);
        let head_only = method == "HEAD";
        let by_loop = read_answer(
            &send_until_closed(
                looped.main,
                &[
                    raw.as_bytes(),
                    b"GET /page HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                ]
                .concat(),
            )
            .await,
            head_only,
        );
        let by_hyper = read_answer(
            &send_until_closed(
                hypered.main,
                &[
                    raw.as_bytes(),
                    b"GET /page HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                ]
                .concat(),
            )
            .await,
            head_only,
        );
        assert!(
            by_loop.status_line.starts_with("HTTP/1.1 502 "),
            "{by_loop:?}"
        );
        assert_eq!(by_loop.status_line, by_hyper.status_line);
        assert_eq!(by_loop.fields, by_hyper.fields);
        assert_eq!(by_loop.body, by_hyper.body);
        if !head_only {
            assert_eq!(by_loop.body, b"upstream unavailable\n");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_the_app_drops_unanswered_is_sent_again_once() {
    let app = ScriptedApp::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    let first = send_until_closed(d.main, request("GET", "/mute", true).as_bytes()).await;
    assert!(String::from_utf8_lossy(&first).ends_with("mute"));
    // The kept connection looks fine until the request is on it; the app
    // then closes it unanswered, and the daemon sends it on a new one.
    let again = send_until_closed(d.main, request("GET", "/length", true).as_bytes()).await;
    assert!(
        String::from_utf8_lossy(&again).ends_with("hello"),
        "{again:?}"
    );
    app.wait_closes(1).await;
    assert_eq!(app.accepted.load(Ordering::SeqCst), 2);
    let heads = app.take_heads();
    assert_eq!(heads.len(), 3, "read unanswered, then answered: {heads:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_connection_with_stray_bytes_is_not_used_again() {
    let app = ScriptedApp::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    let first = send_until_closed(d.main, request("GET", "/stray", true).as_bytes()).await;
    assert!(String::from_utf8_lossy(&first).starts_with("HTTP/1.1 204 "));
    app.stray.notify_one();
    app.wait_closes(1).await;
    // The bytes came after the answer, on the connection the daemon kept:
    // the next request goes out on a new one and gets its own answer.
    let next = send_until_closed(d.main, request("GET", "/length", true).as_bytes()).await;
    let text = String::from_utf8_lossy(&next);
    assert!(
        text.starts_with("HTTP/1.1 200 ") && text.ends_with("hello"),
        "{text}"
    );
    assert_eq!(app.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_bodys_trailers_are_relayed() {
    let app = ScriptedApp::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_url(&app.url(), "");
    let raw = send_until_closed(d.main, request("GET", "/trailers", true).as_bytes()).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.ends_with("\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: t\r\n\r\n"),
        "{text}"
    );
}
