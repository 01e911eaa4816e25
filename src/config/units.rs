//! Value newtypes of `preload.toml` that validate inside their
//! deserializers, so that a bad value is reported by the toml parser with
//! its line and column: durations, byte sizes, cron expressions and time
//! zones (route matchers and query-name globs are in `matchers.rs`).
//!
//! Each type checks one value on its own; checks that need another key
//! belong to `validate.rs` and `routing.rs`. Each has a `Display` that
//! prints it back in a form its parser accepts (used by `Config::render`).

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Deserializes a string through `FromStr`. `expecting` is what serde says
/// when the value is not a string at all ("expected a duration ...").
pub(crate) fn from_str_value<'de, D, T>(d: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    struct ParseVisitor<T>(&'static str, PhantomData<T>);
    impl<'de, T: FromStr<Err = String>> Visitor<'de> for ParseVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }
    d.deserialize_str(ParseVisitor(expecting, PhantomData))
}

/// Implements `Deserialize` through `FromStr` for a string-valued unit.
macro_rules! deserialize_via_from_str {
    ($t:ty, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::config::units::from_str_value(d, $expecting)
            }
        }
    };
}
pub(crate) use deserialize_via_from_str;

/// A duration written as `"250ms"`, `"30s"`, `"1h"`, `"7d"` (humantime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if !t.is_empty() && t != "0" && t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("duration \"{t}\" needs a unit, like \"{t}s\""));
        }
        humantime::parse_duration(t).map(Dur).map_err(|e| {
            format!("invalid duration {s:?}: {e}; write a number and a unit, like \"250ms\", \"30s\", \"1h\" or \"7d\"")
        })
    }
}
deserialize_via_from_str!(Dur, "a duration string with a unit, like \"30s\"");

impl fmt::Display for Dur {
    /// The largest unit that divides the duration exactly ("7d", "90s").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos();
        const UNITS: [(u128, &str); 7] = [
            (86_400_000_000_000, "d"),
            (3_600_000_000_000, "h"),
            (60_000_000_000, "m"),
            (1_000_000_000, "s"),
            (1_000_000, "ms"),
            (1_000, "us"),
            (1, "ns"),
        ];
        if ns == 0 {
            return f.write_str("0s");
        }
        let (size, unit) = UNITS
            .iter()
            .find(|(size, _)| ns.is_multiple_of(*size))
            .copied()
            .unwrap_or((1, "ns"));
        write!(f, "{}{unit}", ns / size)
    }
}

/// A byte size: a plain integer (bytes), or a number with a unit.
/// `KiB`, `MiB`, `GiB`, `TiB` and the single letters `K`, `M`, `G`, `T` are
/// powers of 1024; `KB`, `MB`, `GB`, `TB` are powers of 1000; `B` is bytes.
/// Units are case-insensitive; a decimal point is allowed ("1.5GiB").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            format!("invalid size {s:?}: {why}; write bytes or a number and a unit, like \"512KiB\", \"16MiB\" or \"1GiB\"")
        };
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(bad("no number"));
        }
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "t" | "tib" => 1 << 40,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            _ => return Err(bad(&format!("unknown unit {:?}", unit.trim()))),
        };
        if let Ok(whole) = number.parse::<u64>() {
            return whole
                .checked_mul(multiplier)
                .map(ByteSize)
                .ok_or_else(|| bad("too large"));
        }
        let value: f64 = number.parse().map_err(|_| bad("not a number"))?;
        let bytes = (value * multiplier as f64).round();
        if bytes >= u64::MAX as f64 {
            return Err(bad("too large"));
        }
        // In range and non-negative: checked just above and by the parse.
        Ok(ByteSize(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size like \"16MiB\", or a number of bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
            }
        }
        d.deserialize_any(SizeVisitor)
    }
}

impl fmt::Display for ByteSize {
    /// The exact unit that gives the smallest number ("1GiB", "10GB"),
    /// else bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 8] = [
            (1 << 40, "TiB"),
            (1 << 30, "GiB"),
            (1 << 20, "MiB"),
            (1 << 10, "KiB"),
            (1_000_000_000_000, "TB"),
            (1_000_000_000, "GB"),
            (1_000_000, "MB"),
            (1_000, "KB"),
        ];
        let n = self.0;
        let best = UNITS
            .iter()
            .filter(|(size, _)| n != 0 && n.is_multiple_of(*size))
            .min_by_key(|(size, _)| n / size);
        match best {
            Some((size, unit)) => write!(f, "{}{unit}", n / size),
            None => write!(f, "{n}"),
        }
    }
}

