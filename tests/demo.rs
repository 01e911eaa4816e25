//! `preloadd demo` as a newcomer meets it: every command its walkthrough
//! prints works against the running demo, in the order given, with the
//! results the text promises.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{get, request};

/// The demo process, killed when dropped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the demo and reads its walkthrough, up to its last line.
fn start() -> (Demo, Vec<String>) {
    let mut child = Command::new(crate::support::daemon::binary())
        .arg("demo")
        .env_remove("PRELOADD_CONFIG")
        .env_remove("PRELOADD_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start preloadd demo");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let demo = Demo(child);
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!("the walkthrough did not end; so far:\n{}", lines.join("\n"))
            });
        let last = line.starts_with("Ctrl-C");
        lines.push(line);
        if last {
            return (demo, lines);
        }
    }
}

/// The command of the numbered step `n` ("  3. curl ...").
fn step(lines: &[String], n: u32) -> &str {
    let prefix = format!("{n}. ");
    lines
        .iter()
        .find_map(|l| l.trim_start().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no step {n} in:\n{}", lines.join("\n")))
}

/// `http://ADDR/PATH` in a command: the address and the path.
fn url_in(command: &str) -> (SocketAddr, String) {
    let url = command
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no URL in {command}"));
    let (addr, path) = url.split_at(url.find('/').expect("a path"));
    (addr.parse().expect("an address"), path.to_string())
}

fn rendered_at(body: &str) -> String {
    body.lines()
        .find(|l| l.contains("rendered at"))
        .unwrap_or_else(|| panic!("no render time in {body}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_step_of_the_walkthrough_does_what_it_says() {
    let (demo, lines) = start();
    let (main, page) = url_in(step(&lines, 1));
    assert_eq!(url_in(step(&lines, 2)), (main, page.clone()));

    let first = get(main, &page, &[]).await;
    assert_eq!(first.cache(), "MISS");
    let hit = get(main, &page, &[]).await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(rendered_at(&hit.text()), rendered_at(&first.text()));

    let post = step(&lines, 3);
    assert!(post.starts_with("curl -s -X POST "), "{post}");
    let (admin, path) = url_in(post);
    let form = post.split(" -d ").nth(1).expect("a form field");
    let reply = request(
        admin,
        "POST",
        &path,
        &["Content-Type: application/x-www-form-urlencoded"],
        form.as_bytes(),
    )
    .await;
    assert_eq!(
        (reply.status, reply.text().trim()),
        (200, r#"{"invalidated":1}"#)
    );

    assert_eq!(url_in(step(&lines, 4)).1, page);
    let again = get(main, &page, &[]).await;
    assert_eq!(again.cache(), "MISS");
    assert_ne!(rendered_at(&again.text()), rendered_at(&first.text()));

    // Step 5 runs as printed: the binary, its subcommand and the demo's
    // own config.
    let words: Vec<&str> = step(&lines, 5).split_whitespace().collect();
    let out = Command::new(words[0])
        .args(&words[1..])
        .env_remove("PRELOADD_TOKEN")
        .output()
        .expect("run step 5");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(said.trim(), "invalidated 1");
    assert_eq!(get(main, &page, &[]).await.cache(), "MISS");

    // The config it names goes when the demo stops.
    let config = words[words.iter().position(|w| *w == "--config").unwrap() + 1].to_string();
    assert!(std::path::Path::new(&config).exists());
    let mut demo = demo;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(demo.0.id().to_string())
        .status();
    let status = demo.0.wait().expect("demo exits");
    assert!(status.success(), "{status}");
    assert!(!std::path::Path::new(&config).exists(), "{config} removed");
}

#[test]
fn the_demo_refuses_options_it_does_not_use() {
    let out = Command::new(crate::support::daemon::binary())
        .args(["demo", "--config", "mine.toml"])
        .output()
        .expect("run preloadd demo");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--config is not used"), "{err}");
    assert!(out.stdout.is_empty());
}
