#!/usr/bin/env bash
# Runs every test: the Swift suites (unit, socket, process and end-to-end tests), the
# check that Proto/ matches the wire facts in ../shared/spec (skipped when that folder
# is absent), the Python component SDK's tests, the samples' own self-tests, the
# samples' end-to-end suite (Tests/Samples: redis-server, the Python, C++ and Swift
# samples and two sidecars, driven with the Dapr Python SDK, faults included),
# `apiary conformance` on every sample (Tests/Conformance), the Dapr fidelity suite
# (Tests/Dapr), the observability suite (Tests/Observability: a real OTLP receiver,
# Prometheus's parser), the fuzzers (Tests/Fuzz: the HTTP API, the gRPC API, the
# component files) and a 60 s soak (Scripts/soak.sh). Installs what it needs when
# missing: the Python packages (pip), and redis-server and the C++ sample's build tools
# (apt-get, as root).
# With arguments, runs only `swift test ARGUMENTS`.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import grpc, grpc_tools, grpc_reflection, dapr.clients, hpack' 2>/dev/null; then
  echo "test: installing the Python fixture packages (Tests/Fixtures/python/requirements.txt)" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -r Tests/Fixtures/python/requirements.txt
fi

# The Python component SDK, editable: the redis-store sample and its own tests use the
# repository's copy.
if ! "$python" -c 'import apiary_component, grpc_health' 2>/dev/null; then
  echo "test: installing the Python component SDK (pip install -e SDKs/python/apiary-component)" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -e SDKs/python/apiary-component
fi

# The Dapr fidelity suite's apps: the SDK's FastAPI and gRPC extensions.
if ! "$python" -c 'import dapr.ext.fastapi, dapr.ext.grpc, uvicorn, cloudevents' 2>/dev/null; then
  echo "test: installing the Dapr fidelity suite's packages (Tests/Dapr/requirements.txt)" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -r Tests/Dapr/requirements.txt
fi

# The observability suite's OTLP receiver (opentelemetry-proto) and Prometheus parser.
if ! "$python" -c 'import opentelemetry.proto.collector.trace.v1.trace_service_pb2, prometheus_client' 2>/dev/null; then
  echo "test: installing the observability suite's packages (Tests/Observability/requirements.txt)" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -r Tests/Observability/requirements.txt
fi

if ! "$python" -c 'import redis' 2>/dev/null; then
  echo "test: installing the redis-store sample's packages" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -r SamplesComponents/python/redis-store/requirements.txt
fi
# apt_install WHAT MISSING PACKAGE...: installs the packages with apt-get when running as
# root ("installing WHAT"), else says MISSING and stops. A failed install is retried once
# after apt-get update.
apt_install() {
  local what=$1 missing=$2
  shift 2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing $what" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
  else
    echo "test: $missing" >&2
    exit 1
  fi
}

if ! command -v redis-server >/dev/null; then
  apt_install "redis-server (apt-get) for the redis-store sample" \
    "redis-server is missing; install it (apt-get install redis-server) to run the redis-store self-test" \
    redis-server
fi

# Apiary links the gRPC core C library (its gRPC transport), so every build needs it.
if ! [ -f /usr/include/grpc/grpc.h ]; then
  apt_install "the gRPC core library (apt-get install libgrpc-dev)" \
    "the gRPC core library is missing; install it (apt-get install libgrpc-dev)" \
    libgrpc-dev
fi

cpp=SamplesComponents/cpp/file-secrets
if [ "$#" -eq 0 ] && { ! command -v cmake >/dev/null || ! command -v grpc_cpp_plugin >/dev/null \
  || ! [ -f /usr/include/nlohmann/json.hpp ] || ! pkg-config --exists grpc++ 2>/dev/null; }; then
  apt_install "the C++ sample's build tools (apt-get)" \
    "the C++ sample's build tools are missing; install them as $cpp/README.md says" \
    g++ cmake pkg-config protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev nlohmann-json3-dev
fi

"$python" Scripts/check-proto-spec.py
if [ "$#" -eq 0 ]; then
  # The C++ peers first: the transport interop suite runs the floor benchmark's gRPC
  # client and server (Benchmarks/floor) against Apiary's transports.
  echo "test ($(date -u +%H:%M:%S)): building Benchmarks/floor and $cpp (CMake)"
  cmake -S Benchmarks/floor -B Benchmarks/floor/build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build Benchmarks/floor/build -j2
  export APIARY_FLOOR_DIR="$PWD/Benchmarks/floor/build"
  cmake -S "$cpp" -B "$cpp/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$cpp/build" -j2
