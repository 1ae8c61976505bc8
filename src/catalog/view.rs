//! Views stored in the catalog tree, through MVCC, so CREATE VIEW and
//! DROP VIEW commit and roll back with their transaction and survive a
//! restart like tables do.
//!
//! ```text
//!  catalog tree
//!    'V' ++ key(schema text, name text)  -> view entry (below)
//! ```
//!
//! A view is kept as the SQL text of its query, the schemas its names were
//! resolved in when it was created, its output columns (names and types,
//! fixed at CREATE time as PostgreSQL fixes them) and the relations it
//! reads. Each statement that reads the view binds the text again
//! (`sql/view.rs`).
//!
//! View entry (little-endian):
//!
//! | offset | size | meaning |
//! |-------:|-----:|---------|
//! | 0 | 1 | entry format version (1) |
//! | 1 | 4 | object id |
//! | 5 | 2 | column count n |
//! | 7 | … | n columns: name (u16 length, UTF-8), type (below) |
//! | … | 4 + … | query: length (u32), SQL text (UTF-8) |
//! | … | 2 + … | search path: count (u16), each schema name (u16 length, UTF-8) |
//! | … | 2 + … | dependencies: count (u16), each: kind (u8, 0 table, 1 view), schema, name (u16 length, UTF-8 each), column count (u16), column names (u16 length, UTF-8 each) |
//!
//! A type is its OID (u32) and typmod (i32); an array is OID `u32::MAX`
//! followed by its element type.
//!
//! Invariants: views share the relation namespace with tables, indexes and
//! sequences (`Catalog::relation_exists` sees them); every relation a view
//! names in its dependencies existed when the view was written, and DROP
//! of a table or view first drops (CASCADE) or refuses for (RESTRICT) the
//! views that depend on it; an entry decodes or the catalog is corrupt.

use std::ops::Bound;

use crate::storage::btree::prefix_successor;
use crate::txn::Transaction;
use crate::types::{DataType, Value};

use super::key::encode_key;
use super::table::{Catalog, CatalogError};

const VIEW_ENTRY_VERSION: u8 = 1;
const ARRAY_TYPE: u32 = u32::MAX;

/// What kind of relation a view depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepKind {
    Table,
    View,
}

/// A relation a view reads, and (for a table) the columns it may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewDep {
    pub kind: DepKind,
    pub schema: String,
    pub name: String,
    /// Columns of a table the view's query uses (by name).
    pub columns: Vec<String>,
}

/// One output column of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewColumn {
    pub name: String,
    pub data_type: DataType,
}

/// A view as the catalog stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewDef {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub columns: Vec<ViewColumn>,
    /// The query, as SQL text (`SELECT …`, `VALUES …`).
    pub query: String,
    /// The schemas unqualified names in `query` are looked up in, in
    /// order (the `search_path` in effect at CREATE VIEW).
    pub search_path: Vec<String>,
    pub depends: Vec<ViewDep>,
}

impl ViewDef {
    /// Whether this view reads relation `schema.name`.
    pub fn depends_on(&self, schema: &str, name: &str) -> bool {
        self.depends
            .iter()
            .any(|d| d.schema == schema && d.name == name)
    }

    /// Whether this view uses column `column` of table `schema.name`.
    pub fn uses_column(&self, schema: &str, name: &str, column: &str) -> bool {
        self.depends.iter().any(|d| {
            d.kind == DepKind::Table
                && d.schema == schema
                && d.name == name
                && d.columns.iter().any(|c| c == column)
        })
    }
}

pub(super) fn view_key(schema: &str, name: &str) -> Vec<u8> {
    let mut k = vec![b'V'];
    k.extend(encode_key(&[
        Value::Text(schema.to_string()),
        Value::Text(name.to_string()),
    ]));
    k
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u16).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

fn put_type(b: &mut Vec<u8>, t: &DataType) {
    if let DataType::Array(elem) = t {
        b.extend_from_slice(&ARRAY_TYPE.to_le_bytes());
        put_type(b, elem);
        return;
    }
    b.extend_from_slice(&t.oid().to_le_bytes());
    b.extend_from_slice(&super::table::typmod(t).to_le_bytes());
}

