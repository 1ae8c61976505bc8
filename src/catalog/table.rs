//! Table definitions stored in the catalog tree, through MVCC transactions,
//! so DDL commits and rolls back with the transaction that ran it.
//!
//! ```text
//!  catalog tree (TreeId 1, created on first open)
//!    'O'                                  -> next object id (u32 LE)
//!    'T' ++ key(schema text, name text)   -> table entry (below)
//!    'I' ++ key(schema text, index text)  -> name of the index's table (UTF-8)
//! ```
//!
//! Table entry (little-endian; format 4, formats 1 to 3 still decode):
//!
//! | offset | size | meaning |
//! |-------:|-----:|---------|
//! | 0 | 1 | entry format version (4) |
//! | 1 | 4 | object id (from 16384, as PostgreSQL's user objects) |
//! | 5 | 8 | id of the tree holding the rows |
//! | 13 | 4 | schema version (rows carry it) |
//! | 17 | 2 | column count n |
//! | 19 | … | n columns: name length (u16), name (UTF-8), type OID (u32), typmod (i32, -1 none), flags (u8, bit 0 NOT NULL, bit 1 has a default, bit 2 identity ALWAYS, bit 3 identity BY DEFAULT, bit 4 has a missing value (format 4)), [default: length (u32), SQL text], [missing value: length (u32), a one-column stored row (row.rs)] |
//! | … | 2 | primary-key column count k (0: hidden row id) |
//! | … | 2·k | primary-key column positions (u16) |
//! | … | 2 + … | primary-key constraint name: length (u16), UTF-8 (format 2) |
//! | … | 2 | index count m (format 2) |
//! | … | … | m indexes: name (u16 length, UTF-8), object id (u32), tree id (u64), flags (u8, bit 0 UNIQUE, bit 1 backs a UNIQUE constraint (format 4)), column count c (u16), c × (position u16, flags u8 bit 0 DESC) |
//! | … | 2 | CHECK constraint count (format 3) |
//! | … | … | per CHECK: name (u16 length, UTF-8), expression as SQL text (u32 length, UTF-8) |
//! | … | 2 | FOREIGN KEY count (format 3) |
//! | … | … | per FOREIGN KEY: name, referenced schema, referenced table (each u16 length, UTF-8), column count c (u16), c × local position (u16), c × referenced position (u16), ON DELETE (u8), ON UPDATE (u8), flags (u8, bit 0 MATCH FULL) |
//! | … | 2 | referencing constraint count (format 3) |
//! | … | … | per referencing constraint: schema, table, constraint name (each u16 length, UTF-8) |
//!
//! Actions: 0 NO ACTION, 1 RESTRICT, 2 CASCADE, 3 SET NULL, 4 SET DEFAULT.
//!
//! A foreign key lives in the referencing table's entry; the referenced
//! table lists it under "referencing constraints" so a DELETE or UPDATE of a
//! parent finds its children without scanning the catalog. Both entries
//! change in the transaction that adds or drops the constraint.
//!
//! Invariants: the catalog tree is tree 1 in every data file; an entry
//! decodes or the catalog is corrupt (XX001), never a panic; every foreign
//! key appears exactly once in its referenced table's referencing list.
//!
//! A table's row tree is created and dropped in the transaction
//! (`Transaction::create_tree` / `drop_tree`): a rolled-back CREATE TABLE
//! (or one running at a crash) frees its tree again, and a dropped table's
//! tree is freed only when the DROP commits, once no snapshot can still
//! read it.

use crate::error::{Error, SqlState};
use crate::storage::btree::{Tree, TreeId};
use crate::storage::error::StorageError;
use crate::txn::open::Stack;
use crate::txn::{Transaction, TxnError};
use crate::types::{DataType, Value};

use super::key::encode_key;

/// The catalog tree's id in every data file.
pub const CATALOG_TREE: TreeId = TreeId(1);
/// The first object id handed out (PostgreSQL's `FirstNormalObjectId`).
pub const FIRST_OBJECT_ID: u32 = 16384;

const ENTRY_VERSION: u8 = 4;
const OID_KEY: &[u8] = b"O";

/// Errors of the catalog, with PostgreSQL's SQLSTATEs and messages.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("relation \"{0}\" does not exist")]
    UndefinedTable(String),
    #[error("relation \"{0}\" already exists")]
    DuplicateTable(String),
    #[error("column \"{0}\" specified more than once")]
    DuplicateColumn(String),
    #[error("column \"{0}\" named in key does not exist")]
    UndefinedKeyColumn(String),
    #[error("role \"{0}\" does not exist")]
    UndefinedRole(String),
    #[error("role \"{0}\" already exists")]
    DuplicateRole(String),
    #[error("index \"{0}\" does not exist")]
    UndefinedIndex(String),
    #[error("schema \"{0}\" does not exist")]
    UndefinedSchema(String),
    #[error("schema \"{0}\" already exists")]
    DuplicateSchema(String),
    #[error("catalog entry is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Lower(#[from] Error),
}

