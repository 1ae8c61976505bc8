//! Reading the log: records in LSN order from any record boundary, and the
//! decision of where the log ends.
//!
//! ```text
//!   ... | rec | rec | rec | ??????? | 000000000000 ...
//!                         ^ first bytes that are not a valid record at their LSN
//!   nothing valid after it  -> a torn tail: the log ends here (truncated, warned)
//!   a valid record after it -> corruption in the middle: a hard error
//! ```
//!
//! A position "holds a valid record" when a plausible header is there and the
//! CRC (which covers the position itself) matches, so stale or shifted bytes
//! never count. The log manager writes and syncs one batch at a time, so a
//! crash can only damage the last batch; anything valid beyond damage means
//! bytes that were once durable are gone, which must never pass silently.

use crate::storage::Lsn;

use super::WalError;
use super::record::{HEADER_BYTES, Record, checksum_ok, plausible_len};
use super::segment::Segments;

const CHUNK_BYTES: usize = 1 << 20;

/// What is at a position of the log.
#[derive(Debug)]
pub enum Found {
    /// A valid record, and the LSN just past it.
    Record(Record, Lsn),
    /// No valid record: the log ends here, or is damaged here.
    Invalid,
}

/// Sequential reader over the segments, with a read-ahead cache.
pub struct LogReader<'a> {
    segments: &'a Segments,
    cache_start: u64,
    cache: Vec<u8>,
    /// How much of `cache` holds log bytes.
    cache_len: usize,
    /// The cache reaches the end of the present segments.
    cache_at_end: bool,
}

impl<'a> LogReader<'a> {
    pub fn new(segments: &'a Segments) -> LogReader<'a> {
        LogReader {
            segments,
            cache_start: 0,
            cache: Vec::new(),
            cache_len: 0,
            cache_at_end: false,
        }
    }

    /// Up to `n` bytes at `lsn` (fewer where the log's segments end).
    fn bytes(&mut self, lsn: Lsn, n: usize) -> Result<&[u8], WalError> {
        let slice = self.cached(lsn, n)?;
        Ok(&slice[..n.min(slice.len())])
    }

    /// At least `n` bytes at `lsn` (fewer only where the segments end), and
    /// whatever more the cache holds after them.
    fn cached(&mut self, lsn: Lsn, n: usize) -> Result<&[u8], WalError> {
        let cache_end = self.cache_start + self.cache_len as u64;
        let covered = lsn.0 >= self.cache_start
            && (lsn.0 + n as u64 <= cache_end || (self.cache_at_end && lsn.0 <= cache_end));
        if !covered {
            let want = n.max(CHUNK_BYTES);
            if self.cache.len() < want {
                self.cache = vec![0u8; want];
            }
            let got = self.segments.read(lsn, &mut self.cache[..want])?;
            self.cache_len = got;
            self.cache_start = lsn.0;
            self.cache_at_end = got < want;
        }
        let off = (lsn.0 - self.cache_start) as usize;
        Ok(&self.cache[off.min(self.cache_len)..self.cache_len])
    }

    /// Reads whatever is at `lsn`. A record that passes its checksum but does
    /// not decode is corruption (an `Err`), not the end of the log.
    pub fn at(&mut self, lsn: Lsn) -> Result<Found, WalError> {
        let header = self.bytes(lsn, HEADER_BYTES)?;
        let Some(len) = plausible_len(header) else {
            return Ok(Found::Invalid);
        };
        let bytes = self.bytes(lsn, len)?;
        if bytes.len() < len || !checksum_ok(lsn, bytes) {
            return Ok(Found::Invalid);
        }
        let record = Record::decode(lsn, bytes)?;
        Ok(Found::Record(record, Lsn(lsn.0 + len as u64)))
    }

    /// The first position after `lsn` holding a valid record, searching up to
    /// where the present segments end.
    pub fn find_valid_after(&mut self, lsn: Lsn) -> Result<Option<Lsn>, WalError> {
        let Some(limit) = self.segments.end_capacity() else {
            return Ok(None);
        };
        let mut pos = lsn.0 + 1;
        while pos + HEADER_BYTES as u64 <= limit.0 {
            // A header's length field is at least HEADER_BYTES, so one of its
            // four bytes is non-zero: skip runs of zeros in the cache.
            let window = self.cached(Lsn(pos), HEADER_BYTES)?;
            if window.len() < HEADER_BYTES {
                break;
            }
            match window.iter().position(|&b| b != 0) {
                None => {
                    pos += window.len() as u64;
                    continue;
                }
                Some(i) if i > 3 => {
                    pos += i as u64 - 3;
                    continue;
                }
                Some(_) => {}
            }
            if let Found::Record(..) = self.at(Lsn(pos))? {
                return Ok(Some(Lsn(pos)));
            }
            pos += 1;
        }
        Ok(None)
    }
}

/// The record at `lsn`, for random access (undo walking a transaction's
/// chain backwards): one small read that usually holds the whole record,
/// and a second one only for a longer record. A [`LogReader`] would read
/// ahead a whole chunk for each; that made rolling back 300,000 updates
/// take 48 s.
pub fn read_one(segments: &Segments, lsn: Lsn) -> Result<Found, WalError> {
    const FIRST_READ: usize = 512;
    let mut buf = vec![0u8; FIRST_READ];
    let got = segments.read(lsn, &mut buf)?;
    let Some(len) = plausible_len(&buf[..got]) else {
        return Ok(Found::Invalid);
    };
    if len > got {
        buf.resize(len, 0);
        if got == FIRST_READ {
            let more = segments.read(Lsn(lsn.0 + got as u64), &mut buf[got..])?;
            if got + more < len {
                return Ok(Found::Invalid);
            }
        } else {
            return Ok(Found::Invalid);
        }
    }
    let bytes = &buf[..len];
    if !checksum_ok(lsn, bytes) {
        return Ok(Found::Invalid);
    }
    let record = Record::decode(lsn, bytes)?;
    Ok(Found::Record(record, Lsn(lsn.0 + len as u64)))
}

/// Where the log ends, scanning from the record boundary `from`: the LSN
/// past the last valid record, whether the bytes there were damaged (a torn
/// tail) rather than clean zeros, and a hard error if valid records follow
/// the damage.
pub fn find_end(segments: &Segments, from: Lsn) -> Result<(Lsn, bool), WalError> {
    let mut reader = LogReader::new(segments);
    let mut pos = from;
    loop {
        match reader.at(pos)? {
            Found::Record(_, next) => pos = next,
            Found::Invalid => {
                if let Some(valid) = reader.find_valid_after(pos)? {
                    return Err(WalError::Corrupt {
                        lsn: pos,
                        reason: format!(
                            "invalid record in the middle of the log \
                             (a valid record follows at LSN {}); refusing to \
                             discard durable log records",
                            valid.0
                        ),
                    });
                }
                let tail = reader.bytes(pos, HEADER_BYTES)?;
                let damaged = tail.iter().any(|&b| b != 0);
                return Ok((pos, damaged));
            }
        }
    }
}
