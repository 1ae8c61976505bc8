//! Client authentication: which method a connection must pass, and the
//! SCRAM-SHA-256 (RFC 5802, RFC 7677) and md5 exchanges, checked against the
//! roles in the catalog (`catalog::role`).
//!
//! ```text
//!  client                                   server
//!  StartupMessage(user) ─────────────────▶  method for the peer (AuthMethod)
//!                                           look the role up (own transaction)
//!  trust:                     ◀───────────  role missing → FATAL 28000
//!  scram:                     ◀───────────  AuthenticationSASL [SCRAM-SHA-256]
//!  SASLInitialResponse(client-first) ────▶
//!                             ◀───────────  AuthenticationSASLContinue(server-first: nonce, salt, i)
//!  SASLResponse(client-final + proof) ───▶  HMAC(StoredKey, AuthMessage) ⊕ proof → ClientKey,
//!                                           SHA-256(ClientKey) = StoredKey?
//!                             ◀───────────  AuthenticationSASLFinal(server signature)
//!                                           | FATAL 28P01 password authentication failed
//!  md5 (only for md5-stored passwords, --auth md5):
//!                             ◀───────────  AuthenticationMD5Password(salt)
//!  PasswordMessage("md5" ++ md5(md5(password ++ user) ++ salt)) ──▶ compare
//! ```
//!
//! As in PostgreSQL, a SCRAM exchange for a role that does not exist, has no
//! password or has only an md5 hash runs to the end against a mock verifier
//! (its salt derived from the name and a per-server key, so it is the same
//! on every attempt) and fails with 28P01: the answer never tells whether the
//! role exists. Under trust, an unknown role is FATAL 28000 `role "x" does
//! not exist`. A role without LOGIN is refused after authentication (28000).
//!
//! Invariants: nothing a client sends is executed before authentication
//! succeeded; a connection in authentication accepts only password messages.

use std::net::IpAddr;
use std::str::FromStr;

use pgwire::api::auth::sasl::scram::{
    ScramSecret, ScramServerAuth, ScramServerAuthWaitingForClientFinal,
};

use crate::catalog::role::{self, RoleDef, ScramVerifier, StoredPassword};

/// The SASL mechanism offered.
pub(crate) const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// How clients authenticate (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// Trust for loopback peers, SCRAM-SHA-256 for everyone else.
    #[default]
    TrustLoopback,
    /// Trust for every peer (a non-loopback listen address also needs
    /// `--allow-remote-trust`).
    Trust,
    /// SCRAM-SHA-256 for every peer.
    Scram,
    /// md5 for roles whose password is stored as an md5 hash, SCRAM-SHA-256
    /// for the others (PostgreSQL's `md5` method).
    Md5,
}

impl FromStr for AuthMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<AuthMethod, String> {
        match s.to_ascii_lowercase().as_str() {
            "trust" => Ok(AuthMethod::Trust),
            "scram" | "scram-sha-256" => Ok(AuthMethod::Scram),
            "md5" => Ok(AuthMethod::Md5),
            "default" | "trust-loopback" => Ok(AuthMethod::TrustLoopback),
            _ => Err(format!(
                "invalid authentication method \"{s}\": use trust, scram or md5"
            )),
        }
    }
}

/// Whether a peer counts as local: loopback, IPv4-mapped IPv6 loopback included.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// What one connection must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Trust,
    Scram,
    /// md5 if the role's password is an md5 hash, else SCRAM.
    Md5OrScram,
}

impl AuthMethod {
    pub(crate) fn check_for(self, peer: IpAddr) -> Check {
        match self {
            AuthMethod::TrustLoopback if is_loopback(peer) => Check::Trust,
            AuthMethod::TrustLoopback | AuthMethod::Scram => Check::Scram,
            AuthMethod::Trust => Check::Trust,
            AuthMethod::Md5 => Check::Md5OrScram,
        }
    }
}

/// The secret a SCRAM exchange checks against, and whether it is the role's
/// own (a mock one can never succeed).
pub(crate) struct ScramTarget {
    pub secret: ScramSecret,
    pub genuine: bool,
    /// Why the exchange must fail, for the server log (PostgreSQL's DETAIL).
    pub failure_detail: Option<String>,
}

fn secret_of(v: &ScramVerifier) -> ScramSecret {
    ScramSecret::Verifier {
        salt: v.salt.clone(),
        iterations: v.iterations as usize,
        stored_key: v.stored_key.to_vec(),
        server_key: v.server_key.to_vec(),
    }
}

/// A verifier no password matches, the same for the same name on one server.
fn mock_secret(mock_key: &[u8; 32], user: &str) -> ScramSecret {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, mock_key);
    let derive = |label: &str| -> Vec<u8> {
        let mut data = label.as_bytes().to_vec();
        data.push(0);
        data.extend_from_slice(user.as_bytes());
        ring::hmac::sign(&key, &data).as_ref().to_vec()
    };
    let mut salt = derive("salt");
    salt.truncate(role::SCRAM_SALT_BYTES);
    ScramSecret::Verifier {
        salt,
        iterations: role::SCRAM_ITERATIONS as usize,
        stored_key: derive("stored"),
        server_key: derive("server"),
    }
}

