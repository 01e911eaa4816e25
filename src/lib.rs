//! preloadd: a caching reverse proxy that serves preloaded page snapshots.
//!
//! The path of a request runs one way, each module calling only those
//! below it (docs/architecture.md draws it):
//!
//! - [`server`] accepts connections (bounded by `max_connections`) and hands
//!   each to [`conn`], which reads its request heads: a plain HIT it
//!   answers itself from the snapshot's prepared bytes; every other request
//!   goes, in order, to hyper and [`router`], whose one `match` picks:
//!   - [`admin`]: `/_preloadd/*` and the invalidation webhook, token checked
//!     first; the webhook itself is [`invalidate::handlers`];
//!   - [`preload`]: a preload request. [`key::resolve`] validates and
//!     canonicalizes the target and computes its key; [`cached`] finds its
//!     snapshot in [`store`] without blocking a worker; a fresh one is a
//!     HIT, answered by [`respond::snapshot_response`]. Otherwise [`miss`]
//!     joins the [`flight`] for the key: one leader fetches through
//!     [`fetch`], [`policy`] and [`tags`] decide keep or PASS, the store
//!     publishes the snapshot atomically (with the variants [`compress`]
//!     made once), and the followers get the same [`outcome`]. A response
//!     not kept is streamed by [`pass`], never held whole;
//!   - an unsafe method on a snapshot route: [`invalidate::handlers`]
//!     passes it through and drops what it changed;
//!   - [`proxy`]: everything else, streamed to the app and back.
//! - Below them all: [`respond`] writes every response the daemon makes
//!   (its own statuses are [`respond::Own`], one table); [`headers`] the
//!   header rules; [`state::App`] is the one shared handle: config
//!   (swappable), store, client, flights. [`shutdown`] tells every task
//!   when to stop.
//! - [`listing`] and [`explain`] answer the snapshot listing and explain
//!   (admin endpoints and the `ls` / `explain` commands); [`passes`] keeps
//!   the last PASS of recent keys for them.
//! - [`config`] turns `preload.toml` into the typed [`config::Config`],
//!   and [`reload`] swaps a new one in on SIGHUP or a change of the file;
//!   [`cli`] holds the commands; [`demo`] the built-in slow app; [`limits`]
//!   the descriptor limit and the share of it the store may hold open;
//!   [`systemd`] what the daemon tells its service manager.

pub mod access;
pub mod admin;
pub mod body;
pub mod cached;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod compress;
pub mod conditional;
pub mod config;
pub mod conn;
pub mod connector;
pub mod demo;
pub mod error;
pub mod explain;
pub mod fetch;
pub mod flight;
#[cfg(test)]
mod fuzz;
pub mod headers;
pub mod invalidate;
pub mod key;
pub mod limits;
pub mod listener;
pub mod listing;
pub mod metrics;
pub mod miss;
pub mod outcome;
pub mod oversized;
pub mod pass;
pub mod passes;
pub mod policy;
pub mod preload;
pub mod proxy;
pub mod reload;
pub mod respond;
pub mod router;
pub mod sendfile;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod status;
pub mod store;
pub mod systemd;
pub mod tags;
