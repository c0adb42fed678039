#!/usr/bin/env bash
# Runs every test: the Swift suites (unit, socket, process and end-to-end tests), the
# check that Proto/ matches the wire facts in ../shared/spec (skipped when that folder
# is absent), and the samples' own self-tests. Installs the Python packages the test
# fixtures and samples need when they are missing, and redis-server (apt-get, as root).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import grpc, grpc_tools, grpc_reflection, dapr.clients' 2>/dev/null; then
  echo "test: installing the Python fixture packages (Tests/Fixtures/python/requirements.txt)" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -r Tests/Fixtures/python/requirements.txt
fi

if ! "$python" -c 'import redis' 2>/dev/null; then
  echo "test: installing the redis-store sample's packages" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -r SamplesComponents/python/redis-store/requirements.txt
fi
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test: installing redis-server (apt-get) for the redis-store sample" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
  else
    echo "test: redis-server is missing; install it (apt-get install redis-server) to run the redis-store self-test" >&2
    exit 1
  fi
fi

"$python" Scripts/check-proto-spec.py
swift test "$@"
# A filtered run (arguments for swift test) skips the samples' self-tests.
if [ "$#" -eq 0 ]; then
  echo "test: SamplesComponents/python/redis-store/selftest.py"
  "$python" SamplesComponents/python/redis-store/selftest.py
fi
