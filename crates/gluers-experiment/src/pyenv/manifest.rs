//! The environment manifest: every folder, file and start-up file the
//! sealed evaluator's interpreter imports from, recorded at init
//! ([`Manifest::record`]) and re-checked before each evaluation
//! ([`Manifest::verify`]), with the differences it reports.

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

use super::walk::Walk;
use super::Interpreter;

/// The manifest format; bump when its meaning changes.
pub(crate) const MANIFEST_VERSION: u32 = 1;

/// The stat fields that change when a file's bytes or identity do:
/// `(size, mtime s, mtime ns, ctime s, ctime ns, inode, device, mode)`.
/// A tuple, so that it serialises as a short JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stat(u64, i64, i64, i64, i64, u64, u64, u32);

/// What a stat says an entry is (following symlinks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
    Other,
}

/// Field types of `struct stat` differ between architectures; these widen
/// whatever they are.
fn signed<T: TryInto<i64>>(x: T) -> i64 {
    x.try_into().unwrap_or(i64::MIN)
}

fn unsigned<T: TryInto<u64>>(x: T) -> u64 {
    x.try_into().unwrap_or(u64::MAX)
}

impl Stat {
    /// One `stat` system call's answer, the same whichever call made it
    /// (`stat`, `fstat`, `fstatat`), so that init and verify compare alike.
    fn of(st: &rustix::fs::Stat) -> (Self, Kind) {
        let stat = Self(
            unsigned(st.st_size),
            signed(st.st_mtime),
            signed(st.st_mtime_nsec),
            signed(st.st_ctime),
            signed(st.st_ctime_nsec),
            unsigned(st.st_ino),
            unsigned(st.st_dev),
            st.st_mode,
        );
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            _ => Kind::Other,
        };
        (stat, kind)
    }

    /// `stat(path)`, following symlinks.
    pub(super) fn path(path: &Path) -> io::Result<(Self, Kind)> {
        Ok(Self::of(&rustix::fs::stat(path)?))
    }

    fn size(&self) -> u64 {
        self.0
    }

    pub(super) fn identity(&self) -> (u64, u64) {
        (self.6, self.5)
    }
}

/// A regular file (or a symlink to one) inside a recorded folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    /// File name.
    pub name: String,
    /// Stat, following symlinks.
    pub stat: Stat,
    /// blake3 of the bytes, hex.
    pub blake3: String,
}

/// A symlink inside a recorded folder (its target is recorded besides the
/// file or folder it leads to, since re-pointing it must be seen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LinkEntry {
    /// Link name.
    pub name: String,
    /// `readlink` text.
    pub target: String,
}

/// One folder of the interpreter's path, walked at init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DirRecord {
    /// Absolute path (through symlinks as Python sees it).
    pub path: PathBuf,
    /// Stat of the folder, following symlinks.
    pub stat: Stat,
    /// Every entry name, sorted: what reading the folder must give again.
    pub names: Vec<String>,
    /// Its regular files.
    pub files: Vec<FileEntry>,
    /// Its symlinks.
    pub links: Vec<LinkEntry>,
    /// Entries that are neither files nor folders (a dangling link, a
    /// socket): they must stay so.
    pub others: Vec<String>,
}

/// A single recorded file outside the walked folders (the executable, the
/// venv's `pyvenv.cfg`, `libpython`, a zip on `sys.path`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileRecord {
    /// Absolute path.
    pub path: PathBuf,
    /// Stat, following symlinks.
    pub stat: Stat,
    /// blake3 of the bytes, hex.
    pub blake3: String,
}

/// Everything the sealed evaluator's interpreter imports from, recorded at
/// init. Serialisable; the engine keeps it in its state folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The interpreter's own answer.
    pub interpreter: Interpreter,
    /// Folder left out (the project: the frozen set covers it).
    pub project_dir: PathBuf,
    /// Every folder under `sys.path`, sorted by path.
    pub dirs: Vec<DirRecord>,
    /// Single files: executable, `pyvenv.cfg`, `libpython`, zips on the path
    /// (see `landmarks`).
    pub files: Vec<FileRecord>,
    /// Paths that did not exist and must not appear: a `pythonXY.zip` on
    /// `sys.path` (it comes before the stdlib), a `pyvenv.cfg` or `._pth`
    /// where Python's start-up would read one.
    pub absent: Vec<PathBuf>,
    /// Folders not walked, with why: a `site-packages` nested in the stdlib
    /// folder is not on this interpreter's path (a venv without system site
    /// packages) and its name is no module name, so nothing imports from it;
    /// its name is still among its parent's entries.
    pub skipped: Vec<PathBuf>,
    /// Files Python runs at start-up: `.pth` files, `sitecustomize` and
    /// `usercustomize` modules (recorded and hashed like the rest; listed
    /// here for the reader).
    pub startup: Vec<PathBuf>,
    /// Files recorded, and their total size in bytes.
    pub totals: (u64, u64),
}

