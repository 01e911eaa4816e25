//! A site with fixed answers, for what the query-driven [`super::Upstream`]
//! cannot send: bodies given by the test (sitemaps, gzipped files) at
//! chosen paths. Any other path is a small HTML page. It counts requests by
//! path and query, and the most it had in flight at once; every answer
//! waits `delay` first, so that concurrent requests overlap.
//!
//! It also stands in for the daemon where a test watches the client side:
//! `preloadd warm` pointed at it, each answer a `MISS`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use tokio::net::TcpListener;

use super::upstream::serve_http;

/// One fixed answer.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    canned: Mutex<HashMap<String, Canned>>,
    /// Headers of every answer that was not canned.
    default_headers: Mutex<Vec<(String, String)>>,
    counts: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

pub struct Site {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    pub async fn start(delay: Duration) -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind site");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let task_state = Arc::clone(&state);
        let task = serve_http(listener, move |req| {
            let state = Arc::clone(&task_state);
            async move { answer(req, &state, delay).await }
        });
        Site { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers `target` (path and query) with `status`, `headers`, `body`.
    pub fn serve(
        &self,
        target: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) {
        let canned = Canned {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        };
        self.state
            .canned
            .lock()
            .unwrap()
            .insert(target.to_string(), canned);
    }

    /// Adds a header to every answer that is not canned.
    pub fn default_header(&self, name: &str, value: &str) {
        let mut headers = self.state.default_headers.lock().unwrap();
        headers.push((name.to_string(), value.to_string()));
    }

    /// Requests received for one path-and-query.
    pub fn count_of(&self, target: &str) -> usize {
        *self.state.counts.lock().unwrap().get(target).unwrap_or(&0)
    }

    /// Requests received in all.
    pub fn count(&self) -> usize {
        self.state.counts.lock().unwrap().values().sum()
    }

    /// The most requests it was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    state: &State,
    delay: Duration,
) -> Response<Full<Bytes>> {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    *state
        .counts
        .lock()
        .unwrap()
        .entry(target.clone())
        .or_default() += 1;
    tokio::time::sleep(delay).await;
    let canned = state.canned.lock().unwrap().get(&target).cloned();
    let canned = canned.unwrap_or_else(|| Canned {
        status: 200,
        headers: state.default_headers.lock().unwrap().clone(),
        body: format!("<html>{target}</html>\n").into_bytes(),
    });
    let mut res = Response::builder().status(canned.status);
    for (name, value) in &canned.headers {
        res = res.header(name, value);
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    res.body(Full::new(Bytes::from(canned.body))).unwrap()
}
