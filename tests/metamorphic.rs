//! Metamorphic checks: relations between the answers to related generated
//! queries that must hold whatever the right answer is, so they need no
//! reference database and always run.
//!
//! ```text
//!   seed ──querygen──> schema, base query Q, predicate p
//!     rows(Q)                       = rows(Q WHERE p) ⊎ rows(Q WHERE NOT p) ⊎ rows(Q WHERE p IS NULL)
//!     count/sum/min/max over Q      = the same folded over the three partitions
//!     SELECT DISTINCT e…            = SELECT e… GROUP BY e…              (as sets)
//!     |Q1 UNION ALL Q2|             = |Q1| + |Q2|
//!     |Q1 EXCEPT ALL Q2| + |Q1 INTERSECT ALL Q2| = |Q1|
//!     rows(Q ORDER BY every column) = rows(Q) (a permutation); LIMIT n keeps min(n, |Q|) of them
//! ```
//!
//! A statement arbordb rejects skips its check (counted); the test fails if
//! too few checks ran, so it cannot pass by rejecting everything. A failure
//! prints the seed, the check and every statement involved; replay one seed
//! with `ARBORDB_SEED=<seed> cargo test --test metamorphic`.
//! `ARBORDB_META_SEEDS=N` runs more seeds (default 300), `ARBORDB_META_BASE=B`
//! starts elsewhere.

#[path = "common/querygen.rs"]
mod querygen;

use arbordb::{Database, Session, testkit};
use querygen::{DataMode, Family, Features, Query, QueryGen, Rng, Schema, Select, Ty};

type Rows = Vec<Vec<String>>;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn run(session: &mut Session, sql: &str) -> Result<Rows, String> {
    let results = session.execute(sql).map_err(|e| testkit::error_text(&e))?;
    let last = results.last().ok_or("no result")?;
    Ok(last
        .rows
        .iter()
        .map(|r| r.iter().map(testkit::slt_text).collect())
        .collect())
}

fn sorted(mut rows: Rows) -> Rows {
    rows.sort();
    rows
}

/// One seed's context: the data prelude, the session, and what has run.
struct Ctx {
    seed: u64,
    prelude: String,
    session: Session,
    /// Statements of the check in progress, for the failure report.
    log: Vec<String>,
    /// Why statements were rejected (SQLSTATE → count), for the summary.
    rejected: std::collections::BTreeMap<String, u64>,
}

/// A check's outcome: it held, it could not run (arbordb rejected a
/// statement), or it failed with an explanation.
enum Check {
    Held,
    Skipped,
    Failed(String),
}

impl Ctx {
    fn q(&mut self, body: &str) -> Option<Rows> {
        let sql = format!("{}{body}", self.prelude);
        let r = run(&mut self.session, &sql);
        if let Err(e) = &r {
            let state = e
                .rsplit("SQLSTATE ")
                .next()
                .unwrap_or("")
                .trim_end_matches(')');
            *self.rejected.entry(state.to_string()).or_default() += 1;
            if std::env::var_os("ARBORDB_META_SHOW_REJECTED").is_some() {
                eprintln!("rejected (seed {}): {e}\n  {sql}", self.seed);
            }
        }
        self.log.push(match &r {
            Ok(rows) => format!("{sql}\n      -> {} rows", rows.len()),
            Err(e) => format!("{sql}\n      -> {e}"),
        });
        r.ok()
    }

    fn count(&mut self, body: &str) -> Option<u64> {
        let rows = self.q(&format!("SELECT count(*) FROM ({body}) AS counted"))?;
        rows.first()?.first()?.parse().ok()
    }
}

/// rows(Q) = rows(Q WHERE p) ⊎ rows(Q WHERE NOT p) ⊎ rows(Q WHERE p IS NULL).
fn ternary_partitioning(ctx: &mut Ctx, g: &mut QueryGen<'_>) -> Check {
    let base = g.base_select();
    let p = g.predicate(&base.scope);
    let Some(whole) = ctx.q(&base.to_sql()) else {
        return Check::Skipped;
    };
    let mut parts = Vec::new();
    for part in partitions(&p) {
        match ctx.q(&base.with_predicate(&part).to_sql()) {
            Some(rows) => parts.extend(rows),
            None => return Check::Skipped,
        }
    }
    if sorted(whole.clone()) == sorted(parts.clone()) {
        Check::Held
    } else {
        Check::Failed(format!(
            "{} rows in Q, {} in its three partitions",
            whole.len(),
            parts.len()
        ))
    }
}

