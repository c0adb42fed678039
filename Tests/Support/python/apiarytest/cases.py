"""The case runner of the check scripts the Swift end-to-end tests run
(Tests/Fixtures/python/e2e): `ok CASE` on stdout for each passing case; at the first
failure `FAIL CASE: <what was expected, what came>` on stderr and exit status 1."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import traceback

from apiarytest.checks import CheckFailure


def fail(case: str, message: str) -> None:
    """Reports the failed case and ends the process at once (status 1)."""
    sys.stdout.flush()
    sys.stderr.write(f"FAIL {case}: {message}\n")
    sys.stderr.flush()
    os._exit(1)


def run_case(name: str, body, timeout: float, explain=None) -> None:
    """Runs `body()`; a CheckFailure, any other exception or `timeout` seconds fail
    the case. `explain(error)` may render an unexpected error (None: the default,
    with a traceback on stderr)."""
    watchdog = threading.Timer(timeout, lambda: fail(name, f"the case did not finish within {timeout:.0f} s"))
    watchdog.daemon = True
    watchdog.start()
    try:
        body()
    except CheckFailure as failure:
        fail(name, str(failure))
    except Exception as error:  # noqa: BLE001
        message = explain(error) if explain else None
        if message is None:
            traceback.print_exc(file=sys.stderr)
            message = f"unexpected {type(error).__name__}: {error}"
        fail(name, message)
    finally:
        watchdog.cancel()
    print(f"ok {name}", flush=True)


def arguments(description: str, known: dict):
    """The command line of a check script: `[--store NAME] CASE [CASE ...]`; exits
    with status 2 naming the known cases when one is not in `known`."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default="statestore",
                        help="state store for the state and token cases (default statestore)")
    parser.add_argument("cases", nargs="+", metavar="CASE", help=", ".join(known))
    args = parser.parse_args()
    unknown = [name for name in args.cases if name not in known]
    if unknown:
        sys.stderr.write(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(known)}\n")
        sys.exit(2)
    return args
