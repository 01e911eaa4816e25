//! The config file's watcher: a change of the file is a reload, once the
//! writes have been quiet for [`QUIET`].
//!
//! The directory is watched, not the file: editors that save by writing a
//! temp file and renaming it over the old one (vim, most IDEs, `sed -i`)
//! replace the inode a watch on the file would hold, and the new file is
//! seen only in its directory. Events are kept for the file's name alone.
//! A config that is a symlink is also watched where it points, and that
//! is looked up again after each reload, so a link swapped to another
//! target (a Kubernetes ConfigMap) is followed.
//!
//! The quiet period makes one reload of a save that is several events
//! (truncate, write, close; or rename away, create, write), and keeps a
//! half-written file from being read as the new config most of the time;
//! one read mid-write is refused as invalid and the final write reloads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::{reload_logged, Trigger};
use crate::shutdown::Shutdown;
use crate::state::App;

/// How long the file must be left alone before it is read.
pub const QUIET: Duration = Duration::from_millis(300);

/// Starts watching the running config's file, reloading on each change
/// until shutdown. The watch is in place when this returns, so a change
/// made right after the start line is seen. Without a watch (the system's
/// limit on watches reached) SIGHUP still reloads, and the log says so.
pub fn start(app: &Arc<App>, shutdown: Shutdown) {
    let source = app.config().source.clone();
    let (tx, rx) = mpsc::unbounded_channel();
    let watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if is_a_write(&event.kind) => {
                let _ = tx.send(event.paths);
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "config file watch"),
        });
    let mut watched = Watched {
        source,
        files: Vec::new(),
        dirs: Vec::new(),
    };
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(err) => return not_watched(&watched.source, &err),
    };
    if let Err(err) = watched.rearm(&mut watcher) {
        return not_watched(&watched.source, &err);
    }
    tokio::spawn(follow(Arc::clone(app), watcher, watched, rx, shutdown));
}

fn not_watched(source: &Path, err: &notify::Error) {
    tracing::warn!(
        config = %source.display(),
        error = %err,
        "the config file is not watched; send SIGHUP to reload it"
    );
}

/// True for an event that may have changed a file's content or replaced
/// it. Opening and reading are not (the reload's own read is one).
fn is_a_write(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Other => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
    }
}

/// The files whose change is a reload, and the directories watched for them.
struct Watched {
    source: PathBuf,
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Watched {
    /// The config as named (absolute) and, if it is a symlink, the file
    /// it resolves to now.
    fn files_of(source: &Path) -> Vec<PathBuf> {
        let named = std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf());
        let mut files = vec![named.clone()];
        if let Ok(real) = std::fs::canonicalize(&named) {
            if real != named {
                files.push(real);
            }
        }
        files
    }

    /// Watches the directory of each file the config resolves to now, and
    /// no other.
    fn rearm(&mut self, watcher: &mut impl Watcher) -> notify::Result<()> {
        self.files = Self::files_of(&self.source);
        let mut dirs: Vec<PathBuf> = self
            .files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        dirs.dedup();
        for gone in self.dirs.iter().filter(|d| !dirs.contains(d)) {
            let _ = watcher.unwatch(gone);
        }
        for dir in dirs.iter().filter(|d| !self.dirs.contains(d)) {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
        self.dirs = dirs;
        Ok(())
    }

    fn concerns(&self, paths: &[PathBuf]) -> bool {
        paths.iter().any(|p| self.files.contains(p))
    }
}

async fn follow(
    app: Arc<App>,
    mut watcher: notify::RecommendedWatcher,
    mut watched: Watched,
    mut events: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    mut shutdown: Shutdown,
) {
    loop {
        // The first write to the file...
        loop {
            tokio::select! {
                paths = events.recv() => match paths {
                    Some(paths) if watched.concerns(&paths) => break,
                    Some(_) => {}
                    None => return,
                },
                _ = shutdown.wait() => return,
            }
        }
        // ...then none for QUIET.
        loop {
            tokio::select! {
                paths = events.recv() => match paths {
                    Some(_) => {}
                    None => return,
                },
                _ = tokio::time::sleep(QUIET) => break,
                _ = shutdown.wait() => return,
            }
        }
        reload_logged(&app, Trigger::FileChanged).await;
        if let Err(err) = watched.rearm(&mut watcher) {
            tracing::warn!(error = %err, "the config file is no longer watched; SIGHUP still reloads");
        }
    }
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, DataChange, ModifyKind, RenameMode};

    use super::*;

    #[test]
    fn writes_and_renames_count_and_reads_do_not() {
        let write = |k| assert!(is_a_write(&k), "{k:?}");
        let read = |k| assert!(!is_a_write(&k), "{k:?}");
        write(EventKind::Modify(ModifyKind::Data(DataChange::Any)));
        write(EventKind::Modify(ModifyKind::Name(RenameMode::To)));
        write(EventKind::Create(CreateKind::File));
        write(EventKind::Access(AccessKind::Close(AccessMode::Write)));
        read(EventKind::Access(AccessKind::Open(AccessMode::Any)));
        read(EventKind::Access(AccessKind::Close(AccessMode::Read)));
    }

    #[test]
    fn a_symlinked_config_is_watched_where_it_points_too() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let real_dir = base.join("real");
        std::fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("preload.toml");
        std::fs::write(&real, "").unwrap();
        let link = base.join("preload.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let files = Watched::files_of(&link);
        assert_eq!(files[0], link);
        assert_eq!(files[1], real);
        assert_eq!(Watched::files_of(&real).len(), 1);
    }
}
