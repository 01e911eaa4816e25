//! The work a cache hit does, piece by piece, without the network: what
//! `../shared/bench` measures end to end, taken apart so that a change to
//! one piece shows up here with far less noise.
//!
//! ```sh
//! cargo bench --bench hit_path
//! ```

use std::hint::black_box;
use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Request};
use preloadd::config::{self, Config};
use preloadd::key::{self, Key, QueryRules};
use preloadd::respond::{self, CacheStatus};
use preloadd::store::{snapshot, Meta, Snapshot};

const TARGETS: [&str; 3] = [
    "/events/",
    "/events/?page=2&lang=en",
    "/news/2026/11/a-long-article-slug/?utm_source=mail&b=2&a=1&utm_medium=x",
];

fn config() -> Config {
    let text = "[upstream]\nurl = \"http://127.0.0.1:8000\"\n\
                [preload]\nignore_query = [\"utm_*\"]\n\
                [[route]]\nmatch = \"/events/*\"\ntags = [\"events.Event\"]\n";
    config::from_str(Path::new("bench.toml"), text, None).expect("bench config")
}

fn snapshot(size: usize) -> Snapshot {
    let target = "/events/?page=2".to_string();
    Snapshot {
        key: Key::new(&target, &[]),
        meta: Meta {
            status: 200,
            headers: vec![
                (
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (
                    http::header::CACHE_CONTROL,
                    HeaderValue::from_static("max-age=60"),
                ),
            ],
            tags: vec!["events.Event".into()],
            target,
            taken: SystemTime::now(),
            expires: None,
            generation: 0,
            age: 0,
            etag: HeaderValue::from_static("\"0123456789abcdef\""),
            last_modified: HeaderValue::from_static("Wed, 25 Nov 2026 00:00:00 GMT"),
        },
        body: Bytes::from(vec![b'x'; size]),
        variants: Vec::new(),
        head: Default::default(),
        wire: Default::default(),
        file: None,
    }
}

fn keys(c: &mut Criterion) {
    let config = config();
    let rules = QueryRules {
        sort_query: config.preload.sort_query,
        ignore_query: &config.preload.ignore_query,
    };
    for (i, target) in TARGETS.iter().enumerate() {
        c.bench_function(&format!("canonical_target/{i}"), |b| {
            b.iter(|| key::canonical_target(black_box(target), rules))
        });
    }
    c.bench_function("key/sha256", |b| {
        b.iter(|| Key::new(black_box("/events/?lang=en&page=2"), &[]))
    });
    let headers = HeaderMap::new();
    c.bench_function("resolve/route", |b| {
        b.iter(|| key::resolve(&config, &headers, black_box(TARGETS[1])))
    });
    // A target seen before under this config (the HIT path).
    let cache = key::KeyCache::default();
    let shared = std::sync::Arc::new(config);
    c.bench_function("resolve/cached", |b| {
        b.iter(|| cache.resolve(&shared, &headers, black_box(TARGETS[1])))
    });
}

fn responses(c: &mut Criterion) {
    let (parts, ()) = Request::get("/_preload/events/?page=2")
        .body(())
        .expect("request")
        .into_parts();
    for size in [2 * 1024, 200 * 1024] {
        let snap = snapshot(size);
        let now = SystemTime::now();
        c.bench_function(&format!("snapshot_response/{}KiB", size / 1024), |b| {
            b.iter(|| respond::snapshot_response(black_box(&snap), CacheStatus::Hit, &parts, now))
        });
    }
}

fn format(c: &mut Criterion) {
    let snap = snapshot(20 * 1024);
    let file = Bytes::from(snapshot::encode(&snap).expect("encode"));
    c.bench_function("snapshot/encode_20KiB", |b| {
        b.iter(|| snapshot::encode(black_box(&snap)))
    });
    c.bench_function("snapshot/decode_20KiB", |b| {
        b.iter(|| snapshot::decode(black_box(file.clone())))
    });
}

criterion_group!(benches, keys, responses, format);
criterion_main!(benches);
