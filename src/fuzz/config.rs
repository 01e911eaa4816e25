//! The config loader (`config::from_str`, SPEC §2): never a panic; a
//! refused file gives one line per problem, each `FILE:LINE:COL: …` at a
//! place inside the text (or `FILE: …` for what is in no place, such as a
//! missing key), never with the token in it; an accepted file renders to
//! a `preload.toml` that loads to the same configuration.

use std::path::Path;

use proptest::prelude::*;

use super::{mutated, run};
use crate::config::{from_str, ConfigError};

/// Marks the token values, which no message may contain.
const SECRET: &str = "S3cr3tTok";
/// Marks `$PRELOADD_TOKEN`.
const ENV_SECRET: &str = "EnvS3cret";

const DURATIONS: &[&str] = &[
    "\"10s\"",
    "\"250ms\"",
    "\"0s\"",
    "\"1h\"",
    "\"7d\"",
    "\"5 parsecs\"",
    "\"\"",
    "\"-1s\"",
    "\"18446744073709551615s\"",
    "\"99999999999999d\"",
    "10",
    "\"1.5s\"",
];
const SIZES: &[&str] = &[
    "\"1GiB\"",
    "\"16MiB\"",
    "\"0\"",
    "\"1MB\"",
    "\"16EiB\"",
    "\"99999999999999999999\"",
    "\"-1\"",
    "1024",
    "\"1 KiB\"",
    "\"\"",
    "\"3 parsecs\"",
];
const COUNTS: &[&str] = &[
    "1",
    "10000",
    "0",
    "-1",
    "9223372036854775807",
    "1e3",
    "\"10\"",
    "4",
];
const BOOLS: &[&str] = &["true", "false", "1", "\"yes\""];
const PATHS: &[&str] = &[
    "\"/_preload\"",
    "\"\"",
    "\"/\"",
    "\"_p\"",
    "\"/a/\"",
    "\"/a?b\"",
    "\"/é\"",
    "\"/a b\"",
];
const LISTS: &[&str] = &[
    "[\"a\"]",
    "[]",
    "[\"\"]",
    "[\"a b\", \"c\"]",
    "[1]",
    "\"a\"",
    "[\"shop.Product\"]",
];

