//! Log records: what they say and how they are laid out in the log.
//!
//! Every record is one header and a body; all integers are little-endian.
//!
//! | offset | size | meaning                                                    |
//! |-------:|-----:|------------------------------------------------------------|
//! |      0 |    4 | total length of the record in bytes, header included       |
//! |      4 |    4 | CRC32 of: the record's own LSN (8 bytes LE), bytes 0..4, bytes 8..length |
//! |      8 |    8 | transaction id (0: no transaction, e.g. checkpoints)       |
//! |     16 |    8 | prevLSN: the previous record of the same transaction (0: none) |
//! |     24 |    1 | record type (table below)                                  |
//! |     25 |    3 | reserved, zero                                             |
//! |     28 |    … | body                                                       |
//!
//! Folding the LSN into the CRC means a record is only valid at the position it
//! was written for: stale bytes at another position never pass as a record.
//! LSN 0 is always the first checkpoint's begin record, so prevLSN 0 and page
//! LSN 0 can mean "none".
//!
//! | type | name             | body                                                        |
//! |-----:|------------------|-------------------------------------------------------------|
//! |    1 | Begin            | —                                                           |
//! |    2 | Commit           | —                                                           |
//! |    3 | Abort            | — (rollback has started; CLRs follow)                       |
//! |    4 | End              | — (the transaction is finished: committed or rolled back)   |
//! |    5 | Update           | LogicalUndo (a row change; its page changes follow as Redo) |
//! |    6 | Redo             | u64 smo, PageRedo (redo-only, never undone)                 |
//! |    7 | Clr              | u64 undoNextLSN (the undo step's page changes precede it)   |
//! |    8 | CheckpointBegin  | —                                                           |
//! |    9 | CheckpointEnd    | u64 begin LSN, u32 n, n × (u64 page, u64 recLSN), u32 m, m × TxnEntry |
//! |   10 | PageImage        | u64 smo, u64 page, u32 len + image, u32 len + op            |
//! |   11 | SmoEnd           | u64 LSN of the structure change's first record              |
//! |   12 | IdLimit          | u64 limit: no transaction id or version stamp at or above it was handed out |
//! |   13 | CreateTree       | u64 tree (undo: free the tree, if it exists)                 |
//! |   14 | DropTree         | u64 tree (freed once its transaction committed; never undone) |
//! |   15 | TreeDrops        | u32 n, n × (u64 tree, u64 txn, u8 committed): drops not yet freed, at a checkpoint |
//!
//! `PageRedo` = u64 page number, u32 length, that many bytes of a serialised
//! page operation (the storage layer's `PageOp`; the log never looks inside).
//! `smo` is 0 for a standalone change, else the LSN of the first record of the
//! structure change (split, merge, ...) the record belongs to; redo applies a
//! structure change only if its SmoEnd is in the log, so it is all-or-nothing.
//! A PageImage is a page's whole content before `op` (trailing zeros
//! trimmed), logged by the first change after the page was last clean: redo
//! rebuilds the page from it without reading the (possibly torn) disk copy.
//! `LogicalUndo` = u64 tree id, u32 key length, key, u8 has-before (0/1),
//! [u32 length, before-image]: "make `key` in `tree` hold `before` again
//! (absent: delete it)". `TxnEntry` = u64 txn id, u8 state (0 running,
//! 1 committing, 2 aborting), u64 lastLSN, u64 undoNextLSN.

use crate::storage::Lsn;

use super::WalError;

/// Size of the fixed record header.
pub const HEADER_BYTES: usize = 28;
/// No record may be longer than this (a sanity bound when reading a length).
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// A transaction id at the storage layer. 0 means "no transaction".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TxnId(pub u64);

/// A page change, for redo: which page, and the storage layer's serialised
/// operation on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRedo {
    pub page: u64,
    pub op: Vec<u8>,
}

/// How to undo a row change logically, wherever the key lives by then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalUndo {
    pub tree: u64,
    pub key: Vec<u8>,
    /// The value before the change; `None` if the key did not exist.
    pub before: Option<Vec<u8>>,
}

/// State of a transaction in a checkpoint's transaction table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    Running,
    /// The commit record is written; only the End record is missing.
    Committing,
    /// Rollback has started.
    Aborting,
}

