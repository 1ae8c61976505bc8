//! The stack depth guard: PostgreSQL's `check_stack_depth()` for the
//! stages that recurse over a statement's trees.
//!
//! Binding, optimizing, pruning and running a statement recurse over its
//! expression and plan trees, so a deep enough tree (`1 + 1 + … + 1` with
//! thousands of terms, a join of hundreds of tables) would overflow the
//! thread's stack — which Rust cannot unwind from: the whole process
//! aborts. Each recursive step calls [`check`] first. It compares the
//! current stack position (the address of a local) with this thread's
//! lowest safe address and fails the statement with 54001 `stack depth
//! limit exceeded`, as PostgreSQL does, while [`STACK_MARGIN_BYTES`] are
//! still free.
//!
//! ```text
//!   high ┌──────────────────────┐  thread start
//!        │ caller, Session      │
//!        │ bind / plan / run    │  grows down
//!        │ …                    │
//!        ├──────────────────────┤  limit: check() fails below this
//!        │ STACK_MARGIN_BYTES   │  (what runs between two checks)
//!   low  ├──────────────────────┤  lowest usable address
//!        │ guard page           │
//!        └──────────────────────┘
//! ```
//!
//! Where the bounds come from: on Linux, the line of `/proc/self/maps`
//! holding the current stack position (a thread's stack is one mapping
//! above its guard page; the main thread's `[stack]` may grow down to
//! `RLIMIT_STACK`, read from `/proc/self/limits`), read once per thread.
//! Elsewhere, or when those files cannot be read, the thread is assumed to
//! have [`FALLBACK_STACK_BYTES`] below the position of its first check.
//!
//! Invariant: a recursion that [`check`]s at every level never uses more
//! than the thread's stack less the margin before it fails cleanly.
//! Owns: the bounds and the check. Never: grows a stack or spawns threads
//! (threads that run statements choose their size: [`STATEMENT_STACK_BYTES`]).

use std::cell::Cell;

use crate::error::{Error, Result};

/// Left free below the limit for the work between two checks (a regex
/// compiled, a sort, a function's own frames; debug builds' frames are
/// several times larger than release builds').
pub const STACK_MARGIN_BYTES: usize = 256 * 1024;

/// Assumed below the first check of a thread whose stack cannot be found.
pub const FALLBACK_STACK_BYTES: usize = 1024 * 1024;

/// The stack size of threads arbordb starts to run statements on (the
/// server's runtime and blocking pool, the conformance runner): eight times
/// Rust's 2 MiB default, as PostgreSQL's 8 MiB `ulimit -s` is four times its
/// `max_stack_depth`. Only the pages touched are ever committed.
pub const STATEMENT_STACK_BYTES: usize = 16 * 1024 * 1024;

/// The main thread's stack when `RLIMIT_STACK` is unlimited or unknown.
const MAIN_STACK_DEFAULT_BYTES: usize = 8 * 1024 * 1024;

thread_local! {
    /// The lowest address `check` accepts on this thread (0: not known yet).
    static LIMIT: Cell<usize> = const { Cell::new(0) };
}

/// The current stack position.
#[inline(always)]
fn position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

/// Fails with 54001 when the stack is nearly full.
#[inline]
pub fn check() -> Result<()> {
    let here = position();
    let limit = LIMIT.with(|l| {
        let v = l.get();
        if v != 0 {
            return v;
        }
        let v = find_limit(here);
        l.set(v);
        v
    });
    if here < limit {
        return Err(exceeded());
    }
    Ok(())
}

/// The bytes of stack left above the limit (0 when past it).
pub fn remaining_bytes() -> usize {
    let here = position();
    if check().is_err() {
        return 0;
    }
    here - LIMIT.with(Cell::get)
}

/// PostgreSQL's error for a statement nested too deeply to run.
pub fn exceeded() -> Error {
    Error::new(
        super::parse::STATEMENT_TOO_COMPLEX,
        "stack depth limit exceeded",
    )
    .with_hint("The statement nests too deeply (expressions, joins or subqueries); simplify it.")
}

fn find_limit(here: usize) -> usize {
    let low = stack_low(here).unwrap_or_else(|| here.saturating_sub(FALLBACK_STACK_BYTES));
    // At least one address is always acceptable, so a thread whose stack
    // is already past the margin still fails cleanly rather than looping.
    low.saturating_add(STACK_MARGIN_BYTES).max(1)
}

/// The lowest usable address of the stack holding `here`.
#[cfg(target_os = "linux")]
fn stack_low(here: usize) -> Option<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let (start, end, main) = maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        (start <= here && here < end).then(|| (start, end, line.ends_with("[stack]")))
    })?;
    if !main {
        return Some(start);
    }
    // The main thread's mapping grows on demand, down to the rlimit.
    let size = main_stack_rlimit().unwrap_or(MAIN_STACK_DEFAULT_BYTES);
    Some(end.saturating_sub(size))
}

#[cfg(not(target_os = "linux"))]
fn stack_low(_here: usize) -> Option<usize> {
    None
}

/// `RLIMIT_STACK`'s soft limit, from `/proc/self/limits`
/// (`Max stack size  8388608  unlimited  bytes`).
#[cfg(target_os = "linux")]
fn main_stack_rlimit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max stack size"))?;
    let soft = line
        .trim_start_matches("Max stack size")
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recurse(n: usize) -> Result<usize> {
        check()?;
        // A frame of a few KiB, as the binder's are in debug builds.
        let pad = std::hint::black_box([0u8; 4096]);
        Ok(recurse(n + 1)? + usize::from(pad[n % 4096]))
    }

    #[test]
    fn unbounded_recursion_fails_with_54001_instead_of_overflowing() {
        for size in [256 * 1024 * 4, 2 * 1024 * 1024, 8 * 1024 * 1024] {
            let err = std::thread::Builder::new()
                .stack_size(size)
                .spawn(|| recurse(0).unwrap_err())
                .unwrap()
                .join()
                .unwrap();
            assert_eq!(err.sqlstate, super::super::parse::STATEMENT_TOO_COMPLEX);
            assert_eq!(err.message, "stack depth limit exceeded");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_limit_is_the_threads_own_stack_less_the_margin() {
        let size = 8 * 1024 * 1024;
        let left = std::thread::Builder::new()
            .stack_size(size)
            .spawn(remaining_bytes)
            .unwrap()
            .join()
            .unwrap();
        // Nearly all of the 8 MiB, not the 1 MiB fallback: the stack was found.
        assert!(left > size - STACK_MARGIN_BYTES - 256 * 1024, "{left}");
        assert!(left <= size - STACK_MARGIN_BYTES, "{left}");
    }
}
