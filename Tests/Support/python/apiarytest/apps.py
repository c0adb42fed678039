"""What the apps the end-to-end tests start share (Tests/Fixtures/python/e2e:
http_app.py and grpc_app.py): their command line, their events file, and serving
until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading


class EventLog:
    """The events file: one JSON line (sorted keys) a record, appended and flushed at
    once, so a test can poll it. With `echo`, each line also goes to stderr after that
    prefix."""

    def __init__(self, path: str, echo: str | None = None) -> None:
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")
        self._echo = echo

    def record(self, entry: dict) -> None:
        line = json.dumps(entry, sort_keys=True)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
        if self._echo is not None:
            sys.stderr.write(f"{self._echo}{line}\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


def arguments(description: str) -> argparse.Namespace:
    """The apps' command line: --port P (0: a free one) and --events FILE."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", required=True, help="JSON-lines file the deliveries are appended to")
    return parser.parse_args()


def serve_until_signalled(start, stop) -> int:
    """Makes SIGTERM and SIGINT end the app, runs start() (it starts serving and answers
    the port), prints `listening on PORT`, waits for one of the signals, then runs
    stop(). Answers 0, the exit status."""
    stopping = threading.Event()

    def on_signal(signum, frame) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    port = start()
    print(f"listening on {port}", flush=True)
    while not stopping.wait(0.5):
        pass
    stop()
    return 0
