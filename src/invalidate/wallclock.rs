//! From the wall-clock times a schedule names to the instants it fires at,
//! across DST changes: the one place that knows a local time may not exist
//! (clocks jump forward over it) or may happen twice (clocks fall back).
//!
//! The rules are those of cron daemons (cronie, Vixie cron), which is what
//! an operator reading a cron line expects:
//!
//! - A plan that names times of day ([`Rule::TimeOfDay`]: `daily`, or a
//!   cron whose hour field is not `*`) fires once per named time. A time in
//!   the skipped hour fires at the first instant after the jump (02:30 on
//!   the spring-forward day fires at 03:00); a time in the repeated hour
//!   fires at its first occurrence only. `daily` thereby drops exactly once
//!   per local day, also where midnight itself is skipped or repeated.
//! - A plan that runs every hour ([`Rule::Clock`]: a cron whose hour field
//!   is `*`, such as every 15 minutes) fires whenever the clock shows a
//!   matching time, so it keeps its real-time rhythm: nothing extra after
//!   the jump forward, both passes of the repeated hour.
//!
//! Times are handled as naive local date-times and mapped to instants here;
//! the zone's own rules (chrono's `from_local_datetime`) say which times
//! are skipped or repeated. This module knows no cron syntax and no clock.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};

/// How a named wall-clock time becomes instants on a day the clocks change
/// (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rule {
    /// Once per named time: a skipped one at the end of the jump, a
    /// repeated one at its first occurrence.
    TimeOfDay,
    /// Whenever the clock shows the time: never for a skipped one, twice
    /// for a repeated one.
    Clock,
}

/// The wall-clock times a plan names, as naive local date-times in order.
pub(super) trait WallTimes {
    /// The first named time strictly after `t`.
    fn after(&self, t: NaiveDateTime) -> Option<NaiveDateTime>;
    /// The last named time strictly before `t`.
    fn before(&self, t: NaiveDateTime) -> Option<NaiveDateTime>;
    fn rule(&self) -> Rule;
}

/// Named times looked at in one search, at most. The search ends long
/// before this for any real zone (an every-second cron looks at an hour's
/// worth during a repeated hour); the bound only keeps a pathological zone
/// from spinning the schedule task.
const MAX_STEPS: usize = 200_000;

/// The first firing strictly after `after`.
pub(super) fn next_in<Z: TimeZone>(
    times: &impl WallTimes,
    zone: &Z,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let rule = times.rule();
    let local = after.with_timezone(zone).naive_local();
    // When `after` falls in the first pass of a repeated hour, the second
    // pass of times before it is still to come: look back by the overlap.
    let mut cursor = local.checked_sub_signed(overlap(zone, local))?;
    let mut best: Option<DateTime<Utc>> = None;
    for _ in 0..MAX_STEPS {
        let Some(n) = times.after(cursor) else { break };
        cursor = n;
        let found = instants(zone, n, rule);
        // The earliest instant of each later named time only grows, so
        // once it reaches the best so far nothing later can beat it.
        if let (Some(b), Some(first)) = (best, found.iter().flatten().next()) {
            if *first >= b {
                break;
            }
        }
        for t in found.into_iter().flatten() {
            if t > after && best.is_none_or(|b| t < b) {
                best = Some(t);
            }
        }
    }
    best
}

/// The latest firing at or before `now`.
pub(super) fn last_in<Z: TimeZone>(
    times: &impl WallTimes,
    zone: &Z,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let rule = times.rule();
    let local = now.with_timezone(zone).naive_local();
    // When `now` falls in the second pass of a repeated hour, the first
    // pass of times after it already happened: look ahead by the overlap.
    // The nanosecond makes a time at `now` itself count ("strictly before").
    let mut cursor = local
        .checked_add_signed(overlap(zone, local))?
        .checked_add_signed(TimeDelta::nanoseconds(1))?;
    let mut best: Option<DateTime<Utc>> = None;
    for _ in 0..MAX_STEPS {
        let Some(n) = times.before(cursor) else { break };
        cursor = n;
        let found = instants(zone, n, rule);
        // The latest instant of each earlier named time only shrinks.
        if let (Some(b), Some(last)) = (best, found.iter().flatten().last()) {
            if *last <= b {
                break;
            }
        }
        for t in found.into_iter().flatten() {
            if t <= now && best.is_none_or(|b| t > b) {
                best = Some(t);
            }
        }
    }
    best
}

/// The instants at which the wall-clock time `n` fires under `rule`,
/// earliest first.
fn instants<Z: TimeZone>(zone: &Z, n: NaiveDateTime, rule: Rule) -> [Option<DateTime<Utc>>; 2] {
    let utc = |t: DateTime<Z>| t.with_timezone(&Utc);
    match (zone.from_local_datetime(&n), rule) {
        (LocalResult::Single(t), _) => [Some(utc(t)), None],
        (LocalResult::Ambiguous(first, _), Rule::TimeOfDay) => [Some(utc(first)), None],
        (LocalResult::Ambiguous(first, second), Rule::Clock) => {
            [Some(utc(first)), Some(utc(second))]
        }
        (LocalResult::None, Rule::TimeOfDay) => [gap_end(zone, n), None],
        (LocalResult::None, Rule::Clock) => [None, None],
    }
}

/// How long the repeated hour containing `n` lasts (zero when `n` happens
/// once or not at all).
fn overlap<Z: TimeZone>(zone: &Z, n: NaiveDateTime) -> TimeDelta {
    match zone.from_local_datetime(&n) {
        LocalResult::Ambiguous(first, second) => {
            second.with_timezone(&Utc) - first.with_timezone(&Utc)
        }
        _ => TimeDelta::zero(),
    }
}

/// The first instant after the jump that skips the wall-clock time `n`:
/// the moment the clocks change. Found by stepping to a time that exists
/// and then halving to the second (offsets are whole seconds); gaps are an
/// hour or so, a whole day at most (Samoa skipped 30 December 2011).
fn gap_end<Z: TimeZone>(zone: &Z, n: NaiveDateTime) -> Option<DateTime<Utc>> {
    let exists = |w: NaiveDateTime| zone.from_local_datetime(&w).earliest();
    let step = TimeDelta::minutes(15);
    let mut missing = n;
    let mut present = None;
    for _ in 0..(26 * 4) {
        let w = missing.checked_add_signed(step)?;
        if exists(w).is_some() {
            present = Some(w);
            break;
        }
        missing = w;
    }
    let mut present = present?;
    while (present - missing) > TimeDelta::seconds(1) {
        let half = TimeDelta::seconds((present - missing).num_seconds() / 2);
        let mid = missing.checked_add_signed(half)?;
        if exists(mid).is_some() {
            present = mid;
        } else {
            missing = mid;
        }
    }
    exists(present).map(|t| t.with_timezone(&Utc))
}
