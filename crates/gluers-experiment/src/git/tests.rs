//! Tests of the git wrapper: parsing git's output, the hardening of every
//! call (against a hostile repository and environment), the identity, and
//! long inputs.

use std::collections::HashMap;
use std::path::Path;

use super::hardening::*;
use super::identity::*;
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
