#!/usr/bin/env bash
# Quick start: installs what is missing, builds Apiary and the three language samples,
# then starts, on a temporary folder, a redis-server, the samples (Python redis-store,
# C++ file-secrets, Swift memstore and ticker), a small application and the sidecar
# (apiary run), and prints a curl line per building block. Ctrl-C stops everything.
#
# Environment: APIARY_DEMO_HTTP_PORT (default 3500) and APIARY_DEMO_GRPC_PORT (default
# 50001), the sidecar's ports; PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
python=${PYTHON:-python3}
http_port=${APIARY_DEMO_HTTP_PORT:-3500}
grpc_port=${APIARY_DEMO_GRPC_PORT:-50001}
cpp=SamplesComponents/cpp/file-secrets

say() { echo "demo: $*" >&2; }

# --- what is missing -------------------------------------------------------------------
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $* (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
  else
    return 1
  fi
}
# Apiary links the gRPC core C library (its gRPC transport).
[ -f /usr/include/grpc/grpc.h ] || apt_install libgrpc-dev \
  || { say "the gRPC core library is missing: install it (apt-get install libgrpc-dev)"; exit 1; }
command -v redis-server >/dev/null || apt_install redis-server \
  || { say "redis-server is missing: install it (apt-get install redis-server)"; exit 1; }
if ! "$python" -c 'import grpc, grpc_tools, grpc_reflection, grpc_status, grpc_health, redis' 2>/dev/null; then
  say "installing the redis-store sample's Python packages"
  "$python" -m pip install --quiet --disable-pip-version-check -r SamplesComponents/python/redis-store/requirements.txt
fi
# The Dapr Python SDK, for the quick start's DaprClient line (the version the tests pin).
if ! "$python" -c 'import dapr.clients' 2>/dev/null; then
  say "installing the Dapr Python SDK (dapr), for the DaprClient examples"
  "$python" -m pip install --quiet --disable-pip-version-check \
    "$(grep -E '^dapr==' Tests/Fixtures/python/requirements.txt)"
fi
with_cpp=yes
if ! command -v cmake >/dev/null || ! command -v grpc_cpp_plugin >/dev/null \
  || ! [ -f /usr/include/nlohmann/json.hpp ] || ! pkg-config --exists grpc++ 2>/dev/null; then
  apt_install g++ cmake pkg-config protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev \
    nlohmann-json3-dev || {
    say "the C++ sample's build tools are missing (see $cpp/README.md); running without file-secrets"
    with_cpp=no
  }
fi

# --- build -----------------------------------------------------------------------------
say "building (the first build takes a few minutes)..."
swift build --product apiary >&2
swift build --product memstore >&2
swift build --product ticker >&2
bin=$(swift build --show-bin-path)
if [ "$with_cpp" = yes ]; then
  cmake -S "$cpp" -B "$cpp/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$cpp/build" -j2 >&2
fi

# --- run -------------------------------------------------------------------------------
work=$(mktemp -d /tmp/apiary-demo-XXXXXX)
sockets="$work/sockets"
resources="$work/components"
mkdir -m 700 "$sockets"
mkdir "$resources" "$work/files"
redis_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
app_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo '{"db-password": "s3cret", "api": {"key": "k1"}}' > "$work/secrets.json"

# The component files the tests use too (Tests/Fixtures/components), placeholders filled.
component() { "$python" Tests/Support/python/apiarytest/components.py "$@"; }
component redis-store.yaml REDIS_PORT="$redis_port" CONSUMER_GROUP=pubsub >"$resources/redis-store.yaml"
component memstore.yaml STATE_NAME=cache >"$resources/memstore.yaml"
component ticker.yaml INTERVAL_MS=15000 MESSAGE="hello from the Swift ticker" >"$resources/ticker.yaml"
if [ "$with_cpp" = yes ]; then
  component file-secrets.yaml SECRETS_FILE="$work/secrets.json" FILES_DIR="$work/files" \
    >"$resources/file-secrets.yaml"
fi

