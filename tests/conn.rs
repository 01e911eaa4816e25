//! The connection loop (`src/conn`): a plain HIT is answered from
//! prepared bytes, everything else by hyper on the same connection, in the
//! order the visitor sent it. Both must answer a HIT alike.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{config_text, get, send_until_closed, Conn, Daemon, Sandbox, Upstream};

/// A response read off a connection: status, fields in order, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The fields but `Age` (a second may pass between two answers),
    /// sorted: the same set whatever the order.
    fn same_fields(&self) -> Vec<(String, String)> {
        let mut fields: Vec<_> = self
            .fields
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("age"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        fields.sort();
        fields
    }
}

/// Sends `raw` on a fresh connection and reads answers until the server
/// closes; `heads` says which requests were HEAD (their answers have no
/// body, whatever their length says).
async fn exchange(addr: SocketAddr, raw: &[u8], heads: &[bool]) -> Vec<Answer> {
    split(&send_until_closed(addr, raw).await, heads)
}

/// The answers in `buf`, one after another, by their framing.
fn split(mut buf: &[u8], heads: &[bool]) -> Vec<Answer> {
    let mut answers = Vec::new();
    while !buf.is_empty() {
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("a head in {:?}", String::from_utf8_lossy(buf)));
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let fields: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_string(), v.trim().to_string()))
            .collect();
        buf = &buf[end + 4..];
        let mut answer = Answer {
            status,
            fields,
            body: Vec::new(),
        };
        let head_only = heads.get(answers.len()).copied().unwrap_or(false);
        if answer.field("transfer-encoding") == Some("chunked") {
            loop {
                let line = buf.windows(2).position(|w| w == b"\r\n").unwrap();
                let size =
                    usize::from_str_radix(std::str::from_utf8(&buf[..line]).unwrap(), 16).unwrap();
                buf = &buf[line + 2..];
                answer.body.extend_from_slice(&buf[..size]);
                buf = &buf[size + 2..];
                if size == 0 {
                    break;
                }
            }
        } else if !head_only && answer.status != 304 {
            let len: usize = answer
                .field("content-length")
                .map_or(0, |l| l.parse().unwrap());
            answer.body = buf[..len].to_vec();
            buf = &buf[len..];
        }
        answers.push(answer);
    }
    answers
}

