//! The experiment log's keyed hash chain: the [`Key`] (generated, saved,
//! loaded; also the keyed hash of the engine state), the row hash, chaining
//! a row, and [`verify_chain`] with the errors it names.

use std::path::Path;

use crate::error::{ExperimentError, Result};
use crate::fsutil;

use super::{parse_canonical, read_canonical, Entry, Row};

/// The `prev_hash` of the first row.
pub(super) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Hashed first, so that a row hash can never be mistaken for a hash of
/// anything else the engine keys.
const DOMAIN: &[u8] = b"gluers-experiment-log/v1\n";

/// Domain separation of the state's keyed hash from the rows'.
const STATE_DOMAIN: &[u8] = b"gluers-experiment-state/v1\n";

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
pub(super) fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
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
    /// The first line is not [`CANONICAL_HEADER`](super::CANONICAL_HEADER).
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

/// Checks the links and hashes of `entries` under `key`, and that the chain
/// ends at `expected_head` when one is recorded.
pub(super) fn check_chain(
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

/// `row` chained after `entries`.
pub(super) fn chained(entries: &[Entry], key: &Key, row: Row) -> Entry {
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
