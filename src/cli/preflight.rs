//! What `run` checks before it binds, shared with `check` so that `check`
//! cannot pass a configuration `run` then refuses.
//!
//! The file is the one loader's (`config::load`: syntax, values such as a
//! `listen` port past 65535, a readable `token_file`); on top of it comes
//! whether `cache.dir` would open (`store::preflight`), reported at the
//! place of `cache.dir` in the file, exit 2 like every other problem of the
//! file. What only binding can tell (a port in use, an address this host
//! does not have) stays a failure of `run` itself, exit 1: a probe would
//! answer for a moment that has passed by the time the daemon binds.

use std::path::Path;

use crate::config::{self, Config};
use crate::error::Error;
use crate::store;

/// Loads the file at `path` and checks what the daemon needs of the host
/// before it starts.
pub(crate) fn load(path: &Path) -> Result<Config, Error> {
    let config = config::load(path)?;
    if let Err(why) = store::preflight(&config.cache.dir) {
        let place = &config.cache.dir_place;
        return Err(config.problem(place, "cache.dir", &why.to_string()).into());
    }
    Ok(config)
}