/// One difference found by [`Manifest::verify`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    /// The bytes (or the kind, or a link's target) differ.
    Modified(PathBuf),
    /// A new entry (a `.pth`, a `sitecustomize.py`, a shadowing module).
    Added(PathBuf),
    /// A recorded entry is gone.
    Removed(PathBuf),
    /// It could not be read.
    Unreadable(PathBuf, String),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Modified(p) => write!(f, "{} (modified)", p.display()),
            Self::Added(p) => write!(f, "{} (added)", p.display()),
            Self::Removed(p) => write!(f, "{} (removed)", p.display()),
            Self::Unreadable(p, e) => write!(f, "{} (unreadable: {e})", p.display()),
        }
    }
}

/// The interpreter's environment differs from the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Changed {
    /// The differences, sorted by kind then path.
    pub changes: Vec<Change>,
}

impl fmt::Display for Changed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 5;
        write!(
            f,
            "the Python environment of the sealed evaluator changed since init ({} change(s): ",
            self.changes.len()
        )?;
        for (i, c) in self.changes.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{c}")?;
        }
        if self.changes.len() > SHOWN {
            write!(f, "; and {} more", self.changes.len() - SHOWN)?;
        }
        f.write_str(
            "); restore it (reinstall the packages) or start a new experiment with `experiment init`",
        )
    }
}

impl std::error::Error for Changed {}

