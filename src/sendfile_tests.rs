//! `Conn` under a real hyper server on loopback. In production the bytes
//! in memory equal the file's; here they differ on purpose, so that each
//! test can tell which path every byte took.

use std::io::Write as _;
use std::time::Duration;

use http::Response;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use bytes::Bytes;

use super::*;
use crate::body::Body;
use crate::store::{FileBudget, KEEP_OPEN_MIN};

const LIMIT: Duration = Duration::from_secs(20);

/// A held temp file with `content`, whose body starts at `offset`.
fn held(content: &[u8], offset: u64) -> Arc<HeldFile> {
    let mut file = tempfile::tempfile().expect("tempfile");
    file.write_all(content).expect("write");
    FileBudget::new(4)
        .hold(file, KEEP_OPEN_MIN, vec![offset])
        .expect("held")
}

/// Serves `body` on one connection, for every request on it, with the
/// connection's spans filled as `server.rs` fills them.
async fn serve(body: FileBody) -> (std::net::SocketAddr, Spans) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let spans = Spans::default();
    let conn_spans = spans.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let service_spans = conn_spans.clone();
        let service = service_fn(move |_req| {
            service_spans.offer(&body);
            let res = Response::new(Body::File(Some(body.clone())));
            async move { Ok::<_, std::convert::Infallible>(res) }
        });
        let _ = http1::Builder::new()
            .writev(true)
            .serve_connection(Conn::new(stream, conn_spans), service)
            .await;
    });
    (addr, spans)
}

/// GETs `/` with `Connection: close`, reading slowly at first when `slow`;
/// returns the body.
async fn fetch(addr: std::net::SocketAddr, slow: bool) -> Vec<u8> {
    let run = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .expect("send");
        let mut out = Vec::new();
        if slow {
            // Let the socket buffers fill so that sendfile sends part of the
            // body and has to wait for the socket to be writable again.
            let mut chunk = [0u8; 4096];
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let n = stream.read(&mut chunk).await.expect("read");
                out.extend_from_slice(&chunk[..n]);
            }
        }
        stream.read_to_end(&mut out).await.expect("read");
        out
    };
    let raw = tokio::time::timeout(LIMIT, run).await.expect("in time");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let body = raw[end + 4..].to_vec();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .expect("content-length");
    assert_eq!(length.parse::<usize>().expect("number"), body.len());
    body
}

fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8 ^ salt).collect()
}

#[test]
fn find_matches_slices_inside_a_span_only() {
    let bytes = Bytes::from(vec![7u8; 100]);
    let span = FileBody {
        bytes: bytes.clone(),
        file: held(&[0; 10], 0),
        offset: 1000,
    };
    let spans = [span];
    assert_eq!(find(&spans, &bytes), Some((0, 1000)));
    assert_eq!(find(&spans, &bytes[40..60]), Some((0, 1040)));
    assert_eq!(find(&spans, &bytes[99..]), Some((0, 1099)));
    assert_eq!(find(&spans, &bytes[100..]), None, "empty slices are plain");
    let other = vec![7u8; 100];
    assert_eq!(find(&spans, &other), None, "same content, other memory");
}

#[tokio::test]
async fn a_registered_body_goes_from_the_file() {
    let n = 64 * 1024;
    let mut file = vec![b'-'; 300];
    file.extend(pattern(n, 0));
    let body = FileBody {
        bytes: Bytes::from(pattern(n, 0xff)),
        file: held(&file, 300),
        offset: 300,
    };
    let (addr, spans) = serve(body).await;
    let got = fetch(addr, false).await;
    assert!(got == pattern(n, 0), "every byte came from the file");
    assert!(spans.is_empty(), "a span sent to its end is dropped");
}

#[tokio::test]
async fn a_large_body_to_a_slow_reader_arrives_whole_and_in_order() {
    let n = 8 << 20;
    let body = FileBody {
        bytes: Bytes::from(pattern(n, 0xff)),
        file: held(&pattern(n, 0), 0),
        offset: 0,
    };
    let (addr, spans) = serve(body).await;
    let got = fetch(addr, true).await;
    assert_eq!(got.len(), n);
    assert!(
        got == pattern(n, 0),
        "every byte came from the file, in order"
    );
    assert!(spans.is_empty());
}

#[tokio::test]
async fn a_file_shorter_than_its_span_falls_back_to_memory() {
    let n = 32 * 1024;
    // The file ends 1,000 bytes into the body: sendfile sends those, then
    // returns 0, and the rest must come from memory with no gap or hang.
    let file = pattern(1000, 0);
    let memory = pattern(n, 0xff);
    let body = FileBody {
        bytes: Bytes::from(memory.clone()),
        file: held(&file, 0),
        offset: 0,
    };
    let (addr, spans) = serve(body).await;
    let got = fetch(addr, false).await;
    assert_eq!(got.len(), n);
    assert!(got[..1000] == file[..], "the part the file had");
    assert!(got[1000..] == memory[1000..], "the rest from memory");
    assert!(spans.is_empty(), "the failed span is dropped");
}

#[test]
fn spans_are_bounded() {
    let spans = Spans::default();
    let body = FileBody {
        bytes: Bytes::from(vec![1u8; 10]),
        file: held(&[1; 10], 0),
        offset: 0,
    };
    for _ in 0..3 * MAX_SPANS {
        spans.offer(&body);
    }
    assert_eq!(spans.len(), MAX_SPANS);
}
