//! `reload` against a real `App` (a store in a temp dir) and files written
//! for each case.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::clock::Clock;

const BASE: &str = "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\n\
                    [upstream]\nurl = \"http://127.0.0.1:8000\"\n";

struct Case {
    _dir: tempfile::TempDir,
    file: std::path::PathBuf,
    app: App,
}

/// An app started on `BASE` + `extra`, its file at `case.file`.
fn start(extra: &str) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("preload.toml");
    write(&file, dir.path(), extra);
    let config = config::load(&file).expect("the start config loads");
    let app = App::new(config, Arc::new(Clock::system())).expect("store opens");
    Case {
        file,
        app,
        _dir: dir,
    }
}

fn write(file: &Path, dir: &Path, extra: &str) {
    let cache = dir.join("cache");
    let text = format!(
        "{BASE}\n[cache]\ndir = {:?}\n\n{extra}\n",
        cache.display().to_string()
    );
    std::fs::write(file, text).unwrap();
}

impl Case {
    fn edit(&self, extra: &str) {
        write(&self.file, self.file.parent().unwrap(), extra);
    }
}

#[test]
fn a_valid_file_is_swapped_in_and_its_changes_named() {
    let case = start("[[route]]\nmatch = \"/blog/*\"\ntags = [\"old\"]\n");
    case.edit(
        "[[route]]\nmatch = \"/blog/*\"\ntags = [\"new\"]\n\n[invalidate]\ntoken = \"t0ken\"\n",
    );
    let changes = reload(&case.app).expect("reloads");
    assert_eq!(changes.applied, ["routes", "invalidate.token"]);
    assert!(changes.need_restart.is_empty());
    let config = case.app.config();
    assert_eq!(config.routes[0].tags, ["new"]);
    assert_eq!(config.invalidate.token.as_deref(), Some("t0ken"));
}

#[test]
fn a_config_held_before_the_swap_stays_as_it_was() {
    let case = start("[[route]]\nmatch = \"/blog/*\"\ntags = [\"old\"]\n");
    let held = case.app.config_owned();
    case.edit("[[route]]\nmatch = \"/blog/*\"\ntags = [\"new\"]\n");
    reload(&case.app).expect("reloads");
    assert_eq!(
        held.routes[0].tags,
        ["old"],
        "a request in flight keeps its config"
    );
    assert_eq!(case.app.config().routes[0].tags, ["new"]);
}

#[test]
fn a_file_with_problems_changes_nothing_and_names_each_one() {
    let case = start("[[route]]\nmatch = \"/blog/*\"\ntags = [\"old\"]\n");
    case.edit("[[route]]\nmatch = \"blog\"\n");
    let err = reload(&case.app).expect_err("refused");
    let text = err.to_string();
    let name = case.file.display().to_string();
    assert!(text.lines().all(|l| l.starts_with(&name)), "{text}");
    assert!(
        text.contains("preload.toml:12:9: key `route.match`"),
        "{text}"
    );
    assert_eq!(case.app.config().routes[0].tags, ["old"]);
}

#[test]
fn every_problem_of_the_file_is_reported() {
    let case = start("");
    case.edit(
        "[[route]]\nmatch = \"/a/*\"\nttl = \"0s\"\n\n[invalidate]\nrewarm_concurrency = 0\n",
    );
    let text = reload(&case.app).expect_err("refused").to_string();
    assert_eq!(text.lines().count(), 2, "{text}");
    for line in text.lines() {
        let place = line.split(": key").next().unwrap();
        let mut parts = place.rsplitn(3, ':');
        let col: usize = parts.next().unwrap().parse().expect(line);
        let row: usize = parts.next().unwrap().parse().expect(line);
        assert!(col > 0 && row > 0, "{line}");
    }
}

#[test]
fn a_listen_change_needs_a_restart_and_the_running_value_stays() {
    let case = start("");
    let running = case.app.config().server.listen.clone();
    let text = std::fs::read_to_string(&case.file).unwrap().replacen(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:9\"",
        1,
    );
    std::fs::write(&case.file, text).unwrap();
    let changes = reload(&case.app).expect("reloads");
    assert_eq!(changes.need_restart, ["server.listen"]);
    assert!(changes.applied.is_empty());
    assert_eq!(case.app.config().server.listen, running);
}

#[test]
fn max_fetches_and_connect_timeout_reach_the_client() {
    let case = start("");
    assert_eq!(case.app.fetcher.free_slots(), 32);
    let text = std::fs::read_to_string(&case.file).unwrap().replacen(
        "[upstream]\n",
        "[upstream]\nmax_fetches = 40\nconnect_timeout = \"700ms\"\n",
        1,
    );
    std::fs::write(&case.file, text).unwrap();
    let changes = reload(&case.app).expect("reloads");
    assert_eq!(
        changes.applied,
        ["upstream.connect_timeout", "upstream.max_fetches"]
    );
    assert_eq!(case.app.fetcher.free_slots(), 40);
    assert_eq!(
        case.app.connect_timeout.get(),
        std::time::Duration::from_millis(700)
    );
}

#[test]
fn a_max_object_size_past_the_running_max_size_is_refused() {
    let case = start("");
    let text = std::fs::read_to_string(&case.file).unwrap().replacen(
        "[cache]\n",
        "[cache]\nmax_size = \"4GiB\"\nmax_object_size = \"2GiB\"\n",
        1,
    );
    std::fs::write(&case.file, text).unwrap();
    let err = reload(&case.app).expect_err("refused").to_string();
    assert!(err.contains("cache.max_object_size"), "{err}");
    assert!(err.contains("restart"), "{err}");
    assert_eq!(case.app.config().cache.max_object_size, 16 << 20);
}

#[test]
fn a_swap_is_announced_to_its_subscribers() {
    let case = start("");
    let swaps = case.app.config_swaps();
    assert!(!swaps.has_changed().unwrap());
    reload(&case.app).expect("reloads");
    assert!(swaps.has_changed().unwrap());
}

#[test]
fn results_are_labelled_for_the_metrics() {
    let labels: Vec<&str> = Reloaded::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(labels, ["ok", "error"]);
    assert_eq!(Reloaded::of(&Ok(Changes::default())), Reloaded::Ok);
}
