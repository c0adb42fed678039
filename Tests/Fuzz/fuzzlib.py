"""Shared helpers of the fuzzers in this folder: the sidecar under test (apiary with
the Swift memstore as a state store and hello component, built-ins, and the C++
file-secrets when it is built), crash detection and finding reports. Processes, ports
and the component files come from apiarytest (Tests/Support/python).

Standard library only; nothing here runs on import.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Support", "python"))
from apiarytest import components, paths  # noqa: E402
from apiarytest.httpapp import AppHandler  # noqa: E402
from apiarytest.net import free_port, http_get, socket_answers  # noqa: E402,F401  (the fuzzers use them)
from apiarytest.procs import Proc, describe_exit, wait_for  # noqa: E402

REPO = paths.REPO
DEFAULT_FILE_SECRETS = paths.DEFAULT_FILE_SECRETS
# How much of apiary's log the crash checks read (its end).
LOG_LIMIT = 4 * 1024 * 1024

# Signals that mean the process crashed (as opposed to being stopped).
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGTRAP, signal.SIGABRT, signal.SIGFPE,
                 signal.SIGSYS}
# What the Swift runtime and its backtracer print when a process traps.
CRASH_MARKERS = ("Fatal error:", "Program crashed", "Current stack trace", "Crash at", "Thread 0 crashed",
                 "💣", "Illegal instruction", "Segmentation fault", "Assertion failed", "Precondition failed",
                 "Fatal access conflict")


def default_bin_dir() -> str:
    """$APIARY_BIN_DIR, else .build/debug of the repository (nothing is built here)."""
    return os.environ.get("APIARY_BIN_DIR") or os.path.join(REPO, ".build", "debug")


def is_crash_status(status) -> bool:
    return status is not None and status < 0 and -status in {int(s) for s in CRASH_SIGNALS}


def crash_marker(text: str) -> str | None:
    for marker in CRASH_MARKERS:
        if marker in text:
            return marker
    return None


def crash_line(text: str) -> str | None:
    """The log line that names the crash (e.g. `GRPCCore/Timeout.swift:164: Precondition
    failed`), else the marker found, else None."""
    for line in text.splitlines():
        for marker in CRASH_MARKERS[:-1]:
            if marker in line:
                return line.strip()[:200]
    return crash_marker(text)


def short(data: bytes | str, limit: int = 240) -> str:
    """A printable, bounded rendering of a request or answer."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    text = repr(data[:limit])
    if len(data) > limit:
        text += f"... ({len(data)} bytes)"
    return text


class SinkApp:
    """An HTTP app the sidecar delivers to: subscribes to a few topics of `pubsub` and
    answers every POST 200 SUCCESS, counting them."""

    def __init__(self, topics=("orders", "fuzz")):
        self.count = 0
        self.lock = threading.Lock()
        subscriptions = [{"pubsubname": "pubsub", "topic": t, "route": f"/{t}"} for t in topics]
        app = self

        class Handler(AppHandler):
            content_type = "application/json"

            def do_GET(self):  # noqa: N802
                if self.path.startswith("/dapr/subscribe"):
                    self._send(200, json.dumps(subscriptions).encode())
                else:
                    self._send(404, b"{}")

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with app.lock:
                    app.count += 1
                self._send(200, b'{"status":"SUCCESS"}')

            def do_OPTIONS(self):  # noqa: N802
                self._send(200)

        ThreadingHTTPServer.daemon_threads = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SECRETS = {"db-password": "s3cret", "api": {"key": "k1"}, "empty": ""}


