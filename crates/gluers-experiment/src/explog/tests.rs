//! Tests of the experiment log: escaping, rows, the chain and what its
//! verification names, the mirror, the key.

use super::chain::*;
use super::*;

fn row(id: u64, desc: &str) -> Row {
    Row {
        experiment_id: id,
        timestamp: "2026-01-01T00:00:00Z".into(),
        run_id: format!("r{id}"),
        metrics: "a=1.0;b=2".into(),
        status: Status::Keep,
        description: desc.into(),
        commit: "abc1234".into(),
        duration_seconds: 1.234,
    }
}

/// A canonical log of four rows (experiments 0 to 3: lines 2 to 5) and
/// its mirror, in a temporary folder.
struct Log {
    _dir: tempfile::TempDir,
    canonical: std::path::PathBuf,
    mirror: std::path::PathBuf,
    key: Key,
    head: String,
}

impl Log {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let canonical = dir.path().join("state").join("experiment_log.tsv");
        let mirror = dir.path().join("experiment_log.tsv");
        let key = Key::generate().unwrap();
        let rows: Vec<Row> = (0..4).map(|i| row(i, &format!("change {i}"))).collect();
        let head = write_all(&canonical, &mirror, &key, &rows)
            .unwrap()
            .unwrap();
        Self {
            _dir: dir,
            canonical,
            mirror,
            key,
            head,
        }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.canonical)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn set_lines(&self, lines: &[String]) {
        std::fs::write(&self.canonical, lines.join("\n") + "\n").unwrap();
    }

    fn verify(&self, head: Option<&str>) -> std::result::Result<VerifyReport, ChainError> {
        verify_chain(&self.canonical, &self.key, head)
    }

    /// The line, experiment and kind of the first problem.
    fn problem(&self, head: Option<&str>) -> (usize, Option<u64>, ChainErrorKind) {
        let e = self.verify(head).unwrap_err();
        (e.line, e.experiment_id, e.kind)
    }
}

#[test]
fn escape_round_trips() {
    let s = "tab\there\nnew \\ back\\t";
    assert_eq!(escape(s), "tab\\there\\nnew \\\\ back\\\\t");
    assert_eq!(unescape(&escape(s)), s);
}

#[test]
fn line_format_is_exact() {
    assert_eq!(
        row(0, "baseline").to_line(),
        "0\t2026-01-01T00:00:00Z\tr0\ta=1.0;b=2\tkeep\tbaseline\tabc1234\t1.23"
    );
}

#[test]
fn an_intact_log_verifies_and_its_mirror_has_the_seed_columns() {
    let log = Log::new();
    let report = log.verify(Some(&log.head)).unwrap();
    assert_eq!(report.rows, 4);
    assert_eq!(report.head.as_deref(), Some(log.head.as_str()));
    let lines = log.lines();
    assert_eq!(lines[0], CANONICAL_HEADER);
    assert!(lines[1].ends_with(&format!(
        "\t{GENESIS}\t{}",
        &lines[1][lines[1].len() - 64..]
    )));
    let mirror = std::fs::read_to_string(&log.mirror).unwrap();
    let mut want = String::from(HEADER) + "\n";
    for i in 0..4 {
        want += &row(i, &format!("change {i}")).to_line();
        want.push('\n');
    }
    assert_eq!(mirror, want);
    verify_mirror(&log.canonical, &log.mirror).unwrap();
}

#[test]
fn an_edited_field_names_its_row() {
    let log = Log::new();
    let mut lines = log.lines();
    lines[3] = lines[3].replace("a=1.0", "a=0.5");
    log.set_lines(&lines);
    assert_eq!(log.problem(None), (4, Some(2), ChainErrorKind::EditedRow));
    // The last row too (no next row to tell the halves apart).
    let log = Log::new();
    let mut lines = log.lines();
    lines[4] = lines[4].replace("\tkeep\t", "\tdiscard\t");
    log.set_lines(&lines);
    assert_eq!(log.problem(None), (5, Some(3), ChainErrorKind::EditedRow));
}

