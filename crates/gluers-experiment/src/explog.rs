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

/// The canonical log's header: [`HEADER`] and the two chain columns.
pub(crate) const CANONICAL_HEADER: &str = "experiment_id\ttimestamp\trun_id\tmetrics\tstatus\tdescription\tcommit\tduration_seconds\tprev_hash\trow_hash";

/// The `prev_hash` of the first row.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Hashed first, so that a row hash can never be mistaken for a hash of
/// anything else the engine keys.
const DOMAIN: &[u8] = b"gluers-experiment-log/v1\n";

/// Domain separation of the state's keyed hash from the rows'.
const STATE_DOMAIN: &[u8] = b"gluers-experiment-state/v1\n";

/// The number of seed columns; the canonical log has two more.
const SEED_COLUMNS: usize = 8;

/// The secret key of one experiment's log chain.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never printed: a key in a log or an error message is a key lost.
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self> {
        use std::io::Read as _;
        let source = Path::new("/dev/urandom");
        let mut bytes = [0u8; 32];
        std::fs::File::open(source)
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| ExperimentError::io("read random bytes from", source, e))?;
        Ok(Self(bytes))
    }

    /// Reads a key written by [`Key::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |message: String| ExperimentError::LogKey {
            path: path.to_path_buf(),
            message,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(bad("it is missing".into()))
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        let hex = text.trim_end_matches('\n');
        let mut bytes = [0u8; 32];
        if hex.len() != 64 || !decode_hex(hex, &mut bytes) {
            return Err(bad("it is not 64 hex digits".into()));
        }
        Ok(Self(bytes))
    }

    /// Writes the key (64 hex digits and a newline) atomically, readable and
    /// writable by the owner only.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fsutil::ensure_dir(dir)?;
        // The temporary file is created 0600, so the key is never readable
        // by others, not even before the rename.
        let mut tmp = tempfile::Builder::new()
            .prefix(".gluers-key-")
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(dir)
            .map_err(|e| ExperimentError::io("create a temporary file in", dir, e))?;
        let mut text = blake3::Hash::from_bytes(self.0).to_hex().to_string();
        text.push('\n');
        std::io::Write::write_all(&mut tmp, text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| ExperimentError::io("write", tmp.path().to_path_buf(), e))?;
        tmp.persist(path)
            .map_err(|e| ExperimentError::io("replace", path, e.error))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The keyed hash that authenticates the engine state whose JSON
    /// (without its own MAC) is `body` (see `State::check_mac`).
    pub fn state_mac(&self, body: &[u8]) -> blake3::Hash {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(STATE_DOMAIN);
        h.update(body);
        h.finalize()
    }

    /// The `row_hash` of a row whose eight columns are `line`, linked to
    /// `prev`.
    fn row_hash(&self, prev: &str, line: &str) -> String {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(DOMAIN);
        h.update(prev.as_bytes());
        h.update(b"\n");
        h.update(line.as_bytes());
        h.finalize().to_hex().to_string()
    }
}

/// Decodes lowercase or uppercase hex into `out`; false on a bad digit.
fn decode_hex(hex: &str, out: &mut [u8]) -> bool {
    let digit = |b: u8| (b as char).to_digit(16);
    for (o, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
        match (digit(pair[0]), pair.get(1).and_then(|b| digit(*b))) {
            (Some(hi), Some(lo)) => *o = (hi * 16 + lo) as u8,
            _ => return false,
        }
    }
    true
}

/// Whether `s` looks like a row hash: 64 lowercase hex digits.
fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

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

/// What [`verify_chain`] found wrong first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainErrorKind {
    /// The file does not exist.
    #[error("the log is missing")]
    Missing,
    /// The file cannot be read.
    #[error("it cannot be read ({0})")]
    Unreadable(String),
    /// The first line is not [`CANONICAL_HEADER`].
    #[error("the header is not the engine's (ten columns ending in prev_hash, row_hash): the file was replaced, or written by an older engine")]
    Header,
    /// A line that is not a row: torn, truncated, extra fields, a bad value.
    #[error("{0}")]
    Malformed(String),
    /// The row's content no longer matches its hash (while the next row
    /// still links to that hash).
    #[error(
        "the row was edited after the engine wrote it (its content no longer matches its hash)"
    )]
    EditedRow,
    /// The row's hash matches neither its content nor the next row's link.
    #[error("the row's hash was altered or forged (it matches neither its content nor the next row's link)")]
    HashAltered,
    /// No row's hash matches its content under the experiment's key.
    #[error("no row matches the experiment's key: the key or the whole log was replaced")]
    WrongKey,
    /// The row links to a row that is not in the log.
    #[error("a row before it was removed (it links to a row that is not in the log)")]
    RowMissing,
    /// The row links to another row of the log than the one before it
    /// (`None`: to the start of the log).
    #[error("rows were reordered or duplicated (it links to {}, not to the row before it)", match .links_to { Some(l) => format!("the row on line {l}"), None => "the start of the log".to_string() })]
    Reordered {
        /// The line of the row it links to.
        links_to: Option<usize>,
    },
    /// The chain is valid but ends before the head the engine recorded.
    #[error("the last row(s) were removed: the log ends here, but the engine recorded chain head {}", &.expected[..expected.len().min(12)])]
    Truncated {
        /// The recorded head.
        expected: String,
    },
    /// The chain continues past the head the engine recorded.
    #[error("the engine state records the chain head on line {recorded_line}; this row and those after it are not in the state (the state was rolled back, or the engine stopped between writing the log and its state)")]
    AheadOfRecord {
        /// The line of the recorded head.
        recorded_line: usize,
    },
}

