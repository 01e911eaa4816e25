//! One stream entry: which node accepted the invalidation, what it named
//! (the [`Selector`] as JSON, the form `preloadd invalidate` sends too) and
//! whether it softens. And [`Id`], a stream entry id, ordered as Redis
//! orders them.
//!
//! Fields are read by name, so a newer node may add some; an entry whose
//! fields do not read is [`Malformed`]: logged and skipped by the follower,
//! never a panic.

use std::fmt;

use crate::invalidate::selector::Selector;

/// The field names of an entry.
pub const NODE: &str = "node";
pub const SELECTOR: &str = "selector";
pub const SOFT: &str = "soft";

/// A stream entry id, `MS-SEQ`: the Redis server's time of the `XADD` in
/// milliseconds and a sequence within that millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Id {
    pub ms: u64,
    pub seq: u64,
}

impl Id {
    /// `0-0`: before every entry.
    pub const ZERO: Id = Id { ms: 0, seq: 0 };

    pub fn parse(s: &str) -> Option<Id> {
        let (ms, seq) = s.split_once('-')?;
        Some(Id {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An entry as another node wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub node: String,
    pub selector: Selector,
}

/// Why an entry's fields do not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("no `{0}` field")]
    Missing(&'static str),
    #[error("`{0}` is not UTF-8")]
    NotText(&'static str),
    #[error("`selector` is not a selector: {0}")]
    Selector(String),
    #[error("`soft` is {0:?}, not \"0\" or \"1\"")]
    Soft(String),
    #[error("the selector names nothing")]
    Empty,
}

/// The fields `XADD` writes for `selector`, accepted on `node`.
pub fn fields(node: &str, selector: &Selector) -> [(&'static str, String); 3] {
    let json = serde_json::to_string(selector).expect("a selector serializes");
    let soft = if selector.soft { "1" } else { "0" };
    [
        (NODE, node.to_string()),
        (SELECTOR, json),
        (SOFT, soft.to_string()),
    ]
}

/// Reads an entry from its fields (name, value), in any order.
pub fn decode(fields: &[(Vec<u8>, Vec<u8>)]) -> Result<Entry, Malformed> {
    let field = |name: &'static str| -> Result<&str, Malformed> {
        let (_, value) = fields
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .ok_or(Malformed::Missing(name))?;
        std::str::from_utf8(value).map_err(|_| Malformed::NotText(name))
    };
    let node = field(NODE)?.to_string();
    let mut selector: Selector =
        serde_json::from_str(field(SELECTOR)?).map_err(|e| Malformed::Selector(e.to_string()))?;
    match field(SOFT) {
        Ok("1") => selector.soft = true,
        Ok("0") | Err(Malformed::Missing(_)) => {}
        Ok(other) => return Err(Malformed::Soft(other.to_string())),
        Err(e) => return Err(e),
    }
    if selector.is_empty() {
        return Err(Malformed::Empty);
    }
    Ok(Entry { node, selector })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(fields: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        fields
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn ids_order_as_redis_orders_them() {
        let a = Id::parse("1700000000000-0").unwrap();
        let b = Id::parse("1700000000000-1").unwrap();
        let c = Id::parse("1700000000001-0").unwrap();
        assert!(Id::ZERO < a && a < b && b < c);
        assert_eq!(b.to_string(), "1700000000000-1");
        for bad in ["", "12", "a-1", "1-", "-1", "1-2-3"] {
            assert_eq!(Id::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_entry_reads_back_as_written_soft_included() {
        let selector = Selector {
            tags: vec!["events.Event".into()],
            urls: vec!["/a?b=1".into()],
            soft: true,
            ..Selector::default()
        };
        let written = fields("web-1", &selector);
        assert_eq!(written[2], (SOFT, "1".to_string()));
        let pairs: Vec<(&str, &str)> = written.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let entry = decode(&raw(&pairs)).unwrap();
        assert_eq!(entry.node, "web-1");
        assert_eq!(entry.selector, selector);
    }

    #[test]
    fn malformed_entries_say_why() {
        let cases: [(&[(&str, &str)], Malformed); 5] = [
            (
                &[("selector", "{\"all\":true}")],
                Malformed::Missing("node"),
            ),
            (&[("node", "a")], Malformed::Missing("selector")),
            (
                &[
                    ("node", "a"),
                    ("selector", "{\"all\":true}"),
                    ("soft", "yes"),
                ],
                Malformed::Soft("yes".into()),
            ),
            (&[("node", "a"), ("selector", "{}")], Malformed::Empty),
            (
                &[("node", "a"), ("selector", "{\"tags\":\"x\"}")],
                Malformed::Selector(String::new()),
            ),
        ];
        for (fields, want) in cases {
            let got = decode(&raw(fields)).unwrap_err();
            match (&got, &want) {
                (Malformed::Selector(_), Malformed::Selector(_)) => {}
                _ => assert_eq!(got, want, "{fields:?}"),
            }
        }
        let not_text = vec![
            (b"node".to_vec(), vec![0xff]),
            (b"selector".to_vec(), b"{}".to_vec()),
        ];
        assert_eq!(decode(&not_text), Err(Malformed::NotText("node")));
    }
}