#[test]
fn a_recomputed_unkeyed_hash_is_caught() {
    let log = Log::new();
    let mut lines = log.lines();
    let cols: Vec<&str> = lines[2].split('\t').collect();
    let text = cols[..8].join("\t").replace("a=1.0", "a=0.1");
    let forged = blake3::hash(format!("{}\n{text}", cols[8]).as_bytes()).to_hex();
    lines[2] = format!("{text}\t{}\t{forged}", cols[8]);
    log.set_lines(&lines);
    assert_eq!(log.problem(None), (3, Some(1), ChainErrorKind::HashAltered));
}

#[test]
fn a_removed_row_is_caught_at_the_next() {
    let log = Log::new();
    let mut lines = log.lines();
    lines.remove(2);
    log.set_lines(&lines);
    assert_eq!(log.problem(None), (3, Some(2), ChainErrorKind::RowMissing));
    let log = Log::new();
    let mut lines = log.lines();
    lines.remove(1);
    log.set_lines(&lines);
    assert_eq!(log.problem(None), (2, Some(1), ChainErrorKind::RowMissing));
}

#[test]
fn reordered_or_duplicated_rows_are_caught() {
    let log = Log::new();
    let mut lines = log.lines();
    lines.swap(2, 3);
    log.set_lines(&lines);
    assert_eq!(
        log.problem(None),
        (3, Some(2), ChainErrorKind::Reordered { links_to: Some(4) })
    );
    let log = Log::new();
    let mut lines = log.lines();
    let dup = lines[2].clone();
    lines.insert(3, dup);
    log.set_lines(&lines);
    assert_eq!(
        log.problem(None),
        (4, Some(1), ChainErrorKind::Reordered { links_to: Some(2) })
    );
    let log = Log::new();
    let mut lines = log.lines();
    lines.swap(1, 2);
    log.set_lines(&lines);
    assert_eq!(
        log.problem(None),
        (2, Some(1), ChainErrorKind::Reordered { links_to: Some(3) })
    );
}

#[test]
fn removing_the_last_rows_is_caught_against_the_recorded_head() {
    let log = Log::new();
    let mut lines = log.lines();
    lines.pop();
    log.set_lines(&lines);
    // Still a valid chain on its own...
    assert_eq!(log.verify(None).unwrap().rows, 3);
    // ...but not the one the engine recorded.
    let (line, id, kind) = log.problem(Some(&log.head));
    assert_eq!((line, id), (4, Some(2)));
    assert!(matches!(kind, ChainErrorKind::Truncated { .. }), "{kind:?}");
    // Every row gone.
    log.set_lines(&lines[..1]);
    assert_eq!(log.verify(None).unwrap().rows, 0);
    assert_eq!(log.problem(Some(&log.head)).0, 1);
}

#[test]
fn rows_past_the_recorded_head_are_named() {
    let log = Log::new();
    let lines = log.lines();
    let recorded = lines[2][lines[2].len() - 64..].to_string();
    assert_eq!(
        log.problem(Some(&recorded)),
        (
            4,
            Some(2),
            ChainErrorKind::AheadOfRecord { recorded_line: 3 }
        )
    );
}

#[test]
fn torn_extra_and_blank_lines_and_a_foreign_header_are_caught() {
    let log = Log::new();
    let text = std::fs::read_to_string(&log.canonical).unwrap();
    std::fs::write(&log.canonical, &text[..text.len() - 10]).unwrap();
    let (line, _, kind) = log.problem(None);
    assert_eq!(line, 5);
    assert!(matches!(kind, ChainErrorKind::Malformed(_)), "{kind:?}");

    let log = Log::new();
    let mut lines = log.lines();
    lines[2].push_str("\textra");
    log.set_lines(&lines);
    let (line, id, kind) = log.problem(None);
    assert_eq!((line, id), (3, Some(1)));
    assert!(matches!(kind, ChainErrorKind::Malformed(m) if m.contains("11 tab-separated")));

    let log = Log::new();
    let mut l = log.lines();
    l.insert(2, String::new());
    log.set_lines(&l);
    assert!(matches!(
        log.problem(None),
        (3, None, ChainErrorKind::Malformed(_))
    ));

    let log = Log::new();
    let mut l = log.lines();
    l[0] = HEADER.to_string();
    log.set_lines(&l);
    assert_eq!(log.problem(None), (1, None, ChainErrorKind::Header));
}

