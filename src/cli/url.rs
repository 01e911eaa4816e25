//! `preloadd url`: print a preload URL with the seed's joining rule.
//!
//! The joined target goes through the daemon's own origin-form check
//! ([`key::canonical_target`]), so a URL it prints is one the daemon
//! answers rather than refuses with 400 or 414.

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
    if !prefix.starts_with('/') {
        return Err(Error::Usage(format!(
            "url: prefix must start with \"/\": {prefix}"
        )));
    }
    let target = key::join_params(path, params);
    // Query rules change only the spelling, never whether a target is
    // accepted, so the defaults judge it whatever the config says.
    if let Err(reason) = key::canonical_target(&target, key::QueryRules::NONE) {
        return Err(refused(&target, &reason.to_string()));
    }
    let url = key::preload_url(prefix.trim_end_matches('/'), path, params);
    if url.len() > key::MAX_TARGET {
        return Err(refused(&target, "request target too long"));
    }
    println!("{url}");
    Ok(())
}

/// The error line, with a long target cut short so it stays one readable
/// line.
fn refused(target: &str, reason: &str) -> Error {
    let shown = match target.char_indices().nth(80) {
        Some((end, _)) => format!("{:?}...", &target[..end]),
        None => format!("{target:?}"),
    };
    Error::Usage(format!("url: the daemon would refuse {shown}: {reason}"))
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
