//! `preloadd check`: validate a config file and print the effective
//! settings. It checks what `run` checks before binding (`preflight`), so
//! a config it passes starts unless a port is taken.

use std::path::Path;

use crate::error::Error;

pub fn check(config_path: &Path) -> Result<(), Error> {
    let config = super::preflight::load(config_path)?;
    print!("{}", config.render());
    eprintln!("{}: ok", config_path.display());
    Ok(())
}