/// The first problem of a canonical log: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("experiment log {} line {line}{}: {kind}", path.display(), match .experiment_id { Some(id) => format!(" (experiment {id})"), None => String::new() })]
pub struct ChainError {
    /// The canonical log.
    pub path: std::path::PathBuf,
    /// 1-based line number (1 is the header).
    pub line: usize,
    /// The experiment id of the row, when it could be read.
    pub experiment_id: Option<u64>,
    /// What is wrong.
    #[source]
    pub kind: ChainErrorKind,
}

/// A valid chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifyReport {
    /// Its number of rows.
    pub rows: usize,
    /// Its last `row_hash` (`None` for a log without rows).
    pub head: Option<String>,
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

/// Checks the links and hashes of `entries` under `key`, and that the chain
/// ends at `expected_head` when one is recorded.
fn check_chain(
    entries: &[Entry],
    key: &Key,
    expected_head: Option<&str>,
    path: &Path,
) -> std::result::Result<VerifyReport, ChainError> {
    let err = |e: &Entry, kind: ChainErrorKind| ChainError {
        path: path.to_path_buf(),
        line: e.line,
        experiment_id: Some(e.row.experiment_id),
        kind,
    };
    for (i, e) in entries.iter().enumerate() {
        let want_prev = if i == 0 {
            GENESIS
        } else {
            &entries[i - 1].hash
        };
        if e.prev != want_prev {
            let kind = if e.prev == GENESIS {
                ChainErrorKind::Reordered { links_to: None }
            } else if let Some(other) = entries.iter().find(|o| o.hash == e.prev) {
                ChainErrorKind::Reordered {
                    links_to: Some(other.line),
                }
            } else {
                ChainErrorKind::RowMissing
            };
            return Err(err(e, kind));
        }
        if key.row_hash(&e.prev, &e.text) != e.hash {
            // The next row's link tells which half changed: it still names
            // the stored hash when only the content was edited.
            let kind = match entries.get(i + 1) {
                _ if i == 0
                    && entries
                        .iter()
                        .all(|o| key.row_hash(&o.prev, &o.text) != o.hash) =>
                {
                    ChainErrorKind::WrongKey
                }
                Some(next) if next.prev != e.hash => ChainErrorKind::HashAltered,
                _ => ChainErrorKind::EditedRow,
            };
            return Err(err(e, kind));
        }
    }
    let head = entries.last().map(|e| e.hash.clone());
    if let Some(expected) = expected_head {
        if head.as_deref() != Some(expected) {
            if let Some(at) = entries.iter().position(|e| e.hash == expected) {
                return Err(err(
                    &entries[at + 1],
                    ChainErrorKind::AheadOfRecord {
                        recorded_line: entries[at].line,
                    },
                ));
            }
            let kind = ChainErrorKind::Truncated {
                expected: expected.to_string(),
            };
            return Err(match entries.last() {
                Some(last) => err(last, kind),
                None => ChainError {
                    path: path.to_path_buf(),
                    line: 1,
                    experiment_id: None,
                    kind,
                },
            });
        }
    }
    Ok(VerifyReport {
        rows: entries.len(),
        head,
    })
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

/// Verifies the canonical log at `canonical`: structure, every link and
/// every hash under `key`, and, when the engine recorded one, that the
/// chain ends at `expected_head` (so removing the last rows is seen).
pub(crate) fn verify_chain(
    canonical: &Path,
    key: &Key,
    expected_head: Option<&str>,
) -> std::result::Result<VerifyReport, ChainError> {
    let text = read_canonical(canonical)?;
    let entries = parse_canonical(&text, canonical)?;
    check_chain(&entries, key, expected_head, canonical)
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

/// `row` chained after `entries`.
fn chained(entries: &[Entry], key: &Key, row: Row) -> Entry {
    let prev = entries.last().map_or(GENESIS, |e| &e.hash).to_string();
    let text = row.to_line();
    Entry {
        line: entries.len() + 2,
        hash: key.row_hash(&prev, &text),
        text,
        prev,
        row,
    }
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

#[cfg(test)]
mod tests {
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
}
