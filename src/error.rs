//! The errors that reach `main`, and the exit code each one means
//! (0 success, 1 runtime failure, 2 usage or configuration error).

use crate::config::ConfigError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) => 2,
            // An unusable cache dir is a configuration that cannot work.
            Error::Store(StoreError::Dir { .. }) => 2,
            _ => 1,
        }
    }
}
