#!/usr/bin/env bash
# The floor of one gRPC hop on this machine: builds (if needed) into ./build, then
# for each run starts floor-server on a temporary Unix socket, runs floor-client with
# 1, 16 and 64 calls in flight, stops the server, and does the same against the raw
# socket ping-pong server. Prints one JSON line per measurement on stdout, and, with
# --runs N > 1, a table of per-field medians at the end (needs jq).
#
#   ./run.sh                 # one run
#   ./run.sh --runs 3        # three runs + medians
#   ./run.sh --api sync      # gRPC server on the sync API instead of the callback API
#   ./run.sh --no-raw        # skip the raw ping-pong baseline
#
# Scale with env vars: CALLS_1 (3000), WARMUP_1 (500), CALLS_N (20000), WARMUP_N (2000),
# RAW_CALLS (20000), RAW_WARMUP (2000), PAYLOAD (1024), CLIENT_TIMEOUT (120 s per client run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"
runs=1
api=callback
raw=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --api) api="$2"; shift 2 ;;
    --no-raw) raw=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

CALLS_1="${CALLS_1:-3000}"; WARMUP_1="${WARMUP_1:-500}"
CALLS_N="${CALLS_N:-20000}"; WARMUP_N="${WARMUP_N:-2000}"
RAW_CALLS="${RAW_CALLS:-20000}"; RAW_WARMUP="${RAW_WARMUP:-2000}"
PAYLOAD="${PAYLOAD:-1024}"; CLIENT_TIMEOUT="${CLIENT_TIMEOUT:-120}"

log() { echo "run.sh: $*" >&2; }

# ---- build if needed (cmake --build is a no-op when up to date) ----
if [ ! -f "$build/CMakeCache.txt" ]; then
  timeout 300 cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
fi
timeout 600 cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >&2

tmp="$(mktemp -d "${TMPDIR:-/tmp}/apiary-floor.XXXXXX")"
sock="$tmp/echo.sock"
results="$tmp/results.jsonl"
server_pid=""

stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then
      log "server $server_pid did not stop on SIGTERM; killing it"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  if [ -e "$sock" ]; then log "warning: server left its socket behind"; rm -f "$sock"; fi
}
cleanup() { stop_server; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() {  # args: extra floor-server flags
  "$build/floor-server" --socket "$sock" "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q '^listening on ' "$tmp/server.out" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$tmp/server.err" >&2
  log "server did not become ready"; exit 1
}

client() {  # args: label concurrency calls warmup [extra flags]
  local label="$1" c="$2" calls="$3" warmup="$4"; shift 4
  timeout "$CLIENT_TIMEOUT" "$build/floor-client" --target "unix:$sock" --payload "$PAYLOAD" \
    --calls "$calls" --warmup "$warmup" --concurrency "$c" --server-pid "$server_pid" \
    --label "$label" --json "$@" | tee -a "$results"
}

for run in $(seq "$runs"); do
  log "run $run/$runs: gRPC ($api server API)"
  start_server --api "$api"
  client "grpc-$api c=1" 1 "$CALLS_1" "$WARMUP_1"
  client "grpc-$api c=16" 16 "$CALLS_N" "$WARMUP_N"
  client "grpc-$api c=64" 64 "$CALLS_N" "$WARMUP_N"
  stop_server
  if [ "$raw" = 1 ]; then
    log "run $run/$runs: raw socket ping-pong"
    start_server --raw
    client "raw c=1" 1 "$RAW_CALLS" "$RAW_WARMUP" --raw
    client "raw c=16" 16 "$RAW_CALLS" "$RAW_WARMUP" --raw
    client "raw c=64" 64 "$RAW_CALLS" "$RAW_WARMUP" --raw
    stop_server
  fi
done

if [ "$runs" -gt 1 ]; then
  if command -v jq >/dev/null; then
    echo "# median of $runs runs (each field's median taken separately)"
    jq -rs '
      def median: sort | if length % 2 == 1 then .[length/2|floor]
                         else (.[length/2 - 1] + .[length/2]) / 2 end;
      def r(d): . * pow(10; d) | round / pow(10; d);
      (["label","p50_us","p90_us","p99_us","mean_us","calls/s","client_cpu_s/1k","server_cpu_s/1k"] | @tsv),
      (group_by(.label) | sort_by(.[0].mode, .[0].concurrency) | .[] |
        [ .[0].label,
          (map(.p50_us) | median | r(1)), (map(.p90_us) | median | r(1)),
          (map(.p99_us) | median | r(1)), (map(.mean_us) | median | r(1)),
          (map(.throughput_cps) | median | round),
          (map(.client_cpu_s_per_1000) | median | r(4)),
          (map(.server_cpu_s_per_1000 // 0) | median | r(4)) ] | @tsv)
    ' "$results" | column -t -s $'\t'
  else
    log "jq not found: no median table"
  fi
fi
