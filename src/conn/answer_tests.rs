use super::*;

fn asked() -> Asked<'static> {
    Asked {
        head_only: false,
        close: false,
        tags_header: "x-preload-tags",
    }
}

/// The answer in `raw`, and the head the visitor gets.
struct Read {
    answer: Answer,
    head: Vec<u8>,
}

impl std::ops::Deref for Read {
    type Target = Answer;

    fn deref(&self) -> &Answer {
        &self.answer
    }
}

fn answer(raw: &str, asked: &Asked<'_>) -> Read {
    let mut head = b"left from the last answer".to_vec();
    match parse(raw.as_bytes(), asked, &mut DateLine::default(), &mut head) {
        Parsed::Answer(answer) => Read { answer, head },
        other => panic!("{raw:?}: {other:?}"),
    }
}

fn head_text(read: &Read) -> String {
    String::from_utf8(read.head.clone()).expect("ASCII")
}

#[test]
fn a_length_answer_keeps_its_fields_and_loses_the_hop_by_hop_ones() {
    let raw = "HTTP/1.1 200 OK\r\nServer: app\r\nDate: Thu, 03 Dec 2026 05:00:00 GMT\r\n\
               Content-Length: 5\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n\
               X-Secret: s\r\nX-Preload-Tags: a b\r\nProxy-Authenticate: Basic\r\n\r\nhello";
    let a = answer(raw, &asked());
    assert_eq!(a.len, raw.len() - 5);
    assert_eq!(a.framing, Framing::Length(5));
    assert!(a.reusable);
    assert_eq!(
        head_text(&a),
        "HTTP/1.1 200 OK\r\nServer: app\r\nDate: Thu, 03 Dec 2026 05:00:00 GMT\r\n\
         Content-Length: 5\r\n\r\n"
    );
}

#[test]
fn framing_follows_rfc_9112() {
    let a = asked();
    let chunked = answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &a);
    assert_eq!(chunked.framing, Framing::Chunked);
    assert!(head_text(&chunked).contains("transfer-encoding: chunked\r\n"));
    let closed = answer("HTTP/1.1 200 OK\r\n\r\n", &a);
    assert_eq!(closed.framing, Framing::Close);
    assert!(
        !closed.reusable,
        "a body ended by a close ends the connection"
    );
    assert!(head_text(&closed).contains("transfer-encoding: chunked\r\n"));
    let gzip = answer(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        &a,
    );
    assert_eq!(
        gzip.framing,
        Framing::Close,
        "chunked not last: read to the close"
    );
    for code in ["204 No Content", "304 Not Modified"] {
        let raw = format!("HTTP/1.1 {code}\r\nContent-Length: 7\r\n\r\n");
        assert_eq!(answer(&raw, &a).framing, Framing::None, "{code}");
    }
    let head = Asked {
        head_only: true,
        ..asked()
    };
    let to_head = answer("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", &head);
    assert_eq!(to_head.framing, Framing::None);
    assert!(head_text(&to_head).contains("Content-Length: 7\r\n"));
}

#[test]
fn an_http_1_0_answer_or_a_close_is_not_reused() {
    let a = asked();
    assert!(!answer("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", &a).reusable);
    let close = answer(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        &a,
    );
    assert!(!close.reusable);
    assert!(!head_text(&close)
        .to_ascii_lowercase()
        .contains("connection"));
}

#[test]
fn the_visitors_close_a_custom_reason_and_a_missing_date_are_written() {
    let a = Asked {
        close: true,
        ..asked()
    };
    let text = head_text(&answer(
        "HTTP/1.1 299 Fine Thanks\r\nContent-Length: 0\r\n\r\n",
        &a,
    ));
    assert!(text.starts_with("HTTP/1.1 299 Fine Thanks\r\n"), "{text}");
    assert!(text.ends_with("connection: close\r\n\r\n"), "{text}");
    let date = text
        .lines()
        .find_map(|l| l.strip_prefix("date: "))
        .expect("a Date");
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
}

#[test]
fn answers_not_relayed_are_named() {
    let a = asked();
    let mut date = DateLine::default();
    let mut head = Vec::new();
    let mut bad = |raw: &str, date: &mut DateLine| match parse(raw.as_bytes(), &a, date, &mut head)
    {
        Parsed::Bad(reason) => reason,
        other => panic!("{raw:?}: {other:?}"),
    };
    let both = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(bad(both, &mut date), crate::headers::AMBIGUOUS_LENGTH);
    let two = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n";
    assert_eq!(bad(two, &mut date), "two Content-Length values");
    let sign = "HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\n";
    assert_eq!(bad(sign, &mut date), "bad Content-Length");
    assert_eq!(
        bad("SSH-2.0-OpenSSH\r\n\r\n", &mut date),
        "answer head is not HTTP"
    );
    let switch = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    assert_eq!(bad(switch, &mut date), "the app switched protocols unasked");
    let same = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(answer(same, &a).framing, Framing::Length(3));
}

#[test]
fn interim_answers_and_partial_heads() {
    let mut date = DateLine::default();
    let early = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n";
    let mut head = Vec::new();
    match parse(early.as_bytes(), &asked(), &mut date, &mut head) {
        Parsed::Interim(len) => assert_eq!(len, early.len()),
        other => panic!("{other:?}"),
    }
    let cut = b"HTTP/1.1 200 OK\r\nContent-Len";
    assert!(matches!(
        parse(cut, &asked(), &mut date, &mut head),
        Parsed::Partial
    ));
}

const BODY: &[u8] = b"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n";

#[test]
fn a_chunked_body_ends_where_it_says_however_it_is_cut() {
    let mut with_more = BODY.to_vec();
    with_more.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    for cut in 0..=BODY.len() {
        let mut chunks = Chunks::default();
        let mut buf = with_more[..cut].to_vec();
        let mut taken = chunks.take(&buf).expect("well formed");
        buf.drain(..taken);
        buf.extend_from_slice(&with_more[cut..]);
        taken += chunks.take(&buf).expect("well formed");
        assert!(chunks.done(), "cut at {cut}");
        assert_eq!(taken, BODY.len(), "cut at {cut}");
    }
    // Byte by byte, as a slow app sends it.
    let mut chunks = Chunks::default();
    let mut pending = Vec::new();
    let mut taken = 0;
    for &byte in BODY {
        pending.push(byte);
        let n = chunks.take(&pending).expect("well formed");
        pending.drain(..n);
        taken += n;
    }
    assert!(chunks.done());
    assert_eq!(taken, BODY.len());
}

#[test]
fn a_body_that_is_not_chunked_is_refused() {
    for bad in [&b"zz\r\n"[..], b"5\r\nhelloXY", b"-1\r\n"] {
        assert!(Chunks::default().take(bad).is_err(), "{bad:?}");
    }
    let long = vec![b'1'; MAX_LINE + 10];
    assert!(
        Chunks::default().take(&long).is_err(),
        "a size line without end"
    );
    let mut trailers = b"0\r\n".to_vec();
    trailers.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
    assert!(
        Chunks::default().take(&trailers).is_err(),
        "trailers without end"
    );
}
