//! Turning a [`Policy`] into a Landlock ruleset on the current process.
//!
//! The rights used are those of Landlock ABI 6 (Linux 6.12), which this
//! module was tested with: every filesystem right of ABI 5 (including
//! `REFER`, `TRUNCATE` and `IOCTL_DEV`), TCP bind and connect (ABI 4), and
//! signal and abstract-UNIX-socket scoping (ABI 6). A strict policy demands
//! all of them ([`CompatLevel::HardRequirement`]) and a fully enforced
//! result; a best-effort one takes what the kernel has.

use std::fs::File;
use std::os::fd::AsFd;

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd,
    PathFdError, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, Scope,
    ABI,
};

use super::Policy;

/// The Landlock ABI whose rights the sandbox requests. Newer kernels enforce
/// it unchanged (Landlock is backward compatible); raising it adds rights
/// (ABI 9: pathname UNIX socket connect; ABI 10: UDP) and must come with
/// tests on a kernel that has them.
const TARGET: ABI = ABI::V6;

/// The targeted Landlock ABI as a number, for messages and for the engine's records.
pub const LANDLOCK_ABI: u32 = 6;

/// Rights on a readable path: read files, list folders, execute.
fn read_access() -> BitFlags<AccessFs> {
    AccessFs::from_read(TARGET)
}

/// Rights on a writable path: everything except creating device nodes, which
/// would let a candidate with `CAP_MKNOD` make a node for the disk inside
/// its run folder and read around every other rule.
fn write_access() -> BitFlags<AccessFs> {
    AccessFs::from_all(TARGET) & !(AccessFs::MakeChar | AccessFs::MakeBlock)
}

/// Checks that the kernel can enforce a strict policy (Landlock ABI
/// [`LANDLOCK_ABI`]: filesystem, TCP and scoping) by creating, not applying,
/// such a ruleset. Returns the ABI level the sandbox enforces; the error is
/// one line for `experiment init` to show before refusing.
pub fn landlock_available() -> Result<u32, String> {
    ruleset(&Policy::default())
        .map(|_| LANDLOCK_ABI)
        .map_err(|e| {
            format!(
                "this kernel cannot enforce the candidate sandbox (Landlock ABI {LANDLOCK_ABI}, \
             Linux 6.12 or later with `landlock` among the enabled LSMs): {e}"
            )
        })
}

/// Creates the ruleset for `policy`: the handled rights, no path rules yet.
fn ruleset(policy: &Policy) -> Result<RulesetCreated, String> {
    let level = if policy.best_effort {
        CompatLevel::BestEffort
    } else {
        CompatLevel::HardRequirement
    };
    let mut rs = Ruleset::default()
        .set_compatibility(level)
        .handle_access(AccessFs::from_all(TARGET))
        .map_err(|e| e.to_string())?;
    if !policy.allow_tcp {
        // Handled with no port rule: every TCP bind and connect is denied.
        rs = rs
            .handle_access(AccessNet::from_all(TARGET))
            .map_err(|e| e.to_string())?;
    }
    if policy.scoped {
        let scopes = if policy.abstract_unix {
            BitFlags::from(Scope::Signal)
        } else {
            Scope::from_all(TARGET)
        };
        rs = rs.scope(scopes).map_err(|e| e.to_string())?;
    }
    rs.create().map_err(|e| e.to_string())
}

/// Restricts the calling thread (and everything it later executes) to
/// `policy`, and sets `no_new_privs`. Call it in a single-threaded process
/// right before `exec`: Landlock restricts only the calling thread.
///
/// Returns `Ok(None)` when fully enforced, `Ok(Some(warning))` when a
/// best-effort policy could only be partly enforced, and an error (one line)
/// when a strict one cannot be.
pub(crate) fn restrict_self(policy: &Policy) -> Result<Option<String>, String> {
    let mut rs = ruleset(policy)?;
    for (paths, access, may_vanish) in [
        (&policy.readable, read_access(), false),
        (&policy.readable_if_present, read_access(), true),
        (&policy.listable, BitFlags::from(AccessFs::ReadDir), false),
        (&policy.writable, write_access(), false),
    ] {
        for path in paths {
            let fd = match PathFd::new(path) {
                Ok(fd) => fd,
                // A path listed around a hidden one (a sibling in /tmp, say)
                // can be removed by its owner before the rules are made.
                // Granting nothing for it is the closed side: were it made
                // again, it would be unreadable. An explicit path that is
                // missing is still refused: more likely a mistake.
                Err(PathFdError::OpenCall { source, .. })
                    if may_vanish && source.kind() == std::io::ErrorKind::NotFound =>
                {
                    continue
                }
                Err(e) => return Err(format!("sandbox path: {e}")),
            };
            // Folder-only rights on a file would make the kernel reject the
            // rule; ask for the file subset. The type comes from the opened
            // descriptor, so it is the type of what the rule covers.
            let is_dir = fd
                .as_fd()
                .try_clone_to_owned()
                .map(File::from)
                .and_then(|f| f.metadata())
                .map_err(|e| format!("sandbox path {}: {e}", path.display()))?
                .is_dir();
            let access = if is_dir {
                access
            } else {
                access & AccessFs::from_file(TARGET)
            };
            rs = rs
                .add_rule(PathBeneath::new(fd, access))
                .map_err(|e| format!("sandbox path {}: {e}", path.display()))?;
        }
    }
    let status = rs.restrict_self().map_err(|e| e.to_string())?;
    if status.ruleset == RulesetStatus::FullyEnforced && status.no_new_privs {
        return Ok(None);
    }
    let what = format!(
        "Landlock {:?} (no_new_privs: {})",
        status.ruleset, status.no_new_privs
    );
    if policy.best_effort {
        Ok(Some(what))
    } else {
        Err(format!("the sandbox is not fully enforced: {what}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_rights_exclude_device_nodes() {
        let w = write_access();
        assert!(!w.contains(AccessFs::MakeChar) && !w.contains(AccessFs::MakeBlock));
        assert!(w.contains(AccessFs::MakeReg | AccessFs::Refer | AccessFs::Truncate));
        assert!(w.contains(read_access()));
    }

    /// A listed readable path removed before the rules are made (a sibling
    /// folder in /tmp, listed around a hidden one) is skipped; an explicit
    /// readable or writable one that is missing is still an error. Each
    /// runs on a thread of its own, since Landlock restricts only the
    /// calling thread.
    #[test]
    fn a_vanished_listed_path_is_skipped_but_a_missing_explicit_one_is_refused() {
        let gone = tempfile::tempdir().unwrap().path().to_path_buf();
        let restrict = |policy: Policy| {
            std::thread::spawn(move || restrict_self(&policy))
                .join()
                .unwrap()
        };
        let listed = Policy {
            readable_if_present: vec![gone.clone()],
            ..Policy::default()
        };
        assert!(restrict(listed).is_ok());
        for explicit in [
            Policy {
                readable: vec![gone.clone()],
                ..Policy::default()
            },
            Policy {
                writable: vec![gone.clone()],
                ..Policy::default()
            },
        ] {
            let err = restrict(explicit).unwrap_err();
            assert!(err.contains(&gone.display().to_string()), "{err}");
        }
    }

    #[test]
    fn read_rights_are_read_and_execute_only() {
        assert_eq!(
            read_access(),
            AccessFs::Execute | AccessFs::ReadFile | AccessFs::ReadDir
        );
    }
}
