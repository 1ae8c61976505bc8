#!/usr/bin/env bash
# Storage engine benchmark: arbordb's B+-tree against SQLite, same workloads.
#
#   bench/storage.sh            # N=1M with a pool that holds everything, then N=10M with 64 MiB
#   N_SMALL=100000 N_BIG=1000000 bench/storage.sh   # smaller runs
#   KEEP=1 bench/storage.sh     # keep the N_BIG data files (a bare storage file: `arbordb check` cannot read it yet, see docs/benchmarks.md)
#
# The last line printed is the N_BIG summary:
#   storage: lookup R1x sqlite, insert R2x sqlite, scan R3x sqlite (N=10M, pool 64MiB)
# Not run by CI (it takes minutes); results are recorded in docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/bench}"
cargo build --release --quiet --manifest-path "$root/bench/storage/Cargo.toml"
bin="$CARGO_TARGET_DIR/release/arbordb-storage-bench"
dir="${BENCH_DIR:-$root/bench-data/storage}"
N_SMALL="${N_SMALL:-1000000}"
N_BIG="${N_BIG:-10000000}"
POOL_BIG_MIB="${POOL_BIG_MIB:-64}"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo
"$bin" --n "$N_SMALL" --dir "$dir" | grep -v '^storage:'
echo
"$bin" --n "$N_BIG" --pool-mib "$POOL_BIG_MIB" --dir "$dir" --keep "${KEEP:-0}"