/// One row of a checkpoint's transaction table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnEntry {
    pub txn: TxnId,
    pub state: TxnState,
    pub last_lsn: Lsn,
    /// Where undo continues (the last record not yet compensated).
    pub undo_next: Lsn,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordBody {
    Begin,
    Commit,
    Abort,
    End,
    /// A row change, logged before its page changes: how to undo it
    /// logically. Undo sets the key back, which is a no-op if the change
    /// never reached the tree, so the order is safe at any crash point.
    Update {
        undo: LogicalUndo,
    },
    /// One page change: redone, never undone. Part of the structure change
    /// starting at `smo` (or standalone if `smo` is 0).
    Redo {
        smo: Lsn,
        redo: PageRedo,
    },
    /// A compensation record: the undo step for the record before
    /// `undo_next` is done (its page changes were logged as Redo before it).
    Clr {
        undo_next: Lsn,
    },
    CheckpointBegin,
    CheckpointEnd {
        begin: Lsn,
        dirty_pages: Vec<(u64, Lsn)>,
        txns: Vec<TxnEntry>,
    },
    /// A page's whole content before `op`, then `op`: the first change to a
    /// page since it was last written clean.
    PageImage {
        smo: Lsn,
        page: u64,
        image: Vec<u8>,
        op: Vec<u8>,
    },
    /// The structure change whose first record is at `first` is complete.
    SmoEnd {
        first: Lsn,
    },
    /// Ids (transaction ids and version stamps share one counter) below
    /// `limit` may have been handed out; recovery restarts the counter at
    /// the highest limit it sees (a checkpoint repeats the current one).
    IdLimit {
        limit: u64,
    },
    /// The transaction created `tree` (logged inside the creation's
    /// structure change). Undo frees the tree, if it exists.
    CreateTree {
        tree: u64,
    },
    /// The transaction drops `tree`: logged just before its Commit; the tree
    /// is freed after the commit (once no snapshot can use it), and by
    /// recovery if the commit is in the log. Never undone.
    DropTree {
        tree: u64,
    },
    /// At a checkpoint: the drops logged (`DropTree`) but not yet freed,
    /// with their transaction and whether it had committed.
    TreeDrops {
        drops: Vec<TreeDrop>,
    },
}

/// A dropped tree not yet freed, as a checkpoint records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeDrop {
    pub tree: u64,
    pub txn: TxnId,
    pub committed: bool,
}

impl RecordBody {
    fn type_code(&self) -> u8 {
        match self {
            RecordBody::Begin => 1,
            RecordBody::Commit => 2,
            RecordBody::Abort => 3,
            RecordBody::End => 4,
            RecordBody::Update { .. } => 5,
            RecordBody::Redo { .. } => 6,
            RecordBody::Clr { .. } => 7,
            RecordBody::CheckpointBegin => 8,
            RecordBody::CheckpointEnd { .. } => 9,
            RecordBody::PageImage { .. } => 10,
            RecordBody::SmoEnd { .. } => 11,
            RecordBody::IdLimit { .. } => 12,
            RecordBody::CreateTree { .. } => 13,
            RecordBody::DropTree { .. } => 14,
            RecordBody::TreeDrops { .. } => 15,
        }
    }

    /// The page this record changes, and the structure change it is part of.
    pub fn page_change(&self) -> Option<(u64, Lsn)> {
        match self {
            RecordBody::Redo { smo, redo } => Some((redo.page, *smo)),
            RecordBody::PageImage { smo, page, .. } => Some((*page, *smo)),
            _ => None,
        }
    }
}

fn valid_type(code: u8) -> bool {
    (1..=15).contains(&code)
}

/// A whole record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub txn: TxnId,
    pub prev_lsn: Lsn,
    pub body: RecordBody,
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, u32::try_from(b.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(b);
}
fn put_redo(out: &mut Vec<u8>, r: &PageRedo) {
    put_u64(out, r.page);
    put_bytes(out, &r.op);
}

fn crc_of(lsn: Lsn, record: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&lsn.0.to_le_bytes());
    h.update(&record[0..4]);
    h.update(&record[8..]);
    h.finalize()
}

