//! Where the bearer token of the webhook and the admin endpoints comes
//! from: `$PRELOADD_TOKEN` when set, else `[invalidate] token`, else the
//! content of `token_file`.
//!
//! The token is a secret: no message here ever contains it (a problem names
//! the key or the file, never the value), and `Config::render` only says
//! whether one is set.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::position::Problems;

/// The token is sent as `Authorization: Bearer TOKEN`, so it must fit in a
/// header value without quoting.
fn token_problem(t: &str) -> Option<&'static str> {
    if t.is_empty() {
        Some("is empty")
    } else if !t.bytes().all(|b| b.is_ascii_graphic()) {
        Some("must be printable ASCII without spaces (it is sent in an Authorization header)")
    } else {
        None
    }
}

/// The most a token file may hold. A token is a line; a file this long is
/// the wrong file (and `/dev/zero` or a log must not hang the loader).
const MAX_FILE: u64 = 4096;

/// The file's text, read up to [`MAX_FILE`] bytes and no further.
fn read_bounded(path: &Path) -> io::Result<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(io::Error::other(format!(
            "it holds more than {MAX_FILE} bytes; a token file holds one token"
        )));
    }
    String::from_utf8(bytes).map_err(|_| io::Error::other("it is not UTF-8 text"))
}

/// `$PRELOADD_TOKEN` wins over `token` and `token_file`. When it is set the
/// file is not read: the environment is how a deployment overrides the
/// file, and a file it overrides must not stop a start.
pub(crate) fn resolve(
    p: &mut Problems<'_>,
    token: Option<Spanned<String>>,
    file: Option<Spanned<PathBuf>>,
    env_token: Option<String>,
    base: &Path,
) -> Option<String> {
    if let (Some(_), Some(f)) = (&token, &file) {
        p.at(
            f.span(),
            "invalidate.token_file",
            "both `token` and `token_file` are set; keep one",
        );
    }
    if let Some(t) = env_token {
        if let Some(why) = token_problem(&t) {
            p.nowhere("invalidate.token", format!("$PRELOADD_TOKEN {why}"));
        }
        return Some(t);
    }
    if let Some(t) = token {
        if let Some(why) = token_problem(t.get_ref()) {
            p.at(t.span(), "invalidate.token", why);
        }
        return Some(t.into_inner());
    }
    let f = file?;
    // Relative to the config file, so a unit file and a `check` from another
    // directory read the same token.
    let full = base.join(f.get_ref());
    match read_bounded(&full) {
        Ok(s) => {
            let t = s.trim().to_string();
            if let Some(why) = token_problem(&t) {
                p.at(
                    f.span(),
                    "invalidate.token_file",
                    format!("the token in {} {why}", full.display()),
                );
            }
            Some(t)
        }
        Err(e) => {
            p.at(
                f.span(),
                "invalidate.token_file",
                format!("cannot read {}: {e}", full.display()),
            );
            None
        }
    }
}
