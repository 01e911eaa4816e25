//! The admin client against a one-request fake daemon on 127.0.0.1:0, and
//! the flags of `preloadd invalidate`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;

use clap::Parser;

use super::*;

fn config(extra: &str) -> Config {
    let text = format!("[upstream]\nurl = \"http://127.0.0.1:8000\"\n{extra}");
    match config::from_str(Path::new("preload.toml"), &text, None) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

/// Accepts one connection, answers it with `status_line` and `body`, and
/// hands back the request it read.
fn fake_daemon(status_line: &str, body: &str) -> (SocketAddr, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let response = format!(
        "HTTP/1.1 {status_line}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let request = read_request(&mut stream);
        stream.write_all(response.as_bytes()).expect("write");
        request
    });
    (addr, handle)
}

fn read_request(stream: &mut std::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).expect("read");
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + len {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn post(target: &AdminTarget, body: &serde_json::Value) -> Result<(u16, String), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(post_json(target, &target.path, body))
}

fn target(addr: SocketAddr, token: Option<&str>) -> AdminTarget {
    AdminTarget {
        addr,
        token: token.map(str::to_string),
        path: "/_invalidate".to_string(),
    }
}

#[test]
fn target_comes_from_the_config() {
    let c = config("[invalidate]\ntoken = \"s3cret\"\npath = \"/hooks/drop\"\n");
    let t = AdminTarget::from_config(&c).expect("target");
    assert_eq!(
        t,
        AdminTarget {
            addr: "127.0.0.1:8081".parse().expect("addr"),
            token: Some("s3cret".to_string()),
            path: "/hooks/drop".to_string(),
        }
    );
}

#[test]
fn unspecified_admin_address_is_reached_through_loopback() {
    let c = config("[server]\nadmin_listen = \"0.0.0.0:9001\"\n[invalidate]\ntoken = \"t\"\n");
    let t = AdminTarget::from_config(&c).expect("target");
    assert_eq!(
        t.addr,
        "127.0.0.1:9001".parse::<SocketAddr>().expect("addr")
    );
    assert_eq!(
        connectable("[::]:9002".parse().expect("addr")),
        "[::1]:9002".parse().expect("addr")
    );
    let other = "10.0.0.1:9003".parse().expect("addr");
    assert_eq!(connectable(other), other);
}

#[test]
fn disabled_admin_listener_is_a_usage_error() {
    let c = config("[server]\nadmin_listen = \"\"\n");
    let e = AdminTarget::from_config(&c).expect_err("disabled");
    assert!(matches!(e, Error::Usage(_)));
    assert!(
        e.to_string()
            .starts_with("the admin listener is disabled (server.admin_listen = \"\")"),
        "{e}"
    );
}

#[test]
fn posts_json_with_the_bearer_token() {
    let (addr, daemon) = fake_daemon("200 OK", "{\"invalidated\": 3}\n");
    let body = serde_json::json!({"tags": ["a"], "all": false});
    let (status, reply) = post(&target(addr, Some("s3cret")), &body).expect("exchange");
    assert_eq!((status, reply.as_str()), (200, "{\"invalidated\": 3}\n"));
    let request = daemon.join().expect("daemon");
    assert!(
        request.starts_with("POST /_invalidate HTTP/1.1\r\n"),
        "{request}"
    );
    let lower = request.to_ascii_lowercase();
    assert!(
        lower.contains("\r\nauthorization: bearer s3cret\r\n"),
        "{request}"
    );
    assert!(
        lower.contains("\r\ncontent-type: application/json\r\n"),
        "{request}"
    );
    assert!(request.ends_with(&body.to_string()), "{request}");
}

#[test]
fn no_token_no_authorization_header() {
    let (addr, daemon) = fake_daemon("200 OK", "{\"invalidated\": 0}");
    post(&target(addr, None), &serde_json::json!({"all": true})).expect("exchange");
    let request = daemon.join().expect("daemon").to_ascii_lowercase();
    assert!(!request.contains("authorization"), "{request}");
}

#[test]
fn other_statuses_are_returned_not_failed() {
    let (addr, daemon) = fake_daemon("401 Unauthorized", "missing or wrong token\nmore\n");
    let (status, reply) = post(&target(addr, None), &serde_json::json!({})).expect("exchange");
    assert_eq!(status, 401);
    assert_eq!(reply, "missing or wrong token\nmore\n");
    daemon.join().expect("daemon");
}

#[test]
fn refused_connection_says_the_daemon_may_not_run() {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let e = post(&target(addr, None), &serde_json::json!({})).expect_err("refused");
    let msg = e.to_string();
    assert!(matches!(e, Error::Runtime(_)));
    assert!(
        msg.starts_with(&format!(
            "cannot reach the daemon's admin listener at {addr}: "
        )),
        "{msg}"
    );
    assert!(msg.ends_with("(is it running?)"), "{msg}");
}

