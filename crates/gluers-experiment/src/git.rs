//! A hardened wrapper over the `git` command line.
//!
//! The engine drives the real `git` (never a library reimplementation), so
//! that what it records is what the user sees typing git commands. But the
//! repository is the hostile agent's workspace: its `.git/config`, hooks and
//! attributes, and the environment the engine was started with, are
//! attacker-controlled (DESIGN.md, trust model, property 6). A git process
//! started by the engine runs nothing the repository or the caller chose:
//!
//! * its environment is emptied and rebuilt from an allow-list ([`FIXED_ENV`]
//!   and [`PASSED_ENV`]): no `GIT_DIR`, `GIT_WORK_TREE`, `GIT_INDEX_FILE`,
//!   `GIT_OBJECT_DIRECTORY`, `GIT_ALTERNATE_OBJECT_DIRECTORIES`,
//!   `GIT_CONFIG_*`, `GIT_EXEC_PATH`, ... of the caller reaches it, and
//!   neither the system nor the user's global config is read;
//! * the repository is named explicitly (`--git-dir`, `--work-tree`), so
//!   `core.worktree` in the repository's config cannot redirect it;
//! * attributes are read from the empty tree (`--attr-source`), so no
//!   `.gitattributes` selects a filter, an eol conversion or `export-ignore`;
//!   git still reads `info/attributes` in the git dir whatever the attribute
//!   source, so every filter driver named there is disabled by name
//!   ([`driver_overrides`]);
//! * `-c` overrides ([`OVERRIDES`]) switch off everything that runs a
//!   program (hooks, fsmonitor, pager, editor, ssh, signing, automatic
//!   maintenance, transports) or decides which stat data git trusts;
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

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, OnceLock};

use crate::error::{ExperimentError, Result};

/// The oldest git the engine runs with: `--attr-source` appeared in 2.40,
/// and without it `.gitattributes` could select a filter the engine runs.
const MIN_VERSION: (u32, u32) = (2, 40);

/// Environment variables every git process gets, whatever the caller's
/// environment says.
const FIXED_ENV: [(&str, &str); 9] = [
    // git's messages, which the engine parses and shows, in one language.
    ("LC_ALL", "C"),
    // Never wait for a password nobody will type.
    ("GIT_TERMINAL_PROMPT", "0"),
    // Only the repository's config (and the overrides below) is read: the
    // system and global files are not the engine's to trust, and their
    // settings would make the engine behave unlike on another machine.
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_ATTR_NOSYSTEM", "1"),
    // `refs/replace/` would let a ref make one commit look like another.
    ("GIT_NO_REPLACE_OBJECTS", "1"),
    // A missing object in a partial clone would be fetched, running a
    // transport the repository's config chose (git 2.44+; older gits are
    // held by the `protocol.*` overrides).
    ("GIT_NO_LAZY_FETCH", "1"),
    // Read-only commands (`status`) do not take the index lock nor rewrite
    // the index: a query never changes the repository.
    ("GIT_OPTIONAL_LOCKS", "0"),
    ("GIT_PAGER", "cat"),
];

/// Variables passed through from the caller when set. `PATH` finds git and
/// its helpers. `HOME` lets git expand `~` in config values (a repository's
/// `core.excludesFile = ~/...` is otherwise a fatal error) and keeps the
/// user's default global ignore file (`~/.config/git/ignore`) in force, so
/// `git add --all` leaves out what the user ignores everywhere; no config
/// or attributes are read through it (see [`FIXED_ENV`] and
/// `core.attributesFile`). `TZ` gives commits the user's time zone.
const PASSED_ENV: [&str; 3] = ["PATH", "HOME", "TZ"];

