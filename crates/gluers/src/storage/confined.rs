//! File operations confined to a root folder at the system-call level.
//!
//! Every path is resolved by the kernel relative to a descriptor of the
//! root that the backend holds, in the same call that opens it: `openat2`
//! with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` (Linux 5.6 and later).
//! Symbolic links that stay below the root are followed; `..`, absolute
//! links, links that lead out and `/proc` magic links are refused by the
//! kernel. Where `openat2` is missing (older kernels, some seccomp
//! policies), each component is opened with `O_NOFOLLOW` from the previous
//! descriptor, so no symbolic link is followed at all. Folders are created,
//! files renamed and removed relative to descriptors obtained that way:
//! there is no check followed by a use of the path, so a folder swapped for
//! a link between two operations cannot redirect either.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// How paths are resolved below the root.
const UNKNOWN: u8 = 0;
const OPENAT2: u8 = 1;
const WALK: u8 = 2;

/// A root folder's descriptor and the resolution method that works here.
pub(super) struct Root {
    fd: OwnedFd,
    method: AtomicU8,
}

/// Why a confined operation failed.
#[derive(Debug)]
pub(super) enum Refusal {
    /// The path leads out of the root (through `..` or a symbolic link).
    Escape,
    /// An I/O error (not found, not a folder, ...).
    Io(std::io::Error),
}

impl From<Errno> for Refusal {
    fn from(e: Errno) -> Self {
        Refusal::Io(e.into())
    }
}

impl From<std::io::Error> for Refusal {
    fn from(e: std::io::Error) -> Self {
        Refusal::Io(e)
    }
}

type Confined<T> = Result<T, Refusal>;

/// A folder opened only to resolve paths below it (no read access needed).
pub(super) const PATH_DIR: OFlags = OFlags::PATH.union(OFlags::DIRECTORY);
/// A folder opened to list it.
pub(super) const LIST_DIR: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY);

fn cloexec(flags: OFlags) -> OFlags {
    // `openat2` refuses any flag beside these three with `O_PATH`.
    if flags.contains(OFlags::PATH) {
        flags | OFlags::CLOEXEC
    } else {
        flags | OFlags::CLOEXEC | OFlags::NOCTTY
    }
}

impl Root {
    /// Opens the root folder `path` (the configured storage root, trusted).
    pub(super) fn open(path: &std::path::Path) -> std::io::Result<Self> {
        // O_PATH: a sandbox (Landlock) may allow writes below the root
        // without allowing to read the root itself; resolving through it
        // needs no access right.
        let fd = rustix::fs::open(path, cloexec(PATH_DIR), Mode::empty())?;
        Ok(Root {
            fd,
            method: AtomicU8::new(UNKNOWN),
        })
    }

    /// Resolves only by `O_NOFOLLOW` component walks (the fallback), for tests.
    #[cfg(test)]
    pub(super) fn force_walk(&self) {
        self.method.store(WALK, Ordering::Relaxed);
    }

    /// Opens `rel` (a normalised key: no `.`, `..` or leading `/`; empty is
    /// the root) below the root with `flags`.
    pub(super) fn open_at(&self, rel: &str, flags: OFlags, mode: Mode) -> Confined<OwnedFd> {
        let flags = cloexec(flags);
        let rel_or_dot = if rel.is_empty() { "." } else { rel };
        if self.method.load(Ordering::Relaxed) != WALK {
            match openat2_beneath(&self.fd, rel_or_dot, flags, mode) {
                Err(Errno::NOSYS) | Err(Errno::PERM) | Err(Errno::OPNOTSUPP)
                    if self.method.load(Ordering::Relaxed) == UNKNOWN =>
                {
                    self.method.store(WALK, Ordering::Relaxed);
                }
                Err(Errno::XDEV) => return Err(Refusal::Escape),
                other => {
                    self.method.store(OPENAT2, Ordering::Relaxed);
                    return other.map_err(Refusal::from);
                }
            }
        }
        self.walk(rel, flags, mode)
    }

    /// The fallback: each folder opened with `O_NOFOLLOW` from the previous
    /// descriptor; a symbolic link anywhere on the way is refused.
    fn walk(&self, rel: &str, flags: OFlags, mode: Mode) -> Confined<OwnedFd> {
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        let Some((last, dirs)) = parts.split_last() else {
            return Ok(rustix::fs::openat(&self.fd, ".", flags, mode)?);
        };
        let no_follow = |fd: OwnedFd, parent, name: &str| -> Confined<OwnedFd> {
            // With O_PATH, O_NOFOLLOW opens a link itself instead of failing.
            if flags.contains(OFlags::PATH) && file_type(&fd)? == FileType::Symlink {
                return Err(link_refusal(parent, name, Errno::LOOP));
            }
            Ok(fd)
        };
        let mut current: Option<OwnedFd> = None;
        for part in dirs {
            let parent = current.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
            let next = rustix::fs::openat(
                parent,
                *part,
                cloexec(PATH_DIR | OFlags::NOFOLLOW),
                Mode::empty(),
            )
            .map_err(|e| link_refusal(parent, part, e))?;
            current = Some(no_follow_dir(next, parent, part)?);
        }
        let parent = current.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
        let fd = rustix::fs::openat(parent, *last, flags | OFlags::NOFOLLOW, mode)
            .map_err(|e| link_refusal(parent, last, e))?;
        no_follow(fd, parent, last)
    }