impl CatalogError {
    pub fn sqlstate(&self) -> SqlState {
        match self {
            CatalogError::UndefinedTable(_) => SqlState::UNDEFINED_TABLE,
            CatalogError::UndefinedIndex(_) => SqlState::UNDEFINED_OBJECT,
            CatalogError::UndefinedSchema(_) => SqlState("3F000"),
            CatalogError::DuplicateSchema(_) => SqlState("42P06"),
            CatalogError::DuplicateTable(_) => SqlState::DUPLICATE_TABLE,
            CatalogError::DuplicateColumn(_) => SqlState("42701"),
            CatalogError::UndefinedKeyColumn(_) => SqlState::UNDEFINED_COLUMN,
            CatalogError::UndefinedRole(_) => SqlState::UNDEFINED_OBJECT,
            CatalogError::DuplicateRole(_) => SqlState::DUPLICATE_OBJECT,
            CatalogError::Corrupt(_) => SqlState::DATA_CORRUPTED,
            CatalogError::Lower(e) => e.sqlstate,
        }
    }
}

impl From<CatalogError> for Error {
    fn from(e: CatalogError) -> Error {
        match e {
            CatalogError::Lower(e) => e,
            e => Error::new(e.sqlstate(), e.to_string()),
        }
    }
}

impl From<TxnError> for CatalogError {
    fn from(e: TxnError) -> CatalogError {
        CatalogError::Lower(e.into())
    }
}

impl From<StorageError> for CatalogError {
    fn from(e: StorageError) -> CatalogError {
        CatalogError::Lower(e.into())
    }
}

/// `GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Always,
    ByDefault,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub not_null: bool,
    /// The DEFAULT expression as SQL text (bound again by each INSERT).
    pub default: Option<String>,
    /// An identity column (its default is the `nextval` of its sequence).
    pub identity: Option<Identity>,
    /// The value rows written before the column was added read for it
    /// (PostgreSQL's attmissingval): ADD COLUMN with a constant default
    /// does not rewrite the table. `None`: such rows read NULL.
    pub missing: Option<Value>,
}

impl ColumnDef {
    pub fn new(name: impl Into<String>, data_type: DataType) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            data_type,
            not_null: false,
            default: None,
            identity: None,
            missing: None,
        }
    }
}

/// One column of an index key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexColumn {
    /// Position of the column in the table.
    pub column: usize,
    pub desc: bool,
}

/// A secondary index: entries `index key ++ primary key -> primary key`
/// (a unique index without NULLs in the entry: `index key -> primary key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub oid: u32,
    pub tree: TreeId,
    pub unique: bool,
    pub columns: Vec<IndexColumn>,
    /// The index of a UNIQUE constraint (dropped with DROP CONSTRAINT,
    /// not DROP INDEX).
    pub constraint: bool,
}

/// A CHECK constraint: a boolean expression over the row's columns, kept as
/// SQL text and bound again by each statement that writes the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckDef {
    pub name: String,
    pub expr: String,
}

/// What a FOREIGN KEY does to referencing rows when a referenced row is
/// deleted or its key updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FkAction {
    #[default]
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    fn code(self) -> u8 {
        match self {
            FkAction::NoAction => 0,
            FkAction::Restrict => 1,
            FkAction::Cascade => 2,
            FkAction::SetNull => 3,
            FkAction::SetDefault => 4,
        }
    }
    fn from_code(c: u8) -> Option<FkAction> {
        Some(match c {
            0 => FkAction::NoAction,
            1 => FkAction::Restrict,
            2 => FkAction::Cascade,
            3 => FkAction::SetNull,
            4 => FkAction::SetDefault,
            _ => return None,
        })
    }
}

/// A FOREIGN KEY of the table that holds it (the referencing table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyDef {
    pub name: String,
    /// Positions of the referencing columns in this table.
    pub columns: Vec<usize>,
    pub ref_schema: String,
    pub ref_table: String,
    /// Positions of the referenced columns in the referenced table (a
    /// primary key or unique index covers exactly these).
    pub ref_columns: Vec<usize>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
    /// MATCH FULL (else MATCH SIMPLE: a NULL in any column skips the check).
    pub match_full: bool,
}

/// A foreign key of another table that references this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FkRef {
    pub schema: String,
    pub table: String,
    pub constraint: String,
}

/// A table as the catalog stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub tree: TreeId,
    pub schema_version: u32,
    pub columns: Vec<ColumnDef>,
    /// Positions of the primary-key columns; empty: rows get a hidden row id.
    pub primary_key: Vec<usize>,
    /// The primary key's constraint name (`t_pkey` unless named).
    pub pk_name: String,
    pub indexes: Vec<IndexDef>,
    pub checks: Vec<CheckDef>,
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// Foreign keys of other tables (or this one) referencing this table.
    pub referenced_by: Vec<FkRef>,
}

