//! Firing instants on the days the clocks change, in IANA zones: Paris and
//! New York (changes at night), Santiago, Havana and Beirut (changes at
//! midnight, so midnight itself is skipped or repeated), and Apia (a whole
//! day skipped). Instants were read off the zone data of chrono-tz.

use chrono::{LocalResult, NaiveDate, TimeDelta};
use chrono_tz::Tz;

use super::tests::{at, cron};
use super::*;

const PARIS: Timezone = Timezone::Named(Tz::Europe__Paris);
const NEW_YORK: Timezone = Timezone::Named(Tz::America__New_York);
const SANTIAGO: Timezone = Timezone::Named(Tz::America__Santiago);
const HAVANA: Timezone = Timezone::Named(Tz::America__Havana);
const BEIRUT: Timezone = Timezone::Named(Tz::Asia__Beirut);

/// Every firing in `[from, to)`, by repeated `next_fire`.
fn firings(
    when: &When,
    tz: Timezone,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from - TimeDelta::nanoseconds(1);
    while let Some(next) = next_fire(when, tz, t) {
        if next >= to {
            break;
        }
        assert!(next > t, "{next} after {t}");
        out.push(next);
        t = next;
    }
    out
}

/// The catch-up agrees with the deadline task: each firing is its own
/// last firing, and just before it the last one was the previous firing.
fn assert_last_fire_agrees(when: &When, tz: Timezone, fired: &[DateTime<Utc>]) {
    for pair in fired.windows(2) {
        let (earlier, later) = (pair[0], pair[1]);
        assert_eq!(last_fire(when, tz, later), Some(later), "{tz}: at {later}");
        let just_before = later - TimeDelta::nanoseconds(1);
        assert_eq!(
            last_fire(when, tz, just_before),
            Some(earlier),
            "{tz}: before {later}"
        );
    }
}

#[test]
fn daily_drops_exactly_once_per_local_day_through_a_year_of_dst() {
    let (from, to) = (at("2026-01-01T12:00:00Z"), at("2027-01-01T12:00:00Z"));
    for zone in [
        Tz::Europe__Paris,
        Tz::America__New_York,
        Tz::America__Santiago,
        Tz::America__Havana,
        Tz::Asia__Beirut,
    ] {
        let tz = Timezone::Named(zone);
        let fired = firings(&When::Daily, tz, from, to);
        let days: Vec<NaiveDate> = fired
            .iter()
            .map(|t| t.with_timezone(&zone).date_naive())
            .collect();
        assert_eq!(days.len(), 365, "{tz}: {days:?}");
        for pair in days.windows(2) {
            assert_eq!(pair[0].succ_opt(), Some(pair[1]), "{tz}: one drop a day");
        }
        for (t, day) in fired.iter().zip(&days) {
            let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
            match zone.from_local_datetime(&midnight) {
                // The first of two midnights, or the only one.
                LocalResult::Single(m) | LocalResult::Ambiguous(m, _) => assert_eq!(*t, m, "{tz}"),
                // Skipped: the moment the clocks jump, an instant that
                // happens once, an hour after midnight by the new clock.
                LocalResult::None => {
                    let before =
                        zone.offset_from_utc_datetime(&(*t - TimeDelta::seconds(1)).naive_utc());
                    let after = zone.offset_from_utc_datetime(&t.naive_utc());
                    assert_ne!(before, after, "{tz}: {t} is a change");
                }
            }
        }
        assert_last_fire_agrees(&When::Daily, tz, &fired);
    }
}

#[test]
fn daily_on_the_dst_days_of_paris_is_local_midnight() {
    let fired = firings(
        &When::Daily,
        PARIS,
        at("2026-03-28T12:00:00Z"),
        at("2026-03-30T12:00:00Z"),
    );
    assert_eq!(
        fired,
        [at("2026-03-28T23:00:00Z"), at("2026-03-29T22:00:00Z")]
    );
    let fired = firings(
        &When::Daily,
        PARIS,
        at("2026-10-24T12:00:00Z"),
        at("2026-10-26T12:00:00Z"),
    );
    assert_eq!(
        fired,
        [at("2026-10-24T22:00:00Z"), at("2026-10-25T23:00:00Z")]
    );
}

