//! Roles stored in the catalog tree, through MVCC transactions, so CREATE /
//! ALTER / DROP ROLE commit and roll back with the transaction that ran them;
//! and the password verifiers authentication checks against.
//!
//! ```text
//!  catalog tree (TreeId 1)
//!    'O'                      -> next object id (shared with tables)
//!    'R' ++ key(name text)    -> role entry (below)
//! ```
//!
//! Role entry (little-endian):
//!
//! | offset | size | meaning |
//! |-------:|-----:|---------|
//! | 0 | 1 | entry format version (1) |
//! | 1 | 4 | object id (from 16384, as PostgreSQL's user objects) |
//! | 5 | 1 | attributes: bit 0 SUPERUSER, 1 LOGIN, 2 CREATEDB, 3 CREATEROLE, 4 INHERIT, 5 REPLICATION, 6 BYPASSRLS |
//! | 6 | 2 | name length n |
//! | 8 | n | the role name (UTF-8; the key holds it too, in key encoding) |
//! | 8+n | 2 | password length p (0: no password) |
//! | 10+n | p | the stored password as PostgreSQL's `rolpassword` shows it (UTF-8) |
//!
//! A stored password is never the password itself. It is one of
//!
//! ```text
//!  SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>     (base64 parts, RFC 5802)
//!    SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations)
//!    StoredKey      = SHA-256(HMAC(SaltedPassword, "Client Key"))
//!    ServerKey      = HMAC(SaltedPassword, "Server Key")
//!  md5<32 hex digits>                                             md5(password ++ role name)
//! ```
//!
//! exactly as PostgreSQL 15 stores them (`password_encryption =
//! scram-sha-256`), so a verifier copied from PostgreSQL's `pg_authid` works
//! here and the reverse. A SCRAM verifier lets the server check a client's
//! proof without being able to produce one.
//!
//! Invariants: role names are unique (the key); an entry decodes or the
//! catalog is corrupt (XX001), never a panic; the first role is created by
//! [`bootstrap_superuser`] only when no role exists.

use std::fmt;
use std::num::NonZeroU32;
use std::ops::Bound;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SecureRandom;
use ring::{digest, hmac, pbkdf2};

use crate::error::Error;
use crate::txn::open::Stack;
use crate::txn::{IsolationLevel, Transaction, TxnOptions};
use crate::types::Value;

use super::key::encode_key;
use super::table::{Catalog, CatalogError};

const ENTRY_VERSION: u8 = 1;
const ROLE_PREFIX: u8 = b'R';

/// PostgreSQL's `scram_iterations` default.
pub const SCRAM_ITERATIONS: u32 = 4096;
/// Bytes of random salt per verifier (PostgreSQL's SCRAM_DEFAULT_SALT_LEN).
pub const SCRAM_SALT_BYTES: usize = 16;
/// SHA-256 output length: StoredKey, ServerKey and a client proof.
pub const SCRAM_KEY_BYTES: usize = 32;
/// The longest stored password accepted (an entry's length field is u16).
const STORED_PASSWORD_MAX_BYTES: usize = 1024;

const ATTR_SUPERUSER: u8 = 1 << 0;
const ATTR_LOGIN: u8 = 1 << 1;
const ATTR_CREATEDB: u8 = 1 << 2;
const ATTR_CREATEROLE: u8 = 1 << 3;
const ATTR_INHERIT: u8 = 1 << 4;
const ATTR_REPLICATION: u8 = 1 << 5;
const ATTR_BYPASSRLS: u8 = 1 << 6;

/// A SCRAM-SHA-256 verifier (what `pg_authid.rolpassword` holds).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: [u8; SCRAM_KEY_BYTES],
    pub server_key: [u8; SCRAM_KEY_BYTES],
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are as good as a password hash: never in logs.
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .field("salt", &BASE64.encode(&self.salt))
            .finish_non_exhaustive()
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; SCRAM_KEY_BYTES] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; SCRAM_KEY_BYTES];
    out.copy_from_slice(tag.as_ref());
    out
}

fn sha256(data: &[u8]) -> [u8; SCRAM_KEY_BYTES] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; SCRAM_KEY_BYTES];
    out.copy_from_slice(d.as_ref());
    out
}

/// Fills `buf` from the operating system's random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), Error> {
    ring::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| Error::internal("could not generate random bytes"))
}

