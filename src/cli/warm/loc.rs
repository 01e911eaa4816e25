//! The `<loc>` entries of a sitemap or a sitemap index (the sitemaps.org
//! protocol), read with a small scanner rather than an XML crate: a
//! sitemap needs elements, text, CDATA, comments and the five predefined
//! entities plus character references, and nothing more.
//!
//! Only a `loc` that is a child of the root's `url` (in a `urlset`) or
//! `sitemap` (in a `sitemapindex`), in the root's namespace prefix, is an
//! entry: `<image:loc>` and the other extensions' locations are not pages.
//! Entities a DOCTYPE declares are never expanded (no entity expansion
//! attack can grow a document here); a `loc` using one is refused.

/// What the document's root says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<urlset>`: its entries are pages.
    Urlset,
    /// `<sitemapindex>`: its entries are sitemaps.
    Index,
}

/// A parsed sitemap: its kind, its entries in document order, and the
/// entries refused (with why), which the caller reports.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Locs {
    pub entries: Vec<String>,
    pub refused: Vec<String>,
}

/// Reads the `<loc>` entries of `text`. An error is a document that is
/// not a sitemap (another root, a tag left open, broken markup).
pub fn parse(text: &str) -> Result<(Kind, Locs), String> {
    let mut scan = Scanner { text, pos: 0 };
    // The names of the open elements, outermost first.
    let mut open: Vec<&str> = Vec::new();
    let mut kind = None;
    let mut prefix = "";
    let mut locs = Locs::default();
    // The text of the `loc` being read, when inside an entry.
    let mut entry: Option<String> = None;
    while let Some(token) = scan.next()? {
        match token {
            Token::Start { name, empty } => {
                if open.is_empty() {
                    if kind.is_some() {
                        return Err("more than one root element".into());
                    }
                    let (p, local) = split_name(name);
                    kind = Some(match local {
                        "urlset" => Kind::Urlset,
                        "sitemapindex" => Kind::Index,
                        _ => {
                            return Err(format!(
                                "the root element is <{name}>, not <urlset> or <sitemapindex>"
                            ))
                        }
                    });
                    prefix = p;
                }
                if empty {
                    continue;
                }
                open.push(name);
                if is_entry(&open, prefix, kind) {
                    entry = Some(String::new());
                }
            }
            Token::End(name) => {
                if open.last() != Some(&name) {
                    return Err(format!("</{name}> does not close the open element"));
                }
                if let Some(text) = entry.take_if(|_| is_entry(&open, prefix, kind)) {
                    match decode(&text) {
                        Ok(loc) if !loc.trim().is_empty() => {
                            locs.entries.push(loc.trim().to_string())
                        }
                        Ok(_) => locs.refused.push("an empty <loc>".into()),
                        Err(why) => locs.refused.push(why),
                    }
                }
                open.pop();
            }
            // Raw text keeps its references until the `loc` ends; CDATA is
            // literal, so its `&` are escaped to survive that decoding.
            Token::Text(t) => entry.iter_mut().for_each(|e| e.push_str(t)),
            Token::Cdata(t) => entry
                .iter_mut()
                .for_each(|e| e.push_str(&t.replace('&', "&amp;"))),
        }
    }
    match (kind, open.last()) {
        (None, _) => Err("no root element".into()),
        (Some(_), Some(name)) => Err(format!("<{name}> is never closed")),
        (Some(kind), None) => Ok((kind, locs)),
    }
}

/// `[root, url|sitemap, loc]`, all in the root's prefix.
fn is_entry(open: &[&str], prefix: &str, kind: Option<Kind>) -> bool {
    let parent = match kind {
        Some(Kind::Urlset) => "url",
        Some(Kind::Index) => "sitemap",
        None => return false,
    };
    let in_root = |name: &str, local: &str| split_name(name) == (prefix, local);
    open.len() == 3 && in_root(open[1], parent) && in_root(open[2], "loc")
}

