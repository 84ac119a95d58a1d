//! Tests of the Python environment: the isolated command, and what the
//! manifest records and reports for each kind of edit (on a built tree and
//! on a real venv).

use std::fs::{self, File};
use std::time::{Duration, Instant};

use super::manifest::*;
use super::*;

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, text).unwrap();
}

/// A made-up installation: a stdlib folder holding `lib-dynload` and a
/// `site-packages` of the base install, a venv `site-packages`, an
/// executable, `pyvenv.cfg`, and a zip on the path that does not exist.
struct FakeEnv {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    interpreter: Interpreter,
    stdlib: PathBuf,
    site: PathBuf,
}

impl FakeEnv {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let stdlib = root.join("base/lib/python3.99");
        let site = root.join("venv/lib/python3.99/site-packages");
        write(&stdlib.join("os.py"), "import sys\n");
        write(&stdlib.join("json/__init__.py"), "def dumps(x): ...\n");
        write(
            &stdlib.join("json/__pycache__/__init__.cpython-399.pyc"),
            "bytecode",
        );
        write(&stdlib.join("lib-dynload/_json.so"), "ELF");
        write(&stdlib.join("site-packages/unrelated.py"), "x = 1\n");
        write(&site.join("helper.py"), "def score(x):\n    return x\n");
        write(&site.join("pkg/__init__.py"), "");
        write(&site.join("pkg-1.0.dist-info/METADATA"), "Name: pkg\n");
        write(&site.join("distutils-precedence.pth"), "import os\n");
        write(&root.join("base/bin/python3.99"), "ELF python");
        write(&root.join("venv/pyvenv.cfg"), "home = base/bin\n");
        let interpreter = Interpreter {
            executable: root.join("base/bin/python3.99"),
            prefix: root.join("venv"),
            base_prefix: root.join("base"),
            path: vec![
                root.join("base/lib/python399.zip"),
                stdlib.clone(),
                stdlib.join("lib-dynload"),
                site.clone(),
            ],
            version: "3.99".into(),
            libpython: None,
        };
        Self {
            _tmp: tmp,
            root,
            interpreter,
            stdlib,
            site,
        }
    }

    fn record(&self) -> Manifest {
        let project = self.root.join("project");
        fs::create_dir_all(&project).unwrap();
        Manifest::from_interpreter(self.interpreter.clone(), &project).unwrap()
    }
}

fn changes(m: &Manifest) -> Vec<Change> {
    m.verify().err().map(|c| c.changes).unwrap_or_default()
}

#[test]
fn an_untouched_environment_verifies_and_round_trips() {
    let env = FakeEnv::new();
    let m = env.record();
    assert_eq!(m.verify(), Ok(()));
    let json = serde_json::to_string(&m).unwrap();
    let back: Manifest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.verify(), Ok(()));
    // lib-dynload is walked once (inside the stdlib folder), the base
    // site-packages is not on this path and is skipped, the zip is absent.
    let dynload = env.stdlib.join("lib-dynload");
    assert_eq!(m.dirs.iter().filter(|d| d.path == dynload).count(), 1);
    assert_eq!(m.skipped, [env.stdlib.join("site-packages")]);
    assert!(m.absent.contains(&env.root.join("base/lib/python399.zip")));
    assert!(m.absent.contains(&env.root.join("base/bin/python3._pth")));
    assert!(m.absent.contains(&env.root.join("base/bin/pyvenv.cfg")));
    assert_eq!(m.startup, [env.site.join("distutils-precedence.pth")]);
    assert!(m
        .files
        .iter()
        .any(|f| f.path == env.root.join("venv/pyvenv.cfg")));
    assert!(m
        .dirs
        .iter()
        .any(|d| d.path == env.stdlib.join("json/__pycache__")));
}

#[test]
fn touching_a_file_without_changing_its_bytes_is_no_change() {
    let env = FakeEnv::new();
    let m = env.record();
    let helper = env.site.join("helper.py");
    let text = fs::read(&helper).unwrap();
    fs::write(&helper, text).unwrap();
    assert_eq!(m.verify(), Ok(()));
}