impl ScramVerifier {
    /// A verifier for `password` with a fresh random salt.
    pub fn new(password: &str) -> Result<ScramVerifier, Error> {
        let mut salt = vec![0u8; SCRAM_SALT_BYTES];
        random_bytes(&mut salt)?;
        Ok(ScramVerifier::with_salt(password, salt, SCRAM_ITERATIONS))
    }

    /// The verifier for `password` with the given salt and iteration count.
    /// The password is normalized with SASLprep first, or used as it is when
    /// it cannot be (as PostgreSQL does).
    pub fn with_salt(password: &str, salt: Vec<u8>, iterations: u32) -> ScramVerifier {
        let normalized = stringprep::saslprep(password)
            .map(|p| p.into_owned())
            .unwrap_or_else(|_| password.to_owned());
        let mut salted = [0u8; SCRAM_KEY_BYTES];
        let rounds = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            &salt,
            normalized.as_bytes(),
            &mut salted,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        ScramVerifier {
            iterations: rounds.get(),
            salt,
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(s: &str) -> Option<ScramVerifier> {
        let rest = s.strip_prefix("SCRAM-SHA-256$")?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let iterations: u32 = iterations.parse().ok().filter(|&i| i > 0)?;
        let salt = BASE64.decode(salt).ok().filter(|s| !s.is_empty())?;
        let stored_key = BASE64.decode(stored).ok()?.try_into().ok()?;
        let server_key = BASE64.decode(server).ok()?.try_into().ok()?;
        Some(ScramVerifier {
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }

    /// Whether `password` is the one this verifier was made from.
    pub fn matches(&self, password: &str) -> bool {
        let other = ScramVerifier::with_salt(password, self.salt.clone(), self.iterations);
        // Both keys are derived from the password; comparing both is exact.
        other.stored_key == self.stored_key && other.server_key == self.server_key
    }
}

impl fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key)
        )
    }
}

/// How a role's password is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredPassword {
    Scram(ScramVerifier),
    /// `md5` followed by 32 lower-case hex digits: md5(password ++ role name).
    Md5(String),
}

fn is_md5_hash(s: &str) -> bool {
    s.len() == 35
        && s.starts_with("md5")
        && s[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl StoredPassword {
    /// What `PASSWORD '…'` stores: a value that already is a verifier or an
    /// md5 hash is kept as it is (as PostgreSQL does); anything else is a
    /// password and gets a new SCRAM verifier.
    pub fn from_sql(password: &str) -> Result<StoredPassword, Error> {
        if let Some(v) = ScramVerifier::parse(password) {
            return Ok(StoredPassword::Scram(v));
        }
        if is_md5_hash(password) {
            return Ok(StoredPassword::Md5(password.to_owned()));
        }
        Ok(StoredPassword::Scram(ScramVerifier::new(password)?))
    }

    fn parse(s: &str) -> Option<StoredPassword> {
        if let Some(v) = ScramVerifier::parse(s) {
            Some(StoredPassword::Scram(v))
        } else if is_md5_hash(s) {
            Some(StoredPassword::Md5(s.to_owned()))
        } else {
            None
        }
    }
}

impl fmt::Display for StoredPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredPassword::Scram(v) => write!(f, "{v}"),
            StoredPassword::Md5(h) => f.write_str(h),
        }
    }
}

/// A role as the catalog stores it (`pg_authid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDef {
    pub oid: u32,
    pub name: String,
    pub superuser: bool,
    pub login: bool,
    pub create_db: bool,
    pub create_role: bool,
    pub inherit: bool,
    pub replication: bool,
    pub bypass_rls: bool,
    pub password: Option<StoredPassword>,
}

impl RoleDef {
    /// A role with PostgreSQL's defaults (`CREATE ROLE name`: NOLOGIN,
    /// NOSUPERUSER, INHERIT, no password); `oid` is assigned on creation.
    pub fn new(name: &str) -> RoleDef {
        RoleDef {
            oid: 0,
            name: name.to_owned(),
            superuser: false,
            login: false,
            create_db: false,
            create_role: false,
            inherit: true,
            replication: false,
            bypass_rls: false,
            password: None,
        }
    }