/// `prefix:local` as (prefix, local); no prefix is "".
fn split_name(name: &str) -> (&str, &str) {
    name.split_once(':').unwrap_or(("", name))
}

/// Decodes the predefined entities and character references of `text`.
pub fn decode(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';').filter(|&s| s <= 10) else {
            return Err(format!("an unterminated reference in {:?}", short(text)));
        };
        let name = &after[..semi];
        let c = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => char_ref(name),
        };
        match c {
            Some(c) => out.push(c),
            None => {
                return Err(format!(
                    "an unknown reference &{name}; in {:?}",
                    short(text)
                ))
            }
        }
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `#NN` or `#xHH`.
fn char_ref(name: &str) -> Option<char> {
    let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => name.strip_prefix('#')?.parse().ok()?,
    };
    char::from_u32(code)
}

/// The start of a long text, for a message.
fn short(text: &str) -> String {
    text.chars().take(80).collect()
}

enum Token<'a> {
    Start { name: &'a str, empty: bool },
    End(&'a str),
    Text(&'a str),
    Cdata(&'a str),
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// The next token, skipping declarations, processing instructions and
    /// comments; `None` at the end.
    fn next(&mut self) -> Result<Option<Token<'a>>, String> {
        loop {
            let rest = &self.text[self.pos..];
            if rest.is_empty() {
                return Ok(None);
            }
            if !rest.starts_with('<') {
                let end = rest.find('<').unwrap_or(rest.len());
                self.pos += end;
                return Ok(Some(Token::Text(&rest[..end])));
            }
            if rest.starts_with("<!--") {
                self.skip_past("-->")?;
            } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
                let end = body.find("]]>").ok_or("an unterminated CDATA section")?;
                self.pos += "<![CDATA[".len() + end + "]]>".len();
                return Ok(Some(Token::Cdata(&body[..end])));
            } else if rest.starts_with("<?") {
                self.skip_past("?>")?;
            } else if rest.starts_with("<!") {
                self.skip_declaration()?;
            } else {
                return self.tag().map(Some);
            }
        }
    }

    fn skip_past(&mut self, end: &str) -> Result<(), String> {
        let at = self.text[self.pos..]
            .find(end)
            .ok_or_else(|| format!("markup never closed with {end:?}"))?;
        self.pos += at + end.len();
        Ok(())
    }

    /// `<!DOCTYPE ...>`, with an internal subset in brackets if any.
    fn skip_declaration(&mut self) -> Result<(), String> {
        let rest = &self.text[self.pos..];
        let close = rest.find('>').ok_or("a declaration never closed")?;
        match rest.find('[').filter(|&open| open < close) {
            Some(open) => {
                let end = rest[open..]
                    .find("]")
                    .ok_or("a DOCTYPE subset never closed")?;
                self.pos += open + end;
                self.skip_past(">")
            }
            None => {
                self.pos += close + 1;
                Ok(())
            }
        }
    }

    /// A start, end or empty-element tag; attribute values may hold `>`.
    fn tag(&mut self) -> Result<Token<'a>, String> {
        let rest = &self.text[self.pos..];
        let mut quote = None;
        let mut close = None;
        for (i, c) in rest.char_indices().skip(1) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => {
                    close = Some(i);
                    break;
                }
                (None, '<') => return Err("a \"<\" inside a tag".into()),
                _ => {}
            }
        }
        let close = close.ok_or("a tag never closed")?;
        self.pos += close + 1;
        let inner = &rest[1..close];
        if let Some(name) = inner.strip_prefix('/') {
            return Ok(Token::End(name.trim_end()));
        }
        let empty = inner.ends_with('/');
        let inner = inner.strip_suffix('/').unwrap_or(inner);
        let name = inner
            .split(|c: char| c.is_ascii_whitespace())
            .next()
            .filter(|n| !n.is_empty())
            .ok_or("a tag without a name")?;
        Ok(Token::Start { name, empty })
    }
}

#[cfg(test)]
#[path = "loc_tests.rs"]
mod tests;
