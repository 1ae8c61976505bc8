#!/usr/bin/env bash
# Bulk load and indexed lookups (issue 6), against arbordb and PostgreSQL 15
# in the same run, on the same machine, with the same durability (fsync on,
# synchronous commit on). bench/load/ is the client:
#   1. a table of 5 columns (bigint key, int, text, numeric, timestamp) with
#      one secondary index, ROWS rows loaded in multi-row INSERTs of 1000
#      rows (random key order, one transaction per statement);
#   2. LOOKUPS random primary-key lookups from 8 connections (prepared);
#   3. LOOKUPS secondary-index range lookups (10 rows each) from 8 connections.
# Lookup phases run ROUNDS times; the median is reported. Last line:
#   load: insert Rx postgres, pk lookup Rx postgres, index range Rx postgres
# (ratio = arbordb throughput / PostgreSQL's).
#
# Usage: bench/load.sh [ROWS (default 1000000)] [LOOKUPS (default 100000)] [ROUNDS (default 3)]
# Environment: see bench/lib/servers.sh (PG_BIN, ARBOR_POOL, PG_SHARED_BUFFERS);
# SCRATCH (default bench-data/load).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rows="${1:-1000000}"
lookups="${2:-100000}"
rounds="${3:-3}"
sessions=8
scratch="${SCRATCH:-$root/bench-data/load}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
source "$root/bench/lib/servers.sh"

cargo build -q --release --manifest-path "$root/bench/load/Cargo.toml"
client="$CARGO_TARGET_DIR/release/bench-load"
bench_start_servers "$scratch"

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
run() {
  local out
  out="$("$client" "$@")" || { echo "bench-load $*: ${out#error=}" >&2; exit 1; }
  echo "$out"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A rate
for sys in arbordb postgres; do
  if [[ $sys == arbordb ]]; then port=$ARBOR_PORT; else port=$PG_PORT; fi
  url="host=127.0.0.1 port=$port user=postgres dbname=postgres"
  out="$(run "$url" load "$rows" 1000)"
  rate[$sys,insert]="$(field rows_per_s "$out")"
  echo "$sys insert: $out"
  if [[ $sys == postgres ]]; then
    # PostgreSQL plans from statistics; give it the ones autovacuum would.
    psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "VACUUM ANALYZE bench_load" postgres
  fi
  for phase in pk range; do
    vals=()
    for r in $(seq 1 "$rounds"); do
      out="$(run "$url" "$phase" "$rows" "$lookups" "$sessions")"
      echo "$sys $phase round $r: $out"
      vals+=("$(field per_s "$out")")
    done
    rate[$sys,$phase]="$(median "${vals[@]}")"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

ratio() { printf '%.2f' "$(bc -l <<<"${rate[arbordb,$1]}/${rate[postgres,$1]}")"; }
printf '%-10s %14s %14s\n' phase arbordb/s postgres/s
for phase in insert pk range; do
  printf '%-10s %14s %14s\n' "$phase" "${rate[arbordb,$phase]}" "${rate[postgres,$phase]}"
done
echo "load: insert $(ratio insert)x postgres, pk lookup $(ratio pk)x postgres, index range $(ratio range)x postgres"
