//! The wire format between an agent's `gluers experiment ...` and its
//! supervisor, over the session's abstract UNIX socket.
//!
//! One request, then a stream of frames: a frame is a kind byte, a 4-byte
//! big-endian length and that many bytes. The client sends one
//! [`Kind::Request`] frame (JSON: the session token and the command); the
//! supervisor answers with [`Kind::Stdout`] and [`Kind::Stderr`] frames as
//! the engine prints, an optional [`Kind::File`] (a chart the client writes
//! where it was asked to), and ends with [`Kind::Exit`] (the exit code as
//! 4 bytes).

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::cli::ExperimentCommand;

/// The largest frame either side accepts: a chart or a burst of output is
/// far smaller; anything bigger is a confused or hostile peer.
pub(crate) const MAX_FRAME: usize = 64 << 20;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Client → supervisor: a [`Request`] as JSON.
    Request = 1,
    /// Supervisor → client: bytes for the client's stdout.
    Stdout = 2,
    /// Supervisor → client: bytes for the client's stderr.
    Stderr = 3,
    /// Supervisor → client: the bytes of the file the command wrote for the
    /// client (`report --out`).
    File = 4,
    /// Supervisor → client: the exit code (`i32`, big-endian); last frame.
    Exit = 5,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Request,
            2 => Kind::Stdout,
            3 => Kind::Stderr,
            4 => Kind::File,
            5 => Kind::Exit,
            _ => return None,
        })
    }
}

/// What the client asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Request {
    /// The session's token (from the agent's environment).
    pub token: String,
    /// The command, as the client parsed it.
    pub command: ExperimentCommand,
}

/// Writes one frame.
pub(crate) fn write_frame(w: &mut impl Write, kind: Kind, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut head = [0u8; 5];
    head[0] = kind as u8;
    head[1..].copy_from_slice(&len.to_be_bytes());
    w.write_all(&head)?;
    w.write_all(payload)?;
    w.flush()
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub(crate) fn read_frame(r: &mut impl Read) -> io::Result<Option<(Kind, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..])?;
    let kind = Kind::from_byte(head[0])
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unknown frame kind"))?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((kind, payload)))
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    blake3::hash(a.as_bytes()) == blake3::hash(b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let mut buf = Vec::new();
        write_frame(&mut buf, Kind::Stdout, b"hello\n").unwrap();
        write_frame(&mut buf, Kind::Exit, &3i32.to_be_bytes()).unwrap();
        let mut r = &buf[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((Kind::Stdout, b"hello\n".to_vec()))
        );
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((Kind::Exit, 3i32.to_be_bytes().to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn bad_frames_are_errors_not_allocations() {
        let mut huge = vec![2u8];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(read_frame(&mut &huge[..]).is_err());
        assert!(read_frame(&mut &[9u8, 0, 0, 0, 0][..]).is_err());
        // A frame cut short is an error, not a clean end.
        assert!(read_frame(&mut &[2u8, 0, 0, 0, 9, b'x'][..]).is_err());
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
    }
}
