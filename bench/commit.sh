#!/usr/bin/env bash
# Durable commits per second at 1, 8 and 32 concurrent committers, and the
# disk's fdatasync limit, measured in the same run on a data directory on the
# same file system: first of bare log records (Begin, Update, Redo, Commit),
# then of real MVCC transactions (txn::Transaction: begin, insert one row,
# commit), which the last line reports.
#
# Usage: bench/commit.sh [data dir (default: bench-data/commit)] [seconds per measurement (default 1)] [rounds (default 5)]
# Optional: PG_TEST_FSYNC=1 also runs PostgreSQL's pg_test_fsync on the same
# directory, for reference.
# Prints last:
#   commit: c1 X/s, c8 Y/s, c32 Z/s; fsync limit F/s; group commit gain Z/X
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/bench-data/commit}"
secs="${2:-1}"
rounds="${3:-5}"
mkdir -p "$dir"
# Shares the main target directory, so the arbordb build is reused. Release
# mode: c1 is fdatasync-bound, but at 32 committers the MVCC layer's CPU
# work per commit shows, and a debug build would understate it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release --manifest-path "$root/bench/commit/Cargo.toml"
if [[ "${PG_TEST_FSYNC:-0}" == 1 && -x /usr/lib/postgresql/15/bin/pg_test_fsync ]]; then
  /usr/lib/postgresql/15/bin/pg_test_fsync -s 2 -f "$dir/pg_test_fsync.tmp" | sed -n '/fdatasync/p' | head -3
fi
"$CARGO_TARGET_DIR/release/bench-commit" "$dir" "$secs" "$rounds"
