//! Checks of one value that every section's validation shares: counts of
//! at least 1, durations of more than 0, names that are not blank. Each
//! reports at the value's own span and key, and returns a value the build
//! can go on with, so that every problem of a file is found in one pass.

use std::time::Duration;

use toml::Spanned;

use super::position::Problems;
use super::units::Dur;

/// A count that must be at least 1.
pub(super) fn at_least_one(p: &mut Problems<'_>, v: &Spanned<i64>, key: &str) -> u64 {
    let n = *v.get_ref();
    if n < 1 {
        p.at(v.span(), key, format!("must be at least 1 (got {n})"));
    }
    u64::try_from(n).unwrap_or(1).max(1)
}

/// [`at_least_one`] as a `usize` (connections, fetches, tags).
pub(super) fn count(p: &mut Problems<'_>, v: &Spanned<i64>, key: &str) -> usize {
    usize::try_from(at_least_one(p, v, key)).unwrap_or(usize::MAX)
}

/// A timeout of zero would fail every request; it is a mistake, not a way
/// to disable one.
pub(super) fn positive(p: &mut Problems<'_>, v: &Spanned<Dur>, key: &str) -> Duration {
    if v.get_ref().0.is_zero() {
        p.at(v.span(), key, "must be more than 0");
    }
    v.get_ref().0
}

/// Names in a list (tags, models) must not be blank.
pub(super) fn non_empty(
    p: &mut Problems<'_>,
    items: Vec<Spanned<String>>,
    key: &str,
) -> Vec<String> {
    items
        .into_iter()
        .map(|s| {
            if s.get_ref().trim().is_empty() {
                p.at(s.span(), key, "must not be empty");
            }
            s.into_inner()
        })
        .collect()
}