#[test]
fn reply_of_200_gives_the_count() {
    let reply = invalidated_reply(200, "{\"invalidated\": 12}", true).expect("count");
    assert_eq!(reply.invalidated, 12);
    assert_eq!(reply.line(), "invalidated 12");
    let e = invalidated_reply(200, "ok", true).expect_err("not JSON");
    assert!(
        e.to_string()
            .starts_with("invalidate: unexpected reply from the daemon"),
        "{e}"
    );
}

#[test]
fn the_clusters_part_of_the_reply_is_said() {
    let line = |cluster: &str| {
        let reply = format!("{{\"invalidated\": 3, \"cluster\": \"{cluster}\"}}");
        invalidated_reply(200, &reply, true).expect("reply").line()
    };
    assert_eq!(line("ok"), "invalidated 3; sent to the cluster");
    assert_eq!(
        line("pending"),
        "invalidated 3; the cluster's copy waits in the outbox until Redis answers"
    );
    assert_eq!(
        line("failed"),
        "invalidated 3 on this node only; the other nodes were not told (see the daemon's log)"
    );
}

#[test]
fn other_statuses_become_one_line() {
    let e =
        invalidated_reply(401, "\nmissing or wrong token\nsecond line\n", true).expect_err("401");
    assert!(matches!(e, Error::Runtime(_)));
    assert_eq!(
        e.to_string(),
        "invalidate: HTTP 401: missing or wrong token"
    );
    let e = invalidated_reply(401, "missing token", false).expect_err("401");
    assert_eq!(
        e.to_string(),
        "invalidate: HTTP 401: missing token (no token configured here: set [invalidate] token or $PRELOADD_TOKEN)"
    );
    assert_eq!(
        invalidated_reply(502, "", true)
            .expect_err("502")
            .to_string(),
        "invalidate: HTTP 502"
    );
    let long = "x".repeat(1000);
    let e = invalidated_reply(400, &long, true)
        .expect_err("400")
        .to_string();
    assert_eq!(e.len(), "invalidate: HTTP 400: ".len() + MAX_QUOTED);
}

#[test]
fn invalidate_end_to_end_against_the_configured_listener() {
    let (addr, daemon) = fake_daemon("200 OK", "{\"invalidated\": 2}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("preload.toml");
    let text = format!(
        "[server]\nadmin_listen = \"{addr}\"\n[upstream]\nurl = \"http://127.0.0.1:8000\"\n[invalidate]\ntoken = \"tok\"\n"
    );
    std::fs::write(&path, text).expect("write config");
    let sel = Selector {
        tags: vec!["news".into()],
        soft: true,
        ..Selector::default()
    };
    // PRELOADD_TOKEN, if the environment running the tests has one, would
    // override the file's token; only the body is asserted here.
    invalidate(&path, &sel).expect("invalidate");
    let request = daemon.join().expect("daemon");
    let body = request.split("\r\n\r\n").nth(1).expect("body");
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(
        json,
        serde_json::json!({"tags": ["news"], "urls": [], "prefixes": [], "all": false, "soft": true})
    );
}

#[test]
fn invalidate_naming_nothing_is_a_usage_error() {
    let e = invalidate(Path::new("/nonexistent/preload.toml"), &Selector::default())
        .expect_err("empty");
    assert!(matches!(e, Error::Usage(_)), "{e}");
}

/// `preloadd invalidate` as its own command, for parsing its flags.
#[derive(Debug, Parser)]
struct Cmd {
    #[command(flatten)]
    args: InvalidateArgs,
}

fn flags(argv: &[&str]) -> Result<Selector, clap::Error> {
    Cmd::try_parse_from(std::iter::once("invalidate").chain(argv.iter().copied()))
        .map(|c| c.args.selector())
}

#[test]
fn flags_make_the_selector_models_as_tags() {
    let sel = flags(&[
        "--tag", "a", "--model", "app.M", "--tag", " ", "--url", "/e/?p=2", "--prefix", "/n/",
        "--soft",
    ])
    .expect("parse");
    assert_eq!(
        sel,
        Selector {
            all: false,
            tags: vec!["a".into(), "app.M".into()],
            urls: vec!["/e/?p=2".into()],
            prefixes: vec!["/n/".into()],
            soft: true,
        }
    );
    assert!(flags(&["--all"]).expect("parse").all);
}

#[test]
fn flags_naming_nothing_are_refused() {
    for argv in [&[][..], &["--soft"][..]] {
        let e = flags(argv).expect_err("nothing named");
        assert_eq!(
            e.kind(),
            clap::error::ErrorKind::MissingRequiredArgument,
            "{e}"
        );
    }
}
