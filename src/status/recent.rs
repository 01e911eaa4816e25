//! The last [`KEPT`] invalidations applied, for the status page: when,
//! from where, what they named (as their log line does), how many
//! snapshots they took.

use std::collections::VecDeque;
use std::time::SystemTime;

use crate::metrics::InvalidationSource;

/// Invalidations kept.
pub const KEPT: usize = 20;
/// A selector's description is cut after this many bytes (at a char).
pub const SELECTOR_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct Invalidation {
    pub at: SystemTime,
    pub source: InvalidationSource,
    pub selector: String,
    pub count: usize,
}

/// Newest last.
#[derive(Debug, Default)]
pub struct Recent {
    ring: VecDeque<Invalidation>,
}

impl Recent {
    pub fn record(
        &mut self,
        at: SystemTime,
        source: InvalidationSource,
        selector: &str,
        count: usize,
    ) {
        if self.ring.len() == KEPT {
            self.ring.pop_front();
        }
        self.ring.push_back(Invalidation {
            at,
            source,
            selector: cut(selector, SELECTOR_MAX),
            count,
        });
    }

    /// Newest first.
    pub fn newest_first(&self) -> Vec<Invalidation> {
        self.ring.iter().rev().cloned().collect()
    }
}

/// `s` cut to at most `max` bytes at a char boundary, `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn keeps_the_last_twenty_newest_first() {
        let mut r = Recent::default();
        for i in 0..25 {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(i);
            r.record(
                at,
                InvalidationSource::Webhook,
                &format!("urls /{i}"),
                i as usize,
            );
        }
        let list = r.newest_first();
        assert_eq!(list.len(), KEPT);
        assert_eq!(list[0].selector, "urls /24");
        assert_eq!(list[0].count, 24);
        assert_eq!(list[KEPT - 1].selector, "urls /5");
    }

    #[test]
    fn a_long_selector_is_cut_at_a_char() {
        let mut r = Recent::default();
        let long = "é".repeat(SELECTOR_MAX);
        r.record(SystemTime::UNIX_EPOCH, InvalidationSource::Ttl, &long, 1);
        let kept = &r.newest_first()[0].selector;
        assert!(
            kept.len() <= SELECTOR_MAX + '…'.len_utf8(),
            "{}",
            kept.len()
        );
        assert!(kept.ends_with('…'));
    }
}
