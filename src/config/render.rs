//! [`Config::render`]: the effective configuration as TOML, every key with
//! its value after defaults, for `preloadd check`.
//!
//! The output is itself a valid `preload.toml` that loads to the same
//! configuration. It never contains a secret: the token is a comment saying
//! whether one is set, and a password in the Redis URL is masked.

use std::fmt::Display;

use super::units::{ByteSize, Dur};
use super::{Config, OnWriteError};

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML array of strings.
fn list<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| q(&i.to_string())).collect();
    format!("[{}]", items.join(", "))
}

fn dur(d: std::time::Duration) -> String {
    q(&Dur(d).to_string())
}

fn size(n: u64) -> String {
    q(&ByteSize(n).to_string())
}

/// `redis://user:secret@host` becomes `redis://user:***@host`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Builds the text one `key = value` line at a time.
struct Out(String);

impl Out {
    fn section(&mut self, header: &str) {
        self.0.push_str(&format!("\n{header}\n"));
    }
    fn kv(&mut self, key: &str, value: impl Display) {
        self.0.push_str(&format!("{key} = {value}\n"));
    }
    fn line(&mut self, line: &str) {
        self.0.push_str(line);
        self.0.push('\n');
    }
}

impl Config {
    /// The effective configuration as TOML (see the module doc).
    pub fn render(&self) -> String {
        let mut o = Out(String::new());
        o.line(&format!(
            "# Effective configuration of {}, defaults filled in.",
            self.source.display()
        ));

        let s = &self.server;
        o.section("[server]");
        o.kv("listen", list(&s.listen));
        o.kv(
            "admin_listen",
            q(&s.admin_listen.map(|a| a.to_string()).unwrap_or_default()),
        );
        o.kv("max_connections", s.max_connections);
        o.kv("header_timeout", dur(s.header_timeout));
        o.kv("shutdown_timeout", dur(s.shutdown_timeout));
        o.kv("access_log", s.access_log);

        let u = &self.upstream;
        let scheme = u.url.scheme_str().unwrap_or("http");
        let authority = u.url.authority().map(|a| a.as_str()).unwrap_or_default();
        o.section("[upstream]");
        o.kv("url", q(&format!("{scheme}://{authority}")));
        o.kv("host", q(&u.host));
        o.kv("connect_timeout", dur(u.connect_timeout));
        o.kv("fetch_timeout", dur(u.fetch_timeout));
        o.kv("max_fetches", u.max_fetches);

        let c = &self.cache;
        o.section("[cache]");
        o.kv("dir", q(&c.dir.to_string_lossy()));
        o.kv("max_size", size(c.max_size));
        o.kv("max_object_size", size(c.max_object_size));
        let statuses: Vec<String> = c.statuses.iter().map(u16::to_string).collect();
        o.kv("statuses", format!("[{}]", statuses.join(", ")));
        o.kv("strip_set_cookie", c.strip_set_cookie);
        let on_write_error = match c.on_write_error {
            OnWriteError::Serve => "serve",
            OnWriteError::Fail => "fail",
        };
        o.kv("on_write_error", q(on_write_error));
        o.kv("grace", dur(c.grace));
        o.kv("memory", size(c.memory));
        o.kv("compress", c.compress);

        let p = &self.preload;
        o.section("[preload]");
        o.kv("prefix", q(&p.prefix));
        o.kv("sort_query", p.sort_query);
        o.kv("ignore_query", list(&p.ignore_query));
        o.kv("tags_header", q(p.tags_header.as_str()));
        o.kv("max_tags", p.max_tags);

        if self.routes.is_empty() {
            o.line("\n# no [[route]]");
        }
        for r in &self.routes {
            o.section("[[route]]");
            o.kv("match", q(&r.matcher.to_string()));
            o.kv("snapshot", r.snapshot);
            o.kv("tags", list(&r.tags));
            match r.ttl {
                Some(ttl) => o.kv("ttl", dur(ttl)),
                None => o.line("# ttl: none"),
            }
            o.kv("vary", list(&r.vary));
        }

        let i = &self.invalidate;
        o.section("[invalidate]");
        o.kv("path", q(&i.path));
        o.line(match i.token {
            Some(_) => "# token: (set)",
            None => "# token: none",
        });
        o.kv("models", list(&i.models));
        o.kv("daily", i.daily);
        o.kv("timezone", q(&i.timezone.to_string()));
        o.kv("rewarm", i.rewarm);
        o.kv("rewarm_concurrency", i.rewarm_concurrency);

        if self.schedules.is_empty() {
            o.line("\n# no [[schedule]]");
        }
        for sc in &self.schedules {
            o.section("[[schedule]]");
            o.kv("cron", q(&sc.cron.text));
            o.kv("all", sc.all);
            o.kv("tags", list(&sc.tags));
            o.kv("prefixes", list(&sc.prefixes));
            o.kv("urls", list(&sc.urls));
            o.kv("soft", sc.soft);
        }

        match &self.cluster {
            Some(cl) => {
                o.section("[cluster]");
                o.kv("redis", q(&mask_password(&cl.redis)));
                o.kv("stream", q(&cl.stream));
                o.kv("node", q(&cl.node));
                o.kv("max_len", cl.max_len);
            }
            None => o.line("\n# no [cluster]: a single node"),
        }
        o.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_for_toml() {
        assert_eq!(q("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        let parsed: toml::Table =
            toml::from_str(&format!("k = {}", q("a\"b\\c\n\u{1}é"))).expect("quoted string parses");
        assert_eq!(parsed["k"].as_str(), Some("a\"b\\c\n\u{1}é"));
    }

    #[test]
    fn redis_passwords_are_masked() {
        assert_eq!(
            mask_password("redis://:hunter2@h:6379/0"),
            "redis://:***@h:6379/0"
        );
        assert_eq!(mask_password("redis://u:p@h/0"), "redis://u:***@h/0");
        assert_eq!(mask_password("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(mask_password("redis://h/0?x=a@b"), "redis://h/0?x=a@b");
    }
}
