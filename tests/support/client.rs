//! A raw HTTP/1.1 client: sends exactly the bytes a test writes (so it can
//! send targets a well-behaved client would refuse to) and parses one
//! response. [`Conn`] keeps one connection across requests, reading each
//! response by its framing.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
pub struct Reply {
    /// The status line's protocol, e.g. `HTTP/1.1`.
    pub version: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn cache(&self) -> &str {
        self.header("x-preload-cache").unwrap_or("-")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET target` with extra header lines ("Name: value").
pub async fn get(addr: SocketAddr, target: &str, headers: &[&str]) -> Reply {
    request(addr, "GET", target, headers, b"").await
}

pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[&str],
    body: &[u8],
) -> Reply {
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    send_raw(addr, &raw, method == "HEAD").await
}

/// Sends `raw` bytes and reads one response until the server closes.
pub async fn send_raw(addr: SocketAddr, raw: &[u8], head_only: bool) -> Reply {
    parse(&send_until_closed(addr, raw).await, head_only)
}

/// Sends `raw` bytes on a fresh connection; everything the server writes
/// until it closes (within 20 s).
pub async fn send_until_closed(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect to daemon");
        stream.write_all(raw).await.expect("send request");
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        buf
    };
    tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .expect("response within 20 s")
}

fn parse(buf: &[u8], head_only: bool) -> Reply {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(buf)));
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut words = status_line.split_whitespace();
    let version = words.next().unwrap().to_string();
    let status = words.next().unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &buf[end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if head_only {
        Vec::new()
    } else if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Reply {
        version,
        status,
        headers,
        body,
    }
}

/// One client connection kept open across requests (HTTP/1.1 keep-alive),
/// as nginx keeps its upstream connections to the daemon.
pub struct Conn {
    stream: TcpStream,
    /// Bytes read past the end of the last response.
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        Conn {
            stream: TcpStream::connect(addr).await.expect("connect to daemon"),
            buf: Vec::new(),
        }
    }

    /// `GET target` on this connection (no `Connection: close`); the
    /// response is read by its `Content-Length` or chunked framing, or to
    /// the close when it has neither. None when the server closed the
    /// connection instead of answering.
    pub async fn get(&mut self, target: &str) -> Option<Reply> {
        self.get_with(target, &[]).await
    }

    /// [`Conn::get`] with `headers` ("Name: value") added.
    pub async fn get_with(&mut self, target: &str, headers: &[&str]) -> Option<Reply> {
        let mut head = format!("GET {target} HTTP/1.1\r\nHost: test.local\r\n");
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let exchange = async {
            self.stream.write_all(head.as_bytes()).await.ok()?;
            self.read_response().await
        };
        tokio::time::timeout(Duration::from_secs(20), exchange)
            .await
            .expect("response within 20 s")
    }

    /// Writes `raw` as it is (requests the test frames itself).
    pub async fn send(&mut self, raw: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(raw).await
    }

    /// Everything the server sends from here until it closes.
    pub async fn rest(mut self) -> std::io::Result<Vec<u8>> {
        let mut rest = std::mem::take(&mut self.buf);
        self.stream.read_to_end(&mut rest).await?;
        Ok(rest)
    }

    /// Reads until `buf` holds `n` bytes; false at the end of the stream.
    async fn fill(&mut self, n: usize) -> bool {
        let mut chunk = [0u8; 8192];
        while self.buf.len() < n {
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(read) => self.buf.extend_from_slice(&chunk[..read]),
            }
        }
        true
    }

    /// Reads until `buf` holds `needle`; its end, or None at end of stream.
    async fn fill_past(&mut self, from: usize, needle: &[u8]) -> Option<usize> {
        loop {
            if let Some(i) = self.buf[from.min(self.buf.len())..]
                .windows(needle.len())
                .position(|w| w == needle)
            {
                return Some(from + i + needle.len());
            }
            let have = self.buf.len();
            if !self.fill(have + 1).await {
                return None;
            }
        }
    }

    async fn read_response(&mut self) -> Option<Reply> {
        let head_end = self.fill_past(0, b"\r\n\r\n").await?;
        let head: Vec<u8> = self.buf.drain(..head_end).collect();
        let mut reply = parse(&head, true);
        let chunked = reply
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"));
        let length = reply
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok());
        if reply.status == 304 || reply.status == 204 {
            return Some(reply);
        }
        if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = self.fill_past(0, b"\r\n").await?;
                let line = String::from_utf8_lossy(&self.buf[..line_end - 2]).into_owned();
                let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
                self.buf.drain(..line_end);
                if size == 0 {
                    // No trailers: the blank line ends the body.
                    self.fill(2).await;
                    self.buf.drain(..2.min(self.buf.len()));
                    break;
                }
                if !self.fill(size + 2).await {
                    return None;
                }
                body.extend(self.buf.drain(..size));
                self.buf.drain(..2);
            }
            reply.body = body;
        } else if let Some(len) = length {
            if !self.fill(len).await {
                return None;
            }
            reply.body = self.buf.drain(..len).collect();
        } else {
            let mut rest = std::mem::take(&mut self.buf);
            let _ = self.stream.read_to_end(&mut rest).await;
            reply.body = rest;
        }
        Some(reply)
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}