fn encode(v: &ViewDef) -> Vec<u8> {
    let mut b = vec![VIEW_ENTRY_VERSION];
    b.extend_from_slice(&v.oid.to_le_bytes());
    b.extend_from_slice(&(v.columns.len() as u16).to_le_bytes());
    for c in &v.columns {
        put_str(&mut b, &c.name);
        put_type(&mut b, &c.data_type);
    }
    b.extend_from_slice(&(v.query.len() as u32).to_le_bytes());
    b.extend_from_slice(v.query.as_bytes());
    b.extend_from_slice(&(v.search_path.len() as u16).to_le_bytes());
    for s in &v.search_path {
        put_str(&mut b, s);
    }
    b.extend_from_slice(&(v.depends.len() as u16).to_le_bytes());
    for d in &v.depends {
        b.push(match d.kind {
            DepKind::Table => 0,
            DepKind::View => 1,
        });
        put_str(&mut b, &d.schema);
        put_str(&mut b, &d.name);
        b.extend_from_slice(&(d.columns.len() as u16).to_le_bytes());
        for c in &d.columns {
            put_str(&mut b, c);
        }
    }
    b
}

/// A bounds-checked reader over a view entry.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    name: &'a str,
}

impl<'a> Reader<'a> {
    fn corrupt(&self) -> CatalogError {
        CatalogError::Corrupt(format!(
            "view \"{}\" entry ends at byte {}",
            self.name, self.at
        ))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], CatalogError> {
        let end = self.at.checked_add(n).ok_or_else(|| self.corrupt())?;
        let s = self.b.get(self.at..end).ok_or_else(|| self.corrupt())?;
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, CatalogError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, CatalogError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, CatalogError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn text(&mut self, n: usize) -> Result<String, CatalogError> {
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| {
            CatalogError::Corrupt(format!(
                "view \"{}\" entry has text that is not UTF-8",
                self.name
            ))
        })
    }
    fn short_text(&mut self) -> Result<String, CatalogError> {
        let n = self.u16()?;
        self.text(usize::from(n))
    }
    fn data_type(&mut self, depth: usize) -> Result<DataType, CatalogError> {
        let oid = self.u32()?;
        if oid == ARRAY_TYPE {
            if depth > 8 {
                return Err(self.corrupt());
            }
            return Ok(DataType::Array(Box::new(self.data_type(depth + 1)?)));
        }
        let typmod = self.u32()? as i32;
        match oid {
            26 => Ok(DataType::Oid),
            705 => Ok(DataType::Unknown),
            _ => super::table::type_from(oid, typmod).ok_or_else(|| {
                CatalogError::Corrupt(format!(
                    "view \"{}\" has a column of type OID {oid}",
                    self.name
                ))
            }),
        }
    }
}

fn decode(schema: &str, name: &str, b: &[u8]) -> Result<ViewDef, CatalogError> {
    let mut r = Reader { b, at: 0, name };
    let version = r.u8()?;
    if version != VIEW_ENTRY_VERSION {
        return Err(CatalogError::Corrupt(format!(
            "view \"{name}\" has entry format {version}"
        )));
    }
    let oid = r.u32()?;
    let n = r.u16()?;
    let mut columns = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let cname = r.short_text()?;
        let data_type = r.data_type(0)?;
        columns.push(ViewColumn {
            name: cname,
            data_type,
        });
    }
    let qlen = r.u32()? as usize;
    let query = r.text(qlen)?;
    let np = r.u16()?;
    let mut search_path = Vec::with_capacity(usize::from(np));
    for _ in 0..np {
        search_path.push(r.short_text()?);
    }
    let nd = r.u16()?;
    let mut depends = Vec::with_capacity(usize::from(nd));
    for _ in 0..nd {
        let kind = match r.u8()? {
            0 => DepKind::Table,
            1 => DepKind::View,
            k => {
                return Err(CatalogError::Corrupt(format!(
                    "view \"{name}\" has a dependency of kind {k}"
                )));
            }
        };
        let dschema = r.short_text()?;
        let dname = r.short_text()?;
        let nc = r.u16()?;
        let mut cols = Vec::with_capacity(usize::from(nc));
        for _ in 0..nc {
            cols.push(r.short_text()?);
        }
        depends.push(ViewDep {
            kind,
            schema: dschema,
            name: dname,
            columns: cols,
        });
    }
    if r.at != b.len() {
        return Err(CatalogError::Corrupt(format!(
            "view \"{name}\" entry has {} trailing bytes",
            b.len() - r.at
        )));
    }
    Ok(ViewDef {
        oid,
        schema: schema.to_string(),
        name: name.to_string(),
        columns,
        query,
        search_path,
        depends,
    })
}

