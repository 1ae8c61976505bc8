//! Schemas (namespaces) stored in the catalog tree, through MVCC, so
//! CREATE SCHEMA and DROP SCHEMA commit and roll back with their
//! transaction.
//!
//! ```text
//!  catalog tree
//!    'N' ++ key(name text)  -> schema entry (below)
//!    'T' ++ key(schema, t)  -> table entries of the schema (table.rs)
//! ```
//!
//! | offset | size | meaning |
//! |-------:|-----:|---------|
//! | 0 | 1 | entry format version (1) |
//! | 1 | 4 | object id (u32 LE) |
//! | 5 | 1 | flags: bit 0 dropped (only for the built-in `public`) |
//!
//! `public` (oid 2200, as in PostgreSQL) exists without an entry in every
//! data file; dropping it writes an entry with the dropped flag, creating
//! it again clears it. `pg_catalog` (oid 11) always exists and holds no
//! stored relations.
//!
//! Invariants: a relation entry `'T'(s, t)` is only written while schema
//! `s` exists in the writing transaction's view, and the writer holds a
//! KEY SHARE lock on the schema entry, so a concurrent DROP SCHEMA waits
//! for it (and then sees the relation and refuses, or cascades).

use std::ops::Bound;

use crate::storage::btree::prefix_successor;
use crate::txn::Transaction;
use crate::txn::lock::{RowLockMode, WaitPolicy};
use crate::types::Value;

use super::key::encode_key;
use super::table::{Catalog, CatalogError};

/// The schema every database starts with.
pub const PUBLIC: &str = "public";
/// PostgreSQL's oid of `public`.
pub const PUBLIC_OID: u32 = 2200;
/// The system schema (always searched first; holds no stored tables).
pub const PG_CATALOG: &str = "pg_catalog";
pub const PG_CATALOG_OID: u32 = 11;

const SCHEMA_ENTRY_VERSION: u8 = 1;
const FLAG_DROPPED: u8 = 1;

fn schema_key(name: &str) -> Vec<u8> {
    let mut k = vec![b'N'];
    k.extend(encode_key(&[Value::Text(name.to_string())]));
    k
}

/// The key prefix of every relation entry of kind `kind` ('T', 'I', 'Q') in `schema`.
pub(super) fn relation_prefix(kind: u8, schema: &str) -> Vec<u8> {
    let mut k = vec![kind];
    k.extend(encode_key(&[Value::Text(schema.to_string())]));
    k
}

/// One schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDef {
    pub name: String,
    pub oid: u32,
}

fn decode_schema(name: &str, b: &[u8]) -> Result<Option<SchemaDef>, CatalogError> {
    match b {
        [SCHEMA_ENTRY_VERSION, o0, o1, o2, o3, flags] => {
            Ok((flags & FLAG_DROPPED == 0).then(|| SchemaDef {
                name: name.to_string(),
                oid: u32::from_le_bytes([*o0, *o1, *o2, *o3]),
            }))
        }
        _ => Err(CatalogError::Corrupt(format!(
            "schema \"{name}\" entry has {} bytes",
            b.len()
        ))),
    }
}

fn encode_schema(oid: u32, dropped: bool) -> Vec<u8> {
    let mut b = vec![SCHEMA_ENTRY_VERSION];
    b.extend_from_slice(&oid.to_le_bytes());
    b.push(if dropped { FLAG_DROPPED } else { 0 });
    b
}

impl Catalog {
    /// The schema `name` as `txn`'s statement sees it.
    pub fn schema(
        &self,
        txn: &mut Transaction,
        name: &str,
    ) -> Result<Option<SchemaDef>, CatalogError> {
        if name == PG_CATALOG {
            return Ok(Some(SchemaDef {
                name: name.to_string(),
                oid: PG_CATALOG_OID,
            }));
        }
        match txn.get(&self.tree, &schema_key(name))? {
            Some(b) => decode_schema(name, &b),
            None if name == PUBLIC => Ok(Some(SchemaDef {
                name: name.to_string(),
                oid: PUBLIC_OID,
            })),
            None => Ok(None),
        }
    }

