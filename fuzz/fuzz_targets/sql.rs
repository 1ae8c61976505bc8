//! Arbitrary bytes, as UTF-8 (lossily), as SQL through `Session::execute`
//! and `Session::prepare` on a fresh in-memory database. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arbordb::fuzzing::sql(data);
});
