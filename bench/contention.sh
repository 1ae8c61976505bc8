#!/usr/bin/env bash
# The bank workload (bench/contention/) at 1, 8 and 32 sessions at each
# isolation level, against arbordb and PostgreSQL 15 in the same run, on the
# same machine, with the same durability (fsync on, synchronous commit on).
# Prints throughput, abort rate and p50/p99 latency per cell, and last:
#   contention: serializable tps Rx postgres, abort rate A% vs P% postgres (32 sessions)
#
# Usage: bench/contention.sh [seconds per cell (default 10)] [accounts (default 100)]
# Environment: see bench/lib/servers.sh (PG_BIN, ARBOR_POOL, PG_SHARED_BUFFERS);
# SCRATCH (default bench-data/contention).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-10}"
accounts="${2:-100}"
scratch="${SCRATCH:-$root/bench-data/contention}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
source "$root/bench/lib/servers.sh"

cargo build -q --release --manifest-path "$root/bench/contention/Cargo.toml"
client="$CARGO_TARGET_DIR/release/bench-contention"
bench_start_servers "$scratch"

field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

printf '%-16s %-8s %8s | %10s %8s %9s %9s | %10s %8s %9s %9s\n' \
  level sessions "" "arbordb" abort% p50_ms p99_ms "postgres" abort% p50_ms p99_ms
declare -A tps abort
for level in read-committed repeatable-read serializable; do
  for n in 1 8 32; do
    line=""
    for sys in arbordb postgres; do
      if [[ $sys == arbordb ]]; then port=$ARBOR_PORT; else port=$PG_PORT; fi
      out="$("$client" "host=127.0.0.1 port=$port user=postgres dbname=postgres" "$level" "$n" "$secs" "$accounts" || true)"
      if [[ "$out" == error=* ]]; then
        echo "$sys $level c$n: ${out#error=}" >&2
        tps[$sys,$level,$n]=0
        abort[$sys,$level,$n]=NA
        line+=$(printf ' | %10s %8s %9s %9s' failed - - -)
        continue
      fi
      t="$(field tps "$out")"; a="$(field abort_rate "$out")"
      p50="$(field p50_us "$out")"; p99="$(field p99_us "$out")"
      tps[$sys,$level,$n]=$t
      abort[$sys,$level,$n]=$a
      line+=$(printf ' | %10s %8s %9.2f %9.2f' "$t" "$a" "$(bc -l <<<"$p50/1000")" "$(bc -l <<<"$p99/1000")")
    done
    printf '%-16s %-8s %8s%s\n' "$level" "$n" "" "$line"
  done
done

a="${tps[arbordb,serializable,32]}"; p="${tps[postgres,serializable,32]}"
if [[ "$p" == 0 || "$a" == 0 ]]; then ratio="NA"; else ratio="$(printf '%.2f' "$(bc -l <<<"$a/$p")")"; fi
echo "contention: serializable tps ${ratio}x postgres, abort rate ${abort[arbordb,serializable,32]}% vs ${abort[postgres,serializable,32]}% postgres (32 sessions)"
