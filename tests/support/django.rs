//! The example Django project (`packaging/django/example`), served by the
//! Django 5.x venv that `packaging/django/run-tests.sh` makes, with its
//! sqlite database in the test's dir; stopped (killed) when dropped.
//!
//! Where the venv or nginx is missing, the end-to-end tests print a
//! SKIPPED line and pass, unless `PRELOADD_REQUIRE_DJANGO=1` (CI, which
//! runs run-tests.sh first): there a skip is a failure.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const EXAMPLE: &str = "packaging/django/example";

/// The 5.x venv's python: `$PRELOADD_DJANGO_PYTHON`, else
/// `target/django-venvs/5.x/bin/python`, if it imports Django and the app.
pub fn python() -> Result<PathBuf, String> {
    let python = match std::env::var_os("PRELOADD_DJANGO_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/django-venvs/5.x/bin/python"),
    };
    if !python.exists() {
        return Err(format!(
            "no {} (packaging/django/run-tests.sh makes it)",
            python.display()
        ));
    }
    let out = Command::new(&python)
        .args(["-c", "import django, django_preloadd"])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} cannot import django and django_preloadd: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(python)
}

/// The python and nginx the end-to-end tests need, or `None` after saying
/// why the test is skipped (a failure under `PRELOADD_REQUIRE_DJANGO=1`).
pub fn parts(test: &str) -> Option<(PathBuf, PathBuf)> {
    let found = python().and_then(|python| match super::nginx::binary() {
        Some(nginx) => Ok((python, nginx)),
        None => Err("no nginx (Debian's nginx-light)".to_string()),
    });
    match found {
        Ok(parts) => Some(parts),
        Err(why) => {
            skip(test, &why);
            None
        }
    }
}

/// Prints why `test` does not run here; under `PRELOADD_REQUIRE_DJANGO=1`
/// a skip is a failure, since an end-to-end test that quietly never runs
/// proves nothing.
pub fn skip(test: &str, why: &str) {
    if std::env::var_os("PRELOADD_REQUIRE_DJANGO").is_some_and(|v| v == "1") {
        panic!("{test} cannot run ({why}) but PRELOADD_REQUIRE_DJANGO=1");
    }
    eprintln!("SKIPPED {test}: {why}");
}

pub struct Site {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Where the app listens (the daemon's `[upstream] url`).
    pub addr: SocketAddr,
    /// What Django wrote to stderr (its request log, tracebacks).
    log: Arc<Mutex<Vec<String>>>,
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)
}

impl Site {
    /// Migrates a fresh database in `dir` and binds the server on a port the
    /// kernel picks; it serves once [`Site::configure`] gave it the rest.
    pub fn start(python: &Path, dir: &Path) -> Site {
        let db = dir.join("db.sqlite3");
        let migrate = Command::new(python)
            .current_dir(example_dir())
            .args(["manage.py", "migrate", "--noinput", "-v", "0"])
            .env("EXAMPLE_DB", &db)
            .output()
            .expect("run manage.py migrate");
        assert!(
            migrate.status.success(),
            "manage.py migrate: {}",
            String::from_utf8_lossy(&migrate.stderr)
        );
        let mut child = Command::new(python)
            .current_dir(example_dir())
            .args(["serve.py", "0", "--env-stdin"])
            .env("EXAMPLE_DB", &db)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve.py");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(addr) = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve.py did not say where it listens ({line:?}):\n{}",
                log.lock().unwrap().join("\n")
            );
        };
        Site {
            stdin: child.stdin.take(),
            child,
            addr,
            log,
        }
    }

    /// Hands the server its environment (`PRELOADD_URL`, ...) and lets it
    /// serve.
    pub fn configure(&mut self, env: &[(&str, &str)]) {
        let mut stdin = self.stdin.take().expect("configured once");
        for (name, value) in env {
            writeln!(stdin, "{name}={value}").expect("write to serve.py");
        }
        writeln!(stdin).expect("write to serve.py");
    }

    /// Django's stderr so far, for a failing assertion's message.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