/// `-c` overrides on every call; command-line config beats the repository's.
const OVERRIDES: [&str; 31] = [
    // No hook runs: `/dev/null/<hook>` never exists.
    "core.hooksPath=/dev/null",
    // No fsmonitor hook or daemon decides what changed, and no cached stat
    // data the agent could forge vouches for a file.
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.checkStat=default",
    "core.trustctime=true",
    "core.ignoreStat=false",
    "core.splitIndex=false",
    "core.useReplaceRefs=false",
    // The user's global attributes file (default ~/.config/git/attributes).
    "core.attributesFile=/dev/null",
    // Line endings as committed, whatever the repository's config says.
    "core.autocrlf=false",
    "core.safecrlf=false",
    // Paths printed as they are (the engine parses them).
    "core.quotepath=off",
    // Programs git could start: pager, editor (`:` is git's no-op editor),
    // ssh, password prompt, credential helper, signing.
    "core.pager=cat",
    "core.editor=:",
    "core.sshCommand=",
    "core.askPass=",
    "credential.helper=",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "log.showSignature=false",
    // Output the engine parses stays plain.
    "color.ui=false",
    // No background `gc`/`maintenance` after a commit.
    "gc.auto=0",
    "maintenance.auto=false",
    // Checkouts and resets stay in this repository.
    "submodule.recurse=false",
    // No transport at all: the engine never fetches, and a lazy fetch in a
    // partial clone would run `remote.*.uploadpack` or a remote helper.
    // Per-protocol settings beat `protocol.allow`, so each is pinned.
    "protocol.allow=never",
    "protocol.file.allow=never",
    "protocol.git.allow=never",
    "protocol.ssh.allow=never",
    "protocol.http.allow=never",
    "protocol.https.allow=never",
    "protocol.ext.allow=never",
];

/// Subcommands that write commits or reflog entries, and so get the
/// engine's identity ([`Identity`]).
const IDENT_COMMANDS: [&str; 16] = [
    "commit",
    "commit-tree",
    "merge",
    "cherry-pick",
    "revert",
    "tag",
    "stash",
    "am",
    "rebase",
    "notes",
    "reset",
    "checkout",
    "switch",
    "branch",
    "update-ref",
    "worktree",
];

/// The hash function of a repository, which decides the empty tree's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectFormat {
    /// SHA-1 (the default).
    Sha1,
    /// SHA-256 (`extensions.objectFormat = sha256`).
    Sha256,
}

impl ObjectFormat {
    /// Parses `git rev-parse --show-object-format` output or the
    /// `extensions.objectFormat` value.
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    /// The id of the empty tree, which every repository of this format has
    /// without storing it.
    fn empty_tree(self) -> &'static str {
        match self {
            Self::Sha1 => "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            Self::Sha256 => "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
        }
    }
}

/// Who the engine's commits are by.
///
/// The user's global config is not read by git calls (see [`FIXED_ENV`]), so
/// the identity is chosen once, with git's own precedence, and passed in the
/// environment: per field, the caller's `GIT_AUTHOR_NAME`/`EMAIL`
/// (`GIT_COMMITTER_*` for the committer), then `author.*`/`committer.*`,
/// then `user.name`/`user.email` from the repository's config or the user's
/// global config file (read as a plain key lookup, see
/// [`Git::identity_config`]), then `EMAIL` for the address, else
/// `gluers experiment <gluers@localhost>`. Reading values runs no program,
/// which is why the global file may be read here and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// Author name and email.
    pub author: (String, String),
    /// Committer name and email.
    pub committer: (String, String),
}

/// The name used when no config or environment gives one.
const DEFAULT_NAME: &str = "gluers experiment";
/// The email used when no config or environment gives one.
const DEFAULT_EMAIL: &str = "gluers@localhost";

