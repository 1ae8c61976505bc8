//! The log behind the buffer pool's one door: every [`PageOp`] applied
//! through a `PageWrite` becomes a log record here, in the chain of the
//! transaction the calling thread works for, inside the structure change the
//! thread has open (if any).
//!
//! ```text
//!  thread: TxnManager::run(txn, || tree.insert(k, v))
//!            └ PageWrite::apply(op) ──▶ WalPageLog::append ──▶ Redo {smo, page, op}
//!                                        (first change since clean: PageImage)
//!            txn.prev_lsn chain: Begin ◀─ Update(undo k) ◀─ Redo ◀─ Redo ◀─ Commit
//! ```
//!
//! Invariants:
//! - the record is appended before the op is applied and its LSN becomes the
//!   page LSN (the pool does that, under the page's exclusive latch);
//! - the first change to a page since it was last clean logs the page's
//!   whole prior content, so redo never needs a page's disk copy, which a
//!   crash may have torn;
//! - records between `begin_smo` and the matching `end_smo` carry the LSN of
//!   the first of them; redo applies them only if the `SmoEnd` is in the log;
//! - structure changes are serialised: the outermost `begin_smo` waits for
//!   the gate, and `end_smo` opens it only after the `SmoEnd` is appended. So
//!   no other thread's page change can land between a structure change's
//!   first record and its `SmoEnd`, not even on a page whose latch the tree
//!   released early (a split releases the leaf before it updates the parent,
//!   and every latch before `end_smo`), nor on the meta page (not latched
//!   for a whole split). A change that built on a structure change thus
//!   always follows its `SmoEnd` in the log, and is redone only with it.
//!   The price: tree writes do not run in parallel with each other (readers
//!   do); the finer fix is for the tree to keep its latches until `end_smo`.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::storage::Lsn;
use crate::storage::buffer::PageLog;
use crate::storage::error::StorageResult;
use crate::storage::op::PageOp;
use crate::storage::page::{PageBuf, PageId};

use super::log::Wal;
use super::record::{PageRedo, Record, RecordBody, TxnId};
use super::txn::TxnHandle;

#[derive(Default)]
struct Context {
    /// The transaction whose chain page changes join (none: txn 0).
    txn: Option<Arc<TxnHandle>>,
    smo_depth: u32,
    /// LSN of the first record of the open structure change (0 until one).
    smo_first: Lsn,
}

thread_local! {
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
}

/// Runs `f` with page changes on this thread logged in `txn`'s chain.
pub(crate) fn with_txn<T>(txn: &Arc<TxnHandle>, f: impl FnOnce() -> T) -> T {
    let previous = CONTEXT.with(|c| c.borrow_mut().txn.replace(txn.clone()));
    struct Restore(Option<Arc<TxnHandle>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CONTEXT.with(|c| c.borrow_mut().txn = prev);
        }
    }
    let _restore = Restore(previous);
    f()
}

/// One structure change at a time (see the module invariants).
#[derive(Default)]
struct SmoGate {
    busy: Mutex<bool>,
    free: Condvar,
}

impl SmoGate {
    fn enter(&self) {
        let mut busy = self.busy.lock();
        while *busy {
            self.free.wait(&mut busy);
        }
        *busy = true;
    }

    fn leave(&self) {
        *self.busy.lock() = false;
        self.free.notify_one();
    }
}

/// The write-ahead log as the buffer pool sees it.
pub struct WalPageLog {
    wal: Arc<Wal>,
    gate: SmoGate,
}

impl WalPageLog {
    pub fn new(wal: Arc<Wal>) -> WalPageLog {
        WalPageLog {
            wal,
            gate: SmoGate::default(),
        }
    }

    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }

    fn log(&self, body: impl FnOnce(Lsn) -> RecordBody) -> StorageResult<Lsn> {
        CONTEXT.with(|c| {
            let mut c = c.borrow_mut();
            let in_smo = c.smo_depth > 0;
            let smo_first = c.smo_first;
            let smo_of = |lsn: Lsn| {
                if !in_smo {
                    Lsn(0)
                } else if smo_first == Lsn(0) {
                    lsn
                } else {
                    smo_first
                }
            };
            let lsn = match &c.txn {
                Some(txn) => txn.append_in_chain(&self.wal, |lsn| body(smo_of(lsn)))?,
                None => self.wal.append_with(|lsn| Record {
                    txn: TxnId(0),
                    prev_lsn: Lsn(0),
                    body: body(smo_of(lsn)),
                })?,
            };
            if in_smo && smo_first == Lsn(0) {
                c.smo_first = lsn;
            }
            Ok(lsn)
        })
    }
}

fn encode_op(op: &PageOp<'_>) -> Vec<u8> {
    let mut bytes = Vec::new();
    op.encode(&mut bytes);
    bytes
}

impl PageLog for WalPageLog {
    fn append(&self, page: PageId, op: &PageOp<'_>) -> StorageResult<Lsn> {
        let op = encode_op(op);
        self.log(|smo| RecordBody::Redo {
            smo,
            redo: PageRedo {
                page: u64::from(page.0),
                op,
            },
        })
    }

    fn append_first(&self, page: PageId, before: &PageBuf, op: &PageOp<'_>) -> StorageResult<Lsn> {
        let op = encode_op(op);
        let used = before.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let image = before[..used].to_vec();
        self.log(|smo| RecordBody::PageImage {
            smo,
            page: u64::from(page.0),
            image,
            op,
        })
    }

    fn flush_to(&self, lsn: Lsn) -> io::Result<()> {
        self.wal.flush(lsn).map_err(io::Error::other)
    }

    fn begin_smo(&self) {
        let outermost = CONTEXT.with(|c| c.borrow().smo_depth == 0);
        if outermost {
            // Outside the RefCell borrow: waiting may take a while.
            self.gate.enter();
        }
        CONTEXT.with(|c| c.borrow_mut().smo_depth += 1);
    }

    fn end_smo(&self) -> StorageResult<()> {
        let (outermost, first) = CONTEXT.with(|c| {
            let mut c = c.borrow_mut();
            assert!(c.smo_depth > 0, "end_smo without begin_smo");
            c.smo_depth -= 1;
            if c.smo_depth == 0 {
                (true, std::mem::take(&mut c.smo_first))
            } else {
                (false, Lsn(0))
            }
        });
        let res = if first != Lsn(0) {
            self.log(|_| RecordBody::SmoEnd { first }).map(|_| ())
        } else {
            Ok(())
        };
        if outermost {
            // After the SmoEnd is appended (or failed: the log is poisoned).
            self.gate.leave();
        }
        res
    }
}
