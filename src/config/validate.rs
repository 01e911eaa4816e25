//! Checks across values; raw shape to typed Config. (Stub.)
use std::path::Path;

use super::file::RawConfig;
use super::{Config, ConfigError};

pub fn build(path: &Path, text: &str, raw: RawConfig, env_token: Option<String>) -> Result<Config, ConfigError> {
    let _ = (path, text, raw, env_token);
    Err(ConfigError::Invalid(vec!["not yet".into()]))
}