    /// Whether schema `name` exists for `txn`.
    pub fn schema_exists(&self, txn: &mut Transaction, name: &str) -> Result<bool, CatalogError> {
        Ok(self.schema(txn, name)?.is_some())
    }

    /// 3F000 unless `schema` exists; a KEY SHARE lock on its entry keeps a
    /// concurrent DROP SCHEMA from removing it under a new relation.
    pub fn lock_schema(&self, txn: &mut Transaction, schema: &str) -> Result<(), CatalogError> {
        if !self.schema_exists(txn, schema)? {
            return Err(CatalogError::UndefinedSchema(schema.to_string()));
        }
        if schema != PG_CATALOG && !txn.is_read_only() {
            txn.lock_row(
                &self.tree,
                &schema_key(schema),
                RowLockMode::KeyShare,
                WaitPolicy::Block,
                "pg_namespace",
            )?;
            // The DROP we waited for may have committed.
            if !self.schema_exists(txn, schema)? {
                return Err(CatalogError::UndefinedSchema(schema.to_string()));
            }
        }
        Ok(())
    }

    /// CREATE SCHEMA: 42P06 if it exists.
    pub fn create_schema(
        &self,
        txn: &mut Transaction,
        name: &str,
    ) -> Result<SchemaDef, CatalogError> {
        if self.schema_exists(txn, name)? {
            return Err(CatalogError::DuplicateSchema(name.to_string()));
        }
        let key = schema_key(name);
        let written = if name == PUBLIC {
            // `public` was dropped: its entry carries the dropped flag.
            txn.put(&self.tree, &key, &encode_schema(PUBLIC_OID, false), false)?
        } else {
            let oid = self.next_oid(txn)?;
            let ok = txn.insert(&self.tree, &key, &encode_schema(oid, false))?;
            if ok {
                return Ok(SchemaDef {
                    name: name.to_string(),
                    oid,
                });
            }
            false
        };
        if !written {
            return Err(CatalogError::DuplicateSchema(name.to_string()));
        }
        Ok(SchemaDef {
            name: name.to_string(),
            oid: PUBLIC_OID,
        })
    }

    /// DROP SCHEMA of an empty schema (the caller drops its relations
    /// first for CASCADE); 3F000 if there is none.
    pub fn drop_schema(&self, txn: &mut Transaction, name: &str) -> Result<(), CatalogError> {
        if !self.schema_exists(txn, name)? {
            return Err(CatalogError::UndefinedSchema(name.to_string()));
        }
        let key = schema_key(name);
        if name == PUBLIC {
            let stored = txn.get(&self.tree, &key)?.is_some();
            let entry = encode_schema(PUBLIC_OID, true);
            let ok = if stored {
                txn.put(&self.tree, &key, &entry, false)?
            } else {
                txn.insert(&self.tree, &key, &entry)?
            };
            if !ok {
                return Err(CatalogError::UndefinedSchema(name.to_string()));
            }
        } else if !txn.delete(&self.tree, &key)? {
            return Err(CatalogError::UndefinedSchema(name.to_string()));
        }
        Ok(())
    }