fi
echo "test ($(date -u +%H:%M:%S)): swift test $*"
swift test "$@"
# A filtered run (arguments for swift test) skips the samples.
if [ "$#" -eq 0 ]; then
  # The end-to-end tests once more on NIO, the transport that is not the default (core),
  # so both carry the whole sidecar; the transport suites above already run both.
  echo "test ($(date -u +%H:%M:%S)): the end-to-end tests again with APIARY_TRANSPORT=nio"
  APIARY_TRANSPORT=nio swift test --skip-build --filter EndToEndTests
  echo "test ($(date -u +%H:%M:%S)): SDKs/python/apiary-component (the Python component SDK's pytest suite)"
  bash SDKs/python/apiary-component/run-tests.sh -q
  echo "test ($(date -u +%H:%M:%S)): SamplesComponents/python/redis-store/selftest.py"
  "$python" SamplesComponents/python/redis-store/selftest.py
  echo "test ($(date -u +%H:%M:%S)): $cpp/selftest.py"
  "$python" "$cpp/selftest.py" "$cpp/build/file-secrets"
  echo "test ($(date -u +%H:%M:%S)): Tests/Samples/samples_e2e.py (the samples end to end, with the Dapr Python SDK)"
  bin=$(swift build --show-bin-path)
  "$python" Tests/Samples/samples_e2e.py --bin "$bin" --file-secrets "$cpp/build/file-secrets"
  # Components held to their contract: apiary conformance against every sample (Swift,
  # Python, C++) and two components written from Proto/ with plain grpcio.
  echo "test ($(date -u +%H:%M:%S)): Tests/Conformance/conformance_e2e.py (apiary conformance on every sample)"
  "$python" Tests/Conformance/conformance_e2e.py --bin "$bin" --file-secrets "$cpp/build/file-secrets"
  # What a Dapr app sees, checked against ../shared/spec/dapr-behaviour.md with the Dapr
  # Python SDK: errors, dead letters, routing, bulk, CloudEvents, outbox, query,
  # Configuration, Resiliency (Tests/Dapr/README.md).
  echo "test ($(date -u +%H:%M:%S)): Tests/Dapr/fidelity_e2e.py (Dapr fidelity, with the Dapr Python SDK)"
  "$python" Tests/Dapr/fidelity_e2e.py --bin "$bin"
  # Traces reach a real OTLP receiver (gRPC and HTTP/protobuf) with the app's trace id,
  # sampling and a dead or slow receiver behave, /metrics parses with Prometheus's own
  # parser and carries no request data, the Grafana dashboard queries only exported
  # metrics (Tests/Observability).
  echo "test ($(date -u +%H:%M:%S)): Tests/Observability/observability_e2e.py (traces, metrics, dashboard)"
  "$python" Tests/Observability/observability_e2e.py --bin "$bin"
  # Bad input: every answer a 4xx / INVALID_ARGUMENT with a message, never a crash or
  # a hang (Tests/Fuzz/README.md). Fixed seeds, so a failure replays with --case K.
  echo "test ($(date -u +%H:%M:%S)): Tests/Fuzz/fuzz_http.py (the HTTP API)"
  "$python" Tests/Fuzz/fuzz_http.py --bin "$bin" --file-secrets "$cpp/build/file-secrets" --cases 6000 --idle-check 5
  echo "test ($(date -u +%H:%M:%S)): Tests/Fuzz/fuzz_grpc.py (the gRPC API: messages, then hand-written HTTP/2)"
  "$python" Tests/Fuzz/fuzz_grpc.py --bin "$bin" --file-secrets "$cpp/build/file-secrets" --cases 2500 --raw-cases 400
  echo "test ($(date -u +%H:%M:%S)): Tests/Fuzz/fuzz_yaml.py (component files: apiary check, then apiary run)"
  "$python" Tests/Fuzz/fuzz_yaml.py --bin "$bin" --mode check --cases 2500
  "$python" Tests/Fuzz/fuzz_yaml.py --bin "$bin" --mode run --cases 150
  # Load: 64 clients through the samples for 60 s; 0 errors, every message delivered,
  # RSS flat after the first half (Scripts/soak.sh --duration 600 is the full soak).
  echo "test ($(date -u +%H:%M:%S)): Scripts/soak.sh --duration 60"
  Scripts/soak.sh --bin "$bin" --duration 60 --warmup 0.5
fi
