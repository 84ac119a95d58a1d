//! The Python interpreter the sealed evaluator imports from, and how to run
//! it isolated.
//!
//! The sealed evaluator of a Gluepy project runs the base commit's code, but
//! with an interpreter and packages that live outside the repository (a
//! venv, a pyenv or system Python). The agent can edit those files as well as
//! the project's: a line in `pandas/core/frame.py`, a planted
//! `sitecustomize.py`, a new `.pth` file, a module named like a stdlib one.
//! So, at `init`, [`Manifest::record`] asks the interpreter (isolated) for
//! its executable, prefixes and `sys.path`, and records every file under
//! those folders (stat and blake3 hash) and every folder's entry names;
//! before each evaluation [`Manifest::verify`] re-stats everything, re-hashes
//! what changed, and reports any new, removed or edited file.
//!
//! Why a stat cache is enough: an edit changes a file's ctime, and ctime
//! cannot be set back from user space (an `mtime` restored with `touch -r`
//! still leaves a new ctime), so an unchanged stat means unchanged bytes. A
//! changed stat only triggers a re-hash; the verdict is the hash.
//!
//! [`isolated_command`] and [`manage_py_command`] build the command lines
//! the engine runs Python with.
//!
//! # Gluepy's `manage.py` under `-I`
//!
//! What the sealed evaluator needs, checked on Gluepy 1.6.0:
//!
//! * `python -I -B manage.py dag LABEL ...` fails with `ModuleNotFoundError:
//!   No module named 'configs'`: `-I` keeps the script's folder off
//!   `sys.path`, so neither the settings module nor `INSTALLED_MODULES` can
//!   be imported. [`manage_py_command`] puts the project folder first on
//!   `sys.path` and runs `manage.py` as `__main__` (exit codes, `sys.argv`
//!   and tracebacks as with `python manage.py`).
//! * `GLUEPY_SETTINGS_MODULE`: `manage.py` sets it with `setdefault`, which
//!   `-I` does not affect (it ignores `PYTHON*` variables only). The cleared
//!   environment drops a value the user exported, so the settings are
//!   `manage.py`'s default, as the inspection in `python.rs` saw them.
//! * `STORAGE_ROOT` derived from `__file__` is absolute and inside the folder
//!   run from (the export), so the evaluator reads and writes there;
//!   `--retry FOLDER` is relative to it, `--local-patch` to the working
//!   directory.
//! * No `HOME`, `LANG` or `TMPDIR`: Python runs in UTF-8 mode; Gluepy,
//!   pandas and numpy import and run (`tempfile` falls back to `/tmp`).
//! * `-B`: no `__pycache__` appears in the export.

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

/// The manifest format; bump when its meaning changes.
pub(crate) const MANIFEST_VERSION: u32 = 1;

/// `PATH` when the engine itself has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A command running `python -I -B ARGS...` with an empty environment but
/// `PATH`, and stdin closed.
///
/// `-I` ignores every `PYTHON*` variable (no `PYTHONPATH`, `PYTHONHOME`,
/// `PYTHONSTARTUP`, `PYTHONINSPECT`), leaves the user site out of `sys.path`
/// and does not put the script's folder or the working directory on it;
/// `-B` writes no bytecode next to the sources (the evaluated folder stays
/// as exported). The empty environment drops `LD_PRELOAD`, `GLUEPY_*`
/// and the like; `PATH` stays so that a tool the evaluation spawns is found
/// as in the user's shell. Without `LANG` or `LC_*`, Python ≥ 3.7 coerces the
/// C locale to UTF-8.
pub(crate) fn isolated_command<I, S>(python: impl AsRef<OsStr>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(python);
    cmd.arg("-I")
        .arg("-B")
        .args(args)
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
        )
        .stdin(Stdio::null());
    cmd
}