    /// Every stored schema `txn` sees, `public` included unless dropped,
    /// in name order (`pg_catalog` is not stored and not listed).
    pub fn schemas(&self, txn: &mut Transaction) -> Result<Vec<SchemaDef>, CatalogError> {
        let prefix = [b'N'];
        let end = [b'N' + 1];
        let entries: Vec<_> = txn
            .scan(
                &self.tree,
                Bound::Included(&prefix[..]),
                Bound::Excluded(&end[..]),
                false,
            )?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(entries.len() + 1);
        let mut public_stored = false;
        for (k, v) in entries {
            let rest = k
                .get(1..)
                .ok_or_else(|| CatalogError::Corrupt("schema key is short".into()))?;
            let name = decode_name(rest)?;
            public_stored |= name == PUBLIC;
            if let Some(def) = decode_schema(&name, &v)? {
                out.push(def);
            }
        }
        if !public_stored {
            out.push(SchemaDef {
                name: PUBLIC.to_string(),
                oid: PUBLIC_OID,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Names of the relations of kind `kind` ('T' tables, 'Q' sequences)
    /// in `schema`, in name order.
    pub fn relation_names(
        &self,
        txn: &mut Transaction,
        kind: u8,
        schema: &str,
    ) -> Result<Vec<String>, CatalogError> {
        let prefix = relation_prefix(kind, schema);
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
        let mut names = Vec::with_capacity(entries.len());
        for (k, _) in entries {
            let rest = k
                .get(prefix.len()..)
                .ok_or_else(|| CatalogError::Corrupt("relation key is short".into()))?;
            names.push(decode_name(rest)?);
        }
        Ok(names)
    }
}

/// Reads one key-encoded text (`01`, bytes with `00` as `00 FF`, `00 00`).
fn decode_name(b: &[u8]) -> Result<String, CatalogError> {
    Ok(decode_name_prefix(b)?.0)
}

/// Reads the key-encoded text at the start of `b`: the text and how many
/// bytes of `b` it took.
pub(super) fn decode_name_prefix(b: &[u8]) -> Result<(String, usize), CatalogError> {
    let corrupt = || CatalogError::Corrupt("relation name in key".into());
    let [super::key::PRESENT, rest @ ..] = b else {
        return Err(corrupt());
    };
    let mut out = Vec::with_capacity(rest.len());
    let mut i = 0;
    loop {
        match (rest.get(i), rest.get(i + 1)) {
            (Some(0), Some(0)) => break,
            (Some(0), Some(0xFF)) => {
                out.push(0);
                i += 2;
            }
            (Some(&c), _) if c != 0 => {
                out.push(c);
                i += 1;
            }
            _ => return Err(corrupt()),
        }
    }
    // the PRESENT marker, the text, the 00 00 terminator
    let used = 1 + i + 2;
    Ok((String::from_utf8(out).map_err(|_| corrupt())?, used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ColumnDef;
    use crate::txn::open::Stack;
    use crate::txn::{IsolationLevel, TxnOptions};
    use crate::types::DataType;

    fn begin(s: &Stack) -> Transaction {
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        t.begin_statement().unwrap();
        t
    }

    #[test]
    fn schemas_are_transactional_and_public_can_be_dropped_and_recreated() {
        let s = Stack::in_memory(64).unwrap();
        let cat = Catalog::open(&s).unwrap();
        let mut t = begin(&s);
        assert!(cat.schema_exists(&mut t, PUBLIC).unwrap());
        assert!(!cat.schema_exists(&mut t, "s").unwrap());
        let def = cat.create_schema(&mut t, "s").unwrap();
        assert!(def.oid >= super::super::table::FIRST_OBJECT_ID);
        t.begin_statement().unwrap();
        let e = cat.create_schema(&mut t, "s").unwrap_err();
        assert_eq!(e.to_string(), "schema \"s\" already exists");
        t.rollback().unwrap();
        let mut t = begin(&s);
        assert!(!cat.schema_exists(&mut t, "s").unwrap(), "rolled back");
        cat.create_schema(&mut t, "s").unwrap();
        t.begin_statement().unwrap();
        cat.create_table(
            &mut t,
            "s",
            "b\0x",
            vec![ColumnDef::new("a", DataType::Int4)],
            &[],
        )
        .unwrap();
        t.begin_statement().unwrap();
        cat.create_table(
            &mut t,
            "s",
            "a",
            vec![ColumnDef::new("a", DataType::Int4)],
            &[],
        )
        .unwrap();
        t.begin_statement().unwrap();
        assert_eq!(
            cat.relation_names(&mut t, b'T', "s").unwrap(),
            vec!["a".to_string(), "b\0x".to_string()]
        );
        assert!(
            cat.relation_names(&mut t, b'T', "public")
                .unwrap()
                .is_empty()
        );
        cat.drop_schema(&mut t, PUBLIC).unwrap();
        t.begin_statement().unwrap();
        assert!(!cat.schema_exists(&mut t, PUBLIC).unwrap());
        assert_eq!(
            cat.drop_schema(&mut t, PUBLIC).unwrap_err().sqlstate(),
            crate::error::SqlState("3F000")
        );
        cat.create_schema(&mut t, PUBLIC).unwrap();
        t.begin_statement().unwrap();
        assert_eq!(cat.schema(&mut t, PUBLIC).unwrap().unwrap().oid, PUBLIC_OID);
        t.commit().unwrap();
    }
}
