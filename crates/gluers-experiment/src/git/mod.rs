//! A hardened wrapper over the `git` command line.
//!
//! The engine drives the real `git` (never a library reimplementation), so
//! that what it records is what the user sees typing git commands. But the
//! repository is the hostile agent's workspace: its `.git/config`, hooks and
//! attributes, and the environment the engine was started with, are
//! attacker-controlled (DESIGN.md, trust model, property 6). A git process
//! started by the engine runs nothing the repository or the caller chose:
//!
//! * its environment is emptied and rebuilt from an allow-list
//!   ([`FIXED_ENV`](hardening::FIXED_ENV) and
//!   [`PASSED_ENV`](hardening::PASSED_ENV)): no `GIT_DIR`, `GIT_WORK_TREE`,
//!   `GIT_INDEX_FILE`, `GIT_OBJECT_DIRECTORY`,
//!   `GIT_ALTERNATE_OBJECT_DIRECTORIES`, `GIT_CONFIG_*`, `GIT_EXEC_PATH`, ...
//!   of the caller reaches it, and
//!   neither the system nor the user's global config is read;
//! * the repository is named explicitly (`--git-dir`, `--work-tree`), so
//!   `core.worktree` in the repository's config cannot redirect it;
//! * attributes are read from the empty tree (`--attr-source`), so no
//!   `.gitattributes` selects a filter, an eol conversion or `export-ignore`;
//!   git still reads `info/attributes` in the git dir whatever the attribute
//!   source, so every filter driver named there is disabled by name
//!   (`driver_overrides` in [`hardening`]);
//! * `-c` overrides ([`OVERRIDES`](hardening::OVERRIDES)) switch off
//!   everything that runs a program (hooks, fsmonitor, pager, editor, ssh,
//!   signing, automatic maintenance, transports) or decides which stat data
//!   git trusts;
//! * commits carry an identity the engine chose ([`Identity`]), since the
//!   user's global config is not read.
//!
//! Residual, by design: conversions git applies in-process from
//! `info/attributes` (`text`, `eol`, `ident`, `working-tree-encoding`) still
//! apply; they run no program, and the engine never trusts git's view of
//! file contents (frozen files are hashed in-process). Diffs the engine
//! asks for are `--name-status` only, which never run `textconv` or an
//! external diff driver; a future patch-producing diff must add
//! `--no-ext-diff --no-textconv`.
//!
//! The hardening itself (the environment allow-list, the `-c` overrides, the
//! attribute source and the filter drivers of `info/attributes`) is in
//! [`hardening`], the commit identity in [`identity`]; this file holds the
//! [`Git`] wrapper, [`Started`] and the parsing of git's output.

mod hardening;
mod identity;
#[cfg(test)]
mod tests;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, OnceLock};

use crate::error::{ExperimentError, Result};

pub(crate) use hardening::ObjectFormat;
use hardening::{base_env, config_object_format, parse_version, resolve_git_dir, MIN_VERSION};
pub(crate) use identity::Identity;

/// Runs git commands on one repository, hardened as the module says.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    /// The work tree root: the current directory and `--work-tree`.
    dir: PathBuf,
    /// `--git-dir`.
    git_dir: PathBuf,
    /// The common git dir, where git reads `info/attributes`.
    common_dir: PathBuf,
    /// Decides the empty tree given to `--attr-source`.
    format: ObjectFormat,
    /// The commit identity, chosen on first need and shared by clones.
    identity: Arc<OnceLock<Identity>>,
}