/// Runs `manage.py` as `python manage.py ARGS...` would, from `project_dir`
/// first on `sys.path`: `-I` keeps the script's folder off `sys.path`, so a
/// plain `python -I manage.py dag ...` fails with `ModuleNotFoundError: No
/// module named 'configs'` (the settings module that `manage.py` selects).
pub(crate) const MANAGE_PY_LAUNCHER: &str = "\
import os, runpy, sys
project = sys.argv[1]
sys.argv = sys.argv[2:]
sys.path.insert(0, project)
runpy.run_path(os.path.join(project, sys.argv[0]), run_name='__main__')
";

/// The sealed evaluator's command for a Gluepy project: `python -I -B`
/// running `project_dir/manage.py` with `args` (e.g. `dag LABEL --eval-only
/// --retry FOLDER`), with `project_dir` as the working directory and first on
/// `sys.path` (see [`MANAGE_PY_LAUNCHER`]). `manage.py` sets
/// `GLUEPY_SETTINGS_MODULE` itself, and settings that derive `STORAGE_ROOT`
/// from `__file__` get the absolute folder.
pub(crate) fn manage_py_command<I, S>(python: &Path, project_dir: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = isolated_command(python, ["-c", MANAGE_PY_LAUNCHER]);
    cmd.arg(project_dir)
        .arg("manage.py")
        .args(args)
        .current_dir(project_dir);
    cmd
}

/// What the interpreter says about itself when run isolated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Interpreter {
    /// `sys.executable`.
    pub executable: PathBuf,
    /// `sys.prefix` (the venv, if any).
    pub prefix: PathBuf,
    /// `sys.base_prefix` (the installation behind a venv).
    pub base_prefix: PathBuf,
    /// `sys.path` under `-I` (no script folder, no user site).
    pub path: Vec<PathBuf>,
    /// `sys.version`.
    pub version: String,
    /// The shared `libpython` the executable loads, when built shared.
    pub libpython: Option<PathBuf>,
}

const PROBE: &str = "\
import json, os, sys, sysconfig
v = sysconfig.get_config_var
lib = v('INSTSONAME') or v('LDLIBRARY')
json.dump({'executable': sys.executable, 'prefix': sys.prefix,
           'base_prefix': sys.base_prefix, 'path': sys.path, 'version': sys.version,
           'libpython': os.path.join(v('LIBDIR'), lib) if v('Py_ENABLE_SHARED') and v('LIBDIR') and lib else None},
          sys.stdout)
";

impl Interpreter {
    /// Asks `python`, run isolated from `/`.
    pub fn probe(python: &Path) -> Result<Self> {
        let out = isolated_command(python, ["-c", PROBE])
            .current_dir("/")
            .output()
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    ExperimentError::Inspect(format!(
                        "Python interpreter {} not found; point the project command at an installed Python",
                        python.display()
                    ))
                } else {
                    ExperimentError::Spawn {
                        program: python.display().to_string(),
                        source: e,
                    }
                }
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(ExperimentError::Inspect(format!(
                "{} failed to describe itself ({}): {}",
                python.display(),
                out.status,
                err.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no message")
                    .trim()
            )));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| {
            ExperimentError::Inspect(format!(
                "unexpected answer from {} about its paths: {e}",
                python.display()
            ))
        })
    }
}

/// The stat fields that change when a file's bytes or identity do:
/// `(size, mtime s, mtime ns, ctime s, ctime ns, inode, device, mode)`.
/// A tuple, so that it serialises as a short JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stat(u64, i64, i64, i64, i64, u64, u64, u32);

/// What a stat says an entry is (following symlinks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
    fn path(path: &Path) -> io::Result<(Self, Kind)> {
        Ok(Self::of(&rustix::fs::stat(path)?))
    }

    fn size(&self) -> u64 {
        self.0
    }

    fn identity(&self) -> (u64, u64) {
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

/// Names of the modules Python imports at start-up on its own.
fn is_startup(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name);
    name.ends_with(".pth") || stem == "sitecustomize" || stem == "usercustomize"
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> ExperimentError + 'a {
    move |e| ExperimentError::io(action, path, e)
}