#[test]
fn a_skipped_midnight_drops_at_the_first_instant_after_it() {
    // Santiago, 2026-09-05 24:00 -04 becomes 01:00 -03 (04:00Z).
    let fired = firings(
        &When::Daily,
        SANTIAGO,
        at("2026-09-05T00:00:00Z"),
        at("2026-09-07T12:00:00Z"),
    );
    assert_eq!(
        fired,
        [
            at("2026-09-05T04:00:00Z"),
            at("2026-09-06T04:00:00Z"),
            at("2026-09-07T03:00:00Z")
        ]
    );
    // Havana, 2026-03-08 00:00 CST becomes 01:00 CDT (05:00Z); Beirut,
    // 2026-03-29 00:00 EET becomes 01:00 EEST (22:00Z the day before).
    let sunday = at("2026-03-08T03:00:00Z");
    assert_eq!(
        next_fire(&When::Daily, HAVANA, sunday),
        Some(at("2026-03-08T05:00:00Z"))
    );
    let saturday = at("2026-03-28T12:00:00Z");
    assert_eq!(
        next_fire(&When::Daily, BEIRUT, saturday),
        Some(at("2026-03-28T22:00:00Z"))
    );
    // Catch-up: just before the jump the last drop was the day before.
    assert_eq!(
        last_fire(&When::Daily, SANTIAGO, at("2026-09-06T03:59:59Z")),
        Some(at("2026-09-05T04:00:00Z"))
    );
}

#[test]
fn a_repeated_midnight_drops_once() {
    // Havana, 2026-11-01 01:00 CDT falls back to 00:00 CST: midnight at
    // 04:00Z and again at 05:00Z.
    let fired = firings(
        &When::Daily,
        HAVANA,
        at("2026-10-31T12:00:00Z"),
        at("2026-11-02T12:00:00Z"),
    );
    assert_eq!(
        fired,
        [at("2026-11-01T04:00:00Z"), at("2026-11-02T05:00:00Z")]
    );
    // During the second pass, the last drop is the first midnight and the
    // next is tomorrow's.
    let second_pass = at("2026-11-01T05:30:00Z");
    assert_eq!(
        last_fire(&When::Daily, HAVANA, second_pass),
        Some(at("2026-11-01T04:00:00Z"))
    );
    assert_eq!(
        next_fire(&When::Daily, HAVANA, second_pass),
        Some(at("2026-11-02T05:00:00Z"))
    );
    // Santiago repeats 23:00-24:00 of 2026-04-04: midnight happens once.
    let fired = firings(
        &When::Daily,
        SANTIAGO,
        at("2026-04-04T00:00:00Z"),
        at("2026-04-06T00:00:00Z"),
    );
    assert_eq!(
        fired,
        [at("2026-04-04T03:00:00Z"), at("2026-04-05T04:00:00Z")]
    );
}

#[test]
fn a_day_that_does_not_exist_drops_once() {
    // Samoa skipped 2011-12-30: 23:59:59 on the 29th (-10) was followed
    // by 00:00 on the 31st (+14), at 10:00Z.
    let apia = Timezone::Named(Tz::Pacific__Apia);
    let fired = firings(
        &When::Daily,
        apia,
        at("2011-12-29T00:00:00Z"),
        at("2012-01-01T00:00:00Z"),
    );
    assert_eq!(
        fired,
        [
            at("2011-12-29T10:00:00Z"),
            at("2011-12-30T10:00:00Z"),
            at("2011-12-31T10:00:00Z")
        ]
    );
}

