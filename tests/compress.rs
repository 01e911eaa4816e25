//! Precompressed variants (`[cache] compress`): made once when the snapshot
//! is taken, after its MISS was answered (identity, saying it varies on
//! Accept-Encoding), chosen per request by Accept-Encoding once written.

use crate::support::{get, gunzip, request, sized_body, unbrotli, Reply, Sandbox, Upstream};

/// Every `Vary` field line.
fn vary(reply: &Reply) -> Vec<&str> {
    reply
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("vary"))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn length(reply: &Reply) -> usize {
    reply
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .expect("content-length")
}

#[tokio::test(flavor = "multi_thread")]
async fn accept_encoding_picks_br_gzip_or_identity() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let target = "/_preload/p?size=5000";
    let identity = sized_body(5000);

    let miss = get(d.main, target, &["Accept-Encoding: gzip, deflate, br"]).await;
    assert_eq!(miss.cache(), "MISS");
    assert_eq!(
        miss.header("content-encoding"),
        None,
        "the MISS is answered before the variants are made"
    );
    assert_eq!(miss.body, identity);
    assert_eq!(vary(&miss), ["Accept-Encoding"]);
    d.wait_kept(1).await;

    let br = get(d.main, target, &["Accept-Encoding: gzip, deflate, br"]).await;
    assert_eq!(br.cache(), "HIT");
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(length(&br), br.body.len());
    assert!(br.body.len() < 5000);
    assert_eq!(unbrotli(&br.body), identity);

    let gz = get(d.main, target, &["Accept-Encoding: gzip"]).await;
    assert_eq!(gz.cache(), "HIT");
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(length(&gz), gz.body.len());
    assert_eq!(gunzip(&gz.body), identity);

    let plain = get(d.main, target, &[]).await;
    assert_eq!(plain.cache(), "HIT");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, identity);
    let refused = get(d.main, target, &["Accept-Encoding: br;q=0, gzip;q=0"]).await;
    assert_eq!(refused.body, identity);

    for reply in [&br, &gz, &plain] {
        assert_eq!(vary(reply), ["Accept-Encoding"]);
    }
    let tag = plain.header("etag").expect("etag");
    let br_tag = br.header("etag").expect("etag");
    let gz_tag = gz.header("etag").expect("etag");
    assert_eq!(br_tag, format!("{}-br\"", &tag[..tag.len() - 1]));
    assert_eq!(gz_tag, format!("{}-gz\"", &tag[..tag.len() - 1]));
    assert_eq!(
        up.count(),
        1,
        "compressed once, when the snapshot was taken"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_requests_and_head_follow_the_chosen_representation() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let target = "/_preload/c?size=3000";
    get(d.main, target, &[]).await;
    d.wait_kept(1).await;
    let br = get(d.main, target, &["Accept-Encoding: br"]).await;
    let br_tag = br.header("etag").expect("etag").to_string();
    let plain = get(d.main, target, &[]).await;
    let tag = plain.header("etag").expect("etag").to_string();

    let inm = format!("If-None-Match: {br_tag}");
    let same = get(d.main, target, &["Accept-Encoding: br", &inm]).await;
    assert_eq!(same.status, 304);
    assert_eq!(same.header("etag"), Some(br_tag.as_str()));
    assert_eq!(vary(&same), ["Accept-Encoding"]);
    let other = get(d.main, target, &["Accept-Encoding: gzip", &inm]).await;
    assert_eq!(other.status, 200, "the gzip tag is not the br tag");
    let inm = format!("If-None-Match: {tag}");
    let identity_tag = get(d.main, target, &["Accept-Encoding: br", &inm]).await;
    assert_eq!(identity_tag.status, 200);
    assert_eq!(get(d.main, target, &[&inm]).await.status, 304);

    let head = request(d.main, "HEAD", target, &["Accept-Encoding: br"], b"").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-encoding"), Some("br"));
    assert_eq!(length(&head), br.body.len());
    assert_eq!(head.header("etag"), Some(br_tag.as_str()));
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_range_that_would_be_encoded_gets_the_full_encoded_200() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let target = "/_preload/r?size=4000";
    get(d.main, target, &[]).await;
    d.wait_kept(1).await;
    let gz = get(
        d.main,
        target,
        &["Range: bytes=0-9", "Accept-Encoding: gzip"],
    )
    .await;
    assert_eq!((gz.status, gz.cache()), (200, "HIT"));
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("content-range"), None);
    assert_eq!(gunzip(&gz.body), sized_body(4000));
    let part = get(d.main, target, &["Range: bytes=0-9"]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, sized_body(10));
    assert_eq!(vary(&part), ["Accept-Encoding"]);
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encoded_upstream_body_is_kept_as_it_came() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let target = "/_preload/g?size=5000&ce=gzip";
    let miss = get(d.main, target, &["Accept-Encoding: br"]).await;
    assert_eq!(miss.cache(), "MISS");
    for headers in [&["Accept-Encoding: br"][..], &[]] {
        let hit = get(d.main, target, headers).await;
        assert_eq!(hit.cache(), "HIT");
        assert_eq!(hit.header("content-encoding"), Some("gzip"));
        assert_eq!(hit.body, miss.body, "never recompressed");
        assert!(vary(&hit).is_empty());
    }
    assert_eq!(gunzip(&miss.body), sized_body(5000));
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn compress_false_keeps_no_variants() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon_cache(&up, "compress = false", "");
    let target = "/_preload/n?size=5000";
    for _ in 0..2 {
        let reply = get(d.main, target, &["Accept-Encoding: br, gzip"]).await;
        assert_eq!(reply.header("content-encoding"), None);
        assert!(vary(&reply).is_empty());
        assert_eq!(reply.body, sized_body(5000));
    }
    assert_eq!(up.count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn small_and_binary_bodies_are_not_compressed() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    for (target, size) in [
        ("/_preload/s?size=255", 255),
        ("/_preload/b?size=5000&ct=image%2Fpng", 5000),
    ] {
        for _ in 0..2 {
            let reply = get(d.main, target, &["Accept-Encoding: br, gzip"]).await;
            assert_eq!(reply.header("content-encoding"), None, "{target}");
            assert!(vary(&reply).is_empty(), "{target}");
            assert_eq!(reply.body, sized_body(size));
        }
    }
    let just_enough = "/_preload/s?size=256";
    let miss = get(d.main, just_enough, &["Accept-Encoding: gzip"]).await;
    assert_eq!(vary(&miss), ["Accept-Encoding"], "it will vary");
    d.wait_kept(3).await;
    let just_enough = get(d.main, just_enough, &["Accept-Encoding: gzip"]).await;
    assert_eq!(just_enough.header("content-encoding"), Some("gzip"));
    assert_eq!(up.count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apps_vary_is_extended_not_repeated() {
    let up = Upstream::start().await;
    let sb = Sandbox::new();
    let d = sb.daemon(&up, "");
    let own = get(d.main, "/_preload/v?size=900&vary=Origin", &[]).await;
    assert_eq!(vary(&own), ["Origin", "Accept-Encoding"]);
    let listed = "/_preload/w?size=900&vary=Origin,%20accept-encoding";
    let miss = get(d.main, listed, &["Accept-Encoding: gzip"]).await;
    assert_eq!(vary(&miss), ["Origin, accept-encoding"]);
    d.wait_kept(2).await;
    let listed = get(d.main, listed, &["Accept-Encoding: gzip"]).await;
    assert_eq!(vary(&listed), ["Origin, accept-encoding"]);
    assert_eq!(listed.header("content-encoding"), Some("gzip"));
}
