//! `preloadd warm --sitemap URL`: the pages of a sitemap, or of every
//! sitemap a sitemap index lists, fetched from the app.
//!
//! A sitemap is fetched the way the daemon fetches a page: from `[upstream]
//! url` at the path and query of the URL given (its host is ignored, as it
//! is for the pages it lists), with `[upstream] host` as `Host`, within
//! `fetch_timeout`, redirects not followed. It may be gzipped, either with
//! `Content-Encoding: gzip` or as a `.xml.gz` file (told by its magic
//! bytes, whatever its name or type says).
//!
//! Every body is bounded by the protocol's own limit, 50 MiB uncompressed
//! ([`MAX_SITEMAP_BYTES`]), compressed or not, and an index by its 50,000
//! sitemaps: a hostile or broken sitemap costs at most that much memory.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use http::header::{HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, HOST, USER_AGENT};
use http::{Request, StatusCode, Uri};
use http_body_util::BodyExt;

use crate::body::Body;
use crate::error::Error;
use crate::fetch::{self, HttpClient};

use super::lines::absolute_path;
use super::list::{shown, List};
use super::loc::{self, Kind};

/// The sitemap protocol's limit on one sitemap, uncompressed (50 MiB).
pub const MAX_SITEMAP_BYTES: usize = 50 << 20;
/// The sitemap protocol's limit on the sitemaps of one index.
pub const MAX_CHILDREN: usize = 50_000;

const USER_AGENT_VALUE: &str = concat!("preloadd/", env!("CARGO_PKG_VERSION"));

/// Where sitemaps are fetched from.
pub struct Source<'a> {
    pub client: HttpClient,
    pub upstream: &'a Uri,
    pub host: &'a str,
    pub timeout: Duration,
}

/// The path and query of a sitemap URL given as an argument or a `<loc>`:
/// an absolute http(s) URL or an origin-form path.
pub fn sitemap_path(url: &str) -> Result<String, String> {
    let url = url.trim();
    match absolute_path(url) {
        Some(path) => path,
        None if url.starts_with('/') && !url.starts_with("//") => Ok(url.to_string()),
        None => Err(format!(
            "not an http(s) URL or a path starting with \"/\": {}",
            shown(url)
        )),
    }
}

/// Adds the pages of the sitemap at `url` to `list`. A sitemap index is
/// followed one level down; a child that cannot be read is reported and
/// counted in `list.failed_sitemaps`, and the others are still read. The
/// top sitemap failing is the error.
pub async fn read(source: &Source<'_>, url: &str, list: &mut List<'_>) -> Result<(), Error> {
    let path = sitemap_path(url).map_err(|why| Error::Usage(format!("warm: --sitemap: {why}")))?;
    let (kind, locs) = load(source, &path)
        .await
        .map_err(|why| Error::Runtime(format!("warm: sitemap {path}: {why}")))?;
    report_refused(&path, &locs.refused, list);
    match kind {
        Kind::Urlset => add_pages(&path, locs.entries, list),
        Kind::Index => {
            if locs.entries.len() > MAX_CHILDREN {
                return Err(Error::Runtime(format!(
                    "warm: sitemap {path}: an index of more than {MAX_CHILDREN} sitemaps"
                )));
            }
            for child in locs.entries {
                let loaded = match sitemap_path(&child) {
                    Ok(child) => load(source, &child).await.map(|l| (child, l)),
                    Err(why) => Err(why),
                };
                match loaded {
                    Ok((child, (Kind::Urlset, locs))) => {
                        report_refused(&child, &locs.refused, list);
                        add_pages(&child, locs.entries, list)?;
                    }
                    Ok((child, (Kind::Index, _))) => {
                        list.failed_sitemaps += 1;
                        eprintln!(
                            "warm: sitemap {child}: an index inside an index is not followed"
                        );
                    }
                    Err(why) => {
                        list.failed_sitemaps += 1;
                        eprintln!("warm: sitemap {}: {why}", shown(&child));
                    }
                }
            }
            Ok(())
        }
    }
}

fn add_pages(path: &str, entries: Vec<String>, list: &mut List<'_>) -> Result<(), Error> {
    for entry in entries {
        list.add(&format!("sitemap {path}"), &entry)?;
    }
    Ok(())
}

fn report_refused(path: &str, refused: &[String], list: &mut List<'_>) {
    for why in refused {
        list.invalid += 1;
        eprintln!("warm: sitemap {path}: {why}");
    }
}

