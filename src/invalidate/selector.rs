//! [`Selector`]: what one invalidation names — everything, tags, exact
//! canonical targets, or path prefixes — and whether it drops or softens.
//!
//! Every source of an invalidation (the webhook, `[[schedule]]`, `daily`,
//! the cluster stream, `preloadd invalidate`) ends up as a `Selector`, so the
//! store has one thing to apply. This module owns the matching rule and the
//! normal form of urls and prefixes; it never touches the store and never
//! decides *when* an invalidation happens.

use crate::config;
use crate::key::{canonical_target, QueryRules, TargetError};

/// What an invalidation names. `urls` are canonical targets; `prefixes` are
/// path prefixes (start with "/").
///
/// `#[serde(default)]` so that a message written by an older node that
/// lacked a field still reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Selector {
    /// Every snapshot.
    pub all: bool,
    /// Snapshots carrying any of these tags (exact, case-sensitive).
    pub tags: Vec<String>,
    /// Snapshots whose canonical target is exactly one of these.
    pub urls: Vec<String>,
    /// Snapshots whose target path starts with one of these.
    pub prefixes: Vec<String>,
    /// Mark stale (served within `grace` while refetching) instead of
    /// deleting.
    pub soft: bool,
}

impl Selector {
    /// Names nothing: applying it would drop nothing. `soft` alone is not a
    /// name.
    pub fn is_empty(&self) -> bool {
        !self.all && self.tags.is_empty() && self.urls.is_empty() && self.prefixes.is_empty()
    }

    /// Whether a snapshot with this canonical target and these tags falls
    /// under the selector.
    ///
    /// A url matches only its exact canonical target: `/events/` does not
    /// take `/events/?page=2` with it (that is what prefixes are for). Vary
    /// variants share their target, so a url match takes every variant; the
    /// caller applies this per target. A prefix is compared with the path
    /// only, so `/events/` matches `/events/?page=2` but a prefix never
    /// reaches into the query.
    pub fn matches(&self, target: &str, tags: &[impl AsRef<str>]) -> bool {
        if self.all {
            return true;
        }
        if tags
            .iter()
            .any(|t| self.tags.iter().any(|mine| mine == t.as_ref()))
        {
            return true;
        }
        if self.urls.iter().any(|u| u == target) {
            return true;
        }
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
}

/// A short description for a log line: `all`, or what it names (a long
/// list cut after a few, with how many more), and `soft`.
impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 5;
        let mut sep = "";
        if self.all {
            f.write_str("all")?;
            sep = " ";
        }
        for (name, list) in [
            ("tags", &self.tags),
            ("urls", &self.urls),
            ("prefixes", &self.prefixes),
        ] {
            if list.is_empty() {
                continue;
            }
            write!(f, "{sep}{name}={}", list[..list.len().min(SHOWN)].join(","))?;
            if list.len() > SHOWN {
                write!(f, ",...(+{})", list.len() - SHOWN)?;
            }
            sep = " ";
        }
        if self.soft {
            write!(f, "{sep}soft")?;
        }
        Ok(())
    }
}

/// Why a prefix cannot name target paths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("must start with \"/\"")]
    NoSlash,
    #[error("must be a path, without a query")]
    Query,
    #[error("{0}")]
    Target(#[from] TargetError),
}

/// The normal form of a path prefix: percent-encoding normalized the way
/// canonical targets are (SPEC §3), so that `/caf%c3%a9/` still matches the
/// target `/caf%C3%A9/menu`. Query rules do not apply: a prefix has no query.
pub fn canonical_prefix(raw: &str) -> Result<String, PrefixError> {
    if !raw.starts_with('/') {
        return Err(PrefixError::NoSlash);
    }
    if raw.contains('?') {
        return Err(PrefixError::Query);
    }
    Ok(canonical_target(raw, QueryRules::NONE)?)
}

