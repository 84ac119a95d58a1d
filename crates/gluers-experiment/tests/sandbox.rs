//! Attack tests for the candidate sandbox (trust property 3): each test runs
//! an attack through the real `gluers-experiment __sandbox` trampoline and
//! fails if the attack works. Each attack test has a control beside it (the
//! same operation where the policy allows it), so a sandbox that breaks
//! everything cannot pass for one that denies the right things.
//!
//! A missing prerequisite (Landlock, python3) fails the test: it never
//! passes by skipping.
//!
//! The reaper and environment tests need a process of their own (the
//! reaper reaps every child of the process; the environment must be the
//! parent's), so they re-run this test binary on one `#[ignore]`d scenario.

use std::ffi::OsString;
use std::io::Read;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use gluers_experiment::sandbox::{
    base_env, landlock_available, sandboxed_command, Policy, Reaper, LANDLOCK_ABI,
};

const BIN: &str = env!("CARGO_BIN_EXE_gluers-experiment");
const SECRET: &str = "SEALED-ANSWER-4242";
const ORIGINAL: &str = "original outside content";

/// A prerequisite is missing: the test fails (it never passes by skipping).
fn missing(what: &str) -> ! {
    panic!("this test needs {what}")
}

/// Checks that Landlock can enforce the sandbox here (a failure if not).
fn landlock() -> bool {
    match landlock_available() {
        Ok(abi) => {
            assert_eq!(abi, LANDLOCK_ABI);
            true
        }
        Err(e) => missing(&e),
    }
}

/// The real Python interpreter (not a shim) and the folders it loads from.
struct Python {
    exe: PathBuf,
    prefixes: Vec<PathBuf>,
}

fn python() -> Python {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; print(sys.executable); print(sys.prefix); print(sys.base_prefix)",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8(o.stdout).unwrap();
            let mut lines = text.lines().map(PathBuf::from);
            let exe = std::fs::canonicalize(lines.next().unwrap()).unwrap();
            Python {
                exe,
                prefixes: lines.collect(),
            }
        }
        _ => missing("python3 on PATH"),
    }
}

/// A temporary tree: `work/` readable, `run/` writable, `sealed/` and
/// `outside/` neither.
struct Fixture {
    _dir: tempfile::TempDir,
    work: PathBuf,
    run: PathBuf,
    sealed: PathBuf,
    outside: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let [work, run, sealed, outside] =
            ["work", "run", "sealed", "outside"].map(|n| root.join(n));
        for d in [&work, &run, &sealed, &outside] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::write(work.join("input.txt"), "training data\n").unwrap();
        std::fs::write(sealed.join("answers.csv"), format!("{SECRET}\n")).unwrap();
        std::fs::write(outside.join("existing.txt"), ORIGINAL).unwrap();
        Fixture {
            _dir: dir,
            work,
            run,
            sealed,
            outside,
        }
    }

    fn policy(&self) -> Policy {
        Policy::system().read(&self.work).write(&self.run)
    }

    /// Runs `program args` sandboxed by `policy`, in `run/`, with the base
    /// environment.
    fn run(&self, policy: &Policy, program: &OsString, args: &[&str]) -> Output {
        let env = base_env(&self.run, &self.run);
        sandboxed_command(Path::new(BIN), policy, program, args, &env, &self.run)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn sh(&self, policy: &Policy, script: &str) -> Output {
        self.run(policy, &"sh".into(), &["-c", script])
    }

    fn python(&self, py: &Python, policy: &Policy, code: &str) -> Output {
        let mut policy = policy.clone();
        policy.readable.extend(py.prefixes.iter().cloned());
        policy.readable.push(py.exe.clone());
        self.run(&policy, &py.exe.clone().into(), &["-c", code])
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that the script ran to its end (`DONE`) and that no attempt
/// printed `LEAK`.
fn assert_contained(out: &Output) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("DONE"),
        "the attack script did not finish\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        !stdout.contains("LEAK") && !stdout.contains(SECRET),
        "an attack worked\nstdout: {stdout}\nstderr: {stderr}"
    );
}

fn assert_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn control_allowed_paths_work() {
    if !landlock() {
        return;
    }
    let f = Fixture::new();
    let out = f.sh(
        &f.policy(),
        &format!(
            "cat {work}/input.txt && echo made > out.txt && mkdir -p d/e && mv out.txt d/e/ \
             && ln -s d/e/out.txt link && cat link && ln d/e/out.txt hard && rm -r d hard link \
             && ls && /bin/true && echo ok",
            work = f.work.display()
        ),
    );
    let stdout = assert_ok(&out);
    assert!(
        stdout.contains("training data") && stdout.contains("made") && stdout.ends_with("ok\n")
    );
}