impl TableDef {
    /// Fills in, for a row that stores only its first `stored` columns
    /// (written before ADD COLUMN), the values the later columns read.
    pub fn fill_missing(&self, stored: usize, row: &mut [Value]) {
        self.fill_missing_of(stored, None, row);
    }

    /// [`TableDef::fill_missing`] for a row that holds only the columns with
    /// `needed[i]` (all if `None`), in table order, as a pruned scan reads.
    pub fn fill_missing_of(&self, stored: usize, needed: Option<&[bool]>, row: &mut [Value]) {
        let mut at = 0;
        for (c, col) in self.columns.iter().enumerate() {
            if !needed.is_none_or(|m| m.get(c).copied().unwrap_or(true)) {
                continue;
            }
            if c >= stored
                && let Some(m) = &col.missing
                && let Some(v) = row.get_mut(at)
            {
                *v = m.clone();
            }
            at += 1;
        }
    }

    /// Whether a constraint (primary key, unique index, CHECK or FOREIGN
    /// KEY) of this table is called `name`.
    pub fn has_constraint(&self, name: &str) -> bool {
        (!self.primary_key.is_empty() && self.pk_name == name)
            || self.indexes.iter().any(|i| i.unique && i.name == name)
            || self.checks.iter().any(|c| c.name == name)
            || self.foreign_keys.iter().any(|f| f.name == name)
    }
}

pub(super) fn typmod(t: &DataType) -> i32 {
    match t {
        // an array column keeps its element's modifier, as atttypmod does
        DataType::Array(elem) => typmod(elem),
        DataType::Numeric(Some((p, s))) => (i32::from(*p) << 16) | i32::from(*s),
        DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => *n as i32,
        _ => -1,
    }
}

pub(super) fn type_from(oid: u32, typmod: i32) -> Option<DataType> {
    let n = (typmod >= 0).then_some(typmod as u32);
    Some(match oid {
        16 => DataType::Bool,
        17 => DataType::Bytea,
        20 => DataType::Int8,
        21 => DataType::Int2,
        23 => DataType::Int4,
        25 => DataType::Text,
        700 => DataType::Float4,
        701 => DataType::Float8,
        1042 => DataType::Char(n),
        1043 => DataType::Varchar(n),
        1700 => DataType::Numeric(n.map(|m| ((m >> 16) as u16, (m & 0xFFFF) as u16))),
        114 => DataType::Json,
        1082 => DataType::Date,
        1083 => DataType::Time,
        1114 => DataType::Timestamp,
        1184 => DataType::Timestamptz,
        1186 => DataType::Interval,
        2950 => DataType::Uuid,
        3802 => DataType::Jsonb,
        _ => {
            // an array type: the element whose array OID this is
            const ELEMENTS: [u32; 19] = [
                16, 17, 20, 21, 23, 25, 700, 701, 1042, 1043, 1700, 114, 1082, 1083, 1114, 1184,
                1186, 2950, 3802,
            ];
            return ELEMENTS.iter().find_map(|&e| {
                let elem = type_from(e, typmod)?;
                let array = DataType::Array(Box::new(elem));
                (array.oid() == oid).then_some(array)
            });
        }
    })
}

fn table_key(schema: &str, name: &str) -> Vec<u8> {
    let mut k = vec![b'T'];
    k.extend(encode_key(&[
        Value::Text(schema.to_string()),
        Value::Text(name.to_string()),
    ]));
    k
}

fn index_key(schema: &str, name: &str) -> Vec<u8> {
    let mut k = vec![b'I'];
    k.extend(encode_key(&[
        Value::Text(schema.to_string()),
        Value::Text(name.to_string()),
    ]));
    k
}