/// Fetches and parses one sitemap.
async fn load(source: &Source<'_>, path: &str) -> Result<(Kind, loc::Locs), String> {
    let body = tokio::time::timeout(source.timeout, fetch_body(source, path))
        .await
        .map_err(|_| format!("no answer within fetch_timeout ({:?})", source.timeout))??;
    let text = String::from_utf8(body).map_err(|_| "not UTF-8".to_string())?;
    loc::parse(text.strip_prefix('\u{feff}').unwrap_or(&text))
        .map_err(|why| format!("not a sitemap: {why}"))
}

async fn fetch_body(source: &Source<'_>, path: &str) -> Result<Vec<u8>, String> {
    let uri = fetch::upstream_uri(source.upstream, path).map_err(|e| e.to_string())?;
    let mut request = Request::get(uri)
        .header(USER_AGENT, USER_AGENT_VALUE)
        .header(ACCEPT_ENCODING, "gzip");
    if let Ok(host) = HeaderValue::from_str(source.host) {
        request = request.header(HOST, host);
    }
    let request = request.body(Body::Empty).map_err(|e| e.to_string())?;
    let response = source
        .client
        .request(request)
        .await
        .map_err(|e| format!("the app did not answer: {}", fetch::source_chain(&e)))?;
    if response.status() != StatusCode::OK {
        let redirect = if response.status().is_redirection() {
            " (redirects are not followed)"
        } else {
            ""
        };
        return Err(format!("HTTP {}{redirect}", response.status().as_u16()));
    }
    let gzipped = match response
        .headers()
        .get(CONTENT_ENCODING)
        .map(HeaderValue::as_bytes)
    {
        None | Some(b"identity") => false,
        Some(b"gzip" | b"x-gzip") => true,
        Some(other) => {
            return Err(format!(
                "Content-Encoding {:?} is not supported",
                String::from_utf8_lossy(other)
            ))
        }
    };
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the answer broke off: {e}"))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > MAX_SITEMAP_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&data);
        }
    }
    decode(Bytes::from(bytes), gzipped)
}

/// The body as XML: gunzipped when the header says so, and once more when
/// what is left is itself a gzip file (a `.xml.gz` sent gzipped).
pub fn decode(body: Bytes, gzipped: bool) -> Result<Vec<u8>, String> {
    let mut body = body.to_vec();
    if gzipped {
        body = gunzip(&body)?;
    }
    if body.starts_with(&[0x1f, 0x8b]) {
        body = gunzip(&body)?;
    }
    Ok(body)
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .take(MAX_SITEMAP_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("bad gzip data: {e}"))?;
    if out.len() > MAX_SITEMAP_BYTES {
        return Err(too_large());
    }
    Ok(out)
}

fn too_large() -> String {
    format!(
        "larger than {} MiB (the sitemap protocol's limit)",
        MAX_SITEMAP_BYTES >> 20
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn plain_and_gzip_bodies_decode_to_the_xml() {
        let xml = b"<urlset/>".to_vec();
        assert_eq!(decode(Bytes::from(xml.clone()), false).unwrap(), xml);
        assert_eq!(
            decode(Bytes::from(gzip(&xml)), false).unwrap(),
            xml,
            "magic bytes"
        );
        assert_eq!(
            decode(Bytes::from(gzip(&xml)), true).unwrap(),
            xml,
            "header"
        );
        let twice = gzip(&gzip(&xml));
        assert_eq!(decode(Bytes::from(twice), true).unwrap(), xml, "both");
        assert!(decode(Bytes::from_static(b"<urlset/>"), true).is_err());
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let zeros = vec![b' '; MAX_SITEMAP_BYTES + 1];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < 1 << 20, "{} compressed bytes", bomb.len());
        let err = decode(Bytes::from(bomb), false).unwrap_err();
        assert!(err.contains("50 MiB"), "{err}");
        let fits = gzip(&zeros[1..]);
        assert_eq!(
            decode(Bytes::from(fits), false).unwrap().len(),
            MAX_SITEMAP_BYTES
        );
    }

    #[test]
    fn sitemap_urls_are_absolute_or_paths() {
        assert_eq!(
            sitemap_path("https://www.example.org/sitemap.xml").unwrap(),
            "/sitemap.xml"
        );
        assert_eq!(sitemap_path(" /s.xml.gz?x=1 ").unwrap(), "/s.xml.gz?x=1");
        assert!(sitemap_path("sitemap.xml").is_err());
        assert!(sitemap_path("//host/sitemap.xml").is_err());
        assert!(sitemap_path("ftp://host/sitemap.xml").is_err());
    }
}
