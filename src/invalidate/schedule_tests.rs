//! Firing instants at fixed points in time, in each kind of timezone.

use std::path::Path;

use chrono::TimeDelta;

use super::*;

pub(super) fn at(s: &str) -> DateTime<Utc> {
    match s.parse() {
        Ok(t) => t,
        Err(e) => panic!("{s}: {e}"),
    }
}

pub(super) fn cron(expr: &str) -> When {
    match expr.parse() {
        Ok(s) => When::Cron(Box::new(s)),
        Err(e) => panic!("{expr}: {e}"),
    }
}

fn plan(name: &str, when: When) -> Plan {
    Plan {
        name: name.to_string(),
        when,
        selector: Selector {
            all: true,
            ..Selector::default()
        },
    }
}

const PLUS_10: Timezone = Timezone::Fixed(10 * 3600);
const MINUS_0530: Timezone = Timezone::Fixed(-(5 * 3600 + 30 * 60));

#[test]
fn daily_in_utc() {
    let now = at("2024-03-10T15:00:00Z");
    assert_eq!(
        next_fire(&When::Daily, Timezone::Utc, now),
        Some(at("2024-03-11T00:00:00Z"))
    );
    assert_eq!(
        last_fire(&When::Daily, Timezone::Utc, now),
        Some(at("2024-03-10T00:00:00Z"))
    );
}

#[test]
fn daily_at_midnight_is_its_own_last_and_not_its_own_next() {
    let midnight = at("2024-03-10T00:00:00Z");
    assert_eq!(
        last_fire(&When::Daily, Timezone::Utc, midnight),
        Some(midnight)
    );
    assert_eq!(
        next_fire(&When::Daily, Timezone::Utc, midnight),
        Some(at("2024-03-11T00:00:00Z"))
    );
}

#[test]
fn daily_east_of_utc() {
    // 15:00Z is 01:00 on the 11th at +10:00.
    let now = at("2024-03-10T15:00:00Z");
    assert_eq!(
        next_fire(&When::Daily, PLUS_10, now),
        Some(at("2024-03-11T14:00:00Z"))
    );
    assert_eq!(
        last_fire(&When::Daily, PLUS_10, now),
        Some(at("2024-03-10T14:00:00Z"))
    );
}

#[test]
fn daily_west_of_utc_with_half_hours() {
    // 03:00Z is 21:30 on the 9th at -05:30.
    let now = at("2024-03-10T03:00:00Z");
    assert_eq!(
        next_fire(&When::Daily, MINUS_0530, now),
        Some(at("2024-03-10T05:30:00Z"))
    );
    assert_eq!(
        last_fire(&When::Daily, MINUS_0530, now),
        Some(at("2024-03-09T05:30:00Z"))
    );
}

#[test]
fn cron_next_and_last_in_utc() {
    let when = cron("0 30 4 * * *");
    let firing = at("2024-03-10T04:30:00Z");
    assert_eq!(
        next_fire(&when, Timezone::Utc, firing),
        Some(at("2024-03-11T04:30:00Z"))
    );
    assert_eq!(last_fire(&when, Timezone::Utc, firing), Some(firing));
    let just_before = at("2024-03-10T04:29:59.999Z");
    assert_eq!(next_fire(&when, Timezone::Utc, just_before), Some(firing));
    assert_eq!(
        last_fire(&when, Timezone::Utc, just_before),
        Some(at("2024-03-09T04:30:00Z"))
    );
}

#[test]
fn cron_fields_are_wall_clock_of_the_zone() {
    let when = cron("0 30 4 * * *");
    let now = at("2024-03-10T12:00:00Z"); // 22:00 on the 10th at +10:00
    assert_eq!(
        next_fire(&when, PLUS_10, now),
        Some(at("2024-03-10T18:30:00Z"))
    );
    assert_eq!(
        last_fire(&when, PLUS_10, now),
        Some(at("2024-03-09T18:30:00Z"))
    );
    assert_eq!(
        next_fire(&when, MINUS_0530, now),
        Some(at("2024-03-11T10:00:00Z"))
    );
}

#[test]
fn every_second_fires_one_second_later() {
    let when = cron("* * * * * *");
    let t = at("2024-03-10T04:30:00Z");
    assert_eq!(
        next_fire(&when, Timezone::Utc, t),
        Some(at("2024-03-10T04:30:01Z"))
    );
    let mid_second = at("2024-03-10T04:30:00.5Z");
    assert_eq!(
        next_fire(&when, Timezone::Utc, mid_second),
        Some(at("2024-03-10T04:30:01Z"))
    );
    assert_eq!(last_fire(&when, Timezone::Utc, mid_second), Some(t));
}