fn partitions(p: &str) -> [String; 3] {
    [
        p.to_string(),
        format!("NOT ({p})"),
        format!("({p}) IS NULL"),
    ]
}

/// count/sum/min/max over Q equal the same folded over the partitions.
fn aggregate_partitioning(ctx: &mut Ctx, g: &mut QueryGen<'_>) -> Check {
    let base = g.base_select();
    let p = g.predicate(&base.scope);
    let numbers: Vec<_> = base
        .scope
        .iter()
        .filter(|c| c.ty.family() == Family::Number)
        .cloned()
        .collect();
    let (min_arg, max_arg) = match numbers.as_slice() {
        [] => ("1".to_string(), "1".to_string()),
        cols => (g.rng.pick(cols).sql.clone(), g.rng.pick(cols).sql.clone()),
    };
    let sum_ty = *g.rng.pick(&Ty::NUMBERS);
    let sum_arg = g.agg_arg(&base.scope, sum_ty);
    let count_ty = *g.rng.pick(&Ty::ALL);
    let count_arg = g.agg_arg(&base.scope, count_ty);
    let mut agg = base.clone();
    agg.items = [
        "count(*)".to_string(),
        format!("count({count_arg})"),
        format!("sum({sum_arg})"),
        format!("min({min_arg})"),
        format!("max({max_arg})"),
    ]
    .into_iter()
    .map(|sql| querygen::Item { sql, ty: Ty::Int8 })
    .collect();
    let Some(whole) = ctx.q(&agg.to_sql()) else {
        return Check::Skipped;
    };
    let parts: Vec<String> = partitions(&p)
        .iter()
        .map(|part| agg.with_predicate(part).to_sql())
        .collect();
    let folded = format!(
        "SELECT sum(n), sum(m), sum(s), min(lo), max(hi) FROM ({}) AS parts(n, m, s, lo, hi)",
        parts.join(" UNION ALL ")
    );
    let Some(folded) = ctx.q(&folded) else {
        return Check::Skipped;
    };
    if whole == folded {
        Check::Held
    } else {
        Check::Failed(format!(
            "aggregates over Q {whole:?}, folded over its partitions {folded:?}"
        ))
    }
}

/// SELECT DISTINCT e… = SELECT e… GROUP BY 1…n.
fn distinct_is_group_by(ctx: &mut Ctx, g: &mut QueryGen<'_>) -> Check {
    let mut base = g.base_select();
    if g.rng.chance(60) {
        base.where_ = Some(g.predicate(&base.scope));
    }
    let mut distinct = base.clone();
    distinct.distinct = true;
    let mut grouped = base.clone();
    grouped.group_by = (1..=base.items.len()).map(|i| i.to_string()).collect();
    let (Some(a), Some(b)) = (ctx.q(&distinct.to_sql()), ctx.q(&grouped.to_sql())) else {
        return Check::Skipped;
    };
    let (a, b) = (sorted(a), sorted(b));
    let mut deduped = a.clone();
    deduped.dedup();
    if a != b {
        Check::Failed(format!(
            "DISTINCT gave {} rows, GROUP BY {}",
            a.len(),
            b.len()
        ))
    } else if deduped.len() != a.len() {
        Check::Failed("DISTINCT returned a row twice".to_string())
    } else {
        Check::Held
    }
}

/// Two SELECTs with the same column families.
fn two_selects(g: &mut QueryGen<'_>) -> (Select, Select) {
    let n = g.rng.range(1, 3) as usize;
    let types: Vec<Ty> = (0..n).map(|_| *g.rng.pick(&Ty::ALL)).collect();
    (g.select_with_types(&types), g.select_with_types(&types))
}

