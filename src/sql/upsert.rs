//! `INSERT … ON CONFLICT [(cols) | ON CONSTRAINT name] DO NOTHING | DO UPDATE
//! SET … [WHERE …]`, PostgreSQL's speculative insertion over our row locks.
//!
//! ```text
//!  per proposed row (conformed, CHECKed):
//!    savepoint ─▶ try_store_new ──stored──▶ release                      (INSERT count +1)
//!                      │ duplicate on an arbiter (waited for its writer first)
//!                      ▼
//!                 rollback to savepoint
//!                      ├─ DO NOTHING ─────────────────────────────────▶ skip
//!                      └─ DO UPDATE: existing row's key (index entry ─▶ row key)
//!                           lock_row FOR UPDATE ─▶ gone / key moved? ─▶ retry from the top
//!                           WHERE over (existing, EXCLUDED) false ─────▶ skip (row stays locked)
//!                           SET over (existing, EXCLUDED) ─▶ update_row   (INSERT count +1)
//! ```
//!
//! Two sessions upserting one key: the second's insert waits on the first's
//! row lock (the txn layer's unique check), then finds the committed row
//! and updates it, so neither gets 23505. Under REPEATABLE READ and
//! SERIALIZABLE a conflicting row the snapshot cannot see is 40001, as in
//! PostgreSQL. A row this command already inserted or updated is 21000.
//! Owns: arbiter inference (42P10, 42704), the EXCLUDED scope. Never:
//! writes rows except through `dml::try_store_new` and `dml::update_row`.

use sqlparser::ast;

use crate::catalog::TableDef;
use crate::catalog::row::decode_row;
use crate::error::{Error, Result, SqlState};
use crate::txn::RowLock;
use crate::txn::lock::{RowLockMode, WaitPolicy};
use crate::types::Value;

use super::bind::{Binder, Scope, ident_name, object_name};
use super::check::BoundChecks;
use super::dml::{Duplicate, conform_row, try_store_new, update_row};
use super::execute::Row;
use super::expr::{EvalContext, Expr};
use super::scan::{TableRef, index_entry, lock_txn};
use super::session::StmtCx;

/// The internal savepoint around one speculative insertion (a name no SQL
/// identifier can spell).
const SAVEPOINT: &str = "\u{0}on conflict";
/// Attempts per proposed row before giving up (each retry means a
/// concurrent transaction deleted or re-keyed the conflicting row).
const RETRIES_MAX: usize = 1000;

/// A unique structure ON CONFLICT arbitrates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arbiter {
    PrimaryKey,
    Index(usize),
}

/// A bound ON CONFLICT clause.
pub struct OnConflictPlan {
    /// Empty: every unique constraint (DO NOTHING without a target).
    arbiters: Vec<Arbiter>,
    update: Option<ConflictUpdate>,
}

/// DO UPDATE: expressions over `existing row ++ EXCLUDED row`.
struct ConflictUpdate {
    assignments: Vec<Expr>,
    predicate: Option<Expr>,
}

fn no_matching_constraint() -> Error {
    Error::new(
        SqlState::INVALID_COLUMN_REFERENCE,
        "there is no unique or exclusion constraint matching the ON CONFLICT specification",
    )
}

fn arbiters(def: &TableDef, target: &Option<ast::ConflictTarget>) -> Result<Vec<Arbiter>> {
    match target {
        None => Ok(Vec::new()),
        Some(ast::ConflictTarget::Columns(cols)) => {
            let mut want = Vec::with_capacity(cols.len());
            for c in cols {
                let name = ident_name(c);
                let pos = def
                    .columns
                    .iter()
                    .position(|d| d.name == name)
                    .ok_or_else(|| {
                        Error::new(
                            SqlState::UNDEFINED_COLUMN,
                            format!("column \"{name}\" does not exist"),
                        )
                    })?;
                if !want.contains(&pos) {
                    want.push(pos);
                }
            }
            let same = |cols: &mut dyn Iterator<Item = usize>| {
                let mut have: Vec<usize> = cols.collect();
                have.sort_unstable();
                have.dedup();
                let mut w = want.clone();
                w.sort_unstable();
                have == w
            };
            let mut out = Vec::new();
            if !def.primary_key.is_empty() && same(&mut def.primary_key.iter().copied()) {
                out.push(Arbiter::PrimaryKey);
            }
            for (i, ix) in def.indexes.iter().enumerate() {
                if ix.unique && same(&mut ix.columns.iter().map(|c| c.column)) {
                    out.push(Arbiter::Index(i));
                }
            }
            if out.is_empty() {
                return Err(no_matching_constraint());
            }
            Ok(out)
        }
        Some(ast::ConflictTarget::OnConstraint(name)) => {
            let name = object_name(name).last().cloned().unwrap_or_default();
            if !def.primary_key.is_empty() && def.pk_name == name {
                return Ok(vec![Arbiter::PrimaryKey]);
            }
            if let Some(i) = def
                .indexes
                .iter()
                .position(|ix| ix.unique && ix.name == name)
            {
                return Ok(vec![Arbiter::Index(i)]);
            }
            if def.has_constraint(&name) {
                // a CHECK or FOREIGN KEY cannot arbitrate
                return Err(no_matching_constraint());
            }
            Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!(
                    "constraint \"{name}\" for table \"{}\" does not exist",
                    def.name
                ),
            ))
        }
    }
}

