//! The PostgreSQL-wire server: pgwire handlers over [`crate::Session`].
//!
//! Owns: listening, startup/authentication, the simple and extended query
//! protocols, ParameterStatus / ReadyForQuery / ErrorResponse, shutdown.
//! Never: executes SQL itself; every statement goes through the embedded API
//! on a blocking thread, and no lock is held across an `.await`.
