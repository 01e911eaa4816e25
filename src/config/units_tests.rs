//! Tests of the value newtypes: each parser with good and bad values, and
//! that `Display` prints what the parser reads back.

use super::*;

fn dur(s: &str) -> Result<Duration, String> {
    s.parse::<Dur>().map(|d| d.0)
}

fn size(s: &str) -> Result<u64, String> {
    s.parse::<ByteSize>().map(|b| b.0)
}

#[test]
fn durations_parse_with_units() {
    assert_eq!(dur("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(dur("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(dur("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(dur("7d"), Ok(Duration::from_secs(7 * 86400)));
    assert_eq!(dur("1h 30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(dur("0"), Ok(Duration::ZERO));
}

#[test]
fn bad_durations_say_how_to_write_one() {
    let e = dur("10").unwrap_err();
    assert!(e.contains("needs a unit, like \"10s\""), "{e}");
    for bad in ["", "abc", "10 parsecs", "-1s"] {
        let e = dur(bad).unwrap_err();
        assert!(e.contains("invalid duration"), "{bad}: {e}");
    }
}

#[test]
fn durations_display_in_their_largest_exact_unit() {
    for (text, shown) in [
        ("7d", "7d"),
        ("1h", "1h"),
        ("90s", "90s"),
        ("250ms", "250ms"),
        ("0s", "0s"),
        ("36h", "36h"),
        ("1500us", "1500us"),
    ] {
        let d: Dur = text.parse().expect("valid duration");
        assert_eq!(d.to_string(), shown);
        assert_eq!(d.to_string().parse::<Dur>(), Ok(d));
    }
}

#[test]
fn sizes_parse_binary_decimal_and_bytes() {
    assert_eq!(size("0"), Ok(0));
    assert_eq!(size("1234"), Ok(1234));
    assert_eq!(size("100B"), Ok(100));
    assert_eq!(size("512KiB"), Ok(512 * 1024));
    assert_eq!(size("16MiB"), Ok(16 << 20));
    assert_eq!(size("1GiB"), Ok(1 << 30));
    assert_eq!(size("2TiB"), Ok(2 << 40));
    assert_eq!(size("1k"), Ok(1024));
    assert_eq!(size("1K"), Ok(1024));
    assert_eq!(size("3G"), Ok(3 << 30));
    assert_eq!(size("1KB"), Ok(1000));
    assert_eq!(size("5MB"), Ok(5_000_000));
    assert_eq!(size("1gb"), Ok(1_000_000_000));
    assert_eq!(size("1.5GiB"), Ok(3 << 29));
    assert_eq!(size(" 10 MiB "), Ok(10 << 20));
}

#[test]
fn bad_sizes_are_refused() {
    for bad in [
        "",
        "MiB",
        "-1",
        "1.2.3KiB",
        "10 parsecs",
        "1.",
        "99999999999TiB",
    ] {
        let e = size(bad).unwrap_err();
        assert!(e.starts_with("invalid size"), "{bad}: {e}");
    }
}

#[test]
fn sizes_deserialize_from_integers_too() {
    #[derive(serde::Deserialize)]
    struct T {
        a: ByteSize,
    }
    let t: T = toml::from_str("a = 4096").expect("integer size");
    assert_eq!(t.a, ByteSize(4096));
    let e = toml::from_str::<T>("a = -5")
        .err()
        .expect("negative refused");
    assert!(e.message().contains("must not be negative"), "{e}");
}

#[test]
fn sizes_display_in_their_largest_exact_unit() {
    for (bytes, shown) in [
        (0, "0"),
        (1000, "1KB"),
        (999, "999"),
        (1024, "1KiB"),
        (10_000_000_000, "10GB"),
        (16 << 20, "16MiB"),
        (1 << 30, "1GiB"),
        (3 << 29, "1536MiB"),
    ] {
        assert_eq!(ByteSize(bytes).to_string(), shown);
        assert_eq!(size(shown), Ok(bytes));
    }
}

#[test]
fn cron_takes_six_or_seven_fields() {
    let c: CronSchedule = "0 30 4 * * *".parse().expect("6 fields");
    assert_eq!(c.text, "0 30 4 * * *");
    assert!("0 30 4 * * * 2099".parse::<CronSchedule>().is_ok());
    assert!("@daily".parse::<CronSchedule>().is_ok());
}

#[test]
fn five_field_cron_gets_a_hint() {
    let e = "30 4 * * *".parse::<CronSchedule>().unwrap_err();
    assert!(e.contains("has 5 fields"), "{e}");
    assert!(e.contains("\"0 30 4 * * *\""), "{e}");
}

#[test]
fn bad_cron_is_one_sentence() {
    let e = "0 61 4 * * *".parse::<CronSchedule>().unwrap_err();
    assert!(e.starts_with("invalid cron expression"), "{e}");
    assert!(!e.contains('\n') && !e.contains('^'), "{e}");
    let e = "0 30 4 * * xyz".parse::<CronSchedule>().unwrap_err();
    assert!(e.contains("xyz"), "{e}");
    let e = "1 2 3".parse::<CronSchedule>().unwrap_err();
    assert!(e.contains("has 3 fields"), "{e}");
}

#[test]
fn timezones_parse_names_and_offsets() {
    let tz = |s: &str| s.parse::<Timezone>();
    assert_eq!(tz("UTC"), Ok(Timezone::Utc));
    assert_eq!(tz("utc"), Ok(Timezone::Utc));
    assert_eq!(tz("Z"), Ok(Timezone::Utc));
    assert_eq!(tz("local"), Ok(Timezone::Local));
    assert_eq!(tz("+10:00"), Ok(Timezone::Fixed(36000)));
    assert_eq!(tz("-05:30"), Ok(Timezone::Fixed(-19800)));
    assert_eq!(tz("+0530"), Ok(Timezone::Fixed(19800)));
    assert_eq!(tz("+02"), Ok(Timezone::Fixed(7200)));
    assert_eq!(
        tz("Europe/Paris"),
        Ok(Timezone::Named(chrono_tz::Tz::Europe__Paris))
    );
    assert_eq!(
        tz(" america/new_york "),
        Ok(Timezone::Named(chrono_tz::Tz::America__New_York)),
        "IANA names are unique regardless of case"
    );
    for bad in [
        "Europe/Pariss",
        "CEST",
        "Mars/Olympus_Mons",
        "+24:00",
        "+10:60",
        "10:00",
        "+1:00",
        "+",
        "",
        "+1é1",
    ] {
        let e = tz(bad).unwrap_err();
        assert!(e.starts_with("invalid timezone"), "{bad}: {e}");
    }
    let e = tz("Europe/Pariss").unwrap_err();
    assert!(e.contains("not an IANA time zone name"), "{e}");
}

#[test]
fn an_unknown_zone_name_keeps_its_position_in_the_file() {
    #[derive(Debug, serde::Deserialize)]
    struct T {
        #[allow(dead_code)]
        timezone: Timezone,
    }
    let e = toml::from_str::<T>("\ntimezone = \"Europe/Pariss\"\n").unwrap_err();
    assert_eq!(e.span(), Some(12..27));
    assert!(e.message().contains("not an IANA time zone name"), "{e}");
}

#[test]
fn timezones_display_as_written() {
    for s in [
        "UTC",
        "local",
        "+10:00",
        "-05:30",
        "+00:00",
        "Europe/Paris",
        "America/Santiago",
    ] {
        let tz: Timezone = s.parse().expect("valid timezone");
        assert_eq!(tz.to_string(), s);
    }
}

#[test]
fn a_bad_value_keeps_its_position_in_the_file() {
    #[derive(Debug, serde::Deserialize)]
    struct T {
        #[allow(dead_code)]
        t: Dur,
    }
    let e = toml::from_str::<T>("\nt = \"5 parsecs\"\n").unwrap_err();
    assert_eq!(e.span(), Some(5..16));
    assert!(e.message().starts_with("invalid duration"), "{e}");
    let e = toml::from_str::<T>("t = 5").unwrap_err();
    assert!(e.message().contains("expected a duration string"), "{e}");
}