/// A key and the values tried for it.
type Key = (&'static str, &'static [&'static str]);

/// Each table's keys and the values tried for them.
#[rustfmt::skip]
const TABLES: &[(&str, &[Key])] = &[
    ("[server]", &[
        ("listen", &["\"127.0.0.1:8080\"", "[\"127.0.0.1:0\", \"[::1]:0\"]", "\"0.0.0.0:80\"", "\"localhost:80\"", "\"\"", "[]", "8080"]),
        ("admin_listen", &["\"127.0.0.1:8081\"", "\"\"", "\"0.0.0.0:9\"", "\"[::]:1\"", "\"x\""]),
        ("max_connections", COUNTS), ("header_timeout", DURATIONS), ("shutdown_timeout", DURATIONS),
        ("access_log", BOOLS), ("timout", DURATIONS),
    ]),
    ("[upstream]", &[
        ("url", &["\"http://127.0.0.1:8000\"", "\"https://x\"", "\"http://[::1]:8000/\"", "\"http://h/p\"", "\"ftp://x\"", "\"\"", "\"http://u:p@h\"", "\"http://h:99999\""]),
        ("host", &["\"www.example.org\"", "\"bad host\"", "\"\"", "\"h\\r\\nx\"", "\"é\""]),
        ("connect_timeout", DURATIONS), ("fetch_timeout", DURATIONS), ("max_fetches", COUNTS),
    ]),
    ("[cache]", &[
        ("dir", &["\"./c\"", "\"\"", "\"c\\u0000\""]), ("max_size", SIZES), ("max_object_size", SIZES),
        ("statuses", &["[200]", "[200, 404]", "[99]", "[600]", "[]", "[\"200\"]", "200"]),
        ("strip_set_cookie", BOOLS), ("on_write_error", &["\"serve\"", "\"fail\"", "\"x\""]),
        ("grace", DURATIONS), ("memory", SIZES), ("compress", BOOLS),
    ]),
    ("[preload]", &[
        ("prefix", PATHS), ("sort_query", BOOLS),
        ("ignore_query", &["[\"utm_*\"]", "[\"\"]", "[\"**\"]", "[\"[\"]", "[]", "[\"é?\"]"]),
        ("tags_header", &["\"X-Preload-Tags\"", "\"bad header\"", "\"\"", "\"é\""]), ("max_tags", COUNTS),
    ]),
    ("[[route]]", &[
        ("match", &["\"/events/*\"", "\"/a\"", "\"a\"", "\"/a*b\"", "\"/a b\"", "\"*\"", "\"/\"", "\"/a?b\""]),
        ("snapshot", BOOLS), ("tags", LISTS), ("ttl", DURATIONS),
        ("vary", &["[\"Accept-Language\"]", "[\"bad name\"]", "[\"Cookie\"]", "[\"\"]", "[\"Host\", \"host\"]"]),
    ]),
    ("[invalidate]", &[
        ("path", PATHS),
        ("token", &["\"S3cr3tTok-1\"", "\"S3cr3tTok 2\"", "\"S3cr3tTok\\n3\"", "\"S3cr3tTok\\u00e9\"", "\"\""]),
        ("token_file", &["\"missing-token\"", "\"\""]), ("models", LISTS), ("daily", BOOLS),
        ("timezone", &["\"UTC\"", "\"Europe/Paris\"", "\"Mars/Base\"", "\"\""]), ("rewarm", BOOLS),
        ("rewarm_concurrency", COUNTS),
    ]),
    ("[[schedule]]", &[
        ("cron", &["\"0 30 4 * * *\"", "\"* * * * *\"", "\"61 * * * * *\"", "\"\"", "\"@daily\"", "\"0 0 0 31 2 *\""]),
        ("all", BOOLS), ("tags", LISTS), ("prefixes", &["[\"/a/\"]", "[\"a\"]", "[\"/a?b\"]"]),
        ("urls", &["[\"/a?b=1\"]", "[\"/../x\"]", "[\"x\"]"]), ("soft", BOOLS),
    ]),
    ("[cluster]", &[
        ("redis", &["\"redis://127.0.0.1:6379\"", "\"redis://u:pw@h/0\"", "\"x\"", "\"\""]),
        ("stream", &["\"s\"", "\"\""]), ("node", &["\"n1\"", "\"\""]), ("max_len", COUNTS),
    ]),
];

/// Values of any key: the wrong types and the broken syntax.
const ANY_VALUE: &[&str] = &[
    "\"x\"",
    "1",
    "true",
    "[",
    "{ a = 1 }",
    "'''a\n'''",
    "\"\\uD800\"",
    "\"unterminated",
    "1979-05-27",
    "[[1], \"a\"]",
    "\"\\q\"",
    "inf",
    "0x10",
    "",
];

/// A file made of tables from [`TABLES`], with keys and values picked from
/// theirs (or from [`ANY_VALUE`]), an upstream URL most of the time.
fn document() -> impl Strategy<Value = String> {
    let statement = (
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0u8..10,
    );
    let table = (
        any::<prop::sample::Index>(),
        prop::collection::vec(statement, 0..6),
    );
    (any::<bool>(), prop::collection::vec(table, 0..6)).prop_map(|(url, tables)| {
        let mut text = String::new();
        if url {
            text.push_str("[upstream]\nurl = \"http://127.0.0.1:8000\"\n");
        }
        for (t, statements) in tables {
            let (header, keys) = TABLES[t.index(TABLES.len())];
            text.push_str(&format!("\n{header}\n"));
            for (k, v, kind) in statements {
                let (key, values) = keys[k.index(keys.len())];
                let value = if kind == 0 {
                    ANY_VALUE[v.index(ANY_VALUE.len())]
                } else {
                    values[v.index(values.len())]
                };
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        text
    })
}

fn text() -> impl Strategy<Value = String> {
    let example = include_str!("../../preload.example.toml")
        .as_bytes()
        .to_vec();
    prop_oneof![
        6 => document(),
        3 => mutated(document().prop_map(String::into_bytes)).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        2 => mutated(Just(example)).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => any::<String>(),
    ]
}

/// One problem line: `FILE:LINE:COL: …` at a place inside `text`, or
/// `FILE: …`.
fn check_line(line: &str, file: &str, text: &str, hidden: &[&str]) -> Result<(), TestCaseError> {
    prop_assert!(!line.contains(['\n', '\r']), "not one line: {line:?}");
    for secret in hidden {
        prop_assert!(!line.contains(secret), "the token in a message: {line:?}");
    }
    let rest = line.strip_prefix(file).and_then(|r| r.strip_prefix(':'));
    let Some(rest) = rest else {
        return Err(TestCaseError::fail(format!("no file name: {line:?}")));
    };
    if rest.starts_with(' ') {
        return Ok(());
    }
    let mut parts = rest.splitn(3, ':');
    let (Some(l), Some(c), Some(msg)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TestCaseError::fail(format!("no line and column: {line:?}")));
    };
    let (Ok(l), Ok(c)) = (l.parse::<usize>(), c.parse::<usize>()) else {
        return Err(TestCaseError::fail(format!("no line and column: {line:?}")));
    };
    prop_assert!(
        msg.starts_with(' ') && msg.len() > 1,
        "no message: {line:?}"
    );
    let Some(text_line) = text.split('\n').nth(l.wrapping_sub(1)) else {
        return Err(TestCaseError::fail(format!(
            "line {l} is past the text: {line:?}"
        )));
    };
    prop_assert!(
        c >= 1 && c <= text_line.chars().count() + 1,
        "column {c} is past line {l}: {line:?}"
    );
    Ok(())
}

/// What no message may hold: `$PRELOADD_TOKEN`, and the file's tokens
/// unless an edit made one of them something else (a key, say, which a
/// message names).
fn hidden(text: &str) -> Vec<&'static str> {
    let tokens = text.matches(SECRET).count();
    let as_values = text.matches(&format!("token = \"{SECRET}")).count();
    let mut hidden = vec![ENV_SECRET];
    hidden.extend((tokens == as_values).then_some(SECRET));
    hidden
}

fn check(text: &str, env: Option<&str>) -> Result<(), TestCaseError> {
    let file = "fuzz/preload.toml";
    let hidden = hidden(text);
    match from_str(Path::new(file), text, env.map(str::to_owned)) {
        Err(ConfigError::Invalid(lines)) => {
            prop_assert!(!lines.is_empty());
            for line in &lines {
                check_line(line, file, text, &hidden)?;
            }
        }
        Err(other) => return Err(TestCaseError::fail(format!("not a problem line: {other}"))),
        Ok(config) => {
            let rendered = config.render();
            for secret in &hidden {
                prop_assert!(
                    !rendered.contains(secret),
                    "the token in the rendered config"
                );
            }
            let token = config.invalidate.token.clone();
            let again = from_str(Path::new(file), &rendered, token).map_err(|e| {
                TestCaseError::fail(format!("rendered config refused: {e}\n{rendered}"))
            })?;
            prop_assert_eq!(again.render(), rendered);
        }
    }
    Ok(())
}

#[test]
fn config_loader() {
    let env = prop::option::of(prop::sample::select(&["EnvS3cret-1", "EnvS3cret 2"][..]));
    run("config_loader", 500, (text(), env), |(text, env)| {
        check(&text, env)
    });
}

/// An edit that leaves a token's value where a key belongs: the message
/// names that key, which is no leak (found by the long run).
#[test]
fn a_token_turned_key_may_be_named() {
    let text = "[invalidate]\n \"S3cr3tTok-1\"\n";
    assert_eq!(hidden(text), [ENV_SECRET]);
    check(text, None).expect("the property holds");
}
