//! `preloadd demo`: the demo app on a free loopback port, the daemon in
//! front of it with a temporary config and cache dir, and a walkthrough of
//! the whole loop (MISS, HIT, an invalidation, the MISS after it) whose
//! commands work as printed against the running demo.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;

use crate::config;
use crate::demo;
use crate::error::Error;
use crate::listener::Listener;
use crate::server::Daemon;
use crate::shutdown;

pub fn demo() -> Result<(), Error> {
    let root = std::env::temp_dir().join(format!("preloadd-demo-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let result = super::runtime().and_then(|rt| rt.block_on(run(&root)));
    let _ = std::fs::remove_dir_all(&root);
    result
}

async fn run(root: &Path) -> Result<(), Error> {
    let app_listener = TcpListener::bind("127.0.0.1:0").await?;
    let app_addr = app_listener.local_addr()?;
    tokio::spawn(demo::serve(app_listener));

    // The config names real ports (8080 and 8081 when they are free, easy
    // to type), not port 0, so that `preloadd invalidate --config` on it
    // finds the admin listener.
    let main_port = free_port(8080)?;
    let admin_port = free_port(8081)?;
    let config_path = root.join("preload.toml");
    let text = format!(
        "# preloadd demo: written by `preloadd demo`, removed when it stops\n\
         [server]\nlisten = \"127.0.0.1:{main_port}\"\nadmin_listen = \"127.0.0.1:{admin_port}\"\n\
         [upstream]\nurl = \"http://{app_addr}\"\n\
         [cache]\ndir = {dir:?}\n\
         [[route]]\nmatch = \"/events/*\"\ntags = [\"events.Event\"]\n",
        dir = root.join("cache").display().to_string(),
    );
    std::fs::write(&config_path, text)?;
    let config = config::load(&config_path)?;
    let daemon = Daemon::start(config).await?;
    let main = daemon
        .addr(Listener::Main)
        .ok_or_else(|| Error::Runtime("no main listener".into()))?;
    let admin = daemon
        .addr(Listener::Admin)
        .ok_or_else(|| Error::Runtime("no admin listener".into()))?;
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("preloadd"));
    println!(
        "{}",
        walkthrough(&Addrs {
            app: app_addr,
            main,
            admin,
            config: &config_path,
            exe: &exe,
        })
    );

    let (trigger, stop) = shutdown::channel();
    tokio::spawn(async move {
        shutdown::signal().await;
        trigger.trigger();
    });
    daemon.serve(stop).await;
    Ok(())
}

/// `preferred` when nothing listens on it, else a port the kernel picks.
/// The port is released before the daemon binds it: a race another program
/// could win, which for a demo on loopback only means a bind error.
fn free_port(preferred: u16) -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", preferred))
        .or_else(|_| std::net::TcpListener::bind("127.0.0.1:0"))?;
    Ok(listener.local_addr()?.port())
}

struct Addrs<'a> {
    app: SocketAddr,
    main: SocketAddr,
    admin: SocketAddr,
    config: &'a Path,
    exe: &'a Path,
}

fn walkthrough(a: &Addrs<'_>) -> String {
    let render_ms = demo::RENDER_TIME.as_millis();
    let (app, main, admin) = (a.app, a.main, a.admin);
    let (config, exe) = (a.config.display(), a.exe.display());
    format!(
        "preloadd demo\n\
         \n  the app (each page takes {render_ms} ms to render): http://{app}/\
         \n  preloadd in front of it:                    http://{main}/\
         \n  admin listener:                             http://{admin}/_preloadd/health\
         \n  its temporary config:                       {config}\
         \n\nIn another terminal:\
         \n\n  1. curl -si http://{main}/_preload/events/1/\
         \n       X-Preload-Cache: MISS: fetched from the app ({render_ms} ms) and kept on disk;\
         \n       the page says when the app rendered it\
         \n  2. curl -si http://{main}/_preload/events/1/\
         \n       X-Preload-Cache: HIT: the snapshot, at once; the same \"rendered at\" time\
         \n  3. curl -s -X POST http://{admin}/_invalidate -d tag=events.Event\
         \n       {{\"invalidated\":1}}: what the app's model-save hook sends when an event changes\
         \n  4. curl -si http://{main}/_preload/events/1/\
         \n       X-Preload-Cache: MISS: rendered anew, then kept again\
         \n  5. {exe} invalidate --config {config} --tag events.Event\
         \n       the same from the command line; it prints how many snapshots it dropped\
         \n\nMore:\
         \n  curl -si http://{main}/events/2/\
         \n       /events/* is a route with snapshot = true: served from snapshots without the prefix\
         \n  curl -si 'http://{main}/_preload/about/?b=2&a=1'   then   'http://{main}/_preload/about/?a=1&b=2'\
         \n       one snapshot (the second is a HIT): query parameters are sorted into one key\
         \n  curl -si http://{main}/\
         \n       not a preload URL: passed through to the app every time, no X-Preload-Cache\
         \n\nCtrl-C stops the daemon and removes the demo's config and cache dir."
    )
}