class Sidecar:
    """apiary run with memstore (statestore, greeter), built-ins (memory, pubsub,
    localsecrets) and, when its binary exists, file-secrets (secretstore, files), an app
    that takes the deliveries, all under `nice`. `components` lists the names."""

    def __init__(self, bin_dir: str, file_secrets: str | None, nice: int = 19, keep: bool = False,
                 extra_args: list | None = None):
        self.bin_dir = bin_dir
        # Absolute: the processes start in their own temporary folder.
        self.file_secrets = os.path.abspath(file_secrets) if file_secrets and os.access(file_secrets, os.X_OK) else None
        self.nice = nice
        self.keep = keep
        self.extra_args = extra_args or []
        self.tmp = tempfile.mkdtemp(prefix="apiary-fuzz-")
        self.sockets = os.path.join(self.tmp, "sockets")
        self.resources = os.path.join(self.tmp, "components")
        self.files = os.path.join(self.tmp, "files")
        os.makedirs(self.sockets, mode=0o700)
        os.makedirs(self.resources)
        os.makedirs(self.files)
        self.procs: list = []
        self.apiary: Proc | None = None
        self.app: SinkApp | None = None
        self.http_port = 0
        self.grpc_port = 0
        self.components = ["statestore", "greeter", "memory", "pubsub", "localsecrets"]

    def _spawn(self, name: str, argv: list, env: dict | None = None) -> Proc:
        proc = Proc(name, argv, os.path.join(self.tmp, f"{name}.log"), cwd=self.tmp, env=env).start(self.nice)
        self.procs.append(proc)
        return proc

    def _wait_socket(self, proc: Proc, path: str, timeout: float = 60) -> None:
        wait_for(lambda: socket_answers(path), timeout, f"{proc.name} to serve {path}", proc, tail=30)

    def start(self) -> "Sidecar":
        atexit.register(self._stop_children)  # a safety net when the driver dies on an exception
        for name in ("apiary", "memstore"):
            path = os.path.join(self.bin_dir, name)
            if not os.access(path, os.X_OK):
                raise RuntimeError(f"{path} is missing or not executable (see --bin)")
        secrets_file = os.path.join(self.tmp, "secrets.json")
        with open(secrets_file, "w", encoding="utf-8") as out:
            json.dump(SECRETS, out)
        with open(os.path.join(self.resources, "components.yaml"), "w", encoding="utf-8") as out:
            out.write(components.render("memstore.yaml", STATE_NAME="statestore") + "---\n"
                      + components.render("fuzz-builtins.yaml", SECRETS_FILE=secrets_file))
        memstore = self._spawn("memstore", [os.path.join(self.bin_dir, "memstore"), "--socket",
                                            os.path.join(self.sockets, "memstore.sock"), "--log-level", "warning"])
        waits = [(memstore, os.path.join(self.sockets, "memstore.sock"))]
        if self.file_secrets:
            components.write(self.resources, "file-secrets.yaml", SECRETS_FILE=secrets_file, FILES_DIR=self.files)
            fs = self._spawn("file-secrets", [self.file_secrets, "--socket",
                                              os.path.join(self.sockets, "file-secrets.sock"), "--log-level", "warning"])
            waits.append((fs, os.path.join(self.sockets, "file-secrets.sock")))
            self.components += ["secretstore", "files"]
        for proc, path in waits:
            self._wait_socket(proc, path)
        self.app = SinkApp()
        self.http_port, self.grpc_port = free_port(), free_port()
        self.apiary = self._spawn("apiary", [
            os.path.join(self.bin_dir, "apiary"), "run", "--resources-path", self.resources,
            "--sockets-dir", self.sockets, "--app-id", "fuzz", "--app-port", self.app.port,
            "--http-port", self.http_port, "--grpc-port", self.grpc_port, "--log-level", "warning",
            "--component-log-level", "warning", *self.extra_args,
        ], env={"DAPR_API_TOKEN": "", "APIARY_API_TOKEN": ""})
        wait_for(lambda: http_get(self.http_port, "/v1.0/healthz", timeout=2)[0] == 204, 60, "apiary to be ready",
                 self.apiary, interval=0.2, tail=30)
        return self

    def crash_signature(self) -> str:
        """One line naming the crash, for grouping."""
        line = crash_line(self.apiary.text(LOG_LIMIT)) if self.apiary else None
        return line or describe_exit(self.apiary.exit_status() if self.apiary else None)

    def crash_report(self) -> str | None:
        """Why apiary is considered crashed: dead, or a crash marker in its log."""
        if self.apiary is None:
            return None
        lines = []
        if not self.apiary.alive():
            lines.append(f"apiary is gone: {describe_exit(self.apiary.exit_status())}")
        marker = crash_marker(self.apiary.text(LOG_LIMIT))
        if marker:
            lines.append(f"apiary's log contains {marker!r}")
        if not lines:
            return None
        return "\n".join(lines + ["--- last lines of apiary's log ---"] + self.apiary.tail(40))

    def _stop_children(self) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.stop(grace=2)

    def stop(self) -> int | None:
        """Stops apiary (answers its exit status), then the components and the app."""
        status = self.apiary.stop() if self.apiary else None
        for proc in reversed(self.procs):
            if proc is not self.apiary:
                proc.stop()
        if self.app:
            self.app.stop()
        if self.keep:
            print(f"kept {self.tmp}", flush=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return status


def lower_priority(nice: int = 19) -> None:
    """Runs this driver itself under `nice` too."""
    try:
        os.nice(max(0, nice - os.nice(0)))
    except OSError:
        pass


def histogram_line(counter) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0])))


def save_findings(findings: list, folder: str | None, prefix: str, name_of, data_of) -> str | None:
    """Writes the inputs of the findings (at most three of a signature: the ones the report
    shows; a few big ones are GBs) into `folder`, made when missing, else into a new
    temporary folder named from `prefix`: finding number n as name_of(n, finding), with
    data_of(finding) in it, and its path in finding.file. Answers the folder (`folder`
    when there are no findings)."""
    if not findings:
        return folder
    if folder:
        os.makedirs(folder, exist_ok=True)
    else:
        folder = tempfile.mkdtemp(prefix=prefix)
    written = collections.Counter()
    for n, finding in enumerate(findings):
        written[finding.signature] += 1
        if written[finding.signature] > 3:
            continue
        finding.file = os.path.join(folder, name_of(n, finding))
        with open(finding.file, "wb") as out:
            out.write(data_of(finding))
    return folder


def finding_groups(findings: list) -> dict:
    """The findings grouped by signature, in the order they were found; prints how many
    findings and groups there are."""
    groups = collections.OrderedDict()
    for finding in findings:
        groups.setdefault(finding.signature, []).append(finding)
    print(f"findings: {len(findings)} in {len(groups)} groups")
    return groups


def print_detail(detail: str) -> None:
    """A finding's detail in the report: its first 45 lines, indented."""
    for line in detail.splitlines()[:45]:
        print(f"    {line}")


def exit_on_signals() -> None:
    """SIGTERM/SIGHUP raise KeyboardInterrupt so that `finally` blocks stop the children."""
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, raise_interrupt)


def eprint(*args) -> None:
    print(*args, file=sys.stderr, flush=True)
