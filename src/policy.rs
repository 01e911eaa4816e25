//! What is kept and what is passed on (SPEC §4, "What decides keeping").
//!
//! Owns the keep decision for a fetched response, read from its status and
//! headers alone: `CDN-Cache-Control` (RFC 9213) or else `Cache-Control`,
//! `Vary: *` and `Set-Cookie`. It never looks at the body, never touches the
//! store, and never reads freshness (`max-age`, `Expires`): how long a snapshot
//! lives is decided by invalidation, schedules and route `ttl`.

use std::convert::Infallible;

use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};

use crate::headers::list_items;
use http::{HeaderMap, HeaderName, StatusCode};
use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef};

/// Why a fetched response was served as PASS instead of being kept; the
/// value of `X-Preload-Reason` and a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PassReason {
    Status,
    NoStore,
    NoCache,
    Private,
    Vary,
    SetCookie,
    TooLarge,
    /// More than `[preload] max_tags` tags, or a tags header over 64 KiB.
    TooManyTags,
    /// A tag name that is not UTF-8: no purge could name it (not in SPEC's
    /// list; docs/architecture.md says why).
    BadTags,
    WriteError,
    Invalidated,
}

impl PassReason {
    /// Every reason, in SPEC order, so metrics can pre-register each label.
    pub const ALL: [PassReason; 11] = [
        PassReason::Status,
        PassReason::NoStore,
        PassReason::NoCache,
        PassReason::Private,
        PassReason::Vary,
        PassReason::SetCookie,
        PassReason::TooLarge,
        PassReason::TooManyTags,
        PassReason::BadTags,
        PassReason::WriteError,
        PassReason::Invalidated,
    ];

    /// The `X-Preload-Reason` value.
    pub fn as_str(self) -> &'static str {
        match self {
            PassReason::Status => "status",
            PassReason::NoStore => "no-store",
            PassReason::NoCache => "no-cache",
            PassReason::Private => "private",
            PassReason::Vary => "vary",
            PassReason::SetCookie => "set-cookie",
            PassReason::TooLarge => "too-large",
            PassReason::TooManyTags => "too-many-tags",
            PassReason::BadTags => "bad-tags",
            PassReason::WriteError => "write-error",
            PassReason::Invalidated => "invalidated",
        }
    }
}

/// The route's settings that take part in the keep decision.
#[derive(Debug, Clone, Copy)]
pub struct KeepRules<'a> {
    /// Statuses that may be kept.
    pub statuses: &'a [u16],
    /// Keep responses with `Set-Cookie`, dropping the header from the snapshot.
    pub strip_set_cookie: bool,
}

/// Why a fetched response must not be kept, or `None` to keep it.
///
/// `TooLarge`, `WriteError` and `Invalidated` depend on the body and the store,
/// `TooManyTags` and `BadTags` on the page's tags ([`crate::tags`]); the
/// caller decides those.
pub fn pass_reason(
    status: StatusCode,
    headers: &HeaderMap,
    rules: KeepRules<'_>,
) -> Option<PassReason> {
    if !rules.statuses.contains(&status.as_u16()) {
        return Some(PassReason::Status);
    }
    let directives = cdn_cache_control(headers).unwrap_or_else(|| cache_control(headers));
    if let Some(reason) = directives.reason() {
        return Some(reason);
    }
    if list_items(headers, &VARY).any(|item| item == b"*") {
        return Some(PassReason::Vary);
    }
    if headers.contains_key(SET_COOKIE) && !rules.strip_set_cookie {
        return Some(PassReason::SetCookie);
    }
    None
}