impl Identity {
    /// Chooses the identity from the caller's environment (`var`) and the
    /// config entries `(key, value)` in increasing precedence (the last one
    /// of a key wins, as with git).
    fn resolve(var: impl Fn(&str) -> Option<String>, config: &[(String, String)]) -> Self {
        let var = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let config = |k: &str| {
            config
                .iter()
                .rev()
                .find(|(key, v)| key == k && !v.trim().is_empty())
                .map(|(_, v)| v.clone())
        };
        let pick = |role: &str| {
            let upper = role.to_ascii_uppercase();
            let name = var(&format!("GIT_{upper}_NAME"))
                .or_else(|| config(&format!("{role}.name")))
                .or_else(|| config("user.name"))
                .unwrap_or_else(|| DEFAULT_NAME.into());
            let email = var(&format!("GIT_{upper}_EMAIL"))
                .or_else(|| config(&format!("{role}.email")))
                .or_else(|| config("user.email"))
                .or_else(|| var("EMAIL"))
                .unwrap_or_else(|| DEFAULT_EMAIL.into());
            (name, email)
        };
        Self {
            author: pick("author"),
            committer: pick("committer"),
        }
    }

    /// The environment variables that give it to git.
    fn env(&self) -> [(&'static str, &str); 4] {
        [
            ("GIT_AUTHOR_NAME", &self.author.0),
            ("GIT_AUTHOR_EMAIL", &self.author.1),
            ("GIT_COMMITTER_NAME", &self.committer.0),
            ("GIT_COMMITTER_EMAIL", &self.committer.1),
        ]
    }
}

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

/// What a git process is started with: its arguments after `git`, and its
/// whole environment (nothing else is inherited).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Invocation {
    argv: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
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

    /// The arguments and environment of `git ARGS` (see the module doc).
    fn invocation(&self, args: &[OsString]) -> Invocation {
        let mut argv: Vec<OsString> = Vec::with_capacity(3 + 2 * OVERRIDES.len() + args.len());
        argv.push(concat_os("--git-dir=", &self.git_dir));
        argv.push(concat_os("--work-tree=", &self.dir));
        argv.push(format!("--attr-source={}", self.format.empty_tree()).into());
        for o in OVERRIDES {
            argv.push("-c".into());
            argv.push(o.into());
        }
        argv.extend(args.iter().cloned());

        let mut env = base_env(|k| std::env::var_os(k));
        // Read on every call, not cached: the file can change between two
        // calls of one engine command.
        let attributes = std::fs::read(self.common_dir.join("info").join("attributes"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        env.extend(config_env(&driver_overrides(&filter_drivers(&attributes))));
        let sub = args.first().and_then(|a| a.to_str()).unwrap_or("");
        if IDENT_COMMANDS.contains(&sub) {
            env.extend(
                self.identity()
                    .env()
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into())),
            );
        }
        Invocation { argv, env }
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

    /// The identity of the engine's commits, chosen on first use.
    pub(crate) fn identity(&self) -> &Identity {
        self.identity
            .get_or_init(|| Identity::resolve(|k| std::env::var(k).ok(), &self.identity_config()))
    }

    /// `user.*`, `author.*` and `committer.*` from the repository's config
    /// and the user's global config file, lowest precedence first. One
    /// hardened `git config --get-regexp` with the global file named
    /// explicitly: it reads values and runs nothing. A failure gives no
    /// entries (the defaults then apply).
    fn identity_config(&self) -> Vec<(String, String)> {
        let global = user_global_config(|k| std::env::var_os(k))
            .map_or_else(|| OsString::from("/dev/null"), PathBuf::into_os_string);
        let out = self
            .command([
                "config",
                "--includes",
                "-z",
                "--get-regexp",
                r"^(user|author|committer)\.(name|email)$",
            ])
            .env("GIT_CONFIG_GLOBAL", global)
            .output();
        match out {
            Ok(out) if out.status.success() => parse_config_z(&out.stdout),
            _ => Vec::new(),
        }
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

/// The allow-listed environment: [`FIXED_ENV`] and the [`PASSED_ENV`]
/// variables `var` has.
fn base_env(var: impl Fn(&str) -> Option<OsString>) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = PASSED_ENV
        .iter()
        .filter_map(|k| var(k).map(|v| (OsString::from(k), v)))
        .collect();
    env.extend(FIXED_ENV.iter().map(|(k, v)| (k.into(), v.into())));
    env
}

/// `prefix` followed by `path`, without a lossy conversion.
fn concat_os(prefix: &str, path: &Path) -> OsString {
    let mut s = OsString::from(prefix);
    s.push(path.as_os_str());
    s
}

/// The git dir and common dir a `.git` entry names: the folder itself, or
/// for a file `gitdir: PATH` (linked worktrees, separate git dirs) that
/// path, whose `commondir` file names the common dir. Best effort: what
/// cannot be read is taken as written (git then fails loudly).
fn resolve_git_dir(entry: &Path) -> (PathBuf, PathBuf) {
    let base = entry.parent().unwrap_or(Path::new("/"));
    let git_dir = match std::fs::read_to_string(entry) {
        Ok(text) => match text.lines().next().and_then(|l| l.strip_prefix("gitdir:")) {
            Some(p) => base.join(p.trim()),
            None => entry.to_path_buf(),
        },
        Err(_) => entry.to_path_buf(),
    };
    let common = match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(text) => git_dir.join(text.trim()),
        Err(_) => git_dir.clone(),
    };
    (git_dir, common)
}

/// `extensions.objectFormat` of a repository's config file. git reads that
/// key from this one file (never through an include), so a plain scan
/// suffices; a misread makes `--attr-source` fail loudly, never silently.
fn config_object_format(text: &str) -> Option<ObjectFormat> {
    let mut section = String::new();
    let mut found = None;
    for line in text.lines() {
        let mut rest = line.trim();
        if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else {
                continue;
            };
            section = after[..end].trim().to_ascii_lowercase();
            rest = after[end + 1..].trim();
        }
        let rest = rest.split(['#', ';']).next().unwrap_or("");
        let Some((key, value)) = rest.split_once('=') else {
            continue;
        };
        if section == "extensions" && key.trim().eq_ignore_ascii_case("objectformat") {
            found = ObjectFormat::parse(value.trim().trim_matches('"'));
        }
    }
    found
}

