//! Request-head limits (SPEC §3: a head over 64 KiB or over 100 fields is
//! a 431), as the daemon configures hyper's HTTP/1 server (`server`): the
//! bytes go through a real connection in memory. Never a panic; a
//! well-formed head is answered 431 exactly when it is over a limit, and
//! otherwise reaches the service with all its fields; any other bytes get
//! an HTTP status line or nothing.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{mutated, run};
use crate::server::{MAX_HEAD, MAX_HEADERS};

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
}

/// Sends `input` on a fresh connection, then end of stream; returns all
/// the server wrote. The service answers the number of header fields it
/// was given.
fn exchange(input: &[u8]) -> Vec<u8> {
    RUNTIME.with(|rt| {
        rt.block_on(async {
            let (client, server) = tokio::io::duplex(1 << 16);
            let service = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                let fields = req.headers().len().to_string();
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(fields))))
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .max_headers(MAX_HEADERS)
                .max_header_size(MAX_HEAD)
                // The client's end of stream follows its request: answer
                // it rather than drop it (the limits are the same).
                .half_close(true)
                .serve_connection(TokioIo::new(server), service);
            let server = tokio::spawn(conn);
            let (mut read, mut write) = tokio::io::split(client);
            let send = async {
                // The server may close before it has read everything.
                let _ = write.write_all(input).await;
                let _ = write.shutdown().await;
            };
            let mut out = Vec::new();
            let receive = read.read_to_end(&mut out);
            let (_, received) = tokio::join!(send, receive);
            received.expect("reading from an in-memory stream");
            let _ = server.await;
            out
        })
    })
}

/// The status of the first response, and its body when it is a 200.
fn first_status(out: &[u8]) -> Result<Option<(u16, Option<usize>)>, TestCaseError> {
    if out.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(out);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| {
            TestCaseError::fail(format!(
                "not a status line: {:?}",
                &text[..text.len().min(40)]
            ))
        })?;
    let body = (status == 200)
        .then(|| {
            text.split_once("\r\n\r\n")
                .and_then(|(_, b)| b.get(..b.find("HTTP/").unwrap_or(b.len()))?.parse().ok())
        })
        .flatten();
    Ok(Some((status, body)))
}

/// A well-formed head: a request line, `fields` fields, and one field
/// padded so that the head is `len` bytes when it can be.
fn head(fields: usize, len: usize, path: &str, names: &[String]) -> Vec<u8> {
    let mut head = format!("GET /{path} HTTP/1.1\r\nhost: h\r\n");
    for i in 1..fields {
        let name = names
            .get(i % names.len().max(1))
            .map_or("x-f", String::as_str);
        head.push_str(&format!("{name}-{i}: v\r\n"));
    }
    let pad = len.saturating_sub(head.len() + "x-pad: \r\n\r\n".len());
    if fields > 1 && pad > 0 {
        head.push_str(&format!("x-pad: {}\r\n", "a".repeat(pad)));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// (fields, length): small, or around one of the limits.
fn shape() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![
        4 => (1usize..20, 0usize..2000),
        2 => (MAX_HEADERS - 3..MAX_HEADERS + 4, 0usize..4000),
        2 => (1usize..20, MAX_HEAD - 40..MAX_HEAD + 40),
        1 => (1usize..MAX_HEADERS + 4, 0usize..MAX_HEAD + 8000),
    ]
}

fn check_head(
    fields: usize,
    len: usize,
    path: &str,
    names: &[String],
) -> Result<(), TestCaseError> {
    let input = head(fields, len, path, names);
    let padded = fields + usize::from(input.windows(7).any(|w| w == b"x-pad: "));
    let over = padded > MAX_HEADERS || input.len() > MAX_HEAD;
    let answer = first_status(&exchange(&input))?;
    let expected = if over {
        (431, None)
    } else {
        (200, Some(padded))
    };
    prop_assert_eq!(
        answer,
        Some(expected),
        "head of {} bytes, {} fields",
        input.len(),
        padded
    );
    Ok(())
}

fn check_bytes(input: &[u8]) -> Result<(), TestCaseError> {
    if let Some((status, body)) = first_status(&exchange(input))? {
        prop_assert!(
            status == 200 || (400..600).contains(&status),
            "status {status}"
        );
        prop_assert!(
            body.is_none_or(|n| n <= MAX_HEADERS),
            "{body:?} fields reached the service"
        );
    }
    Ok(())
}

#[test]
fn request_head_limits() {
    let names = prop::collection::vec("[a-z][a-z0-9-]{0,8}", 0..4);
    let input = (shape(), "[a-z0-9/%?=&._~-]{0,40}", names);
    run(
        "request_head_limits",
        200,
        input,
        |((fields, len), path, names)| check_head(fields, len, &path, &names),
    );
}

#[test]
fn request_head_bytes() {
    let valid = (1usize..8, 0usize..300, "[a-z0-9/?=&]{0,20}")
        .prop_map(|(fields, len, path)| head(fields, len, &path, &[]));
    let input = prop_oneof![
        3 => mutated(valid),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => "(GET|POST|HEAD|get|PRI) [ -~]{0,30} HTTP/(1\\.1|1\\.0|2|0\\.9)\r?\n([ -~]{0,20}\r?\n){0,4}\r?\n".prop_map(String::into_bytes),
    ];
    run("request_head_bytes", 500, input, |input| {
        check_bytes(&input)
    });
}