#[test]
fn a_cron_time_in_the_skipped_hour_fires_at_the_end_of_the_jump() {
    let when = cron("0 30 2 * * *");
    // Paris, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00Z.
    let fired = firings(
        &when,
        PARIS,
        at("2026-03-28T00:00:00Z"),
        at("2026-03-31T00:00:00Z"),
    );
    assert_eq!(
        fired,
        [
            at("2026-03-28T01:30:00Z"),
            at("2026-03-29T01:00:00Z"),
            at("2026-03-30T00:30:00Z")
        ]
    );
    assert_last_fire_agrees(&when, PARIS, &fired);
    // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00Z.
    let fired = firings(
        &when,
        NEW_YORK,
        at("2026-03-07T00:00:00Z"),
        at("2026-03-10T00:00:00Z"),
    );
    assert_eq!(
        fired,
        [
            at("2026-03-07T07:30:00Z"),
            at("2026-03-08T07:00:00Z"),
            at("2026-03-09T06:30:00Z")
        ]
    );
    // Every second of the skipped 02:30 minute is one firing, not sixty.
    let minute = cron("* 30 2 * * *");
    let fired = firings(
        &minute,
        PARIS,
        at("2026-03-29T00:00:00Z"),
        at("2026-03-29T12:00:00Z"),
    );
    assert_eq!(fired, [at("2026-03-29T01:00:00Z")]);
}

#[test]
fn a_cron_time_in_the_repeated_hour_fires_once() {
    let when = cron("0 30 2 * * *");
    // Paris, 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00Z, so
    // 02:30 is 00:30Z and again 01:30Z.
    let fired = firings(
        &when,
        PARIS,
        at("2026-10-24T00:00:00Z"),
        at("2026-10-27T00:00:00Z"),
    );
    assert_eq!(
        fired,
        [
            at("2026-10-24T00:30:00Z"),
            at("2026-10-25T00:30:00Z"),
            at("2026-10-26T01:30:00Z")
        ]
    );
    assert_last_fire_agrees(&when, PARIS, &fired);
    // Catch-up in the second pass: it already fired in the first.
    assert_eq!(
        last_fire(&when, PARIS, at("2026-10-25T01:45:00Z")),
        Some(at("2026-10-25T00:30:00Z"))
    );
    // New York, 2026-11-01: 01:30 is 05:30Z (EDT) and 06:30Z (EST).
    let when = cron("0 30 1 * * *");
    let fired = firings(
        &when,
        NEW_YORK,
        at("2026-10-31T12:00:00Z"),
        at("2026-11-02T12:00:00Z"),
    );
    assert_eq!(
        fired,
        [at("2026-11-01T05:30:00Z"), at("2026-11-02T06:30:00Z")]
    );
}

#[test]
fn an_every_hour_cron_keeps_real_time_across_both_changes() {
    let quarter = cron("0 */15 * * * *");
    for (tz, from) in [
        (PARIS, "2026-03-28T23:00:00Z"),
        (PARIS, "2026-10-24T23:00:00Z"),
        (NEW_YORK, "2026-03-08T05:00:00Z"),
        (NEW_YORK, "2026-11-01T04:00:00Z"),
        (HAVANA, "2026-11-01T03:00:00Z"),
    ] {
        let from = at(from);
        let fired = firings(&quarter, tz, from, from + TimeDelta::hours(4));
        assert_eq!(fired.len(), 16, "{tz}: {fired:?}");
        for pair in fired.windows(2) {
            assert_eq!(pair[1] - pair[0], TimeDelta::minutes(15), "{tz}: {fired:?}");
        }
        assert_last_fire_agrees(&quarter, tz, &fired);
    }
    // At half past every hour: no extra firing at the jump itself.
    let half_past = cron("0 30 * * * *");
    let fired = firings(
        &half_past,
        PARIS,
        at("2026-03-29T00:00:00Z"),
        at("2026-03-29T03:00:00Z"),
    );
    assert_eq!(
        fired,
        [
            at("2026-03-29T00:30:00Z"),
            at("2026-03-29T01:30:00Z"),
            at("2026-03-29T02:30:00Z")
        ]
    );
}

#[test]
fn catch_up_at_start_across_the_jump_forward() {
    let when = cron("0 30 2 * * *");
    // Down from before the jump until after it: the firing at the jump is
    // the one to apply.
    assert_eq!(
        last_fire(&when, PARIS, at("2026-03-29T00:45:00Z")),
        Some(at("2026-03-28T01:30:00Z"))
    );
    assert_eq!(
        last_fire(&when, PARIS, at("2026-03-29T05:00:00Z")),
        Some(at("2026-03-29T01:00:00Z"))
    );
    assert_eq!(
        last_fire(&When::Daily, HAVANA, at("2026-03-08T12:00:00Z")),
        Some(at("2026-03-08T05:00:00Z"))
    );
}
