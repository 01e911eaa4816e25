//! The tag table: each distinct tag name is interned once as a small id, and
//! each tag knows the index slots that carry it, so dropping a tag costs in
//! proportion to that tag's size, not to the whole store.
//!
//! It owns tag names and memberships only. It never sees keys or files:
//! members are the index's slot numbers, which the index maps back to keys.

use std::collections::{HashMap, HashSet};

/// Interned tag id.
pub(crate) type TagId = u32;

#[derive(Debug, Default)]
pub(crate) struct TagTable {
    ids: HashMap<Box<str>, TagId>,
    tags: Vec<Option<Tag>>,
    /// Ids of tags that lost their last member, for reuse.
    free: Vec<TagId>,
}

#[derive(Debug)]
struct Tag {
    name: Box<str>,
    members: HashSet<u32>,
}

impl TagTable {
    /// Adds `slot` to the tag `name`, creating it if needed; returns its id.
    pub(crate) fn add(&mut self, name: &str, slot: u32) -> TagId {
        let id = match self.ids.get(name) {
            Some(&id) => id,
            None => {
                let tag = Tag {
                    name: name.into(),
                    members: HashSet::new(),
                };
                let id = match self.free.pop() {
                    Some(id) => {
                        self.tags[id as usize] = Some(tag);
                        id
                    }
                    None => {
                        self.tags.push(Some(tag));
                        TagId::try_from(self.tags.len() - 1).expect("fewer than 2^32 distinct tags")
                    }
                };
                self.ids.insert(name.into(), id);
                id
            }
        };
        if let Some(Some(tag)) = self.tags.get_mut(id as usize) {
            tag.members.insert(slot);
        }
        id
    }

    /// Removes `slot` from tag `id`; a tag left without members is freed so
    /// that tags of dropped pages do not accumulate.
    pub(crate) fn remove(&mut self, id: TagId, slot: u32) {
        let Some(entry) = self.tags.get_mut(id as usize) else {
            return;
        };
        let Some(tag) = entry else { return };
        tag.members.remove(&slot);
        if tag.members.is_empty() {
            self.ids.remove(&tag.name);
            *entry = None;
            self.free.push(id);
        }
    }

    /// The slots carrying tag `name`.
    pub(crate) fn members(&self, name: &str) -> impl Iterator<Item = u32> + '_ {
        self.ids
            .get(name)
            .and_then(|&id| self.tags.get(id as usize))
            .and_then(Option::as_ref)
            .into_iter()
            .flat_map(|tag| tag.members.iter().copied())
    }

    /// The name of tag `id` ("" for a freed id, which no entry holds).
    pub(crate) fn name(&self, id: TagId) -> &str {
        match self.tags.get(id as usize) {
            Some(Some(tag)) => &tag.name,
            _ => "",
        }
    }

    /// Number of distinct live tags.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(t: &TagTable, name: &str) -> Vec<u32> {
        let mut v: Vec<u32> = t.members(name).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn same_name_same_id_and_members_tracked() {
        let mut t = TagTable::default();
        let a = t.add("events", 1);
        assert_eq!(t.add("events", 2), a);
        let b = t.add("home", 2);
        assert_ne!(a, b);
        assert_eq!(sorted(&t, "events"), [1, 2]);
        assert_eq!(sorted(&t, "home"), [2]);
        assert_eq!(t.name(b), "home");
        assert!(sorted(&t, "nope").is_empty());
    }

    #[test]
    fn last_member_removed_frees_the_tag() {
        let mut t = TagTable::default();
        let a = t.add("events", 1);
        t.add("events", 2);
        t.remove(a, 1);
        assert_eq!(sorted(&t, "events"), [2]);
        t.remove(a, 2);
        assert!(sorted(&t, "events").is_empty());
        assert_eq!(t.len(), 0);
        // The id is reused by the next new tag.
        assert_eq!(t.add("other", 5), a);
        assert_eq!(t.name(a), "other");
        t.remove(99, 1);
    }
}
