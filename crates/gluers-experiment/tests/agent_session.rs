//! Supervised agent mode (`experiment agent -- CMD`), end to end: a
//! scripted "agent" (a shell script) performs the loop through the
//! supervisor's socket, then attacks the record from inside its sandbox.
//! Every attack must fail, the log's chain must hold afterwards, and
//! nothing the agent started may outlive it or its supervisor.
//!
//! The defences, by attack (see docs/threat-model.md, "Supervised mode"):
//! Landlock (reads of the sealed data and the engine's state, writes to
//! `.git`), read-only bind mounts in the agent's mount namespace (frozen
//! files, `.git`, and pinned parent folders against a rename), a session
//! token on the socket, Landlock's signal scope (the supervisor), and the
//! agent's PID namespace (daemons die with the agent; the agent dies with
//! the supervisor).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{wait_for, Fixture};

/// Everything an agent script needs, in its environment.
fn agent_cmd(fx: &Fixture, script: &str, extra_env: &[(&str, &Path)]) -> std::process::Command {
    let path = fx.tmp.path().join("agent.sh");
    std::fs::write(&path, script).unwrap();
    let mut cmd = fx.engine_cmd(&["agent", "--", "sh", path.to_str().unwrap()]);
    cmd.env("ENGINE", env!("CARGO_BIN_EXE_gluers-experiment"))
        .env("EXP", fx.exp_dir())
        .env("ROOT", &fx.root);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd
}

/// The attack lines the script wrote (`NAME ok|denied`).
fn results(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the agent wrote no results at {}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect()
}