fn utf8_name(name: &OsStr, dir: &Path) -> Result<String> {
    name.to_str().map(str::to_string).ok_or_else(|| {
        ExperimentError::Inspect(format!(
            "{} holds an entry whose name is not UTF-8 ({}); remove or rename it, then retry",
            dir.display(),
            name.to_string_lossy()
        ))
    })
}

fn utf8_path(p: &Path) -> Result<()> {
    p.to_str().map(|_| ()).ok_or_else(|| {
        ExperimentError::Inspect(format!(
            "the interpreter path {} is not UTF-8; the engine cannot record it",
            p.display()
        ))
    })
}

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

/// The walk of `sys.path` at init.
struct Walk<'a> {
    project: &'a Path,
    /// `sys.path` folders, canonical: a nested one is walked on its own.
    path_dirs: HashSet<PathBuf>,
    /// Folders already walked, by (device, inode): a folder reached twice
    /// (`lib-dynload` inside the stdlib folder, a symlink loop) is walked once.
    visited: HashSet<(u64, u64)>,
    dirs: Vec<DirRecord>,
    files: Vec<FileRecord>,
    absent: Vec<PathBuf>,
    skipped: Vec<PathBuf>,
    startup: Vec<PathBuf>,
}

impl Walk<'_> {
    fn excluded(&self, p: &Path) -> bool {
        p.starts_with(self.project)
            || fs::canonicalize(p).is_ok_and(|c| c.starts_with(self.project))
    }

    fn root(&mut self, root: &Path) -> Result<()> {
        utf8_path(root)?;
        if !root.is_absolute() || self.excluded(root) {
            return Ok(());
        }
        match Stat::path(root) {
            Ok((stat, Kind::Dir)) => self.dir(root, stat, true),
            Ok(_) => self.single(root),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.absent.push(root.to_path_buf());
                Ok(())
            }
            Err(e) => Err(ExperimentError::io("stat", root, e)),
        }
    }

    fn single(&mut self, p: &Path) -> Result<()> {
        utf8_path(p)?;
        match Stat::path(p) {
            Ok((stat, Kind::File)) => {
                self.files.push(FileRecord {
                    path: p.to_path_buf(),
                    stat,
                    blake3: String::new(),
                });
                Ok(())
            }
            Ok(_) => Err(ExperimentError::Inspect(format!(
                "{} is not a regular file; the engine cannot record the Python environment",
                p.display()
            ))),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                self.absent.push(p.to_path_buf());
                Ok(())
            }
            Err(e) => Err(ExperimentError::io("stat", p, e)),
        }
    }

    /// Walks `top` and the folders below it (iteratively: the stdlib is deep
    /// enough for recursion to be a needless risk). `root` marks a folder
    /// that is itself on `sys.path`: its start-up files are listed, and a
    /// `site-packages` in it that is not on the path is skipped.
    fn dir(&mut self, top: &Path, stat: Stat, is_root: bool) -> Result<()> {
        let mut stack = vec![(top.to_path_buf(), stat, is_root)];
        while let Some((path, stat, root)) = stack.pop() {
            if !self.visited.insert(stat.identity()) {
                continue;
            }
            let mut record = DirRecord {
                path: path.clone(),
                stat,
                names: Vec::new(),
                files: Vec::new(),
                links: Vec::new(),
                others: Vec::new(),
            };
            for entry in fs::read_dir(&path).map_err(io_err("read", &path))? {
                let entry = entry.map_err(io_err("read", &path))?;
                let name = utf8_name(&entry.file_name(), &path)?;
                let child = path.join(&name);
                let lstat = entry.file_type().map_err(io_err("stat", &child))?;
                if lstat.is_symlink() {
                    let target = fs::read_link(&child).map_err(io_err("read", &child))?;
                    let target = utf8_name(target.as_os_str(), &path)?;
                    record.links.push(LinkEntry {
                        name: name.clone(),
                        target,
                    });
                }
                if root && is_startup(&name) {
                    self.startup.push(child.clone());
                }
                match Stat::path(&child) {
                    Ok((stat, Kind::File)) => record.files.push(FileEntry {
                        name: name.clone(),
                        stat,
                        blake3: String::new(),
                    }),
                    Ok((stat, Kind::Dir)) => {
                        let canon = fs::canonicalize(&child).unwrap_or_else(|_| child.clone());
                        let on_path = self.path_dirs.contains(&canon);
                        if self.excluded(&child) {
                            // The project: the frozen set's business.
                        } else if root
                            && (name == "site-packages" || name == "dist-packages")
                            && !on_path
                        {
                            self.skipped.push(child.clone());
                        } else {
                            stack.push((child, stat, on_path));
                        }
                    }
                    _ => record.others.push(name.clone()),
                }
                record.names.push(name);
            }
            record.names.sort();
            record.files.sort_by(|a, b| a.name.cmp(&b.name));
            record.links.sort_by(|a, b| a.name.cmp(&b.name));
            record.others.sort();
            self.dirs.push(record);
        }
        Ok(())
    }
}