/// `(major, minor)` from `git version 2.47.3` (vendor suffixes allowed).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text.strip_prefix("git version ")?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The filter drivers `info/attributes` names (`filter=NAME`, on a path or
/// in a macro). Every token is looked at, so a quoted pattern can only add
/// a name, never hide one.
fn filter_drivers(attributes: &str) -> BTreeSet<String> {
    attributes
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
        .filter_map(|t| t.strip_prefix("filter="))
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// Config entries that disable the filter drivers `names`: an empty
/// `clean`, `smudge` or `process` command is no filter, and a driver that is
/// not required may be absent.
fn driver_overrides(names: &BTreeSet<String>) -> Vec<(String, &'static str)> {
    names
        .iter()
        .flat_map(|n| {
            [
                (format!("filter.{n}.clean"), ""),
                (format!("filter.{n}.smudge"), ""),
                (format!("filter.{n}.process"), ""),
                (format!("filter.{n}.required"), "false"),
            ]
        })
        .collect()
}

/// `entries` as `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_<i>`/`GIT_CONFIG_VALUE_<i>`:
/// command-line precedence like `-c`, and no parsing of `key=value`, so a
/// driver name holding `=` or spaces cannot split an entry.
fn config_env(entries: &[(String, &str)]) -> Vec<(OsString, OsString)> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut env = vec![("GIT_CONFIG_COUNT".into(), entries.len().to_string().into())];
    for (i, (k, v)) in entries.iter().enumerate() {
        env.push((format!("GIT_CONFIG_KEY_{i}").into(), k.into()));
        env.push((format!("GIT_CONFIG_VALUE_{i}").into(), v.into()));
    }
    env
}

