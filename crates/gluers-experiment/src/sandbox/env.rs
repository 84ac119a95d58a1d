//! The sandboxed child's environment: an allow-list built from scratch.
//!
//! [`crate::sandbox::sandboxed_command`] clears the environment and sets
//! exactly the pairs it is given, so nothing of the engine's own environment
//! reaches the candidate. In particular `LD_PRELOAD`, `LD_LIBRARY_PATH` (and
//! every other `LD_*`), `GLUERS_*`, `CARGO_*`, `RUSTFLAGS`, `RUSTC_*` and
//! `PYTHON*` are never inherited: the engine sets the few it means to (e.g.
//! `GLUERS_STORAGE_ROOT`, `CARGO_TARGET_DIR`) explicitly, with its own
//! values.

use std::ffi::OsString;
use std::path::Path;

/// The fixed search path: system folders only, never the engine's `PATH`
/// (which may hold a folder the agent can write to).
pub const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The base environment of a sandboxed child: `PATH` ([`SAFE_PATH`]),
/// `HOME` and `TMPDIR` (both should be writable in the policy), and
/// `LANG=C.UTF-8`. Add toolchain folders with [`prepend_path`] and other
/// variables by pushing pairs.
pub fn base_env(home: &Path, tmp: &Path) -> Vec<(OsString, OsString)> {
    vec![
        ("PATH".into(), SAFE_PATH.into()),
        ("HOME".into(), home.as_os_str().to_owned()),
        ("TMPDIR".into(), tmp.as_os_str().to_owned()),
        ("LANG".into(), "C.UTF-8".into()),
    ]
}

/// Puts `dir` in front of the `PATH` entry of `env` (adding `PATH` if it is
/// missing), e.g. the toolchain's `bin` folder.
pub fn prepend_path(env: &mut Vec<(OsString, OsString)>, dir: &Path) {
    match env.iter_mut().find(|(k, _)| k == "PATH") {
        Some((_, value)) => {
            let mut joined = dir.as_os_str().to_owned();
            if !value.is_empty() {
                joined.push(":");
                joined.push(&*value);
            }
            *value = joined;
        }
        None => env.push(("PATH".into(), dir.as_os_str().to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_env_is_the_allow_list() {
        let env = base_env(Path::new("/h"), Path::new("/t"));
        let names: Vec<_> = env.iter().map(|(k, _)| k.to_str().unwrap()).collect();
        assert_eq!(names, ["PATH", "HOME", "TMPDIR", "LANG"]);
        assert_eq!(env[0].1, SAFE_PATH);
        assert_eq!(env[1].1, "/h");
        assert_eq!(env[2].1, "/t");
    }

    #[test]
    fn prepend_path_puts_dir_first() {
        let mut env = base_env(Path::new("/h"), Path::new("/t"));
        prepend_path(&mut env, Path::new("/opt/rust/bin"));
        assert_eq!(env[0].1, format!("/opt/rust/bin:{SAFE_PATH}").as_str());
        let mut bare = Vec::new();
        prepend_path(&mut bare, Path::new("/x"));
        assert_eq!(bare, [("PATH".into(), "/x".into())]);
    }
}