# Every process runs in its own session, so Ctrl-C reaches only this script, which then
# stops them in order.
pids=()
cleanup() {
  # A second Ctrl-C while stopping must not leave the components running.
  trap - EXIT
  trap '' INT TERM
  # The sidecar first (it drains and closes its streams), then the components, then redis.
  for (( i=${#pids[@]}-1; i>=0; i-- )); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$work"
  say "stopped"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

wait_for_socket() {
  for _ in $(seq 300); do [ -S "$1" ] && return 0; sleep 0.1; done
  say "$1 did not appear"; exit 1
}

setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
setsid "$python" SamplesComponents/python/redis-store/redis_store.py --socket "$sockets/redis-store.sock" \
  --redis-url "redis://127.0.0.1:$redis_port/0" --log-level warning &
pids+=($!)
setsid "$bin/memstore" --socket "$sockets/memstore.sock" --log-level warning &
pids+=($!)
setsid "$bin/ticker" --socket "$sockets/ticker.sock" --log-level warning &
pids+=($!)
if [ "$with_cpp" = yes ]; then
  setsid "$cpp/build/file-secrets" --socket "$sockets/file-secrets.sock" --log-level warning &
  pids+=($!)
fi
setsid "$python" Scripts/demo-app.py --port "$app_port" &
pids+=($!)
for socket in redis-store memstore ticker; do wait_for_socket "$sockets/$socket.sock"; done
[ "$with_cpp" = no ] || wait_for_socket "$sockets/file-secrets.sock"

say "sockets folder $sockets, components in $resources"
setsid "$bin/apiary" run --resources-path "$resources" --sockets-dir "$sockets" --app-id demo \
  --app-port "$app_port" --http-port "$http_port" --grpc-port "$grpc_port" &
pids+=($!)
apiary_pid=$!

for _ in $(seq 300); do
  curl -fsS -o /dev/null "localhost:$http_port/actuator/health/readiness" 2>/dev/null && break
  kill -0 "$apiary_pid" 2>/dev/null || { say "apiary exited"; exit 1; }
  sleep 0.1
done

h="localhost:$http_port"
cat >&2 <<EOF

demo: ready. In another terminal, one line per building block:

  # state (Python component on Redis): save, read, read with its etag
  curl -X POST $h/v1.0/state/statestore -H 'Content-Type: application/json' -d '[{"key": "order-1", "value": {"qty": 2}}]'
  curl $h/v1.0/state/statestore/order-1
  curl -i $h/v1.0/state/statestore/order-1 | grep -i etag
  # state (Swift component, in memory)
  curl -X POST $h/v1.0/state/cache -H 'Content-Type: application/json' -d '[{"key": "k", "value": "v"}]'
  # pub/sub (Redis Streams): the app prints the message
  curl -X POST $h/v1.0/publish/pubsub/orders -H 'Content-Type: application/json' -d '{"orderId": 1}'
EOF
if [ "$with_cpp" = yes ]; then
  cat >&2 <<EOF
  # secrets (C++ component): a plain and a nested key
  curl $h/v1.0/secrets/secretstore/db-password
  curl $h/v1.0/secrets/secretstore/api:key
  # output binding (C++ component): write a file, list the folder
  curl -X POST $h/v1.0/bindings/files -H 'Content-Type: application/json' -d '{"operation": "create", "data": "hello", "metadata": {"fileName": "note.txt"}}'
  curl -X POST $h/v1.0/bindings/files -H 'Content-Type: application/json' -d '{"operation": "list"}'
EOF
fi
cat >&2 <<EOF
  # hello (Swift component)
  curl -X POST $h/v1.0/hello/greeter -H 'Content-Type: application/json' -d '{"name": "Ada"}'
  # input binding (Swift ticker): the app prints a tick every 15 s
  # health, components, their logs
  curl $h/actuator/health/readiness
  curl $h/actuator/components
  curl '$h/actuator/logs?component=memstore&limit=20'

demo: Ctrl-C stops everything.
EOF
wait "$apiary_pid"