#[test]
fn seven_fields_with_a_year() {
    let future = cron("0 0 12 1 1 * 2030");
    let now = at("2024-03-10T00:00:00Z");
    assert_eq!(
        next_fire(&future, Timezone::Utc, now),
        Some(at("2030-01-01T12:00:00Z"))
    );
    assert_eq!(
        last_fire(&future, Timezone::Utc, now),
        None,
        "never fired yet"
    );

    let past = cron("0 0 0 1 1 * 2020");
    assert_eq!(
        next_fire(&past, Timezone::Utc, now),
        None,
        "never fires again"
    );
    assert_eq!(
        last_fire(&past, Timezone::Utc, now),
        Some(at("2020-01-01T00:00:00Z"))
    );
}

#[test]
fn yearly_cron_not_yet_due_this_year_last_fired_the_year_before() {
    let june_first = cron("0 0 0 1 6 *");
    let now = at("2024-03-10T00:00:00Z");
    assert_eq!(
        last_fire(&june_first, Timezone::Utc, now),
        Some(at("2023-06-01T00:00:00Z"))
    );
    assert_eq!(
        next_fire(&june_first, Timezone::Utc, now),
        Some(at("2024-06-01T00:00:00Z"))
    );
}

#[test]
fn next_due_picks_the_soonest() {
    let plans = [
        plan("daily", When::Daily),
        plan("at 04:30", cron("0 30 4 * * *")),
        plan("hourly", cron("0 0 * * * *")),
    ];
    let now = at("2024-03-10T02:10:00Z");
    assert_eq!(
        next_due(&plans, Timezone::Utc, now),
        Some((at("2024-03-10T03:00:00Z"), vec![2]))
    );
    let now = at("2024-03-10T04:10:00Z");
    assert_eq!(
        next_due(&plans, Timezone::Utc, now),
        Some((at("2024-03-10T04:30:00Z"), vec![1]))
    );
}

#[test]
fn next_due_groups_plans_firing_together() {
    let plans = [
        plan("daily", When::Daily),
        plan("at 04:30", cron("0 30 4 * * *")),
        plan("midnight", cron("0 0 0 * * *")),
    ];
    let now = at("2024-03-10T05:00:00Z");
    assert_eq!(
        next_due(&plans, Timezone::Utc, now),
        Some((at("2024-03-11T00:00:00Z"), vec![0, 2]))
    );
}

#[test]
fn next_due_skips_plans_that_never_fire_again() {
    let plans = [plan("past", cron("0 0 0 1 1 * 2020"))];
    assert_eq!(
        next_due(&plans, Timezone::Utc, at("2024-03-10T00:00:00Z")),
        None
    );
    assert_eq!(
        next_due(&[], Timezone::Utc, at("2024-03-10T00:00:00Z")),
        None
    );
}

#[test]
fn local_time_brackets_now() {
    // Whatever zone the machine is in, a daily firing lies within a day
    // (plus a DST hour) on each side, and the order holds.
    let now = at("2024-03-31T01:30:00Z");
    for when in [When::Daily, cron("0 30 2 * * *")] {
        let next = next_fire(&when, Timezone::Local, now).expect("fires again");
        let last = last_fire(&when, Timezone::Local, now).expect("fired before");
        assert!(last <= now && now < next, "{last} {now} {next}");
        assert!(next - last <= TimeDelta::hours(50), "{last} {next}");
    }
}

#[test]
fn plans_come_from_daily_and_each_schedule_in_order() {
    let text = r#"
[upstream]
url = "http://127.0.0.1:8000"

[invalidate]
daily = true

[[schedule]]
cron = "0 30 4 * * *"
all = true

[[schedule]]
cron = "0 0 * * * *"
tags = ["news"]
urls = ["/events/?b=2&a=1"]
soft = true
"#;
    let config = match crate::config::from_str(Path::new("preload.toml"), text, None) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let plans = plans(&config);
    let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "daily",
            "schedule 1 (0 30 4 * * *)",
            "schedule 2 (0 0 * * * *)"
        ]
    );
    assert!(matches!(plans[0].when, When::Daily));
    assert!(plans[0].selector.all && !plans[0].selector.soft);
    assert!(plans[1].selector.all);
    assert_eq!(
        plans[2].selector,
        Selector {
            all: false,
            tags: vec!["news".into()],
            urls: vec!["/events/?a=1&b=2".into()],
            prefixes: vec![],
            soft: true,
        }
    );
}
