//! `preloadd completions SHELL`: scripts made from the clap definitions,
//! which the shells themselves must accept.

use std::process::Command;

use crate::support::daemon::binary;

fn completions(shell: &str) -> String {
    let out = Command::new(binary())
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whether `program` runs on this machine.
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn completions_are_scripts_the_shells_accept() {
    let dir = tempfile::tempdir().unwrap();
    // bash is always there; zsh and fish are checked where installed.
    for (shell, check) in [("bash", "-n"), ("zsh", "-n"), ("fish", "--no-execute")] {
        let script = completions(shell);
        for word in [
            "warm",
            "invalidate",
            "completions",
            "sitemap",
            "concurrency",
        ] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
        let file = dir.path().join(shell);
        std::fs::write(&file, &script).unwrap();
        if shell == "bash" || installed(shell) {
            let out = Command::new(shell).arg(check).arg(&file).output().unwrap();
            assert!(
                out.status.success(),
                "{shell} {check}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
