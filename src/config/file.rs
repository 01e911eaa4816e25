//! The strict TOML shape of `preload.toml`. (Stub.)
use std::path::Path;

use super::ConfigError;

pub struct RawConfig;

pub fn parse(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    let _ = (path, text);
    Err(ConfigError::Invalid(vec!["not yet".into()]))
}
