//! Where a problem sits in `preload.toml`: byte spans from the toml parser
//! and from `toml::Spanned` turned into the one-line
//! `FILE:LINE:COL: key `section.key`: message` the operator reads.
//!
//! It only looks at the text; it never decides whether a value is valid.

use std::ops::Range;
use std::path::Path;

/// Where a value sits in the file, kept in the [`Config`](super::Config)
/// for the checks that can only be made when the daemon is about to start
/// (can `cache.dir` be created?), so that their problems read like the
/// file's own: `FILE:LINE:COL: key `cache.dir`: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// 1-based; `None` for a default that appears nowhere in the file.
    line_col: Option<(usize, usize)>,
}

impl Place {
    /// The place of `span` in `text` (the empty span at 0 is a default).
    pub(crate) fn of(text: &str, span: Range<usize>) -> Place {
        Place {
            line_col: (span.end != 0).then(|| line_col(text, span.start)),
        }
    }

    /// The one line an operator reads for a problem of `key` found here.
    pub(crate) fn line(&self, path: &Path, key: &str, message: &str) -> String {
        match self.line_col {
            Some((line, col)) => {
                format!(
                    "{}:{line}:{col}: key `{key}`: {}",
                    path.display(),
                    one_line(message)
                )
            }
            None => format!("{}: key `{key}`: {}", path.display(), one_line(message)),
        }
    }
}

/// Collects problems as finished lines, so `validate` can report every
/// problem of a file at once rather than the first.
pub(crate) struct Problems<'a> {
    path: &'a Path,
    text: &'a str,
    /// Each line with its byte offset in the file (`None`: no position).
    lines: Vec<(Option<usize>, String)>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Self {
        Problems {
            path,
            text,
            lines: Vec::new(),
        }
    }

    /// A problem at `span`. An empty span at offset 0 is a default value
    /// that appears nowhere in the file: the line then has no position.
    pub(crate) fn at(&mut self, span: Range<usize>, key: &str, message: impl AsRef<str>) {
        if span.end == 0 {
            return self.nowhere(key, message);
        }
        let line = line_at(
            self.path,
            self.text,
            span.start,
            Some(key),
            message.as_ref(),
        );
        self.lines.push((Some(span.start), line));
    }

    /// A problem with no place in the file (a missing key, the environment).
    pub(crate) fn nowhere(&mut self, key: &str, message: impl AsRef<str>) {
        let line = format!(
            "{}: key `{key}`: {}",
            self.path.display(),
            one_line(message.as_ref())
        );
        self.lines.push((None, line));
    }

    /// The lines in the order of the file, those without a position (such
    /// as a missing required key) first.
    pub(crate) fn into_lines(mut self) -> Vec<String> {
        self.lines.sort_by_key(|(offset, _)| *offset);
        self.lines.into_iter().map(|(_, line)| line).collect()
    }
}

/// Formats one problem at byte `offset` of `text`. Without an explicit
/// `key`, the key is found from the text (see [`key_path`]).
pub(crate) fn line_at(
    path: &Path,
    text: &str,
    offset: usize,
    key: Option<&str>,
    message: &str,
) -> String {
    let (line, col) = line_col(text, offset);
    let key = key.map(str::to_owned).or_else(|| key_path(text, offset));
    match key {
        Some(key) => format!(
            "{}:{line}:{col}: key `{key}`: {}",
            path.display(),
            one_line(message)
        ),
        None => format!("{}:{line}:{col}: {}", path.display(), one_line(message)),
    }
}

/// toml's messages may span lines ("invalid table header\nduplicate key");
/// the operator gets one line per problem.
fn one_line(message: &str) -> String {
    let parts: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    parts.join("; ")
}

/// 1-based line and column (in characters) of byte `offset`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// The dotted key of the statement that byte `offset` falls in: the last
/// table header before it joined with the key that starts its statement
/// (`server.timout`), or the header alone when the offset is on a header.
///
/// A small scanner rather than a second parse: it follows strings, arrays,
/// inline tables and comments only far enough to know where statements
/// start, so it also works on text that toml refused.
pub(crate) fn key_path(text: &str, offset: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let mut table = String::new();
    let mut found = None;
    let mut depth = 0usize;
    let mut statement_start = true;
    let mut i = 0;
    while i < bytes.len() && i <= offset {
        let b = bytes[i];
        if depth == 0 && statement_start {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => i += 1,
                b'#' => i = line_end(bytes, i),
                b'[' => {
                    let open = if bytes.get(i + 1) == Some(&b'[') {
                        2
                    } else {
                        1
                    };
                    let (key, _) = read_key(bytes, i + open);
                    table = key;
                    found = Some(table.clone());
                    i = line_end(bytes, i);
                }
                _ => {
                    let (key, next) = read_key(bytes, i);
                    found = Some(if table.is_empty() {
                        key
                    } else {
                        format!("{table}.{key}")
                    });
                    statement_start = false;
                    i = next.max(i + 1);
                }
            }
            continue;
        }
        match b {
            b'"' | b'\'' => {
                i = skip_string(bytes, i);
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'#' => {
                i = line_end(bytes, i);
                continue;
            }
            b'\n' if depth == 0 => statement_start = true,
            _ => {}
        }
        i += 1;
    }
    found
}

