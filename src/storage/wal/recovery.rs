//! Crash recovery, run on every open: analysis, redo, undo (ARIES).
//!
//! ```text
//!  log:   ... [redo start] ...... [ckpt begin][ckpt end] ...... [end]
//!  analysis:                       ├──────────────────────────────▶  txn table, dirty pages,
//!                                                                    structure changes ended
//!  redo:        ├────────────────────────────────────────────────▶  repeat history
//!  undo:                     ◀───────── losers' chains, newest first, writing CLRs
//! ```
//!
//! - **Analysis** starts at the checkpoint the control file names, seeds the
//!   transaction table and the dirty page table from its end record, and
//!   rolls both forward over every later record. Redo starts at the oldest
//!   recLSN (or the checkpoint, if older).
//! - **Redo** repeats history for every page change from the redo start, losers
//!   included. Per page it starts from the last full image in the range (the
//!   first change after the page was last clean always logs one) and applies
//!   the changes after it, so a page whose disk copy is torn is rebuilt
//!   without reading it. A change whose page already has a newer LSN is
//!   skipped. Changes of a structure change with no `SmoEnd` (a crash cut it
//!   short) are skipped: structure changes are all-or-nothing. A page image
//!   that is such a change's first record for its page is still restored
//!   (without its op): it is the page as it was before the change, and the
//!   page's disk copy may hold part of the change (the meta page is not
//!   latched for a whole split). A later image of the same page inside the
//!   change is never a base: the page was written out in the middle of the
//!   change and dirtied again, so that image holds part of the change.
//! - **Undo** rolls the losers (running or aborting at the crash) back
//!   through the normal [`TxnManager::rollback`], which writes CLRs, so a
//!   crash during recovery is recovered like any other; committed
//!   transactions missing their End record just get it.
//!
//! Invariants: redo never reads a page that has an image in the redo range;
//! redo changes no page without setting its LSN to the record's; recovery
//! ends with the log durable and (after [`finish`]) a fresh checkpoint.

use std::collections::{HashMap, HashSet};

use crate::error::Error;
use crate::storage::Lsn;
use crate::storage::buffer::BufferPool;
use crate::storage::op::PageOp;
use crate::storage::page::{self, PageId};

use super::WalError;
use super::log::Wal;
use super::record::{RecordBody, TreeDrop, TxnEntry, TxnId, TxnState};
use super::txn::{TxnManager, UndoApplier};

/// What analysis found.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub checkpoint: Lsn,
    pub redo_start: Lsn,
    pub end: Lsn,
    /// Transactions without an End record, by id.
    pub txns: HashMap<TxnId, TxnEntry>,
    /// The largest transaction id in the log.
    pub max_txn: u64,
    /// Dirty pages at the crash (a superset), with their recLSN.
    pub dirty_pages: HashMap<u64, Lsn>,
    /// The highest `IdLimit` in the analysed log (0: none).
    pub id_limit: u64,
    /// Transactions whose Commit record is in the analysed log.
    pub committed: HashSet<TxnId>,
    /// Tree drops logged and not known to be freed: from the checkpoint's
    /// `TreeDrops` and the `DropTree` records after it.
    pub drops: Vec<TreeDrop>,
}

impl Analysis {
    /// Whether transaction `txn` committed, as far as the log says: its
    /// Commit record is after the checkpoint, or the checkpoint's table has
    /// it committing.
    pub fn is_winner(&self, txn: TxnId) -> bool {
        self.committed.contains(&txn)
            || self
                .txns
                .get(&txn)
                .is_some_and(|e| e.state == TxnState::Committing)
    }

