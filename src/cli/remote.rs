//! Commands that talk to the running daemon through its admin listener
//! (SPEC §8): `preloadd invalidate`, and the small HTTP client it shares
//! with `ls` and `explain`.
//!
//! The daemon's address, token and invalidation path come from the same
//! config file the daemon reads (`$PRELOADD_TOKEN` wins, as for the daemon,
//! because `config::load` applies it). This module never touches the cache
//! directory: whatever the daemon holds changes only through its own
//! endpoints, so a running daemon is never raced.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::{self, Config};
use crate::error::Error;
use crate::invalidate::selector::Selector;

/// How long one admin call may take, connecting included. The daemon
/// answers an invalidation once it is durable, which takes well under this;
/// a daemon that does not answer in time is stuck, not slow.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Longest part of an error reply quoted back to the user.
const MAX_QUOTED: usize = 200;

/// `preloadd invalidate`: what to drop, as flags. At least one of `--tag`,
/// `--model`, `--url`, `--prefix`, `--all` is required; `--soft` alone
/// names nothing.
#[derive(Debug, Clone, clap::Args)]
#[command(group(
    clap::ArgGroup::new("names")
        .required(true)
        .multiple(true)
        .args(["tags", "models", "urls", "prefixes", "all"])
))]
pub struct InvalidateArgs {
    /// Drop snapshots carrying TAG (a route's `tags` or the upstream's
    /// tags header). Repeatable.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Same as --tag; a model listed in `[invalidate] models` drops every
    /// snapshot. Repeatable.
    #[arg(long = "model", value_name = "MODEL")]
    pub models: Vec<String>,
    /// Drop one page, with every variant of it: an upstream target
    /// (/events/?page=2), a preload URL (/_preload/events/?page=2) or an
    /// absolute URL. Repeatable.
    #[arg(long = "url", value_name = "URL")]
    pub urls: Vec<String>,
    /// Drop every page whose path starts with PREFIX (e.g. /events/).
    /// Repeatable.
    #[arg(long = "prefix", value_name = "PREFIX")]
    pub prefixes: Vec<String>,
    /// Drop every snapshot.
    #[arg(long)]
    pub all: bool,
    /// Mark the snapshots stale instead of deleting them: they are served
    /// as STALE within `[cache] grace` while one refetch runs.
    #[arg(long)]
    pub soft: bool,
}

impl InvalidateArgs {
    /// The selector the flags name. Models travel as tags: the daemon
    /// treats them alike and applies `[invalidate] models` itself. Urls and
    /// prefixes are sent as typed; the daemon canonicalizes them with its
    /// own rules, which are the ones that count.
    pub fn selector(&self) -> Selector {
        let given = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mut tags = given(&self.tags);
        tags.extend(given(&self.models));
        Selector {
            all: self.all,
            tags,
            urls: given(&self.urls),
            prefixes: given(&self.prefixes),
            soft: self.soft,
        }
    }
}

/// Where the running daemon's admin listener is, and how to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTarget {
    pub addr: SocketAddr,
    pub token: Option<String>,
    /// `[invalidate] path`.
    pub path: String,
}

impl AdminTarget {
    pub fn from_config(config: &Config) -> Result<AdminTarget, Error> {
        let Some(listen) = config.server.admin_listen else {
            return Err(Error::Usage(
                "the admin listener is disabled (server.admin_listen = \"\"); set it, e.g. to \"127.0.0.1:8081\", and restart the daemon to use this command".to_string(),
            ));
        };
        Ok(AdminTarget {
            addr: connectable(listen),
            token: config.invalidate.token.clone(),
            path: config.invalidate.path.clone(),
        })
    }
}

/// A listener bound to every address (0.0.0.0 or [::]) is reached through
/// loopback; one cannot connect to the unspecified address everywhere.
pub(crate) fn connectable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port())
        }
        _ => listen,
    }
}

/// POSTs `body` as JSON to `path` on the admin listener, with the bearer
/// token when one is configured; returns the status and the reply's text.
/// Any status is a successful exchange here: the caller decides what it
/// means.
pub async fn post_json(
    target: &AdminTarget,
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, String), Error> {
    let request = Request::post(format!("http://{}{path}", target.addr))
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    send(target, request, Bytes::from(body.to_string()), path).await
}

/// GETs `path_and_query` from the admin listener with `headers` added (and
/// the token), as [`post_json`] does.
pub async fn get(
    target: &AdminTarget,
    path_and_query: &str,
    headers: &[(http::HeaderName, HeaderValue)],
) -> Result<(u16, String), Error> {
    let mut request = Request::get(format!("http://{}{path_and_query}", target.addr));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    send(target, request, Bytes::new(), path_and_query).await
}

