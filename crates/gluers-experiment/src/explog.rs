//! `experiment_log.tsv`: the record of every experiment.
//!
//! The canonical copy lives in the engine's state folder (out of reach of
//! `git clean`); the copy in the project folder is rewritten from it after
//! every change. Both are replaced atomically, so a kill never leaves a torn
//! row. Every value comes from the engine; the agent's description has its
//! backslashes, tabs and newlines escaped (`\\`, `\t`, `\n`, `\r`).

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{ExperimentError, Result};
use crate::fsutil;

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
}

impl Status {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Discard => "discard",
            Self::Crash => "crash",
            Self::Timeout => "timeout",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "keep" => Self::Keep,
            "discard" => Self::Discard,
            "crash" => Self::Crash,
            "timeout" => Self::Timeout,
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

/// Parses a whole log (header line first).
pub(crate) fn parse(text: &str, path: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            if line != HEADER {
                return Err(ExperimentError::Log {
                    path: path.to_path_buf(),
                    line: 1,
                    message: "the header is not the experiment log header".into(),
                });
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        rows.push(Row::parse(line).map_err(|message| ExperimentError::Log {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        })?);
    }
    Ok(rows)
}

/// Reads the log at `path` (no file: no rows).
pub(crate) fn read(path: &Path) -> Result<Vec<Row>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ExperimentError::io("read", path, e)),
    }
}

fn render(rows: &[Row]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for r in rows {
        out.push_str(&r.to_line());
        out.push('\n');
    }
    out
}

/// Writes a fresh log holding `rows` to the canonical path and the project
/// copy.
pub(crate) fn write_all(canonical: &Path, mirror: &Path, rows: &[Row]) -> Result<()> {
    let text = render(rows);
    fsutil::atomic_write(canonical, text.as_bytes())?;
    fsutil::atomic_write(mirror, text.as_bytes())
}

/// Appends `row` unless a row with its experiment id is already there (so a
/// decision interrupted after the write can be repeated safely).
pub(crate) fn append(canonical: &Path, mirror: &Path, row: Row) -> Result<()> {
    let mut rows = read(canonical)?;
    if !rows.iter().any(|r| r.experiment_id == row.experiment_id) {
        rows.push(row);
    }
    write_all(canonical, mirror, &rows)
}

/// Restores the project copy from the canonical log when it is missing or
/// differs (e.g. after `git clean -x`).
pub(crate) fn sync_mirror(canonical: &Path, mirror: &Path) -> Result<()> {
    let Ok(text) = std::fs::read(canonical) else {
        return Ok(());
    };
    if std::fs::read(mirror).ok().as_deref() != Some(text.as_slice()) {
        fsutil::atomic_write(mirror, &text)?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, desc: &str) -> Row {
        Row {
            experiment_id: id,
            timestamp: "2026-01-01T00:00:00Z".into(),
            run_id: "r".into(),
            metrics: "a=1.0;b=2".into(),
            status: Status::Keep,
            description: desc.into(),
            commit: "abc1234".into(),
            duration_seconds: 1.234,
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
            "0\t2026-01-01T00:00:00Z\tr\ta=1.0;b=2\tkeep\tbaseline\tabc1234\t1.23"
        );
    }

    #[test]
    fn append_is_idempotent_per_id() {
        let dir = tempfile::tempdir().unwrap();
        let (c, m) = (dir.path().join("c.tsv"), dir.path().join("m.tsv"));
        append(&c, &m, row(0, "a\tb")).unwrap();
        append(&c, &m, row(0, "again")).unwrap();
        append(&c, &m, row(1, "x")).unwrap();
        let rows = read(&m).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].description, "a\tb");
        assert!(std::fs::read_to_string(&c).unwrap().starts_with(HEADER));
    }
}