/// The header names an app's `Vary` lists, lower-cased and without
/// duplicates; `*` and names that are not valid header names are left out.
pub fn vary_names(headers: &HeaderMap) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = Vec::new();
    // `*` is a valid token, so it is left out by hand; `from_bytes` refuses
    // the other non-names and lower-cases the rest.
    for item in list_items(headers, &VARY).filter(|item| *item != b"*") {
        if let Ok(name) = HeaderName::from_bytes(item) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The directives that decide keeping, from whichever header decides.
#[derive(Debug, Default)]
struct Directives {
    no_store: bool,
    no_cache: bool,
    private: bool,
}

impl Directives {
    /// The most restrictive directive wins: no-store, then no-cache, then private.
    fn reason(&self) -> Option<PassReason> {
        if self.no_store {
            Some(PassReason::NoStore)
        } else if self.no_cache {
            Some(PassReason::NoCache)
        } else if self.private {
            Some(PassReason::Private)
        } else {
            None
        }
    }
}

/// `CDN-Cache-Control` read as an RFC 8941 Dictionary, or `None` when it is
/// absent or must be ignored whole (does not parse, or a non-integer age).
fn cdn_cache_control(headers: &HeaderMap) -> Option<Directives> {
    let mut lines = headers.get_all("cdn-cache-control").iter();
    let first = lines.next()?;
    let mut visitor = CdnVisitor::default();
    let parsed = match lines.next() {
        None => parse_dictionary(first.as_bytes(), &mut visitor),
        Some(second) => {
            // Structured fields are defined over the combined field value
            // (RFC 8941 §4.2), so an empty or broken line spoils the whole.
            let mut combined = first.as_bytes().to_vec();
            for line in std::iter::once(second).chain(lines) {
                combined.extend_from_slice(b", ");
                combined.extend_from_slice(line.as_bytes());
            }
            parse_dictionary(&combined, &mut visitor)
        }
    };
    let ages_ok = !visitor.max_age_bad && !visitor.s_maxage_bad;
    (parsed && ages_ok).then_some(visitor.directives)
}

fn parse_dictionary(input: &[u8], visitor: &mut CdnVisitor) -> bool {
    sfv::Parser::new(input)
        .with_version(sfv::Version::Rfc8941)
        .parse_dictionary_with_visitor(visitor)
        .is_ok()
}

/// Collects the keep directives of a `CDN-Cache-Control` dictionary without
/// building it. A directive counts whatever its value (`private="set-cookie"`
/// is still private); a repeated age key is judged by its last value, as
/// dictionary semantics say the last one wins.
#[derive(Default)]
struct CdnVisitor {
    directives: Directives,
    max_age_bad: bool,
    s_maxage_bad: bool,
}

impl<'de> DictionaryVisitor<'de> for CdnVisitor {
    type Error = Infallible;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Self::Error> {
        let slot = match key.as_str() {
            "no-store" => &mut self.directives.no_store,
            "no-cache" => &mut self.directives.no_cache,
            "private" => &mut self.directives.private,
            "max-age" => return Ok(Some(NotInteger(&mut self.max_age_bad))),
            "s-maxage" => return Ok(Some(NotInteger(&mut self.s_maxage_bad))),
            _ => return Ok(None),
        };
        *slot = true;
        Ok(None)
    }
}

/// Records whether a dictionary member's value is anything but an Integer.
struct NotInteger<'a>(&'a mut bool);

impl<'de> ItemVisitor<'de> for NotInteger<'_> {
    type Error = Infallible;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de>, Self::Error> {
        *self.0 = !matches!(bare_item, BareItemFromInput::Integer(_));
        Ok(Ignored)
    }
}

impl<'de> EntryVisitor<'de> for NotInteger<'_> {
    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Self::Error> {
        *self.0 = true;
        Ok(Ignored)
    }
}

/// `Cache-Control` read leniently, as caches in the field do: unknown or
/// odd directives are skipped, names compare case-insensitively, and a value
/// (`no-cache="set-cookie"`) does not change what a directive means.
fn cache_control(headers: &HeaderMap) -> Directives {
    let mut directives = Directives::default();
    for item in list_items(headers, &CACHE_CONTROL) {
        let name = match item.iter().position(|&b| b == b'=') {
            Some(eq) => item[..eq].trim_ascii(),
            None => item,
        };
        if name.eq_ignore_ascii_case(b"no-store") {
            directives.no_store = true;
        } else if name.eq_ignore_ascii_case(b"no-cache") {
            directives.no_cache = true;
        } else if name.eq_ignore_ascii_case(b"private") {
            directives.private = true;
        }
    }
    directives
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
