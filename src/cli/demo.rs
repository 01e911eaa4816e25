//! `preloadd demo`: the demo app on a free loopback port, the daemon in
//! front of it with a temporary cache dir, and a walkthrough.

use std::path::PathBuf;

use tokio::net::TcpListener;

use crate::config;
use crate::demo;
use crate::error::Error;
use crate::router::Listener;
use crate::server::Daemon;
use crate::shutdown;

pub fn demo() -> Result<(), Error> {
    let cache_dir = std::env::temp_dir().join(format!("preloadd-demo-{}", std::process::id()));
    let result = super::runtime()?.block_on(run(cache_dir.clone()));
    let _ = std::fs::remove_dir_all(&cache_dir);
    result
}

async fn run(cache_dir: PathBuf) -> Result<(), Error> {
    let app_listener = TcpListener::bind("127.0.0.1:0").await?;
    let app_addr = app_listener.local_addr()?;
    tokio::spawn(demo::serve(app_listener));

    // 8080 when it is free, so the walkthrough's URLs are easy to type.
    let port = match std::net::TcpListener::bind("127.0.0.1:8080") {
        Ok(_) => 8080,
        Err(_) => 0,
    };
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_listen = \"127.0.0.1:0\"\n\
         [upstream]\nurl = \"http://{app_addr}\"\n\
         [cache]\ndir = {dir:?}\n\
         [[route]]\nmatch = \"/events/*\"\ntags = [\"events.Event\"]\n",
        dir = cache_dir.display().to_string(),
    );
    let config = config::from_str(&PathBuf::from("demo.toml"), &text, None)?;
    let daemon = Daemon::start(config).await?;
    let main = daemon
        .addr(Listener::Main)
        .ok_or_else(|| Error::Runtime("no main listener".into()))?;
    let admin = daemon
        .addr(Listener::Admin)
        .ok_or_else(|| Error::Runtime("no admin listener".into()))?;
    println!(
        "{}",
        walkthrough(&app_addr.to_string(), &main.to_string(), &admin.to_string())
    );

    let (trigger, stop) = shutdown::channel();
    tokio::spawn(async move {
        shutdown::signal().await;
        trigger.trigger();
    });
    daemon.serve(stop).await;
    Ok(())
}

fn walkthrough(app: &str, main: &str, admin: &str) -> String {
    format!(
        "preloadd demo\n\
         \n  the app (slow, ~300 ms a page):  http://{app}/\
         \n  preloadd in front of it:         http://{main}/\
         \n  admin listener:                  http://{admin}/_preloadd/health\
         \n\nTry:\
         \n  time curl -s -o /dev/null -D - http://{main}/_preload/about/\
         \n      first request: X-Preload-Cache: MISS, ~300 ms (fetched from the app, kept on disk)\
         \n  time curl -s -o /dev/null -D - http://{main}/_preload/about/\
         \n      again: X-Preload-Cache: HIT, a millisecond; the page shows the same render time\
         \n  curl -s -D - http://{main}/events/1/\
         \n      /events/* is a route with snapshot = true: served from snapshots without the prefix\
         \n  curl -s -D - 'http://{main}/_preload/about/?b=2&a=1'   then   '...?a=1&b=2'\
         \n      the same snapshot (HIT): query parameters are sorted into one key\
         \n  curl -s -D - http://{main}/\
         \n      not a preload URL: passed through to the app every time\
         \n\nCtrl-C stops the daemon and removes the demo's cache dir."
    )
}
