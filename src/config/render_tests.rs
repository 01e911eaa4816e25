//! docs/configuration.md cannot drift from the code: every key `check`
//! prints has a row in the table of its section whose default is the value
//! as `check` prints it, and every documented key is one `check` prints.
//!
//! A row is `| `key` | default | meaning |` in a table headed
//! `| key | default | meaning |` under a `## `[table]`` heading. The default
//! cell is compared with the printed value after one normalization: a cell
//! that is a single code span (`` `"1GiB"` ``) is compared without its
//! backticks, byte for byte. A key printed as a comment (`# ttl: none`)
//! matches a plain cell (`none`). Keys the test must set to print their
//! section (`upstream.url`, a route's `match`, ...) are given their
//! documented text in [`NOT_A_VALUE`].

use std::collections::BTreeMap;
use std::path::Path;

const DOC: &str = include_str!("../../docs/configuration.md");

/// Configs rendered for their defaults, and the keys each one sets (whose
/// printed value is therefore not a default).
const RENDERED: &[(&str, &[&str])] = &[
    (
        "[upstream]\nurl = \"http://127.0.0.1:8000\"\n",
        &["upstream.url", "upstream.host"],
    ),
    (
        "[upstream]\nurl = \"http://127.0.0.1:8000\"\n\
         [[route]]\nmatch = \"/x/\"\n\
         [[schedule]]\ncron = \"0 0 * * * *\"\nall = true\n\
         [cluster]\nredis = \"redis://127.0.0.1:6379/0\"\n",
        &[
            "upstream.url",
            "upstream.host",
            "route.match",
            "schedule.cron",
            "schedule.all",
            "cluster.redis",
            "cluster.node",
        ],
    ),
    (
        "[upstream]\nurl = \"http://127.0.0.1:8000\"\n\
         [[schedule]]\ncron = \"0 0 * * * *\"\ntags = [\"t\"]\n",
        &[
            "upstream.url",
            "upstream.host",
            "schedule.cron",
            "schedule.tags",
        ],
    ),
];

/// Keys with no default value to print: what the doc says instead.
const NOT_A_VALUE: &[(&str, &str)] = &[
    ("upstream.url", "**required**"),
    ("upstream.host", "the host and port of `url`"),
    ("route.match", "**required**"),
    ("schedule.cron", "**required**"),
    ("cluster.redis", "none"),
    ("cluster.node", "the host name"),
];

/// Documented keys `check` does not print: it prints the token it read from
/// either as `# token: ...`.
const NOT_PRINTED: &[&str] = &["invalidate.token_file"];

/// `section.key` → value, from `check`'s text: `key = value` lines and
/// `# key: value` comments under a `[table]` or `[[table]]` header.
fn printed(text: &str, into: &mut BTreeMap<String, String>, set: &[&str]) {
    let mut table = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            table = Some(line.trim_matches(['[', ']']).to_string());
            continue;
        }
        let Some(table) = &table else { continue };
        // A value is shown as the doc's cell should show it: in a code span,
        // or plain when `check` prints it as a comment.
        let kv = match line.strip_prefix("# ") {
            Some(comment) => comment.split_once(": ").map(|(k, v)| (k, v.to_string())),
            None => line.split_once(" = ").map(|(k, v)| (k, format!("`{v}`"))),
        };
        let Some((key, value)) = kv else { continue };
        if !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            continue; // `# no [cluster]: a single node`
        }
        let name = format!("{table}.{key}");
        if set.contains(&name.as_str()) {
            into.entry(name).or_default();
        } else if into.get(&name).is_none_or(String::is_empty) {
            into.insert(name, value);
        }
    }
}

/// `section.key` → default cell, from the doc's key tables.
fn documented(doc: &str) -> BTreeMap<String, String> {
    let mut rows = BTreeMap::new();
    let mut table: Option<String> = None;
    let mut in_keys = false;
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            table = heading.strip_prefix("`[").map(|h| {
                h.trim_end_matches(['`', ']'])
                    .trim_start_matches('[')
                    .to_string()
            });
            in_keys = false;
        } else if line.starts_with("| key | default | meaning |") {
            assert!(table.is_some(), "a key table outside a [table] section");
            in_keys = true;
        } else if !line.starts_with('|') {
            in_keys = false;
        } else if in_keys && !line.starts_with("|---") {
            let cells: Vec<&str> = line.split(" | ").collect();
            let key = cells[0].trim_start_matches("| ").trim_matches('`');
            let name = format!("{}.{key}", table.as_deref().unwrap_or(""));
            let old = rows.insert(name.clone(), cells[1].trim().to_string());
            assert!(old.is_none(), "{name} documented twice");
        }
    }
    rows
}

fn rendered() -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for (text, set) in RENDERED {
        let c = super::from_str(Path::new("preload.toml"), text, None).expect("loads");
        printed(&c.render(), &mut values, set);
    }
    values
}

#[test]
fn every_printed_key_is_documented_with_its_default() {
    let doc = documented(DOC);
    let mut drift = Vec::new();
    for (name, value) in rendered() {
        let fixed = NOT_A_VALUE.iter().find(|(n, _)| *n == name);
        let want = fixed.map_or(value, |(_, text)| text.to_string());
        match doc.get(&name) {
            None => drift.push(format!("{name}: no row (check prints {want})")),
            Some(cell) if *cell != want => {
                drift.push(format!("{name}: documented {cell}, check prints {want}"))
            }
            Some(_) => {}
        }
    }
    assert!(
        drift.is_empty(),
        "docs/configuration.md drifted:\n{}",
        drift.join("\n")
    );
}

#[test]
fn every_documented_key_is_printed() {
    let printed = rendered();
    let extra: Vec<String> = documented(DOC)
        .into_keys()
        .filter(|k| !printed.contains_key(k) && !NOT_PRINTED.contains(&k.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "documented, not printed by check: {extra:?}"
    );
}

#[test]
fn the_parsers_see_rows_and_printed_lines() {
    let doc = "## `[cache]`\n\n| key | default | meaning |\n|---|---|---|\n\
               | `max_size` | `\"1GiB\"` | m |\n\n| a | b |\n| `x` | y |\n";
    assert_eq!(
        documented(doc).into_iter().collect::<Vec<_>>(),
        [("cache.max_size".to_string(), "`\"1GiB\"`".to_string())]
    );
    let mut values = BTreeMap::new();
    printed(
        "# top\n[cache]\nmax_size = \"1GiB\"\n# ttl: none\n",
        &mut values,
        &[],
    );
    assert_eq!(values["cache.max_size"], "`\"1GiB\"`");
    assert_eq!(values["cache.ttl"], "none");
    assert_eq!(values.len(), 2);
}
