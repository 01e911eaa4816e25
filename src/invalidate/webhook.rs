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
//! and never touches the store: the router does the first two before calling
//! [`parse`], the store applies the result.

use std::collections::HashSet;
use std::fmt::Write as _;

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

/// A body that cannot be acted on. Every variant answers 400; `Display` is
/// the one line for the response body.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("unsupported content type {0:?}: send application/json or application/x-www-form-urlencoded")]
    ContentType(String),
    /// Not JSON at all; serde's message gives the position.
    #[error("invalid JSON body: {0}")]
    Json(serde_json::Error),
    /// A field of the wrong JSON type, named as `tags` or `urls[2]`.
    #[error("`{field}` must be {expected}, not {found}")]
    Type {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("invalid JSON body: expected an object like {{\"tags\": [\"...\"]}}")]
    NotObject,
    #[error("invalid form body: not UTF-8 once percent-decoded")]
    NotUtf8,
    #[error("unknown field `{name}`: expected {expected}")]
    UnknownField {
        name: String,
        expected: &'static str,
    },
    #[error("`{field}` must be 1, true, 0 or false, not {value:?}")]
    Flag { field: &'static str, value: String },
    #[error("invalid url {url:?}: {reason}")]
    Url { url: String, reason: TargetError },
    #[error("invalid prefix {prefix:?}: {reason}")]
    Prefix { prefix: String, reason: PrefixError },
    #[error("nothing to invalidate: name tags, models, urls, prefixes or all")]
    Empty,
}

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

/// The body's fields as sent, before any normalization. The JSON and the
/// form parser each fill it by name.
#[derive(Debug, Default)]
struct Fields {
    tags: Vec<String>,
    models: Vec<String>,
    urls: Vec<String>,
    prefixes: Vec<String>,
    all: bool,
    soft: bool,
}

/// `body` is trimmed. The object is read field by field rather than by a
/// derived `Deserialize`, so that a wrong type is refused with the field's
/// name in the message (serde's would give only a line and column), and a
/// top-level array is never read into the fields by position.
fn parse_json(body: &[u8]) -> Result<Fields, BodyError> {
    if !body.starts_with(b"{") {
        return Err(BodyError::NotObject);
    }
    let serde_json::Value::Object(object) =
        serde_json::from_slice(body).map_err(BodyError::Json)?
    else {
        return Err(BodyError::NotObject);
    };
    let mut fields = Fields::default();
    for (name, value) in object {
        match name.as_str() {
            "tags" => fields.tags = strings("tags", value)?,
            "models" => fields.models = strings("models", value)?,
            "urls" => fields.urls = strings("urls", value)?,
            "prefixes" => fields.prefixes = strings("prefixes", value)?,
            "all" => fields.all = boolean("all", value)?,
            "soft" => fields.soft = boolean("soft", value)?,
            _ => {
                return Err(BodyError::UnknownField {
                    name,
                    expected: JSON_FIELDS,
                })
            }
        }
    }
    Ok(fields)
}

const JSON_FIELDS: &str = "tags, models, urls, prefixes, all or soft";
const FORM_FIELDS: &str = "tag, model, url, prefix, all or soft";

/// A list of strings, or null (the field left out, as serializers write an
/// unset optional). A single string is refused: `{"tags": "a,b"}` reads as
/// one list to some senders and as one tag to others, and a guess either
/// way drops the wrong pages.
fn strings(field: &'static str, value: serde_json::Value) -> Result<Vec<String>, BodyError> {
    use serde_json::Value;
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => {
            return Err(BodyError::Type {
                field: field.to_string(),
                expected: "a list of strings",
                found: json_kind(&other),
            })
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s),
            other => Err(BodyError::Type {
                field: format!("{field}[{i}]"),
                expected: "a string",
                found: json_kind(&other),
            }),
        })
        .collect()
}

/// `true` or `false`; nothing else, not even `1` or `"true"`, is a JSON
/// boolean, and `all` is the costly field to guess.
fn boolean(field: &'static str, value: serde_json::Value) -> Result<bool, BodyError> {
    match value {
        serde_json::Value::Bool(b) => Ok(b),
        other => Err(BodyError::Type {
            field: field.to_string(),
            expected: "true or false",
            found: json_kind(&other),
        }),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `application/x-www-form-urlencoded`: `&`-separated `name=value` pairs,
/// names repeatable, singular or plural, with or without a PHP/jQuery-style
/// `[]` suffix.
fn parse_form(body: &[u8]) -> Result<Fields, BodyError> {
    let mut fields = Fields::default();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = form_decode(name)?;
        let value = form_decode(value)?;
        match name.strip_suffix("[]").unwrap_or(&name) {
            "tag" | "tags" => fields.tags.push(value),
            "model" | "models" => fields.models.push(value),
            "url" | "urls" => fields.urls.push(value),
            "prefix" | "prefixes" => fields.prefixes.push(value),
            "all" => fields.all = flag("all", value)?,
            "soft" => fields.soft = flag("soft", value)?,
            _ => {
                return Err(BodyError::UnknownField {
                    name,
                    expected: FORM_FIELDS,
                })
            }
        }
    }
    Ok(fields)
}

/// A form boolean. HTML checkboxes send `on`. An empty value is false:
/// encoders write `all=` for an unset field, and reading that as "drop
/// everything" would be the costly mistake.
fn flag(field: &'static str, value: String) -> Result<bool, BodyError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "" | "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(BodyError::Flag { field, value }),
    }
}

/// Form decoding as browsers do it: `+` is a space, `%XX` a byte; a `%` not
/// followed by two hex digits stays as it is (the WHATWG rule) and is then
/// judged by whatever reads the value.
fn form_decode(raw: &[u8]) -> Result<String, BodyError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (raw.get(i + 1).and_then(hex), raw.get(i + 2).and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BodyError::NotUtf8)
}

fn hex(b: &u8) -> Option<u8> {
    char::from(*b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
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
        if !prefix.starts_with('/') {
            return Err(bad(PrefixError::NoSlash));
        }
        let path = strip_preload(&browser_encode(prefix), rules.preload_prefix).to_string();
        let canonical = canonical_prefix(&path).map_err(bad)?;
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
    canonical_target(strip_preload(&encoded, rules.preload_prefix), rules.query)
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
