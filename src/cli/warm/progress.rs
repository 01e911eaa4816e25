//! How a warm run shows its progress on stderr: an `indicatif` bar with
//! the rate and the time left when stderr is a terminal; otherwise (a
//! log, a CI job) one plain line at most every [`PLAIN_EVERY`], which a
//! file keeps readable. Either way, a page that was passed or failed gets
//! a line of its own, so the operator learns which pages are never kept.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// What one page's request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// MISS: fetched from the app now and kept.
    Kept,
    /// HIT: there was a snapshot already.
    Warm,
    /// STALE: an old snapshot was served and one refetch started.
    Stale,
    /// PASS: fetched but not kept, with the daemon's reason.
    Passed(String),
    /// A 5xx, no answer, or not an answer to a preload request.
    Failed(String),
}

/// Least time between two plain progress lines.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub enum Progress {
    Bar(ProgressBar),
    Plain(Mutex<Plain>),
}

pub struct Plain {
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// The display for `total` pages.
    pub fn new(total: u64) -> Progress {
        if !std::io::stderr().is_terminal() {
            let now = Instant::now();
            return Progress::Plain(Mutex::new(Plain {
                total,
                done: 0,
                started: now,
                last_line: now,
            }));
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} pages, {rate}, ETA {eta}",
            )
            .expect("the template is valid")
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1}/s", state.per_sec());
                },
            )
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress::Bar(bar)
    }

    /// Counts one page done, with a line for a page not kept.
    pub fn done(&self, url: &str, outcome: &Outcome) {
        let line = match outcome {
            Outcome::Passed(reason) => Some(format!("warm: PASS ({reason}) {url}")),
            Outcome::Failed(why) => Some(format!("warm: FAILED ({why}) {url}")),
            _ => None,
        };
        match self {
            Progress::Bar(bar) => {
                if let Some(line) = line {
                    bar.println(line);
                }
                bar.inc(1);
            }
            Progress::Plain(plain) => {
                if let Some(line) = line {
                    eprintln!("{line}");
                }
                let mut plain = plain.lock().expect("the progress lock is never poisoned");
                plain.done += 1;
                let now = Instant::now();
                if now - plain.last_line >= PLAIN_EVERY && plain.done < plain.total {
                    plain.last_line = now;
                    eprintln!("{}", plain.line(now));
                }
            }
        }
    }

    /// Clears the bar, so the summary follows a clean line.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Plain {
    /// `warm: 340/1200 pages, 85.0/s, ETA 10s`.
    fn line(&self, now: Instant) -> String {
        let secs = (now - self.started).as_secs_f64();
        let rate = self.done as f64 / secs.max(0.001);
        let left = self.total.saturating_sub(self.done) as f64 / rate.max(f64::MIN_POSITIVE);
        format!(
            "warm: {}/{} pages, {rate:.1}/s, ETA {}",
            self.done,
            self.total,
            humantime::format_duration(Duration::from_secs(left.ceil() as u64))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_gives_the_rate_and_the_time_left() {
        let started = Instant::now();
        let plain = Plain {
            total: 1200,
            done: 340,
            started,
            last_line: started,
        };
        let line = plain.line(started + Duration::from_secs(4));
        assert_eq!(line, "warm: 340/1200 pages, 85.0/s, ETA 11s");
    }
}
