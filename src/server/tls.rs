//! Optional TLS (rustls, ring provider) from a PEM certificate chain and key.
//!
//! ```text
//!  SSLRequest ──▶ TLS configured?  yes: 'S', TLS handshake, then startup over TLS
//!                                  no:  'N', startup in the clear
//!  direct TLS (PostgreSQL 17 clients, ALPN "postgresql") ──▶ handshake at once
//! ```
//!
//! pgwire does the negotiation (`negotiate_tls`); this module only builds
//! the acceptor. Without `--tls-cert/--tls-key` the server has no acceptor
//! and answers every SSLRequest with 'N'.

use std::path::Path;
use std::sync::Arc;

use pgwire::tokio::tokio_rustls::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result, SqlState};

/// The ALPN protocol name PostgreSQL uses for direct TLS connections.
const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// A TLS acceptor for the server.
#[derive(Clone)]
pub struct Tls {
    pub(crate) acceptor: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls(..)")
    }
}

fn config_error(message: String) -> Error {
    Error::new(SqlState("F0000"), message)
}

impl Tls {
    /// Reads a certificate chain and its private key (PEM: PKCS#8, PKCS#1
    /// or SEC1) and builds the acceptor.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls> {
        let read = |p: &Path| {
            std::fs::read(p)
                .map_err(|e| config_error(format!("could not read \"{}\": {e}", p.display())))
        };
        let cert_pem = read(cert)?;
        let key_pem = read(key)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| {
                config_error(format!(
                    "could not load server certificate file \"{}\": {e}",
                    cert.display()
                ))
            })?;
        if chain.is_empty() {
            return Err(config_error(format!(
                "no certificate in \"{}\"",
                cert.display()
            )));
        }
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            config_error(format!(
                "could not load private key file \"{}\": {e}",
                key.display()
            ))
        })?;
        Tls::from_der(chain, key_der)
    }

    fn from_der(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Result<Tls> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(format!("TLS setup failed: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| config_error(format!("certificate and key do not fit: {e}")))?;
        config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_garbage_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let e = Tls::from_pem_files(&dir.path().join("none.pem"), &junk).unwrap_err();
        assert!(e.message.contains("could not read"), "{}", e.message);
        let e = Tls::from_pem_files(&junk, &junk).unwrap_err();
        assert!(e.message.contains("no certificate"), "{}", e.message);
    }
}