/// |Q1 UNION ALL Q2| = |Q1| + |Q2|, and
/// |Q1 EXCEPT ALL Q2| + |Q1 INTERSECT ALL Q2| = |Q1|.
fn set_operation_counts(ctx: &mut Ctx, g: &mut QueryGen<'_>) -> Check {
    let (a, b) = two_selects(g);
    let (a, b) = (a.to_sql(), b.to_sql());
    let (Some(na), Some(nb)) = (ctx.count(&a), ctx.count(&b)) else {
        return Check::Skipped;
    };
    let Some(union_all) = ctx.count(&format!("{a} UNION ALL {b}")) else {
        return Check::Skipped;
    };
    if union_all != na + nb {
        return Check::Failed(format!(
            "UNION ALL gave {union_all} rows, {na} + {nb} expected"
        ));
    }
    let (Some(except), Some(intersect)) = (
        ctx.count(&format!("{a} EXCEPT ALL {b}")),
        ctx.count(&format!("{a} INTERSECT ALL {b}")),
    ) else {
        return Check::Skipped;
    };
    if except + intersect != na {
        return Check::Failed(format!(
            "EXCEPT ALL {except} + INTERSECT ALL {intersect} rows, {na} expected"
        ));
    }
    Check::Held
}

/// rows(Q ORDER BY …) is a permutation of rows(Q); with LIMIT n, min(n, |Q|)
/// of them.
fn order_by_permutes(ctx: &mut Ctx, g: &mut QueryGen<'_>) -> Check {
    let mut base = g.base_select();
    if g.rng.chance(50) {
        base.where_ = Some(g.predicate(&base.scope));
    }
    let mut ordered = base.clone();
    ordered.order_by = (1..=base.items.len())
        .map(|i| {
            let dir = *g.rng.pick(&["", " DESC"]);
            let nulls = *g.rng.pick(&["", " NULLS FIRST", " NULLS LAST"]);
            format!("{i}{dir}{nulls}")
        })
        .collect();
    let (Some(plain), Some(sorted_rows)) = (ctx.q(&base.to_sql()), ctx.q(&ordered.to_sql())) else {
        return Check::Skipped;
    };
    if sorted(plain.clone()) != sorted(sorted_rows.clone()) {
        return Check::Failed("ORDER BY changed the rows, not only their order".to_string());
    }
    let limit = g.rng.range(0, 4) as u32;
    ordered.limit = Some(limit);
    let Some(limited) = ctx.q(&ordered.to_sql()) else {
        return Check::Skipped;
    };
    let want = (limit as usize).min(plain.len());
    if limited.len() != want {
        return Check::Failed(format!(
            "LIMIT {limit} kept {} rows, {want} expected",
            limited.len()
        ));
    }
    // The first rows of the ordered result.
    if limited.as_slice() != &sorted_rows[..want] {
        return Check::Failed(format!(
            "LIMIT {limit} did not keep the first rows of the order"
        ));
    }
    Check::Held
}

