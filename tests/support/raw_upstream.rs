//! An app written on a raw socket, for what a hyper app never does: answer
//! in HTTP/1.0 the way `python3 -m http.server` does (one request per
//! connection, then close), and send no `Date`. It counts every request
//! and behaves as its query string asks:
//!
//! - `nolength=1`: no `Content-Length`; the body ends when the app closes
//! - `size=N`: a body of N bytes, written in pieces
//! - `date=VALUE`: send that `Date` (else none)
//! - `chunked=1`: the body chunked (`Transfer-Encoding: chunked`)
//! - `length=N`: send `Content-Length: N` whatever the body's framing
//!   (with `chunked=1`, the ambiguous answer RFC 9112 §6.3 warns of)
//! - `delay=MS`: answer after MS milliseconds
//! - `cc=VALUE`: send that `Cache-Control`
//! - `small_after=N`: once N requests were answered, a body of 100 bytes
//!   whatever `size` says (a page that shrank)
//!
//! The status line is the one given to [`RawUpstream::start`], so the same
//! app also speaks HTTP/1.1 without a `Date`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::sized_body;
use super::upstream::percent_decode;

/// The largest request head read; the tests send small ones.
const MAX_HEAD: usize = 16 * 1024;

pub struct RawUpstream {
    pub addr: SocketAddr,
    count: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl RawUpstream {
    /// Answers every request with `status_line` (e.g. `HTTP/1.0 200 OK`).
    pub async fn start(status_line: &'static str) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind raw upstream");
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let task_count = Arc::clone(&count);
        let task = tokio::spawn(async move {
            // Dropping the upstream aborts this task and its connections.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                while connections.try_join_next().is_some() {}
                let count = Arc::clone(&task_count);
                connections.spawn(async move {
                    let bounded = tokio::time::timeout(
                        Duration::from_secs(10),
                        answer(stream, status_line, &count),
                    );
                    let _ = bounded.await;
                });
            }
        });
        RawUpstream { addr, count, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A body to write in pieces of 4 KiB. A sized one is made as it is
/// written, so that many large answers at once cost the test little.
enum Pieces {
    Text(Vec<u8>),
    Sized(usize),
}

const PIECE: usize = 4096;

impl Pieces {
    fn len(&self) -> usize {
        match self {
            Pieces::Text(text) => text.len(),
            Pieces::Sized(size) => *size,
        }
    }

    fn pieces(&self) -> Box<dyn Iterator<Item = &[u8]> + Send + '_> {
        match self {
            Pieces::Text(text) => Box::new(text.chunks(PIECE)),
            Pieces::Sized(size) => {
                // `a..z` repeated: a piece starting at `offset` is a slice of
                // the pattern from `offset % 26`.
                static PATTERN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
                let pattern = PATTERN.get_or_init(|| sized_body(PIECE + 26));
                Box::new((0..*size).step_by(PIECE).map(move |offset| {
                    let start = offset % 26;
                    &pattern[start..start + PIECE.min(size - offset)]
                }))
            }
        }
    }
}

/// Reads one request head, answers it, and closes the connection.
async fn answer(mut stream: TcpStream, status_line: &str, count: &AtomicUsize) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_HEAD {
            return;
        }
    }
    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
    let head = String::from_utf8_lossy(&head);
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let query = |name: &str| {
        target
            .split_once('?')
            .map_or("", |(_, q)| q)
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode(v))
    };
    let shrunk = query("small_after")
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|after| n > after);
    let size = query("size").and_then(|v| v.parse().ok());
    let body = match size.map(|size| if shrunk { 100 } else { size }) {
        Some(size) => Pieces::Sized(size),
        None => Pieces::Text(format!("<html>raw {target} #{n}</html>\n").into_bytes()),
    };
    if let Some(ms) = query("delay").and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let chunked = query("chunked").is_some();
    let mut out = format!("{status_line}\r\nContent-Type: text/html\r\n");
    if let Some(date) = query("date") {
        out.push_str(&format!("Date: {date}\r\n"));
    }
    if let Some(cc) = query("cc") {
        out.push_str(&format!("Cache-Control: {cc}\r\n"));
    }
    if let Some(length) = query("length") {
        out.push_str(&format!("Content-Length: {length}\r\n"));
    } else if query("nolength").is_none() && !chunked {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if chunked {
        out.push_str("Transfer-Encoding: chunked\r\n");
    }
    out.push_str("\r\n");
    if stream.write_all(out.as_bytes()).await.is_err() {
        return;
    }
    // In pieces, as an app writing a page as it renders it would.
    for piece in body.pieces() {
        let written = if chunked {
            let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
            framed.extend_from_slice(piece);
            framed.extend_from_slice(b"\r\n");
            stream.write_all(&framed).await
        } else {
            stream.write_all(piece).await
        };
        if written.is_err() {
            return;
        }
    }
    if chunked && stream.write_all(b"0\r\n\r\n").await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
}
