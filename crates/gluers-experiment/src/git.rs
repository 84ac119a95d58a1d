//! A thin wrapper over the `git` command line.
//!
//! The engine drives the real `git` (never a library reimplementation), so
//! that what it does is exactly what the user would see typing the same
//! commands.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use crate::error::{ExperimentError, Result};

/// Runs git commands in one directory.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    dir: PathBuf,
}

impl Git {
    /// A runner for commands executed in `dir`.
    pub(crate) fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Checks that `git` can be started at all.
    pub(crate) fn check_installed() -> Result<()> {
        match Command::new("git").arg("--version").output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(ExperimentError::GitMissing(first_lines(&out.stderr))),
            Err(e) => Err(ExperimentError::GitMissing(e.to_string())),
        }
    }

    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("git");
        cmd.current_dir(&self.dir)
            .args(["-c", "core.quotepath=off"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        cmd
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

    /// Runs git with `input` on stdin, requiring success; returns stdout.
    pub(crate) fn run_with_input<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        input: &[u8],
    ) -> Result<String> {
        let out = self.run_with_input_bytes(args, input)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
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

    /// [`Git::status_with_head`], started to run alongside other work;
    /// [`Started::finish_status`] collects it.
    pub(crate) fn start_status_with_head(&self, untracked: bool) -> Result<Started> {
        self.start(&status_v2_args(untracked))
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

    /// Waits for it and reports whether it exited with status 0.
    pub(crate) fn succeeds(mut self) -> Result<bool> {
        Ok(self.output()?.status.success())
    }

    /// Waits for it, requiring success; the paths it printed NUL-separated.
    pub(crate) fn finish_z(mut self) -> Result<Vec<String>> {
        let out = self.output()?;
        if !out.status.success() {
            return Err(self.git.failure(&self.args, &out));
        }
        Ok(split_z(&out.stdout))
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

    /// The result of [`Git::start_status_with_head`].
    pub(crate) fn finish_status(self) -> Result<Status> {
        Ok(parse_status_v2(self.finish_z()?))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_v2_records_give_head_and_paths() {
        let records = [
            "# branch.oid 0123456789abcdef0123456789abcdef01234567",
            "# branch.head experiment/x",
            "1 .M N... 100644 100644 100644 aaaa bbbb src/a file.rs",
            "2 R. N... 100644 100644 100644 aaaa bbbb R100 new name.rs",
            "old name.rs",
            "u UU N... 100644 100644 100644 100644 aaaa bbbb cccc conflict.rs",
            "? data/new.csv",
        ]
        .map(String::from)
        .to_vec();
        let s = parse_status_v2(records);
        assert_eq!(
            s.head.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(
            s.paths,
            [
                "src/a file.rs",
                "new name.rs",
                "conflict.rs",
                "data/new.csv"
            ]
        );
        let initial = parse_status_v2(vec!["# branch.oid (initial)".into()]);
        assert_eq!(initial, Status::default());
    }
}

#[cfg(test)]
mod input_tests {
    use super::*;

    #[test]
    fn a_long_input_does_not_block_on_full_pipes() {
        let dir = tempfile::tempdir().unwrap();
        let git = Git::new(dir.path());
        git.run(&["init", "-q"]).unwrap();
        let n = 20_000;
        for i in 0..n {
            std::fs::write(dir.path().join(format!("f{i}")), i.to_string()).unwrap();
        }
        let input: String = (0..n).map(|i| format!("f{i}\n")).collect();
        // A deadlock fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(git.run_with_input(
                &["hash-object", "--no-filters", "--stdin-paths"],
                input.as_bytes(),
            ));
        });
        let out = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("git hash-object --stdin-paths got stuck")
            .unwrap();
        assert_eq!(out.lines().count(), n);
    }
}
