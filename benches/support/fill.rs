//! Shared by the benches: snapshot files written straight into a cache dir
//! in the store's layout (`dir/<2 hex>/<64 hex>`), as a restart finds them,
//! so that a bench of 100,000 pages needs no fetches to set up.

use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderValue;
use preloadd::key::Key;
use preloadd::store::{snapshot, Meta, Snapshot};

/// Writes one page: `target` (its key without vary), `tags`, `body`.
pub fn write_page(dir: &Path, target: String, tags: Vec<String>, body: Bytes) {
    let snap = Snapshot {
        key: Key::new(&target, &[]),
        meta: Meta {
            status: 200,
            headers: vec![(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html"),
            )],
            tags,
            target,
            taken: SystemTime::now(),
            expires: None,
            generation: 0,
            age: 0,
            etag: HeaderValue::from_static("\"x\""),
            last_modified: HeaderValue::from_static("Wed, 25 Nov 2026 00:00:00 GMT"),
        },
        body,
        variants: Vec::new(),
        head: Default::default(),
        wire: Default::default(),
        file: None,
    };
    let hex = snap.key.to_hex();
    let sub = dir.join(&hex[..2]);
    std::fs::create_dir_all(&sub).expect("fan-out dir");
    std::fs::write(sub.join(&hex), snapshot::encode(&snap).expect("encode")).expect("write");
}
