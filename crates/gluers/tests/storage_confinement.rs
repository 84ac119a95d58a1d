//! `LocalStorage` confines every operation to its root, whoever calls it:
//! `..`, absolute paths and links out are refused, and a folder swapped for
//! a link while reads and writes run never lets one through.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use gluers::storage::{StorageBackend, StorageError};
use gluers::LocalStorage;

struct Setup {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(root.join("runs")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"SECRET").unwrap();
    std::fs::write(root.join("runs/f"), b"inside").unwrap();
    Setup {
        _dir: dir,
        root,
        outside,
    }
}

fn outside_names(s: &Setup) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&s.outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn dot_dot_and_absolute_paths_are_refused_by_every_operation() {
    let s = setup();
    let st = LocalStorage::new(&s.root);
    let secret = s.outside.join("secret");
    let abs = secret.to_str().unwrap();
    for path in ["../outside/secret", abs, "runs/../../outside/secret"] {
        assert!(
            matches!(st.read(path), Err(StorageError::Escape { .. })),
            "{path}"
        );
        assert!(st.write(path, b"x").is_err(), "{path}");
        assert!(st.rm(path, true).is_err(), "{path}");
        assert!(st.cp("runs/f", path).is_err(), "{path}");
        assert!(st.cp(path, "runs/copy").is_err(), "{path}");
        assert!(st.isfile(path).is_err(), "{path}");
    }
    for dir in ["../outside", abs, "../outside/new"] {
        assert!(st.ls(dir).is_err(), "{dir}");
        assert!(st.mkdir(dir).is_err(), "{dir}");
    }
    assert_eq!(outside_names(&s), ["secret"]);
    assert_eq!(std::fs::read(&secret).unwrap(), b"SECRET");
    assert!(!s.root.join("runs/copy").exists());
}

#[test]
fn links_out_are_refused_and_links_inside_are_followed() {
    let s = setup();
    std::os::unix::fs::symlink(&s.outside, s.root.join("out")).unwrap();
    std::os::unix::fs::symlink(s.outside.join("secret"), s.root.join("runs/s")).unwrap();
    std::os::unix::fs::symlink("runs", s.root.join("alias")).unwrap();
    let st = LocalStorage::new(&s.root);
    for path in ["out/secret", "runs/s"] {
        assert!(
            matches!(st.read(path), Err(StorageError::Escape { .. })),
            "{path}"
        );
    }
    assert!(st.write("out/new", b"x").is_err());
    assert!(st.mkdir("out/sub").is_err());
    assert!(st.ls("out").is_err());
    assert!(st.rm("out/secret", false).is_err());
    assert_eq!(outside_names(&s), ["secret"]);
    // Removing a link removes the link, never what it points to.
    st.rm("runs/s", false).unwrap();
    assert!(s.outside.join("secret").exists());
    assert_eq!(st.read("alias/f").unwrap(), b"inside");
    st.write("alias/g", b"via a link inside").unwrap();
    assert_eq!(
        std::fs::read(s.root.join("runs/g")).unwrap(),
        b"via a link inside"
    );
}

#[test]
fn a_folder_swapped_for_a_link_out_is_never_followed() {
    let s = setup();
    std::fs::create_dir_all(s.root.join("runs/x")).unwrap();
    std::fs::write(s.root.join("runs/x/secret"), b"inside").unwrap();
    let st = Arc::new(LocalStorage::new(&s.root));
    let stop = Arc::new(AtomicBool::new(false));
    // The real folder and a link to outside trade places atomically
    // (renameat2 RENAME_EXCHANGE), over and over: `runs/x` always exists.
    std::os::unix::fs::symlink(&s.outside, s.root.join("runs/x.link")).unwrap();
    let swapper = {
        let (root, stop) = (s.root.clone(), stop.clone());
        std::thread::spawn(move || {
            let runs = std::fs::File::open(root.join("runs")).unwrap();
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                rustix::fs::renameat_with(
                    &runs,
                    "x",
                    &runs,
                    "x.link",
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let (mut reads, mut refusals) = (0, 0);
    for i in 0..4000 {
        match st.read("runs/x/secret") {
            Ok(bytes) => {
                assert_eq!(bytes, b"inside", "read through the swapped link");
                reads += 1;
            }
            Err(StorageError::Escape { .. }) | Err(StorageError::NotFound { .. }) => refusals += 1,
            Err(e) => panic!("{e}"),
        }
        let _ = st.write(&format!("runs/x/w{}", i % 8), b"w");
        let _ = st.mkdir("runs/x/sub");
        let _ = st.ls("runs/x");
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 100, "the folder was swapped {swaps} times");
    assert_eq!(outside_names(&s), ["secret"], "nothing written outside");
    assert_eq!(std::fs::read(s.outside.join("secret")).unwrap(), b"SECRET");
    assert!(reads > 0, "the loop also read the real folder");
    let _ = refusals;
}
