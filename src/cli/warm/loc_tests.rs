use super::*;

fn entries(text: &str) -> Vec<String> {
    parse(text).expect("a sitemap").1.entries
}

#[test]
fn reads_the_locs_of_a_urlset_in_order() {
    let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://www.example.org/</loc><lastmod>2026-01-01</lastmod></url>
  <url>
    <loc>
      https://www.example.org/events/?page=2
    </loc>
  </url>
</urlset>"#;
    let (kind, locs) = parse(text).unwrap();
    assert_eq!(kind, Kind::Urlset);
    assert_eq!(
        locs.entries,
        [
            "https://www.example.org/",
            "https://www.example.org/events/?page=2"
        ]
    );
    assert!(locs.refused.is_empty());
}

#[test]
fn a_sitemap_index_lists_sitemaps() {
    let text = "<sitemapindex><sitemap><loc>/a.xml</loc></sitemap>\
                <sitemap><loc>/b.xml.gz</loc></sitemap></sitemapindex>";
    let (kind, locs) = parse(text).unwrap();
    assert_eq!(kind, Kind::Index);
    assert_eq!(locs.entries, ["/a.xml", "/b.xml.gz"]);
}

#[test]
fn entities_and_character_references_are_decoded() {
    let text = "<urlset><url><loc>/s?a=1&amp;b=&quot;x&quot;&#38;c=&#x3C;&lt;&gt;&apos;</loc></url></urlset>";
    assert_eq!(entries(text), ["/s?a=1&b=\"x\"&c=<<>'"]);
}

#[test]
fn cdata_is_literal() {
    let text = "<urlset><url><loc><![CDATA[/a?b=1&amp;c=2]]></loc></url></urlset>";
    assert_eq!(entries(text), ["/a?b=1&amp;c=2"]);
}

#[test]
fn extension_locations_and_comments_are_not_pages() {
    let text = r#"<urlset xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <!-- <url><loc>/commented</loc></url> -->
  <url><loc>/page</loc><image:image><image:loc>/img.png</image:loc></image:image></url>
  <loc>/stray</loc>
</urlset>"#;
    assert_eq!(entries(text), ["/page"]);
}

#[test]
fn a_prefixed_sitemap_namespace_is_followed() {
    let text = "<sm:urlset xmlns:sm=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
                <sm:url><sm:loc>/p</sm:loc></sm:url><url><loc>/other-ns</loc></url></sm:urlset>";
    assert_eq!(entries(text), ["/p"]);
}

#[test]
fn attributes_may_hold_angle_brackets_and_tags_may_be_empty() {
    let text = "<urlset a='x>y' b=\"<\"><url/><url><loc>/q</loc><priority/></url></urlset>";
    assert_eq!(entries(text), ["/q"]);
}

#[test]
fn declared_entities_are_never_expanded() {
    let text = r#"<?xml version="1.0"?>
<!DOCTYPE urlset [ <!ENTITY a "aaaaaaaaaa"> <!ENTITY b "&a;&a;&a;&a;"> ]>
<urlset><url><loc>/x/&b;</loc></url><url><loc>/ok</loc></url></urlset>"#;
    let (_, locs) = parse(text).unwrap();
    assert_eq!(locs.entries, ["/ok"]);
    assert_eq!(locs.refused.len(), 1);
    assert!(locs.refused[0].contains("&b;"), "{:?}", locs.refused);
}

#[test]
fn bad_references_and_empty_locs_are_refused_not_fatal() {
    let text = "<urlset><url><loc>/a&b</loc></url><url><loc> </loc></url><url><loc>/c</loc></url></urlset>";
    let (_, locs) = parse(text).unwrap();
    assert_eq!(locs.entries, ["/c"]);
    assert_eq!(locs.refused.len(), 2, "{:?}", locs.refused);
}

#[test]
fn documents_that_are_not_sitemaps_are_errors() {
    for text in [
        "",
        "just text",
        "<html><body>404</body></html>",
        "<urlset><url><loc>/a</loc></url>",
        "<urlset><url></urlset>",
        "<urlset><url><loc>/a</loc></url></urlset><urlset/>",
        "<urlset><url><loc>/a</loc",
        "<urlset><!-- never closed",
        "<urlset><![CDATA[ never closed",
    ] {
        assert!(parse(text).is_err(), "{text:?} parsed");
    }
}

#[test]
fn decode_leaves_plain_text_alone() {
    assert_eq!(decode("/a/b?c=d").unwrap(), "/a/b?c=d");
    assert_eq!(decode("&#233;").unwrap(), "é");
    assert!(decode("&#xD800;").is_err(), "a surrogate is no character");
    assert!(decode("&amp").is_err());
}
