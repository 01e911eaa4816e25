//! The documentation points only at what the repository holds: every
//! relative link in README.md and docs/*.md, and every document named in
//! backticks (`docs/x.md`), resolves to a file of the checkout.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![
        root().join("README.md"),
        root().join("bench/README.md"),
        root().join("packaging/django/README.md"),
        root().join("packaging/django/example/README.md"),
    ];
    for dir in ["docs", "docs/integrations"] {
        for item in std::fs::read_dir(root().join(dir)).expect("docs/") {
            let path = item.expect("entry").path();
            if path.extension().is_some_and(|e| e == "md") {
                docs.push(path);
            }
        }
    }
    docs
}

/// `[text](target)` targets, without their `#fragment`, that are not URLs.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = rest[..end].split('#').next().unwrap_or("").trim();
        let external = target.contains("://") || target.starts_with("mailto:");
        if !target.is_empty() && !external {
            out.push(target.to_string());
        }
    }
    out
}

/// Documents named in backticks: `docs/operations.md`, `SPEC.md`.
fn named_documents(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.ends_with(".md") && !s.contains(char::is_whitespace))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_link_and_named_document_is_in_the_repository() {
    let mut missing = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("read doc");
        let here = doc.parent().expect("a dir");
        for target in links(&text) {
            if !here.join(&target).exists() {
                missing.push(format!("{}: link {target}", doc.display()));
            }
        }
        for name in named_documents(&text) {
            if !here.join(&name).exists() && !root().join(&name).exists() {
                missing.push(format!("{}: names {name}", doc.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "pointing nowhere:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_checks_see_links_and_names() {
    assert_eq!(
        links("see [a](a.md#x), [b](https://x/y) and [c](../c)"),
        ["a.md", "../c"]
    );
    assert_eq!(
        named_documents("read `SPEC.md` and `x y.md`, not `a.rs`"),
        ["SPEC.md"]
    );
}
