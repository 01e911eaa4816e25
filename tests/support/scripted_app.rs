//! An app on a raw socket for the loop's pass-through tests
//! (`tests/conn_pass.rs`): each path has fixed answer bytes, framed in
//! every way an app frames them, some of them broken on purpose; the app
//! keeps the request heads it read and counts its connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An app on a raw socket that answers each path with fixed bytes and
/// keeps every request head it read.
pub struct ScriptedApp {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    pub accepted: Arc<AtomicUsize>,
    /// Connections the app closed after answering on them (and stray
    /// writes made).
    pub closed: Arc<AtomicUsize>,
    /// Lets the bytes after a `/stray` answer go.
    pub stray: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

/// The answer to `path`, and whether the app closes the connection after it.
fn canned(path: &str) -> (Vec<u8>, bool) {
    let text = |s: &str| s.as_bytes().to_vec();
    match path {
        "/length" => (
            text(
                "HTTP/1.1 200 OK\r\nX-Mark: 1\r\nContent-Length: 5\r\nKeep-Alive: timeout=5\r\n\
                 Connection: keep-alive, X-Secret\r\nX-Secret: s\r\nX-Preload-Tags: t1\r\n\
                 Proxy-Authenticate: Basic\r\n\r\nhello",
            ),
            false,
        ),
        "/chunked" => (
            text(
                "HTTP/1.1 200 OK\r\nX-Mark: 1\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5;e=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            ),
            false,
        ),
        "/trailers" => (
            text(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                 2\r\nok\r\n0\r\nX-Trailer: t\r\n\r\n",
            ),
            false,
        ),
        "/close" => (
            text("HTTP/1.1 200 OK\r\nX-Mark: 1\r\nConnection: close\r\n\r\nuntil the close"),
            true,
        ),
        "/http10" => (
            text("HTTP/1.0 200 OK\r\nX-Mark: 1\r\n\r\nan HTTP/1.0 body"),
            true,
        ),
        "/reason" => (
            text("HTTP/1.1 299 Fine Thanks\r\nX-Mark: 1\r\nContent-Length: 0\r\n\r\n"),
            false,
        ),
        "/nocontent" => (text("HTTP/1.1 204 No Content\r\nX-Mark: 1\r\n\r\n"), false),
        "/notmodified" => (
            text("HTTP/1.1 304 Not Modified\r\nX-Mark: 1\r\nETag: \"e\"\r\n\r\n"),
            false,
        ),
        "/early" => (
            text(
                "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
                 HTTP/1.1 200 OK\r\nX-Mark: 1\r\nContent-Length: 2\r\n\
                 Date: Thu, 03 Dec 2026 05:00:00 GMT\r\n\r\nok",
            ),
            false,
        ),
        "/large" => {
            let body: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
            let mut raw = format!(
                "HTTP/1.1 200 OK\r\nX-Mark: 1\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            raw.extend_from_slice(&body);
            (raw, false)
        }
        "/ambiguous" => (
            text(
                "HTTP/1.1 200 OK\r\nX-Mark: 1\r\nContent-Length: 3\r\n\
                 Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            ),
            true,
        ),
        // Kept alive as far as the answer says, then closed at once: what
        // an app with a short keep-alive timeout does.
        "/drop" => (
            text("HTTP/1.1 200 OK\r\nX-Mark: 1\r\nContent-Length: 4\r\n\r\ndrop"),
            true,
        ),
        // Kept alive, but the next request on the connection is read and
        // the connection closed without an answer (`serve`).
        "/mute" => (
            text("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nmute"),
            false,
        ),
        // A broken app: bytes after a 204, a moment later (`serve`).
        "/stray" => (text("HTTP/1.1 204 No Content\r\n\r\n"), false),
        _ => (
            text("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            false,
        ),
    }
}

impl ScriptedApp {
    pub async fn start() -> ScriptedApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let stray = Arc::new(tokio::sync::Notify::new());
        let st = Arc::clone(&stray);
        let (h, a, c) = (
            Arc::clone(&heads),
            Arc::clone(&accepted),
            Arc::clone(&closed),
        );
        let task = tokio::spawn(async move {
            // Dropping the app aborts this task and its connections.
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let (h, c, st) = (Arc::clone(&h), Arc::clone(&c), Arc::clone(&st));
                conns.spawn(async move {
                    let serving = serve(stream, h, c, st);
                    let _ = tokio::time::timeout(Duration::from_secs(20), serving).await;
                });
            }
        });
        ScriptedApp {
            addr,
            heads,
            accepted,
            closed,
            stray,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn take_heads(&self) -> Vec<String> {
        std::mem::take(&mut *self.heads.lock().unwrap())
    }

    /// Waits until the app has counted `n` closes (or stray writes).
    pub async fn wait_closes(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.closed.load(Ordering::SeqCst) < n {
            assert!(tokio::time::Instant::now() < deadline, "the app got there");
            tokio::task::yield_now().await;
        }
    }
}

impl Drop for ScriptedApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    heads: Arc<Mutex<Vec<String>>>,
    closed: Arc<AtomicUsize>,
    stray: Arc<tokio::sync::Notify>,
) {
    let mut buf = Vec::new();
    let mut mute = false;
    loop {
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut more = [0u8; 4096];
            match stream.read(&mut more).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&more[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let path = head.split(' ').nth(1).unwrap_or("/").to_string();
        let head_only = head.starts_with("HEAD ");
        heads.lock().unwrap().push(head);
        if mute {
            closed.fetch_add(1, Ordering::SeqCst);
            return;
        }
        mute = path == "/mute";
        let (mut answer, close) = canned(&path);
        if head_only {
            // The last head only: no body after it.
            let last = answer
                .windows(7)
                .rposition(|w| w == b"HTTP/1.")
                .unwrap_or(0);
            let end = answer[last..].windows(4).position(|w| w == b"\r\n\r\n");
            answer.truncate(last + end.map_or(answer.len() - last, |e| e + 4));
        }
        if stream.write_all(&answer).await.is_err() {
            return;
        }
        if close {
            let _ = stream.shutdown().await;
            closed.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if path == "/stray" {
            // Once the daemon has relayed the 204 (the visitor read it).
            stray.notified().await;
            if stream.write_all(b"junk").await.is_err() {
                return;
            }
            closed.fetch_add(1, Ordering::SeqCst);
        }
    }
}