/// Single files that decide where Python looks, present or not: the
/// executable and `libpython`, the `pyvenv.cfg` that Python's start-up
/// looks for beside the executable and one folder up, and `._pth` files
/// (which replace `sys.path` wholesale) beside the executable, through its
/// symlinks or not.
fn landmarks(interpreter: &Interpreter) -> Vec<PathBuf> {
    let exe = &interpreter.executable;
    let real = fs::canonicalize(exe).unwrap_or_else(|_| exe.clone());
    let mut out = vec![exe.clone(), interpreter.prefix.join("pyvenv.cfg")];
    out.extend(interpreter.libpython.clone());
    let stems: BTreeSet<String> = [Some(exe), Some(&real), interpreter.libpython.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|p| p.file_name()?.to_str())
        .flat_map(|n| {
            // `python3.11`, `libpython3.11.so.1.0`: the name without its
            // `.so…` tail, and the part before the first dot.
            let base = n.split(".so").next().unwrap_or(n);
            [base, base.split('.').next().unwrap_or(base)]
        })
        .map(str::to_string)
        .collect();
    for dir in [exe.parent(), real.parent()].into_iter().flatten() {
        out.push(dir.join("pyvenv.cfg"));
        if let Some(up) = dir.parent() {
            out.push(up.join("pyvenv.cfg"));
        }
        out.extend(stems.iter().map(|s| dir.join(format!("{s}._pth"))));
    }
    let mut seen = HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// A file to hash: its path and size.
type Job = (PathBuf, u64);

/// Where a hashed file's entry lives in the manifest being recorded.
#[derive(Clone, Copy)]
enum Slot {
    Dir(usize, usize),
    File(usize),
}

impl Manifest {
    /// Records the environment of `python` (an executable, see
    /// [`crate::python::resolve_interpreter`]), leaving out what is under
    /// `project_dir`. Hashes on every core.
    pub fn record(python: &Path, project_dir: &Path) -> Result<Self> {
        Self::from_interpreter(Interpreter::probe(python)?, project_dir)
    }

    /// Records the folders and files that `interpreter` names.
    pub fn from_interpreter(interpreter: Interpreter, project_dir: &Path) -> Result<Self> {
        let project = fs::canonicalize(project_dir).unwrap_or_else(|_| project_dir.to_path_buf());
        let mut walk = Walk {
            project: &project,
            path_dirs: interpreter
                .path
                .iter()
                .filter_map(|p| fs::canonicalize(p).ok())
                .collect(),
            visited: HashSet::new(),
            dirs: Vec::new(),
            files: Vec::new(),
            absent: Vec::new(),
            skipped: Vec::new(),
            startup: Vec::new(),
        };
        for root in &interpreter.path {
            walk.root(root)?;
        }
        for p in landmarks(&interpreter) {
            walk.single(&p)?;
        }
        let Walk {
            mut dirs,
            mut files,
            absent,
            skipped,
            startup,
            ..
        } = walk;
        dirs.sort_by(|a, b| a.path.cmp(&b.path));
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);

        let mut jobs: Vec<Job> = Vec::new();
        let mut slots = Vec::new();
        for (d, dir) in dirs.iter().enumerate() {
            for (f, file) in dir.files.iter().enumerate() {
                jobs.push((dir.path.join(&file.name), file.stat.size()));
                slots.push(Slot::Dir(d, f));
            }
        }
        for (i, file) in files.iter().enumerate() {
            jobs.push((file.path.clone(), file.stat.size()));
            slots.push(Slot::File(i));
        }
        let totals = (jobs.len() as u64, jobs.iter().map(|j| j.1).sum());
        for ((job, slot), hashed) in jobs.iter().zip(slots).zip(hash_all(&jobs)) {
            let (stat, hash) =
                hashed.map_err(|(action, e)| ExperimentError::io(action, &job.0, e))?;
            let (recorded, slot_hash) = match slot {
                Slot::Dir(d, f) => {
                    let e = &mut dirs[d].files[f];
                    (e.stat, &mut e.blake3)
                }
                Slot::File(i) => (files[i].stat, &mut files[i].blake3),
            };
            if stat != recorded {
                return Err(ExperimentError::Inspect(format!(
                    "{} changed while the engine recorded the Python environment; retry when nothing installs packages",
                    job.0.display()
                )));
            }
            *slot_hash = hash;
        }
        Ok(Self {
            version: MANIFEST_VERSION,
            interpreter,
            project_dir: project,
            dirs,
            files,
            absent,
            skipped,
            startup,
            totals,
        })
    }

    /// Re-stats every recorded folder, file and link, reads the folders
    /// whose stat changed, re-hashes the files whose stat changed, and
    /// checks that absent paths are still absent. `Err` lists every
    /// difference. Runs on every core.
    pub fn verify(&self) -> Result<(), Changed> {
        let changes = Mutex::new(Vec::new());
        let rehash = Mutex::new(Vec::new());
        let next = AtomicUsize::new(0);
        const CHUNK: usize = 16;
        std::thread::scope(|s| {
            for _ in 0..crate::hashing::workers() {
                s.spawn(|| {
                    let mut my_changes = Vec::new();
                    let mut my_rehash = Vec::new();
                    loop {
                        let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                        if start >= self.dirs.len() {
                            break;
                        }
                        for dir in &self.dirs[start..(start + CHUNK).min(self.dirs.len())] {
                            check_dir(dir, &mut my_changes, &mut my_rehash);
                        }
                    }
                    extend(&changes, my_changes);
                    extend(&rehash, my_rehash);
                });
            }
        });
        let mut changes = changes.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut rehash = rehash.into_inner().unwrap_or_else(|p| p.into_inner());
        for f in &self.files {
            check_file(&f.path, &f.stat, &f.blake3, &mut changes, &mut rehash);
        }
        for p in &self.absent {
            if fs::symlink_metadata(p).is_ok() {
                changes.push(Change::Added(p.clone()));
            }
        }
        let jobs: Vec<Job> = rehash
            .iter()
            .map(|(path, _, size)| (path.clone(), *size))
            .collect();
        for ((path, want, _), got) in rehash.iter().zip(hash_all(&jobs)) {
            match got {
                Ok((_, hash)) if hash == *want => {}
                Ok(_) => changes.push(Change::Modified(path.clone())),
                Err((_, e)) => changes.push(Change::Unreadable(path.clone(), e.to_string())),
            }
        }
        if changes.is_empty() {
            Ok(())
        } else {
            changes.sort();
            changes.dedup();
            Err(Changed { changes })
        }
    }
}

/// A file whose stat changed: path, recorded hash, size.
type Rehash = (PathBuf, String, u64);

fn extend<T>(into: &Mutex<Vec<T>>, items: Vec<T>) {
    into.lock().unwrap_or_else(|p| p.into_inner()).extend(items);
}

