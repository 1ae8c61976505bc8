//! Tables as plan leaves: scans of a table's rows, primary-key and
//! secondary-index lookups, and the choice between them.
//!
//! ```text
//!   Filter k = $1 AND v > 3            Filter k = $1 AND v > 3   (kept: re-checks)
//!   └── Scan t (full)       ──choose──▶ └── Scan t  key [k = $1]
//!
//!   key of a row            = encode_key(primary-key values)   | hidden row id (int8)
//!   secondary index entry   = index key ++ row key -> row key   (unique, no NULLs: index key -> row key)
//!   index key column        = encode_value(v), every byte inverted for DESC
//! ```
//!
//! Owns: which conjuncts of a WHERE narrow a scan (`col op constant`, the
//! constant of the column's own type, on a prefix of a key: equalities,
//! then one range), building the key range at run time (parameters are
//! known then), and reading rows through the statement's snapshot.
//! Invariants: a narrowed scan returns a superset of the rows the filter
//! keeps (the filter stays above it), so access paths never change answers.

use std::ops::Bound;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use crate::catalog::row::decode_row;
use crate::catalog::{IndexDef, TableDef, key};
use crate::error::{Error, Result, SqlState};
use crate::storage::btree::{Tree, prefix_successor};
use crate::txn::Transaction;
use crate::types::{DataType, Value};

use sqlparser::ast;

use super::bind::object_name;
use super::expr::{BinOp, EvalContext, Expr};
use super::plan::Plan;

/// A session's transaction, shared by the binder (catalog reads) and the
/// executor (row reads and writes) of one statement.
pub type TxnCell = Mutex<Transaction>;

/// Locks the statement's transaction. Never contended (one session runs
/// one statement at a time); a failure means re-entrance, an internal error.
pub fn lock_txn(cell: &TxnCell) -> Result<MutexGuard<'_, Transaction>> {
    cell.try_lock()
        .ok_or_else(|| Error::internal("transaction is already in use by this statement"))
}

/// A table opened for a statement: its definition and trees.
#[derive(Clone)]
pub struct TableRef {
    pub def: Arc<TableDef>,
    pub rows: Tree,
    /// One tree per `def.indexes` entry.
    pub indexes: Vec<Tree>,
    /// The table's activity counters ([`super::table_stats`]).
    pub counters: Arc<super::table_stats::TableCounters>,
}

impl std::fmt::Debug for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TableRef({})", self.def.name)
    }
}

impl TableRef {
    pub fn types(&self) -> Vec<DataType> {
        self.def
            .columns
            .iter()
            .map(|c| c.data_type.clone())
            .collect()
    }
}

/// How a scan reaches its rows.
#[derive(Debug, Clone)]
pub enum Access {
    /// Every row in key order.
    Full,
    /// Rows in a range of the primary key or of an index.
    Key(Box<KeyAccess>),
}

/// A key range: keys (of the primary key, or of index `index`) that start
/// with the values of `eq` and whose next column lies between `lower` and
/// `upper` (value, inclusive).
#[derive(Debug, Clone)]
pub struct KeyAccess {
    pub index: Option<usize>,
    pub eq: Vec<Expr>,
    pub lower: Option<(Expr, bool)>,
    pub upper: Option<(Expr, bool)>,
}

/// One bound of a range, as key bytes (inclusive?); `None`: unbounded.
type ValueBound = Option<(Vec<u8>, bool)>;

/// Appends the key encoding of one column, inverted for DESC.
pub fn encode_column(v: &Value, desc: bool, out: &mut Vec<u8>) {
    let start = out.len();
    key::encode_value(v, out);
    if desc {
        for b in &mut out[start..] {
            *b = !*b;
        }
    }
}

/// The key of a row in its table's tree (`None`: the table has no primary
/// key, the caller allocates a row id).
pub fn row_key(def: &TableDef, row: &[Value]) -> Option<Vec<u8>> {
    if def.primary_key.is_empty() {
        return None;
    }
    let mut k = Vec::new();
    for &p in &def.primary_key {
        key::encode_value(row.get(p).unwrap_or(&Value::Null), &mut k);
    }
    Some(k)
}

