//! `experiment_log.tsv`: the record of every experiment, tamper-evident.
//!
//! Two files hold it:
//!
//! * the **canonical log**, in the engine's state folder: the seed's eight
//!   columns, then `prev_hash` and `row_hash` (a hash chain, below), header
//!   included ([`CANONICAL_HEADER`]);
//! * the **mirror** in the project folder: exactly the seed's eight columns
//!   and header ([`HEADER`]), rendered from the canonical log (its first
//!   eight columns, byte for byte) after every change, and restored from it
//!   when missing or edited ([`sync_mirror`]).
//!
//! Both are replaced atomically, so a kill never leaves a torn row. Every
//! value comes from the engine; the agent's description has its
//! backslashes, tabs and newlines escaped (`\\`, `\t`, `\n`, `\r`).
//!
//! The chain: `row_hash` is the hex BLAKE3 keyed hash, under the
//! experiment's [`Key`], of `gluers-experiment-log/v1\n`, the row's
//! `prev_hash`, `\n`, and the row's eight columns as written; `prev_hash` is
//! the previous row's `row_hash` (64 zeros for the first row). Editing,
//! removing, inserting, duplicating or reordering rows breaks a link or a
//! hash, and [`verify_chain`] names the first row where it does. The hash is
//! keyed because anyone who can edit the log could recompute an unkeyed
//! chain; the key (32 random bytes per experiment, `0600`) lives next to the
//! state, so the protection is as good as that folder is out of the agent's
//! reach. Removing the last rows leaves a shorter valid chain: every write
//! returns the new chain head (the last `row_hash`) for the engine state to
//! record, and [`verify_chain`] compares it.
//!
//! The chain (the [`Key`], the row hash, [`verify_chain`]) and the state's
//! keyed hash are in [`chain`]; this file holds the rows and their escaping,
//! the canonical log's format, its writes, the mirror and the table.

mod chain;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{ExperimentError, Result};
use crate::fsutil;

use chain::{chained, check_chain, is_hash};
pub(crate) use chain::{verify_chain, ChainError, ChainErrorKind, Key, VerifyReport};

/// The header line, exactly as the Gluepy experiment protocol defines it.
pub(crate) const HEADER: &str =
    "experiment_id\ttimestamp\trun_id\tmetrics\tstatus\tdescription\tcommit\tduration_seconds";

/// The status column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// The change was kept (the baseline is kept too).
    Keep,
    /// The change was discarded.
    Discard,
    /// The run crashed.
    Crash,
    /// The run exceeded its timeout.
    Timeout,
    /// `finish`: the best kept commit scored once on the final test.
    Final,
}

impl Status {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Discard => "discard",
            Self::Crash => "crash",
            Self::Timeout => "timeout",
            Self::Final => "final",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "keep" => Self::Keep,
            "discard" => Self::Discard,
            "crash" => Self::Crash,
            "timeout" => Self::Timeout,
            "final" => Self::Final,
            _ => return None,
        })
    }
}

/// One experiment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// Sequential id, 0 for the baseline.
    pub experiment_id: u64,
    /// ISO 8601 time the run started.
    pub timestamp: String,
    /// The engine's run id.
    pub run_id: String,
    /// `k=v;k=v`.
    pub metrics: String,
    /// The decision or failure.
    pub status: Status,
    /// What changed (unescaped).
    pub description: String,
    /// Short commit hash.
    pub commit: String,
    /// Wall-clock seconds.
    pub duration_seconds: f64,
}

impl Row {
    /// The TSV line (without newline).
    pub fn to_line(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.2}",
            self.experiment_id,
            clean(&self.timestamp),
            clean(&self.run_id),
            clean(&self.metrics),
            self.status.as_str(),
            escape(&self.description),
            clean(&self.commit),
            self.duration_seconds
        )
    }

    fn parse(line: &str) -> std::result::Result<Self, String> {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 8 {
            return Err(format!(
                "expected 8 tab-separated columns, found {}",
                cols.len()
            ));
        }
        Ok(Self {
            experiment_id: cols[0]
                .parse()
                .map_err(|_| format!("experiment_id `{}` is not a number", cols[0]))?,
            timestamp: cols[1].to_string(),
            run_id: cols[2].to_string(),
            metrics: cols[3].to_string(),
            status: Status::parse(cols[4])
                .ok_or_else(|| format!("unknown status `{}`", cols[4]))?,
            description: unescape(cols[5]),
            commit: cols[6].to_string(),
            duration_seconds: cols[7]
                .parse()
                .map_err(|_| format!("duration `{}` is not a number", cols[7]))?,
        })
    }
}

