//! The integration tests, one binary: `tests/support/` is compiled once and
//! shared by every area file, and the areas run side by side under one
//! harness instead of one binary after another (`Cargo.toml` sets
//! `autotests = false` and names this file the one `[[test]]`).
//!
//! Adding an area: write `tests/NAME.rs` (helpers from `crate::support`),
//! add `mod NAME;` below. Run one area with
//! `cargo test --test integration NAME::`.
//!
//! Every test here runs in this one process, in parallel threads: a test
//! must not change what the process shares (the working directory, the
//! environment); it passes what a daemon needs to its `Command` instead.

mod support;

mod cache_dir;
mod cli;
mod compress;
mod conditional;
mod date;
mod demo;
mod docs;
mod durability;
mod failures;
mod framing;
mod http10;
mod invalidate;
mod lifecycle;
mod load;
mod memory;
mod pass;
mod passthrough;
mod preload;
mod requests;
mod schedule;
mod sendfile;
mod soft;
mod tags;
