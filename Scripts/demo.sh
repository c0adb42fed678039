#!/usr/bin/env bash
# Quick start: builds Apiary and the memstore sample, starts the sample on a temporary
# sockets folder and shows what the sidecar discovers there. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "demo: building (the first build takes a few minutes)..." >&2
swift build --product apiary >&2
swift build --product memstore >&2
bin=$(swift build --show-bin-path)

sockets=$(mktemp -d /tmp/apiary-demo-XXXXXX)
chmod 700 "$sockets"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$sockets"
  echo "demo: stopped" >&2
}
trap cleanup EXIT
trap 'exit 0' INT TERM

"$bin/memstore" --socket "$sockets/memstore.sock" &
pids+=($!)
for _ in $(seq 100); do [ -S "$sockets/memstore.sock" ] && break; sleep 0.1; done

echo
"$bin/apiary" discover --sockets-dir "$sockets"
echo
echo "The memstore sample is serving on $sockets/memstore.sock. Try:"
echo "  $bin/apiary discover --sockets-dir $sockets --json"
echo "Press Ctrl-C to stop."
wait
