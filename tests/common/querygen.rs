//! A seeded random generator of schemas, data and queries, for the
//! differential test against PostgreSQL (`tests/differential.rs`) and the
//! metamorphic checks that need no reference (`tests/metamorphic.rs`).
//!
//! ```text
//!   seed ──Rng──> Schema { tables t0..tN: typed columns, rows of literals }
//!                   │  prelude(): WITH t0(c0, …) AS (VALUES …), …     (DataMode::Cte)
//!                   │  setup():   CREATE TABLE t0 (…); INSERT …        (DataMode::Tables)
//!                   v
//!              QueryGen ──> Query::Select { items, from, where, group by, having,
//!                                           order by, limit } | Query::SetOp
//!                             │ to_sql()            │ structured, so the metamorphic
//!                             v                     v checks can add a predicate
//!                         SQL text             Q WHERE p / NOT p / p IS NULL
//! ```
//!
//! Invariants the generator keeps, so that every statement means the same on
//! both engines and has one right answer:
//! - Every expression is typed by family (bool, number, text) as PostgreSQL
//!   would type it, so PostgreSQL accepts almost every statement; numbers mix
//!   freely (int2/int4/int8/numeric/float8 promote).
//! - Results are deterministic: ORDER BY only ever lists every output column
//!   (a total order on the rows), LIMIT only with such an ORDER BY, scalar
//!   subqueries are aggregates or ordered `LIMIT 1`, division goes through
//!   `NULLIF(divisor, 0)`, float values are small multiples of 1/4 so sums do
//!   not depend on the order rows are added in, and text is ASCII (the C
//!   collation and PostgreSQL's C.UTF-8 agree on it).
//! - Numeric columns keep one scale per column, so equal values print alike.
//! - The same seed gives the same statements, on every machine: the PRNG is
//!   SplitMix64, written here.

#![allow(dead_code)]

use std::fmt::Write as _;

/// SplitMix64: tiny, seedable and good enough to pick grammar productions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The SQL types the generator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int2,
    Int4,
    Int8,
    Numeric,
    Float8,
    Text,
}

/// Type families: values of one family compare with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Bool,
    Number,
    Text,
}

impl Ty {
    pub const ALL: [Ty; 7] = [
        Ty::Bool,
        Ty::Int2,
        Ty::Int4,
        Ty::Int8,
        Ty::Numeric,
        Ty::Float8,
        Ty::Text,
    ];
    pub const NUMBERS: [Ty; 5] = [Ty::Int2, Ty::Int4, Ty::Int8, Ty::Numeric, Ty::Float8];

    pub fn sql(self) -> &'static str {
        match self {
            Ty::Bool => "boolean",
            Ty::Int2 => "smallint",
            Ty::Int4 => "integer",
            Ty::Int8 => "bigint",
            Ty::Numeric => "numeric",
            Ty::Float8 => "double precision",
            Ty::Text => "text",
        }
    }

    pub fn family(self) -> Family {
        match self {
            Ty::Bool => Family::Bool,
            Ty::Text => Family::Text,
            _ => Family::Number,
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self, Ty::Int2 | Ty::Int4 | Ty::Int8)
    }

    /// Position on PostgreSQL's implicit promotion ladder for numbers.
    fn rank(self) -> u8 {
        match self {
            Ty::Int2 => 0,
            Ty::Int4 => 1,
            Ty::Int8 => 2,
            Ty::Numeric => 3,
            Ty::Float8 => 4,
            _ => 0,
        }
    }

    /// The type two numbers promote to (`int2 + int8` is `int8`).
    pub fn promote(a: Ty, b: Ty) -> Ty {
        if a.rank() >= b.rank() { a } else { b }
    }
}

/// One column of a generated table.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: Ty,
    /// Display scale of a numeric column's values.
    pub scale: u32,
}

/// One generated table: columns and rows of SQL literals.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

/// How the data reaches the queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// `WITH t0(c0, …) AS (VALUES …)` in front of every statement.
    Cte,
    /// `CREATE TABLE` + `INSERT` once, then plain statements.
    Tables,
}

/// A random schema with its data.
#[derive(Debug, Clone)]
pub struct Schema {
    pub tables: Vec<Table>,
}

/// A literal of `ty` as SQL text, typed explicitly where a bare literal would
/// be typed differently. `NULL` often.
pub fn literal(rng: &mut Rng, ty: Ty, scale: u32, null_percent: usize) -> String {
    if rng.chance(null_percent) {
        return format!("CAST(NULL AS {})", ty.sql());
    }
    match ty {
        Ty::Bool => if rng.chance(50) { "true" } else { "false" }.to_string(),
        // Magnitudes keep sums of a few products of two values in range.
        Ty::Int2 => format!("CAST({} AS smallint)", small_int(rng, 20, 50)),
        Ty::Int4 => small_int(rng, 20, 10_000).to_string(),
        Ty::Int8 => format!("CAST({} AS bigint)", small_int(rng, 20, 1_000_000_000)),
        Ty::Numeric => numeric_literal(rng, scale),
        Ty::Float8 => format!("CAST({} AS double precision)", float_literal(rng)),
        Ty::Text => format!("'{}'", text_value(rng)),
    }
}

/// Mostly in `-small..=small`, sometimes up to `big` in magnitude.
fn small_int(rng: &mut Rng, small: i64, big: i64) -> i64 {
    if rng.chance(90) {
        rng.range(-small, small)
    } else {
        rng.range(-big, big)
    }
}

fn numeric_literal(rng: &mut Rng, scale: u32) -> String {
    let mut unscaled = small_int(rng, 2000, 10_000_000);
    if scale == 0 {
        unscaled /= 100;
    }
    let neg = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let text = if scale == 0 {
        digits
    } else if digits.len() <= scale {
        format!("0.{}{}", "0".repeat(scale - digits.len()), digits)
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        format!("{int}.{frac}")
    };
    if neg { format!("(-{text})") } else { text }
}

/// A multiple of 1/4 of small magnitude: exactly representable, so sums of
/// a few of them are exact whatever the order.
fn float_literal(rng: &mut Rng) -> String {
    let quarters = small_int(rng, 40, 4_000);
    let v = quarters as f64 / 4.0;
    format!("{v:?}")
}

const WORDS: &[&str] = &[
    "", "a", "b", "ab", "ba", "abc", "A", "B", "Ab", "aB", "x", "xyz", "a b", " a", "a ", "10",
    "9", "-1", "a%b", "a_b", "zz", "hello", "HELLO", "ab ab",
];

fn text_value(rng: &mut Rng) -> String {
    rng.pick(WORDS).to_string()
}

