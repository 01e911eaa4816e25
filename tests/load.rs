//! Under load and hostile clients: the wait for a fetch slot is bounded
//! by `fetch_timeout`, and a page that is not kept is streamed to each
//! visitor, so clients that do not read cannot make the daemon hold
//! `max_object_size` for each of them.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::{get, Daemon, RawUpstream, Sandbox, Upstream};

#[tokio::test(flavor = "multi_thread")]
async fn the_wait_for_a_fetch_slot_counts_toward_fetch_timeout() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let text = crate::support::config_text(&up.url(), &sb.cache_dir(), "", "").replace(
        "fetch_timeout = \"5s\"",
        "fetch_timeout = \"2s\"\nmax_fetches = 1",
    );
    let d = Daemon::start(sb.dir.path(), &text);
    let main = d.main;

    // The one slot is held by a page the app is slow to answer, until
    // its own fetch_timeout.
    let slow = tokio::spawn(async move { get(main, "/_preload/slow?delay=10000", &[]).await });
    for _ in 0..500 {
        if up.count_of("/slow?delay=10000") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(up.count_of("/slow?delay=10000"), 1);

    // A page the app answers within a second: it would be a MISS two
    // seconds late (the slot wait, then the fetch) were the wait free.
    let next = get(main, "/_preload/next?delay=1000", &[]).await;
    assert_eq!(next.status, 504, "{:?}", next.headers);
    assert_eq!(next.text(), "upstream timeout\n");
    assert_eq!(slow.await.unwrap().status, 504);
}

/// The daemon's resident memory in KiB, from `/proc/PID/status`.
fn rss_kib(d: &Daemon) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Sends `GET target`, reads the response head, and then reads no more:
/// the connection is handed back open, its body left waiting. Its receive
/// buffer is small, so that what the daemon holds stays in the daemon
/// rather than in the kernel's socket buffers.
async fn open_without_reading(addr: SocketAddr, target: &str) -> TcpStream {
    let exchange = async {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(16 * 1024).expect("SO_RCVBUF");
        let mut stream = socket.connect(addr).await.expect("connect to daemon");
        let head = format!("GET {target} HTTP/1.1\r\nHost: test.local\r\n\r\n");
        stream.write_all(head.as_bytes()).await.expect("send");
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.expect("read head");
            assert!(n > 0, "closed before a head");
            seen.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&seen).to_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains("x-preload-cache: pass"), "{head}");
        stream
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("a response head within 20 s")
}

/// Clients that do not read.
const CLIENTS: usize = 16;
/// `max_object_size` in the tests below, and in KiB.
const MAX_OBJECT: &str = "8MiB";
const MAX_KIB: u64 = 8192;
/// What the daemon may grow by for all of them: the one prefix read to
/// find the page too large, and hyper's buffers (up to about 400 KiB each
/// way) per client; a quarter of a `max_object_size` each.
const BOUND_KIB: u64 = MAX_KIB + CLIENTS as u64 * 1024;

fn daemon(sb: &Sandbox, app: &RawUpstream) -> Daemon {
    let cache = format!("max_object_size = \"{MAX_OBJECT}\"");
    Daemon::start(
        sb.dir.path(),
        &crate::support::config_text(&app.url(), &sb.cache_dir(), &cache, ""),
    )
}

/// The daemon after one request of each kind, so that growth measured
/// later is the clients', not the first use of a pool.
async fn warmed(d: &Daemon) -> u64 {
    assert_eq!(
        get(d.main, "/_preload/warm?size=100", &[]).await.status,
        200
    );
    assert_eq!(get(d.main, "/warm?size=100", &[]).await.status, 200);
    rss_kib(d)
}

#[tokio::test(flavor = "multi_thread")]
async fn followers_of_an_oversized_page_get_it_streamed() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let d = daemon(&sb, &app);
    let before = warmed(&d).await;
    // 32 MiB chunked, no length: too large is found only by reading. The
    // delay lets every request join the first one's flight.
    let target = "/_preload/big?chunked=1&size=33554432&delay=500";
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(open_without_reading(d.main, target)))
        .collect();
    let mut held = Vec::new();
    for c in clients {
        held.push(c.await.unwrap());
    }
    assert_grew_less_than(&d, before, BOUND_KIB);
    // Each got a stream of its own: the leader's, and one per follower.
    assert_eq!(app.count(), 2 + CLIENTS);
}

/// The daemon's RSS grew by less than `bound` KiB since `before`, with
/// the clients still connected.
fn assert_grew_less_than(d: &Daemon, before: u64, bound: u64) {
    let grown = rss_kib(d).saturating_sub(before);
    assert!(
        grown < bound,
        "{CLIENTS} clients that do not read grew the daemon by {grown} KiB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_once_found_too_large_is_streamed_from_its_first_byte() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let d = daemon(&sb, &app);
    let before = warmed(&d).await;
    let target = "/_preload/big?chunked=1&size=33554432";
    let mut held = Vec::new();
    for _ in 0..CLIENTS {
        held.push(open_without_reading(d.main, target).await);
    }
    assert_grew_less_than(&d, before, BOUND_KIB);
    assert_eq!(app.count(), 2 + CLIENTS);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_decided_from_the_head_is_streamed_unread() {
    let app = RawUpstream::start("HTTP/1.1 200 OK").await;
    let sb = Sandbox::new();
    let d = daemon(&sb, &app);
    let before = warmed(&d).await;
    // Under max_object_size, but private: never kept, so never read whole.
    let target = "/_preload/private?chunked=1&size=8000000&cc=private";
    let mut held = Vec::new();
    for _ in 0..CLIENTS {
        held.push(open_without_reading(d.main, target).await);
    }
    assert_grew_less_than(&d, before, BOUND_KIB - MAX_KIB);
    assert_eq!(app.count(), 2 + CLIENTS);
}

/// The listen queue of the daemon's main listener as the kernel holds it
/// (`ss`: a listening socket's Send-Q is its backlog).
fn listen_queue(addr: SocketAddr) -> Option<u64> {
    let out = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{}", addr.port())])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains(&addr.to_string()))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_herd_of_fresh_connections_fits_the_listen_queue() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let Some(queue) = listen_queue(d.main) else {
        eprintln!("SKIPPED a_herd_of_fresh_connections_fits_the_listen_queue: no `ss` (iproute2)");
        return;
    };
    let somaxconn: u64 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(4096);
    // 128 (Rust's default) overflows when 200 visitors connect at once:
    // the kernel drops their SYNs and they retry a second later.
    assert_eq!(queue, somaxconn.min(1024), "the listen queue of {}", d.main);
}
