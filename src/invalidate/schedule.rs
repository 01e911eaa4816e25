//! When scheduled invalidations fire: `[invalidate] daily` and each
//! `[[schedule]]`, evaluated as wall-clock times of `[invalidate] timezone`.
//!
//! Everything here is a pure function of a config and an instant, so the
//! deadline task (which sleeps until [`next_due`]) and the catch-up at start
//! (which asks [`last_fire`] what fell due while the daemon was down) are
//! tested without waiting on a clock. This module never reads the clock,
//! never sleeps and never touches the store.

use chrono::{DateTime, FixedOffset, Local, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use cron::TimeUnitSpec;

use super::selector::{from_config_schedule, Selector};
use super::wallclock::{self, Rule, WallTimes};
use crate::config::{Config, Timezone};
use crate::key::QueryRules;

/// One planned invalidation: `daily` (00:00 in the timezone, drops all) or a
/// `[[schedule]]`.
#[derive(Debug, Clone)]
pub struct Plan {
    /// For logs: "daily" or "schedule 1 (0 30 4 * * *)", numbered in file
    /// order from 1.
    pub name: String,
    pub when: When,
    pub selector: Selector,
}

/// The firing rule of a [`Plan`].
#[derive(Debug, Clone)]
pub enum When {
    /// Every day at 00:00.
    Daily,
    /// Each instant the 6/7-field expression matches. Boxed: a parsed
    /// schedule is a few hundred bytes of field sets, `Daily` none.
    Cron(Box<cron::Schedule>),
}

/// The plans a configuration asks for: `daily` first if set, then each
/// `[[schedule]]` in file order.
pub fn plans(config: &Config) -> Vec<Plan> {
    let rules = QueryRules::of(&config.preload);
    let daily = config.invalidate.daily.then(|| Plan {
        name: "daily".to_string(),
        when: When::Daily,
        selector: Selector {
            all: true,
            ..Selector::default()
        },
    });
    let schedules = config.schedules.iter().enumerate().map(|(i, s)| Plan {
        name: format!("schedule {} ({})", i + 1, s.cron.text),
        when: When::Cron(Box::new(s.cron.schedule.clone())),
        selector: from_config_schedule(s, rules),
    });
    daily.into_iter().chain(schedules).collect()
}

/// The first firing strictly after `after`, evaluated in `tz` (cron fields
/// are local wall-clock times of that zone; DST days as `wallclock` says).
/// `None` when it never fires again (a cron whose years are all past).
pub fn next_fire(when: &When, tz: Timezone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match tz {
        Timezone::Utc => wallclock::next_in(when, &Utc, after),
        Timezone::Local => wallclock::next_in(when, &Local, after),
        Timezone::Fixed(secs) => wallclock::next_in(when, &fixed(secs), after),
        Timezone::Named(zone) => wallclock::next_in(when, &zone, after),
    }
}

/// The latest firing at or before `now` (for catch-up at start: snapshots
/// taken before it and matched by the selector are dropped or softened).
/// `None` when it never fired (a cron whose years all lie ahead).
pub fn last_fire(when: &When, tz: Timezone, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match tz {
        Timezone::Utc => wallclock::last_in(when, &Utc, now),
        Timezone::Local => wallclock::last_in(when, &Local, now),
        Timezone::Fixed(secs) => wallclock::last_in(when, &fixed(secs), now),
        Timezone::Named(zone) => wallclock::last_in(when, &zone, now),
    }
}

/// The soonest next firing among `plans`: the instant, and the indices of
/// every plan firing then, so that plans sharing an instant run as one
/// batch (in index order) rather than as two wake-ups.
pub fn next_due(
    plans: &[Plan],
    tz: Timezone,
    after: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Vec<usize>)> {
    let mut soonest: Option<(DateTime<Utc>, Vec<usize>)> = None;
    for (i, plan) in plans.iter().enumerate() {
        let Some(at) = next_fire(&plan.when, tz, after) else {
            continue;
        };
        match &mut soonest {
            Some((best, due)) if at == *best => due.push(i),
            Some((best, _)) if at > *best => {}
            _ => soonest = Some((at, vec![i])),
        }
    }
    soonest
}

/// `Timezone::Fixed` as chrono's offset. The config parser keeps offsets
/// within ±23:59, which chrono always accepts; UTC is the fallback rather
/// than a panic should that ever change.
fn fixed(secs: i32) -> FixedOffset {
    FixedOffset::east_opt(secs).unwrap_or_else(|| Utc.fix())
}

/// A plan's times as wall-clock times with no zone: the cron crate is
/// asked in UTC, which has no gaps and no repeats, so each named time comes
/// exactly once and `wallclock` alone decides what DST does to it.
impl WallTimes for When {
    fn after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            When::Daily => t.date().succ_opt()?.and_hms_opt(0, 0, 0),
            // The iterator starts strictly after the instant given.
            When::Cron(schedule) => schedule
                .after(&Utc.from_utc_datetime(&t))
                .next()
                .map(|u| u.naive_utc()),
        }
    }

    fn before(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            When::Daily => {
                let day = if t.time() == NaiveTime::MIN {
                    t.date().pred_opt()?
                } else {
                    t.date()
                };
                day.and_hms_opt(0, 0, 0)
            }
            // Iterating backwards yields times strictly before the start.
            When::Cron(schedule) => schedule
                .after(&Utc.from_utc_datetime(&t))
                .next_back()
                .map(|u| u.naive_utc()),
        }
    }

    /// As cron daemons do: an expression for every hour keeps real time,
    /// one for given hours is a time of day (see `wallclock`).
    fn rule(&self) -> Rule {
        match self {
            When::Daily => Rule::TimeOfDay,
            When::Cron(schedule) if schedule.hours().is_all() => Rule::Clock,
            When::Cron(_) => Rule::TimeOfDay,
        }
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "schedule_dst_tests.rs"]
mod dst_tests;
