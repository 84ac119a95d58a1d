//! What the engine prints when its reader goes away.

mod common;

use std::process::Stdio;

use common::Fixture;

/// `gluers experiment status | head` must not panic when `head` has
/// closed the pipe: the engine ends quietly with status 141, as a program
/// killed by `SIGPIPE` would.
#[test]
fn a_closed_stdout_ends_the_engine_quietly() {
    let fx = Fixture::new();
    fx.init();
    for command in ["status", "log"] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = fx
            .engine_cmd(&[command])
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        assert_eq!(out.status.code(), Some(141), "{command}: {stderr}");
    }
}