fn check_dir(dir: &DirRecord, changes: &mut Vec<Change>, rehash: &mut Vec<Rehash>) {
    // One `O_PATH` descriptor per folder, and `fstatat` on names relative to
    // it: the kernel resolves one component per file instead of the whole
    // path, which is most of the cost of a verify.
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(&dir.path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            changes.push(missing(&dir.path, e.into()));
            return;
        }
    };
    match rustix::fs::fstat(&fd) {
        // An entry added, removed or renamed changes the folder's ctime,
        // which cannot be set back: an equal stat means equal names.
        Ok(st) if Stat::of(&st).0 == dir.stat => {}
        Ok(_) => compare_names(dir, changes),
        Err(e) => {
            changes.push(Change::Unreadable(dir.path.clone(), e.to_string()));
            return;
        }
    }
    for f in &dir.files {
        match rustix::fs::statat(&fd, f.name.as_str(), AtFlags::empty()) {
            Ok(st) => {
                let (stat, kind) = Stat::of(&st);
                if kind != Kind::File {
                    changes.push(Change::Modified(dir.path.join(&f.name)));
                } else if stat != f.stat {
                    rehash.push((dir.path.join(&f.name), f.blake3.clone(), stat.size()));
                }
            }
            Err(e) => changes.push(missing(&dir.path.join(&f.name), e.into())),
        }
    }
    for l in &dir.links {
        let p = dir.path.join(&l.name);
        match fs::read_link(&p) {
            Ok(t) if t.as_os_str() == OsStr::new(&l.target) => {}
            _ => changes.push(Change::Modified(p)),
        }
    }
    for o in &dir.others {
        // A dangling link that now leads somewhere is a new module.
        if rustix::fs::statat(&fd, o.as_str(), AtFlags::empty())
            .is_ok_and(|st| Stat::of(&st).1 != Kind::Other)
        {
            changes.push(Change::Modified(dir.path.join(o)));
        }
    }
}

/// The change an error to reach `path` stands for.
fn missing(path: &Path, e: io::Error) -> Change {
    match e.kind() {
        io::ErrorKind::NotFound => Change::Removed(path.to_path_buf()),
        io::ErrorKind::NotADirectory => Change::Modified(path.to_path_buf()),
        _ => Change::Unreadable(path.to_path_buf(), e.to_string()),
    }
}

fn compare_names(dir: &DirRecord, changes: &mut Vec<Change>) {
    let now: BTreeSet<std::ffi::OsString> = match fs::read_dir(&dir.path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect(),
        Err(e) => {
            changes.push(Change::Unreadable(dir.path.clone(), e.to_string()));
            return;
        }
    };
    let before: BTreeSet<&OsStr> = dir.names.iter().map(OsStr::new).collect();
    for n in &now {
        if !before.contains(n.as_os_str()) {
            changes.push(Change::Added(dir.path.join(n)));
        }
    }
    for n in &before {
        if !now.contains(*n) {
            changes.push(Change::Removed(dir.path.join(n)));
        }
    }
}

fn check_file(
    path: &Path,
    stat: &Stat,
    hash: &str,
    changes: &mut Vec<Change>,
    rehash: &mut Vec<Rehash>,
) {
    match Stat::path(path) {
        Ok((now, Kind::File)) => {
            if now != *stat {
                rehash.push((path.to_path_buf(), hash.to_string(), now.size()));
            }
        }
        Ok(_) => changes.push(Change::Modified(path.to_path_buf())),
        Err(e) => changes.push(missing(path, e)),
    }
}

/// Hashes `jobs` on every core, largest first (see
/// [`crate::hashing::par_map_largest_first`]); returns, in `jobs` order,
/// the stat taken before reading and the hex blake3, or the failed action
/// and error.
#[allow(clippy::type_complexity)]
fn hash_all(jobs: &[Job]) -> Vec<Result<(Stat, String), (&'static str, io::Error)>> {
    crate::hashing::par_map_largest_first(jobs, |j| j.1, |j| hash_file(&j.0))
}

/// The stat of the open file (so it describes the bytes read) and the hash.
fn hash_file(path: &Path) -> Result<(Stat, String), (&'static str, io::Error)> {
    let fstat = |file: &File| {
        rustix::fs::fstat(file)
            .map(|st| Stat::of(&st).0)
            .map_err(|e| ("stat", io::Error::from(e)))
    };
    let mut file = File::open(path).map_err(|e| ("open", e))?;
    let stat = fstat(&file)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(&mut file).map_err(|e| ("read", e))?;
    if fstat(&file)? != stat {
        return Err((
            "hash",
            io::Error::other("the file changed while it was read"),
        ));
    }
    Ok((stat, hasher.finalize().to_hex().to_string()))
}
