//! `VACUUM [FULL] [FREEZE] [VERBOSE] [ANALYZE] [(options)] [table]` and
//! `ANALYZE [VERBOSE] [table [(cols)]]`.
//!
//! ```text
//!  VACUUM t  ─▶ TxnEngine::vacuum_tree over t's rows tree and index trees
//!              (removes versions no snapshot can see)
//!  ANALYZE t ─▶ checks that t exists; there are no statistics yet to gather
//!              (VACUUM ANALYZE vacuums only)
//! ```
//!
//! sqlparser reads `VACUUM t` but not PostgreSQL's option words (`VACUUM
//! ANALYZE t`) nor `ANALYZE t` as PostgreSQL writes it everywhere; this
//! module reads those forms itself when sqlparser fails on them.
//! Invariant: VACUUM never runs inside a transaction block (25001), as in
//! PostgreSQL. Without a table nothing is vacuumed yet (PostgreSQL vacuums
//! every table).

use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::db::StatementResult;
use crate::error::Result;

use super::bind::TableSource;
use super::session::StmtCx;

/// Reads a VACUUM or ANALYZE statement that sqlparser does not; `None` if
/// `sql` is not one (the caller reports sqlparser's syntax error).
pub fn parse(sql: &str) -> Option<ast::Statement> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let mut words: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    while matches!(words.last(), Some(Token::SemiColon)) {
        words.pop();
    }
    let mut it = words.into_iter().peekable();
    let first = match it.next()? {
        Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_lowercase(),
        _ => return None,
    };
    let vacuum = match first.as_str() {
        "vacuum" => true,
        "analyze" | "analyse" => false,
        _ => return None,
    };
    let mut full = false;
    // Option words before the table name.
    loop {
        match it.peek() {
            Some(Token::Word(w)) if w.quote_style.is_none() => {
                let v = w.value.to_ascii_lowercase();
                match v.as_str() {
                    "full" if vacuum => full = true,
                    "freeze" if vacuum => {}
                    "analyze" | "analyse" if vacuum => {}
                    "verbose" => {}
                    _ => break,
                }
                it.next();
            }
            Some(Token::LParen) => {
                // (option [value], ...): accepted, all are no-ops here.
                for t in it.by_ref() {
                    if t == Token::RParen {
                        break;
                    }
                }
            }
            _ => break,
        }
    }
    let mut parts = Vec::new();
    while let Some(Token::Word(w)) = it.peek() {
        parts.push(ast::Ident {
            value: w.value.clone(),
            quote_style: w.quote_style,
            span: sqlparser::tokenizer::Span::empty(),
        });
        it.next();
        if it.peek() == Some(&Token::Period) {
            it.next();
        } else {
            break;
        }
    }
    // A column list (ANALYZE t (a, b)) is accepted.
    if it.peek() == Some(&Token::LParen) && !parts.is_empty() {
        for t in it.by_ref() {
            if t == Token::RParen {
                break;
            }
        }
    }
    if it.next().is_some() {
        return None;
    }
    let table_name = (!parts.is_empty()).then(|| ast::ObjectName::from(parts));
    if !vacuum {
        return Some(ast::Statement::Analyze(ast::Analyze {
            table_name,
            partitions: None,
            for_columns: false,
            columns: Vec::new(),
            cache_metadata: false,
            noscan: false,
            compute_statistics: false,
            has_table_keyword: false,
        }));
    }
    Some(ast::Statement::Vacuum(ast::VacuumStatement {
        full,
        sort_only: false,
        delete_only: false,
        reindex: false,
        recluster: false,
        table_name,
        threshold: None,
        boost: false,
    }))
}

fn done(tag: &str) -> StatementResult {
    StatementResult {
        columns: Vec::new(),
        rows: Vec::new(),
        tag: tag.into(),
    }
}

/// Runs a VACUUM over the named table's trees.
pub fn vacuum(cx: &StmtCx<'_>, v: &ast::VacuumStatement) -> Result<StatementResult> {
    let Some(name) = &v.table_name else {
        return Ok(done("VACUUM"));
    };
    let source = TableSource {
        shared: cx.shared.clone(),
        txn: cx.txn.clone(),
    };
    let t = source.open_existing(name)?;
    let txns = &cx.shared.stack().txns;
    txns.vacuum_tree(&t.rows)?;
    for tree in &t.indexes {
        txns.vacuum_tree(tree)?;
    }
    t.counters.vacuumed();
    Ok(done("VACUUM"))
}

/// ANALYZE t: gathers t's statistics for the planner ([`super::stats`]).
/// Without a table name it analyzes the tables analyzed before.
pub fn analyze(cx: &StmtCx<'_>, a: &ast::Analyze) -> Result<StatementResult> {
    if let Some(name) = &a.table_name {
        let source = TableSource {
            shared: cx.shared.clone(),
            txn: cx.txn.clone(),
        };
        let t = source.open_existing(name)?;
        analyze_table(cx.shared, &t, cx.txn, false)?;
    }
    Ok(done("ANALYZE"))
}

/// Gathers `t`'s statistics through `txn` and keeps them for the planner;
/// `auto`: auto-analyze did it (`pg_stat_user_tables.autoanalyze_count`).
pub fn analyze_table(
    shared: &super::Shared,
    t: &super::scan::TableRef,
    txn: &super::scan::TxnCell,
    auto: bool,
) -> Result<()> {
    let mod_before = t
        .counters
        .n_mod_since_analyze
        .load(std::sync::atomic::Ordering::Relaxed);
    let stats = super::stats::analyze(t, txn)?;
    let rows = stats.rows.max(0.0) as u64;
    shared.stats().set(t, stats);
    if let Ok(pages) = t.rows.page_count() {
        t.counters
            .relpages
            .store(pages, std::sync::atomic::Ordering::Relaxed);
    }
    t.counters.analyzed(rows, mod_before, auto);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_forms_parse_and_others_do_not() {
        for sql in [
            "vacuum analyze pgbench_branches",
            "VACUUM (VERBOSE, ANALYZE) t;",
            "analyze t (a, b)",
            "vacuum full freeze verbose public.t",
            "analyze",
        ] {
            assert!(parse(sql).is_some(), "{sql}");
        }
        for sql in ["vacuum analyze t u", "select 1", "vacuum t, u"] {
            assert!(parse(sql).is_none(), "{sql}");
        }
        let Some(ast::Statement::Analyze(a)) = parse("analyse public.t") else {
            panic!("not an analyze");
        };
        assert_eq!(a.table_name.unwrap().to_string(), "public.t");
        let Some(ast::Statement::Vacuum(v)) = parse("vacuum full analyze t") else {
            panic!("not a vacuum");
        };
        assert!(v.full);
    }
}
