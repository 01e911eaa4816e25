//! The webhook body (`invalidate::webhook::parse`, SPEC §6), JSON and
//! form: never a panic; every refusal (a 400) is one line; an accepted
//! body names something, in canonical urls and prefixes, each once; and
//! the same fields sent as JSON and as a form, with or without a
//! `Content-Type`, give the same answer.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::{mutated, pieces, run};
use crate::config::Glob;
use crate::invalidate::selector::{canonical_prefix, Selector};
use crate::invalidate::webhook::{parse, BodyError, WebhookRules};
use crate::key::{canonical_target, QueryRules};

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    JSON,
    FORM,
    Some("application/json; charset=utf-8"),
    Some("APPLICATION/JSON"),
    Some("application/ld+json"),
    Some("text/plain"),
    Some(""),
    Some(";"),
    Some("multipart/form-data"),
];

const TAGS: &[&str] = &[
    "a",
    "events.Event",
    " a ",
    "a,b",
    "",
    "shop.Product",
    "é",
    "\t",
    " ",
    "a\nb",
    "\u{0}",
];
const URL_PIECES: &[&str] = &[
    "/",
    "/",
    "a",
    "b",
    "?",
    "&",
    "=",
    "x=1",
    "#f",
    " ",
    "é",
    "%2F",
    "%2e",
    ".",
    "..",
    "\\",
    "%",
    "/_preload",
    "/_preload/",
    "https://www.example.org",
    "HTTP://h",
    "ftp://h",
    "//",
    "utm_x=1",
];
const NAMES: &[&str] = &[
    "tag",
    "tags",
    "tags[]",
    "model",
    "url",
    "prefix",
    "all",
    "soft",
    "everything",
    "tag%0A",
    "a%0D%0Ab",
    "%FF",
    "t%61g",
    "",
];
const FLAGS: &[&str] = &[
    "1", "0", "true", "on", "yes", "no", "", "2", "TRUE", "%0A", "+on+",
];

/// The fields of a body, before they are written as JSON or a form.
#[derive(Debug, Clone)]
struct Fields {
    tags: Vec<String>,
    models: Vec<String>,
    urls: Vec<String>,
    prefixes: Vec<String>,
    all: Option<bool>,
    soft: Option<bool>,
}

fn text(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(pool).prop_map(str::to_owned), 1 => "\\PC{0,6}"]
}

fn fields() -> impl Strategy<Value = Fields> {
    let list = |s: BoxedStrategy<String>| prop::collection::vec(s, 0..4);
    let target = pieces(URL_PIECES, 8).boxed();
    (
        list(text(TAGS).boxed()),
        list(text(TAGS).boxed()),
        list(target.clone()),
        list(target),
        any::<Option<bool>>(),
        any::<Option<bool>>(),
    )
        .prop_map(|(tags, models, urls, prefixes, all, soft)| Fields {
            tags,
            models,
            urls,
            prefixes,
            all,
            soft,
        })
}

fn to_json(f: &Fields) -> Vec<u8> {
    let mut object = Map::new();
    for (name, list) in [
        ("tags", &f.tags),
        ("models", &f.models),
        ("urls", &f.urls),
        ("prefixes", &f.prefixes),
    ] {
        if !list.is_empty() {
            object.insert(name.into(), json!(list));
        }
    }
    for (name, flag) in [("all", f.all), ("soft", f.soft)] {
        if let Some(flag) = flag {
            object.insert(name.into(), json!(flag));
        }
    }
    Value::Object(object).to_string().into_bytes()
}

/// Every byte but the unreserved ones percent-encoded, spaces as `+`.
fn form_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => out.push(char::from(b)),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
}

fn to_form(f: &Fields) -> Vec<u8> {
    let mut pairs = Vec::new();
    for (name, list) in [
        ("tag", &f.tags),
        ("models", &f.models),
        ("url[]", &f.urls),
        ("prefix", &f.prefixes),
    ] {
        for value in list {
            let mut pair = format!("{name}=");
            form_encode(value, &mut pair);
            pairs.push(pair);
        }
    }
    for (name, flag) in [("all", f.all), ("soft", f.soft)] {
        if let Some(flag) = flag {
            pairs.push(format!("{name}={}", if flag { "on" } else { "false" }));
        }
    }
    pairs.join("&").into_bytes()
}

