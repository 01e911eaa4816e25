//! `preloadd run`: load the config, open the store, serve until SIGTERM.

use std::path::Path;

use crate::error::Error;
use crate::server::Daemon;
use crate::shutdown;

pub fn run(config_path: &Path) -> Result<(), Error> {
    let config = super::preflight::load(config_path)?;
    super::runtime()?.block_on(async {
        let daemon = Daemon::start(config).await?;
        let (trigger, stop) = shutdown::channel();
        tokio::spawn(async move {
            shutdown::signal().await;
            tracing::info!("stopping: draining connections");
            trigger.trigger();
        });
        daemon.serve(stop).await;
        Ok(())
    })
}
