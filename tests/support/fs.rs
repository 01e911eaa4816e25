//! Real file systems that fail, for the durability tests: a size-limited
//! tmpfs (a full disk), an ext4 image on a loop device with
//! `errors=remount-ro` (the kernel turns it read-only on an error, as on a
//! failing disk), and the immutable attribute (the kernel refuses to unlink
//! in a directory, even for root). All of it needs root and a kernel that
//! allows mounts: `mounts_allowed` says whether this machine does, and a
//! test that cannot run says so on stderr and returns.

use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file system mounted for one test, unmounted (lazily) when dropped.
pub struct Mount {
    pub dir: PathBuf,
    image: Option<PathBuf>,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Root, with mounts allowed (tries one tmpfs mount). Otherwise the
/// reason, for the skip message.
pub fn mounts_allowed(scratch: &Path) -> Result<(), String> {
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    Mount::tmpfs(&scratch.join("probe"), "1m").map(drop)
}

/// Prints why a test does not run here. Where the machine is known to
/// allow mounts (CI sets `PRELOADD_REQUIRE_MOUNTS=1`), a skip is a failure:
/// a durability test that quietly never runs proves nothing.
pub fn skip(test: &str, why: &str) {
    if std::env::var_os("PRELOADD_REQUIRE_MOUNTS").is_some_and(|v| v == "1") {
        panic!("{test} cannot run ({why}) but PRELOADD_REQUIRE_MOUNTS=1");
    }
    eprintln!("SKIPPED {test}: needs root and mounts ({why})");
}

impl Mount {
    /// A tmpfs of `size` (e.g. "8m") at `dir`.
    pub fn tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let dir_s = dir.to_str().ok_or("path")?;
        run(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", dir_s],
        )?;
        Ok(Mount {
            dir: dir.to_path_buf(),
            image: None,
        })
    }

    /// A fresh ext4 image of `mib` MiB at `image`, mounted at `dir` on a
    /// loop device with `errors=remount-ro`.
    pub fn ext4(image: &Path, dir: &Path, mib: u64) -> Result<Mount, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let file = std::fs::File::create(image).map_err(|e| e.to_string())?;
        file.set_len(mib << 20).map_err(|e| e.to_string())?;
        let image_s = image.to_str().ok_or("path")?;
        run("mkfs.ext4", &["-q", "-F", image_s])?;
        let mount = Mount {
            dir: dir.to_path_buf(),
            image: Some(image.to_path_buf()),
        };
        mount.mount_image()?;
        Ok(mount)
    }

    fn mount_image(&self) -> Result<(), String> {
        let image = self
            .image
            .as_deref()
            .and_then(Path::to_str)
            .ok_or("no image")?;
        let dir = self.dir.to_str().ok_or("path")?;
        run("mount", &["-o", "loop,errors=remount-ro", image, dir])
    }

    /// The loop device's name under /sys/fs/ext4 (e.g. "loop3").
    fn device(&self) -> Result<String, String> {
        let mounts = std::fs::read_to_string("/proc/mounts").map_err(|e| e.to_string())?;
        let dir = self.dir.to_str().ok_or("path")?;
        mounts
            .lines()
            .map(|l| l.split(' ').collect::<Vec<_>>())
            .find(|f| f.len() > 2 && f[1] == dir)
            .and_then(|f| f[0].strip_prefix("/dev/").map(str::to_owned))
            .ok_or_else(|| format!("{dir} is not mounted"))
    }

    /// An ext4 error, as a failing disk causes: with `errors=remount-ro`
    /// the kernel makes the file system read-only at once.
    pub fn fail(&self) -> Result<(), String> {
        let path = format!("/sys/fs/ext4/{}/trigger_fs_error", self.device()?);
        std::fs::write(&path, "1\n").map_err(|e| format!("{path}: {e}"))?;
        if self.is_writable() {
            return Err("still writable after the error".into());
        }
        Ok(())
    }

    pub fn is_writable(&self) -> bool {
        let probe = self.dir.join(".probe");
        let ok = std::fs::write(&probe, b"x").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    }

    /// Repairs the ext4 image as an operator would: unmount, `e2fsck`,
    /// mount again (read-write). Nothing may hold a file on it.
    pub fn repair(&self) -> Result<(), String> {
        let dir = self.dir.to_str().ok_or("path")?;
        run("umount", &[dir])?;
        let image = self
            .image
            .as_deref()
            .and_then(Path::to_str)
            .ok_or("no image")?;
        // Exit 1: errors were corrected, which is the point.
        let status = Command::new("e2fsck")
            .args(["-fy", image])
            .output()
            .map_err(|e| e.to_string())?
            .status;
        if !matches!(status.code(), Some(0 | 1)) {
            return Err(format!("e2fsck: {status}"));
        }
        self.mount_image()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.to_str() {
            let _ = run("umount", &["-l", dir]);
        }
    }
}

/// Sets or clears the immutable attribute (`chattr +i`) of `path`: in an
/// immutable directory nothing can be created, renamed or unlinked.
pub fn set_immutable(path: &Path, on: bool) -> Result<(), String> {
    const FS_IMMUTABLE_FL: libc::c_long = 0x10;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut flags: libc::c_long = 0;
    // SAFETY: both ioctls read or write one `long` through a valid pointer
    // on an open descriptor.
    unsafe {
        if libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        flags = if on {
            flags | FS_IMMUTABLE_FL
        } else {
            flags & !FS_IMMUTABLE_FL
        };
        if libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
    }
    Ok(())
}
