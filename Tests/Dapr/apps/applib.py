"""What the two subscriber apps share: the event log and the answer rules.

Every delivery is one JSON line appended (and flushed) to the events file, so the
suite can poll it.  What the app answers is decided per route by the app's config
file (JSON):

    {"routes": {"/dlq": "SUCCESS", ...}}     route (HTTP path or gRPC handler name) -> answer

A route that is not listed answers "data": the answer comes from the event's own
data, the JSON object's "answer" field (SUCCESS when there is none), so one
subscription can be driven message by message.  Answers:

    SUCCESS, RETRY, DROP   the Dapr statuses (HTTP: 200 {"status": X}; gRPC: TopicEventResponse)
    success                an unknown (lower-case) status string (HTTP only)
    404, 500               HTTP status with an empty body (HTTP only)
    error                  the gRPC handler raises (gRPC UNKNOWN); HTTP: 500
    fail-N                 RETRY for the first N deliveries of this CloudEvent id, then SUCCESS
    hold                   waits (up to 60 s) until the file <events>.release exists, then RETRY
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time


class EventLog:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")
        self._seen: dict = {}

    def record(self, entry: dict) -> None:
        entry = dict(entry, t=time.time())
        line = json.dumps(entry, sort_keys=True, default=str)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def count(self, key: str) -> int:
        """How many times `key` was seen before (0 the first time); counts this one."""
        with self._lock:
            seen = self._seen.get(key, 0)
            self._seen[key] = seen + 1
            return seen


class Answers:
    def __init__(self, config: dict, log: EventLog) -> None:
        self.routes = config.get("routes", {})
        self.log = log

    def answer_for(self, route: str, data, event_id: str) -> str:
        fixed = self.routes.get(route, "data")
        answer = fixed
        if fixed == "data":
            answer = "SUCCESS"
            if isinstance(data, (bytes, str)):
                try:
                    data = json.loads(data)
                except ValueError:
                    data = None
            if isinstance(data, dict) and isinstance(data.get("answer"), str):
                answer = data["answer"]
        if answer.startswith("fail-"):
            failures = int(answer.split("-", 1)[1])
            seen = self.log.count(f"{route}|{event_id}")
            return "RETRY" if seen < failures else "SUCCESS"
        if answer == "hold":
            self.log.record({"holding": True, "path": route, "id": event_id})
            release = self.log.path + ".release"
            deadline = time.monotonic() + 60
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.05)
            return "RETRY"
        return answer


def load_config(path: str | None) -> dict:
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def command_line(description: str) -> tuple:
    """The apps' command line (--port, --events, --config): answers the arguments, the
    config (load_config) and the EventLog of the events file."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--config", default=None)
    args = parser.parse_args()
    config = load_config(args.config)
    return args, config, EventLog(args.events)
