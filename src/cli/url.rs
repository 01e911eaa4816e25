//! `preloadd url`: print a preload URL with the seed's joining rule.

use std::path::Path;

use crate::config;
use crate::error::Error;
use crate::key;

const DEFAULT_PREFIX: &str = "/_preload";

pub fn url(
    config_path: &Path,
    prefix: Option<String>,
    path: &str,
    params: &[String],
) -> Result<(), Error> {
    if !path.starts_with('/') {
        return Err(Error::Usage(format!(
            "url: path must start with \"/\": {path}"
        )));
    }
    let prefix = match prefix {
        Some(prefix) => prefix,
        None => config_prefix(config_path)?,
    };
    println!(
        "{}",
        key::preload_url(prefix.trim_end_matches('/'), path, params)
    );
    Ok(())
}

/// The prefix of the config file when there is one; the default prefix
/// when the default file (./preload.toml) does not exist.
fn config_prefix(config_path: &Path) -> Result<String, Error> {
    let default_file = config_path == Path::new("preload.toml");
    if default_file && !config_path.exists() {
        return Ok(DEFAULT_PREFIX.to_string());
    }
    Ok(config::load(config_path)?.preload.prefix)
}
