//! Helpers shared by the integration tests (each `tests/*.rs` file is its own
//! crate and includes this module with `mod common;`).
//!
//! - [`slt`]: sqllogictest adapters — the embedded [`arbordb::Session`] and a
//!   tokio-postgres client over the wire — and the driver that runs every
//!   file under `sqllogictest/` against one target, collecting failures.
//! - [`wire`]: an in-process server asking for SCRAM passwords and
//!   tokio-postgres clients of it that collect notices and notifications.
//!
//! Not every test file uses every helper, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod slt;
pub mod wire;
