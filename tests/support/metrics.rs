//! Scraping `/_preloadd/metrics` and reading the Prometheus text format:
//! one sample a line, `name{labels} value`, comments after `#`.

use std::collections::HashMap;

use super::{get, Daemon};

/// One scrape: every sample by its name and labels as written.
pub struct Scrape {
    samples: HashMap<String, f64>,
    pub text: String,
}

/// GETs the metrics from the admin listener (it must answer 200 in the
/// Prometheus text format) and parses them.
pub async fn scrape(d: &Daemon) -> Scrape {
    let reply = get(d.admin.expect("admin listener"), "/_preloadd/metrics", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(&reply.text())
}

/// Scrapes until `done` holds for a scrape (for up to 10 s): what happens
/// in the background is counted when it is done.
pub async fn scrape_until(d: &Daemon, done: impl Fn(&Scrape) -> bool) -> Scrape {
    for _ in 0..500 {
        let s = scrape(d).await;
        if done(&s) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the metrics never got there:\n{}", scrape(d).await.text);
}

pub fn parse(text: &str) -> Scrape {
    let samples = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample: {l:?}"));
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {l:?}"));
            (key.to_string(), value)
        })
        .collect();
    Scrape {
        samples,
        text: text.to_string(),
    }
}

impl Scrape {
    /// The value of `key` (`name` or `name{label="value"}`); it must exist.
    pub fn get(&self, key: &str) -> f64 {
        *self
            .samples
            .get(key)
            .unwrap_or_else(|| panic!("no sample {key} in\n{}", self.text))
    }

    /// How much `key` grew since `before`.
    pub fn since(&self, before: &Scrape, key: &str) -> f64 {
        self.get(key) - before.get(key)
    }

    /// The sum of every sample of the family `name` (any labels).
    pub fn sum(&self, name: &str) -> f64 {
        let labelled = format!("{name}{{");
        self.samples
            .iter()
            .filter(|(k, _)| *k == name || k.starts_with(&labelled))
            .map(|(_, v)| v)
            .sum()
    }
}
