"""Child processes with their output in a log file, and waiting for things."""

from __future__ import annotations

import datetime
import os
import signal
import shutil
import subprocess
import tempfile
import time

from apiarytest.checks import CheckFailure


def describe_exit(status) -> str:
    """`running`, `exit status N` or `killed by SIGNAME`, for a Popen return code."""
    if status is None:
        return "running"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


class Proc:
    """A child process in its own session, its output appended to a log file.

    Its own session: Ctrl-C in the terminal reaches only the test, and stop() takes
    whatever the child started too. start() again restarts it; each start and each
    kill9() writes a `=== time ...` line to the log."""

    def __init__(self, name: str, argv: list, log_path: str, cwd: str | None = None, env: dict | None = None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.cwd = cwd
        self.env = env
        self.popen: subprocess.Popen | None = None

    def start(self, nice: int = 0) -> "Proc":
        """Starts it (under `nice -n NICE` when `nice`); answers itself."""
        if self.alive():
            raise CheckFailure(f"{self.name} is already running")
        environment = dict(os.environ)
        environment.update(self.env or {})
        argv = (["nice", "-n", str(nice)] if nice else []) + self.argv
        with open(self.log_path, "ab") as log:
            log.write(f"=== {datetime.datetime.now().isoformat()} start: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          cwd=self.cwd, env=environment, start_new_session=True)
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def exit_status(self):
        """None while it runs (or before it started), else its Popen return code."""
        return None if self.popen is None else self.popen.poll()

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
            with open(self.log_path, "ab") as log:
                log.write(f"=== {datetime.datetime.now().isoformat()} killed with SIGKILL by the test\n".encode())

    def stop(self, grace: float = 6.0):
        """SIGTERM, then SIGKILL after `grace` seconds; then SIGKILL to whatever is left
        of its session (its children, if any). Answers the exit status."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    self.popen.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # the group is this child's own session
        except (ProcessLookupError, PermissionError):
            pass
        return self.popen.returncode

    # ------------------------------------------------------------ its log

    def text(self, limit: int | None = None) -> str:
        """The log (its last `limit` bytes when given); "" when it cannot be read."""
        try:
            with open(self.log_path, "rb") as log:
                if limit is not None:
                    log.seek(0, os.SEEK_END)
                    log.seek(max(0, log.tell() - limit))
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def size(self) -> int:
        """The log's size now: an offset for since()."""
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def since(self, offset: int) -> str:
        """What the log gained after `offset` (from size())."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 30) -> list:
        if not os.path.exists(self.log_path):
            return [f"(no log {self.log_path})"]
        return self.text(256 * 1024).splitlines()[-lines:]

    def rss_kib(self) -> int | None:
        """Its resident memory (VmRSS), None when it is gone."""
        try:
            with open(f"/proc/{self.popen.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            return None
        return None


class Processes:
    """The processes a test run starts, their logs in `logs` of one temporary folder
    `tmp` (prefix `prefix`)."""

    def __init__(self, prefix: str):
        self.procs: list = []
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.logs = os.path.join(self.tmp, "logs")
        os.makedirs(self.logs)

    def spawn(self, name: str, argv: list, cwd: str | None = None, env: dict | None = None) -> Proc:
        """Starts `name` with its output in logs/NAME.log."""
        proc = Proc(name, argv, os.path.join(self.logs, f"{name}.log"), cwd=cwd, env=env)
        self.procs.append(proc)
        proc.start()
        return proc

    def remove_folder(self, keep: bool = False) -> None:
        """After the processes were stopped: warns of any still running, then removes
        the temporary folder (or says where it is, with `keep`)."""
        leftovers = [f"{p.name} (pid {p.pid})" for p in self.procs if p.alive()]
        if leftovers:
            print(f"warning: still running after cleanup: {', '.join(leftovers)}", flush=True)
        if keep:
            print(f"kept {self.tmp} (logs in {self.logs})", flush=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def wait_until(predicate, timeout: float, interval: float = 0.05):
    """Polls `predicate` until it answers something truthy (returned) or `timeout`
    seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class WaitFailed(RuntimeError):
    """wait_for gave up: the time ran out, or the process it watched exited."""


def wait_for(predicate, timeout: float, what: str, proc: Proc | None = None, interval: float = 0.1,
             tolerate: tuple = (), tail: int = 20):
    """Polls `predicate` until it answers something truthy, and answers that. Raises
    WaitFailed naming `what` when `timeout` seconds pass, or at once when `proc` exits
    (with the last `tail` lines of its log). Exceptions of the types in `tolerate`
    count as a falsy answer (the last one is named when the time runs out)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except tolerate as error:
            last_error = error
        if proc is not None and not proc.alive():
            raise WaitFailed(f"{proc.name} exited ({describe_exit(proc.exit_status())}) while waiting for {what}:\n  "
                             + "\n  ".join(proc.tail(tail)))
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last_error})" if last_error else ""
            logs = (":\n  " + "\n  ".join(proc.tail(tail))) if proc is not None else ""
            raise WaitFailed(f"{what}: not within {timeout:.0f} s{suffix}{logs}")
        time.sleep(interval)