#[test]
fn new_startup_files_and_shadowing_modules_are_changes() {
    let env = FakeEnv::new();
    let m = env.record();
    let planted = [
        env.site.join("zzz-evil.pth"),
        env.site.join("sitecustomize.py"),
        env.site.join("json.py"),
        env.stdlib.join("helper.py"),
        env.site.join("pkg/extra.py"),
    ];
    for p in &planted {
        write(p, "import os\n");
    }
    let mut want: Vec<Change> = planted.iter().cloned().map(Change::Added).collect();
    want.sort();
    assert_eq!(changes(&m), want);
    for p in &planted {
        fs::remove_file(p).unwrap();
    }
    assert_eq!(m.verify(), Ok(()));
}

#[test]
fn an_edit_with_its_mtime_restored_is_a_change() {
    let env = FakeEnv::new();
    let m = env.record();
    let helper = env.site.join("helper.py");
    let mtime = fs::metadata(&helper).unwrap().modified().unwrap();
    // Same size, other bytes, old mtime: only the ctime tells.
    std::thread::sleep(Duration::from_millis(20));
    fs::write(&helper, "def score(x):\n    return 0\n").unwrap();
    File::options()
        .write(true)
        .open(&helper)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(fs::metadata(&helper).unwrap().modified().unwrap(), mtime);
    assert_eq!(changes(&m), [Change::Modified(helper)]);
}

#[test]
fn removals_absent_paths_appearing_and_links_are_changes() {
    let env = FakeEnv::new();
    let target_a = env.root.join("a.py");
    let target_b = env.root.join("b.py");
    write(&target_a, "A = 1\n");
    write(&target_b, "A = 1\n");
    std::os::unix::fs::symlink(&target_a, env.site.join("linked.py")).unwrap();
    let m = env.record();
    assert_eq!(m.verify(), Ok(()));

    // Re-pointing a link at a file with the same bytes still counts.
    fs::remove_file(env.site.join("linked.py")).unwrap();
    std::os::unix::fs::symlink(&target_b, env.site.join("linked.py")).unwrap();
    fs::remove_file(env.stdlib.join("os.py")).unwrap();
    write(&env.root.join("base/lib/python399.zip"), "PK");
    write(&env.root.join("base/bin/python3._pth"), "/tmp/evil\n");
    fs::write(env.root.join("venv/pyvenv.cfg"), "home = elsewhere\n").unwrap();
    let mut want = vec![
        Change::Modified(env.site.join("linked.py")),
        Change::Removed(env.stdlib.join("os.py")),
        Change::Added(env.root.join("base/lib/python399.zip")),
        Change::Added(env.root.join("base/bin/python3._pth")),
        Change::Modified(env.root.join("venv/pyvenv.cfg")),
    ];
    want.sort();
    assert_eq!(changes(&m), want);
}

#[test]
fn the_project_folder_and_skipped_site_packages_are_left_out() {
    let env = FakeEnv::new();
    let mut interpreter = env.interpreter.clone();
    let project = env.site.join("myproject");
    write(&project.join("tasks.py"), "x = 1\n");
    interpreter.path.insert(0, project.clone());
    let m = Manifest::from_interpreter(interpreter, &project).unwrap();
    assert!(!m.dirs.iter().any(|d| d.path.starts_with(&project)));
    write(&project.join("tasks.py"), "x = 2\n");
    write(&env.stdlib.join("site-packages/unrelated.py"), "x = 2\n");
    assert_eq!(m.verify(), Ok(()));
}

#[test]
fn the_error_is_one_line_naming_the_first_changes() {
    let c = Changed {
        changes: (0..7)
            .map(|i| Change::Added(PathBuf::from(format!("/p/m{i}.pth"))))
            .collect(),
    };
    let s = c.to_string();
    assert!(!s.contains('\n'));
    assert!(s.contains("7 change(s): /p/m0.pth (added);"), "{s}");
    assert!(s.contains("and 2 more"), "{s}");
}

#[test]
fn isolated_command_clears_the_environment_and_isolates_python() {
    let cmd = isolated_command("python3", ["-c", "pass"]);
    let args: Vec<&OsStr> = cmd.get_args().collect();
    assert_eq!(args, ["-I", "-B", "-c", "pass"]);
    let envs: Vec<(&OsStr, Option<&OsStr>)> = cmd.get_envs().collect();
    assert_eq!(envs.len(), 1, "{envs:?}");
    assert_eq!(envs[0].0, "PATH");
}

