//! Transaction ids, snapshots and the visibility rule.
//!
//! A snapshot is the set of transactions whose effects a reader sees: every
//! transaction that *finished* before the snapshot was taken and committed.
//! It is kept in PostgreSQL's compact form:
//!
//! ```text
//!   xids:     ... 7  8  9  10  11  12  13 ...
//!                    ^        ^          ^
//!                  xmin    active      xmax
//!   < xmin         : finished before the snapshot (committed or aborted)
//!   [xmin, xmax)   : finished, unless listed in `active`
//!   >= xmax        : began after the snapshot: never visible
//! ```
//!
//! Invariants:
//! - `xmin <= every xid in active < xmax`, and `active` is sorted and unique.
//! - A snapshot never changes once taken; READ COMMITTED takes a new one per
//!   statement, REPEATABLE READ and SERIALIZABLE one per transaction.
//! - Visibility is a pure function of (snapshot, command id, version header,
//!   the set of aborted xids): no clock, no locks, no I/O.

use std::fmt;
use std::sync::Arc;

/// A transaction id. Ids are 64-bit and never reused, so there is no
/// wraparound (and no freezing) to handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Xid(pub u64);

impl Xid {
    /// Never a real transaction; "no transaction".
    pub const INVALID: Xid = Xid(0);
    /// Writes made by bootstrap (the initial catalog): visible to everyone.
    pub const FROZEN: Xid = Xid(1);
    /// The first id handed to a real transaction.
    pub const FIRST_NORMAL: Xid = Xid(2);

    pub fn is_normal(self) -> bool {
        self >= Xid::FIRST_NORMAL
    }
}

impl fmt::Display for Xid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The number of a statement (command) within its transaction, from 0. A
/// statement sees the transaction's own writes made by earlier commands, but
/// not its own (PostgreSQL's cmin rule, which keeps `UPDATE t SET k = k + 1`
/// from revisiting rows it just wrote).
pub type CommandId = u32;

/// Which transactions a reader sees. Cheap to clone (the active list is shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The transaction this snapshot belongs to (its own writes are visible
    /// by command id), or [`Xid::INVALID`] for a snapshot of no transaction.
    pub owner: Xid,
    /// Every xid below this had finished when the snapshot was taken.
    pub xmin: Xid,
    /// The first xid not yet handed out when the snapshot was taken.
    pub xmax: Xid,
    /// Xids in `[xmin, xmax)` still running then, sorted; never contains `owner`.
    pub active: Arc<[Xid]>,
}

impl Snapshot {
    /// Builds a snapshot, asserting the invariants above.
    pub fn new(owner: Xid, xmin: Xid, xmax: Xid, active: Vec<Xid>) -> Snapshot {
        assert!(xmin <= xmax, "snapshot xmin {xmin} > xmax {xmax}");
        assert!(
            active.windows(2).all(|w| w[0] < w[1]),
            "snapshot active list not sorted and unique"
        );
        assert!(
            active
                .iter()
                .all(|x| *x >= xmin && *x < xmax && *x != owner),
            "snapshot active list outside [xmin, xmax) or holding its owner"
        );
        Snapshot {
            owner,
            xmin,
            xmax,
            active: active.into(),
        }
    }

    /// Whether `xid` had finished (committed *or* aborted) when this snapshot
    /// was taken. The owner counts as not finished.
    pub fn finished_before(&self, xid: Xid) -> bool {
        if xid == self.owner {
            return false;
        }
        if xid < self.xmin {
            return true;
        }
        if xid >= self.xmax {
            return false;
        }
        self.active.binary_search(&xid).is_err()
    }

    /// Whether `xid` (another transaction) ran concurrently with the owner as
    /// far as this snapshot knows: it had not finished when the snapshot was
    /// taken. Used by SSI to decide whether a rw-antidependency can exist.
    pub fn is_concurrent(&self, xid: Xid) -> bool {
        xid != self.owner && xid.is_normal() && !self.finished_before(xid)
    }
}

/// Who wrote a version, as recorded in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    pub xid: Xid,
    pub cid: CommandId,
}

/// The visibility rule. A version written by `writer` is visible to a reader
/// holding `snapshot` while running command `cid` iff:
///
/// 1. the writer is the reader's own transaction and wrote it in an earlier
///    command (`writer.cid < cid`); or
/// 2. the writer is frozen (bootstrap); or
/// 3. the writer finished before the snapshot was taken and did not abort.
///
/// `is_aborted` answers for xids that finished: the transaction manager's
/// status table (aborted xids stay there until their versions are undone).
pub fn is_visible(
    snapshot: &Snapshot,
    cid: CommandId,
    writer: Writer,
    is_aborted: impl Fn(Xid) -> bool,
) -> bool {
    assert!(
        writer.xid != Xid::INVALID,
        "version with invalid writer xid"
    );
    if writer.xid == snapshot.owner {
        return writer.cid < cid;
    }
    if writer.xid == Xid::FROZEN {
        return true;
    }
    snapshot.finished_before(writer.xid) && !is_aborted(writer.xid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(owner: u64, xmin: u64, xmax: u64, active: &[u64]) -> Snapshot {
        Snapshot::new(
            Xid(owner),
            Xid(xmin),
            Xid(xmax),
            active.iter().map(|x| Xid(*x)).collect(),
        )
    }

    fn w(xid: u64, cid: CommandId) -> Writer {
        Writer { xid: Xid(xid), cid }
    }

    /// The grid of docs/mvcc.md: versions written by xids 2..=6 against the
    /// snapshot of transaction 5 taken while 3 and 6 were running and 4 had
    /// aborted.
    #[test]
    fn visibility_grid_of_the_docs_holds() {
        let s = snap(5, 3, 7, &[3, 6]);
        let aborted = |x: Xid| x == Xid(4);
        let cases = [
            (w(2, 0), 0, true),  // committed before the snapshot
            (w(3, 0), 0, false), // still running at snapshot time
            (w(4, 0), 0, false), // aborted
            (w(5, 0), 1, true),  // own write of an earlier command
            (w(5, 1), 1, false), // own write of this command
            (w(6, 0), 0, false), // running at snapshot time
            (w(7, 0), 0, false), // began after the snapshot
            (w(1, 0), 0, true),  // frozen
        ];
        for (writer, cid, want) in cases {
            assert_eq!(
                is_visible(&s, cid, writer, aborted),
                want,
                "writer {writer:?} at cid {cid}"
            );
        }
    }

    #[test]
    fn finished_before_respects_bounds_and_active_list() {
        let s = snap(9, 4, 10, &[4, 7]);
        assert!(s.finished_before(Xid(3)));
        assert!(!s.finished_before(Xid(4)));
        assert!(s.finished_before(Xid(5)));
        assert!(!s.finished_before(Xid(7)));
        assert!(s.finished_before(Xid(8)));
        assert!(!s.finished_before(Xid(9)), "the owner is not finished");
        assert!(!s.finished_before(Xid(10)));
        assert!(s.is_concurrent(Xid(7)));
        assert!(s.is_concurrent(Xid(12)));
        assert!(!s.is_concurrent(Xid(9)));
        assert!(!s.is_concurrent(Xid(5)));
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn snapshot_rejects_active_xid_outside_bounds() {
        let _ = snap(1, 5, 8, &[9]);
    }
}