impl Schema {
    /// One to three tables of one to four columns and zero to eight rows.
    pub fn random(rng: &mut Rng) -> Schema {
        let ntables = rng.range(1, 3) as usize;
        let mut tables = Vec::new();
        for t in 0..ntables {
            let ncols = rng.range(1, 4) as usize;
            let columns: Vec<Column> = (0..ncols)
                .map(|c| {
                    // Numbers more often than not: most operators are theirs.
                    let ty = if rng.chance(60) {
                        *rng.pick(&Ty::NUMBERS)
                    } else {
                        *rng.pick(&Ty::ALL)
                    };
                    Column {
                        name: format!("c{c}"),
                        ty,
                        scale: rng.range(0, 3) as u32,
                    }
                })
                .collect();
            let nrows = if rng.chance(10) {
                0
            } else {
                rng.range(1, 8) as usize
            };
            let null_percent = *rng.pick(&[0, 10, 25, 50]);
            let mut rows: Vec<Vec<String>> = Vec::new();
            for _ in 0..nrows {
                // Duplicate rows now and then: DISTINCT and GROUP BY need them.
                if !rows.is_empty() && rng.chance(15) {
                    let dup = rows[rng.below(rows.len())].clone();
                    rows.push(dup);
                    continue;
                }
                rows.push(
                    columns
                        .iter()
                        .map(|c| literal(rng, c.ty, c.scale, null_percent))
                        .collect(),
                );
            }
            tables.push(Table {
                name: format!("t{t}"),
                columns,
                rows,
            });
        }
        Schema { tables }
    }

    /// The `WITH …` clause that defines every table for [`DataMode::Cte`]
    /// (ends with a space), or nothing for [`DataMode::Tables`].
    pub fn prelude(&self, mode: DataMode) -> String {
        if mode == DataMode::Tables {
            return String::new();
        }
        let mut out = String::from("WITH ");
        for (i, t) in self.tables.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let cols: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            write!(out, "{}({}) AS (", t.name, cols.join(", ")).unwrap();
            if t.rows.is_empty() {
                let nulls: Vec<String> = t
                    .columns
                    .iter()
                    .map(|c| format!("CAST(NULL AS {})", c.ty.sql()))
                    .collect();
                write!(out, "SELECT {} WHERE false", nulls.join(", ")).unwrap();
            } else {
                out.push_str("VALUES ");
                for (r, row) in t.rows.iter().enumerate() {
                    if r > 0 {
                        out.push_str(", ");
                    }
                    write!(out, "({})", row.join(", ")).unwrap();
                }
            }
            out.push(')');
        }
        out.push(' ');
        out
    }

    /// `DROP`/`CREATE TABLE`/`INSERT` statements for [`DataMode::Tables`].
    pub fn setup(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.tables {
            out.push(format!("DROP TABLE IF EXISTS {}", t.name));
            let cols: Vec<String> = t
                .columns
                .iter()
                .map(|c| format!("{} {}", c.name, c.ty.sql()))
                .collect();
            out.push(format!("CREATE TABLE {} ({})", t.name, cols.join(", ")));
            if !t.rows.is_empty() {
                let rows: Vec<String> = t
                    .rows
                    .iter()
                    .map(|r| format!("({})", r.join(", ")))
                    .collect();
                out.push(format!("INSERT INTO {} VALUES {}", t.name, rows.join(", ")));
            }
        }
        out
    }

    /// `DROP TABLE` for every table (cleanup in [`DataMode::Tables`]).
    pub fn teardown(&self) -> Vec<String> {
        self.tables
            .iter()
            .map(|t| format!("DROP TABLE IF EXISTS {}", t.name))
            .collect()
    }
}

/// Which features the generator may use; the differential test turns off
/// the ones with known, listed differences.
#[derive(Debug, Clone)]
pub struct Features {
    pub correlated_subqueries: bool,
    pub subqueries: bool,
    pub joins: bool,
    pub aggregates: bool,
    pub set_operations: bool,
    pub casts_to_text: bool,
    pub division: bool,
    /// `BETWEEN SYMMETRIC` (sqlparser 0.63 does not parse it).
    pub between_symmetric: bool,
    /// Subqueries in FROM.
    pub derived_tables: bool,
    /// `x op ANY/ALL (SELECT …)`.
    pub quantified_subqueries: bool,
    /// GROUP BY an expression, not only a column.
    pub group_by_expressions: bool,
    /// Window functions in the SELECT list (deterministic ones only).
    pub window_functions: bool,
    /// Literals in unusual spellings (`1.5e2`, `.5`, `CAST(' 12 ' AS integer)`,
    /// `'NaN'`, `'Infinity'`), text input of every type.
    pub exotic_literals: bool,
    /// `agg(…) FILTER (WHERE …)`.
    pub aggregate_filter: bool,
    /// Functions PostgreSQL has that arbordb may lack (split_part, initcap,
    /// …): off by default, their absence is a known difference.
    pub extra_functions: bool,
}

impl Features {
    pub fn all() -> Features {
        Features {
            correlated_subqueries: true,
            subqueries: true,
            joins: true,
            aggregates: true,
            set_operations: true,
            casts_to_text: true,
            division: true,
            between_symmetric: true,
            derived_tables: true,
            quantified_subqueries: true,
            group_by_expressions: true,
            window_functions: true,
            exotic_literals: true,
            aggregate_filter: true,
            extra_functions: true,
        }
    }
}

/// A column reference visible in a scope.
#[derive(Debug, Clone)]
pub struct ScopeCol {
    pub sql: String,
    pub ty: Ty,
    /// Numeric scale, when known (a plain numeric column).
    pub scale: Option<u32>,
}

/// One output column of a generated SELECT.
#[derive(Debug, Clone)]
pub struct Item {
    pub sql: String,
    pub ty: Ty,
}

/// A generated SELECT, kept as parts so the metamorphic checks can change
/// its WHERE clause.
#[derive(Debug, Clone)]
pub struct Select {
    pub distinct: bool,
    pub items: Vec<Item>,
    pub from: String,
    /// Columns the FROM clause makes visible.
    pub scope: Vec<ScopeCol>,
    pub where_: Option<String>,
    pub group_by: Vec<String>,
    pub having: Option<String>,
    /// ORDER BY keys (`2 DESC NULLS FIRST`); empty for none. Always every
    /// output column when present.
    pub order_by: Vec<String>,
    pub limit: Option<u32>,
}

impl Select {
    /// The SELECT without the data prelude.
    pub fn to_sql(&self) -> String {
        let mut s = String::from("SELECT ");
        if self.distinct {
            s.push_str("DISTINCT ");
        }
        let items: Vec<&str> = self.items.iter().map(|i| i.sql.as_str()).collect();
        s.push_str(&items.join(", "));
        s.push_str(" FROM ");
        s.push_str(&self.from);
        if let Some(w) = &self.where_ {
            write!(s, " WHERE {w}").unwrap();
        }
        if !self.group_by.is_empty() {
            write!(s, " GROUP BY {}", self.group_by.join(", ")).unwrap();
        }
        if let Some(h) = &self.having {
            write!(s, " HAVING {h}").unwrap();
        }
        if !self.order_by.is_empty() {
            write!(s, " ORDER BY {}", self.order_by.join(", ")).unwrap();
        }
        if let Some(l) = self.limit {
            write!(s, " LIMIT {l}").unwrap();
        }
        s
    }

    /// The same SELECT with `p` added to its WHERE clause (`(w) AND (p)`).
    pub fn with_predicate(&self, p: &str) -> Select {
        let mut s = self.clone();
        s.where_ = Some(match &self.where_ {
            Some(w) => format!("({w}) AND ({p})"),
            None => p.to_string(),
        });
        s
    }
}