impl Record {
    /// Encoded length in bytes (header included).
    pub fn encoded_len(&self) -> usize {
        let mut v = Vec::new();
        self.encode_body(&mut v);
        HEADER_BYTES + v.len()
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match &self.body {
            RecordBody::Begin
            | RecordBody::Commit
            | RecordBody::Abort
            | RecordBody::End
            | RecordBody::CheckpointBegin => {}
            RecordBody::Update { undo } => {
                put_u64(out, undo.tree);
                put_bytes(out, &undo.key);
                match &undo.before {
                    Some(b) => {
                        out.push(1);
                        put_bytes(out, b);
                    }
                    None => out.push(0),
                }
            }
            RecordBody::Redo { smo, redo } => {
                put_u64(out, smo.0);
                put_redo(out, redo);
            }
            RecordBody::Clr { undo_next } => put_u64(out, undo_next.0),
            RecordBody::PageImage {
                smo,
                page,
                image,
                op,
            } => {
                put_u64(out, smo.0);
                put_u64(out, *page);
                put_bytes(out, image);
                put_bytes(out, op);
            }
            RecordBody::SmoEnd { first } => put_u64(out, first.0),
            RecordBody::IdLimit { limit } => put_u64(out, *limit),
            RecordBody::CreateTree { tree } | RecordBody::DropTree { tree } => put_u64(out, *tree),
            RecordBody::TreeDrops { drops } => {
                put_u32(out, drops.len() as u32);
                for d in drops {
                    put_u64(out, d.tree);
                    put_u64(out, d.txn.0);
                    out.push(u8::from(d.committed));
                }
            }
            RecordBody::CheckpointEnd {
                begin,
                dirty_pages,
                txns,
            } => {
                put_u64(out, begin.0);
                put_u32(out, dirty_pages.len() as u32);
                for (page, rec) in dirty_pages {
                    put_u64(out, *page);
                    put_u64(out, rec.0);
                }
                put_u32(out, txns.len() as u32);
                for t in txns {
                    put_u64(out, t.txn.0);
                    out.push(match t.state {
                        TxnState::Running => 0,
                        TxnState::Committing => 1,
                        TxnState::Aborting => 2,
                    });
                    put_u64(out, t.last_lsn.0);
                    put_u64(out, t.undo_next.0);
                }
            }
        }
    }

    /// Appends the encoding of this record, as it is to be stored at `lsn`, to
    /// `out`. Fails if the record is longer than [`MAX_RECORD_BYTES`].
    pub fn encode_into(&self, lsn: Lsn, out: &mut Vec<u8>) -> Result<(), WalError> {
        let start = out.len();
        out.extend_from_slice(&[0u8; HEADER_BYTES]);
        self.encode_body(out);
        let len = out.len() - start;
        if len > MAX_RECORD_BYTES {
            out.truncate(start);
            return Err(WalError::RecordTooLarge { bytes: len });
        }
        let rec = &mut out[start..];
        rec[0..4].copy_from_slice(&(len as u32).to_le_bytes());
        rec[8..16].copy_from_slice(&self.txn.0.to_le_bytes());
        rec[16..24].copy_from_slice(&self.prev_lsn.0.to_le_bytes());
        rec[24] = self.body.type_code();
        let crc = crc_of(lsn, rec);
        rec[4..8].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    /// The encoding of this record at `lsn`.
    pub fn encode(&self, lsn: Lsn) -> Result<Vec<u8>, WalError> {
        let mut v = Vec::new();
        self.encode_into(lsn, &mut v)?;
        Ok(v)
    }
}

/// Reads the length field of a header, if `header` is a plausible one: long
/// enough, a known type, zero reserved bytes, a sane length.
pub fn plausible_len(header: &[u8]) -> Option<usize> {
    if header.len() < HEADER_BYTES {
        return None;
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if !(HEADER_BYTES..=MAX_RECORD_BYTES).contains(&len)
        || !valid_type(header[24])
        || header[25..28] != [0, 0, 0]
    {
        return None;
    }
    Some(len)
}

/// Whether `bytes` (exactly one record's length) is an intact record at `lsn`.
pub fn checksum_ok(lsn: Lsn, bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_BYTES
        && u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) == crc_of(lsn, bytes)
}

struct Cursor<'a> {
    lsn: Lsn,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn corrupt(&self, what: &str) -> WalError {
        WalError::Corrupt {
            lsn: self.lsn,
            reason: format!("record body is malformed ({what} at byte {})", self.pos),
        }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], WalError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.corrupt(what))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, WalError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, WalError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, WalError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self, what: &str) -> Result<Vec<u8>, WalError> {
        let n = self.u32(what)? as usize;
        Ok(self.take(n, what)?.to_vec())
    }
    fn redo(&mut self) -> Result<PageRedo, WalError> {
        let page = self.u64("page number")?;
        let op = self.bytes("page operation")?;
        Ok(PageRedo { page, op })
    }
    fn count(&mut self, min_entry_bytes: usize, what: &str) -> Result<usize, WalError> {
        let n = self.u32(what)? as usize;
        if n > self.bytes.len() / min_entry_bytes {
            return Err(self.corrupt(what));
        }
        Ok(n)
    }
}

