//! Room under `max_size` taken before the write (`Store::room_for`,
//! `try_room_for`, `put_in`): what the miss path reserves before it
//! answers, and what a write with variants does with it.

use bytes::Bytes;

use super::snapshot::tests::sample;
use super::*;

fn store(dir: &std::path::Path, max_size: u64) -> Store {
    Store::open(StoreSettings {
        dir: dir.to_path_buf(),
        max_size,
        memory: 1 << 20,
        open_files: 0,
    })
    .expect("open")
}

fn page(n: u8, body: &'static [u8]) -> Snapshot {
    let mut s = sample(n, body);
    s.variants.clear();
    s
}

fn variant(len: usize) -> Variant {
    Variant {
        encoding: Encoding::Gzip,
        body: Bytes::from(vec![b'g'; len]),
    }
}

#[test]
fn room_taken_before_is_the_written_files_size_and_is_given_back_unused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path(), 1 << 20);
    let room = store
        .try_room_for(&page(1, b"body"))
        .expect("storable")
        .expect("free now");
    let held = store.shared.space.used();
    assert!(held > 4, "header and body: {held}");
    drop(room);
    assert_eq!(store.shared.space.used(), 0, "given back when not used");

    let room = store.room_for(&page(1, b"body")).expect("room");
    store
        .put_in(room, page(1, b"body"), || Some(()))
        .expect("kept");
    assert_eq!(store.shared.space.used(), held, "the file holds it now");
    assert_eq!(store.bytes(), held);
}

#[test]
fn variants_that_do_not_fit_the_room_are_left_out_rather_than_the_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = page(2, b"identity body");
    let size = store(dir.path(), 1 << 20)
        .room_for(&identity)
        .expect("room")
        .size();
    drop(identity);
    // Room for the identity page and not a byte more.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path(), size);
    let room = store
        .try_room_for(&page(2, b"identity body"))
        .expect("fits");
    let room = room.expect("free now");
    let mut with_variants = page(2, b"identity body");
    with_variants.variants.push(variant(10));
    let kept = store
        .put_in(room, with_variants, || Some(()))
        .expect("kept");
    assert!(kept.variants.is_empty(), "kept without its variants");
    assert_eq!(store.bytes(), size);

    // With room to spare, the variants are kept: the room grows.
    let dir = tempfile::tempdir().expect("tempdir");
    let roomy = self::store(dir.path(), 1 << 20);
    let room = roomy.room_for(&page(3, b"identity body")).expect("room");
    let mut with_variants = page(3, b"identity body");
    with_variants.variants.push(variant(10));
    let kept = roomy
        .put_in(room, with_variants, || Some(()))
        .expect("kept");
    assert_eq!(kept.variants.len(), 1);
    assert_eq!(roomy.shared.space.used(), roomy.bytes());
}

#[test]
fn a_page_larger_than_max_size_gets_no_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path(), 8);
    assert!(matches!(
        store.try_room_for(&page(4, b"more than eight bytes")),
        Err(StoreError::TooLarge { .. })
    ));
}