/// Test helpers shared with `python.rs`: the interpreters tests run.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// A missing tool fails the test (it never passes by skipping); the
    /// message says how to install it.
    pub(crate) fn missing(what: &str) -> ! {
        panic!("this test needs {what}; `.ci/run` installs it")
    }

    /// A Python 3 with the `venv` module: `sys.executable` of `python3`.
    pub(crate) fn python3() -> PathBuf {
        let out = Command::new("python3")
            .args([
                "-I",
                "-c",
                "import sys, venv; sys.stdout.write(sys.executable)",
            ])
            .output();
        match out {
            Ok(o) if o.status.success() && !o.stdout.is_empty() => {
                PathBuf::from(String::from_utf8_lossy(&o.stdout).into_owned())
            }
            _ => missing("python3 (with the venv module) on PATH"),
        }
    }

    /// The Python with Gluepy 1.6.0: `$GLUEPY_PYTHON`, else the workspace's
    /// `bench/.venv` (made by `bench/setup-gluepy.sh`). Absolute but not
    /// resolved: a venv's python is a symlink whose target does not see the
    /// venv's packages.
    pub(crate) fn gluepy_python() -> PathBuf {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let candidate = std::env::var_os("GLUEPY_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("bench/.venv/bin/python"));
        let ok = Command::new(&candidate)
            .args([
                "-I",
                "-c",
                "import importlib.metadata as m, sys; sys.exit(m.version('gluepy') != '1.6.0')",
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            std::path::absolute(&candidate).unwrap_or(candidate)
        } else {
            missing(&format!(
                "Gluepy 1.6.0 at {} (run bench/setup-gluepy.sh)",
                candidate.display()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn write(path: &Path, text: &str) {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).unwrap();
        }
        fs::write(path, text).unwrap();
    }

    /// A made-up installation: a stdlib folder holding `lib-dynload` and a
    /// `site-packages` of the base install, a venv `site-packages`, an
    /// executable, `pyvenv.cfg`, and a zip on the path that does not exist.
    struct FakeEnv {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        interpreter: Interpreter,
        stdlib: PathBuf,
        site: PathBuf,
    }

    impl FakeEnv {
        fn new() -> Self {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().canonicalize().unwrap();
            let stdlib = root.join("base/lib/python3.99");
            let site = root.join("venv/lib/python3.99/site-packages");
            write(&stdlib.join("os.py"), "import sys\n");
            write(&stdlib.join("json/__init__.py"), "def dumps(x): ...\n");
            write(
                &stdlib.join("json/__pycache__/__init__.cpython-399.pyc"),
                "bytecode",
            );
            write(&stdlib.join("lib-dynload/_json.so"), "ELF");
            write(&stdlib.join("site-packages/unrelated.py"), "x = 1\n");
            write(&site.join("helper.py"), "def score(x):\n    return x\n");
            write(&site.join("pkg/__init__.py"), "");
            write(&site.join("pkg-1.0.dist-info/METADATA"), "Name: pkg\n");
            write(&site.join("distutils-precedence.pth"), "import os\n");
            write(&root.join("base/bin/python3.99"), "ELF python");
            write(&root.join("venv/pyvenv.cfg"), "home = base/bin\n");
            let interpreter = Interpreter {
                executable: root.join("base/bin/python3.99"),
                prefix: root.join("venv"),
                base_prefix: root.join("base"),
                path: vec![
                    root.join("base/lib/python399.zip"),
                    stdlib.clone(),
                    stdlib.join("lib-dynload"),
                    site.clone(),
                ],
                version: "3.99".into(),
                libpython: None,
            };
            Self {
                _tmp: tmp,
                root,
                interpreter,
                stdlib,
                site,
            }
        }

        fn record(&self) -> Manifest {
            let project = self.root.join("project");
            fs::create_dir_all(&project).unwrap();
            Manifest::from_interpreter(self.interpreter.clone(), &project).unwrap()
        }
    }

    fn changes(m: &Manifest) -> Vec<Change> {
        m.verify().err().map(|c| c.changes).unwrap_or_default()
    }

    #[test]
    fn an_untouched_environment_verifies_and_round_trips() {
        let env = FakeEnv::new();
        let m = env.record();
        assert_eq!(m.verify(), Ok(()));
        let json = serde_json::to_string(&m).unwrap();
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.verify(), Ok(()));
        // lib-dynload is walked once (inside the stdlib folder), the base
        // site-packages is not on this path and is skipped, the zip is absent.
        let dynload = env.stdlib.join("lib-dynload");
        assert_eq!(m.dirs.iter().filter(|d| d.path == dynload).count(), 1);
        assert_eq!(m.skipped, [env.stdlib.join("site-packages")]);
        assert!(m.absent.contains(&env.root.join("base/lib/python399.zip")));
        assert!(m.absent.contains(&env.root.join("base/bin/python3._pth")));
        assert!(m.absent.contains(&env.root.join("base/bin/pyvenv.cfg")));
        assert_eq!(m.startup, [env.site.join("distutils-precedence.pth")]);
        assert!(m
            .files
            .iter()
            .any(|f| f.path == env.root.join("venv/pyvenv.cfg")));
        assert!(m
            .dirs
            .iter()
            .any(|d| d.path == env.stdlib.join("json/__pycache__")));
    }

    #[test]
    fn touching_a_file_without_changing_its_bytes_is_no_change() {
        let env = FakeEnv::new();
        let m = env.record();
        let helper = env.site.join("helper.py");
        let text = fs::read(&helper).unwrap();
        fs::write(&helper, text).unwrap();
        assert_eq!(m.verify(), Ok(()));
    }

    #[test]
    fn new_startup_files_and_shadowing_modules_are_changes() {
        let env = FakeEnv::new();
        let m = env.record();
        let planted = [
            env.site.join("zzz-evil.pth"),
            env.site.join("sitecustomize.py"),
            env.site.join("json.py"),
            env.stdlib.join("helper.py"),
            env.site.join("pkg/extra.py"),
        ];
        for p in &planted {
            write(p, "import os\n");
        }
        let mut want: Vec<Change> = planted.iter().cloned().map(Change::Added).collect();
        want.sort();
        assert_eq!(changes(&m), want);
        for p in &planted {
            fs::remove_file(p).unwrap();
        }
        assert_eq!(m.verify(), Ok(()));
    }

    #[test]
    fn an_edit_with_its_mtime_restored_is_a_change() {
        let env = FakeEnv::new();
        let m = env.record();
        let helper = env.site.join("helper.py");
        let mtime = fs::metadata(&helper).unwrap().modified().unwrap();
        // Same size, other bytes, old mtime: only the ctime tells.
        std::thread::sleep(Duration::from_millis(20));
        fs::write(&helper, "def score(x):\n    return 0\n").unwrap();
        File::options()
            .write(true)
            .open(&helper)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(fs::metadata(&helper).unwrap().modified().unwrap(), mtime);
        assert_eq!(changes(&m), [Change::Modified(helper)]);
    }

    #[test]
    fn removals_absent_paths_appearing_and_links_are_changes() {
        let env = FakeEnv::new();
        let target_a = env.root.join("a.py");
        let target_b = env.root.join("b.py");
        write(&target_a, "A = 1\n");
        write(&target_b, "A = 1\n");
        std::os::unix::fs::symlink(&target_a, env.site.join("linked.py")).unwrap();
        let m = env.record();
        assert_eq!(m.verify(), Ok(()));

        // Re-pointing a link at a file with the same bytes still counts.
        fs::remove_file(env.site.join("linked.py")).unwrap();
        std::os::unix::fs::symlink(&target_b, env.site.join("linked.py")).unwrap();
        fs::remove_file(env.stdlib.join("os.py")).unwrap();
        write(&env.root.join("base/lib/python399.zip"), "PK");
        write(&env.root.join("base/bin/python3._pth"), "/tmp/evil\n");
        fs::write(env.root.join("venv/pyvenv.cfg"), "home = elsewhere\n").unwrap();
        let mut want = vec![
            Change::Modified(env.site.join("linked.py")),
            Change::Removed(env.stdlib.join("os.py")),
            Change::Added(env.root.join("base/lib/python399.zip")),
            Change::Added(env.root.join("base/bin/python3._pth")),
            Change::Modified(env.root.join("venv/pyvenv.cfg")),
        ];
        want.sort();
        assert_eq!(changes(&m), want);
    }

    #[test]
    fn the_project_folder_and_skipped_site_packages_are_left_out() {
        let env = FakeEnv::new();
        let mut interpreter = env.interpreter.clone();
        let project = env.site.join("myproject");
        write(&project.join("tasks.py"), "x = 1\n");
        interpreter.path.insert(0, project.clone());
        let m = Manifest::from_interpreter(interpreter, &project).unwrap();
        assert!(!m.dirs.iter().any(|d| d.path.starts_with(&project)));
        write(&project.join("tasks.py"), "x = 2\n");
        write(&env.stdlib.join("site-packages/unrelated.py"), "x = 2\n");
        assert_eq!(m.verify(), Ok(()));
    }

    #[test]
    fn the_error_is_one_line_naming_the_first_changes() {
        let c = Changed {
            changes: (0..7)
                .map(|i| Change::Added(PathBuf::from(format!("/p/m{i}.pth"))))
                .collect(),
        };
        let s = c.to_string();
        assert!(!s.contains('\n'));
        assert!(s.contains("7 change(s): /p/m0.pth (added);"), "{s}");
        assert!(s.contains("and 2 more"), "{s}");
    }

    #[test]
    fn isolated_command_clears_the_environment_and_isolates_python() {
        let cmd = isolated_command("python3", ["-c", "pass"]);
        let args: Vec<&OsStr> = cmd.get_args().collect();
        assert_eq!(args, ["-I", "-B", "-c", "pass"]);
        let envs: Vec<(&OsStr, Option<&OsStr>)> = cmd.get_envs().collect();
        assert_eq!(envs.len(), 1, "{envs:?}");
        assert_eq!(envs[0].0, "PATH");
    }

    /// Timings on the Gluepy venv (`bench/.venv`: gluepy, pandas, pyarrow
    /// and a pyenv stdlib): `cargo test -p gluers-experiment --lib
    /// measure_gluepy_venv -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn measure_gluepy_venv() {
        let python = testing::gluepy_python();
        let project = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let m = Manifest::record(&python, project.path()).unwrap();
        let record = t.elapsed();
        let t = Instant::now();
        let json = serde_json::to_vec(&m).unwrap();
        let save = t.elapsed();
        let t = Instant::now();
        let back: Manifest = serde_json::from_slice(&json).unwrap();
        let load = t.elapsed();
        let mut verify = Vec::new();
        for _ in 0..7 {
            let t = Instant::now();
            assert_eq!(back.verify(), Ok(()));
            verify.push(t.elapsed());
        }
        verify.sort();
        eprintln!(
            "record {record:?} ({} files, {} MB, {} folders); manifest {} KB, \
             serialise {save:?}, parse {load:?}; verify warm min {:?} median {:?} max {:?}",
            m.totals.0,
            m.totals.1 >> 20,
            m.dirs.len(),
            json.len() >> 10,
            verify[0],
            verify[3],
            verify[6]
        );
    }

    /// A real interpreter: a throw-away venv of `python3` (nothing shared
    /// is modified), with one module in its site-packages.
    #[test]
    fn a_real_venv_catches_pth_sitecustomize_touch_r_and_shadowing() {
        let python = testing::python3();
        let tmp = tempfile::tempdir().unwrap();
        let venv = tmp.path().canonicalize().unwrap().join("venv");
        let ok = Command::new(&python)
            .args(["-I", "-m", "venv", "--without-pip"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(ok.success());
        let venv_python = venv.join("bin/python");
        let interp = Interpreter::probe(&venv_python).unwrap();
        let site = interp
            .path
            .iter()
            .find(|p| p.starts_with(&venv) && p.ends_with("site-packages"))
            .unwrap()
            .clone();
        let helper = site.join("helper.py");
        write(&helper, "def score(x):\n    return x\n");
        let project = tmp.path().join("project");
        fs::create_dir_all(&project).unwrap();
        let t = Instant::now();
        let m = Manifest::record(&venv_python, &project).unwrap();
        eprintln!(
            "record: {} files, {} MB in {:?}",
            m.totals.0,
            m.totals.1 >> 20,
            t.elapsed()
        );
        assert_eq!(m.verify(), Ok(()));

        // 1. A new .pth file.
        let pth = site.join("zz.pth");
        write(&pth, "import os; os.environ['X'] = '1'\n");
        assert_eq!(changes(&m), [Change::Added(pth.clone())]);
        fs::remove_file(&pth).unwrap();
        // 2. A planted sitecustomize.py.
        let sc = site.join("sitecustomize.py");
        write(&sc, "import builtins\n");
        assert_eq!(changes(&m), [Change::Added(sc.clone())]);
        fs::remove_file(&sc).unwrap();
        // 3. An edited module with its mtime restored by `touch -r`.
        let reference = tmp.path().join("ref");
        fs::write(&reference, "").unwrap();
        let touch = |a: &Path, b: &Path| {
            assert!(Command::new("touch")
                .arg("-r")
                .args([a, b])
                .status()
                .unwrap()
                .success());
        };
        touch(&helper, &reference);
        fs::write(&helper, "def score(x):\n    return 0\n").unwrap();
        touch(&reference, &helper);
        assert_eq!(
            fs::metadata(&helper).unwrap().modified().unwrap(),
            fs::metadata(&reference).unwrap().modified().unwrap()
        );
        assert_eq!(changes(&m), [Change::Modified(helper.clone())]);
        fs::write(&helper, "def score(x):\n    return x\n").unwrap();
        // 4. A module named like a stdlib one.
        let shadow = site.join("json.py");
        write(&shadow, "def dumps(x): return '{}'\n");
        assert_eq!(changes(&m), [Change::Added(shadow.clone())]);
        fs::remove_file(&shadow).unwrap();
        assert_eq!(m.verify(), Ok(()));
    }
}