/// A generated query: a SELECT or a set operation over two queries.
#[derive(Debug, Clone)]
pub enum Query {
    Select(Select),
    SetOp {
        left: Box<Query>,
        op: &'static str,
        right: Box<Query>,
        order_by: Vec<String>,
        limit: Option<u32>,
    },
}

impl Query {
    pub fn to_sql(&self) -> String {
        match self {
            Query::Select(s) => s.to_sql(),
            Query::SetOp {
                left,
                op,
                right,
                order_by,
                limit,
            } => {
                let mut s = format!("{} {op} {}", left.operand_sql(), right.operand_sql());
                if !order_by.is_empty() {
                    write!(s, " ORDER BY {}", order_by.join(", ")).unwrap();
                }
                if let Some(l) = limit {
                    write!(s, " LIMIT {l}").unwrap();
                }
                s
            }
        }
    }

    /// As an operand of a set operation: parenthesised when it has its own
    /// ORDER BY / LIMIT or is itself a set operation.
    fn operand_sql(&self) -> String {
        match self {
            Query::Select(s) if s.order_by.is_empty() && s.limit.is_none() => s.to_sql(),
            q => format!("({})", q.to_sql()),
        }
    }

    /// Whether the top level has an ORDER BY (results compare in order).
    pub fn is_ordered(&self) -> bool {
        match self {
            Query::Select(s) => !s.order_by.is_empty(),
            Query::SetOp { order_by, .. } => !order_by.is_empty(),
        }
    }

    pub fn types(&self) -> Vec<Ty> {
        match self {
            Query::Select(s) => s.items.iter().map(|i| i.ty).collect(),
            Query::SetOp { left, .. } => left.types(),
        }
    }
}

/// Where an expression is being generated.
#[derive(Clone)]
struct Env<'a> {
    /// Columns that may be referenced directly.
    cols: &'a [ScopeCol],
    /// When set, aggregates may appear, over these columns.
    agg_cols: Option<&'a [ScopeCol]>,
    /// Inside an aggregate's argument: no float division (sums stay exact).
    in_agg: bool,
}

/// The query generator for one schema.
pub struct QueryGen<'s> {
    pub schema: &'s Schema,
    pub features: Features,
    pub rng: Rng,
    next_alias: usize,
    /// A row_number() is in the SELECT list being generated: a second one
    /// could pair its numbers with the first's differently on rows tied on
    /// every column.
    row_number_used: bool,
}

const CMP_OPS: &[&str] = &["=", "<>", "<", "<=", ">", ">="];
const LIKE_PATTERNS: &[&str] = &[
    "a%", "%b", "_", "%", "a_", "%a%", "A%", "", "a", "%\\%%", "_b%", "%_",
];