type CheckFn = fn(&mut Ctx, &mut QueryGen<'_>) -> Check;

const CHECKS: &[(&str, CheckFn)] = &[
    ("ternary partitioning", ternary_partitioning),
    ("aggregate partitioning", aggregate_partitioning),
    ("DISTINCT = GROUP BY", distinct_is_group_by),
    ("set operation counts", set_operation_counts),
    ("ORDER BY permutes", order_by_permutes),
];

/// The generator features these checks use: all but BETWEEN SYMMETRIC
/// (sqlparser cannot parse it; it would only skip) and window functions
/// (a WHERE added to Q changes a window's input, so the partitioning
/// relations do not hold for them, and GROUP BY cannot list them).
fn features() -> Features {
    let mut f = Features::all();
    f.between_symmetric = false;
    f.window_functions = false;
    f.extra_functions = false;
    f
}

#[test]
fn generated_queries_keep_metamorphic_relations() {
    let seeds: Vec<u64> = match env_u64("ARBORDB_SEED") {
        Some(s) => vec![s],
        None => {
            let base = env_u64("ARBORDB_META_BASE").unwrap_or(1);
            (base..base + env_u64("ARBORDB_META_SEEDS").unwrap_or(300)).collect()
        }
    };
    let mut held = vec![0u64; CHECKS.len()];
    let mut skipped = vec![0u64; CHECKS.len()];
    let mut failures = Vec::new();
    let mut rejected = std::collections::BTreeMap::new();
    for &seed in &seeds {
        let mut rng = Rng::new(seed);
        let schema = Schema::random(&mut rng);
        let db = Database::in_memory().unwrap();
        let mut ctx = Ctx {
            seed,
            prelude: schema.prelude(DataMode::Cte),
            session: db.session(),
            log: Vec::new(),
            rejected: std::collections::BTreeMap::new(),
        };
        let mut g = QueryGen::new(&schema, features(), rng);
        for (i, (name, check)) in CHECKS.iter().enumerate() {
            ctx.log.clear();
            match check(&mut ctx, &mut g) {
                Check::Held => held[i] += 1,
                Check::Skipped => skipped[i] += 1,
                Check::Failed(why) => failures.push(format!(
                    "seed {} ({name}): {why}\n  replay: ARBORDB_SEED={} cargo test --test metamorphic\n    {}",
                    ctx.seed,
                    ctx.seed,
                    ctx.log.join("\n    ")
                )),
            }
        }
        for (state, n) in ctx.rejected {
            *rejected.entry(state).or_insert(0u64) += n;
        }
    }
    eprintln!("metamorphic: statements rejected by SQLSTATE: {rejected:?}");
    for (i, (name, _)) in CHECKS.iter().enumerate() {
        eprintln!(
            "metamorphic: {name}: {} held, {} skipped (arbordb rejected a statement)",
            held[i], skipped[i]
        );
    }
    for f in failures.iter().take(5) {
        eprintln!("FAILED {f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} metamorphic checks failed over {} seeds (first ones above)",
        failures.len(),
        seeds.len()
    );
    // Not vacuous: with many seeds, each check must have run for most.
    if seeds.len() >= 50 {
        for (i, (name, _)) in CHECKS.iter().enumerate() {
            assert!(
                held[i] * 2 > seeds.len() as u64,
                "{name}: held for only {} of {} seeds",
                held[i],
                seeds.len()
            );
        }
    }
}

#[test]
fn the_generator_is_deterministic_per_seed() {
    let statements = |seed| {
        let mut rng = Rng::new(seed);
        let schema = Schema::random(&mut rng);
        let mut g = QueryGen::new(&schema, Features::all(), rng);
        let qs: Vec<String> = (0..20).map(|_| g.query().to_sql()).collect();
        (schema.prelude(DataMode::Cte), schema.setup(), qs)
    };
    assert_eq!(statements(7), statements(7));
    assert_ne!(statements(7), statements(8));
}

#[test]
fn orderings_list_every_output_column() {
    // The determinism rule the differential test relies on: a generated
    // ORDER BY names every output column, so the order is total.
    for seed in 0..200 {
        let mut rng = Rng::new(seed);
        let schema = Schema::random(&mut rng);
        let mut g = QueryGen::new(&schema, Features::all(), rng);
        for _ in 0..10 {
            let q = g.query();
            let (keys, ncols, limit) = match &q {
                Query::Select(s) => (&s.order_by, s.items.len(), s.limit),
                Query::SetOp {
                    order_by, limit, ..
                } => (order_by, q.types().len(), *limit),
            };
            if limit.is_some() {
                assert!(
                    !keys.is_empty(),
                    "seed {seed}: LIMIT without ORDER BY: {}",
                    q.to_sql()
                );
            }
            if !keys.is_empty() {
                let mut positions: Vec<usize> = keys
                    .iter()
                    .map(|k| k.split(' ').next().unwrap().parse().unwrap())
                    .collect();
                positions.sort();
                assert_eq!(
                    positions,
                    (1..=ncols).collect::<Vec<_>>(),
                    "seed {seed}: {}",
                    q.to_sql()
                );
            }
        }
    }
}
