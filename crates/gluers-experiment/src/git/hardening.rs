//! The hardening of every git call: the environment allow-list, the `-c`
//! overrides, the attribute source (the empty tree of the repository's
//! object format), the filter drivers `info/attributes` names, and the
//! explicit git dir (see the doc of the `git` module).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::identity::IDENT_COMMANDS;
use super::Git;

/// The oldest git the engine runs with: `--attr-source` appeared in 2.40,
/// and without it `.gitattributes` could select a filter the engine runs.
pub(super) const MIN_VERSION: (u32, u32) = (2, 40);

/// Environment variables every git process gets, whatever the caller's
/// environment says.
pub(super) const FIXED_ENV: [(&str, &str); 9] = [
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
pub(super) const PASSED_ENV: [&str; 3] = ["PATH", "HOME", "TZ"];

/// `-c` overrides on every call; command-line config beats the repository's.
pub(super) const OVERRIDES: [&str; 31] = [
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
    pub(super) fn parse(s: &str) -> Option<Self> {
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

/// What a git process is started with: its arguments after `git`, and its
/// whole environment (nothing else is inherited).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invocation {
    pub(super) argv: Vec<OsString>,
    pub(super) env: Vec<(OsString, OsString)>,
}

impl Git {
    /// The arguments and environment of `git ARGS` (see the module doc).
    pub(super) fn invocation(&self, args: &[OsString]) -> Invocation {
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
}

/// The allow-listed environment: [`FIXED_ENV`] and the [`PASSED_ENV`]
/// variables `var` has.
pub(super) fn base_env(var: impl Fn(&str) -> Option<OsString>) -> Vec<(OsString, OsString)> {
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
pub(super) fn resolve_git_dir(entry: &Path) -> (PathBuf, PathBuf) {
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
pub(super) fn config_object_format(text: &str) -> Option<ObjectFormat> {
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
pub(super) fn parse_version(text: &str) -> Option<(u32, u32)> {
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
