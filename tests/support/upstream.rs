//! A real upstream app for the tests: a hyper server on 127.0.0.1:0 that
//! counts every request it gets and behaves as its query string asks:
//!
//! - `delay=MS`: answer after MS milliseconds
//! - `hold=1`: answer only once [`Upstream::release`] is called (a request
//!   held in flight for as long as the test needs)
//! - `status=N`: answer with status N
//! - `cc=VALUE` / `cdn=VALUE`: send `Cache-Control` / `CDN-Cache-Control`
//! - `cookie=1`: send a Set-Cookie
//! - `vary=VALUE`: send `Vary`
//! - `tags=a,b`: send `X-Preload-Tags`, percent-decoded to bytes (so
//!   `caf%C3%A9` is UTF-8 and `%FF` a byte that is not)
//! - `tabtags=a,b`: send `X-Preload-Tags: a<TAB>b` (a target cannot hold
//!   a tab, even percent-encoded)
//! - `ntags=N`: send N tags `t0 t1 ...`, 1,000 to an `X-Preload-Tags` line;
//!   `tagsize=L` pads each name to L characters
//! - `size=N`: a body of N bytes
//! - `etag=VALUE`, `lm=VALUE`, `age=N`, `location=V`, `date=VALUE`: send
//!   those headers (without `date`, hyper sends the current time)
//! - `poststatus=N`: the status for any method but GET and HEAD
//! - `ct=VALUE`: that `Content-Type` instead of text/html
//! - `ce=gzip`: the body gzipped, with `Content-Encoding: gzip`
//!
//! `/echo` answers with the request's method, headers and body, one per
//! line; `/ws` accepts an upgrade and echoes bytes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Default)]
pub struct Seen {
    pub count: AtomicUsize,
    /// Requests by path and query.
    pub targets: Mutex<HashMap<String, usize>>,
    /// Headers of every request, in order.
    pub headers: Mutex<Vec<http::HeaderMap>>,
    /// What `hold=1` answers wait for.
    pub gate: Gate,
    /// The connections the app accepted, and those still open.
    pub conns: Arc<Conns>,
}

/// An app's connections: accepted so far, and open now.
#[derive(Default)]
pub struct Conns {
    pub accepted: AtomicUsize,
    pub open: AtomicUsize,
}

/// Closed by [`Upstream::release`]; until then `hold=1` answers wait.
pub struct Gate(tokio::sync::Semaphore);

impl Default for Gate {
    fn default() -> Gate {
        Gate(tokio::sync::Semaphore::new(0))
    }
}

pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Upstream {
        let listener = TcpListener::bind(addr).await.expect("bind upstream");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let task_seen = Arc::clone(&seen);
        let conns = Arc::clone(&seen.conns);
        let task = serve_http_counted(listener, conns, move |req| {
            let seen = Arc::clone(&task_seen);
            async move { answer(req, &seen).await }
        });
        Upstream { addr, seen, task }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.seen.conns.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.seen.conns.open.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.seen.count.load(Ordering::SeqCst)
    }

    /// Requests received for one path-and-query.
    pub fn count_of(&self, target: &str) -> usize {
        *self.seen.targets.lock().unwrap().get(target).unwrap_or(&0)
    }

    /// Lets every `hold=1` answer go, those waiting and those to come.
    pub fn release(&self) {
        self.seen.gate.0.close();
    }

    pub fn last_headers(&self) -> http::HeaderMap {
        self.seen
            .headers
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn query_map(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

pub fn percent_decode(v: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(v)).into_owned()
}

/// The bytes `v` percent-decodes to, valid UTF-8 or not.
pub fn percent_decode_bytes(v: &str) -> Vec<u8> {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// `ntags=N` (`tagsize=L`): the field lines of N distinct tag names.
fn many_tags(q: &HashMap<String, String>) -> Vec<String> {
    let Some(n) = q.get("ntags").and_then(|v| v.parse::<usize>().ok()) else {
        return Vec::new();
    };
    let size = q
        .get("tagsize")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let names: Vec<String> = (0..n)
        .map(|i| format!("{:x<size$}", format!("t{i}")))
        .collect();
    names.chunks(1000).map(|c| c.join(" ")).collect()
}

async fn answer(mut req: Request<Incoming>, seen: &Seen) -> Response<Full<Bytes>> {
    seen.count.fetch_add(1, Ordering::SeqCst);
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    *seen
        .targets
        .lock()
        .unwrap()
        .entry(target.clone())
        .or_default() += 1;
    seen.headers.lock().unwrap().push(req.headers().clone());
    let q = query_map(&req);

    if req.uri().path() == "/ws" {
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 1024];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        return Response::builder()
            .status(101)
            .header("connection", "upgrade")
            .header("upgrade", "echo")
            .body(Full::new(Bytes::new()))
            .unwrap();
    }
    if q.contains_key("hold") {
        // No permit is ever added: this returns once the gate is closed.
        let _ = seen.gate.0.acquire().await;
    }
    if let Some(ms) = q.get("delay").and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if req.uri().path() == "/echo" {
        let mut text = format!("{} {}\n", req.method(), target);
        for (name, value) in req.headers() {
            text.push_str(&format!(
                "{}: {}\n",
                name,
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(&body));
        return Response::builder()
            .header("content-type", "text/plain")
            .header("set-cookie", "session=abc")
            .body(Full::new(Bytes::from(text)))
            .unwrap();
    }

    let n = seen.count.load(Ordering::SeqCst);
    let mut body = match q.get("size").and_then(|v| v.parse::<usize>().ok()) {
        Some(size) => Bytes::from(super::sized_body(size)),
        None => Bytes::from(format!("<html>page {target} #{n}</html>\n")),
    };
    if q.get("ce").map(String::as_str) == Some("gzip") {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&body).unwrap();
        body = Bytes::from(enc.finish().unwrap());
    }
    let unsafe_method = req.method() != http::Method::GET && req.method() != http::Method::HEAD;
    let status_param = if unsafe_method && q.contains_key("poststatus") {
        "poststatus"
    } else {
        "status"
    };
    let mut res = Response::builder()
        .status(
            q.get(status_param)
                .and_then(|s| s.parse::<u16>().ok())
                .unwrap_or(200),
        )
        .header(
            "content-type",
            q.get("ct")
                .map_or("text/html; charset=utf-8", String::as_str),
        );
    let headers = [
        ("ce", "content-encoding"),
        ("cc", "cache-control"),
        ("cdn", "cdn-cache-control"),
        ("vary", "vary"),
        ("etag", "etag"),
        ("lm", "last-modified"),
        ("age", "age"),
        ("location", "location"),
        ("date", "date"),
    ];
    for (param, header) in headers {
        if let Some(v) = q.get(param) {
            res = res.header(header, v.as_str());
        }
    }
    // The tags as bytes: the app may send names that are not ASCII.
    let raw_tags = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("tags="))
        .map(percent_decode_bytes);
    for value in raw_tags {
        res = res.header(
            "x-preload-tags",
            http::HeaderValue::from_bytes(&value).unwrap(),
        );
    }
    if let Some(names) = q.get("tabtags") {
        res = res.header("x-preload-tags", names.replace(',', "\t"));
    }
    for line in many_tags(&q) {
        res = res.header("x-preload-tags", line);
    }
    if q.contains_key("cookie") {
        res = res.header("set-cookie", "id=1; Path=/");
    }
    res.body(Full::new(body)).unwrap()
}

/// Serves HTTP/1.1 (upgrades allowed) on `listener`, each request answered
/// by `handle`, until the task is aborted. Connections live in the task's
/// set: aborting it (dropping the server) closes them too, so pooled
/// keep-alive connections die with the server.
pub fn serve_http<H, Fut>(listener: TcpListener, handle: H) -> tokio::task::JoinHandle<()>
where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    serve_http_counted(listener, Arc::default(), handle)
}

/// [`serve_http`], counting the connections in `conns`.
pub fn serve_http_counted<H, Fut>(
    listener: TcpListener,
    conns: Arc<Conns>,
    handle: H,
) -> tokio::task::JoinHandle<()>
where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            while connections.try_join_next().is_some() {}
            let handle = handle.clone();
            conns.accepted.fetch_add(1, Ordering::SeqCst);
            conns.open.fetch_add(1, Ordering::SeqCst);
            let conns = Arc::clone(&conns);
            connections.spawn(async move {
                let service = service_fn(move |req| {
                    let answer = handle(req);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
                conns.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    })
}

/// The URL of an app nothing listens on: port 1 (tcpmux), which no test
/// binds. (A port bound and let go could be taken again by a daemon or an
/// upstream of a test running at the same time.)
pub fn dead_app() -> String {
    "http://127.0.0.1:1".to_string()
}
