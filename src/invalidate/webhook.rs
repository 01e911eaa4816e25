//! The body of `POST {invalidate.path}` (SPEC §6), JSON or form-encoded,
//! turned into one [`Selector`].
//!
//! Apps send these from model-save hooks written in any language, so the
//! parser is lenient where intent is clear (a preload URL or an absolute
//! URL where a target is expected, `tags[]` names in a form, `null` for a
//! list left out) and strict where a guess could drop the wrong pages or
//! none (unknown fields, a string where a list belongs, a non-string item,
//! a non-boolean flag, invalid targets all answer 400 with a message that
//! names the field). It never authenticates, never limits the body size
//! and never touches the store: [`crate::admin`] checks the token,
//! [`super::handlers::webhook`] bounds the body before calling [`parse`],
//! and [`super::run`] applies the result.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::fields::{parse_form, parse_json, Fields};
use super::selector::{canonical_prefix, PrefixError, Selector};
use crate::key::{canonical_target, QueryRules, TargetError};

/// What the parser needs from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRules<'a> {
    /// `[preload] prefix`, e.g. "/_preload": urls and prefixes given in
    /// preload form are stripped of it.
    pub preload_prefix: &'a str,
    /// How urls are canonicalized, as for preload requests.
    pub query: QueryRules<'a>,
    /// `[invalidate] models`: naming any of them drops everything.
    pub models: &'a [String],
}

pub(crate) use super::fields::decode_form_value;
pub use super::fields::BodyError;

/// Parses a webhook body. `content_type` is the request's `Content-Type`
/// header, if any; without one, a body starting with `{` is JSON and any
/// other is a form.
pub fn parse(
    content_type: Option<&str>,
    body: &[u8],
    rules: &WebhookRules<'_>,
) -> Result<Selector, BodyError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(BodyError::Empty);
    }
    let media = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty());
    let fields = match media.as_deref() {
        None if trimmed.starts_with(b"{") => parse_json(trimmed)?,
        None => parse_form(trimmed)?,
        Some("application/json") => parse_json(trimmed)?,
        Some(m) if m.ends_with("+json") => parse_json(trimmed)?,
        Some("application/x-www-form-urlencoded") => parse_form(trimmed)?,
        Some(other) => return Err(BodyError::ContentType(other.to_string())),
    };
    build(fields, rules)
}

/// Normalizes the fields into a selector: blanks dropped, tags trimmed and
/// models folded into them, urls and prefixes in canonical form.
fn build(fields: Fields, rules: &WebhookRules<'_>) -> Result<Selector, BodyError> {
    // Lists are deduplicated through a set: a hook may send tens of
    // thousands of urls, and a scan of the list per item would take seconds.
    let mut tags = Unique::default();
    for tag in fields.tags.iter().chain(&fields.models) {
        // Only what separates tags is trimmed: a name is opaque, and
        // `str::trim` would also take Unicode spaces a page's tag may keep.
        let tag = tag.trim_matches(crate::tags::SEPARATORS);
        if !tag.is_empty() {
            tags.push(tag.to_string());
        }
    }
    let tags = tags.into_vec();
    // The origin's PRELOAD_INVALIDATING_MODELS: saving one of these models
    // clears every cache, however the sender spelled the request.
    let all = fields.all || tags.iter().any(|t| rules.models.contains(t));

    let mut urls = Unique::default();
    for url in fields
        .urls
        .iter()
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
    {
        let target = url_target(url, rules).map_err(|reason| BodyError::Url {
            url: url.to_string(),
            reason,
        })?;
        urls.push(target);
    }
    let urls = urls.into_vec();

    let mut prefixes = Unique::default();
    for prefix in fields
        .prefixes
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
    {
        let bad = |reason| BodyError::Prefix {
            prefix: prefix.to_string(),
            reason,
        };
        let canonical = prefix_path(prefix, rules.preload_prefix).map_err(bad)?;
        prefixes.push(canonical);
    }
    let prefixes = prefixes.into_vec();

    let selector = Selector {
        all,
        tags,
        urls,
        prefixes,
        soft: fields.soft,
    };
    if selector.is_empty() {
        return Err(BodyError::Empty);
    }
    Ok(selector)
}

/// Strings in the order first given, each once.
#[derive(Default)]
struct Unique {
    seen: HashSet<String>,
    list: Vec<String>,
}

impl Unique {
    fn push(&mut self, s: String) {
        if !self.seen.contains(&s) {
            self.seen.insert(s.clone());
            self.list.push(s);
        }
    }

    fn into_vec(self) -> Vec<String> {
        self.list
    }
}

/// The canonical target a url names. Accepted spellings: an upstream target
/// (`/events/?page=2`), a preload URL (`/_preload/events/?page=2`), or an
/// absolute URL (`https://www.example.org/events/?page=2`), whose host is
/// ignored since the daemon fronts one site. A fragment never reaches a
/// server, so it is dropped rather than refused.
fn url_target(url: &str, rules: &WebhookRules<'_>) -> Result<String, TargetError> {
    canonical_target(&upstream_target(url, rules.preload_prefix), rules.query)
}

/// The upstream target a url names, as [`url_target`] reads it, before it
/// is checked and canonicalized (`explain` hands it to `key::resolve`).
pub fn upstream_target(url: &str, preload_prefix: &str) -> String {
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let origin_form = match absolute_rest(url) {
        Some(rest) => match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('?') => format!("/{}", &rest[i..]),
            Some(i) => rest[i..].to_string(),
            None => "/".to_string(),
        },
        None => url.to_string(),
    };
    let encoded = browser_encode(&origin_form);
    strip_preload(&encoded, preload_prefix).to_string()
}

/// The canonical path prefix a `prefix` names (also in preload form), as
/// invalidation reads it; listings filter by the same rule.
pub fn prefix_path(prefix: &str, preload_prefix: &str) -> Result<String, PrefixError> {
    if !prefix.starts_with('/') {
        return Err(PrefixError::NoSlash);
    }
    canonical_prefix(strip_preload(&browser_encode(prefix), preload_prefix))
}

/// What follows `http://` or `https://` (scheme case-insensitive).
fn absolute_rest(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")).then_some(rest)
}

/// `/_preload/events/` → `/events/`; anything else as it is. Only
/// `prefix + "/"` is preload form, as for requests (SPEC §3).
fn strip_preload<'a>(target: &'a str, preload_prefix: &str) -> &'a str {
    if preload_prefix.is_empty() {
        return target;
    }
    match target.strip_prefix(preload_prefix) {
        Some(rest) if rest.starts_with('/') => rest,
        _ => target,
    }
}

/// Percent-encodes spaces and non-ASCII, as a browser does before sending a
/// URL, so that `/café/` names the snapshot the browser's `/caf%C3%A9/`
/// made. Everything else is left for `canonical_target` to judge.
fn browser_encode(s: &str) -> String {
    if s.bytes().all(|b| b.is_ascii() && b != b' ') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for b in s.bytes() {
        if b.is_ascii() && b != b' ' {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