/// Escapes a free-text value for one TSV cell.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses [`escape`].
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Engine-produced values never contain separators; this is a guard.
fn clean(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// The canonical log's header: [`HEADER`] and the two chain columns.
pub(crate) const CANONICAL_HEADER: &str = "experiment_id\ttimestamp\trun_id\tmetrics\tstatus\tdescription\tcommit\tduration_seconds\tprev_hash\trow_hash";

/// The number of seed columns; the canonical log has two more.
const SEED_COLUMNS: usize = 8;

/// One row of the canonical log, as stored.
#[derive(Debug, Clone)]
struct Entry {
    /// 1-based line number in the file.
    line: usize,
    /// The eight seed columns exactly as written (what is hashed and
    /// mirrored).
    text: String,
    /// `prev_hash`.
    prev: String,
    /// `row_hash`.
    hash: String,
    /// The parsed row.
    row: Row,
}

impl Entry {
    /// The canonical line (without newline).
    fn to_line(&self) -> String {
        format!("{}\t{}\t{}", self.text, self.prev, self.hash)
    }
}

/// Parses a canonical log's structure (header, columns, values), without
/// checking hashes.
fn parse_canonical(text: &str, path: &Path) -> std::result::Result<Vec<Entry>, ChainError> {
    let err = |line: usize, experiment_id: Option<u64>, kind: ChainErrorKind| ChainError {
        path: path.to_path_buf(),
        line,
        experiment_id,
        kind,
    };
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.first() != Some(&CANONICAL_HEADER) {
        return Err(err(1, None, ChainErrorKind::Header));
    }
    let mut entries = Vec::new();
    for (i, &line) in lines.iter().enumerate().skip(1) {
        let n = i + 1;
        let is_last = n == lines.len();
        if is_last && line.is_empty() {
            // What follows the final newline.
            break;
        }
        if line.is_empty() {
            return Err(err(
                n,
                None,
                ChainErrorKind::Malformed("a blank line, which the engine never writes".into()),
            ));
        }
        if is_last {
            return Err(err(
                n,
                None,
                ChainErrorKind::Malformed("the last line has no newline: the file was cut".into()),
            ));
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let id = cols.first().and_then(|c| c.parse().ok());
        if cols.len() != SEED_COLUMNS + 2 {
            return Err(err(
                n,
                id,
                ChainErrorKind::Malformed(format!(
                    "{} tab-separated columns, the engine writes {} (a truncated line, or extra fields)",
                    cols.len(),
                    SEED_COLUMNS + 2
                )),
            ));
        }
        let (prev, hash) = (cols[SEED_COLUMNS], cols[SEED_COLUMNS + 1]);
        if !is_hash(prev) || !is_hash(hash) {
            return Err(err(
                n,
                id,
                ChainErrorKind::Malformed(
                    "prev_hash or row_hash is not 64 lowercase hex digits".into(),
                ),
            ));
        }
        let text = cols[..SEED_COLUMNS].join("\t");
        let row = Row::parse(&text).map_err(|m| err(n, id, ChainErrorKind::Malformed(m)))?;
        entries.push(Entry {
            line: n,
            text,
            prev: prev.to_string(),
            hash: hash.to_string(),
            row,
        });
    }
    Ok(entries)
}

/// Reads a canonical log; a missing or unreadable file is a [`ChainError`].
fn read_canonical(path: &Path) -> std::result::Result<String, ChainError> {
    std::fs::read_to_string(path).map_err(|e| ChainError {
        path: path.to_path_buf(),
        line: 1,
        experiment_id: None,
        kind: if e.kind() == std::io::ErrorKind::NotFound {
            ChainErrorKind::Missing
        } else {
            ChainErrorKind::Unreadable(e.to_string())
        },
    })
}

/// The rows of the canonical log at `path` (no file: no rows). Its
/// structure is checked, not its hashes: [`verify_chain`] does that when a
/// command opens the experiment.
pub(crate) fn read(path: &Path) -> Result<Vec<Row>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ExperimentError::io("read", path, e)),
    };
    Ok(parse_canonical(&text, path)
        .map_err(ExperimentError::BrokenLog)?
        .into_iter()
        .map(|e| e.row)
        .collect())
}

/// The canonical log's text.
fn render_canonical(entries: &[Entry]) -> String {
    let mut out = String::from(CANONICAL_HEADER);
    out.push('\n');
    for e in entries {
        out.push_str(&e.to_line());
        out.push('\n');
    }
    out
}

/// The mirror's text: the seed header and each row's eight columns.
fn render_mirror(entries: &[Entry]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for e in entries {
        out.push_str(&e.text);
        out.push('\n');
    }
    out
}

/// Writes both files: the canonical log first, so that a kill in between
/// leaves a mirror [`sync_mirror`] restores.
fn write_both(canonical: &Path, mirror: &Path, entries: &[Entry]) -> Result<Option<String>> {
    fsutil::atomic_write(canonical, render_canonical(entries).as_bytes())?;
    fsutil::atomic_write(mirror, render_mirror(entries).as_bytes())?;
    Ok(entries.last().map(|e| e.hash.clone()))
}

/// Writes a fresh log holding `rows`, chained under `key`, to the canonical
/// path and the mirror; returns the chain head.
pub(crate) fn write_all(
    canonical: &Path,
    mirror: &Path,
    key: &Key,
    rows: &[Row],
) -> Result<Option<String>> {
    let mut entries = Vec::with_capacity(rows.len());
    for r in rows {
        let e = chained(&entries, key, r.clone());
        entries.push(e);
    }
    write_both(canonical, mirror, &entries)
}

