//! Sequences in the catalog tree: their definitions (transactional, as
//! every relation) and their current values (not transactional).
//!
//! ```text
//!  catalog tree
//!    'Q' ++ key(schema, name)  -> sequence definition (MVCC, the DDL's transaction)
//!    'q' ++ oid (u32 BE)       -> state: last value (i64 LE), is_called (u8)
//!                                 written by short transactions of their own
//! ```
//!
//! Definition entry (little-endian):
//!
//! | offset | size | meaning |
//! |-------:|-----:|---------|
//! | 0 | 1 | entry format version (1) |
//! | 1 | 4 | object id |
//! | 5 | 4 | type OID (21, 23 or 20) |
//! | 9 | 8 × 5 | start, increment, minvalue, maxvalue, cache (i64) |
//! | 49 | 1 | flags: bit 0 CYCLE, bit 1 owned by a column |
//! | 50 | 4 + 2 | owning table's oid, column position (if bit 1) |
//!
//! The state is what a crash leaves: nextval hands out values from
//! memory and writes (and commits) a state `SEQ_LOG_VALUES` increments
//! ahead whenever it passes the last one written, as PostgreSQL's
//! SEQ_LOG_VALS does, so after a crash the sequence continues above every
//! value it handed out (a gap of at most that many values).
//!
//! Invariants: the state key of a sequence is written only by
//! transactions that write nothing else (so it never waits on a DDL
//! transaction's locks); a definition decodes or the catalog is corrupt.

use crate::txn::Transaction;
use crate::types::{DataType, Value};

use super::key::encode_key;
use super::table::{Catalog, CatalogError};

const SEQ_ENTRY_VERSION: u8 = 1;

/// One sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceDef {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// smallint, integer or bigint.
    pub data_type: DataType,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `OWNED BY table.column` (serial and identity columns): the table's
    /// oid and the column's position. Dropped with the table.
    pub owned_by: Option<(u32, u16)>,
}

pub(super) fn sequence_key(schema: &str, name: &str) -> Vec<u8> {
    let mut k = vec![b'Q'];
    k.extend(encode_key(&[
        Value::Text(schema.to_string()),
        Value::Text(name.to_string()),
    ]));
    k
}

fn state_key(oid: u32) -> Vec<u8> {
    let mut k = vec![b'q'];
    k.extend_from_slice(&oid.to_be_bytes());
    k
}

fn encode(d: &SequenceDef) -> Vec<u8> {
    let mut b = vec![SEQ_ENTRY_VERSION];
    b.extend_from_slice(&d.oid.to_le_bytes());
    b.extend_from_slice(&d.data_type.oid().to_le_bytes());
    for v in [d.start, d.increment, d.min, d.max, d.cache] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.push(u8::from(d.cycle) | (u8::from(d.owned_by.is_some()) << 1));
    if let Some((t, c)) = d.owned_by {
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&c.to_le_bytes());
    }
    b
}

fn decode(schema: &str, name: &str, b: &[u8]) -> Result<SequenceDef, CatalogError> {
    let corrupt = || CatalogError::Corrupt(format!("sequence \"{name}\" entry"));
    let get = |at: usize, n: usize| b.get(at..at + n).ok_or_else(corrupt);
    let u32_at = |at: usize| -> Result<u32, CatalogError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(get(at, 4)?);
        Ok(u32::from_le_bytes(a))
    };
    let i64_at = |at: usize| -> Result<i64, CatalogError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(get(at, 8)?);
        Ok(i64::from_le_bytes(a))
    };
    if get(0, 1)?[0] != SEQ_ENTRY_VERSION {
        return Err(corrupt());
    }
    let data_type = match u32_at(5)? {
        21 => DataType::Int2,
        23 => DataType::Int4,
        20 => DataType::Int8,
        _ => return Err(corrupt()),
    };
    let flags = get(49, 1)?[0];
    let (owned_by, len) = if flags & 2 != 0 {
        let mut c = [0u8; 2];
        c.copy_from_slice(get(54, 2)?);
        (Some((u32_at(50)?, u16::from_le_bytes(c))), 56)
    } else {
        (None, 50)
    };
    if b.len() != len {
        return Err(corrupt());
    }
    Ok(SequenceDef {
        oid: u32_at(1)?,
        schema: schema.to_string(),
        name: name.to_string(),
        data_type,
        start: i64_at(9)?,
        increment: i64_at(17)?,
        min: i64_at(25)?,
        max: i64_at(33)?,
        cache: i64_at(41)?,
        cycle: flags & 1 != 0,
        owned_by,
    })
}

