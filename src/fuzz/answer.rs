//! The app's answer to a request the connection loop forwards
//! (`conn::answer`): its head rewritten for the visitor, and where a
//! chunked body ends. Never a panic. A head it relays is one HTTP/1.1
//! head with no hop-by-hop field in it, taken from no more bytes than it
//! was given. A chunked body written from random chunks, extensions and
//! trailers ends exactly where it was written to end however its bytes
//! are cut; any other bytes are taken no further than they go.

use proptest::prelude::*;

use super::{mutated, pieces, run};
use crate::conn::answer::{self, Chunks, DateLine, Parsed};

const HEAD_PIECES: &[&str] = &[
    "HTTP/1.1 200 OK\r\n",
    "HTTP/1.0 204 No Content\r\n",
    "HTTP/1.1 103 Early Hints\r\n",
    "HTTP/1.1 304 \r\n",
    "Content-Length: 5\r\n",
    "Content-Length: 5, 5\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding: gzip\r\n",
    "Connection: close, X-A\r\n",
    "Connection: keep-alive\r\n",
    "Keep-Alive: 5\r\n",
    "X-A: 1\r\n",
    "X-Preload-Tags: t\r\n",
    "Date: Thu, 03 Dec 2026 05:00:00 GMT\r\n",
    "Upgrade: h2c\r\n",
    "Te: trailers\r\n",
    "\r\n",
    ":",
    " ",
];

fn heads() -> impl Strategy<Value = Vec<u8>> {
    let built = || pieces(HEAD_PIECES, 12).prop_map(String::into_bytes);
    prop_oneof![
        built(),
        mutated(built()),
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

#[test]
fn answer_head() {
    run(
        "answer_head",
        3000,
        (heads(), any::<bool>(), any::<bool>()),
        |(input, head_only, close)| {
            let asked = answer::Asked {
                head_only,
                close,
                tags_header: "x-preload-tags",
            };
            let mut head = Vec::new();
            let parsed = answer::parse(&input, &asked, &mut DateLine::default(), &mut head);
            match parsed {
                Parsed::Answer(answer) => {
                    prop_assert!(answer.len <= input.len());
                    prop_assert!(head.starts_with(b"HTTP/1.1 "));
                    prop_assert!(head.ends_with(b"\r\n\r\n"));
                    let text =
                        String::from_utf8_lossy(&head[..head.len() - 4]).to_ascii_lowercase();
                    let fields: Vec<&str> = text.split("\r\n").skip(1).collect();
                    for field in &fields {
                        let name = field.split(':').next().unwrap_or("");
                        let framing = *field == "transfer-encoding: chunked";
                        let ours = framing || *field == "connection: close";
                        prop_assert!(
                            ours || !crate::headers::is_hop_by_hop(name),
                            "{field:?} relayed"
                        );
                        prop_assert!(name != "x-preload-tags", "the tags header relayed");
                    }
                    prop_assert_eq!(close, fields.contains(&"connection: close"));
                }
                Parsed::Interim(len) => prop_assert!(len <= input.len()),
                Parsed::Partial | Parsed::Bad(_) => {}
            }
            Ok(())
        },
    );
}

/// A chunked body: (data length, extension) per chunk, then trailers.
fn bodies() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    let chunk = (
        1usize..300,
        prop::sample::select(&["", ";a=1", ";b=\"x y\""][..]),
    );
    let trailer = prop::sample::select(&["", "X-T: 1\r\n", "X-T: 1\r\nX-U: 2\r\n"][..]);
    (
        prop::collection::vec(chunk, 0..6),
        trailer,
        prop::collection::vec(0usize..2000, 0..5),
    )
        .prop_map(|(chunks, trailer, cuts)| {
            let mut body = Vec::new();
            for (i, (len, ext)) in chunks.into_iter().enumerate() {
                body.extend_from_slice(format!("{len:x}{ext}\r\n").as_bytes());
                body.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, len));
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(format!("0\r\n{trailer}\r\n").as_bytes());
            (body, cuts)
        })
}

/// Feeds `input` to a scanner in pieces cut at `cuts`, as reads would
/// bring it; what was taken, whether it ended, and whether it refused.
fn feed(input: &[u8], cuts: &[usize]) -> (usize, bool, bool) {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    ends.push(input.len());
    ends.sort_unstable();
    let mut chunks = Chunks::default();
    let mut taken = 0;
    for end in ends {
        if end < taken {
            continue;
        }
        match chunks.take(&input[taken..end]) {
            Ok(n) => taken += n,
            Err(_) => return (taken, chunks.done(), true),
        }
        if chunks.done() {
            break;
        }
    }
    (taken, chunks.done(), false)
}

#[test]
fn chunked_body() {
    run("chunked_body", 2000, bodies(), |(body, cuts)| {
        let mut more = body.clone();
        more.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        let (taken, done, refused) = feed(&more, &cuts);
        prop_assert!(!refused);
        prop_assert!(done);
        prop_assert_eq!(taken, body.len());
        Ok(())
    });
}

#[test]
fn chunked_bytes() {
    let inputs = prop_oneof![
        mutated(bodies().prop_map(|(body, _)| body)),
        prop::collection::vec(any::<u8>(), 0..300),
    ];
    run(
        "chunked_bytes",
        3000,
        (inputs, prop::collection::vec(0usize..400, 0..4)),
        |(input, cuts)| {
            let (taken, _, _) = feed(&input, &cuts);
            prop_assert!(taken <= input.len());
            Ok(())
        },
    );
}
