//! The label values of the metrics, one enum per label: `ALL` lists the
//! values so that every series is made at start, `as_str` is the text a
//! series carries (and log lines use).

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

use crate::policy::PassReason;

/// Declares a label enum: its values in order (`ALL`, for resolving every
/// series at start) and the text each one is in the metrics.
macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl EncodeLabelValue for $name {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
                encoder.write_str(self.as_str())
            }
        }
    };
}

label_enum! {
    /// How a preload request was answered.
    RequestResult {
        Hit => "hit",
        Miss => "miss",
        Stale => "stale",
        Pass => "pass",
        /// A 5xx the daemon answered itself (the app unreachable or too
        /// slow, a snapshot not written with `on_write_error = "fail"`,
        /// `only-if-cached` with nothing cached).
        Error => "error",
    }
}

label_enum! {
    /// What an upstream snapshot fetch came to.
    FetchOutcome {
        /// Kept as a snapshot.
        Kept => "kept",
        /// Not kept: passed on (a PASS reason).
        Passed => "passed",
        /// No answer within `fetch_timeout` (the wait for a slot included).
        Timeout => "timeout",
        /// The app unreachable, or its answer unusable.
        Error => "error",
    }
}

label_enum! {
    /// Where an invalidation came from.
    InvalidationSource {
        /// The webhook (and `preloadd invalidate`).
        Webhook => "webhook",
        /// `daily` or a `[[schedule]]`, firing or caught up at start.
        Schedule => "schedule",
        /// The sweep of snapshots past their route `ttl` and `grace`.
        Ttl => "ttl",
        /// An unsafe method through a snapshot route.
        WriteThrough => "write-through",
        /// Another node's, read from the `[cluster]` stream (or the drop of
        /// everything after a trimmed stream).
        Cluster => "cluster",
    }
}

label_enum! {
    /// How a configuration reload ended.
    ReloadResult {
        /// The new configuration is in force.
        Ok => "ok",
        /// It was refused; the old one stays.
        Error => "error",
    }
}

impl EncodeLabelValue for PassReason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ResultLabel {
    pub result: RequestResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ReasonLabel {
    pub reason: PassReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct OutcomeLabel {
    pub outcome: FetchOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct SourceLabel {
    pub source: InvalidationSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ReloadLabel {
    pub result: ReloadResult,
}

/// The value of a label as written in the text, for logs that name it.
impl std::fmt::Display for FetchOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for InvalidationSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