fn req(method: &str, target: &str, lines: &[&str]) -> String {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: test.local\r\n");
    for line in lines {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head + "\r\n"
}

/// Warms `target` (a MISS) and waits until it is kept.
async fn warm(d: &Daemon, target: &str) {
    let first = get(d.main, target, &[]).await;
    assert_eq!(first.status, 200);
    d.wait_written(target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hit_from_prepared_bytes_is_the_hit_hyper_writes() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let small = "/_preload/small?size=2048";
    let large = "/_preload/large?size=100000";
    warm(&d, small).await;
    warm(&d, large).await;
    // `If-None-Match` with a tag that matches nothing: still a 200 HIT,
    // but a request the loop leaves to hyper.
    let not_plain = "If-None-Match: \"matches-nothing\"";
    for (target, lines) in [
        (small, &[][..]),
        (small, &["Accept-Encoding: gzip, br"][..]),
        (small, &["Accept-Encoding: gzip"][..]),
        (large, &[][..]),
    ] {
        for method in ["GET", "HEAD"] {
            let plain = req(method, target, lines);
            let mut hypers: Vec<&str> = lines.to_vec();
            hypers.push(not_plain);
            let hypers = req(method, target, &hypers);
            let close = req(method, target, &[lines, &["Connection: close"]].concat());
            let raw = format!("{plain}{hypers}{close}");
            let head = method == "HEAD";
            let answers = exchange(d.main, raw.as_bytes(), &[head, head, head]).await;
            let [loop_, hyper, closing] = &answers[..] else {
                panic!("three answers, got {answers:?}");
            };
            let what = format!("{method} {target} {lines:?}");
            assert_eq!(loop_.status, 200, "{what}");
            assert_eq!(loop_.field("x-preload-cache"), Some("HIT"), "{what}");
            assert_eq!(loop_.same_fields(), hyper.same_fields(), "{what}");
            assert_eq!(loop_.body, hyper.body, "{what}");
            assert_eq!(loop_.field("age"), Some("0"), "{what}");
            // The loop writes `Age` last, hyper where the map has it: the
            // first answer came from the loop, the second from hyper.
            assert_eq!(
                loop_.fields.last().map(|(n, _)| n.as_str()),
                Some("age"),
                "{what}"
            );
            assert_ne!(
                hyper.fields.last().map(|(n, _)| n.as_str()),
                Some("age"),
                "{what}"
            );
            assert_eq!(closing.field("connection"), Some("close"), "{what}");
            assert_eq!(closing.body, loop_.body, "{what}");
            if head {
                assert!(loop_.body.is_empty(), "{what}");
            }
        }
    }
    // Every answer above was a HIT: the app saw the two warming fetches.
    assert_eq!(up.count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_connection_carries_hits_and_everything_else_in_order() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let page = "/_preload/page";
    warm(&d, page).await;
    let hit = get(d.main, page, &[]).await;
    let raw = [
        req("GET", page, &[]),
        req("GET", "/echo?first", &[]),
        req("GET", page, &[]),
        "POST /echo?second HTTP/1.1\r\nHost: test.local\r\nContent-Length: 11\r\n\r\nfield=value"
            .to_string(),
        req("HEAD", page, &[]),
        req("GET", "/_preload/cold", &[]),
        req("GET", page, &["Connection: close"]),
    ]
    .concat();
    let heads = [false, false, false, false, true, false, false];
    let answers = exchange(d.main, raw.as_bytes(), &heads).await;
    assert_eq!(answers.len(), 7, "{answers:?}");
    let text = |i: usize| String::from_utf8_lossy(&answers[i].body).into_owned();
    for i in [0, 2, 4, 6] {
        assert_eq!(
            answers[i].field("x-preload-cache"),
            Some("HIT"),
            "answer {i}"
        );
    }
    for i in [0, 2, 6] {
        assert_eq!(answers[i].body, hit.body, "answer {i}");
    }
    assert!(text(1).starts_with("GET /echo?first\n"), "{}", text(1));
    assert!(text(3).starts_with("POST /echo?second\n"), "{}", text(3));
    assert!(text(3).ends_with("\nfield=value"), "{}", text(3));
    assert_eq!(answers[5].field("x-preload-cache"), Some("MISS"));
    assert!(text(5).contains("/cold"), "{}", text(5));
    assert_eq!(answers[6].field("connection"), Some("close"));
    // The warm fetch, the two passed through and the cold page.
    assert_eq!(up.count(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_chunked_body_hyper_keeps_the_connection_and_answers_on() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let page = "/_preload/page";
    warm(&d, page).await;
    let raw = [
        req("GET", page, &[]),
        "POST /echo?chunked HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nfield\r\n6\r\n=value\r\n0\r\n\r\n"
            .to_string(),
        req("GET", page, &["Connection: close"]),
    ]
    .concat();
    let answers = exchange(d.main, raw.as_bytes(), &[false; 3]).await;
    assert_eq!(answers.len(), 3, "{answers:?}");
    let echo = String::from_utf8_lossy(&answers[1].body).into_owned();
    assert!(echo.starts_with("POST /echo?chunked\n"), "{echo}");
    assert!(echo.ends_with("\nfield=value"), "{echo}");
    assert_eq!(answers[2].field("x-preload-cache"), Some("HIT"));
    assert_eq!(answers[2].body, answers[0].body);
}

/// On one worker, a visitor that pipelines requests without a pause does
/// not keep it from the others: with a burst of HITs queued on one
/// connection and a scrape of the metrics queued just after it on another
/// (the daemon held by SIGSTOP meanwhile, so that both wait, in that
/// order, when it goes on), the scrape is answered before the burst is
/// done: it counts some of the burst's HITs, not all. The loop takes a
/// unit of the task's budget per request, and a task out of budget lets
/// the others run. Both ways a HIT is answered: by the loop, and by hyper
/// (a validator that matches nothing).
#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_pipelining_hits_lets_the_others_in() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let config_path = sb.dir.path().join("preload.toml");
    let text = config_text(&up.url(), &sb.cache_dir(), "", "");
    std::fs::write(&config_path, text).unwrap();
    let d = Daemon::start_env(&config_path, None, &[("TOKIO_WORKER_THREADS", "1")]);
    let page = "/_preload/page";
    warm(&d, page).await;
    let hits = "preloadd_requests_total{result=\"hit\"}";
    for lines in [&[][..], &["If-None-Match: \"matches-nothing\""][..]] {
        // Each connection's task waits for its next request, the visitor's
        // after a HIT, the other's after a health check.
        let mut visitor = Conn::open(d.main).await;
        let first = visitor.get_with(page, lines).await.expect("an answer");
        assert_eq!(first.cache(), "HIT");
        let mut other = Conn::open(crate::support::webhook::admin(&d)).await;
        let health = other.get("/_preloadd/health").await.expect("an answer");
        assert_eq!(health.status, 200);
        let before = crate::support::metrics::scrape(&d).await.get(hits);

        // Small enough to wait whole in the socket while the daemon is
        // stopped; several times the budget (128).
        let burst = 600;
        let last = [lines, &["Connection: close"]].concat();
        let raw = req("GET", page, lines).repeat(burst - 1) + &req("GET", page, &last);
        let scrape = req("GET", "/_preloadd/metrics", &["Connection: close"]);
        d.signal("STOP");
        let stopped = crate::support::webhook::eventually(|| d.is_stopped());
        assert!(stopped.await, "the daemon stopped");
        let queued = tokio::time::timeout(Duration::from_secs(10), async {
            visitor.send(raw.as_bytes()).await?;
            other.send(scrape.as_bytes()).await
        })
        .await;
        d.signal("CONT");
        queued.expect("both queued within 10 s").unwrap();

        let scraped = other.rest().await.unwrap();
        let scraped = &split(&scraped, &[])[0];
        assert_eq!(scraped.status, 200);
        let text = String::from_utf8_lossy(&scraped.body).into_owned();
        let counted = crate::support::metrics::parse(&text).get(hits) - before;
        let answers = tokio::time::timeout(Duration::from_secs(30), visitor.rest())
            .await
            .expect("the burst answered within 30 s")
            .unwrap();
        let answers = split(&answers, &[]);
        assert_eq!(answers.len(), burst, "{lines:?}");
        assert!(
            answers
                .iter()
                .all(|a| a.field("x-preload-cache") == Some("HIT")),
            "{lines:?}"
        );
        // The burst went first, and the scrape came before its end.
        assert!(counted > 0.0, "{lines:?}: the scrape went first");
        assert!(
            counted < burst as f64,
            "{lines:?}: the scrape waited for the whole burst ({counted} HITs)"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_sent_too_slowly_or_never_closes_the_connection_at_header_timeout() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let text = config_text(&up.url(), &sb.cache_dir(), "", "")
        .replace("[server]\n", "[server]\nheader_timeout = \"1s\"\n");
    let d = Daemon::start(sb.dir.path(), &text);
    let page = "/_preload/page";
    warm(&d, page).await;
    let closed_within = |mut stream: TcpStream| async move {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
            .await
            .expect("closed by the daemon within 10 s")
            .expect("read");
        rest
    };
    // Idle after a HIT answered on it.
    let mut idle = TcpStream::connect(d.main).await.unwrap();
    idle.write_all(req("GET", page, &[]).as_bytes())
        .await
        .unwrap();
    let after_hit = closed_within(idle).await;
    let answers = split(&after_hit, &[false]);
    assert_eq!(answers.len(), 1, "the HIT, then the close");
    // Part of a head, never finished.
    let mut partial = TcpStream::connect(d.main).await.unwrap();
    partial
        .write_all(b"GET /_preload/page HTTP/1.1\r\nHo")
        .await
        .unwrap();
    assert!(closed_within(partial).await.is_empty());
    // Idle from the start.
    let silent = TcpStream::connect(d.main).await.unwrap();
    assert!(closed_within(silent).await.is_empty());
    assert_eq!(up.count(), 1);
}
