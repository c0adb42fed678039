#!/usr/bin/env bash
# Runs every test: the Swift suites (unit, socket, process and end-to-end tests) and the
# check that Proto/ matches the wire facts in ../shared/spec (skipped when that folder
# is absent). Installs the Python packages the test fixtures need when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import grpc, grpc_tools, grpc_reflection, dapr.clients' 2>/dev/null; then
  echo "test: installing the Python fixture packages (Tests/Fixtures/python/requirements.txt)" >&2
  "$python" -m pip install --quiet --disable-pip-version-check -r Tests/Fixtures/python/requirements.txt
fi

"$python" Scripts/check-proto-spec.py
swift test "$@"
