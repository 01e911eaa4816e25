//! The built-in demo app behind `preloadd demo`: a few pages that take
//! ~300 ms to "render" and say when they were rendered, so the difference
//! between a MISS and a HIT is visible by eye.

use std::convert::Infallible;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::body::Body;

/// How long each demo page takes to render.
pub const RENDER_TIME: Duration = Duration::from_millis(300);

/// Serves the demo app on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            let service = service_fn(|req| async move { Ok::<_, Infallible>(page(req).await) });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn page(req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let (status, title, content) = match path.as_str() {
        "/" => (StatusCode::OK, "Home", links()),
        "/about/" => (
            StatusCode::OK,
            "About",
            "<p>A page that rarely changes.</p>".to_string(),
        ),
        "/events/" => (StatusCode::OK, "Events", event_list()),
        p if p.starts_with("/events/") => {
            (StatusCode::OK, "Event", format!("<p>Event page {p}</p>"))
        }
        _ => (
            StatusCode::NOT_FOUND,
            "Not found",
            "<p>No such page.</p>".to_string(),
        ),
    };
    tokio::time::sleep(RENDER_TIME).await;
    // To the millisecond, so two renders within one second still differ.
    let rendered = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f UTC");
    let query = req.uri().query().unwrap_or("");
    let html = format!(
        "<!doctype html>\n<html><head><title>{title}</title></head><body>\n<h1>{title}</h1>\n{content}\n\
         <p>query: <code>{query}</code></p>\n<p>rendered at {rendered} in {} ms</p>\n</body></html>\n",
        RENDER_TIME.as_millis()
    );
    let mut res = Response::new(Body::full(html));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if path.starts_with("/events/") {
        headers.insert("x-preload-tags", HeaderValue::from_static("events.Event"));
    }
    res
}

fn links() -> String {
    ["/about/", "/events/", "/events/1/", "/events/2/"]
        .iter()
        .map(|p| format!("<li><a href=\"{p}\">{p}</a></li>"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn event_list() -> String {
    (1..=3)
        .map(|n| format!("<li><a href=\"/events/{n}/\">Event {n}</a></li>"))
        .collect::<Vec<_>>()
        .join("\n")
}
