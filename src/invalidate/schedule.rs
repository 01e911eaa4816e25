//! When scheduled invalidations fire: `[invalidate] daily` and each
//! `[[schedule]]`, evaluated as wall-clock times of `[invalidate] timezone`.
//!
//! Everything here is a pure function of a config and an instant, so the
//! deadline task (which sleeps until [`next_due`]) and the catch-up at start
//! (which asks [`last_fire`] what fell due while the daemon was down) are
//! tested without waiting on a clock. This module never reads the clock,
//! never sleeps and never touches the store.

use chrono::{DateTime, Days, FixedOffset, Local, NaiveDate, Offset, TimeDelta, TimeZone, Utc};

use super::selector::{from_config_schedule, Selector};
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
    let rules = QueryRules {
        sort_query: config.preload.sort_query,
        ignore_query: &config.preload.ignore_query,
    };
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
/// are local wall-clock times of that zone). `None` when it never fires
/// again (a cron whose years are all past).
pub fn next_fire(when: &When, tz: Timezone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match tz {
        Timezone::Utc => next_in(when, &Utc, after),
        Timezone::Local => next_in(when, &Local, after),
        Timezone::Fixed(secs) => next_in(when, &fixed(secs), after),
    }
}

/// The latest firing at or before `now` (for catch-up at start: snapshots
/// taken before it and matched by the selector are dropped or softened).
/// `None` when it never fired (a cron whose years all lie ahead).
pub fn last_fire(when: &When, tz: Timezone, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match tz {
        Timezone::Utc => last_in(when, &Utc, now),
        Timezone::Local => last_in(when, &Local, now),
        Timezone::Fixed(secs) => last_in(when, &fixed(secs), now),
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

fn next_in<Z: TimeZone>(when: &When, zone: &Z, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = after.with_timezone(zone);
    match when {
        When::Daily => {
            let today = local.date_naive();
            (0..=2)
                .filter_map(|d| today.checked_add_days(Days::new(d)))
                .filter_map(|day| midnight(zone, day))
                .find(|t| *t > after)
        }
        // The cron crate's iterator starts strictly after the instant given;
        // at a repeated wall-clock time (DST ends) it yields the earlier one.
        When::Cron(schedule) => schedule.after(&local).next().map(|t| t.with_timezone(&Utc)),
    }
}

fn last_in<Z: TimeZone>(when: &When, zone: &Z, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(zone);
    match when {
        When::Daily => {
            let today = local.date_naive();
            (0..=2)
                .filter_map(|d| today.checked_sub_days(Days::new(d)))
                .filter_map(|day| midnight(zone, day))
                .find(|t| *t <= now)
        }
        // Iterating backwards yields firings strictly before the start, so
        // start a nanosecond after `now` to include a firing at `now` itself
        // (the crate truncates to whole seconds either way).
        When::Cron(schedule) => {
            let start = local.checked_add_signed(TimeDelta::nanoseconds(1))?;
            schedule
                .after(&start)
                .next_back()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}

/// The instant `day` begins in `zone`. Where 00:00 is skipped by a DST
/// change (it is in some zones), the day begins at the first half hour that
/// exists; where 00:00 happens twice, at the first.
fn midnight<Z: TimeZone>(zone: &Z, day: NaiveDate) -> Option<DateTime<Utc>> {
    let start = day.and_hms_opt(0, 0, 0)?;
    (0..=4)
        .filter_map(|half_hours| start.checked_add_signed(TimeDelta::minutes(30 * half_hours)))
        .find_map(|wall| zone.from_local_datetime(&wall).earliest())
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
