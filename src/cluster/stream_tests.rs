use super::*;

fn id(ms: u64) -> Id {
    Id { ms, seq: 0 }
}

fn info(length: u64, first: Option<u64>, last: u64, added: u64) -> Info {
    Info {
        length,
        first: first.map(id),
        last_generated: id(last),
        entries_added: Some(added),
    }
}

#[test]
fn a_node_that_never_followed_joins_at_the_end() {
    assert_eq!(start(None, None), Start::After(Id::ZERO));
    assert_eq!(
        start(Some(&info(3, Some(1), 3, 3)), None),
        Start::After(id(3))
    );
}

#[test]
fn a_node_caught_up_or_within_the_stream_reads_on() {
    // Trimmed to nothing, but nothing was added since.
    assert_eq!(
        start(Some(&info(0, None, 9, 9)), Some(id(9))),
        Start::After(id(9))
    );
    // Its entry is still held.
    assert_eq!(
        start(Some(&info(5, Some(5), 9, 9)), Some(id(6))),
        Start::After(id(6))
    );
    assert_eq!(
        start(Some(&info(5, Some(5), 9, 9)), Some(id(5))),
        Start::After(id(5))
    );
}

#[test]
fn a_trim_past_the_applied_id_drops_everything() {
    // max-deleted-entry-id is not read: Redis 7.0 leaves it at 0-0 on XTRIM.
    let Start::DropAll { after, why } = start(Some(&info(3, Some(7), 9, 9)), Some(id(4))) else {
        panic!("a trim past the applied id must drop everything");
    };
    assert_eq!(after, id(9));
    assert!(
        why.contains("trimmed past") && why.contains("6 entries trimmed"),
        "{why}"
    );
    assert!(matches!(
        start(Some(&info(0, None, 9, 9)), Some(id(4))),
        Start::DropAll { .. }
    ));
}

#[test]
fn a_node_that_joined_an_empty_stream_reads_it_from_the_start() {
    assert_eq!(start(None, Some(Id::ZERO)), Start::After(Id::ZERO));
    assert_eq!(
        start(Some(&info(2, Some(3), 4, 2)), Some(Id::ZERO)),
        Start::After(Id::ZERO)
    );
    // Redis before 7 says nothing of entries added: the first entry decides.
    let old = Info {
        entries_added: None,
        ..info(2, Some(3), 4, 2)
    };
    assert!(matches!(
        start(Some(&old), Some(Id::ZERO)),
        Start::DropAll { .. }
    ));
}

#[test]
fn a_lost_or_reset_stream_drops_everything() {
    assert!(matches!(start(None, Some(id(4))), Start::DropAll { .. }));
    let Start::DropAll { after, .. } = start(Some(&info(1, Some(2), 2, 1)), Some(id(4))) else {
        panic!("a stream whose ids went back must drop everything");
    };
    assert_eq!(after, id(2));
}

#[test]
fn xread_and_xinfo_replies_read_in_both_protocols() {
    let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
    let entry = Value::Array(vec![
        bulk("5-1"),
        Value::Array(vec![bulk("node"), bulk("a"), bulk("soft"), bulk("0")]),
    ]);
    let entries = Value::Array(vec![entry.clone()]);
    let resp2 = Value::Array(vec![Value::Array(vec![bulk("s"), entries.clone()])]);
    let resp3 = Value::Map(vec![(bulk("s"), entries.clone())]);
    assert_eq!(per_stream(&resp2), std::slice::from_ref(&entries));
    assert_eq!(per_stream(&resp3), [entries]);
    assert_eq!(per_stream(&Value::Nil), []);
    let info2 = Value::Array(vec![bulk("length"), Value::Int(2)]);
    let info3 = Value::Map(vec![(bulk("length"), Value::Int(2))]);
    assert_eq!(pairs(&info2), pairs(&info3));
    assert_eq!(entry_id(&entry), Some(Id { ms: 5, seq: 1 }));
    assert_eq!(entry_id(&Value::Nil), None);
    assert_eq!(int(&bulk("12")), Some(12));
    assert_eq!(int(&Value::Int(3)), Some(3));
}