    fn attributes(&self) -> u8 {
        [
            (self.superuser, ATTR_SUPERUSER),
            (self.login, ATTR_LOGIN),
            (self.create_db, ATTR_CREATEDB),
            (self.create_role, ATTR_CREATEROLE),
            (self.inherit, ATTR_INHERIT),
            (self.replication, ATTR_REPLICATION),
            (self.bypass_rls, ATTR_BYPASSRLS),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit)
    }
}

fn role_key(name: &str) -> Vec<u8> {
    let mut k = vec![ROLE_PREFIX];
    k.extend(encode_key(&[Value::Text(name.to_owned())]));
    k
}

fn encode_entry(r: &RoleDef) -> Result<Vec<u8>, CatalogError> {
    let password = r.password.as_ref().map(ToString::to_string);
    let password = password.as_deref().unwrap_or("");
    if password.len() > STORED_PASSWORD_MAX_BYTES {
        return Err(CatalogError::Lower(Error::new(
            crate::error::SqlState::PROGRAM_LIMIT_EXCEEDED,
            format!("password of role \"{}\" is too long", r.name),
        )));
    }
    // Names are identifiers (at most 63 bytes in PostgreSQL); the binder
    // truncates them, so this holds for every name that reaches here.
    assert!(r.name.len() <= usize::from(u16::MAX), "role name too long");
    let mut b = vec![ENTRY_VERSION];
    b.extend_from_slice(&r.oid.to_le_bytes());
    b.push(r.attributes());
    b.extend_from_slice(&(r.name.len() as u16).to_le_bytes());
    b.extend_from_slice(r.name.as_bytes());
    b.extend_from_slice(&(password.len() as u16).to_le_bytes());
    b.extend_from_slice(password.as_bytes());
    Ok(b)
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
            .get(self.at..self.at.saturating_add(n))
            .ok_or_else(|| CatalogError::Corrupt(format!("role entry ends at byte {}", self.at)))?;
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, CatalogError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, CatalogError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, CatalogError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn text(&mut self, what: &str) -> Result<&'a str, CatalogError> {
        let len = usize::from(self.u16()?);
        std::str::from_utf8(self.take(len)?)
            .map_err(|_| CatalogError::Corrupt(format!("role entry: {what} is not UTF-8")))
    }
}

fn decode_entry(b: &[u8]) -> Result<RoleDef, CatalogError> {
    let mut r = Reader { b, at: 0 };
    let version = r.u8()?;
    if version != ENTRY_VERSION {
        return Err(CatalogError::Corrupt(format!(
            "role entry has format {version}"
        )));
    }
    let oid = r.u32()?;
    let attrs = r.u8()?;
    let name = r.text("name")?.to_owned();
    let stored = r.text("password")?;
    if r.at != b.len() {
        return Err(CatalogError::Corrupt(format!(
            "role \"{name}\" entry has {} trailing bytes",
            b.len() - r.at
        )));
    }
    let password = if stored.is_empty() {
        None
    } else {
        Some(StoredPassword::parse(stored).ok_or_else(|| {
            CatalogError::Corrupt(format!("role \"{name}\": password is not a verifier"))
        })?)
    };
    Ok(RoleDef {
        oid,
        name,
        superuser: attrs & ATTR_SUPERUSER != 0,
        login: attrs & ATTR_LOGIN != 0,
        create_db: attrs & ATTR_CREATEDB != 0,
        create_role: attrs & ATTR_CREATEROLE != 0,
        inherit: attrs & ATTR_INHERIT != 0,
        replication: attrs & ATTR_REPLICATION != 0,
        bypass_rls: attrs & ATTR_BYPASSRLS != 0,
        password,
    })
}

/// Decodes the entry stored under `name`'s key; the names must agree.
fn decode_named(name: &str, b: &[u8]) -> Result<RoleDef, CatalogError> {
    let role = decode_entry(b)?;
    if role.name != name {
        return Err(CatalogError::Corrupt(format!(
            "role entry under \"{name}\" names \"{}\"",
            role.name
        )));
    }
    Ok(role)
}

impl Catalog {
    /// The role `name` as `txn`'s current statement sees it.
    pub fn role(&self, txn: &mut Transaction, name: &str) -> Result<Option<RoleDef>, CatalogError> {
        match txn.get(&self.tree, &role_key(name))? {
            Some(b) => Ok(Some(decode_named(name, &b)?)),
            None => Ok(None),
        }
    }

