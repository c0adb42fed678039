#!/usr/bin/env bash
# Runs apiary-component's pytest suite:  bash SDKs/python/apiary-component/run-tests.sh [pytest args]
# Installs the pinned pytest first when it is missing (the SDK's own dependencies
# come from `python3 -m pip install SDKs/python/apiary-component`).  $PYTHON picks
# the interpreter (default python3).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
if ! "$python" -c 'import pytest' 2>/dev/null; then
  echo "run-tests: installing pytest==9.0.3" >&2
  "$python" -m pip install --quiet --disable-pip-version-check pytest==9.0.3
fi
if ! "$python" -c 'import grpc, grpc_health, grpc_reflection, grpc_status, grpc_tools' 2>/dev/null; then
  echo "run-tests: the SDK's dependencies are missing; install them with" >&2
  echo "  $python -m pip install $here" >&2
  exit 1
fi
cd "$here"
exec "$python" -m pytest -p no:cacheprovider tests "$@"