/// The user's global git config file, as git would pick it: the caller's
/// `GIT_CONFIG_GLOBAL`, else `~/.gitconfig`, else
/// `$XDG_CONFIG_HOME/git/config` (default `~/.config/git/config`); the
/// first that exists (git reads both of the last two, `~/.gitconfig`
/// winning, so it is tried first).
fn user_global_config(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let var = |k: &str| var(k).filter(|v| !v.is_empty());
    if let Some(p) = var("GIT_CONFIG_GLOBAL") {
        return Some(p.into());
    }
    let home = var("HOME").map(PathBuf::from);
    let xdg = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")))
        .map(|d| d.join("git").join("config"));
    [home.map(|h| h.join(".gitconfig")), xdg]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
}

/// The `(key, value)` records of `git config -z --get-regexp`
/// (`key\nvalue\0`).
fn parse_config_z(bytes: &[u8]) -> Vec<(String, String)> {
    split_z(bytes)
        .into_iter()
        .map(|rec| match rec.split_once('\n') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (rec, String::new()),
        })
        .collect()
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
mod hardening_tests {
    use super::*;
    use std::collections::HashMap;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn env_map(inv: &Invocation) -> HashMap<String, String> {
        inv.env
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn argv_is_exact() {
        let git = Git::with_dirs("/w", "/w/.git", "/nonexistent/common", ObjectFormat::Sha1);
        let inv = git.invocation(&os(&["status", "--porcelain=v2"]));
        let mut want = os(&[
            "--git-dir=/w/.git",
            "--work-tree=/w",
            "--attr-source=4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        ]);
        for o in OVERRIDES {
            want.extend(os(&["-c", o]));
        }
        want.extend(os(&["status", "--porcelain=v2"]));
        assert_eq!(inv.argv, want);
        assert!(OVERRIDES.contains(&"core.hooksPath=/dev/null"));
        assert!(OVERRIDES.contains(&"core.fsmonitor=false"));
        let sha256 = Git::with_dirs("/w", "/w/.git", "/w/.git", ObjectFormat::Sha256);
        assert_eq!(
            sha256.invocation(&os(&["status"])).argv[2],
            "--attr-source=6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"
        );
    }

    #[test]
    fn the_environment_is_an_allow_list() {
        let caller: HashMap<&str, &str> = [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("GIT_DIR", "/evil"),
            ("GIT_WORK_TREE", "/evil"),
            ("GIT_INDEX_FILE", "/evil/index"),
            ("GIT_OBJECT_DIRECTORY", "/evil/objects"),
            ("GIT_ALTERNATE_OBJECT_DIRECTORIES", "/evil/objects"),
            ("GIT_CONFIG_PARAMETERS", "'core.hooksPath'='/evil'"),
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_EXEC_PATH", "/evil"),
            ("GIT_CONFIG_GLOBAL", "/evil/config"),
            ("LD_PRELOAD", "/evil.so"),
        ]
        .into();
        let env = base_env(|k| caller.get(k).map(OsString::from));
        let got: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("LC_ALL", "C"),
            ("GIT_TERMINAL_PROMPT", "0"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_CONFIG_GLOBAL", "/dev/null"),
            ("GIT_ATTR_NOSYSTEM", "1"),
            ("GIT_NO_REPLACE_OBJECTS", "1"),
            ("GIT_NO_LAZY_FETCH", "1"),
            ("GIT_OPTIONAL_LOCKS", "0"),
            ("GIT_PAGER", "cat"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn only_commands_that_write_commits_or_reflogs_get_the_identity() {
        let git = Git::with_dirs("/w", "/w/.git", "/nonexistent", ObjectFormat::Sha1);
        let id = Identity {
            author: ("A".into(), "a@x".into()),
            committer: ("C".into(), "c@x".into()),
        };
        git.identity.set(id).unwrap();
        let commit = env_map(&git.invocation(&os(&["commit", "-m", "x"])));
        assert_eq!(commit["GIT_AUTHOR_NAME"], "A");
        assert_eq!(commit["GIT_AUTHOR_EMAIL"], "a@x");
        assert_eq!(commit["GIT_COMMITTER_NAME"], "C");
        assert_eq!(commit["GIT_COMMITTER_EMAIL"], "c@x");
        let status = env_map(&git.invocation(&os(&["status"])));
        assert!(!status.contains_key("GIT_AUTHOR_NAME"));
        assert!(!status.contains_key("GIT_CONFIG_COUNT"));
    }

    #[test]
    fn filter_drivers_named_in_info_attributes_are_disabled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("info")).unwrap();
        std::fs::write(
            dir.path().join("info/attributes"),
            "# filter=commented\n* filter=evil\n[attr]m filter=a=b text\n\"x y\" -filter\n",
        )
        .unwrap();
        let git = Git::with_dirs("/w", "/w/.git", dir.path(), ObjectFormat::Sha1);
        let env = env_map(&git.invocation(&os(&["add", "--all"])));
        assert_eq!(env["GIT_CONFIG_COUNT"], "8");
        let pairs: Vec<(String, String)> = (0..8)
            .map(|i| {
                (
                    env[&format!("GIT_CONFIG_KEY_{i}")].clone(),
                    env[&format!("GIT_CONFIG_VALUE_{i}")].clone(),
                )
            })
            .collect();
        for name in ["evil", "a=b"] {
            for (key, value) in [
                ("clean", ""),
                ("smudge", ""),
                ("process", ""),
                ("required", "false"),
            ] {
                assert!(
                    pairs.contains(&(format!("filter.{name}.{key}"), value.to_string())),
                    "{name}.{key}: {pairs:?}"
                );
            }
        }
    }

    #[test]
    fn object_format_and_version_are_parsed() {
        assert_eq!(config_object_format("[core]\n\tbare = false\n"), None);
        assert_eq!(
            config_object_format("[core]\n[extensions]\n\tobjectformat = sha256\n"),
            Some(ObjectFormat::Sha256)
        );
        assert_eq!(
            config_object_format("[Extensions] objectFormat = \"SHA256\" # yes\n"),
            Some(ObjectFormat::Sha256)
        );
        assert_eq!(
            config_object_format("[other]\nobjectformat = sha256\n"),
            None
        );
        assert_eq!(parse_version("git version 2.47.3"), Some((2, 47)));
        assert_eq!(
            parse_version("git version 2.39.5 (Apple Git-154)"),
            Some((2, 39))
        );
        assert_eq!(parse_version("git version 2.45.1.windows.1"), Some((2, 45)));
        assert_eq!(parse_version("nonsense"), None);
    }

    #[test]
    fn identity_follows_gits_precedence() {
        let cfg = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let none = |_: &str| None;
        // Nothing anywhere: the default.
        let id = Identity::resolve(none, &[]);
        assert_eq!(
            id.author,
            ("gluers experiment".into(), "gluers@localhost".into())
        );
        assert_eq!(id.committer, id.author);
        // Config: the last entry of a key wins (repository after global),
        // `author.*` before `user.*`.
        let config = cfg(&[
            ("user.name", "Global"),
            ("user.email", "g@x"),
            ("user.name", "Local"),
            ("author.email", "author@x"),
        ]);
        let id = Identity::resolve(none, &config);
        assert_eq!(id.author, ("Local".into(), "author@x".into()));
        assert_eq!(id.committer, ("Local".into(), "g@x".into()));
        // The caller's environment beats config, field by field; empty is
        // unset.
        let env: HashMap<&str, &str> = [
            ("GIT_AUTHOR_NAME", "Env Author"),
            ("GIT_COMMITTER_EMAIL", "env@x"),
            ("GIT_COMMITTER_NAME", " "),
        ]
        .into();
        let id = Identity::resolve(|k| env.get(k).map(|v| v.to_string()), &config);
        assert_eq!(id.author, ("Env Author".into(), "author@x".into()));
        assert_eq!(id.committer, ("Local".into(), "env@x".into()));
        // `EMAIL` after config, before the default.
        let id = Identity::resolve(
            |k| (k == "EMAIL").then(|| "mail@x".to_string()),
            &cfg(&[("user.name", "N")]),
        );
        assert_eq!(id.author, ("N".into(), "mail@x".into()));
    }

    #[test]
    fn the_global_config_file_is_found_as_git_would() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_path_buf();
        let env = |extra: &'static [(&'static str, &'static str)]| {
            let h = h.clone();
            move |k: &str| {
                if k == "HOME" {
                    return Some(h.clone().into_os_string());
                }
                extra.iter().find(|(n, _)| *n == k).map(|(_, v)| v.into())
            }
        };
        assert_eq!(user_global_config(env(&[])), None);
        std::fs::create_dir_all(h.join(".config/git")).unwrap();
        std::fs::write(h.join(".config/git/config"), "").unwrap();
        assert_eq!(
            user_global_config(env(&[])),
            Some(h.join(".config/git/config"))
        );
        std::fs::write(h.join(".gitconfig"), "").unwrap();
        assert_eq!(user_global_config(env(&[])), Some(h.join(".gitconfig")));
        assert_eq!(
            user_global_config(env(&[("GIT_CONFIG_GLOBAL", "/some/file")])),
            Some(PathBuf::from("/some/file"))
        );
    }

    /// Plain git in `dir` (the test's own setup and controls).
    fn plain_git(dir: &Path, args: &[&str]) -> Output {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "Setup")
            .env("GIT_AUTHOR_EMAIL", "setup@x")
            .env("GIT_COMMITTER_NAME", "Setup")
            .env("GIT_COMMITTER_EMAIL", "setup@x")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap()
    }

    /// A repository whose config, attributes and hooks each try to run a
    /// program that leaves a marker file in `marks`.
    fn hostile_repo(root: &Path, marks: &Path) {
        std::fs::create_dir_all(marks).unwrap();
        let mark = |name: &str| marks.join(name).display().to_string();
        assert!(plain_git(root, &["init", "-q", "-b", "main"])
            .status
            .success());
        std::fs::write(root.join("f.txt"), "one\n").unwrap();
        assert!(plain_git(root, &["add", "f.txt"]).status.success());
        assert!(plain_git(root, &["commit", "-qm", "base"]).status.success());
        let config = [
            (
                "filter.evil.clean",
                format!("sh -c 'touch {}; cat'", mark("clean")),
            ),
            (
                "filter.evil.smudge",
                format!("sh -c 'touch {}; cat'", mark("smudge")),
            ),
            (
                "filter.info.clean",
                format!("sh -c 'touch {}; cat'", mark("info-clean")),
            ),
            (
                "filter.info.smudge",
                format!("sh -c 'touch {}; cat'", mark("info-smudge")),
            ),
            ("filter.info.required", "true".into()),
            ("core.fsmonitor", format!("touch {}", mark("fsmonitor"))),
            ("core.worktree", "/nonexistent-worktree".into()),
            ("commit.gpgSign", "true".into()),
            ("gpg.program", mark("gpg")),
        ];
        for (k, v) in &config {
            assert!(plain_git(root, &["config", k, v]).status.success());
        }
        std::fs::write(root.join(".gitattributes"), "* filter=evil\n").unwrap();
        std::fs::write(root.join(".git/info/attributes"), "f.txt filter=info\n").unwrap();
        let hook = |dir: &Path, name: &str| {
            std::fs::create_dir_all(dir).unwrap();
            let p = dir.join(name);
            std::fs::write(
                &p,
                format!("#!/bin/sh\ntouch {}\n", mark(&format!("hook-{name}"))),
            )
            .unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        for name in [
            "pre-commit",
            "commit-msg",
            "post-commit",
            "post-checkout",
            "reference-transaction",
        ] {
            hook(&root.join(".git/hooks"), name);
        }
        let elsewhere = marks.join("hooks");
        hook(&elsewhere, "post-commit");
        // Set last: plain git's own setup above must not trip over it.
        assert!(plain_git(
            root,
            &["config", "core.hooksPath", &elsewhere.display().to_string()]
        )
        .status
        .success());
    }

    fn marks_in(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "hooks")
            .collect();
        v.sort();
        v
    }

    #[test]
    fn no_filter_hook_or_fsmonitor_of_the_repository_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        let marks = tmp.path().canonicalize().unwrap().join("marks");
        hostile_repo(&root, &marks);

        // The engine's commit, status and reset run none of it.
        let git = Git::new(&root);
        std::fs::write(root.join("f.txt"), "two\n").unwrap();
        git.status_with_head(true).unwrap();
        git.run(&["add", "--all"]).unwrap();
        git.commit("engine commit").unwrap();
        git.run(&["reset", "--quiet", "--hard", "HEAD~1"]).unwrap();
        git.run(&["checkout", "--quiet", "-b", "other"]).unwrap();
        assert_eq!(marks_in(&marks), Vec::<String>::new());
        // Committed as written: the filters did not touch the bytes.
        let blob = git.run(&["show", "main@{1}:f.txt"]).unwrap();
        assert_eq!(blob, "two");
        let who = git
            .run(&["log", "-1", "--format=%an <%ae>", "main@{1}"])
            .unwrap();
        assert_eq!(
            who,
            format!("{} <{}>", git.identity().author.0, git.identity().author.1)
        );

        // Control: plain git in the same repository runs them, so the
        // silence above is the hardening's doing.
        std::fs::write(root.join("f.txt"), "three\n").unwrap();
        let wt = format!("--work-tree={}", root.display());
        let control = plain_git(&root, &[&wt, "add", "f.txt"]);
        assert!(control.status.success(), "{control:?}");
        let control = plain_git(
            &root,
            &[&wt, "-c", "commit.gpgSign=false", "commit", "-qm", "plain"],
        );
        assert!(control.status.success(), "{control:?}");
        let marked = marks_in(&marks);
        for m in ["info-clean", "fsmonitor", "hook-post-commit"] {
            assert!(marked.iter().any(|x| x == m), "{m} not in {marked:?}");
        }
    }