fn encode_entry(t: &TableDef) -> Vec<u8> {
    let mut b = vec![ENTRY_VERSION];
    b.extend_from_slice(&t.oid.to_le_bytes());
    b.extend_from_slice(&t.tree.0.to_le_bytes());
    b.extend_from_slice(&t.schema_version.to_le_bytes());
    b.extend_from_slice(&(t.columns.len() as u16).to_le_bytes());
    for c in &t.columns {
        b.extend_from_slice(&(c.name.len() as u16).to_le_bytes());
        b.extend_from_slice(c.name.as_bytes());
        b.extend_from_slice(&c.data_type.oid().to_le_bytes());
        b.extend_from_slice(&typmod(&c.data_type).to_le_bytes());
        b.push(
            u8::from(c.not_null)
                | (u8::from(c.default.is_some()) << 1)
                | (u8::from(c.identity == Some(Identity::Always)) << 2)
                | (u8::from(c.identity == Some(Identity::ByDefault)) << 3)
                | (u8::from(c.missing.is_some()) << 4),
        );
        if let Some(d) = &c.default {
            b.extend_from_slice(&(d.len() as u32).to_le_bytes());
            b.extend_from_slice(d.as_bytes());
        }
        if let Some(m) = &c.missing {
            let v = super::row::encode_row(0, std::slice::from_ref(m));
            b.extend_from_slice(&(v.len() as u32).to_le_bytes());
            b.extend_from_slice(&v);
        }
    }
    b.extend_from_slice(&(t.primary_key.len() as u16).to_le_bytes());
    for &p in &t.primary_key {
        b.extend_from_slice(&(p as u16).to_le_bytes());
    }
    put_str(&mut b, &t.pk_name);
    b.extend_from_slice(&(t.indexes.len() as u16).to_le_bytes());
    for i in &t.indexes {
        put_str(&mut b, &i.name);
        b.extend_from_slice(&i.oid.to_le_bytes());
        b.extend_from_slice(&i.tree.0.to_le_bytes());
        b.push(u8::from(i.unique) | (u8::from(i.constraint) << 1));
        b.extend_from_slice(&(i.columns.len() as u16).to_le_bytes());
        for c in &i.columns {
            b.extend_from_slice(&(c.column as u16).to_le_bytes());
            b.push(u8::from(c.desc));
        }
    }
    b.extend_from_slice(&(t.checks.len() as u16).to_le_bytes());
    for c in &t.checks {
        put_str(&mut b, &c.name);
        b.extend_from_slice(&(c.expr.len() as u32).to_le_bytes());
        b.extend_from_slice(c.expr.as_bytes());
    }
    b.extend_from_slice(&(t.foreign_keys.len() as u16).to_le_bytes());
    for f in &t.foreign_keys {
        put_str(&mut b, &f.name);
        put_str(&mut b, &f.ref_schema);
        put_str(&mut b, &f.ref_table);
        b.extend_from_slice(&(f.columns.len() as u16).to_le_bytes());
        for &p in f.columns.iter().chain(&f.ref_columns) {
            b.extend_from_slice(&(p as u16).to_le_bytes());
        }
        b.push(f.on_delete.code());
        b.push(f.on_update.code());
        b.push(u8::from(f.match_full));
    }
    b.extend_from_slice(&(t.referenced_by.len() as u16).to_le_bytes());
    for r in &t.referenced_by {
        put_str(&mut b, &r.schema);
        put_str(&mut b, &r.table);
        put_str(&mut b, &r.constraint);
    }
    b
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u16).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

/// A bounds-checked reader over an entry.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CatalogError> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or_else(|| CatalogError::Corrupt(format!("entry ends at byte {}", self.at)))?;
        self.at += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CatalogError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16, CatalogError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, CatalogError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn text(&mut self, len: usize) -> Result<String, CatalogError> {
        std::str::from_utf8(self.take(len)?)
            .map(str::to_string)
            .map_err(|_| CatalogError::Corrupt(format!("text at byte {} is not UTF-8", self.at)))
    }
    fn short_text(&mut self) -> Result<String, CatalogError> {
        let n = self.u16()?;
        self.text(usize::from(n))
    }
}

