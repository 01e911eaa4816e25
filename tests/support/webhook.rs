//! Helpers for the invalidation tests: the webhook, the admin listener,
//! warming pages and waiting for what happens in the background.

use std::net::SocketAddr;
use std::time::Duration;

use super::{get, request, Daemon, Reply};

pub const JSON: &str = "Content-Type: application/json";
pub const FORM: &str = "Content-Type: application/x-www-form-urlencoded";

pub async fn invalidate(addr: SocketAddr, headers: &[&str], body: &str) -> Reply {
    request(addr, "POST", "/_invalidate", headers, body.as_bytes()).await
}

pub fn admin(d: &Daemon) -> SocketAddr {
    d.admin.expect("admin listener")
}

/// Warms `targets` (each fetched once), waits until each is written (a
/// MISS is answered first) and checks they are HITs.
pub async fn warm(d: &Daemon, targets: &[&str]) {
    for t in targets {
        get(d.main, t, &[]).await;
        d.wait_written(t).await;
        assert_eq!(get(d.main, t, &[]).await.cache(), "HIT", "{t}");
    }
}

/// A copy of `d`'s config, in `dir`, whose `admin_listen` is the port the
/// daemon bound: the CLI reads the admin address from the config.
pub fn cli_config(d: &Daemon, dir: &std::path::Path) -> std::path::PathBuf {
    let config = std::fs::read_to_string(&d.config_path).unwrap().replace(
        "admin_listen = \"127.0.0.1:0\"",
        &format!("admin_listen = \"{}\"", admin(d)),
    );
    let path = dir.join("cli.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// `preloadd invalidate --config CONFIG ARGS…`, without `$PRELOADD_TOKEN`.
pub fn cli_invalidate(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(super::daemon::binary())
        .args(["invalidate", "--config", config.to_str().unwrap()])
        .args(args)
        .env_remove("PRELOADD_TOKEN")
        .output()
        .unwrap()
}

pub fn count(reply: &Reply) -> u64 {
    let v: serde_json::Value =
        serde_json::from_slice(&reply.body).unwrap_or_else(|_| panic!("{}", reply.text()));
    v["invalidated"].as_u64().unwrap()
}

/// GETs `target` until it is a HIT (for up to 5 s): a background refetch
/// is counted by the app before its snapshot is written.
pub async fn hit_eventually(d: &Daemon, target: &str) -> Reply {
    for _ in 0..100 {
        let reply = get(d.main, target, &[]).await;
        if reply.cache() == "HIT" {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{target} never became a HIT");
}

/// Polls until the future `f` makes holds, for up to 5 s.
pub async fn eventually_async<F, Fut>(mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Polls until `f` holds, for up to 5 s.
pub async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
