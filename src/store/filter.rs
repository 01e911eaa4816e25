//! What an invalidation accepted while the index is rebuilt after a crash
//! (`rebuild`) must still do to the files the scan has not reached: a
//! rule, checked against every file loaded later (by the scan or by a
//! lookup), and kept on disk until the rebuild has seen every file.
//!
//! Why: an invalidation resolves names through the index, which holds only
//! what was scanned so far. So before it resolves anything, it records a
//! [`Filter`] (`Store::filter_rebuild`): the store raises its generation to
//! an epoch E and appends the rule "snapshots of a generation below E that
//! match this are dropped (or stale since T)" to `cache.dir/.preloadd-rebuild`,
//! fsynced, then holds it in memory beside the index. A file loaded later
//! that matches a drop is unlinked and never indexed; one that matches a
//! soft rule is indexed stale. Snapshots taken after the invalidation are of
//! generation E or above and never match. The file outlives a crash during
//! the rebuild (the next start loads its rules first) and is removed once
//! a rebuild has seen every file: the soft-mark log then holds the stale
//! marks, and every dropped file is gone.
//!
//! The file's format is in `filter_log`.

use std::collections::HashSet;
use std::time::SystemTime;

use crate::key::{Key, KeyMap};

use super::entry::NewEntry;
use super::snapshot;

pub(crate) use super::filter_log::RuleLog;

/// What an invalidation names, for the files not scanned yet. Matching is
/// `Selector::matches`: any tag, an exact target, or a path prefix (never
/// into the query); `all` takes everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub all: bool,
    pub tags: Vec<String>,
    pub targets: Vec<String>,
    pub prefixes: Vec<String>,
    /// Only snapshots taken before this (a schedule's catch-up).
    pub taken_before: Option<SystemTime>,
    /// A soft invalidation: stale since this, instead of dropped.
    pub soft: Option<SystemTime>,
}

/// A filter with its epoch, as held and recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(super) epoch: u64,
    pub(super) all: bool,
    pub(super) tags: Vec<String>,
    pub(super) targets: Vec<String>,
    pub(super) prefixes: Vec<String>,
    pub(super) taken_before_ms: Option<u64>,
    pub(super) soft_since_ms: Option<u64>,
}

impl Rule {
    pub(crate) fn new(filter: &Filter, epoch: u64) -> Rule {
        Rule {
            epoch,
            all: filter.all,
            tags: filter.tags.clone(),
            targets: filter.targets.clone(),
            prefixes: filter.prefixes.clone(),
            taken_before_ms: filter.taken_before.map(snapshot::to_ms),
            soft_since_ms: filter.soft.map(snapshot::to_ms),
        }
    }

