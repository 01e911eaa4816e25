//! preloadd: a caching reverse proxy that serves preloaded page snapshots.
//!
//! The path of a request, in the order the modules meet it:
//!
//! - [`server`] accepts connections (bounded by `max_connections`) and hands
//!   each request to [`router`], which picks one of:
//!   - [`admin`]: `/_preloadd/*` and the invalidation webhook, token checked;
//!   - [`serve`]: a preload request. [`key`] validates and canonicalizes the
//!     target and computes its key; a fresh snapshot in [`store`] is a HIT,
//!     answered by [`serve::snapshot_response`] with headers prepared once
//!     per snapshot by [`heads`] and [`conditional`] for 304 / ranges; a
//!     body of 32 KiB or more leaves from its snapshot file by
//!     [`sendfile`], through the connection writer [`server`] gives hyper.
//!     Otherwise [`miss`] joins the [`flight`] for the key: one
//!     leader fetches through [`fetch`], [`policy`] and [`tags`] decide keep
//!     or PASS, the store publishes the snapshot atomically (with the gzip
//!     and brotli variants [`compress`] made once), and the followers get
//!     the same outcome. A response not kept is streamed by [`pass`], never
//!     held whole; [`oversized`] remembers pages found too large to keep;
//!   - [`proxy`]: everything else, streamed to the app and back.
//! - [`state::App`] is the one shared handle: config (swappable), store,
//!   client, flights. [`shutdown`] tells every task when to stop.
//! - [`config`] turns `preload.toml` into the typed [`config::Config`];
//!   [`cli`] holds the commands; [`demo`] the built-in slow app; [`limits`]
//!   the descriptor limit and the share of it the store may hold open.

pub mod admin;
pub mod body;
pub mod cached;
pub mod cli;
pub mod clock;
pub mod compress;
pub mod conditional;
pub mod config;
pub mod demo;
pub mod error;
pub mod fetch;
pub mod flight;
pub mod headers;
pub mod invalidate;
pub mod key;
pub mod limits;
pub mod listener;
pub mod miss;
pub mod outcome;
pub mod oversized;
pub mod pass;
pub mod policy;
pub mod preload;
pub mod proxy;
pub mod respond;
pub mod router;
pub mod sendfile;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod tags;
