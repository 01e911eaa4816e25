//! Properties of canonicalization over nasty input: idempotent, never
//! escaping origin-form (also when fully decoded), one-pass decoding equal
//! to repeated decoding.

use proptest::prelude::*;

use super::*;

fn glob(pattern: &str) -> Glob {
    pattern.parse().expect("test patterns are valid globs")
}

/// The obvious fixpoint loop, to check the one-pass `decode_fully` against.
fn decode_repeatedly(s: &str) -> Vec<u8> {
    let mut cur = s.as_bytes().to_vec();
    loop {
        let mut next = Vec::with_capacity(cur.len());
        let mut i = 0;
        while i < cur.len() {
            if let Some(v) = escape_at(&cur[i..]) {
                next.push(v);
                i += 3;
            } else {
                next.push(cur[i]);
                i += 1;
            }
        }
        if next == cur {
            return cur;
        }
        cur = next;
    }
}

const PIECES: &[&str] = &[
    "/", "/", "/", ".", "..", "%2e", "%2E", "%2F", "%2f", "%25", "%", "?", "&", "=", "a", "b", "Z",
    "~", "-", "_", "+", "\\", "%5C", "%5c", "%00", "%7f", "%41", "%7E", "2", "5", "F", "e", "é",
    "#", " ", ":", "//", "%3A", "%26", "%3d",
];

/// Fewer outright faults, so that more inputs get through to the query rules.
const MILD: &[&str] = &[
    "/", "a", "b", "?", "&", "&", "=", "=", ".", "%2e", "%2F", "%25", "%41", "%7e", "%26", "+",
    "\\", "2", "F",
];

fn nasty() -> impl Strategy<Value = String> {
    let tokens = proptest::collection::vec(proptest::sample::select(PIECES), 0..24);
    let mild = proptest::collection::vec(proptest::sample::select(MILD), 0..24);
    prop_oneof![
        tokens.clone().prop_map(|t| t.concat()),
        tokens.prop_map(|t| format!("/{}", t.concat())),
        mild.prop_map(|t| format!("/{}", t.concat())),
        "/[a-z0-9/%.?&=+_~-]{0,40}",
        any::<String>(),
    ]
}

fn assert_clean(out: &str) {
    let bytes = out.as_bytes();
    assert!(out.starts_with('/') && !out.starts_with("//"), "{out:?}");
    assert!(bytes.iter().all(|b| (0x21..0x7F).contains(b)), "{out:?}");
    assert!(!out.contains('\\') && !out.contains('#'), "{out:?}");
    for (i, _) in out.match_indices('%') {
        let v = escape_at(&bytes[i..]).unwrap_or_else(|| panic!("bad escape in {out:?}"));
        assert!(!is_control(v), "{out:?}");
    }
    let path = out.split('?').next().unwrap_or_default();
    for p in [path.as_bytes().to_vec(), decode_repeatedly(path)] {
        assert!(!p.contains(&b'\\'), "{out:?}");
        let dot = p.split(|&b| b == b'/').any(|s| s == b"." || s == b"..");
        assert!(!dot, "{out:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn canonicalization_is_idempotent(raw in nasty(), sort in any::<bool>(), ignore in any::<bool>()) {
        let globs = [glob("a*"), glob("/")];
        let rules = QueryRules { sort_query: sort, ignore_query: if ignore { &globs } else { &[] } };
        if let Ok(once) = canonical_target(&raw, rules) {
            prop_assert_eq!(canonical_target(&once, rules), Ok(once.clone()));
        }
    }

    #[test]
    fn canonical_targets_are_clean(raw in nasty(), sort in any::<bool>()) {
        let rules = QueryRules { sort_query: sort, ignore_query: &[] };
        if let Ok(out) = canonical_target(&raw, rules) {
            assert_clean(&out);
        }
    }

    #[test]
    fn one_pass_decoding_reaches_the_fixpoint(raw in nasty()) {
        prop_assert_eq!(decode_fully(&raw), decode_repeatedly(&raw));
    }
}