    /// Every role, in name order (byte order of the names).
    pub fn roles(&self, txn: &mut Transaction) -> Result<Vec<RoleDef>, CatalogError> {
        let start = [ROLE_PREFIX];
        let end = [ROLE_PREFIX + 1];
        let mut roles = Vec::new();
        for row in txn.scan(
            &self.tree,
            Bound::Included(&start[..]),
            Bound::Excluded(&end[..]),
            false,
        )? {
            let (_key, value) = row?;
            roles.push(decode_entry(&value)?);
        }
        Ok(roles)
    }

    /// Creates `role` (its `oid` is assigned here); 42710 if one of that
    /// name exists.
    pub fn create_role(
        &self,
        txn: &mut Transaction,
        role: RoleDef,
    ) -> Result<RoleDef, CatalogError> {
        if self.role(txn, &role.name)?.is_some() {
            return Err(CatalogError::DuplicateRole(role.name));
        }
        let mut role = role;
        role.oid = self.next_oid(txn)?;
        if !txn.insert(&self.tree, &role_key(&role.name), &encode_entry(&role)?)? {
            return Err(CatalogError::DuplicateRole(role.name));
        }
        Ok(role)
    }

    /// Replaces the attributes and password of the role `role.name`; 42704
    /// if there is none.
    pub fn update_role(&self, txn: &mut Transaction, role: &RoleDef) -> Result<(), CatalogError> {
        let current = self
            .role(txn, &role.name)?
            .ok_or_else(|| CatalogError::UndefinedRole(role.name.clone()))?;
        let mut role = role.clone();
        role.oid = current.oid;
        if !txn.put(
            &self.tree,
            &role_key(&role.name),
            &encode_entry(&role)?,
            false,
        )? {
            return Err(CatalogError::UndefinedRole(role.name));
        }
        Ok(())
    }

    /// Renames a role, keeping its oid; 42704 if `from` does not exist,
    /// 42710 if `to` does.
    pub fn rename_role(
        &self,
        txn: &mut Transaction,
        from: &str,
        to: &str,
    ) -> Result<RoleDef, CatalogError> {
        let mut role = self
            .role(txn, from)?
            .ok_or_else(|| CatalogError::UndefinedRole(from.to_owned()))?;
        if self.role(txn, to)?.is_some() {
            return Err(CatalogError::DuplicateRole(to.to_owned()));
        }
        txn.delete(&self.tree, &role_key(from))?;
        role.name = to.to_owned();
        if !txn.insert(&self.tree, &role_key(to), &encode_entry(&role)?)? {
            return Err(CatalogError::DuplicateRole(to.to_owned()));
        }
        Ok(role)
    }

    /// Drops a role; 42704 if there is none.
    pub fn drop_role(&self, txn: &mut Transaction, name: &str) -> Result<RoleDef, CatalogError> {
        let role = self
            .role(txn, name)?
            .ok_or_else(|| CatalogError::UndefinedRole(name.to_owned()))?;
        txn.delete(&self.tree, &role_key(name))?;
        Ok(role)
    }
}

fn begin(stack: &Stack) -> Result<Transaction, CatalogError> {
    let mut txn = stack
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))?;
    txn.begin_statement()?;
    Ok(txn)
}

/// Looks a role up in a transaction of its own (for authentication, which
/// runs before the session has one).
pub fn lookup_role(stack: &Stack, name: &str) -> Result<Option<RoleDef>, Error> {
    let catalog = Catalog::open(stack)?;
    let mut txn = begin(stack)?;
    let role = catalog.role(&mut txn, name)?;
    txn.commit().map_err(CatalogError::from)?;
    Ok(role)
}

/// Creates the first role, a superuser that may log in, when the database
/// has no role yet (its first start). Returns whether it created one; a
/// database that has roles is left as it is, whatever `name` says.
pub fn bootstrap_superuser(
    stack: &Stack,
    name: &str,
    password: Option<&str>,
) -> Result<bool, Error> {
    bootstrap_superusers(stack, &[name], password)
}