/// Binds ON CONFLICT for an INSERT into `table`, whose columns `scope`
/// names (the table's name or its alias).
pub fn bind(
    binder: &mut Binder,
    table: &TableRef,
    scope: &Scope,
    oc: &ast::OnConflict,
) -> Result<OnConflictPlan> {
    let def = &table.def;
    let arbiters = arbiters(def, &oc.conflict_target)?;
    let update = match &oc.action {
        ast::OnConflictAction::DoNothing => None,
        ast::OnConflictAction::DoUpdate(du) => {
            if oc.conflict_target.is_none() {
                return Err(Error::new(
                    SqlState::SYNTAX_ERROR,
                    "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                )
                .with_hint("For example, ON CONFLICT (column_name)."));
            }
            let excluded = Scope::of(
                Some("excluded".to_string()),
                def.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.data_type.clone())),
            );
            let both = scope.clone().concat(excluded);
            let assignments =
                super::dml::bind_assignments(binder, def, &du.assignments, &both, false)?;
            let predicate = match &du.selection {
                Some(w) => {
                    let p = binder.bind_expr(w, &both)?;
                    Some(binder.coerce_bool(p, "WHERE")?)
                }
                None => None,
            };
            Some(ConflictUpdate {
                assignments,
                predicate,
            })
        }
    };
    Ok(OnConflictPlan { arbiters, update })
}

impl OnConflictPlan {
    fn arbitrates(&self, d: &Duplicate) -> bool {
        let a = match d {
            Duplicate::PrimaryKey(_) => Arbiter::PrimaryKey,
            Duplicate::Index(i, _) => Arbiter::Index(*i),
        };
        self.arbiters.is_empty() || self.arbiters.contains(&a)
    }
}

fn affected_twice() -> Error {
    Error::new(
        SqlState::CARDINALITY_VIOLATION,
        "ON CONFLICT DO UPDATE command cannot affect row a second time",
    )
    .with_hint(
        "Ensure that no rows proposed for insertion within the same command have duplicate constrained values.",
    )
}

/// Inserts `row` or resolves its conflict; the row stored (inserted or
/// updated), `None` if nothing was written.
pub fn insert_or_update(
    cx: &StmtCx<'_>,
    table: &TableRef,
    checks: &BoundChecks,
    plan: &OnConflictPlan,
    row: Row,
) -> Result<Option<Row>> {
    let def = &table.def;
    for _ in 0..RETRIES_MAX {
        lock_txn(cx.txn)?.savepoint(SAVEPOINT)?;
        let stored = try_store_new(cx, table, &row);
        let dup = match stored {
            Ok(None) => {
                lock_txn(cx.txn)?.release(SAVEPOINT)?;
                return Ok(Some(row));
            }
            Err(e) => {
                lock_txn(cx.txn)?.release(SAVEPOINT)?;
                return Err(e);
            }
            Ok(Some(d)) => d,
        };
        {
            let mut txn = lock_txn(cx.txn)?;
            txn.rollback_to(SAVEPOINT)?;
            txn.release(SAVEPOINT)?;
        }
        if !plan.arbitrates(&dup) {
            return Err(dup.into_error(def, &row));
        }
        let Some(update) = &plan.update else {
            return Ok(None);
        };
        // The conflicting row's key: the index entry's newest value.
        let key = match &dup {
            Duplicate::PrimaryKey(k) => k.clone(),
            Duplicate::Index(i, k) => {
                let lock = lock_txn(cx.txn)?.lock_row(
                    &table.indexes[*i],
                    k,
                    RowLockMode::KeyShare,
                    WaitPolicy::Block,
                    &def.name,
                )?;
                match lock {
                    RowLock::SelfUpdated => return Err(affected_twice()),
                    RowLock::Locked {
                        current: Some(pk), ..
                    } => pk,
                    _ => continue,
                }
            }
        };
        let lock = lock_txn(cx.txn)?.lock_row(
            &table.rows,
            &key,
            RowLockMode::Update,
            WaitPolicy::Block,
            &def.name,
        )?;
        let bytes = match lock {
            RowLock::SelfUpdated => return Err(affected_twice()),
            RowLock::Locked {
                current: Some(b), ..
            } => b,
            _ => continue,
        };
        let mut old = Vec::with_capacity(def.columns.len() * 2);
        decode_row(&bytes, &table.types(), None, &mut old)?;
        if let Duplicate::Index(i, k) = &dup
            && index_entry(&def.indexes[*i], &old, &key).0 != *k
        {
            continue; // re-keyed meanwhile: the insert may go through now
        }
        let ncols = def.columns.len();
        old.extend(row.iter().cloned());
        let ctx = EvalContext {
            row: &old,
            params: cx.params,
            outer: &[],
            settings: cx.settings,
            txn: Some(cx.txn),
        };
        if let Some(p) = &update.predicate
            && p.eval(&ctx)? != Value::Bool(true)
        {
            return Ok(None);
        }
        let new: Row = update
            .assignments
            .iter()
            .map(|e| e.eval(&ctx))
            .collect::<Result<_>>()?;
        let new = conform_row(def, new)?;
        checks.check(cx, def, &new)?;
        old.truncate(ncols);
        if update_row(cx, table, &old, &key, &new)? {
            return Ok(Some(new));
        }
    }
    Err(Error::internal(format!(
        "ON CONFLICT on \"{}\" gave up after {RETRIES_MAX} attempts",
        def.name
    )))
}
