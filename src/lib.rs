//! preloadd: a caching reverse proxy that serves preloaded page snapshots.
pub mod config;
pub mod key;
pub mod store;