/// Timings on the Gluepy venv (`bench/.venv`: gluepy, pandas, pyarrow
/// and a pyenv stdlib): `cargo test -p gluers-experiment --lib
/// measure_gluepy_venv -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_gluepy_venv() {
    let python = testing::gluepy_python();
    let project = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let m = Manifest::record(&python, project.path()).unwrap();
    let record = t.elapsed();
    let t = Instant::now();
    let json = serde_json::to_vec(&m).unwrap();
    let save = t.elapsed();
    let t = Instant::now();
    let back: Manifest = serde_json::from_slice(&json).unwrap();
    let load = t.elapsed();
    let mut verify = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        assert_eq!(back.verify(), Ok(()));
        verify.push(t.elapsed());
    }
    verify.sort();
    eprintln!(
        "record {record:?} ({} files, {} MB, {} folders); manifest {} KB, \
         serialise {save:?}, parse {load:?}; verify warm min {:?} median {:?} max {:?}",
        m.totals.0,
        m.totals.1 >> 20,
        m.dirs.len(),
        json.len() >> 10,
        verify[0],
        verify[3],
        verify[6]
    );
}

/// A real interpreter: a throw-away venv of `python3` (nothing shared
/// is modified), with one module in its site-packages.
#[test]
fn a_real_venv_catches_pth_sitecustomize_touch_r_and_shadowing() {
    let python = testing::python3();
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().canonicalize().unwrap().join("venv");
    let ok = Command::new(&python)
        .args(["-I", "-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(ok.success());
    let venv_python = venv.join("bin/python");
    let interp = Interpreter::probe(&venv_python).unwrap();
    let site = interp
        .path
        .iter()
        .find(|p| p.starts_with(&venv) && p.ends_with("site-packages"))
        .unwrap()
        .clone();
    let helper = site.join("helper.py");
    write(&helper, "def score(x):\n    return x\n");
    let project = tmp.path().join("project");
    fs::create_dir_all(&project).unwrap();
    let t = Instant::now();
    let m = Manifest::record(&venv_python, &project).unwrap();
    eprintln!(
        "record: {} files, {} MB in {:?}",
        m.totals.0,
        m.totals.1 >> 20,
        t.elapsed()
    );
    assert_eq!(m.verify(), Ok(()));

    // 1. A new .pth file.
    let pth = site.join("zz.pth");
    write(&pth, "import os; os.environ['X'] = '1'\n");
    assert_eq!(changes(&m), [Change::Added(pth.clone())]);
    fs::remove_file(&pth).unwrap();
    // 2. A planted sitecustomize.py.
    let sc = site.join("sitecustomize.py");
    write(&sc, "import builtins\n");
    assert_eq!(changes(&m), [Change::Added(sc.clone())]);
    fs::remove_file(&sc).unwrap();
    // 3. An edited module with its mtime restored by `touch -r`.
    let reference = tmp.path().join("ref");
    fs::write(&reference, "").unwrap();
    let touch = |a: &Path, b: &Path| {
        assert!(Command::new("touch")
            .arg("-r")
            .args([a, b])
            .status()
            .unwrap()
            .success());
    };
    touch(&helper, &reference);
    fs::write(&helper, "def score(x):\n    return 0\n").unwrap();
    touch(&reference, &helper);
    assert_eq!(
        fs::metadata(&helper).unwrap().modified().unwrap(),
        fs::metadata(&reference).unwrap().modified().unwrap()
    );
    assert_eq!(changes(&m), [Change::Modified(helper.clone())]);
    fs::write(&helper, "def score(x):\n    return x\n").unwrap();
    // 4. A module named like a stdlib one.
    let shadow = site.join("json.py");
    write(&shadow, "def dumps(x): return '{}'\n");
    assert_eq!(changes(&m), [Change::Added(shadow.clone())]);
    fs::remove_file(&shadow).unwrap();
    assert_eq!(m.verify(), Ok(()));
}
