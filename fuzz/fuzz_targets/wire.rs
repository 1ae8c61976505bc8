//! Arbitrary bytes to a `BackgroundServer` over TCP (the first byte picks
//! "after a valid startup" or "from the first byte"). Nothing may panic,
//! not even inside a connection task, and the server must keep answering.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arbordb::fuzzing::wire(data);
});
