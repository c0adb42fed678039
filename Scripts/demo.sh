#!/usr/bin/env bash
# Quick start: builds Apiary and the memstore sample, starts the sample on a temporary
# sockets folder, and runs the sidecar with the sample's components plus its built-in
# defaults. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "demo: building (the first build takes a few minutes)..." >&2
swift build --product apiary >&2
swift build --product memstore >&2
bin=$(swift build --show-bin-path)

work=$(mktemp -d /tmp/apiary-demo-XXXXXX)
sockets="$work/sockets"
resources="$work/components"
mkdir -m 700 "$sockets"
mkdir "$resources"
cp SamplesComponents/swift/memstore/components.yaml "$resources/memstore.yaml"
cat > "$resources/builtins.yaml" <<'YAML'
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.in-memory
  version: v1
YAML

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  echo "demo: stopped" >&2
}
trap cleanup EXIT
trap 'exit 0' INT TERM

"$bin/memstore" --socket "$sockets/memstore.sock" --log-level warning &
pids+=($!)
for _ in $(seq 100); do [ -S "$sockets/memstore.sock" ] && break; sleep 0.1; done

echo "demo: sockets folder $sockets, components in $resources" >&2
echo "demo: in another terminal, try:  $bin/apiary discover --sockets-dir $sockets" >&2
"$bin/apiary" run --resources-path "$resources" --sockets-dir "$sockets" &
pids+=($!)
wait "${pids[-1]}"