/// Appends `row` unless a row with its experiment id is already there (so a
/// decision interrupted after the write can be repeated safely); returns
/// the chain head. A broken chain is refused, never extended.
pub(crate) fn append(
    canonical: &Path,
    mirror: &Path,
    key: &Key,
    row: Row,
) -> Result<Option<String>> {
    let text = read_canonical(canonical).map_err(ExperimentError::BrokenLog)?;
    let mut entries = parse_canonical(&text, canonical).map_err(ExperimentError::BrokenLog)?;
    check_chain(&entries, key, None, canonical).map_err(ExperimentError::BrokenLog)?;
    if !entries
        .iter()
        .any(|e| e.row.experiment_id == row.experiment_id)
    {
        let e = chained(&entries, key, row);
        entries.push(e);
    }
    write_both(canonical, mirror, &entries)
}

/// How the mirror differs from the rendering of the canonical log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {reason}", path.display(), match .line { Some(l) => format!(" line {l}"), None => String::new() })]
pub struct MirrorError {
    /// The mirror.
    pub path: std::path::PathBuf,
    /// The first line that differs, when both files have it.
    pub line: Option<usize>,
    /// What differs.
    pub reason: String,
}

/// Compares the mirror with the rendering of the canonical log, naming the
/// first line that differs.
pub(crate) fn verify_mirror(canonical: &Path, mirror: &Path) -> Result<()> {
    let text = read_canonical(canonical).map_err(ExperimentError::BrokenLog)?;
    let want =
        render_mirror(&parse_canonical(&text, canonical).map_err(ExperimentError::BrokenLog)?);
    let differs = |line: Option<usize>, reason: String| {
        Err(ExperimentError::MirrorDiffers(MirrorError {
            path: mirror.to_path_buf(),
            line,
            reason,
        }))
    };
    let have = match std::fs::read(mirror) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return differs(None, "it is missing".into())
        }
        Err(e) => return Err(ExperimentError::io("read", mirror, e)),
    };
    if have == want.as_bytes() {
        return Ok(());
    }
    let have = String::from_utf8_lossy(&have);
    let (h, w): (Vec<&str>, Vec<&str>) = (have.lines().collect(), want.lines().collect());
    match h.iter().zip(&w).position(|(a, b)| a != b) {
        Some(i) => differs(
            Some(i + 1),
            "it differs from the engine's log (edited outside the engine)".into(),
        ),
        None if h.len() != w.len() => differs(
            None,
            format!(
                "it has {} line(s), the engine's log renders {} (lines added or removed outside the engine)",
                h.len(),
                w.len()
            ),
        ),
        None => differs(
            None,
            "its line endings differ from the engine's log (edited outside the engine)".into(),
        ),
    }
}

/// What [`sync_mirror`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MirrorSync {
    /// The mirror was already the rendering of the canonical log (or there
    /// is no canonical log yet).
    InSync,
    /// The mirror was missing (e.g. after `git clean -x`) and was written.
    Restored,
    /// The mirror differed (edited outside the engine) and was rewritten.
    Repaired,
}

/// Rewrites the mirror from the canonical log when it is missing or
/// differs.
pub(crate) fn sync_mirror(canonical: &Path, mirror: &Path) -> Result<MirrorSync> {
    let text = match std::fs::read_to_string(canonical) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(MirrorSync::InSync),
        Err(e) => return Err(ExperimentError::io("read", canonical, e)),
    };
    let want =
        render_mirror(&parse_canonical(&text, canonical).map_err(ExperimentError::BrokenLog)?);
    let outcome = match std::fs::read(mirror) {
        Ok(have) if have == want.as_bytes() => return Ok(MirrorSync::InSync),
        Ok(_) => MirrorSync::Repaired,
        Err(_) => MirrorSync::Restored,
    };
    fsutil::atomic_write(mirror, want.as_bytes())?;
    Ok(outcome)
}

/// The log as an aligned table for a terminal.
pub(crate) fn table(rows: &[Row]) -> String {
    let headers = [
        "id",
        "timestamp",
        "status",
        "commit",
        "secs",
        "metrics",
        "description",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.experiment_id.to_string(),
                r.timestamp.clone(),
                r.status.as_str().to_string(),
                r.commit.clone(),
                format!("{:.2}", r.duration_seconds),
                if r.metrics.is_empty() {
                    "-".into()
                } else {
                    r.metrics.replace(';', " ")
                },
                escape(&r.description),
            ]
        })
        .collect();
    let mut widths = headers.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cols: &[&str]| {
        let last = cols.len() - 1;
        for (i, c) in cols.iter().enumerate() {
            if i == last {
                let _ = write!(out, "{c}");
            } else if i == 0 || i == 4 {
                let _ = write!(out, "{c:>w$}  ", w = widths[i]);
            } else {
                let _ = write!(out, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push('\n');
    };
    line(&mut out, &headers);
    for row in &cells {
        let cols: Vec<&str> = row.iter().map(String::as_str).collect();
        line(&mut out, &cols);
    }
    out
}
