"""Shared helpers: component processes on real Unix sockets in temporary folders.

The suite tests the source tree (src/ is put first on sys.path, here and in
every component process it starts), so an older installed copy of the
package never hides a change.  Nothing waits on a fixed sleep: every wait
polls a condition until a deadline.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(TESTS)
SRC = os.path.join(SDK, "src")
COMPONENTS = os.path.join(TESTS, "components")
sys.path.insert(0, SRC)

import grpc  # noqa: E402

from apiary_component.sockets import _connect_error  # noqa: E402

HEADER = "x-component-instance"


def wait_until(predicate, timeout: float, interval: float = 0.02):
    """Polls `predicate` until it answers something true or `timeout` seconds
    pass; answers its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def meta(instance: str):
    return [(HEADER, instance)]


def initialised(component, stub_class, init_request, instance: str):
    """A `stub_class` stub on `component`'s channel, with the instance `instance`
    initialised by `init_request` (5 s timeout)."""
    stub = stub_class(component.channel)
    stub.Init(init_request, metadata=meta(instance), timeout=5)
    return stub


def accepts(path: str) -> bool:
    """True when something accepts connections on the Unix socket `path`."""
    return _connect_error(path) is None


class ComponentProcess:
    """A component script run with `python3`, its stdout and stderr in a file."""

    def __init__(self, script: str, folder: str, *args: str, socket_name: str = "everything",
                 env: dict | None = None, use_socket_arg: bool = True,
                 sockets: str | None = None):
        """`folder` holds the log, and the socket unless `sockets` names another folder."""
        self.folder = folder
        self.socket = os.path.join(sockets or folder, f"{socket_name}.sock")
        self.log_path = os.path.join(folder, f"{socket_name}.{os.getpid()}.{id(self)}.log")
        environment = dict(os.environ)
        environment["PYTHONPATH"] = SRC + os.pathsep + environment.get("PYTHONPATH", "")
        environment.update(env or {})
        argv = [sys.executable, os.path.join(COMPONENTS, script)]
        if use_socket_arg:
            argv += ["--socket", self.socket]
        argv += list(args)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                        env=environment)
        self._channel = None

    def wait_ready(self, timeout: float = 20.0) -> "ComponentProcess":
        ready = wait_until(lambda: self.process.poll() is not None or accepts(self.socket), timeout)
        if self.process.poll() is not None:
            raise AssertionError(f"component exited with {self.process.returncode}:\n{self.log()}")
        if not ready:
            raise AssertionError(f"no listener on {self.socket} after {timeout} s:\n{self.log()}")
        return self

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = grpc.insecure_channel(f"unix:{self.socket}")
            grpc.channel_ready_future(self._channel).result(timeout=10)
        return self._channel

    def log(self) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")

    def wait_exit(self, timeout: float = 20.0) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> int | None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            if self.wait_exit(15) is None:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def temporary_folder() -> str:
    # Short, under /tmp: a Unix socket path holds at most 107 bytes.
    return tempfile.mkdtemp(prefix="ac-test-", dir="/tmp")


@pytest.fixture
def folder():
    path = temporary_folder()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def everything():
    """One everything.py process for the whole test module."""
    path = temporary_folder()
    component = ComponentProcess("everything.py", path, "--log-level", "off").wait_ready()
    yield component
    component.stop()
    shutil.rmtree(path, ignore_errors=True)


class StreamReader:
    """Reads a server-streaming call on a thread; next() waits with a deadline."""

    def __init__(self, call):
        self.call = call
        self.items: queue.Queue = queue.Queue()
        self.ended = threading.Event()
        self.error = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for item in self.call:
                self.items.put(item)
        except grpc.RpcError as error:
            self.error = error
        finally:
            self.ended.set()

    def next(self, timeout: float = 5.0):
        """The next item, or None when the stream ended or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.items.get(timeout=0.05)
            except queue.Empty:
                if (self.ended.is_set() and self.items.empty()) or time.monotonic() >= deadline:
                    return None

    def until(self, predicate, timeout: float = 5.0):
        """Items read until one satisfies `predicate` (the last one), within `timeout`."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.next(max(0.0, deadline - time.monotonic()))
            if item is None:
                break
            seen.append(item)
            if predicate(item):
                return seen
        raise AssertionError(f"no matching item within {timeout} s; saw {seen!r}")

    def drain(self, quiet: float = 0.3) -> list:
        """Whatever arrives until nothing has for `quiet` seconds."""
        found = []
        while True:
            item = self.next(quiet)
            if item is None:
                return found
            found.append(item)


class RequestQueue:
    """An iterator of requests fed from the test (for bidirectional calls)."""

    def __init__(self, *first):
        self.queue: queue.Queue = queue.Queue()
        for item in first:
            self.queue.put(item)

    def put(self, item) -> None:
        self.queue.put(item)

    def close(self) -> None:
        self.queue.put(None)

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            yield item
