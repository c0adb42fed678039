"""Shared helpers of the fuzzers in this folder: processes, free ports, the sidecar
under test (apiary with the Swift memstore as a state store and hello component,
built-ins, and the C++ file-secrets when it is built) and finding reports.

Standard library only; nothing here runs on import.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_FILE_SECRETS = os.path.join(REPO, "SamplesComponents", "cpp", "file-secrets", "build", "file-secrets")

# Signals that mean the process crashed (as opposed to being stopped).
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGTRAP, signal.SIGABRT, signal.SIGFPE,
                 signal.SIGSYS}
# What the Swift runtime and its backtracer print when a process traps.
CRASH_MARKERS = ("Fatal error:", "Program crashed", "Current stack trace", "Crash at", "Thread 0 crashed",
                 "💣", "Illegal instruction", "Segmentation fault", "Assertion failed", "Precondition failed",
                 "Fatal access conflict")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def default_bin_dir() -> str:
    """$APIARY_BIN_DIR, else .build/debug of the repository (nothing is built here)."""
    return os.environ.get("APIARY_BIN_DIR") or os.path.join(REPO, ".build", "debug")


def describe_exit(status) -> str:
    if status is None:
        return "running"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


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


class Proc:
    """A child process in its own session, its output in a log file."""

    def __init__(self, name: str, argv: list, log_path: str, cwd: str | None = None, env: dict | None = None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.cwd = cwd
        self.env = env
        self.popen: subprocess.Popen | None = None

    def start(self, nice: int = 0) -> "Proc":
        environment = dict(os.environ)
        environment.update(self.env or {})
        argv = (["nice", "-n", str(nice)] if nice else []) + self.argv
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          cwd=self.cwd, env=environment, start_new_session=True)
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def status(self):
        return None if self.popen is None else self.popen.poll()

    def stop(self, grace: float = 6.0):
        """SIGTERM, then SIGKILL after `grace`; answers the exit status."""
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
                self.popen.wait(timeout=10)
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # anything left in its own session
        except (ProcessLookupError, PermissionError):
            pass
        return self.popen.returncode

    def log_text(self, limit: int = 4 * 1024 * 1024) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - limit))
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 30) -> list:
        return self.log_text(256 * 1024).splitlines()[-lines:]

    def rss_kib(self) -> int | None:
        try:
            with open(f"/proc/{self.popen.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            return None
        return None


def socket_answers(path: str) -> bool:
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return False
    except FileNotFoundError:
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def http_get(port: int, path: str, timeout: float = 3.0):
    """(status, body) of a plain GET; (None, error text) when there is no answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, ValueError) as error:
        return None, f"{type(error).__name__}: {error}"


class SinkApp:
    """An HTTP app the sidecar delivers to: subscribes to a few topics of `pubsub` and
    answers every POST 200 SUCCESS, counting them."""

    def __init__(self, topics=("orders", "fuzz")):
        self.count = 0
        self.lock = threading.Lock()
        subscriptions = [{"pubsubname": "pubsub", "topic": t, "route": f"/{t}"} for t in topics]
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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


COMPONENTS_YAML = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.memstore
  version: v1
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: greeter
spec:
  type: hello.memstore
  version: v1
  metadata:
    - name: greeting
      value: Hello
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: memory
spec:
  type: state.in-memory
  version: v1
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.in-memory
  version: v1
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: localsecrets
spec:
  type: secretstores.local.file
  version: v1
  metadata:
    - name: secretsFile
      value: "{secrets}"
"""

FILE_SECRETS_YAML = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: secretstore
spec:
  type: secretstores.file-secrets
  version: v1
  metadata:
    - name: secretsFile
      value: "{secrets}"
    - name: nestedSeparator
      value: ":"
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: files
spec:
  type: bindings.file-secrets
  version: v1
  metadata:
    - name: rootPath
      value: "{files}"
"""

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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if socket_answers(path):
                return
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited ({describe_exit(proc.status())}) before serving {path}:\n"
                                   + "\n".join(proc.tail()))
            time.sleep(0.1)
        raise RuntimeError(f"{proc.name} does not serve {path} after {timeout:.0f} s")

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
            out.write(COMPONENTS_YAML.replace("{secrets}", secrets_file))
        memstore = self._spawn("memstore", [os.path.join(self.bin_dir, "memstore"), "--socket",
                                            os.path.join(self.sockets, "memstore.sock"), "--log-level", "warning"])
        waits = [(memstore, os.path.join(self.sockets, "memstore.sock"))]
        if self.file_secrets:
            with open(os.path.join(self.resources, "file-secrets.yaml"), "w", encoding="utf-8") as out:
                out.write(FILE_SECRETS_YAML.replace("{secrets}", secrets_file).replace("{files}", self.files))
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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.apiary.alive():
                raise RuntimeError(f"apiary exited ({describe_exit(self.apiary.status())}) before it was ready:\n"
                                   + "\n".join(self.apiary.tail()))
            status, _ = http_get(self.http_port, "/v1.0/healthz", timeout=2)
            if status == 204:
                return self
            time.sleep(0.2)
        raise RuntimeError("apiary not ready within 60 s:\n" + "\n".join(self.apiary.tail()))

    def crash_signature(self) -> str:
        """One line naming the crash, for grouping."""
        line = crash_line(self.apiary.log_text()) if self.apiary else None
        return line or describe_exit(self.apiary.status() if self.apiary else None)

    def crash_report(self) -> str | None:
        """Why apiary is considered crashed: dead, or a crash marker in its log."""
        if self.apiary is None:
            return None
        lines = []
        if not self.apiary.alive():
            lines.append(f"apiary is gone: {describe_exit(self.apiary.status())}")
        marker = crash_marker(self.apiary.log_text())
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


def exit_on_signals() -> None:
    """SIGTERM/SIGHUP raise KeyboardInterrupt so that `finally` blocks stop the children."""
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, raise_interrupt)


def eprint(*args) -> None:
    print(*args, file=sys.stderr, flush=True)