impl Catalog {
    /// The sequence `schema.name` as `txn`'s statement sees it.
    pub fn sequence(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
    ) -> Result<Option<SequenceDef>, CatalogError> {
        match txn.get(&self.tree, &sequence_key(schema, name))? {
            Some(b) => Ok(Some(decode(schema, name, &b)?)),
            None => Ok(None),
        }
    }

    /// Creates a sequence (its `oid` is assigned here); 42P07 if a
    /// relation of that name exists.
    pub fn create_sequence(
        &self,
        txn: &mut Transaction,
        mut def: SequenceDef,
    ) -> Result<SequenceDef, CatalogError> {
        self.lock_schema(txn, &def.schema)?;
        if self.relation_exists(txn, &def.schema, &def.name)? {
            return Err(CatalogError::DuplicateTable(def.name.clone()));
        }
        def.oid = self.next_oid(txn)?;
        if !txn.insert(
            &self.tree,
            &sequence_key(&def.schema, &def.name),
            &encode(&def),
        )? {
            return Err(CatalogError::DuplicateTable(def.name.clone()));
        }
        Ok(def)
    }

    /// Writes a changed definition of an existing sequence (same name).
    pub fn update_sequence(
        &self,
        txn: &mut Transaction,
        def: &SequenceDef,
    ) -> Result<(), CatalogError> {
        if !txn.put(
            &self.tree,
            &sequence_key(&def.schema, &def.name),
            &encode(def),
            false,
        )? {
            return Err(CatalogError::UndefinedTable(def.name.clone()));
        }
        Ok(())
    }

    /// Drops a sequence's definition (its state stays: its oid is never
    /// handed out again once the drop commits).
    pub fn drop_sequence(
        &self,
        txn: &mut Transaction,
        schema: &str,
        name: &str,
    ) -> Result<SequenceDef, CatalogError> {
        let def = self
            .sequence(txn, schema, name)?
            .ok_or_else(|| CatalogError::UndefinedTable(name.to_string()))?;
        txn.delete(&self.tree, &sequence_key(schema, name))?;
        Ok(def)
    }

    /// The sequences of `schema` owned by a column of table `table_oid`.
    pub fn sequences_owned_by(
        &self,
        txn: &mut Transaction,
        schema: &str,
        table_oid: u32,
    ) -> Result<Vec<SequenceDef>, CatalogError> {
        let mut out = Vec::new();
        for name in self.relation_names(txn, b'Q', schema)? {
            if let Some(d) = self.sequence(txn, schema, &name)?
                && d.owned_by.is_some_and(|(t, _)| t == table_oid)
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// The stored state of sequence `oid`: (last value, is_called).
    pub fn sequence_state(
        &self,
        txn: &mut Transaction,
        oid: u32,
    ) -> Result<Option<(i64, bool)>, CatalogError> {
        match txn.get(&self.tree, &state_key(oid))? {
            None => Ok(None),
            Some(b) if b.len() == 9 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&b[..8]);
                Ok(Some((i64::from_le_bytes(a), b[8] != 0)))
            }
            Some(_) => Err(CatalogError::Corrupt(format!("state of sequence {oid}"))),
        }
    }

    /// Writes the state of sequence `oid` (`None`: removes it) in `txn`,
    /// which should write nothing else.
    pub fn set_sequence_state(
        &self,
        txn: &mut Transaction,
        oid: u32,
        state: Option<(i64, bool)>,
    ) -> Result<(), CatalogError> {
        let key = state_key(oid);
        let exists = txn.get(&self.tree, &key)?.is_some();
        match state {
            Some((last, called)) => {
                let mut b = last.to_le_bytes().to_vec();
                b.push(u8::from(called));
                if exists {
                    txn.put(&self.tree, &key, &b, false)?;
                } else {
                    txn.insert(&self.tree, &key, &b)?;
                }
            }
            None if exists => {
                txn.delete(&self.tree, &key)?;
            }
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_entries_round_trip_and_truncations_are_corrupt() {
        let mut d = SequenceDef {
            oid: 16400,
            schema: "public".into(),
            name: "s".into(),
            data_type: DataType::Int2,
            start: -5,
            increment: -2,
            min: i64::from(i16::MIN),
            max: -1,
            cache: 3,
            cycle: true,
            owned_by: None,
        };
        for owned in [None, Some((16384, 2))] {
            d.owned_by = owned;
            let b = encode(&d);
            assert_eq!(decode("public", "s", &b).unwrap(), d);
            for cut in 0..b.len() {
                assert!(decode("public", "s", &b[..cut]).is_err());
            }
        }
    }
}
