//! The app's side of a pass-through the connection loop forwards
//! (`pass`): its answer head read off the app connection, and its body
//! carried to the visitor as it arrives, by the framing `answer` found.

use std::io::IoSlice;

use bytes::Buf;
use tokio::net::TcpStream;

use super::answer::{self, Answer, Chunks, Framing, Parsed};
use super::hit::write_all;
use super::pass::{Failed, Scratch};
use crate::fetch::pool::{Held, RawConn};
use crate::sendfile;

/// Read from the app at a time.
const READ: usize = 32 * 1024;

/// Why no answer head came.
pub(super) enum Unanswered {
    /// The connection ended (or failed) before any byte of an answer.
    Closed(String),
    /// An answer this daemon does not relay, or one cut off in its head.
    Bad(&'static str),
}

/// Reads the app's answer head into `conn.buf`, interim answers dropped.
pub(super) async fn read_answer(
    conn: &mut RawConn,
    asked: &answer::Asked<'_>,
    scratch: &mut Scratch,
) -> Result<Answer, Unanswered> {
    let mut got_any = false;
    loop {
        if !conn.buf.is_empty() {
            match answer::parse(&conn.buf, asked, &mut scratch.date, &mut scratch.answer) {
                Parsed::Answer(answer) => return Ok(answer),
                Parsed::Interim(len) => {
                    conn.buf.advance(len);
                    continue;
                }
                Parsed::Bad(reason) => return Err(Unanswered::Bad(reason)),
                Parsed::Partial => {}
            }
        }
        match recv(conn).await {
            Ok(0) if !got_any => return Err(Unanswered::Closed("closed before answering".into())),
            Ok(0) => return Err(Unanswered::Bad("answer head cut off")),
            Ok(_) => got_any = true,
            Err(err) if !got_any => return Err(Unanswered::Closed(err.to_string())),
            Err(_) => return Err(Unanswered::Bad("answer head cut off")),
        }
    }
}

/// Reads what the app sent next onto `conn.buf`; 0 at its end.
async fn recv(conn: &mut RawConn) -> std::io::Result<usize> {
    conn.buf.reserve(READ);
    let stream = &conn.stream;
    let buf = &mut conn.buf;
    let n = std::future::poll_fn(|cx| sendfile::poll_recv(stream, cx, buf.spare_capacity_mut()))
        .await?;
    // SAFETY: recv wrote these `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Sends the visitor the answer's head and its body as it comes; the app
/// connection is kept when the body ended where its framing said.
pub(super) async fn relay(
    held: &Held,
    mut conn: RawConn,
    answer: Answer,
    head: &[u8],
    visitor: &TcpStream,
) -> Result<(), Failed> {
    conn.buf.advance(answer.len);
    let mut head = head;
    let mut reusable = answer.reusable;
    match answer.framing {
        Framing::None => {
            send(visitor, &[head]).await?;
        }
        Framing::Length(len) => {
            let mut left = len;
            loop {
                let n = left.min(conn.buf.len() as u64) as usize;
                send(visitor, &[head, &conn.buf[..n]]).await?;
                head = &[];
                conn.buf.advance(n);
                left -= n as u64;
                if left == 0 {
                    break;
                }
                more(&mut conn).await?;
            }
        }
        Framing::Chunked => {
            let mut chunks = Chunks::default();
            loop {
                let n = chunks.take(&conn.buf).map_err(|_| Failed::During)?;
                send(visitor, &[head, &conn.buf[..n]]).await?;
                head = &[];
                conn.buf.advance(n);
                if chunks.done() {
                    break;
                }
                more(&mut conn).await?;
            }
        }
        Framing::Close => {
            reusable = false;
            loop {
                if !conn.buf.is_empty() {
                    let size = format!("{:x}\r\n", conn.buf.len());
                    send(visitor, &[head, size.as_bytes(), &conn.buf, b"\r\n"]).await?;
                    head = &[];
                    conn.buf.clear();
                }
                if recv(&mut conn).await.map_err(|_| Failed::During)? == 0 {
                    break;
                }
            }
            send(visitor, &[head, b"0\r\n\r\n"]).await?;
        }
    }
    // Bytes past the answer's end: not an app connection to reuse.
    if reusable && conn.buf.is_empty() {
        held.keep_raw(conn);
    }
    Ok(())
}

/// More of the body; its end before the framing's is a cut-off answer.
async fn more(conn: &mut RawConn) -> Result<(), Failed> {
    match recv(conn).await {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(Failed::During),
    }
}

async fn send(visitor: &TcpStream, parts: &[&[u8]]) -> Result<(), Failed> {
    let mut slices = [IoSlice::new(&[]); 4];
    let mut count = 0;
    for part in parts.iter().filter(|p| !p.is_empty()) {
        slices[count] = IoSlice::new(part);
        count += 1;
    }
    if count == 0 {
        return Ok(());
    }
    write_all(visitor, &mut slices[..count], 0)
        .await
        .map_err(|_| Failed::During)
}