/// A secondary index's entry key for `row` stored under `pk`, and whether
/// it is the bare index key (unique, no NULLs) that enforces uniqueness.
pub fn index_entry(index: &IndexDef, row: &[Value], pk: &[u8]) -> (Vec<u8>, bool) {
    let mut k = Vec::new();
    let mut has_null = false;
    for c in &index.columns {
        let v = row.get(c.column).unwrap_or(&Value::Null);
        has_null |= v.is_null();
        encode_column(v, c.desc, &mut k);
    }
    let enforcing = index.unique && !has_null;
    if !enforcing {
        k.extend_from_slice(pk);
    }
    (k, enforcing)
}

/// The key columns of the primary key (index `None`) or of an index.
fn key_columns(def: &TableDef, index: Option<usize>) -> Vec<(usize, bool)> {
    match index {
        None => def.primary_key.iter().map(|&p| (p, false)).collect(),
        Some(i) => def
            .indexes
            .get(i)
            .map(|ix| ix.columns.iter().map(|c| (c.column, c.desc)).collect())
            .unwrap_or_default(),
    }
}

/// Whether `e` reads no column (a constant, a parameter, an enclosing
/// query's value, an expression of them): its value is known before the
/// scan starts. A correlated subquery's scan so finds its rows by key for
/// each outer row, as PostgreSQL's index scan with an outer parameter.
pub fn is_constant(e: &Expr) -> bool {
    match e {
        Expr::Const { .. } | Expr::Param { .. } | Expr::Outer { .. } => true,
        Expr::Cast { expr, .. } | Expr::Negate { expr } => is_constant(expr),
        Expr::Binary { left, right, .. } => is_constant(left) && is_constant(right),
        Expr::Func { args, .. } => args.iter().all(is_constant),
        _ => false,
    }
}

