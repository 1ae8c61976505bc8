#!/usr/bin/env bash
# pgbench against arbordb and PostgreSQL 15 in one run, on the same machine,
# with the same durability (fsync on, synchronous commit on for both):
# `pgbench -i -s SCALE`, then the built-in tpcb-like and select-only scripts
# at 1, 8 and 32 clients, `-M prepared`, SECS seconds each. Latency
# percentiles come from pgbench's per-transaction log (-l).
# Prints TPS and p50/p99 latency per cell, and last:
#   pgbench: tpcb-like c8 Rx postgres, select-only c8 Rx postgres, p99 tpcb c8 Lx postgres
#
# Usage: bench/pgbench.sh [scale (default 10)] [seconds per run (default 20)]
# Environment: see bench/lib/servers.sh; SCRATCH (default bench-data/pgbench).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scale="${1:-10}"
secs="${2:-20}"
scratch="${SCRATCH:-$root/bench-data/pgbench}"
pgbench="${PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
source "$root/bench/lib/servers.sh"
bench_start_servers "$scratch"
logs="$scratch/logs"
mkdir -p "$logs"

# p50 and p99 (ms) of the latency column (3rd, µs) of pgbench's logs.
percentiles() {
  cat "$@" 2>/dev/null | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "- -"; exit }
      i50 = int((NR - 1) * 0.50 + 0.5) + 1; i99 = int((NR - 1) * 0.99 + 0.5) + 1
      printf "%.2f %.2f\n", v[i50] / 1000, v[i99] / 1000
    }'
}

declare -A tps p99
init_ok=()
for sys in arbordb postgres; do
  if [[ $sys == arbordb ]]; then port=$ARBOR_PORT; else port=$PG_PORT; fi
  if "$pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s "$scale" postgres \
      >"$scratch/$sys-init.log" 2>&1; then
    init_ok+=("$sys")
  else
    echo "$sys: pgbench -i failed: $(tail -n 2 "$scratch/$sys-init.log" | tr '\n' ' ')" >&2
  fi
done

printf '%-12s %-8s | %10s %9s %9s | %10s %9s %9s\n' script clients arbordb p50_ms p99_ms postgres p50_ms p99_ms
for script in tpcb-like select-only; do
  for n in 1 8 32; do
    line=""
    for sys in arbordb postgres; do
      if [[ $sys == arbordb ]]; then port=$ARBOR_PORT; else port=$PG_PORT; fi
      tps[$sys,$script,$n]=0
      p99[$sys,$script,$n]=NA
      if [[ ! " ${init_ok[*]} " == *" $sys "* ]]; then
        line+=$(printf ' | %10s %9s %9s' failed - -)
        continue
      fi
      rm -f "$logs"/pgbench_log.*
      out="$scratch/$sys-$script-c$n.log"
      if "$pgbench" -h 127.0.0.1 -p "$port" -U postgres -b "$script" -M prepared \
          -c "$n" -j "$(( n < 2 ? 1 : 2 ))" -T "$secs" -l --log-prefix="$logs/pgbench_log" \
          postgres >"$out" 2>&1; then
        t="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | tail -n 1)"
        failed="$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")"
        read -r l50 l99 < <(percentiles "$logs"/pgbench_log.*)
        tps[$sys,$script,$n]="${t:-0}"
        p99[$sys,$script,$n]="$l99"
        line+=$(printf ' | %10s %9s %9s' "${t:-0}" "$l50" "$l99")
        if [[ -n "$failed" && "$failed" != 0 ]]; then
          echo "$sys $script c$n: $failed failed transactions" >&2
        fi
      else
        echo "$sys $script c$n: pgbench failed: $(tail -n 2 "$out" | tr '\n' ' ')" >&2
        line+=$(printf ' | %10s %9s %9s' failed - -)
      fi
    done
    printf '%-12s %-8s%s\n' "$script" "$n" "$line"
  done
done

ratio() {
  if [[ "$2" == 0 || "$2" == NA || "$1" == NA ]]; then echo NA; else printf '%.2f' "$(bc -l <<<"$1/$2")"; fi
}
echo "pgbench: tpcb-like c8 $(ratio "${tps[arbordb,tpcb-like,8]}" "${tps[postgres,tpcb-like,8]}")x postgres, select-only c8 $(ratio "${tps[arbordb,select-only,8]}" "${tps[postgres,select-only,8]}")x postgres, p99 tpcb c8 $(ratio "${p99[arbordb,tpcb-like,8]}" "${p99[postgres,tpcb-like,8]}")x postgres"
