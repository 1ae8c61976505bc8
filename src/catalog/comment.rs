//! Comments on objects (`COMMENT ON … IS '…'`): PostgreSQL's
//! `pg_description`, kept in the catalog tree so they are transactional
//! and durable like every other definition.
//!
//! ```text
//!   key:   'D' objoid (u32 BE) classoid (u32 BE) subid (u32 BE)
//!   value: the comment's UTF-8 text
//! ```
//!
//! `classoid` is the system relation the object lives in (`pg_class`
//! 1259, `pg_namespace` 2615), `subid` a column's number (0 for the
//! object itself). Object ids are never reused, so a comment left behind
//! by a dropped object is never shown for another; readers list only
//! comments whose object exists.

use std::ops::Bound;

use crate::txn::Transaction;

use super::table::{Catalog, CatalogError};

const PREFIX: u8 = b'D';

/// One comment: what it is on and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentDef {
    pub objoid: u32,
    pub classoid: u32,
    pub subid: i32,
    pub text: String,
}

fn key(objoid: u32, classoid: u32, subid: i32) -> Vec<u8> {
    let mut k = Vec::with_capacity(13);
    k.push(PREFIX);
    k.extend_from_slice(&objoid.to_be_bytes());
    k.extend_from_slice(&classoid.to_be_bytes());
    k.extend_from_slice(&(subid as u32).to_be_bytes());
    k
}

fn corrupt() -> CatalogError {
    CatalogError::Lower(crate::error::Error::internal("corrupt comment entry"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, CatalogError> {
    let bytes: [u8; 4] = b
        .get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(corrupt)?;
    Ok(u32::from_be_bytes(bytes))
}

impl Catalog {
    /// Sets (or with `None` removes) the comment on an object.
    pub fn set_comment(
        &self,
        txn: &mut Transaction,
        objoid: u32,
        classoid: u32,
        subid: i32,
        text: Option<&str>,
    ) -> Result<(), CatalogError> {
        let k = key(objoid, classoid, subid);
        let existing = txn.get(&self.tree, &k)?;
        match (text, existing) {
            (Some(t), Some(_)) => {
                txn.put(&self.tree, &k, t.as_bytes(), false)?;
            }
            (Some(t), None) => {
                txn.insert(&self.tree, &k, t.as_bytes())?;
            }
            (None, Some(_)) => {
                txn.delete(&self.tree, &k)?;
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Every comment, in (objoid, classoid, subid) order.
    pub fn comments(&self, txn: &mut Transaction) -> Result<Vec<CommentDef>, CatalogError> {
        let prefix = [PREFIX];
        let end = [PREFIX + 1];
        let entries: Vec<_> = txn
            .scan(
                &self.tree,
                Bound::Included(&prefix[..]),
                Bound::Excluded(&end[..]),
                false,
            )?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            if k.len() != 13 {
                return Err(corrupt());
            }
            out.push(CommentDef {
                objoid: u32_at(&k, 1)?,
                classoid: u32_at(&k, 5)?,
                subid: u32_at(&k, 9)? as i32,
                text: String::from_utf8(v).map_err(|_| corrupt())?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::txn::open::Stack;
    use crate::txn::{IsolationLevel, TxnOptions};

    #[test]
    fn comments_are_set_replaced_removed_and_rolled_back() {
        let stack = Stack::in_memory(64).unwrap();
        let cat = super::Catalog::open(&stack).unwrap();
        let begin = || {
            let mut t = stack
                .txns
                .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
                .unwrap();
            t.begin_statement().unwrap();
            t
        };
        let mut t = begin();
        cat.set_comment(&mut t, 20000, 1259, 0, Some("a table"))
            .unwrap();
        cat.set_comment(&mut t, 20000, 1259, 2, Some("a column"))
            .unwrap();
        t.commit().unwrap();

        let mut t = begin();
        cat.set_comment(&mut t, 20000, 1259, 0, Some("replaced"))
            .unwrap();
        cat.set_comment(&mut t, 20000, 1259, 2, None).unwrap();
        t.rollback().unwrap();

        let mut t = begin();
        let all = cat.comments(&mut t).unwrap();
        let shown: Vec<(i32, &str)> = all.iter().map(|c| (c.subid, c.text.as_str())).collect();
        assert_eq!(shown, vec![(0, "a table"), (2, "a column")]);
        cat.set_comment(&mut t, 20000, 1259, 0, Some("replaced"))
            .unwrap();
        cat.set_comment(&mut t, 20000, 1259, 2, None).unwrap();
        t.commit().unwrap();

        let mut t = begin();
        let all = cat.comments(&mut t).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].text, "replaced");
        assert_eq!((all[0].objoid, all[0].classoid), (20000, 1259));
    }
}