impl<'s> QueryGen<'s> {
    pub fn new(schema: &'s Schema, features: Features, rng: Rng) -> QueryGen<'s> {
        QueryGen {
            schema,
            features,
            rng,
            next_alias: 0,
            row_number_used: false,
        }
    }

    fn alias(&mut self, prefix: &str) -> String {
        self.next_alias += 1;
        format!("{prefix}{}", self.next_alias)
    }

    fn table_ref(&mut self, prefix: &str) -> (String, Vec<ScopeCol>) {
        let t = self.rng.pick(&self.schema.tables).clone();
        let alias = self.alias(prefix);
        if prefix == "a" && self.features.derived_tables && self.rng.chance(12) {
            return self.derived_table(&t, alias);
        }
        let cols = t
            .columns
            .iter()
            .map(|c| ScopeCol {
                sql: format!("{alias}.{}", c.name),
                ty: c.ty,
                scale: (c.ty == Ty::Numeric).then_some(c.scale),
            })
            .collect();
        (format!("{} AS {alias}", t.name), cols)
    }

    /// `(SELECT c0, … FROM t [WHERE p]) AS alias(c0, …)`: a subquery in FROM
    /// with the table's column names (sometimes DISTINCT, sometimes
    /// computed).
    fn derived_table(&mut self, t: &Table, alias: String) -> (String, Vec<ScopeCol>) {
        let inner_alias = self.alias("d");
        let inner: Vec<ScopeCol> = t
            .columns
            .iter()
            .map(|c| ScopeCol {
                sql: format!("{inner_alias}.{}", c.name),
                ty: c.ty,
                scale: (c.ty == Ty::Numeric).then_some(c.scale),
            })
            .collect();
        let env = Env {
            cols: &inner,
            agg_cols: None,
            in_agg: false,
        };
        let mut cols = Vec::new();
        let mut items = Vec::new();
        for (c, ic) in t.columns.iter().zip(&inner) {
            // A computed column keeps the family; scale unknown then.
            let computed = self.rng.chance(20);
            items.push(if computed {
                self.expr(&env, c.ty, 1)
            } else {
                ic.sql.clone()
            });
            cols.push(ScopeCol {
                sql: format!("{alias}.{}", c.name),
                ty: c.ty,
                scale: if computed { None } else { ic.scale },
            });
        }
        let where_ = if self.rng.chance(50) {
            format!(" WHERE {}", self.bool_expr(&env, 2))
        } else {
            String::new()
        };
        let distinct = if self.rng.chance(20) { "DISTINCT " } else { "" };
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        (
            format!(
                "(SELECT {distinct}{} FROM {} AS {inner_alias}{where_}) AS {alias}({})",
                items.join(", "),
                t.name,
                names.join(", ")
            ),
            cols,
        )
    }

    /// A FROM clause of one to three tables, joined in random ways.
    pub fn gen_from(&mut self) -> (String, Vec<ScopeCol>) {
        let (mut from, mut scope) = self.table_ref("a");
        // What an ON condition may see: the tables since the last comma
        // (a comma binds looser than JOIN).
        let mut on_scope = scope.clone();
        let n = if self.features.joins {
            *self.rng.pick(&[1, 1, 2, 2, 2, 3])
        } else {
            1
        };
        for _ in 1..n {
            let (right, right_cols) = self.table_ref("a");
            let kind = self.rng.below(6);
            let mut both = on_scope.clone();
            both.extend(right_cols.iter().cloned());
            match kind {
                0 => {
                    from = format!("{from}, {right}");
                    on_scope = right_cols.clone();
                }
                1 => {
                    from = format!("{from} CROSS JOIN {right}");
                    on_scope = both;
                }
                4 => {
                    // FULL JOIN: PostgreSQL needs hash- or merge-joinable
                    // conditions, so equalities of one family only.
                    let cond = self.equi_condition(&on_scope, &right_cols);
                    from = format!("{from} FULL JOIN {right} ON {cond}");
                    on_scope = both;
                }
                _ => {
                    let join = ["", "", "RIGHT JOIN", "INNER JOIN", "", "LEFT JOIN"][kind];
                    let cond = if self.rng.chance(60) {
                        self.equi_condition(&on_scope, &right_cols)
                    } else {
                        let env = Env {
                            cols: &both,
                            agg_cols: None,
                            in_agg: false,
                        };
                        self.bool_expr(&env, 2)
                    };
                    from = format!("{from} {join} {right} ON {cond}");
                    on_scope = both;
                }
            }
            scope.extend(right_cols);
        }
        (from, scope)
    }

    fn equi_condition(&mut self, left: &[ScopeCol], right: &[ScopeCol]) -> String {
        let mut pairs = Vec::new();
        for l in left {
            for r in right {
                if l.ty.family() == r.ty.family() {
                    pairs.push((l.sql.clone(), r.sql.clone()));
                }
            }
        }
        if pairs.is_empty() {
            return "true".to_string();
        }
        let (l, r) = self.rng.pick(&pairs).clone();
        let mut cond = format!("{l} = {r}");
        if pairs.len() > 1 && self.rng.chance(25) {
            let (l, r) = self.rng.pick(&pairs).clone();
            write!(cond, " AND {l} = {r}").unwrap();
        }
        cond
    }

    /// A random query.
    pub fn query(&mut self) -> Query {
        if self.features.set_operations && self.rng.chance(15) {
            let types: Vec<Ty> = (0..self.rng.range(1, 3))
                .map(|_| *self.rng.pick(&Ty::ALL))
                .collect();
            let left = Query::Select(self.select_with_types(&types));
            let right = Query::Select(self.select_with_types(&types));
            let op = *self.rng.pick(&[
                "UNION",
                "UNION ALL",
                "INTERSECT",
                "INTERSECT ALL",
                "EXCEPT",
                "EXCEPT ALL",
            ]);
            let (order_by, limit) = self.order_and_limit(types.len());
            return Query::SetOp {
                left: Box::new(left),
                op,
                right: Box::new(right),
                order_by,
                limit,
            };
        }
        if self.features.aggregates && self.rng.chance(35) {
            return Query::Select(self.aggregate_select());
        }
        let n = self.rng.range(1, 4) as usize;
        let types: Vec<Ty> = (0..n).map(|_| *self.rng.pick(&Ty::ALL)).collect();
        let mut s = self.select_with_types(&types);
        s.distinct = self.rng.chance(20);
        let (order_by, limit) = self.order_and_limit(types.len());
        s.order_by = order_by;
        s.limit = limit;
        Query::Select(s)
    }

    /// ORDER BY every output column (so the order is total) in random
    /// directions, sometimes with a LIMIT; or neither.
    fn order_and_limit(&mut self, ncols: usize) -> (Vec<String>, Option<u32>) {
        if !self.rng.chance(40) {
            return (Vec::new(), None);
        }
        let mut positions: Vec<usize> = (1..=ncols).collect();
        // A random permutation of the positions.
        for i in (1..positions.len()).rev() {
            let j = self.rng.below(i + 1);
            positions.swap(i, j);
        }
        let keys = positions
            .into_iter()
            .map(|p| {
                let dir = *self.rng.pick(&["", " ASC", " DESC"]);
                let nulls = *self.rng.pick(&["", "", " NULLS FIRST", " NULLS LAST"]);
                format!("{p}{dir}{nulls}")
            })
            .collect();
        let limit = self.rng.chance(50).then(|| self.rng.range(0, 5) as u32);
        (keys, limit)
    }

    /// A plain SELECT (no aggregates, no ORDER BY) whose columns have
    /// `types`' families.
    pub fn select_with_types(&mut self, types: &[Ty]) -> Select {
        let (from, scope) = self.gen_from();
        let env = Env {
            cols: &scope,
            agg_cols: None,
            in_agg: false,
        };
        self.row_number_used = false;
        let items = types
            .iter()
            .map(|&ty| {
                let sql = if self.features.window_functions
                    && ty.family() == Family::Number
                    && self.rng.chance(6)
                {
                    self.window_function(&scope, ty)
                } else {
                    self.expr(&env, ty, 3)
                };
                Item { sql, ty }
            })
            .collect();
        let where_ = self.rng.chance(60).then(|| self.bool_expr(&env, 3));
        Select {
            distinct: false,
            items,
            from,
            scope,
            where_,
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
        }
    }

    /// A window function whose values do not depend on how ties are
    /// broken: aggregates over partitions or over RANGE frames (peers share
    /// a value), rank/dense_rank, and row_number ordered by every column in
    /// scope (rows tied on all of them are indistinguishable).
    fn window_function(&mut self, scope: &[ScopeCol], ty: Ty) -> String {
        let env = Env {
            cols: scope,
            agg_cols: None,
            in_agg: true,
        };
        let partition = if self.rng.chance(60) {
            let t = *self.rng.pick(&Ty::ALL);
            format!("PARTITION BY {}", self.expr(&env, t, 1))
        } else {
            String::new()
        };
        let order_key = |g: &mut Self| {
            let t = *g.rng.pick(&Ty::ALL);
            let e = g.expr(&env, t, 1);
            let dir = *g.rng.pick(&["", " DESC"]);
            format!("{e}{dir}")
        };
        let over = |g: &mut Self, ordered: bool| {
            let order = if ordered {
                format!(" ORDER BY {}", order_key(g))
            } else {
                String::new()
            };
            format!("OVER ({partition}{order})")
        };
        match self.rng.below(6) {
            0 => {
                let ordered = self.rng.chance(50);
                let o = over(self, ordered);
                format!("count(*) {o}")
            }
            1 => {
                let t = if ty == Ty::Float8 {
                    Ty::Float8
                } else {
                    Ty::Int4
                };
                let a = self.expr(&env, t, 1);
                let ordered = self.rng.chance(50);
                let o = over(self, ordered);
                format!("sum({a}) {o}")
            }
            2 => {
                let f = *self.rng.pick(&["min", "max"]);
                let t = if ty == Ty::Float8 {
                    Ty::Float8
                } else {
                    Ty::Int4
                };
                let a = self.expr(&env, t, 1);
                let ordered = self.rng.chance(50);
                let o = over(self, ordered);
                format!("{f}({a}) {o}")
            }
            3 | 4 => {
                let f = *self.rng.pick(&["rank", "dense_rank"]);
                let o = over(self, true);
                format!("{f}() {o}")
            }
            _ if self.row_number_used => {
                let o = over(self, true);
                format!("dense_rank() {o}")
            }
            _ => {
                self.row_number_used = true;
                let all: Vec<String> = scope.iter().map(|c| c.sql.clone()).collect();
                format!(
                    "row_number() OVER ({partition} ORDER BY {})",
                    all.join(", ")
                )
            }
        }
    }

    /// A plain SELECT of random columns without WHERE, for metamorphic
    /// checks that add their own predicate.
    pub fn base_select(&mut self) -> Select {
        let n = self.rng.range(1, 3) as usize;
        let types: Vec<Ty> = (0..n).map(|_| *self.rng.pick(&Ty::ALL)).collect();
        let mut s = self.select_with_types(&types);
        s.where_ = None;
        s
    }

    /// A predicate over a SELECT's scope.
    pub fn predicate(&mut self, scope: &[ScopeCol]) -> String {
        let env = Env {
            cols: scope,
            agg_cols: None,
            in_agg: false,
        };
        self.bool_expr(&env, 3)
    }

    /// An expression of `ty` over `scope` (no aggregates).
    pub fn scalar(&mut self, scope: &[ScopeCol], ty: Ty) -> String {
        let env = Env {
            cols: scope,
            agg_cols: None,
            in_agg: false,
        };
        self.expr(&env, ty, 2)
    }

    /// An expression of `ty` fit to be an aggregate's argument (no float
    /// division, so float sums stay exact).
    pub fn agg_arg(&mut self, scope: &[ScopeCol], ty: Ty) -> String {
        let env = Env {
            cols: scope,
            agg_cols: None,
            in_agg: true,
        };
        self.expr(&env, ty, 2)
    }

    /// SELECT keys…, aggregates… FROM … [WHERE] [GROUP BY keys] [HAVING]
    /// [ORDER BY every column [LIMIT]].
    pub fn aggregate_select(&mut self) -> Select {
        let (from, scope) = self.gen_from();
        let plain = Env {
            cols: &scope,
            agg_cols: None,
            in_agg: false,
        };
        let where_ = self.rng.chance(50).then(|| self.bool_expr(&plain, 2));
        let nkeys = if self.rng.chance(25) {
            0
        } else {
            self.rng.range(1, 2) as usize
        };
        let mut keys: Vec<ScopeCol> = Vec::new();
        let mut group_by = Vec::new();
        for _ in 0..nkeys.min(scope.len()) {
            let mut c = self.rng.pick(&scope).clone();
            if self.features.group_by_expressions && self.rng.chance(25) {
                // Group by an expression; the SELECT list repeats it.
                c.sql = match c.ty {
                    t if t.is_integer() => format!("({} % 3)", c.sql),
                    Ty::Numeric | Ty::Float8 => format!("({} * 2)", c.sql),
                    Ty::Text => format!("lower({})", c.sql),
                    Ty::Bool => format!("(NOT {})", c.sql),
                    _ => c.sql,
                };
                c.scale = None;
            }
            if keys.iter().any(|k| k.sql == c.sql) {
                continue;
            }
            group_by.push(c.sql.clone());
            keys.push(c);
        }
        let env = Env {
            cols: &keys,
            agg_cols: Some(&scope),
            in_agg: false,
        };
        let mut items = Vec::new();
        for k in &keys {
            if self.rng.chance(70) {
                items.push(Item {
                    sql: k.sql.clone(),
                    ty: k.ty,
                });
            }
        }
        for _ in 0..self.rng.range(1, 3) {
            let ty = *self.rng.pick(&Ty::ALL);
            let sql = if self.rng.chance(70) {
                self.aggregate(&scope, ty)
            } else {
                self.expr(&env, ty, 2)
            };
            items.push(Item { sql, ty });
        }
        let having = (!keys.is_empty() || self.rng.chance(30))
            .then(|| self.rng.chance(40))
            .filter(|&h| h)
            .map(|_| self.bool_expr(&env, 2));
        let (order_by, limit) = self.order_and_limit(items.len());
        Select {
            distinct: self.rng.chance(10),
            items,
            from,
            scope,
            where_,
            group_by,
            having,
            order_by,
            limit,
        }
    }

    /// An aggregate call whose result has `ty`'s family.
    pub fn aggregate(&mut self, scope: &[ScopeCol], ty: Ty) -> String {
        let arg_env = Env {
            cols: scope,
            agg_cols: None,
            in_agg: true,
        };
        match ty.family() {
            Family::Bool => {
                let f = *self.rng.pick(&["bool_and", "bool_or", "every"]);
                let a = self.bool_expr(&arg_env, 2);
                format!("{f}({a})")
            }
            Family::Text => match self.rng.below(3) {
                0 => {
                    let a = self.expr(&arg_env, Ty::Text, 1);
                    let f = *self.rng.pick(&["min", "max"]);
                    format!("{f}({a})")
                }
                _ => {
                    // string_agg ordered by its own argument: ties are equal
                    // strings, so the result is deterministic.
                    let a = self.expr(&arg_env, Ty::Text, 1);
                    let sep = *self.rng.pick(&["','", "''", "' | '"]);
                    let dir = *self.rng.pick(&["", " DESC"]);
                    format!("string_agg({a}, {sep} ORDER BY {a}{dir})")
                }
            },
            Family::Number => self.number_aggregate(scope, &arg_env, ty),
        }
    }

    /// A numeric aggregate; never a float one unless `ty` is float8 (so
    /// `%` and integer-only functions stay applicable to it).
    fn number_aggregate(&mut self, scope: &[ScopeCol], arg_env: &Env<'_>, ty: Ty) -> String {
        let arg_types: Vec<Ty> = Ty::NUMBERS
            .iter()
            .copied()
            .filter(|&t| t != Ty::Float8 || ty == Ty::Float8)
            .collect();
        let call = match self.rng.below(8) {
            7 => {
                // The variance family over exact inputs: numeric results
                // whose scale rules are PostgreSQL's.
                let f = *self.rng.pick(&[
                    "variance",
                    "var_samp",
                    "var_pop",
                    "stddev",
                    "stddev_samp",
                    "stddev_pop",
                ]);
                let t = *self.rng.pick(&[Ty::Int2, Ty::Int4, Ty::Int8, Ty::Numeric]);
                let a = self.expr(arg_env, t, 1);
                format!("{f}({a})")
            }
            0 => "count(*)".to_string(),
            1 => {
                let t = *self.rng.pick(&Ty::ALL);
                let a = self.expr(arg_env, t, 1);
                let d = if self.rng.chance(30) { "DISTINCT " } else { "" };
                format!("count({d}{a})")
            }
            2 | 3 => {
                let t = *self.rng.pick(&arg_types);
                let a = self.expr(arg_env, t, 2);
                let d = if self.rng.chance(15) { "DISTINCT " } else { "" };
                format!("sum({d}{a})")
            }
            4 => {
                let t = *self.rng.pick(&arg_types);
                let a = self.expr(arg_env, t, 2);
                format!("avg({a})")
            }
            _ => {
                // min/max over a column: equal values print alike.
                let nums: Vec<&ScopeCol> = scope
                    .iter()
                    .filter(|c| c.ty.family() == Family::Number && arg_types.contains(&c.ty))
                    .collect();
                let f = *self.rng.pick(&["min", "max"]);
                match nums.is_empty() {
                    true => format!("{f}({})", self.expr(arg_env, Ty::Int4, 1)),
                    false => format!("{f}({})", self.rng.pick(&nums).sql),
                }
            }
        };
        if self.features.aggregate_filter && self.rng.chance(15) {
            let p = self.bool_expr(arg_env, 1);
            format!("{call} FILTER (WHERE {p})")
        } else {
            call
        }
    }

    /// An expression of type `ty` (its family, for numbers roughly its type).
    fn expr(&mut self, env: &Env<'_>, ty: Ty, depth: u32) -> String {
        match ty.family() {
            Family::Bool => self.bool_expr(env, depth),
            Family::Text => self.text_expr(env, depth),
            Family::Number => self.num_expr(env, ty, depth),
        }
    }

    /// A column of `ty`'s family, if the scope has one.
    fn column(&mut self, env: &Env<'_>, family: Family) -> Option<ScopeCol> {
        let cols: Vec<&ScopeCol> = env
            .cols
            .iter()
            .filter(|c| c.ty.family() == family)
            .collect();
        if cols.is_empty() {
            None
        } else {
            Some((*self.rng.pick(&cols)).clone())
        }
    }

    fn leaf(&mut self, env: &Env<'_>, ty: Ty) -> String {
        if self.rng.chance(70) {
            let pool: Vec<&ScopeCol> = env
                .cols
                .iter()
                .filter(|c| {
                    if ty.family() == Family::Number {
                        c.ty.family() == Family::Number && c.ty.rank() <= ty.rank()
                    } else {
                        c.ty == ty
                    }
                })
                .collect();
            if !pool.is_empty() {
                return self.rng.pick(&pool).sql.clone();
            }
        }
        let scale = self.rng.range(0, 2) as u32;
        if self.features.exotic_literals && self.rng.chance(12) {
            return self.exotic_literal(ty);
        }
        match ty {
            // Bare literals where PostgreSQL types them as we think.
            Ty::Int4 if self.rng.chance(80) => {
                let v = small_int(&mut self.rng, 10, 1000);
                if v < 0 {
                    format!("({v})")
                } else {
                    v.to_string()
                }
            }
            Ty::Text if self.rng.chance(80) => format!("'{}'", text_value(&mut self.rng)),
            _ => literal(&mut self.rng, ty, scale, 10),
        }
    }

    /// A literal of `ty` in an unusual spelling: numeric literals with
    /// exponents or without digits on one side, and text input (the type's
    /// input function) with spaces, signs, special values.
    fn exotic_literal(&mut self, ty: Ty) -> String {
        let pick = |g: &mut Self, xs: &[&str]| g.rng.pick(xs).to_string();
        match ty {
            Ty::Bool => {
                let v = pick(
                    self,
                    &[
                        "t", "f", "yes", "no", "on", "off", " true ", "1", "0", "TRUE",
                    ],
                );
                format!("CAST('{v}' AS boolean)")
            }
            Ty::Int2 => {
                let v = pick(
                    self,
                    &["0", "-0", " 12", "007", "+5", "-32768", "32767", " -3 "],
                );
                format!("CAST('{v}' AS smallint)")
            }
            Ty::Int4 => {
                if self.rng.chance(50) {
                    pick(self, &["2147483647", "0", "00", "1_000"]).replace('_', "")
                } else {
                    let v = pick(self, &[" 42 ", "-2147483648", "+7", "0012", "-0"]);
                    format!("CAST('{v}' AS integer)")
                }
            }
            Ty::Int8 => {
                let v = pick(
                    self,
                    &["9223372036854775807", "-9223372036854775808", " 123 ", "+0"],
                );
                format!("CAST('{v}' AS bigint)")
            }
            Ty::Numeric => {
                if self.rng.chance(60) {
                    pick(
                        self,
                        &[
                            "1.5e2",
                            ".5",
                            "2.",
                            "1e-3",
                            "0.000",
                            "1E+2",
                            "12345678901234567890.5",
                            "0.0000000001",
                            "100.10",
                            "5e0",
                        ],
                    )
                } else {
                    let v = pick(
                        self,
                        &[
                            "NaN",
                            " 1.50 ",
                            "-0.0",
                            "+3.25",
                            "1e3",
                            "Infinity",
                            "-Infinity",
                            "00.100",
                        ],
                    );
                    format!("CAST('{v}' AS numeric)")
                }
            }
            Ty::Float8 => {
                let v = pick(
                    self,
                    &[
                        "NaN",
                        "Infinity",
                        "-Infinity",
                        " 1.5 ",
                        "1e300",
                        "2.5e-3",
                        "0.1",
                        "inf",
                        "1e-310",
                        "123456789.125",
                    ],
                );
                format!("CAST('{v}' AS double precision)")
            }
            Ty::Text => {
                let v = pick(self, &["", " ", "NULL", "null", "\\", "%", "_", "a''b"]);
                format!("'{v}'")
            }
        }
    }

    fn num_expr(&mut self, env: &Env<'_>, ty: Ty, depth: u32) -> String {
        if depth == 0 || self.rng.chance(30) {
            return self.leaf(env, ty);
        }
        let d = depth - 1;
        match self.rng.below(16) {
            0..=3 => {
                // Arithmetic: one operand of `ty`, the other no wider.
                let op = *self.rng.pick(&["+", "-", "*", "+", "-"]);
                let other = self.narrower_or_same(ty);
                let (a, b) = if self.rng.chance(50) {
                    (self.num_expr(env, ty, d), self.num_expr(env, other, d))
                } else {
                    (self.num_expr(env, other, d), self.num_expr(env, ty, d))
                };
                // Products of products overflow: multiply leaves only.
                let (a, b) = if op == "*" {
                    (self.leaf(env, ty), self.leaf(env, other))
                } else {
                    (a, b)
                };
                format!("({a} {op} {b})")
            }
            4 if self.features.division && !(env.in_agg && ty == Ty::Float8) => {
                let other = self.narrower_or_same(ty);
                let a = self.num_expr(env, ty, d);
                let b = self.num_expr(env, other, d);
                let op = if ty == Ty::Float8 || self.rng.chance(60) {
                    "/"
                } else {
                    "%"
                };
                format!("({a} {op} NULLIF({b}, 0))")
            }
            5 => {
                let a = self.num_expr(env, ty, d);
                if ty.is_integer() || self.rng.chance(50) {
                    format!("abs({a})")
                } else {
                    format!("(- {a})")
                }
            }
            6 => {
                let c = self.bool_expr(env, d);
                let a = self.num_expr(env, ty, d);
                let b = self.num_expr(env, ty, d);
                if self.rng.chance(70) {
                    format!("CASE WHEN {c} THEN {a} ELSE {b} END")
                } else {
                    format!("CASE WHEN {c} THEN {a} END")
                }
            }
            7 => {
                let a = self.num_expr(env, ty, d);
                let b = self.num_expr(env, ty, d);
                let f = *self.rng.pick(&["COALESCE", "NULLIF", "GREATEST", "LEAST"]);
                format!("{f}({a}, {b})")
            }
            8 => match ty {
                Ty::Numeric => {
                    // round/trunc/ceil/floor of an integer resolve to the
                    // float8 versions: cast to keep the numeric ones.
                    let a = self.num_expr(env, Ty::Numeric, d);
                    let a = format!("CAST({a} AS numeric)");
                    let f = *self.rng.pick(&["round", "trunc", "ceil", "floor"]);
                    if (f == "round" || f == "trunc") && self.rng.chance(60) {
                        let k = self.rng.range(-1, 3);
                        format!("{f}({a}, {k})")
                    } else {
                        format!("{f}({a})")
                    }
                }
                Ty::Float8 => {
                    // Any number: an integer argument resolves to the float8
                    // function too.
                    let t = *self.rng.pick(&[Ty::Int2, Ty::Int4, Ty::Float8, Ty::Float8]);
                    let a = self.num_expr(env, t, d);
                    let f = *self.rng.pick(&["round", "trunc", "ceil", "floor", "abs"]);
                    format!("{f}({a})")
                }
                _ => {
                    let t = self.text_expr(env, d);
                    match self.rng.below(3) {
                        0 => format!("length({t})"),
                        1 => format!("position('a' IN {t})"),
                        _ => format!("strpos({t}, 'b')"),
                    }
                }
            },
            9 => {
                // A cast from another number type: a narrower one, or from
                // numeric/float8 to a wide integer (rounding), never one
                // that overflows on ordinary values.
                let sources: Vec<Ty> = Ty::NUMBERS
                    .iter()
                    .copied()
                    .filter(|t| {
                        t.rank() <= ty.rank()
                            || (matches!(ty, Ty::Int4 | Ty::Int8)
                                && matches!(t, Ty::Numeric | Ty::Float8))
                    })
                    .collect();
                let from = *self.rng.pick(&sources);
                let a = self.num_expr(env, from, d);
                format!("CAST({a} AS {})", ty.sql())
            }
            10 if self.rng.chance(40) => {
                // Simple CASE: CASE x WHEN v THEN r … ELSE r END.
                let t = *self.rng.pick(&Ty::ALL);
                let x = self.expr(env, t, d);
                let mut s = format!("CASE {x}");
                for _ in 0..self.rng.range(1, 3) {
                    let v = self.expr(env, t, 0);
                    let r = self.num_expr(env, ty, d);
                    write!(s, " WHEN {v} THEN {r}").unwrap();
                }
                if self.rng.chance(60) {
                    write!(s, " ELSE {}", self.num_expr(env, ty, d)).unwrap();
                }
                s.push_str(" END");
                s
            }
            10 if ty.is_integer() || ty == Ty::Numeric => {
                let a = self.num_expr(env, ty, d);
                let b = self.num_expr(env, ty, d);
                match self.rng.below(3) {
                    0 if self.features.division => format!("mod({a}, NULLIF({b}, 0))"),
                    1 if ty == Ty::Numeric && self.features.division => {
                        format!("div({a}, NULLIF({b}, 0))")
                    }
                    // sign(integer) resolves to sign(double precision).
                    _ if ty == Ty::Numeric => format!("sign(CAST({a} AS numeric))"),
                    _ => format!("abs({a})"),
                }
            }
            10 => {
                let c = self.bool_expr(env, d);
                if ty.is_integer() && ty != Ty::Int8 {
                    format!("CAST({c} AS integer)")
                } else {
                    self.leaf(env, ty)
                }
            }
            11 if self.features.subqueries && self.rng.chance(50) => self.scalar_subquery(env, ty),
            12 | 13 if env.agg_cols.is_some() => {
                let cols = env.agg_cols.unwrap_or(&[]);
                self.aggregate(cols, ty)
            }
            _ => self.leaf(env, ty),
        }
    }

    fn narrower_or_same(&mut self, ty: Ty) -> Ty {
        let options: Vec<Ty> = Ty::NUMBERS
            .iter()
            .copied()
            .filter(|t| t.rank() <= ty.rank())
            .collect();
        *self.rng.pick(&options)
    }

    fn text_expr(&mut self, env: &Env<'_>, depth: u32) -> String {
        if depth == 0 || self.rng.chance(30) {
            return self.leaf(env, Ty::Text);
        }
        let d = depth - 1;
        match self.rng.below(16) {
            0 | 1 => {
                let a = self.text_expr(env, d);
                let b = self.text_expr(env, d);
                format!("({a} || {b})")
            }
            2 => {
                let a = self.text_expr(env, d);
                let f = *self
                    .rng
                    .pick(&["lower", "upper", "reverse", "btrim", "ltrim", "rtrim"]);
                format!("{f}({a})")
            }
            3 => {
                let a = self.text_expr(env, d);
                let i = self.rng.range(0, 3);
                if self.rng.chance(50) {
                    let n = self.rng.range(0, 3);
                    format!("substr({a}, {i}, {n})")
                } else {
                    format!("substr({a}, {i})")
                }
            }
            4 => {
                let a = self.text_expr(env, d);
                let f = *self.rng.pick(&["left", "right"]);
                let n = self.rng.range(-2, 3);
                format!("{f}({a}, {n})")
            }
            5 => {
                let a = self.text_expr(env, d);
                format!("replace({a}, 'a', 'xy')")
            }
            6 => {
                let c = self.bool_expr(env, d);
                let a = self.text_expr(env, d);
                let b = self.text_expr(env, d);
                format!("CASE WHEN {c} THEN {a} ELSE {b} END")
            }
            7 => {
                let a = self.text_expr(env, d);
                let b = self.text_expr(env, d);
                let f = *self.rng.pick(&["COALESCE", "NULLIF", "GREATEST", "LEAST"]);
                format!("{f}({a}, {b})")
            }
            8 | 9 if self.features.casts_to_text => {
                let from = *self.rng.pick(&[
                    Ty::Int2,
                    Ty::Int4,
                    Ty::Int8,
                    Ty::Numeric,
                    Ty::Float8,
                    Ty::Bool,
                ]);
                let a = self.expr(env, from, d);
                format!("CAST({a} AS text)")
            }
            10 => {
                let a = self.text_expr(env, d);
                let f = *self.rng.pick(&["lpad", "rpad"]);
                let n = self.rng.range(0, 5);
                format!("{f}({a}, {n}, '*')")
            }
            11 => {
                let a = self.text_expr(env, d);
                let n = self.rng.range(0, 2);
                format!("repeat({a}, {n})")
            }
            14 if self.rng.chance(50) => {
                // text || non-text is text (anynonarray || text).
                let t = *self
                    .rng
                    .pick(&[Ty::Int4, Ty::Numeric, Ty::Float8, Ty::Bool, Ty::Int8]);
                let a = self.text_expr(env, d);
                let b = self.expr(env, t, d);
                if self.rng.chance(50) {
                    format!("({a} || {b})")
                } else {
                    format!("({b} || {a})")
                }
            }
            14 if self.features.extra_functions => {
                let a = self.text_expr(env, d);
                match self.rng.below(5) {
                    0 => format!("split_part({a}, ' ', {})", self.rng.range(1, 2)),
                    1 => format!("initcap({a})"),
                    2 => format!("translate({a}, 'ab', 'x')"),
                    3 => format!("to_hex({})", self.num_expr(env, Ty::Int4, d)),
                    _ => format!("md5({a})"),
                }
            }
            13 => {
                // concat/concat_ws skip NULLs and print any type as text.
                let t = *self.rng.pick(&Ty::ALL);
                let a = self.text_expr(env, d);
                let b = self.expr(env, t, d);
                if self.rng.chance(50) {
                    format!("concat({a}, {b})")
                } else {
                    format!("concat_ws('-', {a}, {b})")
                }
            }
            12 if self.features.subqueries && self.rng.chance(40) => {
                self.scalar_subquery(env, Ty::Text)
            }
            _ => self.leaf(env, Ty::Text),
        }
    }

    fn bool_expr(&mut self, env: &Env<'_>, depth: u32) -> String {
        if depth == 0 || self.rng.chance(15) {
            if let Some(c) = self.column(env, Family::Bool)
                && self.rng.chance(60)
            {
                return c.sql;
            }
            if depth == 0 {
                return self.comparison(env, 0);
            }
        }
        let d = depth - 1;
        match self.rng.below(20) {
            0..=4 => self.comparison(env, d),
            5 | 6 => {
                let a = self.bool_expr(env, d);
                let b = self.bool_expr(env, d);
                let op = *self.rng.pick(&["AND", "OR"]);
                format!("({a} {op} {b})")
            }
            7 => format!("(NOT {})", self.bool_expr(env, d)),
            8 => {
                let t = *self.rng.pick(&Ty::ALL);
                let a = self.expr(env, t, d);
                let neg = if self.rng.chance(50) { " NOT" } else { "" };
                format!("({a} IS{neg} NULL)")
            }
            9 => {
                let t = *self.rng.pick(&Ty::ALL);
                let a = self.expr(env, t, d);
                let b = self.expr(env, t, d);
                let neg = if self.rng.chance(50) { " NOT" } else { "" };
                format!("({a} IS{neg} DISTINCT FROM {b})")
            }
            10 => {
                let t = *self
                    .rng
                    .pick(&[Ty::Int4, Ty::Numeric, Ty::Float8, Ty::Text, Ty::Int2]);
                let a = self.expr(env, t, d);
                let lo = self.expr(env, t, 0);
                let hi = self.expr(env, t, 0);
                let neg = if self.rng.chance(30) { " NOT" } else { "" };
                let sym = if self.rng.chance(30) && self.features.between_symmetric {
                    " SYMMETRIC"
                } else {
                    ""
                };
                format!("({a}{neg} BETWEEN{sym} {lo} AND {hi})")
            }
            11 => {
                let t = *self.rng.pick(&Ty::ALL);
                let a = self.expr(env, t, d);
                let n = self.rng.range(1, 4);
                let list: Vec<String> = (0..n).map(|_| self.expr(env, t, 0)).collect();
                let neg = if self.rng.chance(40) { " NOT" } else { "" };
                format!("({a}{neg} IN ({}))", list.join(", "))
            }
            12 => {
                let a = self.text_expr(env, d);
                let op = *self.rng.pick(&["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"]);
                if self.rng.chance(20) {
                    let p = *self.rng.pick(&["a!%", "!_%", "%!!%", "x!%y", "!a"]);
                    format!("({a} {op} '{p}' ESCAPE '!')")
                } else {
                    let p = *self.rng.pick(LIKE_PATTERNS);
                    format!("({a} {op} '{p}')")
                }
            }
            13 => {
                let a = self.bool_expr(env, d);
                let t = *self.rng.pick(&[
                    "IS TRUE",
                    "IS NOT TRUE",
                    "IS FALSE",
                    "IS NOT FALSE",
                    "IS UNKNOWN",
                    "IS NOT UNKNOWN",
                ]);
                format!("({a} {t})")
            }
            14 if self.features.subqueries => {
                if self.features.quantified_subqueries && self.rng.chance(35) {
                    self.quantified_subquery(env, d)
                } else {
                    self.exists_subquery(env)
                }
            }
            15 if self.features.subqueries => self.in_subquery(env, d),
            16 if env.agg_cols.is_some() => {
                // A comparison involving an aggregate (HAVING).
                let agg_cols = env.agg_cols.unwrap_or(&[]);
                let t = *self.rng.pick(&Ty::NUMBERS);
                let a = self.aggregate(agg_cols, t);
                let b = self.num_expr(env, Ty::Int4, 0);
                let op = *self.rng.pick(CMP_OPS);
                format!("({a} {op} {b})")
            }
            17 => {
                let b = if self.rng.chance(50) { "true" } else { "false" };
                if self.rng.chance(30) {
                    "CAST(NULL AS boolean)".to_string()
                } else {
                    b.to_string()
                }
            }
            _ => self.comparison(env, d),
        }
    }

    fn comparison(&mut self, env: &Env<'_>, depth: u32) -> String {
        let t = if self.rng.chance(65) {
            *self.rng.pick(&Ty::NUMBERS)
        } else {
            *self.rng.pick(&[Ty::Text, Ty::Bool, Ty::Text])
        };
        // Compare a column to something more often than two constants.
        let a = match self.column(env, t.family()) {
            Some(c) if self.rng.chance(70) => c.sql,
            _ => self.expr(env, t, depth),
        };
        let t2 = if t.family() == Family::Number {
            *self.rng.pick(&Ty::NUMBERS)
        } else {
            t
        };
        let b = self.expr(env, t2, depth);
        let op = *self.rng.pick(CMP_OPS);
        format!("({a} {op} {b})")
    }

    /// A subquery's FROM: one table under a fresh alias, and a WHERE that may
    /// refer to the outer scope when correlated subqueries are allowed.
    fn subquery_from(&mut self, env: &Env<'_>) -> (String, Vec<ScopeCol>, Option<String>) {
        let (from, inner) = self.table_ref("s");
        let mut visible = inner.clone();
        if self.features.correlated_subqueries && self.rng.chance(50) {
            visible.extend(env.cols.iter().cloned());
        }
        let where_env = Env {
            cols: &visible,
            agg_cols: None,
            in_agg: false,
        };
        let where_ = self.rng.chance(70).then(|| self.comparison(&where_env, 1));
        (from, inner, where_)
    }

    fn scalar_subquery(&mut self, env: &Env<'_>, ty: Ty) -> String {
        let (from, inner, where_) = self.subquery_from(env);
        let w = where_.map(|w| format!(" WHERE {w}")).unwrap_or_default();
        if self.rng.chance(60) {
            let agg = self.aggregate(&inner, ty);
            format!("(SELECT {agg} FROM {from}{w})")
        } else {
            let inner_env = Env {
                cols: &inner,
                agg_cols: None,
                in_agg: false,
            };
            let e = self.expr(&inner_env, ty, 1);
            let dir = *self.rng.pick(&["", " DESC"]);
            let nulls = *self.rng.pick(&[" NULLS FIRST", " NULLS LAST"]);
            format!("(SELECT {e} FROM {from}{w} ORDER BY 1{dir}{nulls} LIMIT 1)")
        }
    }

    fn quantified_subquery(&mut self, env: &Env<'_>, depth: u32) -> String {
        let (from, inner, where_) = self.subquery_from(env);
        let w = where_.map(|w| format!(" WHERE {w}")).unwrap_or_default();
        let Some(col) = inner.first().cloned() else {
            return "true".to_string();
        };
        let a = self.expr(env, col.ty, depth);
        let op = *self.rng.pick(CMP_OPS);
        let q = *self.rng.pick(&["ANY", "ALL", "SOME"]);
        format!("({a} {op} {q} (SELECT {} FROM {from}{w}))", col.sql)
    }

    fn exists_subquery(&mut self, env: &Env<'_>) -> String {
        let (from, _, where_) = self.subquery_from(env);
        let w = where_.map(|w| format!(" WHERE {w}")).unwrap_or_default();
        let neg = if self.rng.chance(40) { "NOT " } else { "" };
        format!("({neg}EXISTS (SELECT 1 FROM {from}{w}))")
    }

    fn in_subquery(&mut self, env: &Env<'_>, depth: u32) -> String {
        let (from, inner, where_) = self.subquery_from(env);
        let w = where_.map(|w| format!(" WHERE {w}")).unwrap_or_default();
        let Some(col) = inner.first().cloned() else {
            return "true".to_string();
        };
        let a = self.expr(env, col.ty, depth);
        let neg = if self.rng.chance(40) { " NOT" } else { "" };
        format!("({a}{neg} IN (SELECT {} FROM {from}{w}))", col.sql)
    }
}