#[test]
fn cannot_read_sealed_data() {
    if !landlock() {
        return;
    }
    let f = Fixture::new();
    let answers = f.sealed.join("answers.csv");
    // Made by the engine side before the run: a symlink into sealed/.
    std::os::unix::fs::symlink(&answers, f.run.join("planted")).unwrap();
    let out = f.sh(
        &f.policy(),
        &format!(
            "cat {a} && echo LEAK:direct
             cat {run}/../sealed/answers.csv && echo LEAK:dotdot
             cat planted && echo LEAK:planted-symlink
             ln -s {a} mine; cat mine && echo LEAK:own-symlink
             ln {a} hard && echo LEAK:hardlink; cat hard && echo LEAK:hardlink-read
             ls {sealed} && echo LEAK:list
             cat /proc/self/root{a} && echo LEAK:proc-root
             cp {a} copy && echo LEAK:copy
             cd {sealed} && cat answers.csv && echo LEAK:cd
             echo DONE",
            a = answers.display(),
            run = f.run.display(),
            sealed = f.sealed.display()
        ),
    );
    assert_contained(&out);
    // Control: the same file is readable when the policy says so.
    let out = f.sh(
        &f.policy().read(&f.sealed),
        &format!("cat {}", answers.display()),
    );
    assert!(assert_ok(&out).contains(SECRET));
}

#[test]
fn python_cannot_read_sealed_data_or_write_outside() {
    if !landlock() {
        return;
    }
    let py = python();
    let f = Fixture::new();
    let code = format!(
        r#"
import os
def attempt(name, fn):
    try:
        fn()
        print("LEAK:" + name)
    except OSError:
        pass
attempt("read", lambda: print(open({a:?}).read()))
attempt("listdir", lambda: os.listdir({s:?}))
attempt("write", lambda: open({o:?} + "/py.txt", "w").write("x"))
attempt("creat-os", lambda: os.open({o:?} + "/py2.txt", os.O_CREAT | os.O_WRONLY))
attempt("rename-out", lambda: (open("f", "w").write("x"), os.rename("f", {o:?} + "/f")))
attempt("link-in", lambda: os.link({a:?}, "hl"))
print(open({w:?} + "/input.txt").read().strip())
print("DONE")
"#,
        a = f.sealed.join("answers.csv").to_str().unwrap(),
        s = f.sealed.to_str().unwrap(),
        o = f.outside.to_str().unwrap(),
        w = f.work.to_str().unwrap(),
    );
    let out = f.python(&py, &f.policy(), &code);
    assert_contained(&out);
    assert!(text(&out.stdout).contains("training data"));
    assert_outside_untouched(&f);
}

fn assert_outside_untouched(f: &Fixture) {
    let mut names: Vec<_> = std::fs::read_dir(&f.outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["existing.txt"], "a file appeared outside");
    let content = std::fs::read_to_string(f.outside.join("existing.txt")).unwrap();
    assert_eq!(content, ORIGINAL, "a file outside was changed");
    let mut sealed: Vec<_> = std::fs::read_dir(&f.sealed)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    sealed.sort();
    assert_eq!(sealed, ["answers.csv"]);
}

#[test]
fn cannot_write_outside_the_writable_set() {
    if !landlock() {
        return;
    }
    let f = Fixture::new();
    // Made by the engine side before the run: a symlink to a folder outside.
    std::os::unix::fs::symlink(&f.outside, f.run.join("to_outside")).unwrap();
    let out = f.sh(
        &f.policy(),
        &format!(
            "echo x > {o}/new.txt && echo LEAK:create
             echo x > {o}/existing.txt && echo LEAK:truncate
             echo x >> {o}/existing.txt && echo LEAK:append
             truncate -s 0 {o}/existing.txt && echo LEAK:truncate-call
             echo x > {run}/../outside/dotdot.txt && echo LEAK:dotdot
             echo x > to_outside/via-planted-link.txt && echo LEAK:planted-symlink
             ln -s {o} mine; echo x > mine/via-own-link.txt && echo LEAK:own-symlink
             ln {o}/existing.txt hard && echo LEAK:hardlink-in
             echo y > local.txt; ln local.txt {o}/hard-out.txt && echo LEAK:hardlink-out
             mv local.txt {o}/moved.txt && echo LEAK:rename-out
             mv {o}/existing.txt stolen.txt && echo LEAK:rename-in
             rm -f {o}/existing.txt; [ -e {o}/existing.txt ] || echo LEAK:remove
             mkdir {o}/dir && echo LEAK:mkdir
             mkfifo {o}/fifo && echo LEAK:mkfifo
             echo x > {w}/input.txt && echo LEAK:readable-not-writable
             echo x > {s}/answers.csv && echo LEAK:overwrite-sealed
             mknod blockdev b 8 0 && echo LEAK:mknod-block
             mknod chardev c 1 3 && echo LEAK:mknod-char
             echo DONE",
            o = f.outside.display(),
            run = f.run.display(),
            w = f.work.display(),
            s = f.sealed.display()
        ),
    );
    assert_contained(&out);
    assert_outside_untouched(&f);
    assert_eq!(
        std::fs::read_to_string(f.work.join("input.txt")).unwrap(),
        "training data\n"
    );
    // Control: the same write works where the policy allows it.
    let out = f.sh(
        &f.policy().write(&f.outside),
        &format!("echo x > {}/new.txt", f.outside.display()),
    );
    assert_ok(&out);
    assert!(f.outside.join("new.txt").exists());
}

