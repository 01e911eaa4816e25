//! The list of pages to warm, gathered from a file, stdin or sitemaps
//! before the first request, so that the progress bar knows the total.
//!
//! The list is bounded ([`MAX_PAGES`], [`MAX_LIST_BYTES`]): a sitemap comes
//! from the app, and one that names endless pages must end in an error
//! line, not in an exhausted machine.

use std::io::BufRead;

use crate::error::Error;
use crate::key::QueryRules;

use super::lines::{classify, Line};

/// Most pages one run warms.
pub const MAX_PAGES: usize = 1_000_000;
/// Most bytes of preload URLs one run holds.
pub const MAX_LIST_BYTES: usize = 256 << 20;

/// The pages to request, and what could not be.
pub struct List<'a> {
    prefix: &'a str,
    rules: QueryRules<'a>,
    /// Preload URLs, in the order they were read.
    pub pages: Vec<String>,
    bytes: usize,
    /// Lines or `<loc>`s that name no page the daemon accepts.
    pub invalid: usize,
    /// Sitemaps of an index that could not be read.
    pub failed_sitemaps: usize,
}

impl<'a> List<'a> {
    pub fn new(prefix: &'a str, rules: QueryRules<'a>) -> List<'a> {
        List {
            prefix,
            rules,
            pages: Vec::new(),
            bytes: 0,
            invalid: 0,
            failed_sitemaps: 0,
        }
    }

    /// Adds what `line` names; `place` says where it was read, for the
    /// line on stderr when it names no page.
    pub fn add(&mut self, place: &str, line: &str) -> Result<(), Error> {
        match classify(line, self.prefix, self.rules) {
            Line::Skip => {}
            Line::Bad(why) => {
                self.invalid += 1;
                eprintln!("warm: {place}: {why}: {}", shown(line.trim()));
            }
            Line::Page(url) => {
                self.bytes += url.len();
                if self.pages.len() == MAX_PAGES || self.bytes > MAX_LIST_BYTES {
                    return Err(Error::Runtime(format!(
                        "warm: {place}: more than {MAX_PAGES} pages or {} MiB of URLs in one run; split the list",
                        MAX_LIST_BYTES >> 20
                    )));
                }
                self.pages.push(url);
            }
        }
        Ok(())
    }

    /// Adds every line of `input`, named `name` in messages.
    pub fn read(&mut self, name: &str, mut input: impl BufRead) -> Result<(), Error> {
        let mut buf = Vec::new();
        for number in 1.. {
            buf.clear();
            let read = input
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::Runtime(format!("warm: reading {name}: {e}")))?;
            if read == 0 {
                break;
            }
            let place = format!("{name}:{number}");
            match std::str::from_utf8(&buf) {
                Ok(line) => self.add(&place, line)?,
                Err(_) => {
                    self.invalid += 1;
                    eprintln!("warm: {place}: not UTF-8");
                }
            }
        }
        Ok(())
    }
}

/// A line as quoted in a message: at most 100 characters.
pub fn shown(line: &str) -> String {
    match line.char_indices().nth(100) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: QueryRules<'static> = QueryRules {
        sort_query: true,
        ignore_query: &[],
    };

    #[test]
    fn reads_pages_in_order_and_counts_what_is_not_one() {
        let mut list = List::new("/_preload", RULES);
        let text = b"/a\r\n\n# comment\n/_preload/b\nnot a target\n\xff\xfe\nhttp://x.example/c";
        list.read("urls.txt", &text[..]).unwrap();
        assert_eq!(list.pages, ["/_preload/a", "/_preload/b", "/_preload/c"]);
        assert_eq!(list.invalid, 2);
    }

    #[test]
    fn shown_cuts_long_lines() {
        assert_eq!(shown("/a"), "/a");
        let long = "x".repeat(300);
        assert_eq!(shown(&long).len(), 103);
    }
}
