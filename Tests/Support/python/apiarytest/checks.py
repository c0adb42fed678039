"""Named checks: run one, print `PASS name: ...` or `FAIL name: ...` (with the tail of
the logs that explain it), count them, and end with `N passed, M failed`."""

from __future__ import annotations

import signal
import sys
import time
import traceback


class CheckFailure(Exception):
    """A check did not hold; the message says what was expected and what came."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: stop like Ctrl-C."""


def check(condition, message: str) -> None:
    if not condition:
        raise CheckFailure(message)


def now() -> float:
    return time.monotonic()


def unexpected(error: BaseException, describe=None) -> str:
    """What a check that raised something other than CheckFailure reports: the error
    and the last frames of its traceback."""
    frames = traceback.format_exception(type(error), error, error.__traceback__)
    what = describe(error) if describe else f"{type(error).__name__}: {error}"
    return f"unexpected {what}\n" + "".join(frames[-4:]).rstrip()


class Report:
    """Counts and prints the checks of a suite.

    A check is a function answering the PASS message or raising (CheckFailure: the
    check failed; anything else: it failed unexpectedly, with a traceback). `procs`
    (a list, or a function answering one) are the processes whose log tails explain
    a failure. `describe` renders an unexpected error; `line_limit` cuts log lines."""

    def __init__(self, tail_lines: int = 30, describe=None, line_limit: int | None = None):
        self.passed = 0
        self.failed = 0
        self.results: list = []
        self.tail_lines = tail_lines
        self.describe = describe
        self.line_limit = line_limit

    def report_pass(self, name: str, message: str) -> None:
        self.results.append((name, True))
        self.passed += 1
        print(f"PASS {name}: {message}", flush=True)

    def report_fail(self, name: str, reason: str, procs=()) -> None:
        self.results.append((name, False))
        self.failed += 1
        lines = reason.splitlines() or [""]
        print(f"FAIL {name}: {lines[0]}", flush=True)
        for line in lines[1:]:
            print(f"    {line}")
        for proc in procs() if callable(procs) else procs:
            if proc is None:
                continue
            state = "running" if proc.alive() else f"exited {proc.exit_status()}"
            print(f"    --- last {self.tail_lines} lines of {proc.name} (pid {proc.pid}, {state}; {proc.log_path}) ---")
            for line in proc.tail(self.tail_lines):
                print(f"    | {line[:self.line_limit] if self.line_limit else line}")
        sys.stdout.flush()

    def report(self, name: str, ok: bool, message: str, procs=()) -> None:
        if ok:
            self.report_pass(name, message)
        else:
            self.report_fail(name, message, procs)

    def run_check(self, name: str, fn, procs=()) -> bool:
        """Runs one check; answers True when it passed."""
        try:
            message = fn()
        except (KeyboardInterrupt, Interrupted):
            raise
        except CheckFailure as failure:
            self.report_fail(name, str(failure), procs)
            return False
        except Exception as error:  # noqa: BLE001
            self.report_fail(name, unexpected(error, self.describe), procs)
            return False
        self.report_pass(name, message or "ok")
        return True

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


def run_suite(suite) -> int:
    """Runs `suite.run()` with SIGTERM and SIGHUP stopping it like Ctrl-C, then always
    `suite.cleanup()`; prints `N passed, M failed` (`suite` is a Report) and answers
    the exit status: 130 when interrupted, 1 when a check failed, else 0."""

    def on_signal(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    interrupted = False
    try:
        suite.run()
    except (KeyboardInterrupt, Interrupted) as stop:
        interrupted = True
        what = f"{type(stop).__name__} {stop}".strip() if str(stop) else type(stop).__name__
        print(f"interrupted ({what}): stopping every process the suite started", flush=True)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        suite.cleanup()
    print(suite.summary(), flush=True)
    if interrupted:
        return 130
    return 1 if suite.failed else 0


class Checks:
    """The check runner of the smaller self-tests: `run(name, body)` runs `body`,
    which passes by returning (optionally a detail to print) and fails by raising
    anything; prints `PASS name[: detail]` or `FAIL name: error` and counts."""

    def __init__(self, verbose: bool = False, timed: bool = False):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose
        self.timed = timed

    def run(self, name: str, body) -> bool:
        started = time.monotonic()
        took = lambda: f" ({time.monotonic() - started:.1f} s)" if self.timed else ""  # noqa: E731
        try:
            detail = body()
        except (KeyboardInterrupt, Interrupted):
            raise
        except Exception as error:  # noqa: BLE001 - every failure is reported, then the next check
            self.failed += 1
            print(f"FAIL {name}{took()}: {type(error).__name__ + ': ' if not isinstance(error, (AssertionError, CheckFailure)) else ''}{error}", flush=True)
            if self.verbose:
                traceback.print_exc()
            return False
        self.passed += 1
        print(f"PASS {name}{took()}{': ' + detail if isinstance(detail, str) and detail else ''}", flush=True)
        return True

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


def expect_equal(what: str, got, expected) -> None:
    if got != expected:
        raise CheckFailure(f"{what}: expected {expected!r}, got {got!r}")
