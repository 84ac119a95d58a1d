//! A thin wrapper over the `git` command line.
//!
//! The engine drives the real `git` (never a library reimplementation), so
//! that what it does is exactly what the user would see typing the same
//! commands.

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

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
        self.command(args)
            .output()
            .map_err(|e| ExperimentError::Spawn {
                program: "git".into(),
                source: e,
            })
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
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ExperimentError::Spawn {
                program: "git".into(),
                source: e,
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A write error shows up as a failed exit status below.
            let _ = stdin.write_all(input);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| ExperimentError::Spawn {
                program: "git".into(),
                source: e,
            })?;
        if !out.status.success() {
            return Err(self.failure(args, &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Paths printed NUL-separated by a `-z` command.
    pub(crate) fn run_z<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Vec<String>> {
        let out = self.output(args)?;
        if !out.status.success() {
            return Err(self.failure(args, &out));
        }
        Ok(out
            .stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect())
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

    /// Whether a local branch exists.
    pub(crate) fn branch_exists(&self, name: &str) -> Result<bool> {
        self.succeeds(&[
            "show-ref",
            "--verify",
            "--quiet",
            &format!("refs/heads/{name}"),
        ])
    }

    /// Whether `ancestor` is an ancestor of (or equal to) `rev`.
    pub(crate) fn is_ancestor(&self, ancestor: &str, rev: &str) -> Result<bool> {
        self.succeeds(&["merge-base", "--is-ancestor", ancestor, rev])
    }
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