async fn send(
    target: &AdminTarget,
    mut request: http::request::Builder,
    body: Bytes,
    path: &str,
) -> Result<(u16, String), Error> {
    if let Some(token) = &target.token {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            Error::Usage(
                "the invalidation token contains characters that cannot be sent in an HTTP header"
                    .to_string(),
            )
        })?;
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| Error::Usage(format!("cannot build a request for {path:?}: {e}")))?;

    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(TIMEOUT));
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let addr = target.addr;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| {
            let why = innermost(&e);
            if e.is_connect() {
                Error::Runtime(format!(
                    "cannot reach the daemon's admin listener at {addr}: {why} (is it running?)"
                ))
            } else {
                Error::Runtime(format!(
                    "the daemon's admin listener at {addr} failed to answer: {why}"
                ))
            }
        })?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                Error::Runtime(format!(
                    "reading the reply of the admin listener at {addr}: {e}"
                ))
            })?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    };
    tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| {
        Error::Runtime(format!(
            "the daemon's admin listener at {addr} did not answer within {}s",
            TIMEOUT.as_secs()
        ))
    })?
}

/// The deepest cause of an error, which is the one that says what went
/// wrong ("Connection refused"); hyper's own wrappers only say where.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// `preloadd invalidate`: sends the selector to the running daemon and
/// prints `invalidated N`.
pub fn invalidate(config_path: &Path, sel: &Selector) -> Result<(), Error> {
    if sel.is_empty() {
        return Err(Error::Usage(
            "invalidate: name something to drop: --tag, --model, --url, --prefix or --all"
                .to_string(),
        ));
    }
    let config = config::load(config_path)?;
    let target = AdminTarget::from_config(&config)?;
    // The webhook reads exactly the fields `Selector` serializes.
    let body = serde_json::to_value(sel)
        .map_err(|e| Error::Runtime(format!("invalidate: encoding the request: {e}")))?;
    // One request: a single-threaded runtime is all it needs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, reply) = runtime.block_on(post_json(&target, &target.path, &body))?;
    let reply = invalidated_reply(status, &reply, target.token.is_some())?;
    println!("{}", reply.line());
    Ok(())
}

/// The daemon's `{"invalidated": N}`, and with `[cluster]` what became of
/// the drop for the other nodes (`"cluster": "ok" | "pending" | "failed"`).
#[derive(Debug, serde::Deserialize)]
struct Invalidated {
    invalidated: u64,
    cluster: Option<String>,
}

impl Invalidated {
    /// `invalidated N`, and the cluster's part when there is one: the drop
    /// here is done either way (the status was 200), so it is said, not
    /// made an error.
    fn line(&self) -> String {
        let n = self.invalidated;
        match self.cluster.as_deref() {
            None => format!("invalidated {n}"),
            Some("ok") => format!("invalidated {n}; sent to the cluster"),
            Some("pending") => format!(
                "invalidated {n}; the cluster's copy waits in the outbox until Redis answers"
            ),
            Some("failed") => format!(
                "invalidated {n} on this node only; the other nodes were not told (see the daemon's log)"
            ),
            Some(other) => format!("invalidated {n}; cluster: {other}"),
        }
    }
}

/// Reads the reply of a 200; any other status becomes one line quoting the
/// first line of the reply.
fn invalidated_reply(status: u16, reply: &str, sent_token: bool) -> Result<Invalidated, Error> {
    if status != 200 {
        return Err(reply_error("invalidate", status, reply, sent_token));
    }
    serde_json::from_str::<Invalidated>(reply)
        .map_err(|e| Error::Runtime(format!("invalidate: unexpected reply from the daemon: {e}")))
}

/// An answer other than 200, as one line quoting the first line of the
/// reply (`COMMAND: HTTP 401: ...`).
pub fn reply_error(command: &str, status: u16, reply: &str, sent_token: bool) -> Error {
    let mut line = format!("{command}: HTTP {status}");
    if let Some(first) = reply.lines().map(str::trim).find(|l| !l.is_empty()) {
        line.push_str(": ");
        line.extend(first.chars().take(MAX_QUOTED));
    }
    if status == 401 && !sent_token {
        line.push_str(" (no token configured here: set [invalidate] token or $PRELOADD_TOKEN)");
    }
    Error::Runtime(line)
}

/// `s` as a query value: everything but unreserved characters
/// percent-encoded.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;