fn decode_entry(schema: &str, name: &str, b: &[u8]) -> Result<TableDef, CatalogError> {
    let mut r = Reader { b, at: 0 };
    let version = r.take(1)?[0];
    if !(1..=ENTRY_VERSION).contains(&version) {
        return Err(CatalogError::Corrupt(format!(
            "table \"{name}\" has entry format {version}"
        )));
    }
    let oid = r.u32()?;
    let tree = TreeId(u64::from_le_bytes(r.array()?));
    let schema_version = r.u32()?;
    let n = r.u16()?;
    let mut columns = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let len = r.u16()?;
        let cname = std::str::from_utf8(r.take(usize::from(len))?)
            .map_err(|_| CatalogError::Corrupt(format!("column name of \"{name}\" is not UTF-8")))?
            .to_string();
        let toid = r.u32()?;
        let tmod = i32::from_le_bytes(r.array()?);
        let data_type = type_from(toid, tmod)
            .ok_or_else(|| CatalogError::Corrupt(format!("unknown type OID {toid}")))?;
        let flags = r.take(1)?[0];
        let not_null = flags & 1 != 0;
        let default = if flags & 2 != 0 {
            let len = r.u32()? as usize;
            Some(r.text(len)?)
        } else {
            None
        };
        let identity = match (flags & 4 != 0, flags & 8 != 0) {
            (true, _) => Some(Identity::Always),
            (false, true) => Some(Identity::ByDefault),
            _ => None,
        };
        let missing = if flags & 16 != 0 {
            let len = r.u32()? as usize;
            let raw = r.take(len)?;
            let mut out = Vec::with_capacity(1);
            super::row::decode_row(raw, std::slice::from_ref(&data_type), None, &mut out)
                .map_err(|e| CatalogError::Corrupt(e.message))?;
            out.pop()
        } else {
            None
        };
        columns.push(ColumnDef {
            name: cname,
            data_type,
            not_null,
            default,
            identity,
            missing,
        });
    }
    let k = r.u16()?;
    let mut primary_key = Vec::with_capacity(usize::from(k));
    for _ in 0..k {
        let p = usize::from(r.u16()?);
        if p >= columns.len() {
            return Err(CatalogError::Corrupt(format!(
                "primary key of \"{name}\" names column {p} of {}",
                columns.len()
            )));
        }
        primary_key.push(p);
    }
    let mut pk_name = format!("{name}_pkey");
    let mut indexes = Vec::new();
    if version >= 2 {
        pk_name = r.short_text()?;
        let m = r.u16()?;
        for _ in 0..m {
            let iname = r.short_text()?;
            let ioid = r.u32()?;
            let itree = TreeId(u64::from_le_bytes(r.array()?));
            let iflags = r.take(1)?[0];
            let unique = iflags & 1 != 0;
            let c = r.u16()?;
            let mut icols = Vec::with_capacity(usize::from(c));
            for _ in 0..c {
                let column = usize::from(r.u16()?);
                if column >= columns.len() {
                    return Err(CatalogError::Corrupt(format!(
                        "index \"{iname}\" names column {column} of {}",
                        columns.len()
                    )));
                }
                let desc = r.take(1)?[0] & 1 != 0;
                icols.push(IndexColumn { column, desc });
            }
            indexes.push(IndexDef {
                name: iname,
                oid: ioid,
                tree: itree,
                unique,
                columns: icols,
                constraint: iflags & 2 != 0,
            });
        }
    }
    let mut checks = Vec::new();
    let mut foreign_keys = Vec::new();
    let mut referenced_by = Vec::new();
    if version >= 3 {
        for _ in 0..r.u16()? {
            let cname = r.short_text()?;
            let len = r.u32()? as usize;
            checks.push(CheckDef {
                name: cname,
                expr: r.text(len)?,
            });
        }
        for _ in 0..r.u16()? {
            let fname = r.short_text()?;
            let ref_schema = r.short_text()?;
            let ref_table = r.short_text()?;
            let c = usize::from(r.u16()?);
            let mut cols = Vec::with_capacity(c);
            for _ in 0..c {
                let p = usize::from(r.u16()?);
                if p >= columns.len() {
                    return Err(CatalogError::Corrupt(format!(
                        "foreign key \"{fname}\" names column {p} of {}",
                        columns.len()
                    )));
                }
                cols.push(p);
            }
            let mut ref_columns = Vec::with_capacity(c);
            for _ in 0..c {
                ref_columns.push(usize::from(r.u16()?));
            }
            let action = |code: u8| {
                FkAction::from_code(code).ok_or_else(|| {
                    CatalogError::Corrupt(format!("foreign key \"{fname}\" has action {code}"))
                })
            };
            let on_delete = action(r.take(1)?[0])?;
            let on_update = action(r.take(1)?[0])?;
            let match_full = r.take(1)?[0] & 1 != 0;
            foreign_keys.push(ForeignKeyDef {
                name: fname,
                columns: cols,
                ref_schema,
                ref_table,
                ref_columns,
                on_delete,
                on_update,
                match_full,
            });
        }
        for _ in 0..r.u16()? {
            referenced_by.push(FkRef {
                schema: r.short_text()?,
                table: r.short_text()?,
                constraint: r.short_text()?,
            });
        }
    }
    if r.at != b.len() {
        return Err(CatalogError::Corrupt(format!(
            "table \"{name}\" entry has {} trailing bytes",
            b.len() - r.at
        )));
    }
    Ok(TableDef {
        oid,
        schema: schema.to_string(),
        name: name.to_string(),
        tree,
        schema_version,
        columns,
        primary_key,
        pk_name,
        indexes,
        checks,
        foreign_keys,
        referenced_by,
    })
}

/// The catalog of one database: a handle on the catalog tree.
#[derive(Clone)]
pub struct Catalog {
    stack: Stack,
    pub(super) tree: Tree,
}