/// The SCRAM target for `user`, whose role lookup gave `role`.
pub(crate) fn scram_target(mock_key: &[u8; 32], user: &str, role: Option<&RoleDef>) -> ScramTarget {
    let failure = match role {
        None => format!("Role \"{user}\" does not exist."),
        Some(r) => match &r.password {
            Some(StoredPassword::Scram(v)) => {
                return ScramTarget {
                    secret: secret_of(v),
                    genuine: true,
                    failure_detail: None,
                };
            }
            Some(StoredPassword::Md5(_)) => {
                format!("User \"{user}\" does not have a valid SCRAM secret.")
            }
            None => format!("User \"{user}\" has no password assigned."),
        },
    };
    ScramTarget {
        secret: mock_secret(mock_key, user),
        genuine: false,
        failure_detail: Some(failure),
    }
}

/// The md5 hash stored for `role`, when the md5 exchange applies to it.
pub(crate) fn md5_hash(role: Option<&RoleDef>) -> Option<&str> {
    match role?.password.as_ref()? {
        StoredPassword::Md5(h) => Some(h),
        StoredPassword::Scram(_) => None,
    }
}

/// What the client must send for an md5 challenge with `salt`, given the
/// stored `md5…` hash of password ++ user.
pub(crate) fn md5_response(stored: &str, salt: &[u8; 4]) -> String {
    let mut data = stored.as_bytes().get(3..).unwrap_or_default().to_vec();
    data.extend_from_slice(salt);
    format!("md5{:x}", md5::compute(data))
}

/// The SCRAM server side, with pgwire's message parsing and proof check.
pub(crate) fn scram_server() -> ScramServerAuth {
    ScramServerAuth::new()
}

/// How far a connection's authentication has got.
pub(crate) enum Stage {
    /// AuthenticationSASL sent; the client-first message is next.
    ScramFirst(ScramTarget),
    /// server-first sent; the client-final message (with the proof) is next.
    ScramFinal {
        waiting: Box<ScramServerAuthWaitingForClientFinal>,
        genuine: bool,
        failure_detail: Option<String>,
    },
    /// AuthenticationMD5Password sent.
    Md5 { expected: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_method_trusts_loopback_only() {
        let m = AuthMethod::default();
        assert_eq!(m.check_for("127.0.0.1".parse().unwrap()), Check::Trust);
        assert_eq!(m.check_for("::1".parse().unwrap()), Check::Trust);
        assert_eq!(
            m.check_for("::ffff:127.0.0.1".parse().unwrap()),
            Check::Trust
        );
        assert_eq!(m.check_for("10.0.0.1".parse().unwrap()), Check::Scram);
        assert_eq!(
            m.check_for("::ffff:10.0.0.1".parse().unwrap()),
            Check::Scram
        );
        assert_eq!(
            AuthMethod::Scram.check_for("127.0.0.1".parse().unwrap()),
            Check::Scram
        );
        assert_eq!(
            AuthMethod::Trust.check_for("10.0.0.1".parse().unwrap()),
            Check::Trust
        );
        assert_eq!("SCRAM-SHA-256".parse::<AuthMethod>(), Ok(AuthMethod::Scram));
        assert_eq!("md5".parse::<AuthMethod>(), Ok(AuthMethod::Md5));
        assert!("password".parse::<AuthMethod>().is_err());
    }

    #[test]
    fn md5_response_is_postgres_formula() {
        // md5(md5("secret" ++ "alice") ++ salt), as libpq computes it.
        let stored = format!("md5{:x}", md5::compute("secretalice"));
        let salt = [1u8, 2, 3, 4];
        let inner = format!("{:x}", md5::compute("secretalice"));
        let mut data = inner.into_bytes();
        data.extend_from_slice(&salt);
        assert_eq!(
            md5_response(&stored, &salt),
            format!("md5{:x}", md5::compute(data))
        );
    }

    #[test]
    fn mock_secrets_are_stable_per_name_and_never_genuine() {
        let key = [7u8; 32];
        let a = scram_target(&key, "ghost", None);
        let b = scram_target(&key, "ghost", None);
        let c = scram_target(&key, "other", None);
        let salt = |t: &ScramTarget| match &t.secret {
            ScramSecret::Verifier { salt, .. } => salt.clone(),
            ScramSecret::SaltedPassword { salt, .. } => salt.clone(),
        };
        assert!(!a.genuine);
        assert_eq!(
            salt(&a),
            salt(&b),
            "the same name always gets the same salt"
        );
        assert_ne!(salt(&a), salt(&c));
        assert_eq!(salt(&a).len(), role::SCRAM_SALT_BYTES);
        let mut r = RoleDef::new("nopw");
        assert!(!scram_target(&key, "nopw", Some(&r)).genuine);
        r.password = Some(StoredPassword::from_sql("pw").unwrap());
        assert!(scram_target(&key, "nopw", Some(&r)).genuine);
    }
}