impl Record {
    /// Decodes one whole record (`bytes` is exactly its length) stored at
    /// `lsn`, verifying length, type and checksum.
    pub fn decode(lsn: Lsn, bytes: &[u8]) -> Result<Record, WalError> {
        let corrupt = |reason: &str| WalError::Corrupt {
            lsn,
            reason: reason.to_string(),
        };
        let len = plausible_len(bytes).ok_or_else(|| corrupt("bad record header"))?;
        if len != bytes.len() {
            return Err(corrupt("record length does not match"));
        }
        if !checksum_ok(lsn, bytes) {
            return Err(corrupt("checksum mismatch"));
        }
        let mut c = Cursor { lsn, bytes, pos: 8 };
        let txn = TxnId(c.u64("txn id")?);
        let prev_lsn = Lsn(c.u64("prevLSN")?);
        let code = c.u8("type")?;
        c.take(3, "reserved")?;
        let body = match code {
            1 => RecordBody::Begin,
            2 => RecordBody::Commit,
            3 => RecordBody::Abort,
            4 => RecordBody::End,
            5 => {
                let tree = c.u64("tree id")?;
                let key = c.bytes("key")?;
                let before = match c.u8("before flag")? {
                    0 => None,
                    1 => Some(c.bytes("before image")?),
                    _ => return Err(c.corrupt("before flag")),
                };
                RecordBody::Update {
                    undo: LogicalUndo { tree, key, before },
                }
            }
            6 => {
                let smo = Lsn(c.u64("smo")?);
                RecordBody::Redo {
                    smo,
                    redo: c.redo()?,
                }
            }
            7 => RecordBody::Clr {
                undo_next: Lsn(c.u64("undoNextLSN")?),
            },
            8 => RecordBody::CheckpointBegin,
            9 => {
                let begin = Lsn(c.u64("checkpoint begin")?);
                let n = c.count(16, "dirty page count")?;
                let mut dirty_pages = Vec::with_capacity(n);
                for _ in 0..n {
                    let page = c.u64("dirty page")?;
                    let rec = Lsn(c.u64("recLSN")?);
                    dirty_pages.push((page, rec));
                }
                let m = c.count(25, "transaction count")?;
                let mut txns = Vec::with_capacity(m);
                for _ in 0..m {
                    let txn = TxnId(c.u64("txn id")?);
                    let state = match c.u8("txn state")? {
                        0 => TxnState::Running,
                        1 => TxnState::Committing,
                        2 => TxnState::Aborting,
                        _ => return Err(c.corrupt("txn state")),
                    };
                    let last_lsn = Lsn(c.u64("lastLSN")?);
                    let undo_next = Lsn(c.u64("undoNextLSN")?);
                    txns.push(TxnEntry {
                        txn,
                        state,
                        last_lsn,
                        undo_next,
                    });
                }
                RecordBody::CheckpointEnd {
                    begin,
                    dirty_pages,
                    txns,
                }
            }
            10 => {
                let smo = Lsn(c.u64("smo")?);
                let page = c.u64("page number")?;
                let image = c.bytes("page image")?;
                let op = c.bytes("page operation")?;
                RecordBody::PageImage {
                    smo,
                    page,
                    image,
                    op,
                }
            }
            11 => RecordBody::SmoEnd {
                first: Lsn(c.u64("smo first LSN")?),
            },
            12 => RecordBody::IdLimit {
                limit: c.u64("id limit")?,
            },
            13 => RecordBody::CreateTree {
                tree: c.u64("tree id")?,
            },
            14 => RecordBody::DropTree {
                tree: c.u64("tree id")?,
            },
            15 => {
                let n = c.count(17, "tree drop count")?;
                let mut drops = Vec::with_capacity(n);
                for _ in 0..n {
                    let tree = c.u64("tree id")?;
                    let txn = TxnId(c.u64("txn id")?);
                    let committed = match c.u8("committed flag")? {
                        0 => false,
                        1 => true,
                        _ => return Err(c.corrupt("committed flag")),
                    };
                    drops.push(TreeDrop {
                        tree,
                        txn,
                        committed,
                    });
                }
                RecordBody::TreeDrops { drops }
            }
            _ => return Err(c.corrupt("record type")),
        };
        if c.pos != bytes.len() {
            return Err(c.corrupt("trailing bytes"));
        }
        Ok(Record {
            txn,
            prev_lsn,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn samples() -> Vec<Record> {
        let t = TxnId(7);
        let p = Lsn(1234);
        let rec = |body| Record {
            txn: t,
            prev_lsn: p,
            body,
        };
        vec![
            rec(RecordBody::Begin),
            rec(RecordBody::Commit),
            rec(RecordBody::Abort),
            rec(RecordBody::End),
            rec(RecordBody::Update {
                undo: LogicalUndo {
                    tree: 3,
                    key: b"key".to_vec(),
                    before: Some(b"old".to_vec()),
                },
            }),
            rec(RecordBody::Update {
                undo: LogicalUndo {
                    tree: 3,
                    key: vec![],
                    before: None,
                },
            }),
            rec(RecordBody::Redo {
                smo: Lsn(0),
                redo: PageRedo {
                    page: 5,
                    op: vec![9; 100],
                },
            }),
            rec(RecordBody::Redo {
                smo: Lsn(77),
                redo: PageRedo {
                    page: 6,
                    op: vec![],
                },
            }),
            rec(RecordBody::Clr { undo_next: Lsn(99) }),
            rec(RecordBody::PageImage {
                smo: Lsn(3),
                page: 8,
                image: vec![1, 2, 3, 0, 5],
                op: vec![6; 20],
            }),
            rec(RecordBody::SmoEnd { first: Lsn(1) }),
            rec(RecordBody::IdLimit { limit: 8192 }),
            rec(RecordBody::CreateTree { tree: 12 }),
            rec(RecordBody::DropTree { tree: 13 }),
            rec(RecordBody::TreeDrops {
                drops: vec![
                    TreeDrop {
                        tree: 4,
                        txn: TxnId(20),
                        committed: true,
                    },
                    TreeDrop {
                        tree: 5,
                        txn: TxnId(21),
                        committed: false,
                    },
                ],
            }),
            rec(RecordBody::TreeDrops { drops: vec![] }),
            rec(RecordBody::CheckpointBegin),
            rec(RecordBody::CheckpointEnd {
                begin: Lsn(10),
                dirty_pages: vec![(1, Lsn(2)), (3, Lsn(4))],
                txns: vec![TxnEntry {
                    txn: TxnId(9),
                    state: TxnState::Aborting,
                    last_lsn: Lsn(50),
                    undo_next: Lsn(40),
                }],
            }),
        ]
    }

    #[test]
    fn every_record_type_round_trips() {
        for (i, r) in samples().into_iter().enumerate() {
            let lsn = Lsn(1000 + i as u64);
            let bytes = r.encode(lsn).unwrap();
            assert_eq!(bytes.len(), r.encoded_len());
            assert_eq!(Record::decode(lsn, &bytes).unwrap(), r);
        }
    }

    #[test]
    fn a_record_is_valid_only_at_its_own_lsn() {
        let r = &samples()[4];
        let bytes = r.encode(Lsn(100)).unwrap();
        assert!(Record::decode(Lsn(101), &bytes).is_err());
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        for r in samples() {
            let bytes = r.encode(Lsn(64)).unwrap();
            for i in 0..bytes.len() * 8 {
                let mut b = bytes.clone();
                b[i / 8] ^= 1 << (i % 8);
                assert!(Record::decode(Lsn(64), &b).is_err(), "bit {i} of {r:?}");
            }
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for r in samples() {
            let bytes = r.encode(Lsn(8)).unwrap();
            for n in 0..bytes.len() {
                assert!(Record::decode(Lsn(8), &bytes[..n]).is_err());
            }
        }
    }
}