#[test]
fn another_key_or_no_file_is_caught() {
    let log = Log::new();
    let other = Key::generate().unwrap();
    let e = verify_chain(&log.canonical, &other, None).unwrap_err();
    assert_eq!((e.line, e.kind), (2, ChainErrorKind::WrongKey));
    std::fs::remove_file(&log.canonical).unwrap();
    assert_eq!(log.problem(None), (1, None, ChainErrorKind::Missing));
}

#[test]
fn the_error_names_file_line_and_experiment() {
    let log = Log::new();
    let mut lines = log.lines();
    lines[3] = lines[3].replace("a=1.0", "a=0.5");
    log.set_lines(&lines);
    let msg = log.verify(None).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "experiment log {} line 4 (experiment 2): the row was edited",
            log.canonical.display()
        )),
        "{msg}"
    );
}

#[test]
fn append_is_idempotent_per_id_and_refuses_a_broken_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (c, m) = (dir.path().join("c.tsv"), dir.path().join("m.tsv"));
    let key = Key::generate().unwrap();
    write_all(&c, &m, &key, &[row(0, "a\tb")]).unwrap();
    let h1 = append(&c, &m, &key, row(1, "x\ny")).unwrap();
    assert_eq!(append(&c, &m, &key, row(1, "again")).unwrap(), h1);
    let rows = read(&c).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].description, "a\tb");
    assert_eq!(rows[1].description, "x\ny");
    assert_eq!(verify_chain(&c, &key, h1.as_deref()).unwrap().rows, 2);

    let text = std::fs::read_to_string(&c)
        .unwrap()
        .replace("a=1.0", "a=9.0");
    std::fs::write(&c, text).unwrap();
    let err = append(&c, &m, &key, row(2, "z")).unwrap_err();
    assert!(matches!(err, ExperimentError::BrokenLog(_)), "{err}");
    assert_eq!(read(&c).unwrap().len(), 2);
}

#[test]
fn a_hand_edited_mirror_is_reported_and_repaired() {
    let log = Log::new();
    let good = std::fs::read_to_string(&log.mirror).unwrap();
    std::fs::write(&log.mirror, good.replace("change 2", "better change")).unwrap();
    let err = verify_mirror(&log.canonical, &log.mirror).unwrap_err();
    assert!(
        matches!(&err, ExperimentError::MirrorDiffers(e) if e.line == Some(4)),
        "{err}"
    );
    assert_eq!(
        sync_mirror(&log.canonical, &log.mirror).unwrap(),
        MirrorSync::Repaired
    );
    assert_eq!(std::fs::read_to_string(&log.mirror).unwrap(), good);
    verify_mirror(&log.canonical, &log.mirror).unwrap();

    std::fs::write(&log.mirror, format!("{good}9\textra\n")).unwrap();
    let err = verify_mirror(&log.canonical, &log.mirror).unwrap_err();
    assert!(err.to_string().contains("has 6 line(s)"), "{err}");

    std::fs::remove_file(&log.mirror).unwrap();
    assert!(verify_mirror(&log.canonical, &log.mirror).is_err());
    assert_eq!(
        sync_mirror(&log.canonical, &log.mirror).unwrap(),
        MirrorSync::Restored
    );
    assert_eq!(
        sync_mirror(&log.canonical, &log.mirror).unwrap(),
        MirrorSync::InSync
    );
}

#[test]
fn the_key_round_trips_owner_only_and_never_prints() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("log.key");
    let key = Key::generate().unwrap();
    key.save(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(Key::load(&path).unwrap(), key);
    assert_ne!(Key::generate().unwrap(), key);
    assert_eq!(format!("{key:?}"), "Key(..)");
    std::fs::write(&path, "not hex\n").unwrap();
    assert!(matches!(
        Key::load(&path),
        Err(ExperimentError::LogKey { .. })
    ));
    std::fs::remove_file(&path).unwrap();
    let err = Key::load(&path).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}