    /// The trees whose drop committed: recovery frees them (no snapshot
    /// survives a restart, so none can still read them).
    pub fn committed_drops(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .drops
            .iter()
            .filter(|d| d.committed || self.is_winner(d.txn))
            .map(|d| d.tree)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Counts from redo, for tests and the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedoStats {
    pub applied: u64,
    pub skipped_covered: u64,
    pub skipped_before_image: u64,
    pub skipped_incomplete_smo: u64,
}

fn corrupt(lsn: Lsn, reason: impl Into<String>) -> WalError {
    WalError::Corrupt {
        lsn,
        reason: reason.into(),
    }
}

/// Analysis: from the last checkpoint to the end of the log.
pub fn analyze(wal: &Wal) -> Result<Analysis, WalError> {
    let checkpoint = wal.checkpoint_lsn();
    let mut txns: HashMap<TxnId, TxnEntry> = HashMap::new();
    let mut dirty: HashMap<u64, Lsn> = HashMap::new();
    let mut max_txn = 0;
    let mut saw_end = false;
    let mut id_limit = 0;
    let mut committed = HashSet::new();
    let mut drops = Vec::new();
    for item in wal.iter_from(checkpoint) {
        let (lsn, rec) = item?;
        max_txn = max_txn.max(rec.txn.0);
        if let RecordBody::CheckpointEnd {
            begin,
            dirty_pages,
            txns: table,
        } = &rec.body
        {
            if *begin == checkpoint && !saw_end {
                saw_end = true;
                for &(p, rec_lsn) in dirty_pages {
                    dirty.entry(p).or_insert(rec_lsn);
                }
                for t in table {
                    max_txn = max_txn.max(t.txn.0);
                    // Records after the checkpoint began may already have
                    // updated this entry; keep whichever is further along.
                    let e = txns.entry(t.txn).or_insert(*t);
                    if t.last_lsn > e.last_lsn {
                        *e = *t;
                    }
                }
            }
            continue;
        }
        match &rec.body {
            RecordBody::IdLimit { limit } => id_limit = id_limit.max(*limit),
            RecordBody::TreeDrops { drops: d } => drops.extend_from_slice(d),
            RecordBody::DropTree { tree } => drops.push(TreeDrop {
                tree: *tree,
                txn: rec.txn,
                committed: false,
            }),
            RecordBody::Commit => {
                committed.insert(rec.txn);
            }
            _ => {}
        }
        if rec.txn.0 != 0 {
            let e = txns.entry(rec.txn).or_insert(TxnEntry {
                txn: rec.txn,
                state: TxnState::Running,
                last_lsn: Lsn(0),
                undo_next: Lsn(0),
            });
            e.last_lsn = lsn;
            match &rec.body {
                RecordBody::Commit => e.state = TxnState::Committing,
                RecordBody::Abort => e.state = TxnState::Aborting,
                RecordBody::Update { .. } | RecordBody::CreateTree { .. } => e.undo_next = lsn,
                RecordBody::Clr { undo_next } => e.undo_next = *undo_next,
                _ => {}
            }
            if matches!(rec.body, RecordBody::End) {
                txns.remove(&rec.txn);
            }
        }
        if let Some((p, _)) = rec.body.page_change() {
            dirty.entry(p).or_insert(lsn);
        }
    }
    if !saw_end {
        return Err(corrupt(
            checkpoint,
            "the checkpoint's end record is missing from the log",
        ));
    }
    let redo_start = dirty
        .values()
        .copied()
        .min()
        .unwrap_or(checkpoint)
        .min(checkpoint);
    Ok(Analysis {
        checkpoint,
        redo_start,
        end: wal.durable_lsn(),
        txns,
        max_txn,
        dirty_pages: dirty,
        id_limit,
        committed,
        drops,
    })
}

fn page_id(lsn: Lsn, p: u64) -> Result<PageId, WalError> {
    u32::try_from(p)
        .map(PageId)
        .map_err(|_| corrupt(lsn, format!("page number {p} out of range")))
}

fn decode_op(lsn: Lsn, bytes: &[u8]) -> Result<PageOp<'_>, WalError> {
    PageOp::decode(bytes)
        .map_err(|e| corrupt(lsn, format!("page operation does not decode: {}", e.0)))
}

/// A page image in the redo range.
struct PageImageAt {
    lsn: Lsn,
    /// The structure change it belongs to (0: none).
    smo: Lsn,
    /// Whether it is that structure change's first record for the page.
    first_in_smo: bool,
}

/// Redo: repeats history from `analysis.redo_start` into `pool`.
pub fn redo(wal: &Wal, analysis: &Analysis, pool: &BufferPool) -> Result<RedoStats, Error> {
    // Pass 1: which structure changes finished, and every page image.
    let mut smo_ended: HashSet<Lsn> = HashSet::new();
    let mut images: HashMap<u64, Vec<PageImageAt>> = HashMap::new();
    let mut touched_in_smo: HashSet<(Lsn, u64)> = HashSet::new();
    for item in wal.iter_from(analysis.redo_start) {
        let (lsn, rec) = item?;
        if let RecordBody::SmoEnd { first } = &rec.body {
            smo_ended.insert(*first);
        }
        let Some((p, smo)) = rec.body.page_change() else {
            continue;
        };
        let first_in_smo = smo != Lsn(0) && touched_in_smo.insert((smo, p));
        if matches!(rec.body, RecordBody::PageImage { .. }) {
            images.entry(p).or_default().push(PageImageAt {
                lsn,
                smo,
                first_in_smo,
            });
        }
    }
    // Each page's base: its last image that shows a state the page really
    // had. An image inside a structure change with no SmoEnd qualifies only
    // if it is the change's first touch of the page (the page as it was
    // before the change): a later one was logged after the page was written
    // out in the middle of the change, and holds part of it.
    let base: HashMap<u64, Lsn> = images
        .into_iter()
        .filter_map(|(p, list)| {
            list.iter()
                .filter(|i| i.smo == Lsn(0) || smo_ended.contains(&i.smo) || i.first_in_smo)
                .map(|i| i.lsn)
                .max()
                .map(|lsn| (p, lsn))
        })
        .collect();
    // Pass 2: apply.
    let mut stats = RedoStats::default();
    for item in wal.iter_from(analysis.redo_start) {
        let (lsn, rec) = item?;
        let Some((p, smo)) = rec.body.page_change() else {
            continue;
        };
        let complete = smo == Lsn(0) || smo_ended.contains(&smo);
        let image_at = base.get(&p).copied();
        if image_at.is_some_and(|at| lsn < at) {
            stats.skipped_before_image += 1;
            continue;
        }
        if matches!(rec.body, RecordBody::PageImage { .. }) && image_at.is_some_and(|at| lsn > at) {
            // Only an image of an unfinished structure change can follow
            // the base: the change is not redone.
            debug_assert!(!complete);
            stats.skipped_incomplete_smo += 1;
            continue;
        }
        let id = page_id(lsn, p)?;
        match &rec.body {
            RecordBody::PageImage { image, op, .. } => {
                if image.len() > page::PAGE_SIZE {
                    return Err(corrupt(lsn, "page image larger than a page").into());
                }
                if complete {
                    let op = decode_op(lsn, op)?;
                    let mut g = pool.create(id)?;
                    g.redo_image(image, &op, lsn);
                } else if image.is_empty() {
                    // A page the unfinished structure change was creating:
                    // it did not exist before it, and does not now.
                    stats.skipped_incomplete_smo += 1;
                    continue;
                } else {
                    // The page as it was before the unfinished structure
                    // change touched it (its disk copy may hold part of the
                    // change, written out while the page was unlatched).
                    let mut g = pool.create(id)?;
                    g.restore_image(image, lsn);
                    stats.skipped_incomplete_smo += 1;
                    continue;
                }
            }
            RecordBody::Redo { redo, .. } => {
                if !complete {
                    stats.skipped_incomplete_smo += 1;
                    continue;
                }
                let op = decode_op(lsn, &redo.op)?;
                let mut g = pool.write(id)?;
                if page::page_lsn(&g) >= lsn {
                    stats.skipped_covered += 1;
                    continue;
                }
                g.redo(&op, lsn);
            }
            _ => unreachable!("page_change() covers only page records"),
        }
        stats.applied += 1;
    }
    Ok(stats)
}

/// Undo: rolls back every loser, writing CLRs; ends committed transactions
/// that lack their End record. Returns the number rolled back.
pub fn undo(
    analysis: &Analysis,
    txns: &TxnManager,
    applier: &dyn UndoApplier,
) -> Result<usize, Error> {
    let mut losers = 0;
    let mut entries: Vec<TxnEntry> = analysis.txns.values().copied().collect();
    // Newest first: a later transaction's changes are undone before an
    // earlier one's.
    entries.sort_by_key(|e| std::cmp::Reverse(e.last_lsn));
    for e in entries {
        let handle = txns.adopt(e.txn, e.state, e.last_lsn, e.undo_next, false)?;
        match e.state {
            TxnState::Committing => txns.commit_recovered(&handle)?,
            TxnState::Running | TxnState::Aborting => {
                txns.rollback(&handle, applier)?;
                losers += 1;
            }
        }
    }
    txns.wal().flush_all()?;
    Ok(losers)
}

/// Analysis and redo against the data file `file`: afterwards every page
/// holds exactly the history the log has (losers included), written back
/// and synced. Undo comes next, over the engine opened on the repaired file.
pub fn recover_pages(
    wal: &std::sync::Arc<Wal>,
    file: std::sync::Arc<dyn crate::storage::disk::FileIo>,
    file_name: &str,
    frames: usize,
) -> Result<(Analysis, RedoStats), Error> {
    let analysis = analyze(wal)?;
    let log = std::sync::Arc::new(super::pagelog::WalPageLog::new(wal.clone()));
    let pool = BufferPool::new(file, file_name, frames, log).for_redo();
    let stats = redo(wal, &analysis, &pool)?;
    pool.flush_all()?;
    if stats.applied > 0 || !analysis.txns.is_empty() {
        tracing::info!(
            redo_start = analysis.redo_start.0,
            end = analysis.end.0,
            applied = stats.applied,
            losers = analysis.txns.len(),
            "recovered from the write-ahead log"
        );
    }
    Ok((analysis, stats))
}