    /// Drops everything of a generation below `epoch` (a damaged file).
    pub(crate) fn everything(epoch: u64) -> Rule {
        Rule::new(
            &Filter {
                all: true,
                ..Filter::default()
            },
            epoch,
        )
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    pub(crate) fn is_soft(&self) -> bool {
        self.soft_since_ms.is_some()
    }

    pub(super) fn matches(&self, entry: &NewEntry, tags: &[&str]) -> bool {
        if entry.generation >= self.epoch {
            return false;
        }
        // Whole seconds, as the index compares (errs towards matching).
        if self
            .taken_before_ms
            .is_some_and(|before| entry.taken_ms / 1000 * 1000 >= before)
        {
            return false;
        }
        if self.all || tags.iter().any(|t| self.tags.iter().any(|m| m == t)) {
            return true;
        }
        let target = &*entry.target;
        if self.targets.iter().any(|t| t == target) {
            return true;
        }
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// What the index keeps while it is rebuilt (inside `Index`, under its
/// lock, so that a load and an invalidation or drop never pass each other).
#[derive(Debug, Default)]
pub(crate) struct Rebuild {
    /// Keys the index decided since the start (put, dropped, evicted, found
    /// absent): a file of theirs is never loaded, whatever the scan finds
    /// (it may be a file whose unlink is still queued).
    pub settled: HashSet<Key, foldhash::fast::RandomState>,
    pub rules: Vec<Rule>,
    /// The soft-mark log's key marks at start: key -> (epoch, since_ms).
    pub soft_keys: KeyMap<Vec<(u64, u64)>>,
    /// Its `All` marks, and those made since: (epoch, since_ms).
    pub soft_alls: Vec<(u64, u64)>,
    /// Fan-out directories where files the rules dropped were unlinked:
    /// fsynced before the rules are removed.
    pub unlinked: std::collections::BTreeSet<usize>,
}

/// What becomes of a file loaded during the rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not loaded: the index already decided its key.
    Skip,
    /// An invalidation dropped it: unlink it.
    Drop,
    /// Index it, stale since this if a soft mark covers it.
    Keep(Option<u64>),
}

impl Rebuild {
    /// The verdict on a file of a key the index does not hold.
    pub(crate) fn judge(&self, entry: &NewEntry, tags: &[&str]) -> Verdict {
        if self.settled.contains(&entry.key) {
            return Verdict::Skip;
        }
        let mut stale: Option<u64> = None;
        let mut mark = |since: u64| stale = Some(stale.map_or(since, |s| s.min(since)));
        for rule in self.rules.iter().filter(|r| r.matches(entry, tags)) {
            match rule.soft_since_ms {
                None => return Verdict::Drop,
                Some(since) => mark(since),
            }
        }
        let keyed = self.soft_keys.get(&entry.key).into_iter().flatten();
        for &(epoch, since) in keyed.chain(&self.soft_alls) {
            if entry.generation < epoch {
                mark(since);
            }
        }
        Verdict::Keep(stale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: &str, generation: u64, taken_ms: u64) -> NewEntry {
        NewEntry {
            key: Key([1; 32]),
            target: target.into(),
            size: 10,
            taken_ms,
            expires_ms: None,
            generation,
        }
    }

    #[test]
    fn rules_match_as_selectors_do_and_only_below_their_epoch() {
        let tag = Rule::new(
            &Filter {
                tags: vec!["news".into()],
                prefixes: vec!["/blog/".into()],
                ..Filter::default()
            },
            5,
        );
        assert!(tag.matches(&entry("/x", 4, 0), &["a", "news"]));
        assert!(!tag.matches(&entry("/x", 5, 0), &["news"]), "taken after");
        assert!(tag.matches(&entry("/blog/1?p=2", 1, 0), &[]));
        assert!(
            !tag.matches(&entry("/x?/blog/", 1, 0), &[]),
            "never the query"
        );
        let before = Rule::new(
            &Filter {
                all: true,
                taken_before: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(10)),
                ..Filter::default()
            },
            9,
        );
        assert!(before.matches(&entry("/a", 1, 9_999), &[]));
        assert!(!before.matches(&entry("/a", 1, 10_000), &[]));
    }

    #[test]
    fn a_settled_key_is_skipped_a_drop_wins_and_the_earliest_mark_counts() {
        let mut rebuild = Rebuild::default();
        let e = entry("/a", 3, 0);
        assert_eq!(rebuild.judge(&e, &[]), Verdict::Keep(None));
        rebuild
            .soft_keys
            .insert(e.key, vec![(4, 9_000), (2, 1_000)]);
        rebuild.soft_alls.push((5, 7_000));
        assert_eq!(
            rebuild.judge(&e, &[]),
            Verdict::Keep(Some(7_000)),
            "(2, 1000) is below it"
        );
        let soft = Filter {
            tags: vec!["t".into()],
            soft: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(5)),
            ..Filter::default()
        };
        rebuild.rules.push(Rule::new(&soft, 6));
        assert_eq!(rebuild.judge(&e, &["t"]), Verdict::Keep(Some(5_000)));
        rebuild.rules.push(Rule::new(
            &Filter {
                targets: vec!["/a".into()],
                ..Filter::default()
            },
            6,
        ));
        assert_eq!(rebuild.judge(&e, &["t"]), Verdict::Drop);
        rebuild.settled.insert(e.key);
        assert_eq!(rebuild.judge(&e, &["t"]), Verdict::Skip);
    }
}