impl Git {
    /// A runner for the work tree rooted at `dir`, whose `.git` entry (a
    /// folder, or a file naming one as in linked worktrees) is the
    /// repository. Nothing is run: the git dir is resolved from the file
    /// system, and a wrong guess makes git fail loudly.
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let (git_dir, common_dir) = resolve_git_dir(&dir.join(".git"));
        let format = std::fs::read_to_string(common_dir.join("config"))
            .ok()
            .and_then(|text| config_object_format(&text))
            .unwrap_or(ObjectFormat::Sha1);
        Self::with_dirs(dir, git_dir, common_dir, format)
    }

    /// A runner with every location given (as `git rev-parse` reported
    /// them).
    pub(crate) fn with_dirs(
        work_tree: impl Into<PathBuf>,
        git_dir: impl Into<PathBuf>,
        common_dir: impl Into<PathBuf>,
        format: ObjectFormat,
    ) -> Self {
        Self {
            dir: work_tree.into(),
            git_dir: git_dir.into(),
            common_dir: common_dir.into(),
            format,
            identity: Arc::new(OnceLock::new()),
        }
    }

    /// The same repository with its locations and object format as
    /// `rev-parse --absolute-git-dir --git-common-dir --show-object-format`
    /// printed them (what git resolved beats what [`Git::new`] guessed).
    pub(crate) fn resolved(&self, git_dir: &str, common_dir: &str, format: &str) -> Self {
        Self {
            dir: self.dir.clone(),
            git_dir: PathBuf::from(git_dir),
            common_dir: PathBuf::from(common_dir),
            format: ObjectFormat::parse(format).unwrap_or(self.format),
            identity: Arc::clone(&self.identity),
        }
    }

    /// Checks that `git` can be started at all and is recent enough.
    pub(crate) fn check_installed() -> Result<()> {
        let out = Command::new("git")
            .arg("--version")
            .env_clear()
            .envs(base_env(|k| std::env::var_os(k)))
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(out) if out.status.success() => {
                let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
                // An unparsable version is let through: the first real call
                // then says what is wrong.
                match parse_version(&text) {
                    Some(v) if v < MIN_VERSION => Err(ExperimentError::GitTooOld {
                        version: text,
                        minimum: format!("{}.{}", MIN_VERSION.0, MIN_VERSION.1),
                    }),
                    _ => Ok(()),
                }
            }
            Ok(out) => Err(ExperimentError::GitMissing(first_lines(&out.stderr))),
            Err(e) => Err(ExperimentError::GitMissing(e.to_string())),
        }
    }

    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        let inv = self.invocation(&args);
        let mut cmd = Command::new("git");
        cmd.current_dir(&self.dir)
            .env_clear()
            .envs(inv.env)
            .args(inv.argv)
            .stdin(Stdio::null());
        cmd
    }

    /// Commits the index with `message`: no hook (`--no-verify`, and hooks
    /// are off anyway), no signature, the engine's [`Identity`].
    pub(crate) fn commit(&self, message: &str) -> Result<()> {
        self.run(&[
            "commit",
            "--quiet",
            "--no-verify",
            "--no-gpg-sign",
            "-m",
            message,
        ])
        .map(drop)
    }

    /// Runs git and returns its raw output, whatever the exit status.
    pub(crate) fn output<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(args).output().map_err(spawn_error)
    }

    /// Runs git, requiring success, and returns stdout without the trailing
    /// newline.
    pub(crate) fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String> {
        let out = self.output(args)?;
        if !out.status.success() {
            return Err(self.failure(args, &out));
        }
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        while s.ends_with('\n') || s.ends_with('\r') {
            s.pop();
        }
        Ok(s)
    }

    /// Runs git and reports whether it exited with status 0 (for predicates
    /// such as `merge-base --is-ancestor`).
    pub(crate) fn succeeds<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<bool> {
        Ok(self.output(args)?.status.success())
    }

    /// Runs git with `input` on stdin, requiring success; returns stdout's
    /// raw bytes (for `cat-file --batch`).
    pub(crate) fn run_with_input_bytes<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        input: &[u8],
    ) -> Result<Vec<u8>> {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        // The input is written while the output is read: git answers as it
        // reads (`--stdin-paths`), and once both pipes are full, writing all
        // of it first would wait forever (a few thousand paths suffice).
        let stdin = child.stdin.take();
        let out = std::thread::scope(|scope| {
            if let Some(mut stdin) = stdin {
                // A write error shows up as a failed exit status below; the
                // pipe closes when the thread ends.
                scope.spawn(move || {
                    let _ = stdin.write_all(input);
                });
            }
            child.wait_with_output()
        })
        .map_err(spawn_error)?;
        if !out.status.success() {
            return Err(self.failure(args, &out));
        }
        Ok(out.stdout)
    }

    /// Paths printed NUL-separated by a `-z` command.
    pub(crate) fn run_z<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Vec<String>> {
        let out = self.output(args)?;
        if !out.status.success() {
            return Err(self.failure(args, &out));
        }
        Ok(split_z(&out.stdout))
    }

    /// Starts git without waiting for it, so that independent queries run
    /// side by side (each costs a process start, which dominates small
    /// queries); [`Started`] collects the result.
    pub(crate) fn start<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Started> {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        Ok(Started {
            git: self.clone(),
            args: args.iter().map(|a| a.as_ref().to_os_string()).collect(),
            child: Some(child),
        })
    }

    fn failure<S: AsRef<OsStr>>(&self, args: &[S], out: &Output) -> ExperimentError {
        let args = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut message = first_lines(&out.stderr);
        if message.is_empty() {
            message = format!("exit status {}", out.status);
        }
        ExperimentError::Git {
            args,
            dir: self.dir.clone(),
            message,
        }
    }

    /// The full hash of a revision.
    pub(crate) fn rev_parse(&self, rev: &str) -> Result<String> {
        self.run(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
    }

    /// The short (unambiguous) hash of a revision.
    pub(crate) fn short(&self, rev: &str) -> Result<String> {
        self.run(&["rev-parse", "--short", rev])
    }

    /// The current branch name, or `None` on a detached HEAD.
    pub(crate) fn current_branch(&self) -> Result<Option<String>> {
        let out = self.output(["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        if out.status.success() {
            Ok(Some(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            ))
        } else {
            Ok(None)
        }
    }

    /// `git status --porcelain` entries (paths relative to the repository
    /// root); untracked files included when `untracked`, ignored files never.
    pub(crate) fn status_paths(&self, untracked: bool) -> Result<Vec<String>> {
        let mode = if untracked {
            "--untracked-files=all"
        } else {
            "--untracked-files=no"
        };
        let entries = self.run_z(&["status", "--porcelain=v1", "-z", mode])?;
        let mut paths = Vec::new();
        let mut iter = entries.into_iter();
        while let Some(entry) = iter.next() {
            let (code, path) = entry.split_at(entry.len().min(3));
            paths.push(path.to_string());
            // Renames and copies carry the original path as the next entry.
            if code.starts_with('R') || code.starts_with('C') {
                iter.next();
            }
        }
        Ok(paths)
    }

    /// `git status --porcelain=v2 --branch` in one call: the commit HEAD
    /// points to (`None` before the first commit) and the changed paths, as
    /// [`Git::status_paths`] gives them.
    pub(crate) fn status_with_head(&self, untracked: bool) -> Result<Status> {
        let entries = self.run_z(&status_v2_args(untracked))?;
        Ok(parse_status_v2(entries))
    }

    /// Starts a query for the full and the short (unambiguous) hash of each
    /// revision, in one call; a revision given twice, or two naming the same
    /// commit, give one pair.
    pub(crate) fn full_and_short(&self, revs: &[&str]) -> Result<FullAndShort> {
        let mut args = vec![
            "log",
            "--no-walk=unsorted",
            "--no-show-signature",
            "--format=%H %h",
        ];
        args.extend_from_slice(revs);
        args.push("--");
        Ok(FullAndShort(self.start(&args)?))
    }

    /// Whether a local branch exists.
    pub(crate) fn branch_exists(&self, name: &str) -> Result<bool> {
        self.succeeds(&[
            "show-ref",
            "--verify",
            "--quiet",
            &format!("refs/heads/{name}"),
        ])
    }
}

/// A git command started by [`Git::start`]. Dropping it unfinished kills
/// and reaps the process.
#[derive(Debug)]
pub(crate) struct Started {
    git: Git,
    args: Vec<OsString>,
    child: Option<Child>,
}

impl Started {
    fn output(&mut self) -> Result<Output> {
        let child = self
            .child
            .take()
            .ok_or_else(|| spawn_error(std::io::Error::other("already collected")))?;
        child.wait_with_output().map_err(spawn_error)
    }

    /// Waits for it, requiring success; its stdout without the trailing
    /// newline.
    pub(crate) fn finish(mut self) -> Result<String> {
        let out = self.output()?;
        if !out.status.success() {
            return Err(self.git.failure(&self.args, &out));
        }
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        while s.ends_with('\n') || s.ends_with('\r') {
            s.pop();
        }
        Ok(s)
    }
}

/// The arguments of `git status --porcelain=v2 --branch -z`.
fn status_v2_args(untracked: bool) -> [&'static str; 5] {
    let mode = if untracked {
        "--untracked-files=all"
    } else {
        "--untracked-files=no"
    };
    ["status", "--porcelain=v2", "--branch", "-z", mode]
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// [`Git::full_and_short`], running.
#[derive(Debug)]
pub(crate) struct FullAndShort(Started);

impl FullAndShort {
    /// Waits for the pairs (full hash, short hash).
    pub(crate) fn finish(self) -> Result<Vec<(String, String)>> {
        Ok(self
            .0
            .finish()?
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(f, s)| (f.to_string(), s.to_string()))
            .collect())
    }
}

/// The non-empty NUL-separated fields of `bytes`.
fn split_z(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// What `git status --porcelain=v2 --branch` reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Status {
    /// The commit HEAD points to; `None` before the first commit.
    pub head: Option<String>,
    /// Changed paths (relative to the repository root); for a rename or
    /// copy, the new path.
    pub paths: Vec<String>,
}

/// Parses the NUL-separated records of `git status --porcelain=v2 --branch
/// -z`.
fn parse_status_v2(records: Vec<String>) -> Status {
    let mut status = Status::default();
    let mut iter = records.into_iter();
    while let Some(rec) = iter.next() {
        // The path is the last field; the number of fields before it depends
        // on the record type.
        let fields_before_path = match rec.as_bytes().first() {
            Some(b'#') => {
                if let Some(oid) = rec.strip_prefix("# branch.oid ") {
                    if oid != "(initial)" {
                        status.head = Some(oid.to_string());
                    }
                }
                continue;
            }
            Some(b'1') => 8,
            Some(b'2') => 9,
            Some(b'u') => 10,
            Some(b'?' | b'!') => 1,
            _ => continue,
        };
        if let Some(path) = rec
            .splitn(fields_before_path + 1, ' ')
            .nth(fields_before_path)
        {
            status.paths.push(path.to_string());
        }
        // Renames and copies carry the original path as the next record.
        if rec.starts_with('2') {
            iter.next();
        }
    }
    status
}

/// The first few lines of a process's stderr, joined into one line.
pub(crate) fn first_lines(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A repository-relative path spelled for a pathspec that matches it
/// literally (no glob, no magic).
pub(crate) fn literal_pathspec(path: &str) -> String {
    format!(":(literal){path}")
}

/// The error for a git process that could not be started.
fn spawn_error(source: std::io::Error) -> ExperimentError {
    ExperimentError::Spawn {
        program: "git".into(),
        source,
    }
}