fn read_or_empty(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Whether `file` (a heartbeat) keeps changing over a second.
fn still_beating(file: &Path) -> bool {
    let before = read_or_empty(file);
    std::thread::sleep(Duration::from_millis(1200));
    read_or_empty(file) != before
}

const ATTACKS: &str = r##"
set -u
cd "$ROOT/proj"
OUT="$ROOT/attack-results.txt"
try() { name=$1; shift; if "$@" >/dev/null 2>&1; then echo "$name ok" >> "$OUT"; else echo "$name denied" >> "$OUT"; fi; }
# The loop, through the socket.
cp "$NEW_TASKS" tasks.py
"$ENGINE" run -m "offset 2" > "$ROOT/run-output.txt" 2>&1 || echo "run failed" >> "$OUT"
"$ENGINE" keep >> "$ROOT/run-output.txt" 2>&1 || echo "keep failed" >> "$OUT"
"$ENGINE" status > "$ROOT/status-output.txt" 2>&1 || echo "status failed" >> "$OUT"
# Attacks.
try read_sealed_answers cat data/truth.json
try list_engine_state ls "$EXP"
try read_log_key cat "$EXP/log.key"
try write_engine_state sh -c 'echo "{}" > "$EXP/state.json"'
try append_canonical_log sh -c 'printf "9\tt\tr\tmae=0.0\tkeep\tforged\tabc\t1\n" >> "$EXP/experiment_log.tsv"'
try edit_frozen_file sh -c 'echo "# forged" >> evaluation.py'
try replace_frozen_file sh -c 'echo "x" > new.py && mv new.py evaluation.py'
try remove_frozen_file rm -f evaluation.py
try rename_frozen_parent mv "$ROOT/proj" "$ROOT/proj2"
try write_git_hook sh -c 'printf "#!/bin/sh\ntouch $ROOT/hooked\n" > "$ROOT/.git/hooks/post-commit"'
try git_config git -C "$ROOT" config core.hooksPath /tmp
try wrong_token env GLUERS_AGENT_TOKEN=wrong "$ENGINE" status
try init_through_socket "$ENGINE" init forecast --goal x
try engine_without_socket env -u GLUERS_AGENT_SOCKET "$ENGINE" keep
try kill_supervisor kill -9 "$(cat "$SUPERVISOR_PID_FILE")"
try kill_namespace_init kill -9 1
# A daemon that would outlive the agent if it could.
setsid sh -c 'while :; do date +%s%N > "$ROOT/daemon-heartbeat"; sleep 0.1; done' </dev/null >/dev/null 2>&1 &
sleep 0.5
echo "script finished" >> "$OUT"
"##;

#[test]
fn a_scripted_agent_runs_the_loop_and_every_attack_from_its_sandbox_fails() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    let new_tasks = fx.tmp.path().join("tasks_v2.py");
    std::fs::write(&new_tasks, common::tasks_py(2.0, "")).unwrap();
    let pid_file = fx.tmp.path().join("supervisor.pid");
    let evaluation = fx.read("evaluation.py");
    let truth = fx.read("data/truth.json");
    // The script waits for the supervisor's pid, which only exists once it
    // is started.
    let script = format!("while [ ! -s \"$SUPERVISOR_PID_FILE\" ]; do sleep 0.05; done\n{ATTACKS}");
    let mut cmd = agent_cmd(
        &fx,
        &script,
        &[
            ("NEW_TASKS", &new_tasks),
            ("SUPERVISOR_PID_FILE", &pid_file),
        ],
    );
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(&pid_file, child.id().to_string()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the session failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- run\n{}",
        read_or_empty(&fx.root.join("run-output.txt"))
    );

    // The loop went through the supervisor.
    let run_output = read_or_empty(&fx.root.join("run-output.txt"));
    assert!(run_output.contains("kept experiment 1"), "{run_output}");
    assert!(
        read_or_empty(&fx.root.join("status-output.txt")).contains("best kept"),
        "status did not reach the supervisor"
    );
    let rows = fx.rows();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[1][3].as_str(), rows[1][4].as_str()),
        ("mae=2.0;n=3", "keep")
    );
    assert!(
        stdout.contains("1 experiment(s) recorded: 1 kept")
            && stdout.contains("log chain verified: 2 row(s)"),
        "no session summary:\n{stdout}"
    );

    // Every attack failed.
    let results = results(&fx.root.join("attack-results.txt"));
    assert_eq!(
        results.last().map(|r| r.0.as_str()),
        Some("script"),
        "{results:?}"
    );
    let attacks: Vec<_> = results.iter().filter(|r| r.0 != "script").collect();
    assert_eq!(attacks.len(), 16, "{attacks:?}");
    for (name, result) in &attacks {
        assert_eq!(result, "denied", "attack `{name}` succeeded: {results:?}");
    }
    // And left nothing behind: the record, the frozen file, the answers.
    assert_eq!(fx.read("evaluation.py"), evaluation);
    assert_eq!(fx.read("data/truth.json"), truth);
    assert!(!fx.root.join(".git/hooks/post-commit").exists());
    assert_ne!(
        std::fs::read(fx.exp_dir().join("state.json")).unwrap(),
        b"{}\n".to_vec()
    );
    fx.engine(&["verify"]).expect(0);
    // The daemon died with the agent.
    assert!(
        !still_beating(&fx.root.join("daemon-heartbeat")),
        "a process started by the agent outlived it"
    );
}

#[test]
fn killing_the_agent_mid_run_leaves_the_experiment_consistent() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    fx.set_tasks(1.0, "        time.sleep(3)");
    // The agent starts a run and is killed a second later, with the run's
    // client, while the supervisor's run goes on.
    let script = r#"
cd "$ROOT/proj"
"$ENGINE" run -m "slow change" > "$ROOT/run-output.txt" 2>&1 &
sleep 1
kill -9 $$
"#;
    let out = agent_cmd(&fx, script, &[]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(137), "{stdout}");
    assert!(
        stdout.contains("(exit 137)") || stdout.contains("(killed)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pending: experiment 1"),
        "the run did not finish after the agent died:\n{stdout}"
    );
    assert_eq!(fx.pending_metrics(), "mae=1.0;n=3");
    fx.engine(&["verify"]).expect(0);
    fx.engine(&["keep"]).expect(0);
    assert_eq!(fx.rows()[1][4], "keep");
}