/// Splits a `'V'` key back into (schema, name).
fn split_key(k: &[u8]) -> Result<(String, String), CatalogError> {
    let corrupt = || CatalogError::Corrupt("view key".into());
    let rest = k.get(1..).ok_or_else(corrupt)?;
    let (schema, used) = super::schema::decode_name_prefix(rest)?;
    let rest = rest.get(used..).ok_or_else(corrupt)?;
    let (name, _) = super::schema::decode_name_prefix(rest)?;
    Ok((schema, name))
}

impl Catalog {
    /// The view `schema.name` as `txn`'s statement sees it.
    pub fn view(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
    ) -> Result<Option<ViewDef>, CatalogError> {
        match txn.get(&self.tree, &view_key(schema, name))? {
            Some(b) => Ok(Some(decode(schema, name, &b)?)),
            None => Ok(None),
        }
    }

    /// Creates a view (its `oid` is assigned here); 42P07 if a relation
    /// of that name exists in its schema.
    pub fn create_view(
        &self,
        txn: &mut Transaction,
        mut def: ViewDef,
    ) -> Result<ViewDef, CatalogError> {
        self.lock_schema(txn, &def.schema)?;
        if self.relation_exists(txn, &def.schema, &def.name)? {
            return Err(CatalogError::DuplicateTable(def.name.clone()));
        }
        def.oid = self.next_oid(txn)?;
        if !txn.insert(&self.tree, &view_key(&def.schema, &def.name), &encode(&def))? {
            return Err(CatalogError::DuplicateTable(def.name.clone()));
        }
        Ok(def)
    }

    /// Writes a changed definition of an existing view (same schema and
    /// name): CREATE OR REPLACE VIEW, a dependency renamed.
    pub fn update_view(&self, txn: &mut Transaction, def: &ViewDef) -> Result<(), CatalogError> {
        if !txn.put(
            &self.tree,
            &view_key(&def.schema, &def.name),
            &encode(def),
            false,
        )? {
            return Err(CatalogError::UndefinedTable(def.name.clone()));
        }
        Ok(())
    }

    /// Drops a view's entry; 42P01 if there is none. The caller has dealt
    /// with the views that depend on it.
    pub fn drop_view(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
    ) -> Result<ViewDef, CatalogError> {
        let def = self
            .view(txn, schema, name)?
            .ok_or_else(|| CatalogError::UndefinedTable(name.to_string()))?;
        txn.delete(&self.tree, &view_key(schema, name))?;
        Ok(def)
    }

    /// ALTER VIEW … RENAME TO: `new` (same schema, another name) replaces
    /// `old`'s entry; 42P07 if a relation called `new.name` exists.
    pub fn rename_view(
        &self,
        txn: &mut Transaction,
        old: &ViewDef,
        new: &ViewDef,
    ) -> Result<(), CatalogError> {
        if self.relation_exists(txn, &new.schema, &new.name)? {
            return Err(CatalogError::DuplicateTable(new.name.clone()));
        }
        if !txn.delete(&self.tree, &view_key(&old.schema, &old.name))? {
            return Err(CatalogError::UndefinedTable(old.name.clone()));
        }
        if !txn.insert(&self.tree, &view_key(&new.schema, &new.name), &encode(new))? {
            return Err(CatalogError::DuplicateTable(new.name.clone()));
        }
        Ok(())
    }

