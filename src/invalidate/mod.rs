//! Invalidation (SPEC §6): what a webhook, a schedule or `preloadd
//! invalidate` names, and when schedules fire.
//!
//! [`selector`] is the one description of "what to drop" that every source
//! produces and the store consumes; [`webhook`] turns a request body into
//! one; [`schedule`] computes firing instants from `daily` and
//! `[[schedule]]` without waiting on a clock.
//!
//! These modules decide *what* and *when*; they never touch the store, the
//! network or the clock themselves, so each is tested with plain values.

pub mod schedule;
pub mod selector;
pub mod webhook;