/// Offset of the next `\n` at or after `i` (or the end).
fn line_end(bytes: &[u8], i: usize) -> usize {
    bytes[i.min(bytes.len())..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| i + p)
}

/// Reads a dotted key (bare or quoted parts) starting at `i`; returns the
/// parts joined by "." and the offset after it.
fn read_key(bytes: &[u8], mut i: usize) -> (String, usize) {
    let mut parts = Vec::new();
    loop {
        while matches!(bytes.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let start = i;
        match bytes.get(i) {
            Some(q @ (b'"' | b'\'')) => {
                // A key is one line: a multi-line string where a key belongs
                // must not carry the statements after it into a message.
                let end = skip_string(bytes, i).min(line_end(bytes, i));
                let inner_end = if end > start + 1 && bytes.get(end - 1) == Some(q) {
                    end - 1
                } else {
                    end
                };
                parts.push(one_line_key(&bytes[start + 1..inner_end]));
                i = end;
            }
            _ => {
                while matches!(bytes.get(i), Some(c) if c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
                {
                    i += 1;
                }
                parts.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
            }
        }
        while matches!(bytes.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if bytes.get(i) == Some(&b'.') && i > start {
            i += 1;
        } else {
            return (parts.join("."), i);
        }
    }
}

/// A quoted key part with its control characters escaped (a refused file
/// may hold a lone `\r` in one), so that the key is named in one line.
fn one_line_key(part: &[u8]) -> String {
    let mut out = String::with_capacity(part.len());
    for c in String::from_utf8_lossy(part).chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Offset just after the string starting at `i` (basic, literal, or their
/// multi-line forms); the end of the line or text if it is unterminated.
fn skip_string(bytes: &[u8], i: usize) -> usize {
    let quote = bytes[i];
    let triple = bytes.get(i..i + 3) == Some(&[quote, quote, quote][..]);
    let mut j = if triple { i + 3 } else { i + 1 };
    while j < bytes.len() {
        let b = bytes[j];
        if b == b'\\' && quote == b'"' {
            j += 2;
            continue;
        }
        if b == b'\n' && !triple {
            return j;
        }
        if b == quote {
            if !triple {
                return j + 1;
            }
            if bytes.get(j..j + 3) == Some(&[quote, quote, quote][..]) {
                return j + 3;
            }
        }
        j += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(text: &str, needle: &str) -> Option<String> {
        let offset = text.find(needle).expect("needle in text");
        key_path(text, offset)
    }

    #[test]
    fn line_and_column_are_one_based_in_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, text.find('"').unwrap_or(0)), (2, 6));
    }

    #[test]
    fn key_path_follows_headers_and_keys() {
        let text = "top = 1\n[server]\nlisten = \"x\"\n# c = 1\n[[route]]\n  match = \"/a\"\ntags = [\n  \"a\",\n  \"b\" ]\n";
        assert_eq!(key_of(text, "top").as_deref(), Some("top"));
        assert_eq!(key_of(text, "server").as_deref(), Some("server"));
        assert_eq!(key_of(text, "\"x\"").as_deref(), Some("server.listen"));
        assert_eq!(key_of(text, "route").as_deref(), Some("route"));
        assert_eq!(key_of(text, "\"/a\"").as_deref(), Some("route.match"));
        assert_eq!(key_of(text, "\"b\"").as_deref(), Some("route.tags"));
    }

    #[test]
    fn key_path_handles_strings_dotted_keys_and_inline_tables() {
        let text = "[a . \"b\"]\nx = \"\"\"\ny = [\n\"\"\"\nz.w = { q = 1 }\nv = 'it''s'\n";
        assert_eq!(key_of(text, "y =").as_deref(), Some("a.b.x"));
        assert_eq!(key_of(text, "q").as_deref(), Some("a.b.z.w"));
        assert_eq!(key_of(text, "'it'").as_deref(), Some("a.b.v"));
    }

    #[test]
    fn a_quoted_key_is_named_in_one_line_from_its_own_line() {
        // A multi-line string where a key belongs: only its first line.
        let text = "[a]\nb = ''\n'''\ntoken = \"secret\"\n'''\n";
        assert_eq!(key_of(text, "'''").as_deref(), Some("a.'"));
        let text = "[a]\n\"x\ry\" = 1\n";
        assert_eq!(key_of(text, "\"x").as_deref(), Some("a.x\\ry"));
    }

    #[test]
    fn unterminated_text_does_not_panic() {
        for text in ["[", "[[", "a = \"", "a = '''", "a = [ {", "\"", "a.", "="] {
            let _ = key_path(text, text.len());
        }
    }

    #[test]
    fn messages_become_one_line() {
        let line = line_at(
            Path::new("p.toml"),
            "[server]\n",
            1,
            None,
            "invalid table header\nduplicate key",
        );
        assert_eq!(
            line,
            "p.toml:1:2: key `server`: invalid table header; duplicate key"
        );
    }
}