    /// The folder `rel` opened with `flags` ([`PATH_DIR`] or [`LIST_DIR`]),
    /// created with its parents when `create`.
    pub(super) fn dir(&self, rel: &str, create: bool, flags: OFlags) -> Confined<OwnedFd> {
        match self.open_at(rel, flags, Mode::empty()) {
            Err(Refusal::Io(e)) if create && e.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        // Create each missing folder inside its parent's descriptor, then
        // open it through the root again: a link put in its place is judged.
        let mut prefix = String::new();
        let mut parent = self.open_at("", PATH_DIR, Mode::empty())?;
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            match rustix::fs::mkdirat(&parent, part, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            parent = self.open_at(&prefix, PATH_DIR, Mode::empty())?;
        }
        if flags == PATH_DIR {
            Ok(parent)
        } else {
            self.open_at(rel, flags, Mode::empty())
        }
    }

    /// The parent folder of `rel` (created when `create`) and the last name.
    pub(super) fn parent<'a>(&self, rel: &'a str, create: bool) -> Confined<(OwnedFd, &'a str)> {
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        Ok((self.dir(dir, create, PATH_DIR)?, name))
    }
}

#[cfg(target_os = "linux")]
fn openat2_beneath(dir: &OwnedFd, rel: &str, flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
    use rustix::fs::ResolveFlags;
    loop {
        match rustix::fs::openat2(
            dir,
            rel,
            flags,
            mode,
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        ) {
            // The kernel asks for a retry when a rename raced the lookup.
            Err(Errno::AGAIN) | Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn openat2_beneath(
    _dir: &OwnedFd,
    _rel: &str,
    _flags: OFlags,
    _mode: Mode,
) -> Result<OwnedFd, Errno> {
    Err(Errno::NOSYS)
}

/// An intermediate folder of the fallback walk must not be a link.
fn no_follow_dir(
    fd: OwnedFd,
    parent: std::os::fd::BorrowedFd<'_>,
    name: &str,
) -> Confined<OwnedFd> {
    if file_type(&fd)? == FileType::Symlink {
        return Err(link_refusal(parent, name, Errno::LOOP));
    }
    Ok(fd)
}

/// In the fallback walk, a component that is a symbolic link fails with
/// `ELOOP` (or `ENOTDIR` for a folder opened with `O_DIRECTORY`): refused.
fn link_refusal(parent: std::os::fd::BorrowedFd<'_>, name: &str, e: Errno) -> Refusal {
    if e == Errno::LOOP || e == Errno::NOTDIR {
        let is_link = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
            .unwrap_or(false);
        if is_link {
            return Refusal::Escape;
        }
    }
    e.into()
}

/// Reads a whole file from `fd`; a short read is not the end, only 0 is.
pub(super) fn read_all(fd: &OwnedFd) -> std::io::Result<Vec<u8>> {
    let size = rustix::fs::fstat(fd)
        .map(|st| st.st_size.max(0) as usize)
        .unwrap_or(0);
    let mut bytes = Vec::with_capacity(size.saturating_add(1).min(1 << 30));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match rustix::io::read(fd, &mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes all of `data` to `fd`, looping over short writes.
pub(super) fn write_all(fd: &OwnedFd, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes `name` in `dir` atomically: a temporary file named after this
/// writer, created exclusively (never through a link), then renamed over
/// `name`. A replaced file keeps its mode; a new one gets 0644.
pub(super) fn write_atomic_at(dir: &OwnedFd, name: &str, data: &[u8]) -> std::io::Result<()> {
    let mode = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {
            st.st_mode & 0o7777
        }
        _ => 0o644,
    };
    let (tmp, fd) = create_temp(dir)?;
    let written = rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
        .map_err(std::io::Error::from)
        .and_then(|()| write_all(&fd, data));
    drop(fd);
    let renamed = written.and_then(|()| {
        rustix::fs::renameat(dir, tmp.as_str(), dir, name).map_err(std::io::Error::from)
    });
    if renamed.is_err() {
        let _ = rustix::fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
    }
    renamed
}

/// A new temporary file in `dir`, `O_EXCL | O_NOFOLLOW`, named after this writer.
fn create_temp(dir: &OwnedFd) -> std::io::Result<(String, OwnedFd)> {
    let flags = cloexec(OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW);
    let mut attempt = 0u32;
    loop {
        let name = format!("{}{}", crate::atomic::temp_prefix(), random_suffix());
        match rustix::fs::openat(dir, name.as_str(), flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => return Ok((name, fd)),
            Err(Errno::EXIST) if attempt < 16 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

fn random_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Removes `name` in `dir` and, for a folder, everything in it; links are
/// removed, never followed.
pub(super) fn remove_tree(dir: &OwnedFd, name: &str) -> std::io::Result<()> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?);
    }
    let sub = rustix::fs::openat(
        dir,
        name,
        cloexec(LIST_DIR | OFlags::NOFOLLOW),
        Mode::empty(),
    )?;
    for entry in list(&sub)? {
        remove_tree(&sub, &entry)?;
    }
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
}

/// The names in the folder `dir`, without `.` and `..`, sorted.
pub(super) fn list(dir: &OwnedFd) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy();
        if name != "." && name != ".." {
            names.push(name.into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The type of the open file `fd`.
pub(super) fn file_type(fd: &OwnedFd) -> std::io::Result<FileType> {
    Ok(FileType::from_raw_mode(rustix::fs::fstat(fd)?.st_mode))
}