/// A parsed 6/7-field cron expression, with the text it came from.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    pub text: String,
    pub schedule: cron::Schedule,
}

impl FromStr for CronSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        const FIELDS: &str = "sec min hour day-of-month month day-of-week [year]";
        let text = s.trim();
        let fields = text.split_whitespace().count();
        if !text.starts_with('@') {
            if fields == 5 {
                return Err(format!("cron expression {text:?} has 5 fields, but preloadd's have 6 or 7 ({FIELDS}): add the seconds, like \"0 {text}\""));
            }
            if !(6..=7).contains(&fields) {
                return Err(format!(
                    "cron expression {text:?} has {fields} fields; expected 6 or 7 ({FIELDS})"
                ));
            }
        }
        match text.parse::<cron::Schedule>() {
            Ok(schedule) => Ok(CronSchedule {
                text: text.to_string(),
                schedule,
            }),
            Err(e) => {
                // The cron crate's message repeats the expression with a
                // caret under the fault; keep only the sentence.
                let msg = e.to_string();
                let why = msg
                    .lines()
                    .map(str::trim)
                    .rfind(|l| !l.is_empty() && *l != text && !l.starts_with('^'))
                    .unwrap_or("syntax error")
                    .to_string();
                Err(format!("invalid cron expression {text:?}: {why}"))
            }
        }
    }
}
deserialize_via_from_str!(
    CronSchedule,
    "a cron expression string, like \"0 30 4 * * *\""
);

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `[invalidate] timezone`: the zone whose wall clock `daily` and the
/// `[[schedule]]` cron fields are read in.
///
/// Named zones come from chrono-tz's built-in copy of the IANA database, so
/// a host without /usr/share/zoneinfo (a scratch container) schedules the
/// same as one with it; the price is that a rule change needs a new build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timezone {
    Utc,
    /// The host's zone, as the C library sees it (`TZ`, /etc/localtime).
    Local,
    /// Seconds east of UTC.
    Fixed(i32),
    /// An IANA zone such as "Europe/Paris", with its DST changes.
    Named(chrono_tz::Tz),
}

impl FromStr for Timezone {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid timezone {s:?}: use \"UTC\", \"local\", a fixed offset like \"+10:00\" or \"-05:30\", or an IANA name like \"Europe/Paris\"")
        };
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Timezone::Utc);
        }
        if t.eq_ignore_ascii_case("local") {
            return Ok(Timezone::Local);
        }
        let sign = match t.as_bytes().first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => {
                return named(t).ok_or_else(|| {
                    format!("invalid timezone {s:?}: not an IANA time zone name (like \"Europe/Paris\" or \"America/New_York\"); or use \"UTC\", \"local\" or a fixed offset like \"+10:00\"")
                })
            }
        };
        let rest = &t[1..];
        if !rest.is_ascii() {
            return Err(bad());
        }
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => rest.split_at(2),
            None => (rest, "00"),
        };
        let two_digits = |x: &str| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return Err(bad());
        }
        let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Timezone::Fixed(sign * (h * 3600 + m * 60)))
    }
}
deserialize_via_from_str!(
    Timezone,
    "a timezone string: \"UTC\", \"local\", an offset like \"+10:00\" or a name like \"Europe/Paris\""
);

/// An IANA zone by name. Names are unique regardless of case, so
/// "europe/paris" is taken for "Europe/Paris" rather than refused; `check`
/// prints the canonical spelling.
fn named(name: &str) -> Option<Timezone> {
    if let Ok(tz) = name.parse::<chrono_tz::Tz>() {
        return Some(Timezone::Named(tz));
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(name))
        .map(|tz| Timezone::Named(*tz))
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Timezone::Utc => f.write_str("UTC"),
            Timezone::Local => f.write_str("local"),
            Timezone::Fixed(secs) => {
                let sign = if secs < 0 { '-' } else { '+' };
                let a = secs.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
            }
            Timezone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

#[cfg(test)]
#[path = "units_tests.rs"]
mod tests;