fn form_pairs() -> impl Strategy<Value = Vec<u8>> {
    let pair = (
        prop::sample::select(NAMES),
        prop_oneof![text(FLAGS), pieces(URL_PIECES, 6)],
    );
    prop::collection::vec(pair, 0..6).prop_map(|pairs| {
        let pairs: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        pairs.join("&").into_bytes()
    })
}

fn with_rules<T>(f: impl FnOnce(&WebhookRules<'_>) -> T) -> T {
    let ignore: Vec<Glob> = vec!["utm_*".parse().expect("valid glob")];
    let models = ["shop.Product".to_string()];
    let rules = WebhookRules {
        preload_prefix: "/_preload",
        query: QueryRules {
            sort_query: true,
            ignore_query: &ignore,
        },
        models: &models,
    };
    f(&rules)
}

/// What holds of every answer.
fn check_answer(
    answer: &Result<Selector, BodyError>,
    rules: &WebhookRules<'_>,
) -> Result<(), TestCaseError> {
    let sel = match answer {
        Err(e) => {
            let line = e.to_string();
            prop_assert!(
                !line.is_empty() && !line.contains(['\n', '\r']),
                "not one line: {line:?}"
            );
            return Ok(());
        }
        Ok(sel) => sel,
    };
    prop_assert!(!sel.is_empty(), "accepted a body that names nothing");
    for url in &sel.urls {
        prop_assert_eq!(
            canonical_target(url, rules.query),
            Ok(url.clone()),
            "url not canonical"
        );
    }
    for prefix in &sel.prefixes {
        prop_assert_eq!(
            canonical_prefix(prefix),
            Ok(prefix.clone()),
            "prefix not canonical"
        );
    }
    for tag in &sel.tags {
        prop_assert!(!tag.is_empty() && tag.trim_matches(crate::tags::SEPARATORS) == tag);
    }
    for list in [&sel.tags, &sel.urls, &sel.prefixes] {
        let unique: std::collections::HashSet<_> = list.iter().collect();
        prop_assert_eq!(unique.len(), list.len(), "an item twice");
    }
    if sel.tags.iter().any(|t| rules.models.contains(t)) {
        prop_assert!(sel.all, "an invalidating model without all");
    }
    Ok(())
}

/// The same fields as JSON and as a form, typed and untyped.
fn check_fields(f: &Fields) -> Result<(), TestCaseError> {
    with_rules(|rules| {
        let (json, form) = (to_json(f), to_form(f));
        let answers = [
            parse(JSON, &json, rules),
            parse(None, &json, rules),
            parse(FORM, &form, rules),
            parse(None, &form, rules),
        ];
        for answer in &answers {
            check_answer(answer, rules)?;
        }
        let first = answers[0].as_ref().ok();
        for answer in &answers[1..] {
            prop_assert_eq!(answer.as_ref().ok(), first, "JSON and form disagree");
        }
        if let Some(sel) = first {
            let mut tags = Vec::new();
            for tag in f.tags.iter().chain(&f.models) {
                let tag = tag.trim_matches(crate::tags::SEPARATORS).to_string();
                if !tag.is_empty() && !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            prop_assert_eq!(&sel.tags, &tags);
            prop_assert_eq!(sel.soft, f.soft == Some(true));
        }
        Ok(())
    })
}

fn check_bytes(content_type: Option<&str>, body: &[u8]) -> Result<(), TestCaseError> {
    with_rules(|rules| check_answer(&parse(content_type, body, rules), rules))
}

#[test]
fn webhook_fields() {
    run("webhook_fields", 600, fields(), |f| check_fields(&f));
}

#[test]
fn webhook_json() {
    let body = prop_oneof![
        3 => mutated(fields().prop_map(|f| to_json(&f))),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| [b"{".as_slice(), &b].concat()),
        1 => "\\{\"[a-z\\n]{0,6}\": \\[\"[a-z/\\\\\"]{0,6}\"\\]\\}".prop_map(String::into_bytes),
    ];
    run(
        "webhook_json",
        1000,
        (prop::sample::select(CONTENT_TYPES), body),
        |(ct, body)| check_bytes(ct, &body),
    );
}

#[test]
fn webhook_form() {
    let body = prop_oneof![
        2 => form_pairs(),
        2 => mutated(fields().prop_map(|f| to_form(&f))),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    run(
        "webhook_form",
        1000,
        (prop::sample::select(CONTENT_TYPES), body),
        |(ct, body)| check_bytes(ct, &body),
    );
}
