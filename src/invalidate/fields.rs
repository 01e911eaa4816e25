//! The webhook body's fields as sent, read from JSON or from a form, before
//! any normalization ([`super::webhook`] turns them into a `Selector`).
//! Both readers are strict about types and names, and never guess: a
//! wrong guess drops the wrong pages, or none.

use super::selector::PrefixError;
use crate::key::{hex_value, TargetError};

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
    /// The name escaped (`\n`), so that the message stays one line.
    #[error("unknown field `{}`: expected {expected}", .name.escape_debug())]
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

/// The body's fields as sent, before any normalization. The JSON and the
/// form parser each fill it by name.
#[derive(Debug, Default)]
pub(super) struct Fields {
    pub(super) tags: Vec<String>,
    pub(super) models: Vec<String>,
    pub(super) urls: Vec<String>,
    pub(super) prefixes: Vec<String>,
    pub(super) all: bool,
    pub(super) soft: bool,
}

/// `body` is trimmed. The object is read field by field rather than by a
/// derived `Deserialize`, so that a wrong type is refused with the field's
/// name in the message (serde's would give only a line and column), and a
/// top-level array is never read into the fields by position.
pub(super) fn parse_json(body: &[u8]) -> Result<Fields, BodyError> {
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
pub(super) fn parse_form(body: &[u8]) -> Result<Fields, BodyError> {
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
    decode_form_value(raw).ok_or(BodyError::NotUtf8)
}

/// One form-encoded name or value decoded as [`form_decode`] does (also
/// for the query strings of the admin GETs); `None` when it is not UTF-8.
pub(crate) fn decode_form_value(raw: &[u8]) -> Option<String> {
    let digit = |at: usize| raw.get(at).copied().and_then(hex_value);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match (digit(i + 1), digit(i + 2)) {
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
    String::from_utf8(out).ok()
}