    #[test]
    fn a_hostile_environment_changes_nothing_for_a_prepared_command() {
        // The command's environment is rebuilt from scratch, so variables of
        // the caller never reach git (checked on the built command, since
        // the test process's own environment is shared by all tests).
        let git = Git::with_dirs("/w", "/w/.git", "/nonexistent", ObjectFormat::Sha1);
        let cmd = git.command(["status"]);
        let names: Vec<String> = cmd
            .get_envs()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for n in &names {
            assert!(
                PASSED_ENV.contains(&n.as_str()) || FIXED_ENV.iter().any(|(k, _)| k == n),
                "{n} leaked"
            );
        }
        assert_eq!(cmd.get_current_dir(), Some(Path::new("/w")));
    }

    #[test]
    fn a_sha256_repository_gets_its_empty_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("r");
        std::fs::create_dir_all(&root).unwrap();
        let init = plain_git(&root, &["init", "-q", "--object-format=sha256"]);
        if !init.status.success() {
            // A git built without SHA-256 support has nothing to check.
            return;
        }
        let git = Git::new(&root);
        assert_eq!(git.format, ObjectFormat::Sha256);
        std::fs::write(root.join("a"), "x").unwrap();
        git.run(&["add", "a"]).unwrap();
        git.commit("first").unwrap();
        assert_eq!(git.rev_parse("HEAD").unwrap().len(), 64);
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
            let _ = tx.send(git.run_with_input_bytes(
                &["hash-object", "--no-filters", "--stdin-paths"],
                input.as_bytes(),
            ));
        });
        let out = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("git hash-object --stdin-paths got stuck")
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out).lines().count(), n);
    }
}