/// `e` as a reference to column `index` of the scan, if it is one whose
/// values encode like the column's (a bare column, or text-like widening).
fn column_of(e: &Expr) -> Option<(usize, DataType)> {
    match e {
        Expr::Column { index, ty } => Some((*index, ty.clone())),
        Expr::Cast { expr, to } => match (expr.as_ref(), to) {
            (
                Expr::Column {
                    index,
                    ty: DataType::Varchar(_) | DataType::Text,
                },
                DataType::Text | DataType::Varchar(None),
            ) => Some((*index, to.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::LtEq => BinOp::GtEq,
        BinOp::Gt => BinOp::Lt,
        BinOp::GtEq => BinOp::LtEq,
        other => other,
    }
}

/// `column op constant` conjuncts of a predicate.
fn comparisons(pred: &Expr, out: &mut Vec<(usize, BinOp, Expr)>) {
    match pred {
        Expr::And(a, b) => {
            comparisons(a, out);
            comparisons(b, out);
        }
        Expr::Binary {
            op, left, right, ..
        } if op.is_comparison() && *op != BinOp::NotEq => {
            if let Some((c, cty)) = column_of(left)
                && is_constant(right)
                && right.ty() == cty
            {
                out.push((c, *op, (**right).clone()));
            } else if let Some((c, cty)) = column_of(right)
                && is_constant(left)
                && left.ty() == cty
            {
                out.push((c, flip(*op), (**left).clone()));
            }
        }
        _ => {}
    }
}

/// The best key access for `pred` over `table` (`None`: scan everything).
/// Columns of `pred` index the table's columns (offset `base` in the row).
pub fn choose_key(table: &TableRef, pred: &Expr, base: usize) -> Option<Access> {
    let mut cmps = Vec::new();
    comparisons(pred, &mut cmps);
    let ncols = table.def.columns.len();
    let cmps: Vec<(usize, BinOp, Expr)> = cmps
        .into_iter()
        .filter(|(c, _, _)| *c >= base && *c < base + ncols)
        .map(|(c, op, e)| (c - base, op, e))
        .collect();
    if cmps.is_empty() {
        return None;
    }
    let mut best: Option<(usize, Access)> = None;
    let candidates = std::iter::once(None).chain((0..table.def.indexes.len()).map(Some));
    for index in candidates {
        let cols = key_columns(&table.def, index);
        if cols.is_empty() {
            continue;
        }
        let mut eq = Vec::new();
        let mut lower = None;
        let mut upper = None;
        for &(col, _) in &cols {
            if let Some((_, _, e)) = cmps.iter().find(|(c, op, _)| *c == col && *op == BinOp::Eq) {
                eq.push(e.clone());
                continue;
            }
            for (c, op, e) in &cmps {
                if *c != col {
                    continue;
                }
                match op {
                    BinOp::Gt | BinOp::GtEq if lower.is_none() => {
                        lower = Some((e.clone(), *op == BinOp::GtEq))
                    }
                    BinOp::Lt | BinOp::LtEq if upper.is_none() => {
                        upper = Some((e.clone(), *op == BinOp::LtEq))
                    }
                    _ => {}
                }
            }
            break;
        }
        let full = eq.len() == cols.len();
        let score = eq.len() * 4
            + usize::from(lower.is_some())
            + usize::from(upper.is_some())
            + if full { 2 } else { 0 }
            + usize::from(index.is_none() || table.def.indexes[index.unwrap_or(0)].unique);
        if eq.is_empty() && lower.is_none() && upper.is_none() {
            continue;
        }
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((
                score,
                Access::Key(Box::new(KeyAccess {
                    index,
                    eq,
                    lower,
                    upper,
                })),
            ));
        }
    }
    best.map(|(_, a)| a)
}

/// Narrows scans under filters: `Filter(Scan full)` becomes
/// `Filter(Scan key …)` when the predicate constrains a key.
pub fn choose_access(plan: Plan) -> Plan {
    match plan {
        Plan::Filter { input, predicate } => {
            let input = match *input {
                Plan::Scan {
                    table,
                    access: Access::Full,
                    with_key,
                    needed,
                } => {
                    let access = choose_key(&table, &predicate, 0).unwrap_or(Access::Full);
                    Plan::Scan {
                        table,
                        access,
                        with_key,
                        needed,
                    }
                }
                other => choose_access(other),
            };
            Plan::Filter {
                input: Box::new(input),
                predicate,
            }
        }
        other => other.map_inputs(choose_access),
    }
}

type KeyBound = Bound<Vec<u8>>;

/// The key range of an access, or `None` if it is empty (a NULL bound).
fn key_range(
    def: &TableDef,
    index: Option<usize>,
    eq: &[Expr],
    lower: &Option<(Expr, bool)>,
    upper: &Option<(Expr, bool)>,
    ctx: &EvalContext<'_>,
) -> Result<Option<(KeyBound, KeyBound)>> {
    let cols = key_columns(def, index);
    let mut prefix = Vec::new();
    for (e, &(_, desc)) in eq.iter().zip(&cols) {
        let v = e.eval(ctx)?;
        if v.is_null() {
            return Ok(None);
        }
        encode_column(&v, desc, &mut prefix);
    }
    let desc = cols.get(eq.len()).is_some_and(|&(_, d)| d);
    let bound_key = |b: &Option<(Expr, bool)>| -> Result<Option<ValueBound>> {
        match b {
            None => Ok(Some(None)),
            Some((e, incl)) => {
                let v = e.eval(ctx)?;
                if v.is_null() {
                    return Ok(None);
                }
                let mut k = prefix.clone();
                encode_column(&v, desc, &mut k);
                Ok(Some(Some((k, *incl))))
            }
        }
    };
    let (Some(lo), Some(hi)) = (bound_key(lower)?, bound_key(upper)?) else {
        return Ok(None);
    };
    // For a DESC column the value order is the reverse of the key order.
    let (key_lo, key_hi) = if desc { (hi, lo) } else { (lo, hi) };
    let start = match key_lo {
        Some((k, true)) => Bound::Included(k),
        Some((k, false)) => match prefix_successor(&k) {
            Some(s) => Bound::Included(s),
            None => return Ok(None),
        },
        None if prefix.is_empty() => Bound::Unbounded,
        None => Bound::Included(prefix.clone()),
    };
    let end = match key_hi {
        Some((k, true)) => match prefix_successor(&k) {
            Some(s) => Bound::Excluded(s),
            None => Bound::Unbounded,
        },
        Some((k, false)) => Bound::Excluded(k),
        None => match prefix_successor(&prefix) {
            Some(s) => Bound::Excluded(s),
            None => Bound::Unbounded,
        },
    };
    Ok(Some((start, end)))
}

fn as_ref_bound(b: &KeyBound) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Runs a scan: the rows (table columns, then the row key as bytea if
/// `with_key`) the statement's snapshot sees.
pub fn run_scan(
    table: &TableRef,
    access: &Access,
    with_key: bool,
    txn: Option<&TxnCell>,
    ctx: &EvalContext<'_>,
) -> Result<Vec<Vec<Value>>> {
    let mut out = Vec::new();
    scan_each(table, access, with_key, None, txn, ctx, &mut |row| {
        out.push(row);
        Ok(true)
    })?;
    Ok(out)
}

/// Feeds the scan's rows to `sink` one by one (it returns `false` to stop
/// early). Only the columns with `needed[i]` (all if `None`) are decoded
/// and output, in table order. The transaction is not locked while `sink` runs,
/// so it may evaluate subqueries.
pub fn scan_each(
    table: &TableRef,
    access: &Access,
    with_key: bool,
    needed: Option<&[bool]>,
    txn: Option<&TxnCell>,
    ctx: &EvalContext<'_>,
    sink: &mut dyn FnMut(Vec<Value>) -> Result<bool>,
) -> Result<()> {
    // Counted once per scan, as `pg_stat_user_tables` shows it.
    let mut rows = 0u64;
    let r = scan_rows(table, access, with_key, needed, txn, ctx, sink, &mut rows);
    match access {
        Access::Full => table.counters.seq_scanned(rows),
        Access::Key(k) => {
            let index = k
                .index
                .and_then(|i| table.def.indexes.get(i))
                .map(|ix| ix.oid);
            table.counters.index_scanned(index, rows);
        }
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn scan_rows(
    table: &TableRef,
    access: &Access,
    with_key: bool,
    needed: Option<&[bool]>,
    txn: Option<&TxnCell>,
    ctx: &EvalContext<'_>,
    sink: &mut dyn FnMut(Vec<Value>) -> Result<bool>,
    rows: &mut u64,
) -> Result<()> {
    let cell = txn.ok_or_else(|| Error::internal("table scan without a transaction"))?;
    let types = table.types();
    let width = types.len() + usize::from(with_key);
    let mut push = |key: Vec<u8>, bytes: &[u8]| -> Result<bool> {
        super::signals::check()?;
        *rows += 1;
        let mut row = Vec::with_capacity(width);
        let h = decode_row(bytes, &types, needed, &mut row)?;
        if h.columns < types.len() {
            table.def.fill_missing_of(h.columns, needed, &mut row);
        }
        if with_key {
            row.push(Value::Bytea(key));
        }
        sink(row)
    };
    match access {
        Access::Full => {
            let scan =
                lock_txn(cell)?.scan(&table.rows, Bound::Unbounded, Bound::Unbounded, false)?;
            for r in scan {
                let (k, v) = r?;
                if !push(k, &v)? {
                    break;
                }
            }
        }
        Access::Key(k) => {
            let KeyAccess {
                index,
                eq,
                lower,
                upper,
            } = k.as_ref();
            let Some((start, end)) = key_range(&table.def, *index, eq, lower, upper, ctx)? else {
                return Ok(());
            };
            match index {
                None => {
                    if let (Bound::Included(s), Bound::Excluded(e)) = (&start, &end)
                        && eq.len() == table.def.primary_key.len()
                        && prefix_successor(s).as_ref() == Some(e)
                    {
                        // A point lookup.
                        let found = lock_txn(cell)?.get(&table.rows, s)?;
                        if let Some(v) = found {
                            push(s.clone(), &v)?;
                        }
                        return Ok(());
                    }
                    let scan = lock_txn(cell)?.scan(
                        &table.rows,
                        as_ref_bound(&start),
                        as_ref_bound(&end),
                        false,
                    )?;
                    for r in scan {
                        let (k, v) = r?;
                        if !push(k, &v)? {
                            break;
                        }
                    }
                }
                Some(i) => {
                    let tree = table
                        .indexes
                        .get(*i)
                        .ok_or_else(|| Error::internal("index tree missing"))?;
                    let entries: Vec<_> = lock_txn(cell)?
                        .scan(tree, as_ref_bound(&start), as_ref_bound(&end), false)?
                        .collect::<std::result::Result<_, _>>()?;
                    for (_, pk) in entries {
                        let found = lock_txn(cell)?.get(&table.rows, &pk)?;
                        if let Some(v) = found
                            && !push(pk, &v)?
                        {
                            break;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The largest hidden row id ever written to `tree` (by any transaction,
/// committed or not), read from the raw tree's last version key.
pub fn max_rowid(tree: &Tree) -> Result<Option<i64>> {
    let mut cursor = tree.iter_rev();
    let Some((k, _)) = cursor.next_entry()? else {
        return Ok(None);
    };
    let (user, _) = crate::txn::version::decode_key(&k)
        .map_err(|e| Error::new(crate::error::SqlState::DATA_CORRUPTED, e.to_string()))?;
    Ok(Some(decode_rowid(&user)?))
}

/// The key of a hidden row id.
pub fn rowid_key(id: i64) -> Vec<u8> {
    key::encode_key(&[Value::Int8(id)])
}

fn decode_rowid(k: &[u8]) -> Result<i64> {
    match k {
        [key::PRESENT, rest @ ..] if rest.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(rest);
            Ok((u64::from_be_bytes(a) ^ (1 << 63)) as i64)
        }
        _ => Err(Error::new(
            crate::error::SqlState::DATA_CORRUPTED,
            "row id key is malformed",
        )),
    }
}

/// The catalog as one statement sees it.
#[derive(Clone)]
pub struct TableSource {
    pub shared: super::Shared,
    pub txn: std::sync::Arc<TxnCell>,
}

impl TableSource {
    /// Opens the table `name` (`t`, looked up along `search_path`, or
    /// `s.t`); `None` if there is none.
    pub fn open(&self, name: &ast::ObjectName) -> Result<Option<TableRef>> {
        let catalog = self.shared.catalog();
        let def = {
            let mut txn = lock_txn(&self.txn)?;
            let mut found = None;
            match super::namespace::resolve(catalog, &mut txn, name, |txn, s, t| {
                found = catalog.table(txn, s, t)?;
                Ok(found.is_some())
            }) {
                // A query names a relation of a missing schema: 42P01, as
                // PostgreSQL answers (only CREATE and DROP say 3F000).
                Err(e) if e.sqlstate == super::namespace::INVALID_SCHEMA_NAME => None,
                Err(e) => return Err(e),
                Ok(_) => found,
            }
        };
        let Some(def) = def else {
            return Ok(None);
        };
        let rows = catalog.rows(&def)?;
        let indexes = catalog.index_trees(&def)?;
        let counters = self.shared.counters().get(def.oid);
        Ok(Some(TableRef {
            def: std::sync::Arc::new(def),
            rows,
            indexes,
            counters,
        }))
    }

    /// As [`TableSource::open`], 42P01 if there is no such table.
    pub fn open_existing(&self, name: &ast::ObjectName) -> Result<TableRef> {
        self.open(name)?.ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_TABLE,
                format!(
                    "relation \"{}\" does not exist",
                    object_name(name).join(".")
                ),
            )
        })
    }
}
