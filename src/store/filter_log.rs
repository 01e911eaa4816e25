//! The rebuild's rules on disk, `cache.dir/.preloadd-rebuild` (see
//! `filter` for what they are and when the file goes): the soft-mark log's
//! framing (`soft_log`), an 8-byte magic, then records
//! `len: u32 | body | check: 8 bytes`; `body` is
//! `epoch: u64 | flags: u8 | taken_before_ms: u64 | since_ms: u64`, then
//! three lists (tags, targets, prefixes), each `count: u32` and that many
//! `len: u32 | UTF-8`. A torn tail was never acknowledged; damage a crash
//! does not explain may have lost a rule, and the start then drops every
//! snapshot it loads from disk.

use std::fs::File;
use std::io;
use std::path::Path;

use super::filter::Rule;
use super::reader::Reader;
use super::soft_log::{self, Tail};
use super::write;

/// The rules' file in `cache.dir`.
pub(crate) const FILE: &str = ".preloadd-rebuild";
const MAGIC: &[u8; 8] = b"PRLDRBF1";
const FLAG_ALL: u8 = 1;
const FLAG_TAKEN_BEFORE: u8 = 2;
const FLAG_SOFT: u8 = 4;
/// A record larger than this is damage, not a rule.
const MAX_BODY: usize = 64 << 20;

/// The rules' file, open for appending (behind `Shared::filters`).
#[derive(Debug, Default)]
pub(crate) struct RuleLog {
    file: Option<File>,
    len: u64,
}

impl RuleLog {
    /// Reads the rules a crash during an earlier rebuild left, and makes
    /// the file ready for appending. A damaged file adds a rule dropping
    /// everything below `epoch` (every file on disk).
    pub(crate) fn open(dir: &Path, epoch: u64) -> (RuleLog, Vec<Rule>) {
        let path = dir.join(FILE);
        let buf = match std::fs::read(&path) {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (RuleLog::default(), vec![]),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the rebuild's invalidations");
                Vec::new()
            }
        };
        let (mut rules, tail) = decode(&buf);
        if tail == Tail::Corrupt {
            tracing::warn!("the rebuild's invalidations are damaged; every snapshot on disk is dropped, as an invalidation may be lost");
            rules.push(Rule::everything(epoch));
        }
        let mut log = RuleLog::default();
        if let Err(e) = log.rewrite(dir, &rules) {
            tracing::warn!(error = %e, "cannot rewrite the rebuild's invalidations");
        }
        (log, rules)
    }

    /// Appends `rule`, fsynced: it holds across a crash once this returns.
    pub(crate) fn append(&mut self, dir: &Path, rule: &Rule) -> io::Result<()> {
        let mut buf = Vec::new();
        encode(rule, &mut buf);
        let Some(file) = &self.file else {
            return self.rewrite_with(dir, &buf, true);
        };
        match write::append_at(file, self.len, &buf) {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.file = None;
                Err(e)
            }
        }
    }

    /// The rebuild has seen every file: the rules are spent.
    pub(crate) fn remove(&mut self, dir: &Path) -> io::Result<()> {
        self.file = None;
        match std::fs::remove_file(dir.join(FILE)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other.and_then(|()| write::sync_dir(dir)),
        }
    }

    fn rewrite(&mut self, dir: &Path, rules: &[Rule]) -> io::Result<()> {
        if rules.is_empty() {
            return self.remove(dir);
        }
        let mut buf = Vec::new();
        for rule in rules {
            encode(rule, &mut buf);
        }
        self.rewrite_with(dir, &buf, false)
    }

    /// A new file of the magic and `records`, after the good rules of the
    /// old one if `keep` (an append to a file that failed, or was never
    /// made, starts over: what a failed append left must not be followed
    /// by more).
    fn rewrite_with(&mut self, dir: &Path, records: &[u8], keep: bool) -> io::Result<()> {
        let mut kept = Vec::new();
        if let Some(old) = keep.then(|| std::fs::read(dir.join(FILE)).ok()).flatten() {
            for rule in decode(&old).0 {
                encode(&rule, &mut kept);
            }
        }
        let file = write::stage(dir, &[MAGIC, &kept, records])?.publish(&dir.join(FILE))?;
        self.len = (MAGIC.len() + kept.len() + records.len()) as u64;
        self.file = Some(file);
        Ok(())
    }
}

fn encode(rule: &Rule, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&rule.epoch.to_le_bytes());
    let mut flags = 0;
    if rule.all {
        flags |= FLAG_ALL;
    }
    if rule.taken_before_ms.is_some() {
        flags |= FLAG_TAKEN_BEFORE;
    }
    if rule.soft_since_ms.is_some() {
        flags |= FLAG_SOFT;
    }
    out.push(flags);
    out.extend_from_slice(&rule.taken_before_ms.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&rule.soft_since_ms.unwrap_or(0).to_le_bytes());
    for list in [&rule.tags, &rule.targets, &rule.prefixes] {
        out.extend_from_slice(&(list.len() as u32).to_le_bytes());
        for s in list {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let check = soft_log::checksum(&out[start..]);
    out.extend_from_slice(&check);
}

/// The good rules of a file, and how it ended.
fn decode(buf: &[u8]) -> (Vec<Rule>, Tail) {
    soft_log::decode_records(buf, &MAGIC[..], MAX_BODY, parse)
}

fn parse(body: &[u8]) -> Option<Rule> {
    let mut r = Reader::new(body);
    let epoch = r.u64()?;
    let flags = *r.take(1)?.first()?;
    let taken_before = r.u64()?;
    let since = r.u64()?;
    let mut lists = [Vec::new(), Vec::new(), Vec::new()];
    for list in &mut lists {
        for _ in 0..r.u32()? {
            let len = r.u32()? as usize;
            list.push(std::str::from_utf8(r.take(len)?).ok()?.to_string());
        }
    }
    if !r.at_end() {
        return None;
    }
    let [tags, targets, prefixes] = lists;
    Some(Rule {
        epoch,
        all: flags & FLAG_ALL != 0,
        tags,
        targets,
        prefixes,
        taken_before_ms: (flags & FLAG_TAKEN_BEFORE != 0).then_some(taken_before),
        soft_since_ms: (flags & FLAG_SOFT != 0).then_some(since),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::filter::Filter;
    use std::time::SystemTime;

    #[test]
    fn the_file_keeps_its_rules_and_a_torn_tail_is_not_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, rules) = RuleLog::open(dir.path(), 1);
        assert!(rules.is_empty());
        let soft = Rule::new(
            &Filter {
                targets: vec!["/t".into()],
                soft: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(3)),
                ..Filter::default()
            },
            7,
        );
        let hard = Rule::everything(8);
        log.append(dir.path(), &soft).expect("append");
        log.append(dir.path(), &hard).expect("append");
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&[9, 0, 0]);
        std::fs::write(&path, &bytes).expect("write");
        let (_, rules) = RuleLog::open(dir.path(), 1);
        assert_eq!(rules, vec![soft.clone(), hard.clone()]);

        bytes[MAGIC.len() + 6] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        let (mut log, rules) = RuleLog::open(dir.path(), 3);
        assert_eq!(rules.last(), Some(&Rule::everything(3)), "damage drops all");
        log.remove(dir.path()).expect("remove");
        assert!(!path.exists());
    }
}
