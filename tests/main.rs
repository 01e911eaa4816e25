//! The integration tests, one binary: `tests/support/` is compiled once and
//! shared by every area file, and the areas run side by side under one
//! harness instead of one binary after another (`Cargo.toml` sets
//! `autotests = false` and names this file the one `[[test]]`).
//!
//! Adding an area: write `tests/NAME.rs` (helpers from `crate::support`,
//! no `mod support;` line), add `mod NAME;` below, in order. A file in
//! `tests/` without its line is never compiled: the last test here fails
//! naming it. Run one area with `cargo test --test integration NAME::`.
//!
//! Every test here runs in this one process, in parallel threads: a test
//! must not change what the process shares (the working directory, the
//! environment); it passes what a daemon needs to its `Command` instead.

mod support;

mod access_log;
mod cache_dir;
mod cli;
mod cluster;
mod cold_read;
mod completions;
mod compress;
mod conditional;
mod conn;
mod conn_pass;
mod date;
mod demo;
mod django_e2e;
mod docs;
mod durability;
mod explain;
mod failures;
mod framing;
mod grafana;
mod http10;
mod invalidate;
mod invalidate_scale;
mod lifecycle;
mod listing;
mod load;
mod memory;
mod metrics;
mod pass;
mod passthrough;
mod preload;
mod rebuild;
mod rebuild_fds;
mod reload;
mod requests;
mod schedule;
mod sendfile;
mod shutdown;
mod soft;
mod status_page;
mod systemd;
mod tags;
mod warm;
mod write_behind;

/// With `autotests = false`, a file in `tests/` that no `mod` line names is
/// never compiled, and its tests never run, silently: this says which.
#[test]
fn every_area_file_in_tests_is_a_module_of_this_binary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = include_str!("main.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(area) = name.strip_suffix(".rs") else {
            continue;
        };
        if area != "main" && !main.lines().any(|l| l == format!("mod {area};")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "add `mod NAME;` to tests/main.rs for {missing:?}"
    );
}