/// The selector of one `[[schedule]]`. Config validation already refused
/// urls and prefixes that do not start with "/"; one that still fails to
/// canonicalize is skipped with a warning rather than failing the schedule,
/// since the rest of what it names is still meant to be dropped.
pub fn from_config_schedule(s: &config::Schedule, rules: QueryRules<'_>) -> Selector {
    let urls = s
        .urls
        .iter()
        .filter_map(|url| match canonical_target(url, rules) {
            Ok(target) => Some(target),
            Err(e) => {
                tracing::warn!(schedule = %s.cron, url = %url, "skipping schedule url: {e}");
                None
            }
        })
        .collect();
    let prefixes = s
        .prefixes
        .iter()
        .filter_map(|prefix| match canonical_prefix(prefix) {
            Ok(prefix) => Some(prefix),
            Err(e) => {
                tracing::warn!(schedule = %s.cron, prefix = %prefix, "skipping schedule prefix: {e}");
                None
            }
        })
        .collect();
    Selector {
        all: s.all,
        tags: s.tags.clone(),
        urls,
        prefixes,
        soft: s.soft,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Glob;

    const NO_TAGS: [&str; 0] = [];

    #[test]
    fn a_selector_reads_as_one_short_line() {
        let all = Selector {
            all: true,
            soft: true,
            ..Selector::default()
        };
        assert_eq!(all.to_string(), "all soft");
        let named = Selector {
            tags: vec!["a".into(), "b".into()],
            urls: (0..7).map(|i| format!("/{i}")).collect(),
            ..Selector::default()
        };
        assert_eq!(named.to_string(), "tags=a,b urls=/0,/1,/2,/3,/4,...(+2)");
    }

    fn rules(ignore: &[Glob]) -> QueryRules<'_> {
        QueryRules {
            sort_query: true,
            ignore_query: ignore,
        }
    }

    #[test]
    fn empty_unless_it_names_something() {
        assert!(Selector::default().is_empty());
        let soft_only = Selector {
            soft: true,
            ..Selector::default()
        };
        assert!(soft_only.is_empty());
        for s in [
            Selector {
                all: true,
                ..Selector::default()
            },
            Selector {
                tags: vec!["t".into()],
                ..Selector::default()
            },
            Selector {
                urls: vec!["/a".into()],
                ..Selector::default()
            },
            Selector {
                prefixes: vec!["/a".into()],
                ..Selector::default()
            },
        ] {
            assert!(!s.is_empty(), "{s:?}");
        }
    }

    #[test]
    fn all_matches_everything() {
        let s = Selector {
            all: true,
            ..Selector::default()
        };
        assert!(s.matches("/anything?x=1", &NO_TAGS));
    }

    #[test]
    fn any_shared_tag_matches() {
        let s = Selector {
            tags: vec!["events.Event".into(), "news".into()],
            ..Selector::default()
        };
        assert!(s.matches("/x", &["other", "news"]));
        assert!(s.matches("/x", &[String::from("events.Event")]));
        assert!(!s.matches("/x", &["events.event"]));
        assert!(!s.matches("/x", &NO_TAGS));
    }

    #[test]
    fn url_matches_only_its_exact_target() {
        let s = Selector {
            urls: vec!["/events/".into()],
            ..Selector::default()
        };
        assert!(s.matches("/events/", &NO_TAGS));
        assert!(!s.matches("/events/?page=2", &NO_TAGS));
        assert!(!s.matches("/events/1", &NO_TAGS));
        assert!(!s.matches("/events", &NO_TAGS));
    }

    #[test]
    fn prefix_matches_the_path_only() {
        let s = Selector {
            prefixes: vec!["/events/".into()],
            ..Selector::default()
        };
        assert!(s.matches("/events/", &NO_TAGS));
        assert!(s.matches("/events/1?x=2", &NO_TAGS));
        assert!(!s.matches("/news/?next=/events/", &NO_TAGS));
        let q = Selector {
            prefixes: vec!["/a".into()],
            ..Selector::default()
        };
        assert!(!q.matches("/?p=/a", &NO_TAGS));
        assert!(q.matches("/ab", &NO_TAGS));
    }

    #[test]
    fn prefixes_are_normalized_and_must_be_paths() {
        assert_eq!(
            canonical_prefix("/caf%c3%a9/").as_deref(),
            Ok("/caf%C3%A9/")
        );
        assert_eq!(canonical_prefix("/%7Euser/").as_deref(), Ok("/~user/"));
        assert_eq!(canonical_prefix("events/"), Err(PrefixError::NoSlash));
        assert_eq!(canonical_prefix("/a?b=1"), Err(PrefixError::Query));
        assert!(matches!(
            canonical_prefix("/a/../b"),
            Err(PrefixError::Target(_))
        ));
    }

    #[test]
    fn config_schedule_is_canonicalized() {
        let cron: config::CronSchedule = "0 30 4 * * *".parse().expect("cron");
        let schedule = config::Schedule {
            cron,
            all: false,
            tags: vec!["news".into()],
            prefixes: vec!["/events/".into(), "/bad/../x".into()],
            urls: vec!["/e/?utm_source=x&b=2&a=1".into(), "/%zz".into()],
            soft: true,
        };
        let ignore = [Glob("utm_*".into())];
        let s = from_config_schedule(&schedule, rules(&ignore));
        assert_eq!(
            s,
            Selector {
                all: false,
                tags: vec!["news".into()],
                urls: vec!["/e/?a=1&b=2".into()],
                prefixes: vec!["/events/".into()],
                soft: true,
            }
        );
    }

    #[test]
    fn serializes_as_the_webhook_body() {
        let s = Selector {
            tags: vec!["t".into()],
            soft: true,
            ..Selector::default()
        };
        let json = serde_json::to_value(&s).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"all": false, "tags": ["t"], "urls": [], "prefixes": [], "soft": true})
        );
        let back: Selector =
            serde_json::from_str(r#"{"tags": ["t"], "soft": true}"#).expect("read");
        assert_eq!(back, s);
    }
}