#[test]
fn cannot_use_tcp() {
    if !landlock() {
        return;
    }
    let py = python();
    let f = Fixture::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        r#"
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).sendall(b"exfiltrated")
    print("LEAK:connect")
except OSError as e:
    print("connect refused:", e)
try:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print("LEAK:bind")
except OSError as e:
    print("bind refused:", e)
print("DONE")
"#
    );
    let out = f.python(&py, &f.policy(), &code);
    assert_contained(&out);
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "a connection reached the listener"
    );
    // Control: allowed, the same connection arrives.
    let allowed = Policy {
        allow_tcp: true,
        ..f.policy()
    };
    listener.set_nonblocking(false).unwrap();
    let out = f.python(&py, &allowed, &code);
    assert!(
        text(&out.stdout).contains("LEAK:connect"),
        "control: {out:?}"
    );
    let (mut conn, _) = listener.accept().unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).unwrap();
    assert_eq!(got, "exfiltrated");
}

#[test]
fn cannot_connect_to_an_abstract_unix_socket_outside() {
    if !landlock() {
        return;
    }
    let py = python();
    let f = Fixture::new();
    let name = format!("gluers-sandbox-test-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    let code = format!(
        r#"
import socket
try:
    s = socket.socket(socket.AF_UNIX); s.connect("\0{name}"); print("LEAK:abstract-connect")
except OSError as e:
    print("refused:", e)
print("DONE")
"#
    );
    let out = f.python(&py, &f.policy(), &code);
    assert_contained(&out);
    // Control: unscoped, the connection goes through.
    let unscoped = Policy {
        scoped: false,
        ..f.policy()
    };
    let out = f.python(&py, &unscoped, &code);
    assert!(text(&out.stdout).contains("LEAK"), "control: {out:?}");
    drop(listener);
}

#[test]
fn cannot_signal_or_inspect_processes_outside() {
    if !landlock() {
        return;
    }
    let f = Fixture::new();
    let mut sleeper = Command::new("sleep").arg("300").spawn().unwrap();
    let me = std::process::id();
    // The engine holds the sealed file open: its descriptor must not be a
    // way in.
    let held = std::fs::File::open(f.sealed.join("answers.csv")).unwrap();
    let fd = held.as_raw_fd();
    let out = f.sh(
        &f.policy(),
        &format!(
            "kill -9 {s} && echo LEAK:kill
             kill -STOP {s} && echo LEAK:stop
             kill -0 {me} && echo LEAK:probe-engine
             cat /proc/{me}/environ && echo LEAK:engine-environ
             cat /proc/{me}/fd/{fd} && echo LEAK:engine-fd
             readlink /proc/{me}/fd/{fd} && echo LEAK:engine-fd-path
             cat /proc/{me}/maps && echo LEAK:engine-maps
             head -c 1 /proc/{me}/mem && echo LEAK:engine-mem
             sleep 30 & inner=$!; kill -9 $inner; wait $inner; echo inner-status=$?
             grep -q PATH= /proc/self/environ && echo own-environ-readable
             echo DONE",
            s = sleeper.id()
        ),
    );
    assert_contained(&out);
    let stdout = text(&out.stdout);
    // Controls: signals inside the sandbox and its own /proc still work.
    assert!(stdout.contains("inner-status=137"), "{stdout}");
    assert!(stdout.contains("own-environ-readable"), "{stdout}");
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        sleeper.try_wait().unwrap().is_none(),
        "the sleeper outside was killed"
    );
    let state = std::fs::read_to_string(format!("/proc/{}/stat", sleeper.id())).unwrap();
    assert!(!state.contains(") T "), "the sleeper outside was stopped");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    drop(held);
}

#[test]
fn runs_without_capabilities_or_privilege_gain() {
    if !landlock() {
        return;
    }
    let f = Fixture::new();
    let out = f.sh(
        &f.policy(),
        "grep -E '^(CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status",
    );
    let stdout = assert_ok(&out);
    for line in stdout.lines() {
        if line.starts_with("NoNewPrivs") {
            assert!(line.ends_with("\t1"), "{line}");
        } else {
            assert!(line.ends_with("0000000000000000"), "{line}");
        }
    }
    assert_eq!(stdout.lines().count(), 5, "{stdout}");
}