    /// Every view of the database (all schemas), in (schema, name) order:
    /// for dependency checks and for `pg_catalog` (`pg_class` rows of
    /// relkind 'v', `pg_views`, `\dv`).
    pub fn views(&self, txn: &mut Transaction) -> Result<Vec<ViewDef>, CatalogError> {
        let prefix = [b'V'];
        let end = prefix_successor(&prefix);
        let entries: Vec<_> = txn
            .scan(
                &self.tree,
                Bound::Included(&prefix[..]),
                match &end {
                    Some(e) => Bound::Excluded(&e[..]),
                    None => Bound::Unbounded,
                },
                false,
            )?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let (schema, name) = split_key(&k)?;
            out.push(decode(&schema, &name, &v)?);
        }
        Ok(out)
    }

    /// The views that read relation `schema.name` directly.
    pub fn views_depending_on(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
    ) -> Result<Vec<ViewDef>, CatalogError> {
        let mut out: Vec<ViewDef> = self
            .views(txn)?
            .into_iter()
            .filter(|v| v.depends_on(schema, name))
            .collect();
        out.sort_by_key(|v| v.oid);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;
    use crate::txn::open::Stack;
    use crate::txn::{IsolationLevel, TxnOptions};

    fn begin(s: &Stack) -> Transaction {
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        t.begin_statement().unwrap();
        t
    }

    fn sample() -> ViewDef {
        ViewDef {
            oid: 16400,
            schema: "s\0x".into(),
            name: "v".into(),
            columns: vec![
                ViewColumn {
                    name: "a".into(),
                    data_type: DataType::Numeric(Some((10, 2))),
                },
                ViewColumn {
                    name: "b".into(),
                    data_type: DataType::Array(Box::new(DataType::Varchar(Some(3)))),
                },
                ViewColumn {
                    name: "c".into(),
                    data_type: DataType::Oid,
                },
            ],
            query: "SELECT a, b FROM t".into(),
            search_path: vec!["s\0x".into(), "public".into()],
            depends: vec![
                ViewDep {
                    kind: DepKind::Table,
                    schema: "public".into(),
                    name: "t".into(),
                    columns: vec!["a".into(), "b".into()],
                },
                ViewDep {
                    kind: DepKind::View,
                    schema: "public".into(),
                    name: "w".into(),
                    columns: vec![],
                },
            ],
        }
    }

    #[test]
    fn entries_round_trip_and_truncations_are_corrupt_not_panics() {
        let v = sample();
        let b = encode(&v);
        assert_eq!(decode(&v.schema, "v", &b).unwrap(), v);
        for cut in 0..b.len() {
            assert!(matches!(
                decode(&v.schema, "v", &b[..cut]),
                Err(CatalogError::Corrupt(_))
            ));
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(decode(&v.schema, "v", &longer).is_err());
    }

    #[test]
    fn views_are_transactional_share_the_namespace_and_list_by_key() {
        let s = Stack::in_memory(64).unwrap();
        let cat = Catalog::open(&s).unwrap();
        let mut t = begin(&s);
        let mut v = sample();
        v.schema = "public".into();
        let made = cat.create_view(&mut t, v.clone()).unwrap();
        assert!(made.oid >= super::super::table::FIRST_OBJECT_ID);
        t.begin_statement().unwrap();
        assert!(cat.relation_exists(&mut t, "public", "v").unwrap());
        let e = cat
            .create_table(
                &mut t,
                "public",
                "v",
                vec![super::super::ColumnDef::new("a", DataType::Int4)],
                &[],
            )
            .unwrap_err();
        assert_eq!(e.sqlstate(), SqlState::DUPLICATE_TABLE);
        t.rollback().unwrap();

        let mut t = begin(&s);
        assert_eq!(
            cat.view(&mut t, "public", "v").unwrap(),
            None,
            "rolled back"
        );
        let a = cat.create_view(&mut t, v.clone()).unwrap();
        let mut w = v.clone();
        w.name = "a\0w".into();
        w.depends.clear();
        t.begin_statement().unwrap();
        let w = cat.create_view(&mut t, w).unwrap();
        t.commit().unwrap();

        let mut t = begin(&s);
        let all = cat.views(&mut t).unwrap();
        assert_eq!(all, vec![w.clone(), a.clone()]);
        let deps = cat.views_depending_on(&mut t, "public", "t").unwrap();
        assert_eq!(deps, vec![a.clone()]);
        cat.drop_view(&mut t, "public", "v").unwrap();
        t.begin_statement().unwrap();
        assert_eq!(
            cat.drop_view(&mut t, "public", "v").unwrap_err().sqlstate(),
            SqlState::UNDEFINED_TABLE
        );
        t.commit().unwrap();
    }
}
