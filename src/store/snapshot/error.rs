//! Why a snapshot could not be encoded or decoded. Below `cursor`, `encode`
//! and `decode`, which all report these.

use super::format::MAX_HEADER;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a snapshot file")]
    Magic,
    #[error("snapshot format {0} is not supported")]
    Version(u16),
    #[error("snapshot header is truncated")]
    Truncated,
    #[error("snapshot file is {actual} bytes, its header says {declared}")]
    Torn { declared: u64, actual: u64 },
    #[error("snapshot header is invalid: {0}")]
    Invalid(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("snapshot header is over {MAX_HEADER} bytes")]
    HeaderTooLarge,
    #[error("snapshot has two variants in one encoding")]
    DuplicateVariant,
}
