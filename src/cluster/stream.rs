//! The Redis side: `XADD`, `XINFO STREAM`, `XREAD`, through the `redis`
//! crate, and where a follower starts reading ([`start`]), which is where a
//! trimmed or lost stream is noticed.
//!
//! Replies are read from `redis::Value` in RESP2 and RESP3 shapes alike.

use redis::aio::ConnectionLike;
use redis::{RedisResult, Value};

use super::entry::{self, Id};
use crate::invalidate::selector::Selector;

/// Appends `selector`, accepted on `node`, trimming the stream to about
/// `max_len` entries (`MAXLEN ~`: whole macro nodes, cheap for Redis).
pub async fn xadd(
    conn: &mut impl ConnectionLike,
    stream: &str,
    max_len: u64,
    node: &str,
    selector: &Selector,
) -> RedisResult<()> {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream).arg("MAXLEN").arg("~").arg(max_len).arg("*");
    for (name, value) in entry::fields(node, selector) {
        cmd.arg(name).arg(value);
    }
    cmd.query_async::<Value>(conn).await.map(drop)
}

/// What `XINFO STREAM` says that a follower needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    pub length: u64,
    pub first: Option<Id>,
    pub last_generated: Id,
    /// Redis 7 and later; `None` before.
    pub entries_added: Option<u64>,
}

/// `XINFO STREAM`, or `None` when there is no such stream.
pub async fn info(conn: &mut impl ConnectionLike, stream: &str) -> RedisResult<Option<Info>> {
    let reply = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(stream)
        .query_async::<Value>(conn)
        .await;
    let value = match reply {
        Ok(v) => v,
        Err(e) if e.to_string().contains("no such key") => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut info = Info::default();
    for (k, v) in pairs(&value) {
        match text(k).as_deref() {
            Some("length") => info.length = int(v).unwrap_or(0),
            Some("last-generated-id") => {
                info.last_generated = text(v).and_then(|s| Id::parse(&s)).unwrap_or_default()
            }
            Some("entries-added") => info.entries_added = int(v),
            Some("first-entry") => info.first = entry_id(v),
            _ => {}
        }
    }
    Ok(Some(info))
}

/// An entry as read: its id and raw fields.
pub type Raw = (Id, Vec<(Vec<u8>, Vec<u8>)>);

/// `XREAD [BLOCK ms] COUNT n STREAMS stream after`: the entries after
/// `after`, oldest first; none when `block_ms` passed without one.
pub async fn read(
    conn: &mut impl ConnectionLike,
    stream: &str,
    after: Id,
    block_ms: Option<u64>,
    count: usize,
) -> RedisResult<Vec<Raw>> {
    let mut cmd = redis::cmd("XREAD");
    if let Some(ms) = block_ms {
        cmd.arg("BLOCK").arg(ms);
    }
    cmd.arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(stream)
        .arg(after.to_string());
    let value = cmd.query_async::<Value>(conn).await?;
    let mut out = Vec::new();
    for entries in per_stream(&value) {
        for item in list(&entries) {
            let parts = list(&item);
            let Some(id) = parts.first().and_then(text).and_then(|s| Id::parse(&s)) else {
                continue;
            };
            let fields = parts.get(1).map(list).unwrap_or_default();
            let fields = fields
                .chunks(2)
                .filter_map(|kv| Some((bytes(kv.first()?)?, bytes(kv.get(1)?)?)))
                .collect();
            out.push((id, fields));
        }
    }
    Ok(out)
}

/// Where a follower that last applied `applied` starts, given the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Read the entries after this id.
    After(Id),
    /// Entries this node had not applied are gone: drop every snapshot,
    /// then read after the id (everything up to it is covered by the drop).
    DropAll { after: Id, why: String },
}

/// Decides [`Start`]. Redis 7.0 does not move `max-deleted-entry-id` on
/// `XTRIM` / `MAXLEN`, so a trim is read from `entries-added` and `length`
/// (equal: nothing ever left) and from the first entry still held: when it
/// is past `applied`, what came between may have been trimmed (without
/// `entries-added`, before Redis 7, that alone decides).
pub fn start(info: Option<&Info>, applied: Option<Id>) -> Start {
    let Some(applied) = applied else {
        // Never followed this stream: join at its end.
        return Start::After(info.map_or(Id::ZERO, |i| i.last_generated));
    };
    let Some(info) = info else {
        if applied == Id::ZERO {
            // Joined before the stream's first entry; still none.
            return Start::After(applied);
        }
        return Start::DropAll {
            after: Id::ZERO,
            why: format!("the stream is gone (Redis lost its data?); last applied {applied}"),
        };
    };
    if info.last_generated == applied {
        return Start::After(applied);
    }
    if info.last_generated < applied {
        return Start::DropAll {
            after: info.last_generated,
            why: format!(
                "the stream was reset (its last id {} is before the last applied {applied})",
                info.last_generated
            ),
        };
    }
    if info.entries_added == Some(info.length) {
        // Nothing ever left the stream: all that followed is still held.
        return Start::After(applied);
    }
    let trimmed = info.entries_added.map_or(String::new(), |added| {
        format!(", {} entries trimmed", added.saturating_sub(info.length))
    });
    match info.first {
        Some(first) if first <= applied => Start::After(applied),
        _ => Start::DropAll {
            after: info.last_generated,
            why: format!(
                "the stream was trimmed past the last applied entry {applied} (first held: {}{trimmed})",
                info.first.map_or("none".to_string(), |f| f.to_string())
            ),
        },
    }
}

fn pairs(v: &Value) -> Vec<(&Value, &Value)> {
    match v {
        Value::Map(m) => m.iter().map(|(k, v)| (k, v)).collect(),
        Value::Array(a) => a
            .chunks(2)
            .filter_map(|c| Some((c.first()?, c.get(1)?)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The entries of each stream in an `XREAD` reply: `[[stream, entries]]`
/// (RESP2) or a map of stream to entries (RESP3).
fn per_stream(v: &Value) -> Vec<Value> {
    match v {
        Value::Map(m) => m.iter().map(|(_, entries)| entries.clone()).collect(),
        Value::Array(a) => a.iter().filter_map(|s| list(s).get(1).cloned()).collect(),
        _ => Vec::new(),
    }
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a.clone(),
        Value::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        _ => Vec::new(),
    }
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.clone().into_bytes()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    bytes(v).and_then(|b| String::from_utf8(b).ok())
}

fn int(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        _ => text(v)?.parse().ok(),
    }
}

/// The id of an entry `[id, fields]`; `None` for nil.
fn entry_id(v: &Value) -> Option<Id> {
    list(v).first().and_then(text).and_then(|s| Id::parse(&s))
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
