# Shared by the bench/*.sh scripts that compare arbordb with PostgreSQL 15 in
# one run: start a private PostgreSQL and a release-built arbordb on free
# ports in a scratch directory, with the same durability (fsync on,
# synchronous commit on), and stop both on exit.
#
# Usage (sourced):
#   source "$root/bench/lib/servers.sh"
#   bench_start_servers "$scratch_dir"     # sets PG_PORT, ARBOR_PORT
#   ... run the workload against 127.0.0.1:$PG_PORT and 127.0.0.1:$ARBOR_PORT
# Both servers stop when the script exits (trap).
#
# Environment: PG_BIN (default /usr/lib/postgresql/15/bin), ARBOR_POOL
# (arbordb --buffer-pool, default 256MiB), PG_SHARED_BUFFERS (default 256MB,
# the same memory for both).

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
ARBOR_POOL="${ARBOR_POOL:-256MiB}"
PG_SHARED_BUFFERS="${PG_SHARED_BUFFERS:-256MB}"

bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Runs a command as the postgres user when we are root (initdb refuses root).
bench_as_pg() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

bench_stop_servers() {
  if [[ -n "${ARBOR_PID:-}" ]]; then
    kill -INT "$ARBOR_PID" 2>/dev/null || true
    wait "$ARBOR_PID" 2>/dev/null || true
    ARBOR_PID=
  fi
  if [[ -n "${PG_DATA:-}" && -f "$PG_DATA/postmaster.pid" ]]; then
    bench_as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

bench_start_servers() {
  local scratch="$1"
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  rm -rf "$scratch"
  mkdir -p "$scratch"
  chmod 777 "$scratch"
  trap bench_stop_servers EXIT

  PG_PORT="$(bench_free_port)"
  PG_DATA="$scratch/pg"
  bench_as_pg "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres >/dev/null
  bench_as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$scratch/pg.log" \
    -o "-p $PG_PORT -k $scratch -c fsync=on -c synchronous_commit=on -c shared_buffers=$PG_SHARED_BUFFERS -c max_connections=100" \
    start >/dev/null

  ARBOR_PORT="$(bench_free_port)"
  (cd "$root" && cargo build -q --release --bin arbordb)
  "$root/target/release/arbordb" --data-dir "$scratch/arbordb" \
    --listen "127.0.0.1:$ARBOR_PORT" --buffer-pool "$ARBOR_POOL" \
    >"$scratch/arbordb.log" 2>&1 &
  ARBOR_PID=$!
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$ARBOR_PORT") 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  export PG_PORT ARBOR_PORT PG_DATA ARBOR_PID
}