impl Catalog {
    /// Opens the catalog tree, creating it in a new data file.
    pub fn open(stack: &Stack) -> Result<Catalog, CatalogError> {
        let tree = match stack.engine.tree(CATALOG_TREE) {
            Ok(t) => t,
            Err(StorageError::NoSuchTree(_)) => {
                let t = stack.create_tree()?;
                if t.id() != CATALOG_TREE {
                    return Err(CatalogError::Corrupt(format!(
                        "data file has trees but no catalog tree (created tree {})",
                        t.id().0
                    )));
                }
                t
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Catalog {
            stack: stack.clone(),
            tree,
        })
    }

    /// The table `schema.name` as `txn`'s current statement sees it.
    pub fn table(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
    ) -> Result<Option<TableDef>, CatalogError> {
        match txn.get(&self.tree, &table_key(schema, name))? {
            Some(b) => Ok(Some(decode_entry(schema, name, &b)?)),
            None => Ok(None),
        }
    }

    pub(super) fn next_oid(&self, txn: &mut Transaction) -> Result<u32, CatalogError> {
        let current = txn.get(&self.tree, OID_KEY)?;
        let oid = match &current {
            Some(b) => {
                let mut r = Reader { b, at: 0 };
                r.u32()?
            }
            None => FIRST_OBJECT_ID,
        };
        let next = oid
            .checked_add(1)
            .ok_or_else(|| CatalogError::Lower(Error::internal("object ids exhausted")))?;
        let written = match current {
            Some(_) => txn.put(&self.tree, OID_KEY, &next.to_le_bytes(), false)?,
            None => txn.insert(&self.tree, OID_KEY, &next.to_le_bytes())?,
        };
        if !written {
            // another transaction created or removed the counter meanwhile
            return Err(CatalogError::Lower(Error::new(
                SqlState::SERIALIZATION_FAILURE,
                "could not serialize access due to concurrent update",
            )));
        }
        Ok(oid)
    }

    /// Whether a relation (table, index, sequence or view) named `name`
    /// exists in `schema`.
    pub fn relation_exists(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
    ) -> Result<bool, CatalogError> {
        Ok(txn.get(&self.tree, &table_key(schema, name))?.is_some()
            || txn.get(&self.tree, &index_key(schema, name))?.is_some()
            || txn
                .get(&self.tree, &super::sequence::sequence_key(schema, name))?
                .is_some()
            || txn
                .get(&self.tree, &super::view::view_key(schema, name))?
                .is_some())
    }

    /// Creates a table in `txn`; 42P07 if a relation of that name exists.
    /// `pk_name` names the primary-key constraint (`name_pkey` if `None`).
    pub fn create_table(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
        columns: Vec<ColumnDef>,
        primary_key: &[&str],
    ) -> Result<TableDef, CatalogError> {
        self.create_table_named(txn, schema, name, columns, primary_key, None)
    }

    /// [`Catalog::create_table`] with a chosen primary-key constraint name.
    pub fn create_table_named(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
        columns: Vec<ColumnDef>,
        primary_key: &[&str],
        pk_name: Option<&str>,
    ) -> Result<TableDef, CatalogError> {
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].iter().any(|d| d.name == c.name) {
                return Err(CatalogError::DuplicateColumn(c.name.clone()));
            }
        }
        let mut pk = Vec::with_capacity(primary_key.len());
        for p in primary_key {
            let pos = columns
                .iter()
                .position(|c| c.name == *p)
                .ok_or_else(|| CatalogError::UndefinedKeyColumn(p.to_string()))?;
            pk.push(pos);
        }
        let mut columns = columns;
        for &p in &pk {
            columns[p].not_null = true;
        }
        self.lock_schema(txn, schema)?;
        if self.relation_exists(txn, schema, name)? {
            return Err(CatalogError::DuplicateTable(name.to_string()));
        }
        let oid = self.next_oid(txn)?;
        let tree = txn.create_tree()?;
        let def = TableDef {
            oid,
            schema: schema.to_string(),
            name: name.to_string(),
            tree: tree.id(),
            schema_version: 1,
            columns,
            primary_key: pk,
            pk_name: pk_name
                .map(str::to_string)
                .unwrap_or_else(|| format!("{name}_pkey")),
            indexes: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            referenced_by: Vec::new(),
        };
        if !txn.insert(&self.tree, &table_key(schema, name), &encode_entry(&def))? {
            return Err(CatalogError::DuplicateTable(name.to_string()));
        }
        Ok(def)
    }

    /// Drops a table (and its indexes' names) in `txn`; 42P01 if there is none.
    pub fn drop_table(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
    ) -> Result<TableDef, CatalogError> {
        let def = self
            .table(txn, schema, name)?
            .ok_or_else(|| CatalogError::UndefinedTable(name.to_string()))?;
        txn.delete(&self.tree, &table_key(schema, name))?;
        txn.drop_tree(def.tree)?;
        for i in &def.indexes {
            txn.delete(&self.tree, &index_key(schema, &i.name))?;
            txn.drop_tree(i.tree)?;
        }
        Ok(def)
    }

    /// Writes a changed definition of an existing table (same name).
    pub fn update_table(&self, txn: &mut Transaction, def: &TableDef) -> Result<(), CatalogError> {
        if !txn.put(
            &self.tree,
            &table_key(&def.schema, &def.name),
            &encode_entry(def),
            false,
        )? {
            return Err(CatalogError::UndefinedTable(def.name.clone()));
        }
        Ok(())
    }

    /// Adds an (empty) index to `table` in `txn` and returns it; the caller
    /// fills it. 42P07 if a relation called `name` exists.
    pub fn create_index(
        &self,
        txn: &mut Transaction,
        table: &mut TableDef,
        name: &str,
        columns: Vec<IndexColumn>,
        unique: bool,
    ) -> Result<IndexDef, CatalogError> {
        if self.relation_exists(txn, &table.schema, name)? {
            return Err(CatalogError::DuplicateTable(name.to_string()));
        }
        let oid = self.next_oid(txn)?;
        let tree = txn.create_tree()?;
        let index = IndexDef {
            name: name.to_string(),
            oid,
            tree: tree.id(),
            unique,
            columns,
            constraint: false,
        };
        if !txn.insert(
            &self.tree,
            &index_key(&table.schema, name),
            table.name.as_bytes(),
        )? {
            return Err(CatalogError::DuplicateTable(name.to_string()));
        }
        table.indexes.push(index.clone());
        self.update_table(txn, table)?;
        Ok(index)
    }

    /// Removes the name entry of an index whose table's definition no
    /// longer lists it (DROP COLUMN of an indexed column).
    pub fn forget_index_name(
        &self,
        txn: &mut Transaction,
        schema: &str,
        index: &str,
    ) -> Result<(), CatalogError> {
        txn.delete(&self.tree, &index_key(schema, index))?;
        Ok(())
    }

    /// ALTER TABLE RENAME: `new` (same schema, another name) replaces
    /// `old`'s entry; its indexes name their new owner.
    pub fn rename_table(
        &self,
        txn: &mut Transaction,
        old: &TableDef,
        new: &TableDef,
    ) -> Result<(), CatalogError> {
        if !txn.delete(&self.tree, &table_key(&old.schema, &old.name))? {
            return Err(CatalogError::UndefinedTable(old.name.clone()));
        }
        if !txn.insert(
            &self.tree,
            &table_key(&new.schema, &new.name),
            &encode_entry(new),
        )? {
            return Err(CatalogError::DuplicateTable(new.name.clone()));
        }
        for i in &new.indexes {
            txn.put(
                &self.tree,
                &index_key(&new.schema, &i.name),
                new.name.as_bytes(),
                false,
            )?;
        }
        Ok(())
    }

    /// The table an index belongs to, if the index exists.
    pub fn index_table(
        &self,
        txn: &mut Transaction,
        schema: &str,
        index: &str,
    ) -> Result<Option<TableDef>, CatalogError> {
        let Some(owner) = txn.get(&self.tree, &index_key(schema, index))? else {
            return Ok(None);
        };
        let owner = String::from_utf8(owner)
            .map_err(|_| CatalogError::Corrupt(format!("owner of index \"{index}\"")))?;
        self.table(txn, schema, &owner)
    }

    /// Drops an index in `txn`; 42704 if there is none.
    pub fn drop_index(
        &self,
        txn: &mut Transaction,
        schema: &str,
        index: &str,
    ) -> Result<(TableDef, IndexDef), CatalogError> {
        let mut table = self
            .index_table(txn, schema, index)?
            .ok_or_else(|| CatalogError::UndefinedIndex(index.to_string()))?;
        let pos = table
            .indexes
            .iter()
            .position(|i| i.name == index)
            .ok_or_else(|| CatalogError::Corrupt(format!("index \"{index}\" has no table")))?;
        let dropped = table.indexes.remove(pos);
        txn.delete(&self.tree, &index_key(schema, index))?;
        txn.drop_tree(dropped.tree)?;
        self.update_table(txn, &table)?;
        Ok((table, dropped))
    }

    /// The trees of `table`'s secondary indexes, in `table.indexes` order.
    pub fn index_trees(&self, table: &TableDef) -> Result<Vec<Tree>, CatalogError> {
        table
            .indexes
            .iter()
            .map(|i| Ok(self.stack.engine.tree(i.tree)?))
            .collect()
    }

    /// The engine stack the catalog lives in.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The tree holding `table`'s rows.
    pub fn rows(&self, table: &TableDef) -> Result<Tree, CatalogError> {
        Ok(self.stack.engine.tree(table.tree)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{IsolationLevel, TxnOptions};

    fn cols() -> Vec<ColumnDef> {
        vec![
            ColumnDef::new("id", DataType::Int8),
            ColumnDef {
                default: Some("0.5 * 2".into()),
                ..ColumnDef::new("price", DataType::Numeric(Some((10, 2))))
            },
            ColumnDef {
                not_null: true,
                identity: Some(Identity::ByDefault),
                missing: Some(Value::Text("x".into())),
                ..ColumnDef::new("name", DataType::Varchar(Some(20)))
            },
        ]
    }

    fn begin(s: &Stack) -> Transaction {
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        t.begin_statement().unwrap();
        t
    }

    #[test]
    fn entries_round_trip_and_truncated_entries_are_corrupt_not_panics() {
        let def = TableDef {
            oid: 16384,
            schema: "public".into(),
            name: "t".into(),
            tree: TreeId(7),
            schema_version: 3,
            columns: cols(),
            primary_key: vec![0],
            pk_name: "t_pkey".into(),
            indexes: vec![IndexDef {
                name: "t_name_idx".into(),
                oid: 16390,
                tree: TreeId(9),
                unique: true,
                columns: vec![
                    IndexColumn {
                        column: 2,
                        desc: true,
                    },
                    IndexColumn {
                        column: 1,
                        desc: false,
                    },
                ],
                constraint: true,
            }],
            checks: vec![CheckDef {
                name: "t_price_check".into(),
                expr: "price > 0".into(),
            }],
            foreign_keys: vec![ForeignKeyDef {
                name: "t_id_fkey".into(),
                columns: vec![0],
                ref_schema: "public".into(),
                ref_table: "p".into(),
                ref_columns: vec![1],
                on_delete: FkAction::Cascade,
                on_update: FkAction::SetDefault,
                match_full: true,
            }],
            referenced_by: vec![FkRef {
                schema: "public".into(),
                table: "c".into(),
                constraint: "c_t_fkey".into(),
            }],
        };
        let b = encode_entry(&def);
        assert_eq!(decode_entry("public", "t", &b).unwrap(), def);
        for cut in 0..b.len() {
            assert!(matches!(
                decode_entry("public", "t", &b[..cut]),
                Err(CatalogError::Corrupt(_))
            ));
        }
    }

    #[test]
    fn format_2_entries_decode_without_constraints() {
        let s = Stack::in_memory(64).unwrap();
        let cat = Catalog::open(&s).unwrap();
        let mut t = begin(&s);
        let def = cat
            .create_table(&mut t, "public", "t", cols(), &["id"])
            .unwrap();
        let mut b = encode_entry(&def);
        // format 3 appends three empty u16 counts
        assert_eq!(&b[b.len() - 6..], &[0u8; 6]);
        b.truncate(b.len() - 6);
        b[0] = 2;
        assert_eq!(decode_entry("public", "t", &b).unwrap(), def);
    }

    #[test]
    fn create_commit_survives_reopen_and_rollback_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let first;
        {
            let s = Stack::open_dir(dir.path(), 64).unwrap();
            let cat = Catalog::open(&s).unwrap();
            let mut t = begin(&s);
            first = cat
                .create_table(&mut t, "public", "t", cols(), &["id"])
                .unwrap();
            assert_eq!(first.oid, FIRST_OBJECT_ID);
            assert!(
                first.columns[0].not_null,
                "a primary key column is NOT NULL"
            );
            t.commit().unwrap();
            let mut t = begin(&s);
            cat.create_table(&mut t, "public", "gone", cols(), &[])
                .unwrap();
            t.rollback().unwrap();
            s.flush().unwrap();
        }
        let s = Stack::open_dir(dir.path(), 64).unwrap();
        let cat = Catalog::open(&s).unwrap();
        let mut t = begin(&s);
        assert_eq!(
            cat.table(&mut t, "public", "t").unwrap(),
            Some(first.clone())
        );
        assert_eq!(cat.table(&mut t, "public", "gone").unwrap(), None);
        let e = cat
            .create_table(&mut t, "public", "t", cols(), &[])
            .unwrap_err();
        assert_eq!(e.sqlstate(), SqlState::DUPLICATE_TABLE);
        assert_eq!(e.to_string(), "relation \"t\" already exists");
        let next = cat
            .create_table(&mut t, "public", "u", cols(), &[])
            .unwrap();
        assert!(next.oid > first.oid);
        cat.drop_table(&mut t, "public", "t").unwrap();
        t.begin_statement().unwrap();
        let e = cat.drop_table(&mut t, "public", "t").unwrap_err();
        assert_eq!(Error::from(e).sqlstate, SqlState::UNDEFINED_TABLE);
        t.commit().unwrap();
    }

    #[test]
    fn bad_key_columns_and_duplicate_columns_are_rejected() {
        let s = Stack::in_memory(64).unwrap();
        let cat = Catalog::open(&s).unwrap();
        let mut t = begin(&s);
        let e = cat
            .create_table(&mut t, "public", "t", cols(), &["nope"])
            .unwrap_err();
        assert_eq!(e.sqlstate(), SqlState::UNDEFINED_COLUMN);
        let mut c = cols();
        c.push(c[0].clone());
        let e = cat.create_table(&mut t, "public", "t", c, &[]).unwrap_err();
        assert_eq!(e.to_string(), "column \"id\" specified more than once");
    }
}
