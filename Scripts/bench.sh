#!/usr/bin/env bash
# Benchmarks, in one command: builds apiary and the harness (apiary-bench) in release
# mode and the C++ floor (Benchmarks/floor), runs `apiary-bench run` once per gRPC
# transport (nio, then core), and writes Benchmarks/results-nio.json,
# Benchmarks/results.json (core), the tables of BENCHMARKS.md (core, with a before/after
# table against nio) and Benchmarks/latency-cdf.png; then `apiary-bench tracing` (the
# cost of tracing: off, rate 0.0001, rate 1 to an OTLP sink) writes
# Benchmarks/results-tracing.json and the "Tracing cost" section of BENCHMARKS.md.
# Installs what is missing (the C++ build tools with apt-get as root; matplotlib with pip).
#
#   Scripts/bench.sh                  # 3 runs of every block per transport (about 6 minutes after the build)
#   BENCH_RUNS=5 Scripts/bench.sh     # more runs
#   Scripts/bench.sh --latency-calls 500 --throughput-calls 2000   # quicker, noisier
#   BENCH_ONLY=tracing Scripts/bench.sh   # the tracing cost only (about 2 minutes after the build)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
runs=${BENCH_RUNS:-3}

if [ "${BENCH_ONLY:-}" != tracing ] && { ! command -v cmake >/dev/null || ! command -v grpc_cpp_plugin >/dev/null || ! pkg-config --exists grpc++ 2>/dev/null; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing the C++ build tools (apt-get)" >&2
    packages=(g++ cmake pkg-config protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null; }
  else
    echo "bench: without the C++ build tools the floor (d) is skipped" >&2
  fi
fi
if [ "${BENCH_ONLY:-}" != tracing ] && ! "$python" -c 'import matplotlib' 2>/dev/null; then
  echo "bench: installing matplotlib (pip) for the CDF plot" >&2
  "$python" -m pip install --quiet --disable-pip-version-check matplotlib
fi

echo "bench: building in release mode (the first build takes several minutes)" >&2
swift build -c release --product apiary >&2
swift build -c release --product apiary-bench >&2
bin=$(swift build -c release --show-bin-path)
if [ "${BENCH_ONLY:-}" != tracing ] && command -v cmake >/dev/null; then
  cmake -S Benchmarks/floor -B Benchmarks/floor/build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build Benchmarks/floor/build -j2 >&2
fi

if [ "${BENCH_ONLY:-}" != tracing ]; then
# Both gRPC transports, one after the other: grpc-swift's NIO transport (the "before")
# and the gRPC core transport (apiary's default, whose figures head BENCHMARKS.md).
"$bin/apiary-bench" run --apiary "$bin/apiary" --floor Benchmarks/floor/build --runs "$runs" \
  --transport nio --out Benchmarks/results-nio.json "$@"
"$bin/apiary-bench" run --apiary "$bin/apiary" --floor Benchmarks/floor/build --runs "$runs" \
  --transport core --out Benchmarks/results.json "$@"
"$python" Benchmarks/report.py Benchmarks/results.json --baseline Benchmarks/results-nio.json \
  --markdown BENCHMARKS.md --png Benchmarks/latency-cdf.png
fi

# What tracing costs: the same sidecar with tracing off, at rate 0.0001 and at rate 1
# (every span exported over OTLP/gRPC to a sink in the harness), in turn within each run.
"$bin/apiary-bench" tracing --apiary "$bin/apiary" --runs "$runs" --out Benchmarks/results-tracing.json
"$python" Benchmarks/tracing_report.py Benchmarks/results-tracing.json --markdown BENCHMARKS.md
