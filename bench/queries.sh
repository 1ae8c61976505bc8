#!/usr/bin/env bash
# The 22 TPC-H queries on arbordb and PostgreSQL 15 in one run: data from
# bench/tpch/gen.py (dbgen's schema and distributions, written here; see
# docs/benchmarks.md for the adaptation), loaded with COPY into both servers
# (bench/lib/servers.sh), ANALYZEd, then each query run RUNS times on each
# server; a query's time is the median of its runs as psql's \timing reports
# it. A query that errors, exceeds TIMEOUT seconds (statement_timeout, and a
# hard kill a little later) or returns rows different from PostgreSQL's is
# counted as failed and left out of the geometric mean.
#
# Usage: bench/queries.sh [scale factors (default "0.1")] [runs (default 3)] [timeout s (default 60)]
#   e.g. bench/queries.sh "0.1 1"
# Environment: QUERIES="1 3 6" runs only those queries; TPCH_DATA (default
# bench-data/tpch) caches the generated tables between runs; CHUNK (default
# 500000) is the most rows loaded by one COPY.
# Prints last (for the largest scale factor run):
#   queries: geomean Rx postgres over N queries at SFs (K failed)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scales="${1:-0.1}"
runs="${2:-3}"
timeout_s="${3:-60}"
queries="${QUERIES:-$(seq 1 22)}"
chunk="${CHUNK:-500000}"
data_root="${TPCH_DATA:-$root/bench-data/tpch}"
scratch="$root/bench-data/queries-servers"
source "$root/bench/lib/servers.sh"
bench_start_servers "$scratch"
out="$scratch/out"
mkdir -p "$out"

tables="region nation supplier part partsupp customer orders lineitem"

sql() { # port, then psql arguments
  local port="$1"
  shift
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}

# Prints the median of psql's "Time: N ms" over the runs, or FAIL.
time_query() { # port, query file, result file
  local port="$1" file="$2" result="$3" i times=()
  for ((i = 0; i < runs; i++)); do
    local log="$out/timing.log"
    if ! {
      printf 'SET statement_timeout = %d;\n\\o %s\n\\timing on\n' "$((timeout_s * 1000))" "$result"
      cat "$file"
    } | timeout "$((timeout_s + 15))" psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres >"$log" 2>"$out/err.log"; then
      echo FAIL
      return
    fi
    times+=("$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$log" | tail -1)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

last=""
for sf in $scales; do
  data="$data_root/sf$sf"
  if [[ ! -f "$data/.done" ]]; then
    echo "generating SF $sf into $data"
    rm -rf "$data"
    python3 "$root/bench/tpch/gen.py" "$sf" "$data"
    touch "$data/.done"
  fi
  for port in "$PG_PORT" "$ARBOR_PORT"; do
    name=$([[ $port == "$PG_PORT" ]] && echo postgres || echo arbordb)
    for t in $tables; do
      sql "$port" -c "DROP TABLE IF EXISTS $t" >/dev/null 2>&1
    done
    sql "$port" -f "$root/bench/tpch/schema.sql" >/dev/null
    start=$(date +%s.%N)
    # Each table in COPYs of at most CHUNK rows, on both servers alike:
    # arbordb holds a row lock per inserted row until commit, and one COPY
    # of SF1's 1.5M orders passes row_locks_max (1,048,576) with 53200.
    for t in $tables; do
      rm -f "$out/chunk."*
      split -l "$chunk" -d -a 4 "$data/$t.tbl" "$out/chunk."
      for part in "$out/chunk."*; do
        sql "$port" -c "\\copy $t from '$part'" >/dev/null
      done
    done
    rm -f "$out/chunk."*
    for t in $tables; do
      sql "$port" -c "ANALYZE $t" >/dev/null
    done
    printf 'SF %s: %s loaded in %.1f s\n' "$sf" "$name" "$(echo "$(date +%s.%N) - $start" | bc)"
  done
  printf '%-5s %12s %12s %8s\n' query "postgres ms" "arbordb ms" ratio
  n=0
  failed=0
  logsum=0
  for q in $queries; do
    file="$root/bench/tpch/queries/$(printf 'q%02d.sql' "$q")"
    pg=$(time_query "$PG_PORT" "$file" "$out/pg.$q")
    ar=$(time_query "$ARBOR_PORT" "$file" "$out/arbor.$q")
    note=""
    if [[ $ar == FAIL ]]; then
      if grep -q 57014 "$out/err.log" 2>/dev/null || grep -qi "timeout\|canceling" "$out/err.log" 2>/dev/null; then
        note="timeout"
      else
        note="error: $(head -c 100 "$out/err.log" | tr '\n' ' ')"
      fi
    elif [[ $pg != FAIL ]] && ! cmp -s "$out/pg.$q" "$out/arbor.$q"; then
      note="wrong result"
      ar=FAIL
    fi
    if [[ $ar == FAIL || $pg == FAIL ]]; then
      failed=$((failed + 1))
      printf '%-5s %12s %12s %8s  %s\n' "Q$q" "$pg" "$ar" "-" "$note"
    else
      ratio=$(echo "scale=6; $ar / $pg" | bc -l)
      logsum=$(echo "scale=6; $logsum + l($ratio)" | bc -l)
      n=$((n + 1))
      printf '%-5s %12.1f %12.1f %8.2f\n' "Q$q" "$pg" "$ar" "$ratio"
    fi
  done
  if ((n > 0)); then
    geo=$(echo "scale=6; e($logsum / $n)" | bc -l)
  else
    geo=0
  fi
  sf_label=$(echo "$sf" | sed 's/^0\./0./')
  last=$(printf 'queries: geomean %.2fx postgres over %d queries at SF%s (%d failed)' "$geo" "$n" "$sf_label" "$failed")
  echo "$last"
done
