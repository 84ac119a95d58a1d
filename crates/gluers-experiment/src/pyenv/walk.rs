//! The walk of the interpreter's `sys.path` at init: the folders, files,
//! links and start-up files [`Manifest`](super::Manifest) records, before
//! their hashes.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{ExperimentError, Result};

use super::manifest::{DirRecord, FileEntry, FileRecord, Kind, LinkEntry, Stat};

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

/// The walk of `sys.path` at init.
pub(super) struct Walk<'a> {
    pub(super) project: &'a Path,
    /// `sys.path` folders, canonical: a nested one is walked on its own.
    pub(super) path_dirs: HashSet<PathBuf>,
    /// Folders already walked, by (device, inode): a folder reached twice
    /// (`lib-dynload` inside the stdlib folder, a symlink loop) is walked once.
    pub(super) visited: HashSet<(u64, u64)>,
    pub(super) dirs: Vec<DirRecord>,
    pub(super) files: Vec<FileRecord>,
    pub(super) absent: Vec<PathBuf>,
    pub(super) skipped: Vec<PathBuf>,
    pub(super) startup: Vec<PathBuf>,
}

impl Walk<'_> {
    fn excluded(&self, p: &Path) -> bool {
        p.starts_with(self.project)
            || fs::canonicalize(p).is_ok_and(|c| c.starts_with(self.project))
    }

    pub(super) fn root(&mut self, root: &Path) -> Result<()> {
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

    pub(super) fn single(&mut self, p: &Path) -> Result<()> {
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
