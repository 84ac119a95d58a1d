//! Dropping every capability before the candidate runs.
//!
//! Landlock confines paths, TCP, signals and abstract sockets, not what
//! capabilities allow. A candidate run by a root engine would otherwise keep
//! `CAP_SYS_BOOT` (reboot the machine), `CAP_SYS_MODULE`, `CAP_NET_RAW` (raw
//! sockets, around the TCP rules), `CAP_SYS_RAWIO` (`/proc/kcore`) and the
//! rest. Root keeps its uid, so files the engine created for the run (owned
//! by the same uid) stay usable.

use rustix::io::Errno;
use rustix::process::geteuid;
use rustix::thread::{
    capabilities, capability_is_in_bounding_set, remove_capability_from_bounding_set,
    set_capabilities, CapabilitySet, CapabilitySets,
};

/// Drops every capability of the calling thread: the bounding set first (so
/// a later `exec` as root cannot grant them back), then the effective,
/// permitted and inheritable sets (the ambient set follows). Does nothing
/// for a non-root process without capabilities: with `no_new_privs`, which
/// Landlock sets, its `exec`s cannot gain any.
pub(crate) fn drop_all() -> Result<(), String> {
    let fail = |what: &str, e: Errno| format!("cannot drop capabilities ({what}): {e}");
    let sets = capabilities(None).map_err(|e| fail("capget", e))?;
    if sets.permitted.is_empty() && !geteuid().is_root() {
        return Ok(());
    }
    for bit in 0..64 {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        match capability_is_in_bounding_set(cap) {
            Ok(true) => {
                remove_capability_from_bounding_set(cap).map_err(|e| fail("PR_CAPBSET_DROP", e))?
            }
            Ok(false) => {}
            // Past the kernel's last capability.
            Err(Errno::INVAL) => break,
            Err(e) => return Err(fail("PR_CAPBSET_READ", e)),
        }
    }
    let none = CapabilitySet::empty();
    set_capabilities(
        None,
        CapabilitySets {
            effective: none,
            permitted: none,
            inheritable: none,
        },
    )
    .map_err(|e| fail("capset", e))
}
