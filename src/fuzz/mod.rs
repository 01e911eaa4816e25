//! Fuzz targets: the parsers that read what a visitor, an app or a disk
//! hands the daemon, each run against properties over generated input
//! (docs/fuzzing.md lists the targets, the properties and a run's counts).
//!
//! The engine is proptest, on stable Rust: each target is a `#[test]` that
//! `cargo test` runs for a fixed, small number of cases (the bounded pass
//! CI gets), and that `scripts/fuzz.sh` runs for a given time instead by
//! setting `PRELOADD_FUZZ_SECONDS`, printing how many inputs it tried. The
//! inputs mix raw bytes with text built from the pieces each format is
//! made of and with mutations of valid input, so that most of them get
//! past the first check. A failure is shrunk to a small input, which goes
//! into a regression test beside the code it covers.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseResult, TestError, TestRunner};

mod accept;
mod answer;
mod canon;
mod config;
mod etag;
mod head;
mod range;
mod snapshot;
mod webhook;

/// Set (in seconds) to run each target for that long instead of for its
/// fixed number of cases.
const SECONDS_VAR: &str = "PRELOADD_FUZZ_SECONDS";

/// Cases per batch in a timed run: the clock is read between batches.
const BATCH: u32 = 500;

/// Runs `property` on inputs drawn from `strategy`: `cases` of them, or as
/// many as fit in `$PRELOADD_FUZZ_SECONDS`. Panics with the shrunk input
/// when the property fails or panics.
pub(crate) fn run<S>(
    name: &str,
    cases: u32,
    strategy: S,
    property: impl Fn(S::Value) -> TestCaseResult,
) where
    S: Strategy,
    S::Value: Debug,
{
    let seconds = std::env::var(SECONDS_VAR).ok().map(|s| {
        s.parse::<f64>()
            .expect("PRELOADD_FUZZ_SECONDS is a number of seconds")
    });
    let tried = AtomicU64::new(0);
    let counted = |input: S::Value| {
        tried.fetch_add(1, Ordering::Relaxed);
        property(input)
    };
    let config = Config {
        cases: if seconds.is_some() { BATCH } else { cases },
        // A failure is reported as its shrunk input, to be kept as a
        // regression test; no file is written.
        failure_persistence: None,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let start = Instant::now();
    let deadline = seconds.map(|s| start + Duration::from_secs_f64(s));
    loop {
        let mut batch = TestRunner::new_with_rng(config.clone(), runner.new_rng());
        match batch.run(&strategy, counted) {
            Ok(()) => {}
            Err(TestError::Fail(why, input)) => {
                let (why, input) = (cut(why.to_string()), cut(format!("{input:?}")));
                let tried = tried.load(Ordering::Relaxed);
                panic!(
                    "fuzz target {name} failed after {tried} inputs: {why}\nminimal input: {input}"
                )
            }
            Err(TestError::Abort(why)) => panic!("fuzz target {name} aborted: {why}"),
        }
        if deadline.is_none_or(|d| Instant::now() >= d) {
            break;
        }
    }
    if seconds.is_some() {
        // Read by scripts/fuzz.sh (shown with --nocapture).
        eprintln!(
            "fuzz {name}: {} inputs in {:.1} s",
            tried.load(Ordering::Relaxed),
            start.elapsed().as_secs_f64()
        );
    }
}

/// `s`, cut to a length a terminal shows.
fn cut(s: String) -> String {
    if s.len() <= 2000 {
        return s;
    }
    let end = (0..=2000)
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// Bytes that are mostly the given text, with a few random edits: the
/// mutations that turn a valid input into a nearly valid one.
pub(crate) fn mutated(seed: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let edit = (
        any::<prop::sample::Index>(),
        0u8..4,
        any::<u8>(),
        0usize..16,
    );
    (seed, prop::collection::vec(edit, 1..4)).prop_map(|(mut bytes, edits)| {
        for (at, kind, byte, n) in edits {
            let at = at.index(bytes.len() + 1);
            match kind {
                // Set one byte.
                0 if at < bytes.len() => bytes[at] = byte,
                // Flip one bit.
                1 if at < bytes.len() => bytes[at] ^= 1 << (byte % 8),
                // Cut a run out.
                2 => drop(bytes.drain(at..(at + n).min(bytes.len()))),
                // Repeat a byte or insert one.
                _ => {
                    let b = bytes.get(at).copied().unwrap_or(byte);
                    bytes.splice(at..at, std::iter::repeat_n(b, n.max(1)));
                }
            }
        }
        bytes
    })
}

/// Text made of `pieces` (the tokens of a format), at most `max` of them.
pub(crate) fn pieces(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(pieces), 0..max).prop_map(|p| p.concat())
}
