#!/usr/bin/env bash
# Soak test: the demo's set-up (redis-server, the Python redis-store, the C++
# file-secrets, the Swift memstore and ticker, an app, apiary) driven by 64 concurrent
# Dapr Python SDK clients mixing state, pub/sub, bindings and secrets for a fixed time.
#
#   Scripts/soak.sh [--duration SECONDS] [--clients N] [--bin DIR] [other Tests/Soak/soak.py options]
#
# Defaults: --duration 600, --clients 64. Without --bin it builds apiary, memstore and
# ticker with `swift build` (like Scripts/demo.sh) and uses `swift build --show-bin-path`;
# the C++ sample is built with CMake when its binary is missing. Every 10 s it prints the
# error count, p99 latency and apiary's RSS; it exits 1 when any call failed, any
# published message was not delivered, or apiary's RSS grew by more than 10 % after the
# warm-up (the first 20 % of the run). CI runs `Scripts/soak.sh --duration 60`.
#
# Environment: PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
cpp=SamplesComponents/cpp/file-secrets

say() { echo "soak: $*" >&2; }

bin=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --bin=*) bin=${1#--bin=}; shift ;;
    -h|--help) exec "$python" Tests/Soak/soak.py --help ;;
    *) args+=("$1"); shift ;;
  esac
done

command -v redis-server >/dev/null || { say "redis-server is missing: install it (apt-get install redis-server)"; exit 1; }
if ! "$python" -c 'import grpc, grpc_tools, grpc_reflection, grpc_status, redis' 2>/dev/null; then
  say "installing the redis-store sample's Python packages"
  "$python" -m pip install --quiet --disable-pip-version-check -r SamplesComponents/python/redis-store/requirements.txt
fi
"$python" -c 'import dapr.clients' 2>/dev/null || {
  say "the Dapr Python SDK is missing: $python -m pip install dapr==1.19.0"; exit 1; }

if [ -z "$bin" ]; then
  say "building apiary, memstore and ticker (the first build takes a few minutes)..."
  swift build --product apiary >&2
  swift build --product memstore >&2
  swift build --product ticker >&2
  bin=$(swift build --show-bin-path)
fi
if [ ! -x "$cpp/build/file-secrets" ]; then
  say "building the C++ file-secrets sample (see $cpp/README.md for its build tools)..."
  cmake -S "$cpp" -B "$cpp/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$cpp/build" -j2 >&2
fi

exec "$python" Tests/Soak/soak.py --bin "$bin" --file-secrets "$cpp/build/file-secrets" ${args[@]+"${args[@]}"}
