//! The probe answers as `Store::open` would, and leaves nothing behind.

use std::path::Path;

use super::*;
use crate::store::layout::{FORMAT_FILE, GENERATION_FILE};

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn message(dir: &Path) -> String {
    match preflight(dir) {
        Ok(()) => panic!("{} should be refused", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_missing_dir_is_created_nowhere() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("a/b/cache");
    preflight(&dir).expect("creatable");
    assert!(names(root.path()).is_empty(), "{:?}", names(root.path()));
}

#[test]
fn an_existing_dir_is_left_as_it_was() {
    let root = tempfile::tempdir().expect("tempdir");
    preflight(root.path()).expect("usable");
    assert!(names(root.path()).is_empty(), "{:?}", names(root.path()));
    // And one the store has opened before.
    layout::check_format(root.path()).expect("marker");
    layout::write_generation(root.path(), 3).expect("generation");
    let before = names(root.path());
    preflight(root.path()).expect("usable");
    assert_eq!(names(root.path()), before);
}

#[test]
fn a_file_on_the_way_is_named() {
    let root = tempfile::tempdir().expect("tempdir");
    let file = root.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let e = message(&file.join("cache"));
    assert_eq!(
        e,
        format!(
            "cannot create {}: {} is not a directory",
            file.join("cache").display(),
            file.display()
        )
    );
    let e = message(&file.join("deeper/cache"));
    assert!(
        e.ends_with(&format!("{} is not a directory", file.display())),
        "{e}"
    );
    let e = message(&file);
    assert!(e.ends_with("exists and is not a directory"), "{e}");
}

#[test]
fn a_store_of_another_format_or_a_bad_generation_is_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::write(root.path().join(FORMAT_FILE), "preloadd-store format 99\n").expect("w");
    assert!(message(root.path()).contains("this build reads format"));
    std::fs::remove_file(root.path().join(FORMAT_FILE)).expect("rm");
    std::fs::write(root.path().join(GENERATION_FILE), "x").expect("w");
    assert!(message(root.path()).contains("does not hold a generation"));
}

#[test]
fn a_read_only_dir_is_refused_unless_root() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("tempdir");
    let locked = root.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let as_root = unsafe { libc::geteuid() } == 0;
    let inside = preflight(&locked);
    let below = preflight(&locked.join("cache"));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    if as_root {
        // Root may write anyway, and so would a daemon run as root.
        assert!(inside.is_ok() && below.is_ok());
        return;
    }
    let inside = inside.expect_err("read-only").to_string();
    assert!(inside.starts_with("cannot write in"), "{inside}");
    let below = below.expect_err("read-only parent").to_string();
    assert!(below.starts_with("cannot create"), "{below}");
}
