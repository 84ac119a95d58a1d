//! The identity of the engine's commits: chosen once, with git's own
//! precedence, from the caller's environment and the repository's and the
//! user's config, and given to the git commands that write commits or
//! reflog entries.

use std::ffi::OsString;
use std::path::PathBuf;

use super::{split_z, Git};

/// Subcommands that write commits or reflog entries, and so get the
/// engine's identity ([`Identity`]).
pub(super) const IDENT_COMMANDS: [&str; 16] = [
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

/// Who the engine's commits are by.
///
/// The user's global config is not read by git calls (see
/// [`FIXED_ENV`](super::hardening::FIXED_ENV)), so
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
    pub(super) fn resolve(
        var: impl Fn(&str) -> Option<String>,
        config: &[(String, String)],
    ) -> Self {
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
    pub(super) fn env(&self) -> [(&'static str, &str); 4] {
        [
            ("GIT_AUTHOR_NAME", &self.author.0),
            ("GIT_AUTHOR_EMAIL", &self.author.1),
            ("GIT_COMMITTER_NAME", &self.committer.0),
            ("GIT_COMMITTER_EMAIL", &self.committer.1),
        ]
    }
}

impl Git {
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
}

/// The user's global git config file, as git would pick it: the caller's
/// `GIT_CONFIG_GLOBAL`, else `~/.gitconfig`, else
/// `$XDG_CONFIG_HOME/git/config` (default `~/.config/git/config`); the
/// first that exists (git reads both of the last two, `~/.gitconfig`
/// winning, so it is tried first).
pub(super) fn user_global_config(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
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