/// Like [`bootstrap_superuser`], for several names at once (all created in
/// one transaction, all with the same password): the server run without an
/// explicit name creates the operating-system user and `postgres`, so that
/// both `psql` and `psql -U postgres` find a role, as they do on a fresh
/// PostgreSQL cluster that `initdb` made.
pub fn bootstrap_superusers(
    stack: &Stack,
    names: &[&str],
    password: Option<&str>,
) -> Result<bool, Error> {
    let catalog = Catalog::open(stack)?;
    let mut txn = begin(stack)?;
    if !catalog.roles(&mut txn)?.is_empty() || names.is_empty() {
        txn.rollback().map_err(CatalogError::from)?;
        return Ok(false);
    }
    let mut seen: Vec<&str> = Vec::new();
    for name in names.iter().copied() {
        if seen.contains(&name) {
            continue;
        }
        if !seen.is_empty() {
            // A statement does not see its own writes (the oid counter among
            // them): each role is a statement of its own.
            txn.begin_statement().map_err(CatalogError::from)?;
        }
        seen.push(name);
        let mut role = RoleDef::new(name);
        role.superuser = true;
        role.login = true;
        role.create_db = true;
        role.create_role = true;
        role.replication = true;
        role.bypass_rls = true;
        role.password = password.map(StoredPassword::from_sql).transpose()?;
        catalog.create_role(&mut txn, role)?;
    }
    txn.commit().map_err(CatalogError::from)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    #[test]
    fn verifier_matches_the_one_postgres_stores_for_the_same_salt() {
        // From PostgreSQL 15: CREATE ROLE r1 PASSWORD 'x'; SELECT rolpassword ...
        let pg = "SCRAM-SHA-256$4096:GwTwmpTsnMBXpqF2fIfmrw==$w4PcCTjd4xtx1SZ0EbEORXB36Hp5D2IK05fnVMblH4k=:uIM4m3a0Zhc54V5FjK7bzIh3T/4vy+jx7OLUEcMt0cQ=";
        let parsed = ScramVerifier::parse(pg).unwrap();
        let ours = ScramVerifier::with_salt("x", parsed.salt.clone(), 4096);
        assert_eq!(ours, parsed);
        assert_eq!(ours.to_string(), pg);
        assert!(parsed.matches("x"));
        assert!(!parsed.matches("y"));
    }

    #[test]
    fn new_verifiers_are_salted_and_never_hold_the_password() {
        let a = ScramVerifier::new("secret").unwrap();
        let b = ScramVerifier::new("secret").unwrap();
        assert_ne!(a.salt, b.salt, "each verifier has its own salt");
        assert_eq!(a.salt.len(), SCRAM_SALT_BYTES);
        assert!(a.matches("secret") && b.matches("secret"));
        assert!(!a.to_string().contains("secret"));
        assert!(!format!("{a:?}").contains(&BASE64.encode(a.stored_key)));
    }

    #[test]
    fn bad_verifier_text_does_not_parse() {
        for s in [
            "",
            "SCRAM-SHA-256$",
            "SCRAM-SHA-256$0:AAAA$AAAA:AAAA",
            "SCRAM-SHA-256$4096:AAAA$AAAA:AAAA",
            "SCRAM-SHA-256$4096:!!$w4PcCTjd4xtx1SZ0EbEORXB36Hp5D2IK05fnVMblH4k=:uIM4m3a0Zhc54V5FjK7bzIh3T/4vy+jx7OLUEcMt0cQ=",
            "md5abc",
        ] {
            assert_eq!(ScramVerifier::parse(s), None, "{s}");
        }
    }

    #[test]
    fn password_clause_keeps_verifiers_and_hashes_and_hashes_the_rest() {
        let v = ScramVerifier::new("pw").unwrap().to_string();
        assert_eq!(StoredPassword::from_sql(&v).unwrap().to_string(), v);
        let md5 = "md5e5e28ae3ac3ce6ebc7f8e4c2a4c9d5a1";
        assert_eq!(
            StoredPassword::from_sql(md5).unwrap(),
            StoredPassword::Md5(md5.into())
        );
        match StoredPassword::from_sql("md5 is not a hash").unwrap() {
            StoredPassword::Scram(v) => assert!(v.matches("md5 is not a hash")),
            other => panic!("expected a SCRAM verifier, got {other:?}"),
        }
    }

    #[test]
    fn entries_round_trip_and_truncated_entries_are_corrupt_not_panics() {
        let mut role = RoleDef::new("alice");
        role.oid = 16390;
        role.login = true;
        role.password = Some(StoredPassword::from_sql("pw").unwrap());
        let b = encode_entry(&role).unwrap();
        assert_eq!(decode_named("alice", &b).unwrap(), role);
        for cut in 0..b.len() {
            assert!(matches!(
                decode_entry(&b[..cut]),
                Err(CatalogError::Corrupt(_))
            ));
        }
        // A password that is no verifier, and an entry under another name.
        let mut bad = b.clone();
        let at = 1 + 4 + 1 + 2 + "alice".len() + 2;
        bad[at] = b'X';
        assert!(matches!(decode_entry(&bad), Err(CatalogError::Corrupt(_))));
        assert!(matches!(
            decode_named("bob", &b),
            Err(CatalogError::Corrupt(_))
        ));
    }

    fn txn(s: &Stack) -> Transaction {
        begin(s).unwrap()
    }

    #[test]
    fn bootstrap_creates_every_name_once_in_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let s = Stack::open_dir(dir.path(), 64).unwrap();
        assert!(bootstrap_superusers(&s, &["root", "postgres", "root"], None).unwrap());
        let cat = Catalog::open(&s).unwrap();
        let mut t = txn(&s);
        let roles = cat.roles(&mut t).unwrap();
        assert_eq!(roles.len(), 2, "{roles:?}");
        assert!(roles.iter().all(|r| r.superuser && r.login));
        t.rollback().unwrap();
    }

    #[test]
    fn roles_commit_roll_back_rename_and_drop_with_postgres_errors() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Stack::open_dir(dir.path(), 64).unwrap();
            assert!(bootstrap_superuser(&s, "admin", Some("pw")).unwrap());
            assert!(!bootstrap_superuser(&s, "other", None).unwrap());
            assert!(!bootstrap_superusers(&s, &["x", "postgres"], None).unwrap());
            let cat = Catalog::open(&s).unwrap();
            let mut t = txn(&s);
            cat.create_role(&mut t, RoleDef::new("gone")).unwrap();
            t.rollback().unwrap();
            let mut t = txn(&s);
            let bob = cat.create_role(&mut t, RoleDef::new("bob")).unwrap();
            t.begin_statement().unwrap();
            let e = cat.create_role(&mut t, RoleDef::new("bob")).unwrap_err();
            assert_eq!(e.sqlstate(), SqlState::DUPLICATE_OBJECT);
            assert_eq!(e.to_string(), "role \"bob\" already exists");
            t.commit().unwrap();
            let mut t = txn(&s);
            let renamed = cat.rename_role(&mut t, "bob", "carol").unwrap();
            assert_eq!(renamed.oid, bob.oid);
            t.begin_statement().unwrap();
            let e = cat.rename_role(&mut t, "bob", "dave").unwrap_err();
            assert_eq!(Error::from(e).sqlstate, SqlState::UNDEFINED_OBJECT);
            let e = cat.rename_role(&mut t, "carol", "admin").unwrap_err();
            assert_eq!(e.sqlstate(), SqlState::DUPLICATE_OBJECT);
            t.commit().unwrap();
            s.flush().unwrap();
        }
        let s = Stack::open_dir(dir.path(), 64).unwrap();
        let admin = lookup_role(&s, "admin").unwrap().unwrap();
        assert!(admin.superuser && admin.login);
        match &admin.password {
            Some(StoredPassword::Scram(v)) => assert!(v.matches("pw")),
            other => panic!("expected a SCRAM verifier, got {other:?}"),
        }
        assert_eq!(lookup_role(&s, "gone").unwrap(), None);
        let cat = Catalog::open(&s).unwrap();
        let mut t = txn(&s);
        let names: Vec<String> = cat
            .roles(&mut t)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["admin", "carol"]);
        let mut carol = cat.role(&mut t, "carol").unwrap().unwrap();
        assert!(!carol.login && carol.inherit);
        carol.login = true;
        cat.update_role(&mut t, &carol).unwrap();
        t.begin_statement().unwrap();
        assert!(cat.role(&mut t, "carol").unwrap().unwrap().login);
        cat.drop_role(&mut t, "carol").unwrap();
        t.begin_statement().unwrap();
        let e = cat.drop_role(&mut t, "carol").unwrap_err();
        assert_eq!(e.to_string(), "role \"carol\" does not exist");
        assert_eq!(e.sqlstate(), SqlState::UNDEFINED_OBJECT);
        t.commit().unwrap();
    }
}
