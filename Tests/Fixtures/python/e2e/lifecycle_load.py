#!/usr/bin/env python3
"""Steady load on the sidecar's gRPC API while a test restarts things under it.

Usage:
  python3 lifecycle_load.py --pubsub NAME --topic TOPIC --store NAME --out FILE
                            --stop-file PATH [--interval-ms 20] [--max-seconds 120]
                            [--call-timeout 10]

Every interval (a tick, n = 1, 2, ...) it makes, through the Dapr Python SDK's
`DaprClient` (gRPC on DAPR_GRPC_PORT; DAPR_API_TOKEN, when set, is sent as
`dapr-api-token` by the SDK itself):

  publish_event(NAME, TOPIC, data='{"seq": n}', data_content_type="application/json")
  save_state(STORE, f"k{n}", str(n))

and appends one JSON line per call to FILE, flushed per line:

  {"seq": n, "op": "publish"|"save", "ok": true|false, "code": null|"UNAVAILABLE"|...,
   "ms": 3.21, "t": 1700000000.123}

`code` is the gRPC status name of a failed call (null when ok, and null with
an `error` text for a failure that carries no gRPC status); failed calls also
carry `error`, the status details.  `ms` is the call's latency in
milliseconds, `t` the wall-clock time (time.time()) when the call started.

Ticks run on a fixed schedule; a tick that ends late (a slow or timed-out
call) is followed at once by the next one, without catching up on the missed
ticks.  It stops before the next tick once PATH exists, --max-seconds have
passed since the first tick, or SIGTERM/SIGINT arrives; then it prints
`done N` (N = ticks made) on stdout and exits 0.  Errors answered by the
sidecar, or a sidecar that is gone, never stop it.

Per call: a deadline of --call-timeout seconds (default: DAPR_API_TIMEOUT_SECONDS
if set, else 10; the SDK applies it through DAPR_API_TIMEOUT_SECONDS), and no
SDK retries (RetryPolicy(max_attempts=0)), so every line is exactly one RPC.
The gRPC channel is made with short reconnect backoffs (0.1 s to 0.5 s instead
of gRPC's 1 s growing to 120 s), so that after the sidecar comes back the
calls succeed again within half a second rather than after a long backoff.

`DaprClient()` first waits (DAPR_HEALTH_TIMEOUT, default 60 s) for
GET /v1.0/healthz/outbound on DAPR_HTTP_PORT; its progress messages go to
stderr.  If that fails, the script prints the reason on stderr and exits 1
without writing any line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time

import grpc

from dapr.clients import DaprClient
from dapr.clients.retry import RetryPolicy

# Reconnect quickly once the sidecar is back (gRPC channel arguments).
RECONNECT_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]


def make_client() -> DaprClient:
    """A DaprClient without retries and with short reconnect backoffs.

    DaprClient offers no way to pass channel arguments, so grpc.insecure_channel
    is wrapped while the client makes its channel (the SDK calls it as
    grpc.insecure_channel(target, options=...)).  The health wait's messages,
    which the SDK prints on stdout, go to stderr."""
    original = grpc.insecure_channel

    def insecure_channel(target, options=None, compression=None):
        return original(target, list(options or ()) + RECONNECT_OPTIONS, compression)

    grpc.insecure_channel = insecure_channel
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return DaprClient(retry_policy=RetryPolicy(max_attempts=0))
    finally:
        grpc.insecure_channel = original


def status_of(error: BaseException) -> tuple[str | None, str]:
    """(gRPC status name or None, a description) of a failed call."""
    candidates = [error, error.__context__, error.__cause__]
    for candidate in candidates:
        if isinstance(candidate, grpc.RpcError):
            try:
                code = candidate.code()
                details = candidate.details()
            except Exception:  # an RpcError that is not a call outcome
                continue
            name = getattr(code, "name", None)
            if name is not None:
                return name, f"{name}: {details}"
    return None, f"{type(error).__name__}: {error}"


class Recorder:
    def __init__(self, path: str):
        self._file = open(path, "a", encoding="utf-8")

    def call(self, seq: int, op: str, fn) -> bool:
        started_wall = time.time()
        started = time.perf_counter()
        entry = {"seq": seq, "op": op, "ok": True, "code": None}
        try:
            fn()
        except Exception as error:  # every failure is data here
            code, text = status_of(error)
            entry.update(ok=False, code=code, error=text)
        entry["ms"] = round((time.perf_counter() - started) * 1000.0, 3)
        entry["t"] = started_wall
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        return entry["ok"]

    def close(self) -> None:
        self._file.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pubsub", required=True, help="pub/sub component name")
    parser.add_argument("--topic", required=True, help="topic to publish to")
    parser.add_argument("--store", required=True, help="state store name")
    parser.add_argument("--out", required=True, help="JSON-lines file the results are appended to")
    parser.add_argument("--stop-file", required=True, help="stop once this path exists")
    parser.add_argument("--interval-ms", type=float, default=20.0,
                        help="time between ticks in ms (default %(default)s)")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="stop after this many seconds at the latest (default %(default)s)")
    parser.add_argument("--call-timeout", type=float,
                        default=float(os.environ.get("DAPR_API_TIMEOUT_SECONDS") or 10),
                        help="per-call deadline in seconds (default: DAPR_API_TIMEOUT_SECONDS or 10)")
    args = parser.parse_args()

    # The SDK's timeout interceptor reads this at every call.
    os.environ["DAPR_API_TIMEOUT_SECONDS"] = str(args.call_timeout)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    try:
        client = make_client()
    except Exception as error:
        print(f"lifecycle_load: cannot create DaprClient: {type(error).__name__}: {error}",
              file=sys.stderr, flush=True)
        return 1

    recorder = Recorder(args.out)
    interval = max(args.interval_ms, 0.0) / 1000.0
    started = time.monotonic()
    next_tick = started
    seq = 0
    failures = {"publish": 0, "save": 0}
    try:
        while not stop.is_set():
            if os.path.exists(args.stop_file) or time.monotonic() - started >= args.max_seconds:
                break
            seq += 1
            n = seq  # bound for the lambdas below
            if not recorder.call(n, "publish", lambda: client.publish_event(
                    pubsub_name=args.pubsub, topic_name=args.topic,
                    data=json.dumps({"seq": n}), data_content_type="application/json")):
                failures["publish"] += 1
            if not recorder.call(n, "save", lambda: client.save_state(
                    store_name=args.store, key=f"k{n}", value=str(n))):
                failures["save"] += 1
            next_tick = max(next_tick + interval, time.monotonic())
            stop.wait(max(0.0, next_tick - time.monotonic()))
    finally:
        recorder.close()
        with contextlib.suppress(Exception):
            client.close()

    print(f"lifecycle_load: {seq} ticks in {time.monotonic() - started:.1f} s, failed "
          f"publish {failures['publish']}, save {failures['save']}", file=sys.stderr, flush=True)
    print(f"done {seq}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