#[test]
fn killing_the_supervisor_ends_the_agent_and_its_daemons() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    let script = r#"
setsid sh -c 'while :; do date +%s%N > "$ROOT/daemon-heartbeat"; sleep 0.1; done' </dev/null >/dev/null 2>&1 &
while :; do date +%s%N > "$ROOT/agent-heartbeat"; sleep 0.1; done
"#;
    let mut child: Child = agent_cmd(&fx, script, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let beats: Vec<PathBuf> = ["agent-heartbeat", "daemon-heartbeat"]
        .iter()
        .map(|f| fx.root.join(f))
        .collect();
    assert!(
        wait_for(30, || beats.iter().all(|b| b.exists())),
        "the agent did not start"
    );
    assert!(beats.iter().all(|b| still_beating(b)));
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for b in &beats {
        assert!(
            !still_beating(b),
            "{} goes on after the supervisor died",
            b.display()
        );
    }
    fx.engine(&["verify"]).expect(0);
}

#[test]
fn a_session_refuses_sealed_data_that_is_in_the_history() {
    if !common::prerequisites() {
        return;
    }
    let fx = Fixture::new();
    fx.init();
    fx.git(&["add", "--force", "proj/data/truth.json"]);
    fx.git(&["commit", "--quiet", "-m", "answers in git"]);
    let out = agent_cmd(&fx, "echo should not run > \"$ROOT/ran\"\n", &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("sealed data `proj/data/truth.json` is in this repository's history"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!fx.root.join("ran").exists());
}

/// A supervised agent proposes two ideas at once: `queue` each through the
/// socket (the supervisor commits and resets the agent's work tree), `run
/// --queued --jobs 2`, then `keep ID` and `discard ID`. Driving the engine
/// without the socket stays refused for the new commands too.
#[test]
fn a_supervised_agent_queues_a_batch_and_decides_each_row() {
    assert!(common::prerequisites());
    let fx = Fixture::new();
    fx.init();
    let (two, three) = (fx.tmp.path().join("two.py"), fx.tmp.path().join("three.py"));
    std::fs::write(&two, common::tasks_py(2.0, "")).unwrap();
    std::fs::write(&three, common::tasks_py(3.0, "")).unwrap();
    let script = r##"
set -u
cd "$ROOT/proj"
OUT="$ROOT/proj/data/batch-output.txt"  # ignored: the tree stays clean
cp "$TWO" tasks.py
"$ENGINE" queue -m "offset 2" >> "$OUT" 2>&1 || echo "queue failed" >> "$OUT"
cp "$THREE" tasks.py
"$ENGINE" queue -m "offset 3" >> "$OUT" 2>&1 || echo "queue failed" >> "$OUT"
if env -u GLUERS_AGENT_SOCKET "$ENGINE" run --queued --jobs 2 >/dev/null 2>&1; then echo "direct run ok" >> "$OUT"; fi
"$ENGINE" run --queued --jobs 2 >> "$OUT" 2>&1 || echo "run failed" >> "$OUT"
"$ENGINE" keep 1 >> "$OUT" 2>&1 || echo "keep failed" >> "$OUT"
"$ENGINE" discard 2 >> "$OUT" 2>&1 || echo "discard failed" >> "$OUT"
"##;
    let out = agent_cmd(&fx, script, &[("TWO", &two), ("THREE", &three)])
        .output()
        .unwrap();
    let output = read_or_empty(&fx.proj.join("data/batch-output.txt"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{output}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for failed in [
        "queue failed",
        "run failed",
        "keep failed",
        "discard failed",
        "direct run ok",
    ] {
        assert!(!output.contains(failed), "{failed}:\n{output}");
    }
    let rows = fx.rows();
    let got: Vec<(&str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[3].as_str(), r[4].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("mae=2.0;n=3", "keep", "offset 2"),
            ("mae=3.0;n=3", "discard", "offset 3")
        ]
    );
    assert!(fx.read("tasks.py").contains("OFFSET = 2.0"));
    fx.engine(&["verify"]).expect(0);
}
