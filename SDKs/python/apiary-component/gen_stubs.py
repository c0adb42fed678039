#!/usr/bin/env python3
"""Regenerate the Python stubs apiary-component ships, from the repository's Proto/.

    python3 gen_stubs.py [--proto-root DIR] [--check]

makes src/apiary_component/_generated/ (committed, never edited by hand) from the
contracts a component serves:

    dapr/proto/components/v1/*.proto       state, pub/sub, bindings, secrets
    apiary/proto/components/v1/*.proto     ComponentLogs/Tail
    spec/proto/pluggable/v1/**/*.proto     Layotto's Hello (and its common messages)

Their Python imports are rewritten to live under `apiary_component._generated`, so
they never collide with another distribution's top-level `dapr` package (the Dapr
Python SDK has one). --check regenerates into a temporary folder and compares it with
the committed one: exit status 0 when they are identical, 1 (listing the differing
files) when the committed stubs are stale. The test suite runs it.

This is `python3 Scripts/python_stubs.py sdk` of the repository, the one script that
compiles Proto/ for Python (the test fixtures' stubs too); it says more.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Scripts"))
import python_stubs  # noqa: E402

if __name__ == "__main__":
    sys.exit(python_stubs.main(["sdk", *sys.argv[1:]]))
