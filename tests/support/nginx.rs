//! Real nginx (Debian's package) in front of a daemon, on a loopback port,
//! running the site file the project ships (`packaging/nginx/preloadd.conf`),
//! and stopped (killed) when dropped.
//!
//! The one templating: the shipped file's two lines marked `TEST-PORT`
//! (`server 127.0.0.1:8080;` in the upstream block and `listen 80;`) are
//! pointed at the daemon and at a free loopback port; [`site`] fails if
//! either is missing or doubled, so the file cannot drift from what is
//! tested. Everything nginx writes (pid, logs, temp files) goes to the
//! test's dir through a small main config that includes the site.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SITE: &str = "packaging/nginx/preloadd.conf";
const UPSTREAM_LINE: &str = "server 127.0.0.1:8080;";
const LISTEN_LINE: &str = "listen 80;";

pub struct Nginx {
    child: Child,
    /// The visitors' address.
    pub addr: SocketAddr,
    dir: PathBuf,
}

/// The nginx binary: on the PATH, else Debian's /usr/sbin/nginx.
pub fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
}

/// The shipped site file with its `TEST-PORT` lines pointed at `listen`
/// and `upstream`.
pub fn site(listen: SocketAddr, upstream: SocketAddr) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SITE);
    let text = std::fs::read_to_string(&path).expect("read the shipped nginx site");
    let rewrite = |text: &str, from: &str, to: String| {
        let marked: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(from) && l.contains("TEST-PORT"))
            .collect();
        assert_eq!(
            marked.len(),
            1,
            "{SITE} must have exactly one `{from}` line marked TEST-PORT"
        );
        text.replacen(from, &to, 1)
    };
    let text = rewrite(&text, UPSTREAM_LINE, format!("server {upstream};"));
    rewrite(&text, LISTEN_LINE, format!("listen {listen};"))
}

/// A port free on 127.0.0.1 a moment ago (nginx cannot be told to pick
/// one and say which; a lost race is retried by [`Nginx::start`]).
fn free_port() -> SocketAddr {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe");
    probe.local_addr().expect("probe address")
}

impl Nginx {
    /// Starts nginx in `dir` in front of the daemon at `upstream`, and waits
    /// until it accepts connections.
    pub fn start(nginx: &Path, dir: &Path, upstream: SocketAddr) -> Nginx {
        std::fs::create_dir_all(dir).expect("nginx dir");
        for _ in 0..5 {
            let addr = free_port();
            std::fs::write(dir.join("site.conf"), site(addr, upstream)).expect("write site");
            std::fs::write(dir.join("nginx.conf"), main_config(dir)).expect("write nginx.conf");
            let log = dir.join("error.log");
            let _ = std::fs::remove_file(&log);
            let mut child = Command::new(nginx)
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .arg("-e")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nginx");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(addr).is_ok() {
                    return Nginx {
                        child,
                        addr,
                        dir: dir.to_path_buf(),
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    if text.contains("Address already in use") {
                        break;
                    }
                    panic!("nginx exited ({status}) at start:\n{text}");
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    panic!("nginx did not listen on {addr} within 10 s:\n{text}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("nginx found no free port in 5 tries");
    }

    /// What nginx logged so far (for a failing assertion's message).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

/// One process (`master_process off`, so that killing its pid stops it
/// all), every file in `dir`, and the site included as a site would be.
fn main_config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\nevents {{ worker_connections 256; }}\n\
         http {{\n    access_log {d}/access.log;\n\
         client_body_temp_path {d}/client_body;\n    proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n    include {d}/site.conf;\n}}\n"
    )
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
