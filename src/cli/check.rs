//! `preloadd check`: validate a config file and print the effective settings.

use std::path::Path;

use crate::config;
use crate::error::Error;

pub fn check(config_path: &Path) -> Result<(), Error> {
    let config = config::load(config_path)?;
    print!("{}", config.render());
    eprintln!("{}: ok", config_path.display());
    Ok(())
}