#[test]
fn best_effort_still_enforces_what_the_kernel_can() {
    if !landlock() {
        return;
    }
    let f = Fixture::new();
    let policy = Policy {
        best_effort: true,
        ..f.policy()
    };
    let out = f.sh(
        &policy,
        &format!(
            "cat {}/answers.csv && echo LEAK:read; echo DONE",
            f.sealed.display()
        ),
    );
    assert_contained(&out);
    // This kernel enforces everything: no partial-sandbox warning.
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn setup_failures_are_one_line_and_126_or_127() {
    for (args, code, want) in [
        (
            &["--read", "relative", "--", "true"][..],
            126,
            "not absolute",
        ),
        (
            &["--read", "/no/such/path", "--", "true"][..],
            126,
            "/no/such/path",
        ),
        (
            &["--bogus", "--", "true"][..],
            126,
            "unknown sandbox argument",
        ),
        (
            &["--read", "/usr", "--", "no-such-program-xyz"][..],
            127,
            "no-such-program-xyz",
        ),
    ] {
        let out = Command::new(BIN)
            .arg("__sandbox")
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("gluers sandbox: ") && stderr.contains(want),
            "{stderr}"
        );
    }
}

/// Re-runs this test binary on one ignored scenario, in a process of its
/// own, with `env` added, and checks that it ran and passed.
fn run_scenario(name: &str, env: &[(&str, &str)]) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "scenario {name} failed\nstdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
}

#[test]
fn environment_is_not_inherited() {
    if !landlock() {
        return;
    }
    run_scenario(
        "scenario_environment",
        &[
            ("LD_PRELOAD", "/nonexistent/evil.so"),
            ("LD_LIBRARY_PATH", "/nonexistent/lib"),
            ("GLUERS_X", "engine-secret"),
            ("CARGO_X", "1"),
            ("RUSTFLAGS", "-Cevil"),
            ("PYTHONPATH", "/nonexistent/py"),
            ("SCENARIO_CANARY", "inherited"),
        ],
    );
}

#[test]
#[ignore = "run in its own process by environment_is_not_inherited"]
fn scenario_environment() {
    assert_eq!(std::env::var("GLUERS_X").as_deref(), Ok("engine-secret"));
    let f = Fixture::new();
    let out = f.run(&f.policy(), &"env".into(), &[]);
    let stdout = assert_ok(&out);
    let mut names: Vec<_> = stdout.lines().filter_map(|l| l.split('=').next()).collect();
    names.sort();
    assert_eq!(names, ["HOME", "LANG", "PATH", "TMPDIR"], "{stdout}");
    // The loader would complain on stderr had LD_PRELOAD reached the
    // trampoline or the program.
    assert!(
        !text(&out.stderr).contains("ld.so"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn reaper_kills_setsid_daemons_and_double_forks() {
    if !landlock() {
        return;
    }
    run_scenario("scenario_reaper", &[]);
}

#[test]
#[ignore = "run in its own process by reaper_kills_setsid_daemons_and_double_forks"]
fn scenario_reaper() {
    let reaper = Reaper::install().unwrap();
    let f = Fixture::new();
    // Three escapes from the run's process: a setsid process, a
    // double-forked orphan, and a setsid daemon started by an orphan.
    let script = "setsid sleep 300 & echo $! >> pids
        ( sleep 301 & echo $! >> pids )
        ( setsid sh -c 'sleep 302 & echo $! >> pids; wait' & )
        while [ \"$(wc -l < pids)\" -lt 3 ]; do sleep 0.01; done
        exit 0";
    let env = base_env(&f.run, &f.run);
    let status = sandboxed_command(
        Path::new(BIN),
        &f.policy(),
        "sh",
        ["-c", script],
        &env,
        &f.run,
    )
    // No pipe to this process: a survivor holding it would keep the outer
    // test waiting for EOF.
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .status()
    .unwrap();
    assert!(status.success());
    let pids: Vec<u32> = std::fs::read_to_string(f.run.join("pids"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);
    let me = std::process::id();
    for pid in &pids {
        assert!(
            alive(*pid),
            "{pid} should still be running before the reaper"
        );
    }
    // The double-forked orphan was re-parented to us, not to init.
    assert_eq!(
        ppid(pids[1]),
        Some(me),
        "the subreaper did not adopt the orphan"
    );
    let killed = reaper.kill_all_descendants().unwrap();
    assert!(killed >= 3, "killed {killed}");
    for pid in &pids {
        assert!(!alive(*pid), "{pid} survived kill_all_descendants");
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}
