#!/usr/bin/env python3
"""End-to-end suite of the three sample components behind real Apiary sidecars.

    python3 Tests/Samples/samples_e2e.py --bin DIR [--file-secrets PATH] [--only NAME ...] [--keep]

Starts, on a temporary folder, a redis-server of its own (free port), the Python
redis-store sample, the C++ file-secrets sample, the Swift memstore and ticker
samples, and `apiary run` (sidecar A) delivering to an HTTP app served by this
script; the scale-out scenario adds sidecar B (same --app-id, its own sockets
folder, its own redis-store process, its own app) on the same redis-server.
Every scenario drives the sidecars through the Dapr Python SDK (dapr 1.19.0) and
prints one line per check:

    PASS <check>: <what was checked>
    FAIL <check>: <why>, followed by the tail of the relevant process logs

and the run ends with one line `N passed, M failed` (exit 1 when a check
failed, 130 when interrupted, else 0).  Every process this script starts is
stopped on every way out (normal end, failure, Ctrl-C, SIGTERM).

Scenarios (--only takes these names): state, pubsub, secrets, files, ticker,
hello, observability, scaleout, faults.  The faults scenario adds sidecar F (its
own --app-id, sockets folder, components and app; --call-timeout 2s) and breaks
its components while clients call through it.  See README.md beside this file.
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from urllib.parse import quote, urlsplit

# The sidecars run without an API token; the SDK must not send one either.
os.environ["DAPR_API_TOKEN"] = ""
os.environ["APIARY_API_TOKEN"] = ""
# Deadline of every unary SDK call, and of the SDK's wait for the sidecar.
os.environ.setdefault("DAPR_API_TIMEOUT_SECONDS", "15")
os.environ.setdefault("DAPR_HEALTH_TIMEOUT", "20")

import grpc  # noqa: E402
from dapr.clients import DaprClient  # noqa: E402
from dapr.clients.grpc._request import (  # noqa: E402
    TransactionalStateOperation,
    TransactionOperationType,
)
from dapr.clients.grpc._state import StateItem  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Support", "python"))
from apiarytest import net, paths, redisserver  # noqa: E402
from apiarytest.dapr import close_quietly, dapr_client  # noqa: E402
from apiarytest.httpapp import AppHandler  # noqa: E402
from apiarytest.checks import CheckFailure, Report, check, now, run_suite  # noqa: E402
from apiarytest.components import component_yaml  # noqa: E402
from apiarytest.net import free_port, socket_answers  # noqa: E402
from apiarytest.procs import Proc, Processes, wait_until  # noqa: E402

REPO = paths.REPO
REDIS_STORE = paths.REDIS_STORE
MULTI_COMPONENT = paths.MULTI_COMPONENT
FILE_SECRETS_DIR = paths.FILE_SECRETS_DIR
DEFAULT_FILE_SECRETS = paths.DEFAULT_FILE_SECRETS

SCENARIOS = ["state", "pubsub", "secrets", "files", "ticker", "hello", "observability", "scaleout", "faults"]

RUN = uuid.uuid4().hex[:10]
APP_ID = "samples-e2e"
PUBSUB = "pubsub-redis"
STATESTORE = "statestore-redis"
TOPIC_ORDERS = "orders"
TOPIC_SCALE_1 = "scale-1"
TOPIC_SCALE_2 = "scale-2"
VISIBILITY_MS = 2000
TAIL_LINES = 30

# The faults scenario: sidecar F and its components.
FAULTS_APP_ID = "samples-e2e-faults"
FAULT_SECRETS = "faults-secrets"
FAULT_MEMSTORE = "faults-memstore"
FAULT_STATE_REDIS = "faults-state-redis"
FAULT_PUBSUB_REDIS = "faults-pubsub-redis"
FAULT_MULTI = "faults-multi"
FAULT_TICKS = "faults-ticks"
TOPIC_FAULTS = "faults"
GARBAGE_SUFFIX = "garbage-answer"  # multi_component.py --garbage-get-key
HUGE_SUFFIX = "huge-answer"  # multi_component.py --huge-get-key (100 MiB)
FAULT_CALL_TIMEOUT = 2.0  # sidecar F's --call-timeout, in seconds
FAULT_DEADLINE = FAULT_CALL_TIMEOUT + 2.0  # every call through F must end within this
# What a call through F may fail with while a component is broken: a JSON error
# body {"errorCode", "message"} with one of these HTTP statuses, or one of these
# gRPC codes with a message and an error-code trailer.
FAULT_HTTP_STATUSES = (500, 503, 504)
FAULT_GRPC_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED)
# The failures each fault may cause (load_report's `allowed`): a component that is
# gone, or whose socket file is gone, is unavailable (DOWN until the socket is back);
# a redis outage makes redis-store slow (DEADLINE_EXCEEDED), unreachable, or fail.
ALLOWED_GONE = ("HTTP 503", "gRPC UNAVAILABLE")
ALLOWED_ANY = ALLOWED_GONE + ("HTTP 500", "gRPC INTERNAL", "HTTP 504", "gRPC DEADLINE_EXCEEDED")
# Lines of a crashed Swift process.
CRASH_MARKS = ("Fatal error", "Program crashed", "crashed:", "Segmentation fault", "Illegal instruction")


def unique(name: str) -> str:
    return f"e2e-{RUN}-{name}"


def describe_error(error: BaseException) -> str:
    if isinstance(error, grpc.RpcError):
        try:
            return f"gRPC {error.code().name}: {error.details()!r}"
        except Exception:  # noqa: BLE001
            return repr(error)
    inner = error.__context__ or error.__cause__
    if isinstance(error, ValueError) and isinstance(inner, grpc.RpcError):
        return f"{describe_error(inner)} (the SDK could not decode its status details: {error})"
    return f"{type(error).__name__}: {error}"


def grpc_code(error: BaseException):
    """The status code of a gRPC failure raised by the SDK, else None."""
    if isinstance(error, grpc.RpcError):
        return error.code()
    inner = error.__context__ or error.__cause__
    if isinstance(inner, grpc.RpcError):
        return inner.code()
    return None


def error_code_trailer(error: BaseException) -> str | None:
    """The `error-code` trailer Apiary puts on gRPC errors (the SDK's DaprGrpcError
    keeps the original call as its cause)."""
    for candidate in (error, error.__cause__, error.__context__):
        trailing = getattr(candidate, "trailing_metadata", None)
        if callable(trailing):
            try:
                for key, value in trailing() or ():
                    if key == "error-code":
                        return value
            except Exception:  # noqa: BLE001
                pass
    return None


def sdk(what: str, fn):
    """Runs an SDK call that must succeed; any failure becomes a CheckFailure naming it."""
    try:
        return fn()
    except CheckFailure:
        raise
    except Exception as error:  # noqa: BLE001
        raise CheckFailure(f"{what}: expected success, got {describe_error(error)}")


def expect_failure(what: str, fn, codes: tuple) -> BaseException:
    """Runs an SDK call that must fail with one of the gRPC `codes`."""
    try:
        result = fn()
    except Exception as error:  # noqa: BLE001
        code = grpc_code(error)
        if code is None or code not in codes:
            wanted = "/".join(c.name for c in codes)
            raise CheckFailure(f"{what}: expected gRPC {wanted}, got {describe_error(error)}")
        return error
    raise CheckFailure(f"{what}: expected an error, but the call succeeded ({result!r})")


def http(method: str, url: str, body: bytes | None = None, timeout: float = 5.0):
    """(status, headers, body bytes); HTTP errors are answers too. A body goes as JSON."""
    headers = {"Content-Type": "application/json"} if body is not None else None
    return net.http(method, url, body, headers, timeout)


# --------------------------------------------------------------------------- the app


class App:
    """An HTTP app for the sidecar to deliver to, served in this process.

    GET /dapr/subscribe answers `subscriptions`; every POST is recorded (time, path,
    body, parsed JSON, CloudEvent id) and answered 200 {"status": "SUCCESS"}."""

    def __init__(self, name: str, subscriptions: list):
        self.name = name
        self.subscriptions = subscriptions
        self.records: list = []
        self.condition = threading.Condition()
        self.delays: dict = {}  # path -> seconds to wait before answering a POST there
        app = self

        class Handler(AppHandler):
            def do_GET(self):  # noqa: N802
                path = urlsplit(self.path).path
                if path == "/dapr/subscribe":
                    self._send(200, json.dumps(app.subscriptions).encode(), "application/json")
                elif path in ("/healthz", "/"):
                    self._send(200)
                else:
                    self._send(404)

            def do_POST(self):  # noqa: N802
                raw = self._body()
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                record = {
                    "t": now(),
                    "path": urlsplit(self.path).path,
                    "body": raw,
                    "json": parsed,
                    "id": parsed.get("id") if isinstance(parsed, dict) else None,
                    "content_type": self.headers.get("Content-Type"),
                }
                delay = app.delays.get(record["path"])
                if delay:
                    time.sleep(delay)
                with app.condition:
                    app.records.append(record)
                    app.condition.notify_all()
                self._send(200, b'{"status":"SUCCESS"}', "application/json")

            def do_OPTIONS(self):  # noqa: N802
                self._send(200)

        ThreadingHTTPServer.daemon_threads = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name=f"app-{name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

    def posts(self, path: str, since: float = 0.0) -> list:
        with self.condition:
            return [r for r in self.records if r["path"] == path and r["t"] >= since]

    def wait_for(self, predicate, timeout: float):
        """Waits until predicate(self) is truthy; answers its last value."""
        deadline = now() + timeout
        with self.condition:
            while True:
                value = predicate(self)
                if value or now() >= deadline:
                    return value
                self.condition.wait(timeout=min(0.5, max(0.0, deadline - now())))


def event_payload(record: dict):
    """The data of a delivered CloudEvent as a Python value (None when absent)."""
    event = record["json"]
    if not isinstance(event, dict):
        return None
    if "data" in event:
        data = event["data"]
    elif "data_base64" in event:
        try:
            data = base64.b64decode(event["data_base64"])
        except ValueError:
            return None
    else:
        return None
    if isinstance(data, (bytes, str)):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def indices_of(records: list, round_tag: str) -> list:
    """The `i` of every delivered event whose data is {"run": RUN, "round": round_tag, "i": ...}."""
    return [i for i, _ in events_of(records, round_tag)]


def events_of(records: list, round_tag: str) -> list:
    """(i, CloudEvent) of every delivered event of this run and round."""
    found = []
    for record in records:
        data = event_payload(record)
        if isinstance(data, dict) and data.get("run") == RUN and data.get("round") == round_tag:
            found.append((data.get("i"), record["json"]))
    return found


def envelope_report(events: list, topic: str):
    """Checks each delivered CloudEvent's envelope; answers (problems, how duplicates split):
    a duplicate with the same id is a redelivery, with another id a second publish (a
    publish retried after a failure that had in fact been written)."""
    problems = []
    for i, event in events:
        if not (event.get("id") and event.get("topic") == topic and event.get("pubsubname") == PUBSUB
                and event.get("specversion") == "1.0"):
            problems.append(f"index {i}: envelope {json.dumps({k: v for k, v in event.items() if k != 'data'})}")
    ids = collections.defaultdict(list)
    for i, event in events:
        ids[i].append(event.get("id"))
    same_id = sum(len(v) - len(set(v)) for v in ids.values())
    other_id = sum(len(set(v)) - 1 for v in ids.values())
    return problems, f"{same_id} redeliveries of the same CloudEvent id, {other_id} with another id"


# --------------------------------------------------------------------------- faults


class Load:
    """Client threads calling through a sidecar until stop(). Each thread runs its
    step over and over (`pause` apart); a step makes one call and answers
    (verdict, status). Every call is recorded as (start, seconds, thread, verdict,
    status): verdict "ok", "error" (a meaningful failure, see http_step and
    grpc_step) or "bad" (anything else: no answer, a reset, an error without a
    JSON body or message, an unexpected status or code, a wrong answer)."""

    def __init__(self, steps: dict, pause: float = 0.02):
        self.steps = steps
        self.pause = pause
        self.records: list = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(label, step), daemon=True, name=f"load-{label}")
                        for label, step in steps.items()]

    def start(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def _loop(self, label: str, step) -> None:
        while not self.halt.is_set():
            started = now()
            try:
                verdict, status = step()
            except Exception as error:  # noqa: BLE001
                verdict, status = "bad", f"the step raised {describe_error(error)}"[:200]
            with self.lock:
                self.records.append((started, now() - started, label, verdict, status))
            self.halt.wait(self.pause)

    def stop(self, timeout: float) -> list:
        """Stops the threads; answers the names of those still in a call after `timeout`."""
        self.halt.set()
        deadline = now() + timeout
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - now()))
        return [thread.name for thread in self.threads if thread.is_alive()]

    def snapshot(self) -> list:
        with self.lock:
            return list(self.records)

    def all_ok_since(self, since: float) -> bool:
        """Every thread made a successful call that started at or after `since`."""
        done = {label for started, _, label, verdict, _ in self.snapshot() if verdict == "ok" and started >= since}
        return done >= set(self.steps)


def load_report(records: list, allowed: tuple = ALLOWED_ANY, deadline: float = FAULT_DEADLINE):
    """(problems, summary) of a Load's records: bad calls, failures whose status does
    not start with one of `allowed` ("HTTP 503", "gRPC UNAVAILABLE", ...) and calls
    slower than `deadline` are problems; the summary counts calls and lists the
    failures' statuses."""
    ok = sum(1 for r in records if r[3] == "ok")
    errors = collections.Counter(r[4] for r in records if r[3] == "error")
    unexpected = collections.Counter({k: v for k, v in errors.items() if not k.startswith(allowed)})
    bad = collections.Counter(r[4] for r in records if r[3] == "bad")
    late = [r for r in records if r[1] > deadline]
    slowest = max((r[1] for r in records), default=0.0)
    failures = ", ".join(f"{k} x{v}" for k, v in errors.most_common()) or "none"
    summary = f"{len(records)} calls, {ok} OK, failures: {failures}; slowest {slowest:.2f} s"
    problems = []
    if bad:
        problems.append(f"{sum(bad.values())} calls without a meaningful answer: "
                        + "; ".join(f"{k} x{v}" for k, v in bad.most_common(6)))
    if unexpected:
        problems.append(f"{sum(unexpected.values())} failures with a status other than {'/'.join(allowed)}: "
                        + "; ".join(f"{k} x{v}" for k, v in unexpected.most_common(6)))
    if late:
        shown = ", ".join(f"{r[2]} {r[4]} after {r[1]:.1f} s" for r in sorted(late, key=lambda r: -r[1])[:4])
        problems.append(f"{len(late)} calls took longer than the {deadline:.0f} s deadline ({shown})")
    if not records:
        problems.append("no call was made")
    return problems, summary


def error_message(error: BaseException) -> str:
    """The status message of a gRPC failure raised by the SDK ('' when there is none)."""
    for candidate in (error, error.__cause__, error.__context__):
        details = getattr(candidate, "details", None)
        if callable(details):
            try:
                return details() or ""
            except Exception:  # noqa: BLE001
                pass
    return ""


def http_step(method: str, url: str, body: bytes | None = None, ok=(200,), statuses=FAULT_HTTP_STATUSES):
    """One HTTP call: (verdict, status, body). `ok` statuses are "ok"; one of `statuses`
    with a JSON body {"errorCode", "message"} is "error"; anything else is "bad" (the
    status then shows the error code, or the start of the body when it is not one)."""
    try:
        status, _, raw = http(method, url, body, timeout=FAULT_DEADLINE + 2)
    except Exception as error:  # noqa: BLE001  (a reset, a refusal, no answer in time)
        return "bad", f"HTTP {method}: no answer ({type(error).__name__}: {str(error)[:80]})", b""
    if status in ok:
        return "ok", f"HTTP {status}", raw
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    if (isinstance(parsed, dict) and isinstance(parsed.get("errorCode"), str) and parsed["errorCode"]
            and isinstance(parsed.get("message"), str) and parsed["message"]):
        return ("error" if status in statuses else "bad"), f"HTTP {status} {parsed['errorCode']}", raw
    return "bad", f"HTTP {status} with body {raw[:160]!r}", raw


def grpc_step(call, codes=FAULT_GRPC_CODES):
    """One SDK call: (verdict, status, result or the error's message). Success is
    "ok"; one of `codes` with a message and Apiary's error-code trailer is "error";
    anything else is "bad"."""
    try:
        return "ok", "gRPC OK", call()
    except Exception as error:  # noqa: BLE001
        code = grpc_code(error)
        trailer = error_code_trailer(error)
        message = error_message(error)
        if code is not None and trailer and message:
            return ("error" if code in codes else "bad"), f"gRPC {code.name} {trailer}", message
        name = code.name if code else type(error).__name__
        return "bad", f"gRPC {name} (error-code {trailer!r}, message {message[:120]!r})", None


def memory_of(pid: int) -> dict:
    """VmRSS and VmHWM of a process, in MiB ({} when it is gone)."""
    found = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    found[name] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return found


class Sidecar:
    def __init__(self, suite: "Suite", label: str, app: App, app_id: str = APP_ID, extra_args: tuple = ()):
        self.suite = suite
        self.label = label
        self.app = app
        self.app_id = app_id
        self.extra_args = [str(a) for a in extra_args]
        self.root = os.path.join(suite.tmp, label.lower())
        self.sockets = os.path.join(self.root, "sockets")
        self.resources = os.path.join(self.root, "resources")
        os.makedirs(self.sockets, mode=0o700)
        os.makedirs(self.resources)
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.proc: Proc | None = None
        self.components: list = []  # (name, type, language)
        self._client: DaprClient | None = None

    def add(self, file_name: str, documents: list) -> None:
        with open(os.path.join(self.resources, file_name), "w", encoding="utf-8") as out:
            out.write("---\n".join(component_yaml(*doc[:3], **(doc[3] if len(doc) > 3 else {})) for doc in documents))

    def socket(self, name: str) -> str:
        return os.path.join(self.sockets, f"{name}.sock")

    def start(self) -> None:
        argv = [
            os.path.join(self.suite.bin_dir, "apiary"), "run",
            "--resources-path", self.resources,
            "--sockets-dir", self.sockets,
            "--app-id", self.app_id,
            "--grpc-port", self.grpc_port,
            "--http-port", self.http_port,
            "--app-port", self.app.port,
            "--app-protocol", "http",
            "--heartbeat-interval", "1s",
            "--heartbeat-timeout", "500ms",
            "--failure-threshold", "2",
            "--log-level", "info",
            "--component-log-level", "info",
        ] + self.extra_args
        self.proc = self.suite.spawn(f"apiary-{self.label.lower()}", argv, cwd=self.root,
                                     env={"DAPR_API_TOKEN": "", "APIARY_API_TOKEN": ""})

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def get(self, path: str, timeout: float = 5.0):
        status, _, body = http("GET", self.url(path), timeout=timeout)
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, body.decode("utf-8", errors="replace")

    def wait_ready(self, timeout: float) -> None:
        deadline = now() + timeout
        last = "no answer"
        while now() < deadline:
            check(self.proc.alive(), f"apiary {self.label} exited with status {self.proc.exit_status()} before it was ready")
            try:
                status, body = self.get("/actuator/health/readiness", timeout=2)
                last = f"readiness {status} {json.dumps(body)[:600] if body is not None else ''}"
                if status == 200:
                    healthz, _, _ = http("GET", self.url("/v1.0/healthz"), timeout=2)
                    if healthz == 204:
                        return
                    last += f"; /v1.0/healthz {healthz}"
            except OSError as error:
                last = f"{type(error).__name__}: {error}"
            time.sleep(0.2)
        raise CheckFailure(f"apiary {self.label} not ready within {timeout:.0f} s: {last}")

    def component_states(self) -> dict:
        status, body = self.get("/actuator/components")
        if status != 200 or not isinstance(body, list):
            return {}
        return {entry.get("name"): entry for entry in body if isinstance(entry, dict)}

    def state_of(self, name: str) -> str | None:
        try:
            return (self.component_states().get(name) or {}).get("state")
        except OSError:
            return None

    def client(self) -> DaprClient:
        """A DaprClient on this sidecar. The SDK waits for /v1.0/healthz/outbound on
        $DAPR_HTTP_PORT before anything, so that is set while it is made."""
        if self._client is None:
            self._client = sdk(f"DaprClient(address=127.0.0.1:{self.grpc_port})",
                               lambda: dapr_client(self.grpc_port, self.http_port))
        return self._client

    def close_client(self) -> None:
        close_quietly(self._client)
        self._client = None


# --------------------------------------------------------------------------- the suite


class Suite(Report, Processes):
    def __init__(self, args):
        Report.__init__(self, tail_lines=TAIL_LINES, describe=describe_error)
        Processes.__init__(self, "apiary-samples-e2e-")
        self.args = args
        self.only = args.only or SCENARIOS
        self.apps: list = []
        self.sidecars: list = []
        self.bin_dir = ""
        self.file_secrets_bin = ""
        self.redis: Proc | None = None
        self.redis_port = 0
        self.a: Sidecar | None = None
        self.b: Sidecar | None = None
        self.f: Sidecar | None = None  # the faults scenario's sidecar
        self.comp: dict = {}  # "redis-store-a", "file-secrets", "memstore", "ticker", "redis-store-b" -> Proc
        self.ticker_problem: str | None = None  # why the ticker is not configured, if it is not
        self.secrets: dict = {}
        self.files_root = os.path.join(self.tmp, "files")

    # ------------------------------------------------------------ processes

    def wait_socket(self, proc: Proc, path: str, timeout: float) -> None:
        ok = wait_until(lambda: socket_answers(path) or not proc.alive(), timeout)
        check(proc.alive(), f"{proc.name} exited with status {proc.exit_status()} before serving {path}")
        check(bool(ok) and socket_answers(path), f"{proc.name} does not serve {path} after {timeout:.0f} s")

    def cleanup(self) -> None:
        for sidecar in self.sidecars:
            sidecar.close_client()
        # Sidecars first (they would log every component going away), then the
        # components, then Redis.
        ordered = [p for p in self.procs if p.name.startswith("apiary")]
        ordered += [p for p in reversed(self.procs) if not p.name.startswith("apiary") and p is not self.redis]
        ordered += [self.redis] if self.redis else []
        threads = [threading.Thread(target=p.stop, daemon=True) for p in ordered if p.name.startswith("apiary")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
        for proc in ordered:
            if not proc.name.startswith("apiary"):
                proc.stop()
        for app in self.apps:
            try:
                app.stop()
            except Exception:  # noqa: BLE001
                pass
        self.remove_folder(self.args.keep)

    # ------------------------------------------------------------ setup

    def resolve_binaries(self) -> str:
        if self.args.bin:
            self.bin_dir = os.path.abspath(self.args.bin)
        else:
            result = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, capture_output=True,
                                    text=True, timeout=300)
            check(result.returncode == 0, f"swift build --show-bin-path failed: {result.stderr.strip()}")
            self.bin_dir = result.stdout.strip().splitlines()[-1]
        for name in ("apiary", "memstore"):
            path = os.path.join(self.bin_dir, name)
            check(os.access(path, os.X_OK), f"{path} is missing or not executable")
        ticker_path = os.path.join(self.bin_dir, "ticker")
        if not os.access(ticker_path, os.X_OK):
            self.ticker_problem = f"ticker binary missing ({ticker_path})"

        self.file_secrets_bin = os.path.abspath(self.args.file_secrets or DEFAULT_FILE_SECRETS)
        built = ""
        if not os.access(self.file_secrets_bin, os.X_OK):
            check(not self.args.file_secrets, f"--file-secrets {self.file_secrets_bin} is missing or not executable")
            build_log = os.path.join(self.logs, "file-secrets-build.log")
            build_dir = os.path.join(FILE_SECRETS_DIR, "build")
            with open(build_log, "wb") as log:
                for command in (["cmake", "-S", FILE_SECRETS_DIR, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"],
                                ["cmake", "--build", build_dir, "-j2"]):
                    status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                            timeout=900).returncode
                    check(status == 0, f"{' '.join(command)} failed with status {status} (see {build_log})")
            check(os.access(self.file_secrets_bin, os.X_OK), f"the build did not produce {self.file_secrets_bin}")
            built = " (built now with cmake)"
        ticker = "absent" if self.ticker_problem else "present"
        return (f"binaries in {self.bin_dir} (apiary, memstore; ticker {ticker}), "
                f"file-secrets {self.file_secrets_bin}{built}")

    def start_redis(self) -> str:
        redis_dir = os.path.join(self.tmp, "redis")
        os.makedirs(redis_dir)
        for _ in range(5):
            port = free_port()
            if port == 6379:
                continue
            self.redis_port = port
            self.redis = self.spawn("redis-server", [
                shutil.which("redis-server") or "redis-server", "--port", port, "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", redis_dir, "--daemonize", "no",
            ])
            if wait_until(lambda: self.redis_ping() or not self.redis.alive(), 10) and self.redis.alive():
                return f"redis-server {self.redis_version()} on 127.0.0.1:{port} (pid {self.redis.pid})"
            self.redis.stop()
        raise CheckFailure("redis-server did not answer PING on a free port (5 attempts)")

    def redis_ping(self) -> bool:
        return redisserver.ping(self.redis_port)

    def redis_version(self) -> str:
        return redisserver.version(self.redis_port)

    def redis_store_argv(self, sidecar: Sidecar) -> list:
        return [sys.executable, REDIS_STORE, "--socket", sidecar.socket("redis-store"),
                "--redis-url", f"redis://127.0.0.1:{self.redis_port}/0", "--log-level", "info"]

    def redis_components(self, state: str = STATESTORE, pubsub: str = PUBSUB, app_id: str = APP_ID) -> list:
        host = f"127.0.0.1:{self.redis_port}"
        return [
            (state, "state.redis-store", {"redisHost": host, "redisDB": "0"}),
            (pubsub, "pubsub.redis-store", {
                "redisHost": host, "consumerGroup": f"{app_id}-group",
                "visibilityTimeoutMs": VISIBILITY_MS, "maxInFlight": 100,
            }),
        ]

    def setup_a(self) -> str:
        subscriptions = [
            {"pubsubname": PUBSUB, "topic": TOPIC_ORDERS, "route": "/orders"},
            {"pubsubname": PUBSUB, "topic": TOPIC_SCALE_1, "route": "/scale-1"},
            {"pubsubname": PUBSUB, "topic": TOPIC_SCALE_2, "route": "/scale-2"},
        ]
        app = App("a", subscriptions)
        self.apps.append(app)
        app.start()
        a = self.a = Sidecar(self, "A", app)
        self.sidecars.append(a)

        # The secrets file and the binding's folder.
        self.secrets = {
            "plain-key": f"plain-{RUN}",
            "nested": {"inner": {"deep": f"deep-{RUN}"}, "port": 6380},
        }
        secrets_file = os.path.join(self.tmp, "secrets.json")
        with open(secrets_file, "w", encoding="utf-8") as out:
            json.dump(self.secrets, out)

        a.add("redis-store.yaml", self.redis_components())
        a.components += [(STATESTORE, "state.redis-store", "Python"), (PUBSUB, "pubsub.redis-store", "Python")]
        a.add("file-secrets.yaml", [
            ("file-secrets", "secretstores.file-secrets", {"secretsFile": secrets_file, "nestedSeparator": ":"}),
            ("files", "bindings.file-secrets", {"rootPath": self.files_root}),
        ])
        a.components += [("file-secrets", "secretstores.file-secrets", "C++"), ("files", "bindings.file-secrets", "C++")]
        a.add("memstore.yaml", [("greeter", "hello.memstore", {"greeting": "Howdy"})])
        a.components += [("greeter", "hello.memstore", "Swift")]

        self.comp["redis-store-a"] = self.spawn("redis-store-a", self.redis_store_argv(a), cwd=self.tmp)
        self.comp["file-secrets"] = self.spawn("file-secrets", [
            self.file_secrets_bin, "--socket", a.socket("file-secrets"), "--log-level", "info"], cwd=self.tmp)
        self.comp["memstore"] = self.spawn("memstore", [
            os.path.join(self.bin_dir, "memstore"), "--socket", a.socket("memstore")], cwd=self.tmp)
        if not self.ticker_problem:
            self.comp["ticker"] = self.spawn("ticker", [
                os.path.join(self.bin_dir, "ticker"), "--socket", a.socket("ticker"), "--log-level", "info"],
                cwd=self.tmp)
        for name, socket_name in (("redis-store-a", "redis-store"), ("file-secrets", "file-secrets"),
                                  ("memstore", "memstore")):
            self.wait_socket(self.comp[name], a.socket(socket_name), 60)
        # The ticker is the newest sample: when it does not come up, only its checks
        # fail (it is left out of the configuration), not the whole run.
        if not self.ticker_problem:
            try:
                self.wait_socket(self.comp["ticker"], a.socket("ticker"), 30)
            except CheckFailure as failure:
                self.ticker_problem = f"the ticker did not start: {failure}"
        if not self.ticker_problem:
            # ignoreErrors: a ticker that fails its Init must not stop the sidecar (and
            # every other scenario); the ticker and readiness checks still see FAILED.
            a.add("ticker.yaml", [("ticks", "bindings.ticker", {"intervalMs": 200, "message": "hi"},
                                   {"ignore_errors": True})])
            a.components += [("ticks", "bindings.ticker", "Swift")]

        started = now()
        a.start()
        a.wait_ready(45)
        names = ", ".join(f"{n} ({t})" for n, t, _ in a.components)
        left_out = f"; ticks left out: {self.ticker_problem}" if self.ticker_problem else ""
        return (f"apiary A ready in {now() - started:.1f} s (grpc {a.grpc_port}, http {a.http_port}, "
                f"app {app.port}) with {names}{left_out}")

    def setup_b(self) -> str:
        app = App("b", [
            {"pubsubname": PUBSUB, "topic": TOPIC_SCALE_1, "route": "/scale-1"},
            {"pubsubname": PUBSUB, "topic": TOPIC_SCALE_2, "route": "/scale-2"},
        ])
        self.apps.append(app)
        app.start()
        b = self.b = Sidecar(self, "B", app)
        self.sidecars.append(b)
        b.add("redis-store.yaml", self.redis_components())
        b.components += [(STATESTORE, "state.redis-store", "Python"), (PUBSUB, "pubsub.redis-store", "Python")]
        self.comp["redis-store-b"] = self.spawn("redis-store-b", self.redis_store_argv(b), cwd=self.tmp)
        self.wait_socket(self.comp["redis-store-b"], b.socket("redis-store"), 60)
        started = now()
        b.start()
        b.wait_ready(45)
        return (f"apiary B (same --app-id {APP_ID}) ready in {now() - started:.1f} s (grpc {b.grpc_port}, "
                f"http {b.http_port}, app {app.port}), its own redis-store on the same redis-server")

    # ------------------------------------------------------------ running

    def run(self) -> None:
        print(f"samples e2e: run {RUN}, temporary folder {self.tmp}, scenarios {' '.join(self.only)}", flush=True)
        if not self.run_check("setup/binaries", self.resolve_binaries):
            self.not_run("setup failed (binaries)")
            return
        if not self.run_check("setup/redis", self.start_redis, procs=lambda: [self.redis]):
            self.not_run("setup failed (redis-server)")
            return
        if not self.run_check("setup/sidecar-a", self.setup_a, procs=lambda: [p for p in self.procs if p is not self.redis]):
            self.not_run("setup failed (sidecar A and its components)")
            return
        for name in self.only:
            if not self.a.proc.alive():
                self.report_fail(name, f"not run: apiary A exited with status {self.a.proc.exit_status()}",
                                 [self.a.proc])
                continue
            getattr(self, f"scenario_{name}")()

    def not_run(self, reason: str) -> None:
        for name in self.only:
            self.report_fail(name, f"not run: {reason}")

    def procs_named(self, *names: str) -> list:
        wanted = set(names)
        return [p for p in self.procs if p.name in wanted]

    # ================================================================ scenarios

    # 1 ---------------------------------------------------------------- state
    def scenario_state(self) -> None:
        procs = self.procs_named("apiary-a", "redis-store-a")
        c = None

        def client():
            nonlocal c
            if c is None:
                c = self.a.client()
            return c

        def roundtrip():
            key = unique("roundtrip")
            value = json.dumps({"order": 1, "run": RUN}).encode()
            sdk("save_state", lambda: client().save_state(STATESTORE, key, value))
            got = sdk("get_state", lambda: client().get_state(STATESTORE, key))
            check(got.data == value, f"get_state data: expected {value!r}, got {got.data!r}")
            check(got.etag.isdigit(), f"get_state etag: expected a decimal number (redis-store's version), got {got.etag!r}")
            value2 = json.dumps({"order": 2, "run": RUN}).encode()
            sdk("save_state with the current etag", lambda: client().save_state(STATESTORE, key, value2, etag=got.etag))
            again = sdk("get_state after the etag save", lambda: client().get_state(STATESTORE, key))
            check(again.data == value2, f"data after the etag save: expected {value2!r}, got {again.data!r}")
            check(again.etag.isdigit() and int(again.etag) > int(got.etag),
                  f"etag after the etag save: expected a number above {got.etag}, got {again.etag!r}")
            return (f"save_state/get_state round trip through {STATESTORE} (redis-store): data equal, etag "
                    f"{got.etag}; save with that etag accepted, etag now {again.etag}")

        def etag_conflict():
            key = unique("etag")
            sdk("save_state v1", lambda: client().save_state(STATESTORE, key, b"v1"))
            first = sdk("get_state v1", lambda: client().get_state(STATESTORE, key))
            sdk("save_state v2 with the v1 etag", lambda: client().save_state(STATESTORE, key, b"v2", etag=first.etag))
            current = sdk("get_state v2", lambda: client().get_state(STATESTORE, key))
            error = expect_failure(
                f"save_state with the stale etag {first.etag}",
                lambda: client().save_state(STATESTORE, key, b"stale-write", etag=first.etag),
                (grpc.StatusCode.ABORTED,))
            trailer = error_code_trailer(error)
            check(trailer == "ERR_STATE_SAVE",
                  f"error-code trailer of the refused save: expected daprd's ERR_STATE_SAVE, got {trailer!r}")
            after = sdk("get_state after the refused save", lambda: client().get_state(STATESTORE, key))
            check(after.data == b"v2" and after.etag == current.etag,
                  f"after the refused save: expected data b'v2' etag {current.etag}, got {after.data!r} etag {after.etag!r}")
            status, _, body = http("POST", self.a.url(f"/v1.0/state/{STATESTORE}"),
                                   json.dumps([{"key": key, "value": "stale-http", "etag": first.etag}]).encode())
            check(status == 409, f"HTTP save with the stale etag: expected 409, got {status} {body[:300]!r}")
            return (f"second save with the stale etag {first.etag} was refused (gRPC ABORTED, "
                    f"error-code {trailer}; HTTP 409) through redis-store; value and etag {current.etag} unchanged")

        def bulk_get():
            keys = [unique(f"bulk-{n}") for n in range(3)]
            missing = unique("bulk-missing")
            sdk("save_bulk_state", lambda: client().save_bulk_state(
                STATESTORE, [StateItem(key=k, value=f"value-{n}") for n, k in enumerate(keys)]))
            bulk = sdk("get_bulk_state", lambda: client().get_bulk_state(STATESTORE, keys + [missing], parallelism=2))
            items = {item.key: item for item in bulk.items}
            check(sorted(items) == sorted(keys + [missing]),
                  f"get_bulk_state keys: expected {sorted(keys + [missing])}, got {sorted(items)}")
            for n, k in enumerate(keys):
                item = items[k]
                check(bytes(item.data) == f"value-{n}".encode() and item.etag and not item.error,
                      f"get_bulk_state item {k}: expected data value-{n}, an etag, no error; "
                      f"got {bytes(item.data)!r} etag {item.etag!r} error {item.error!r}")
            gone = items[missing]
            check(bytes(gone.data) == b"" and gone.etag == "" and gone.error == "",
                  f"get_bulk_state missing key: expected no data, etag or error, got {bytes(gone.data)!r} "
                  f"etag {gone.etag!r} error {gone.error!r}")
            return "get_bulk_state of 3 saved keys and 1 missing: 3 values with etags, the missing one empty without error"

        def transaction():
            kept, doomed = unique("tx-upsert"), unique("tx-delete")
            sdk("save_state before the transaction", lambda: client().save_state(STATESTORE, doomed, b"doomed"))
            sdk("execute_state_transaction", lambda: client().execute_state_transaction(STATESTORE, [
                TransactionalStateOperation(key=kept, data=b"tx-value"),
                TransactionalStateOperation(key=doomed, operation_type=TransactionOperationType.delete),
            ]))
            upserted = sdk("get_state of the upserted key", lambda: client().get_state(STATESTORE, kept))
            deleted = sdk("get_state of the deleted key", lambda: client().get_state(STATESTORE, doomed))
            check(upserted.data == b"tx-value", f"upserted key: expected b'tx-value', got {upserted.data!r}")
            check(deleted.data == b"" and deleted.etag == "",
                  f"deleted key: expected absent, got {deleted.data!r} etag {deleted.etag!r}")
            return "execute_state_transaction (upsert + delete): both applied"

        def ttl():
            key = unique("ttl")
            sdk("save_state with ttlInSeconds 1",
                lambda: client().save_state(STATESTORE, key, b"short-lived", state_metadata={"ttlInSeconds": "1"}))
            first = sdk("get_state right after", lambda: client().get_state(STATESTORE, key))
            check(first.data == b"short-lived", f"right after the save: expected b'short-lived', got {first.data!r}")
            time.sleep(2.5)
            later = sdk("get_state 2.5 s later", lambda: client().get_state(STATESTORE, key))
            check(later.data == b"" and later.etag == "",
                  f"2.5 s after a save with ttlInSeconds 1: expected the key gone, got {later.data!r} etag {later.etag!r}")
            return "save with metadata ttlInSeconds=1: readable at once, gone 2.5 s later"

        for name, fn in (("roundtrip", roundtrip), ("etag", etag_conflict), ("bulk-get", bulk_get),
                         ("transaction", transaction), ("ttl", ttl)):
            self.run_check(f"state/{name}", fn, procs)

    # 2 ---------------------------------------------------------------- pubsub
    def scenario_pubsub(self) -> None:
        a = self.a
        store = self.comp["redis-store-a"]
        procs = [a.proc, store]
        total, kill_at = 1000, 500
        progress = {"sent": 0, "failed_attempts": 0, "codes": collections.Counter(), "error": None, "done": False}
        stop = threading.Event()
        timeline = {}

        def publisher(client):
            try:
                for i in range(total):
                    data = json.dumps({"run": RUN, "round": "orders", "i": i})
                    deadline = now() + 60
                    while True:
                        if stop.is_set():
                            return
                        try:
                            client.publish_event(PUBSUB, TOPIC_ORDERS, data, data_content_type="application/json")
                            break
                        except Exception as error:  # noqa: BLE001
                            progress["failed_attempts"] += 1
                            code = grpc_code(error)
                            progress["codes"][code.name if code else type(error).__name__] += 1
                            if now() > deadline:
                                progress["error"] = f"publish of index {i} still failing after 60 s: {describe_error(error)}"
                                return
                            time.sleep(0.1)
                    progress["sent"] = i + 1
                progress["done"] = True
            except BaseException as error:  # noqa: BLE001
                progress["error"] = f"publisher crashed: {describe_error(error)}"

        thread = None

        def kill_and_restart():
            nonlocal thread
            client = a.client()
            timeline["start"] = now()
            thread = threading.Thread(target=publisher, args=(client,), name="publisher", daemon=True)
            thread.start()
            reached = wait_until(lambda: progress["sent"] >= kill_at or progress["error"] or not thread.is_alive(), 60)
            check(bool(reached) and progress["sent"] >= kill_at,
                  f"publishing did not reach {kill_at} messages within 60 s (sent {progress['sent']}, "
                  f"error {progress['error']})")
            old_pid = store.pid
            store.kill9()
            timeline["killed"] = now()
            sent_at_kill = progress["sent"]
            problems = []
            down = wait_until(lambda: a.state_of(PUBSUB) not in (None, "UP"), 10)
            timeline["down"] = now()
            if not down:
                problems.append(f"the sidecar did not mark {PUBSUB} DOWN within 10 s of the kill "
                                f"(state {a.state_of(PUBSUB)!r})")
            seen_state = a.state_of(PUBSUB)
            store.start()  # same socket path; it replaces the stale socket file
            timeline["restarted"] = now()
            self.wait_socket(store, a.socket("redis-store"), 30)
            up = wait_until(lambda: a.state_of(PUBSUB) == "UP" and a.state_of(STATESTORE) == "UP", 30)
            timeline["up"] = now()
            if not up:
                problems.append(f"{PUBSUB}/{STATESTORE} not UP again within 30 s of the restart "
                                f"(states {a.state_of(PUBSUB)!r}/{a.state_of(STATESTORE)!r})")
            check(not problems, "; ".join(problems))
            return (f"redis-store (pid {old_pid}) killed with SIGKILL after {sent_at_kill} publishes; the sidecar "
                    f"marked {PUBSUB} {seen_state} after {timeline['down'] - timeline['killed']:.1f} s; restarted "
                    f"(pid {store.pid}) on the same socket, UP again {timeline['up'] - timeline['restarted']:.1f} s later")

        def publish_all():
            check(thread is not None, "the publisher never started")
            thread.join(timeout=max(1.0, 120 - (now() - timeline.get("start", now()))))
            if thread.is_alive():
                stop.set()
                raise CheckFailure(f"publishing not finished within 120 s (sent {progress['sent']} of {total})")
            check(progress["done"], f"publishing stopped at {progress['sent']} of {total}: {progress['error']}")
            timeline["published"] = now()
            codes = ", ".join(f"{k} x{v}" for k, v in progress["codes"].most_common()) or "none"
            return (f"{total} publish_event calls to {PUBSUB}/{TOPIC_ORDERS} accepted in "
                    f"{timeline['published'] - timeline['start']:.1f} s; {progress['failed_attempts']} failed attempts "
                    f"during the outage were retried ({codes})")

        def delivered():
            started = timeline.get("published", now())
            wanted = set(range(total))
            a.app.wait_for(lambda app: wanted <= set(indices_of(app.posts("/orders"), "orders")), 90)
            events = events_of(a.app.posts("/orders"), "orders")
            got = [i for i, _ in events]
            unique_got = set(got)
            missing = sorted(wanted - unique_got)
            duplicates = len(got) - len(unique_got)
            check(not missing, f"{len(missing)} of {total} indices never reached the app on /orders within 90 s "
                               f"after publishing ended (first missing: {missing[:20]}); {len(got)} deliveries, "
                               f"{duplicates} duplicates")
            problems, split = envelope_report(events, TOPIC_ORDERS)
            check(not problems, f"{len(problems)} deliveries without a proper CloudEvent envelope: {problems[:3]}")
            return (f"the app received every index 0..{total - 1} on /orders as CloudEvents ({len(got)} deliveries, "
                    f"{duplicates} duplicates: {split}) {now() - started:.1f} s after the last publish")

        try:
            self.run_check("pubsub/kill-restart", kill_and_restart, procs)
            self.run_check("pubsub/publish", publish_all, procs)
            self.run_check("pubsub/delivery", delivered, procs)
        finally:
            stop.set()
        if not store.alive():  # a failed check above may have left it dead; later scenarios need it
            try:
                store.start()
                self.wait_socket(store, a.socket("redis-store"), 30)
            except Exception as error:  # noqa: BLE001
                print(f"note: could not restart redis-store A: {describe_error(error)}", flush=True)

    # 3 ---------------------------------------------------------------- secrets
    def scenario_secrets(self) -> None:
        procs = self.procs_named("apiary-a", "file-secrets")
        plain, nested = self.secrets["plain-key"], self.secrets["nested"]["inner"]["deep"]

        def get():
            c = self.a.client()
            one = sdk("get_secret(file-secrets, plain-key)", lambda: c.get_secret("file-secrets", "plain-key"))
            check(dict(one.secret) == {"plain-key": plain},
                  f"get_secret plain-key: expected {{'plain-key': {plain!r}}}, got {dict(one.secret)!r}")
            deep = sdk("get_secret(file-secrets, nested:inner:deep)",
                       lambda: c.get_secret("file-secrets", "nested:inner:deep"))
            check(dict(deep.secret) == {"nested:inner:deep": nested},
                  f"get_secret nested:inner:deep: expected {{'nested:inner:deep': {nested!r}}}, got {dict(deep.secret)!r}")
            port = sdk("get_secret(file-secrets, nested:port)", lambda: c.get_secret("file-secrets", "nested:port"))
            check(dict(port.secret) == {"nested:port": "6380"},
                  f"get_secret nested:port: expected {{'nested:port': '6380'}}, got {dict(port.secret)!r}")
            return "get_secret of a plain key and of nested keys (nestedSeparator ':', a number as text) through file-secrets (C++)"

        def bulk():
            c = self.a.client()
            got = sdk("get_bulk_secret(file-secrets)", lambda: c.get_bulk_secret("file-secrets"))
            secrets = {name: dict(values) for name, values in got.secrets.items()}
            expected = {"plain-key": {"plain-key": plain}, "nested:inner:deep": {"nested:inner:deep": nested},
                        "nested:port": {"nested:port": "6380"}}
            check(secrets == expected, f"get_bulk_secret: expected {expected!r}, got {secrets!r}")
            return "get_bulk_secret answers exactly the 3 flattened secrets, each as {name: {name: value}}"

        def unknown():
            c = self.a.client()
            missing = unique("no-such-secret")
            # daprd embeds the component's error as text: INTERNAL / 500 ERR_SECRET_GET
            # (../shared/spec/dapr-behaviour.md §1.4, §1.5).
            error = expect_failure(f"get_secret(file-secrets, {missing})",
                                   lambda: c.get_secret("file-secrets", missing), (grpc.StatusCode.INTERNAL,))
            status, _, body = http("GET", self.a.url(f"/v1.0/secrets/file-secrets/{missing}"))
            check(status == 500 and b'"ERR_SECRET_GET"' in body,
                  f"HTTP GET of an unknown secret: expected 500 ERR_SECRET_GET, got {status} {body[:200]!r}")
            return f"an unknown key is an error: {describe_error(error)}; HTTP 500 ERR_SECRET_GET, as daprd answers"

        for name, fn in (("get", get), ("bulk", bulk), ("unknown", unknown)):
            self.run_check(f"secrets/{name}", fn, procs)

    # 4 ---------------------------------------------------------------- files (output binding)
    def scenario_files(self) -> None:
        procs = self.procs_named("apiary-a", "file-secrets")
        name = unique("file") + ".bin"
        data = b"samples-e2e \x00\x01\x7f\x80\xfe\xff binary " + RUN.encode()
        path = os.path.join(self.files_root, name)
        created = {"ok": False}

        def create():
            c = self.a.client()
            response = sdk("invoke_binding(files, create)",
                           lambda: c.invoke_binding("files", "create", data, {"fileName": name}))
            check(response.binding_metadata.get("fileName") == name,
                  f"create response metadata fileName: expected {name!r}, got {response.binding_metadata!r}")
            check(os.path.isfile(path), f"after create: {path} does not exist")
            with open(path, "rb") as f:
                on_disk = f.read()
            check(on_disk == data, f"after create: the file holds {on_disk!r}, expected {data!r}")
            created["ok"] = True
            return f"create with metadata fileName wrote {len(data)} bytes (binary included) to {path}"

        def get():
            c = self.a.client()
            response = sdk("invoke_binding(files, get)", lambda: c.invoke_binding("files", "get", b"", {"fileName": name}))
            check(response.data == data, f"get: expected {data!r}, got {response.data!r}")
            return "get answers the same bytes"

        def listing():
            c = self.a.client()
            response = sdk("invoke_binding(files, list)", lambda: c.invoke_binding("files", "list", b""))
            try:
                names = json.loads(response.data)
            except ValueError:
                raise CheckFailure(f"list: expected a JSON array, got {response.data!r}")
            check(isinstance(names, list) and name in names, f"list: expected an array containing {name!r}, got {names!r}")
            return f"list answers a JSON array containing {name}"

        def delete():
            c = self.a.client()
            check(created["ok"] or os.path.exists(path), "nothing to delete: create failed")
            sdk("invoke_binding(files, delete)", lambda: c.invoke_binding("files", "delete", b"", {"fileName": name}))
            check(not os.path.exists(path), f"after delete: {path} still exists")
            listed = sdk("invoke_binding(files, list) after delete", lambda: c.invoke_binding("files", "list", b""))
            check(name not in json.loads(listed.data or b"[]"), f"after delete: list still shows {name}: {listed.data!r}")
            error = expect_failure("invoke_binding(files, get) after delete",
                                   lambda: c.invoke_binding("files", "get", b"", {"fileName": name}),
                                   tuple(grpc.StatusCode))
            return f"delete removed the file from disk and from list; get afterwards fails ({describe_error(error)})"

        for check_name, fn in (("create", create), ("get", get), ("list", listing), ("delete", delete)):
            self.run_check(f"files/{check_name}", fn, procs)

    # 5 ---------------------------------------------------------------- ticker (input binding)
    def scenario_ticker(self) -> None:
        if self.ticker_problem:
            self.report_fail("ticker/events", f"{self.ticker_problem}: the input binding scenario cannot run",
                             self.procs_named("ticker"))
            return
        procs = self.procs_named("apiary-a", "ticker")
        a = self.a

        def events():
            started = now()
            got = a.app.wait_for(lambda app: len(app.posts("/ticks", since=started)) >= 3, 10)
            recent = a.app.posts("/ticks", since=started)
            if len(recent) < 3:
                entry = a.component_states().get("ticks")
                raise CheckFailure(f"expected at least 3 POST /ticks within 10 s, got {len(recent)} "
                                   f"({len(a.app.posts('/ticks'))} in the whole run); component: {json.dumps(entry)}")
            del got
            everything = a.app.posts("/ticks")
            ticks = []
            for record in everything:
                body = record["json"]
                check(isinstance(body, dict), f"POST /ticks body: expected a JSON object, got {record['body'][:200]!r}")
                check(isinstance(body.get("tick"), int), f"POST /ticks body: expected an integer tick, got {body!r}")
                check(body.get("message") == "hi", f"POST /ticks body: expected message 'hi', got {body!r}")
                stamp = body.get("time")
                try:
                    datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
                except ValueError:
                    raise CheckFailure(f"POST /ticks body: time {stamp!r} is not RFC 3339")
                ticks.append(body["tick"])
            check(all(x < y for x, y in zip(ticks, ticks[1:])), f"tick numbers not increasing in delivery order: {ticks[:40]}")
            check(ticks[0] == 1, f"the first delivered tick is {ticks[0]}, expected 1 (ticks count from 1)")
            return (f"the app received {len(recent)} POST /ticks within 10 s ({len(ticks)} in the run, ticks "
                    f"{ticks[0]}..{ticks[-1]} increasing, message 'hi', RFC 3339 time)")

        self.run_check("ticker/events", events, procs)

    # 6 ---------------------------------------------------------------- hello
    def say_hello_grpc(self, sidecar: Sidecar, component: str, name: str) -> str:
        """spec.proto.runtime.v1.Runtime/SayHello, encoded by hand (the Dapr SDK has no
        Layotto stub): SayHelloRequest{service_name = 1, name = 2} -> SayHelloResponse{hello = 1}."""

        def varint(n: int) -> bytes:
            out = bytearray()
            while True:
                byte = n & 0x7F
                n >>= 7
                out.append(byte | (0x80 if n else 0))
                if not n:
                    return bytes(out)

        def field(number: int, text: str) -> bytes:
            raw = text.encode()
            return varint(number << 3 | 2) + varint(len(raw)) + raw

        def hello_of(raw: bytes) -> str:
            position, hello = 0, None
            while position < len(raw):
                key = raw[position]
                position += 1
                length, shift = 0, 0
                while True:
                    byte = raw[position]
                    position += 1
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                if key == 0x0A:
                    hello = raw[position:position + length].decode()
                position += length
            return hello

        with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc_port}") as channel:
            say = channel.unary_unary("/spec.proto.runtime.v1.Runtime/SayHello",
                                      request_serializer=lambda r: r, response_deserializer=hello_of)
            return say(field(1, component) + field(2, name), timeout=10)

    def scenario_hello(self) -> None:
        procs = self.procs_named("apiary-a", "memstore")
        person = unique("caller")

        def via_grpc():
            answer = sdk("Runtime/SayHello(greeter)", lambda: self.say_hello_grpc(self.a, "greeter", person))
            check(answer == f"Howdy, {person}", f"SayHello: expected {'Howdy, ' + person!r}, got {answer!r}")
            return f"gRPC spec.proto.runtime.v1.Runtime/SayHello to greeter (hello.memstore, Swift) answered {answer!r}"

        def via_http():
            status, _, body = http("POST", self.a.url("/v1.0/hello/greeter"), json.dumps({"name": person}).encode())
            check(status == 200, f"POST /v1.0/hello/greeter: expected 200, got {status} {body[:300]!r}")
            answer = json.loads(body)
            check(answer == {"hello": f"Howdy, {person}"}, f"POST /v1.0/hello/greeter: got {answer!r}")
            return f"HTTP POST /v1.0/hello/greeter answered {answer}"

        self.run_check("hello/grpc", via_grpc, procs)
        self.run_check("hello/http", via_http, procs)

    # 7 ---------------------------------------------------------------- readiness, components, logs
    def scenario_observability(self) -> None:
        a = self.a
        all_procs = self.procs_named("apiary-a", "redis-store-a", "file-secrets", "memstore", "ticker")

        def readiness():
            status, body = a.get("/actuator/health/readiness")
            check(status == 200, f"readiness: expected 200, got {status} {json.dumps(body)[:800]}")
            listed = (body or {}).get("components") or {}
            problems = []
            for name, type_, _ in a.components:
                entry = listed.get(name)
                if not entry:
                    problems.append(f"{name} missing")
                elif entry.get("status") != "UP" or (entry.get("details") or {}).get("type") != type_:
                    problems.append(f"{name}: {json.dumps(entry)}")
            check(not problems, "readiness body: " + "; ".join(problems))
            healthz, _, _ = http("GET", a.url("/v1.0/healthz"))
            check(healthz == 204, f"/v1.0/healthz: expected 204, got {healthz}")
            langs = ", ".join(f"{n} ({lang})" for n, _, lang in a.components)
            return f"GET /actuator/health/readiness 200 with every component UP: {langs}; /v1.0/healthz 204"

        def components():
            status, body = a.get("/actuator/components")
            check(status == 200 and isinstance(body, list), f"/actuator/components: got {status} {str(body)[:500]}")
            entries = {e.get("name"): e for e in body}
            problems = []
            for name, type_, _ in a.components:
                entry = entries.get(name)
                if not entry:
                    problems.append(f"{name} missing")
                elif entry.get("state") != "UP" or entry.get("type") != type_:
                    problems.append(f"{name}: state {entry.get('state')!r} type {entry.get('type')!r} reason {entry.get('reason')!r}")
                elif not isinstance(entry.get("logs"), dict):
                    problems.append(f"{name}: logs {entry.get('logs')!r} (expected its Tail to be followed)")
            check(not problems, "; ".join(problems))
            sources = sorted({entries[n]["logs"].get("source") for n, _, _ in a.components})
            return (f"GET /actuator/components lists all {len(a.components)} components UP with their types, "
                    f"each with a followed log source ({', '.join(str(s) for s in sources)})")

        def logs_of(component: str, needle: str, timeout: float = 5.0):
            """Polls /actuator/logs?component=... until a record's msg contains needle."""
            last = {}

            def look():
                status, body = a.get(f"/actuator/logs?component={quote(component)}&limit=1000")
                last["status"], last["body"] = status, body
                if status != 200 or not isinstance(body, dict):
                    return None
                for record in body.get("records") or []:
                    if needle in str(record.get("msg", "")):
                        return record
                return None

            record = wait_until(look, timeout, 0.25)
            if not record:
                body = last.get("body")
                shown = body
                if isinstance(body, dict):
                    shown = {"component": body.get("component"),
                             "last messages": [r.get("msg") for r in (body.get("records") or [])[-8:]]}
                raise CheckFailure(f"/actuator/logs?component={component}: no record containing {needle!r} within "
                                   f"{timeout:.0f} s; answer {last.get('status')} {json.dumps(shown)[:1200]}")
            return record

        def logs_python():
            record = logs_of(STATESTORE, f"initialised state store instance {STATESTORE}")
            return (f"/actuator/logs?component={STATESTORE} holds redis-store's (Python) record "
                    f"{record.get('msg')!r} (logger {record.get('fields', {}).get('logger')})")

        def logs_cpp():
            record = logs_of("file-secrets", "initialised SecretStore instance file-secrets")
            return f"/actuator/logs?component=file-secrets holds file-secrets' (C++) record {record.get('msg')!r}"

        def logs_swift_memstore():
            person = unique("logs")
            sdk("Runtime/SayHello(greeter)", lambda: self.say_hello_grpc(a, "greeter", person))
            record = logs_of("greeter", f"said hello to {person}")
            return f"/actuator/logs?component=greeter holds memstore's (Swift) record {record.get('msg')!r}"

        def logs_swift_ticker():
            if self.ticker_problem:
                raise CheckFailure(f"{self.ticker_problem}: no ticker log records to look for")
            record = logs_of("ticks", "ticker initialised")
            return f"/actuator/logs?component=ticks holds the ticker's (Swift) record {record.get('msg')!r}"

        self.run_check("observability/readiness", readiness, all_procs[:1])
        self.run_check("observability/components", components, all_procs[:1])
        self.run_check("observability/logs-python", logs_python, self.procs_named("apiary-a", "redis-store-a"))
        self.run_check("observability/logs-cpp", logs_cpp, self.procs_named("apiary-a", "file-secrets"))
        self.run_check("observability/logs-swift-memstore", logs_swift_memstore, self.procs_named("apiary-a", "memstore"))
        self.run_check("observability/logs-swift-ticker", logs_swift_ticker,
                       [] if self.ticker_problem and "ticker" not in self.comp else self.procs_named("apiary-a", "ticker"))

    # 8 ---------------------------------------------------------------- scale-out
    def scenario_scaleout(self) -> None:
        a = self.a
        def procs():
            return self.procs_named("apiary-a", "apiary-b", "redis-store-a", "redis-store-b")

        if not self.run_check("scaleout/start", self.setup_b, procs):
            for name in ("state", "competing", "failover"):
                self.report_fail(f"scaleout/{name}", "not run: sidecar B did not start")
            return
        b = self.b

        def shared_state():
            key = unique("shared")
            value = json.dumps({"from": "A", "run": RUN}).encode()
            sdk("save_state through A", lambda: a.client().save_state(STATESTORE, key, value))
            via_a = sdk("get_state through A", lambda: a.client().get_state(STATESTORE, key))
            via_b = sdk("get_state through B", lambda: b.client().get_state(STATESTORE, key))
            check(via_b.data == value and via_b.etag == via_a.etag,
                  f"through B: expected {value!r} etag {via_a.etag!r}, got {via_b.data!r} etag {via_b.etag!r}")
            sdk("save_state through B with A's etag",
                lambda: b.client().save_state(STATESTORE, key, b"from-B", etag=via_a.etag))
            back = sdk("get_state through A again", lambda: a.client().get_state(STATESTORE, key))
            check(back.data == b"from-B", f"through A after B's etag save: expected b'from-B', got {back.data!r}")
            return (f"value saved through apiary A read through apiary B with the same etag {via_a.etag}; "
                    f"B's save with that etag is seen through A")

        def publish_round(topic: str, round_tag: str, kill_b_at: int | None):
            """Publishes indices 0..999 alternately through A (even) and B (odd), two
            threads; a publish through B that fails is retried through A. With
            kill_b_at, redis-store B is killed with SIGKILL once that many were sent."""
            total = 1000
            counters = {"sent": 0, "via_a": 0, "via_b": 0, "failed_attempts": 0, "errors": []}
            lock = threading.Lock()
            stop = threading.Event()

            def worker(parity: int):
                primary = a if parity == 0 else b
                clients = [primary.client()] + ([a.client()] if primary is b else [])
                labels = ["A" if primary is a else "B"] + (["A"] if primary is b else [])
                for i in range(parity, total, 2):
                    data = json.dumps({"run": RUN, "round": round_tag, "i": i})
                    deadline = now() + 60
                    attempt = 0
                    while True:
                        if stop.is_set():
                            return
                        which = min(attempt, len(clients) - 1)
                        try:
                            clients[which].publish_event(PUBSUB, topic, data, data_content_type="application/json")
                            with lock:
                                counters["sent"] += 1
                                counters["via_a" if labels[which] == "A" else "via_b"] += 1
                            break
                        except Exception as error:  # noqa: BLE001
                            with lock:
                                counters["failed_attempts"] += 1
                            attempt += 1
                            if now() > deadline:
                                with lock:
                                    counters["errors"].append(f"index {i}: {describe_error(error)}")
                                return
                            time.sleep(0.05)

            threads = [threading.Thread(target=worker, args=(p,), daemon=True, name=f"publish-{p}") for p in (0, 1)]
            started = now()
            for t in threads:
                t.start()
            killed = None
            try:
                if kill_b_at is not None:
                    wait_until(lambda: counters["sent"] >= kill_b_at or not any(t.is_alive() for t in threads), 60)
                    killed = (self.comp["redis-store-b"].pid, counters["sent"])
                    self.comp["redis-store-b"].kill9()
                for t in threads:
                    t.join(timeout=max(1.0, 120 - (now() - started)))
            finally:
                stop.set()
            check(not any(t.is_alive() for t in threads), f"publishing not finished within 120 s ({counters['sent']} sent)")
            check(not counters["errors"], f"publishes failed for 60 s: {counters['errors'][:5]}")
            check(counters["sent"] == total, f"only {counters['sent']} of {total} publishes succeeded")
            return counters, killed, now() - started

        def tally(round_tag: str, route: str):
            got_a = indices_of(a.app.posts(route), round_tag)
            got_b = indices_of(b.app.posts(route), round_tag)
            return got_a, got_b, collections.Counter(got_a + got_b)

        def envelopes(round_tag: str, route: str, topic: str):
            events = events_of(a.app.posts(route), round_tag) + events_of(b.app.posts(route), round_tag)
            problems, split = envelope_report(events, topic)
            check(not problems, f"{len(problems)} deliveries without a proper CloudEvent envelope: {problems[:3]}")
            return split

        def competing():
            counters, _, took = publish_round(TOPIC_SCALE_1, "scale-1", None)
            wanted = set(range(1000))
            wait_until(lambda: wanted <= set(tally("scale-1", "/scale-1")[2]), 60, 0.2)
            time.sleep(VISIBILITY_MS / 1000 + 1.5)  # a redelivery would come after the visibility timeout
            got_a, got_b, counts = tally("scale-1", "/scale-1")
            missing = sorted(wanted - set(counts))
            duplicated = sorted(i for i, n in counts.items() if n > 1)
            check(not missing, f"{len(missing)} indices never delivered (first {missing[:20]}); A got {len(got_a)}, B got {len(got_b)}")
            check(not duplicated, f"{len(duplicated)} indices delivered more than once (first "
                                  f"{[(i, counts[i]) for i in duplicated[:10]]}); A got {len(got_a)}, B got {len(got_b)}")
            check(got_a and got_b, f"competing consumers: expected both apps to get some, A got {len(got_a)}, B got {len(got_b)}")
            envelopes("scale-1", "/scale-1", TOPIC_SCALE_1)
            return (f"1000 messages published in {took:.1f} s ({counters['via_a']} through A, {counters['via_b']} through B) "
                    f"to {TOPIC_SCALE_1}, one consumer group on both sidecars: each delivered exactly once "
                    f"(app A {len(got_a)}, app B {len(got_b)})")

        def reclaimed(proc: Proc, topic: str) -> int:
            """Entries the redis-store sample says it reclaimed for `topic` (its log)."""
            total = 0
            for line in proc.tail(100000):
                if "reclaimed" in line and f"topic={topic} " in line + " ":
                    try:
                        total += int(line.split("reclaimed", 1)[1].split()[0])
                    except (IndexError, ValueError):
                        pass
            return total

        def failover():
            # App B answers slowly in this round, so that redis-store B holds a backlog
            # of delivered-but-unacknowledged entries when it is killed.
            b.app.delays["/scale-2"] = 0.02
            counters, killed, took = publish_round(TOPIC_SCALE_2, "scale-2", 500)
            wanted = set(range(1000))
            started = now()
            wait_until(lambda: wanted <= set(tally("scale-2", "/scale-2")[2]), 60, 0.2)
            got_a, got_b, counts = tally("scale-2", "/scale-2")
            missing = sorted(wanted - set(counts))
            duplicates = sum(n - 1 for n in counts.values())
            check(not missing, f"{len(missing)} indices never delivered within 60 s after publishing (first "
                               f"{missing[:20]}); A got {len(got_a)}, B got {len(got_b)}")
            split = envelopes("scale-2", "/scale-2", TOPIC_SCALE_2)
            return (f"redis-store B (pid {killed[0]}) killed with SIGKILL after {killed[1]} of 1000 publishes and "
                    f"not restarted; publishes through B then went through A ({counters['via_a']} through A, "
                    f"{counters['via_b']} through B, {counters['failed_attempts']} failed attempts retried); every "
                    f"index delivered at least once ({len(got_a)} to app A, {len(got_b)} to app B (answering in 20 ms), "
                    f"{duplicates} duplicates: {split}; redis-store A reclaimed "
                    f"{reclaimed(self.comp['redis-store-a'], TOPIC_SCALE_2)} entries of B's) "
                    f"{now() - started:.1f} s after the last publish")

        self.run_check("scaleout/state", shared_state, procs)
        self.run_check("scaleout/competing", competing, procs)
        self.run_check("scaleout/failover", failover, procs)

    # 9 ---------------------------------------------------------------- faults
    def setup_f(self) -> str:
        """Sidecar F: its own app id, sockets folder, app and component processes
        (file-secrets, memstore, ticker, redis-store, multi_component.py with its
        garbage and huge Get answers), --call-timeout 2s, rescans every 500 ms."""
        app = App("f", [{"pubsubname": FAULT_PUBSUB_REDIS, "topic": TOPIC_FAULTS, "route": "/faults"}])
        self.apps.append(app)
        app.start()
        f = self.f = Sidecar(self, "F", app, app_id=FAULTS_APP_ID, extra_args=(
            "--call-timeout", f"{FAULT_CALL_TIMEOUT:g}s", "--rescan-interval", "500ms"))
        self.sidecars.append(f)
        f.add("file-secrets.yaml", [(FAULT_SECRETS, "secretstores.file-secrets", {
            "secretsFile": os.path.join(self.tmp, "secrets.json"), "nestedSeparator": ":"})])
        f.add("memstore.yaml", [(FAULT_MEMSTORE, "state.memstore", {})])
        f.add("redis-store.yaml", self.redis_components(FAULT_STATE_REDIS, FAULT_PUBSUB_REDIS, FAULTS_APP_ID))
        f.add("multi.yaml", [(FAULT_MULTI, "state.multi", {})])
        f.components += [(FAULT_SECRETS, "secretstores.file-secrets", "C++"), (FAULT_MEMSTORE, "state.memstore", "Swift"),
                         (FAULT_STATE_REDIS, "state.redis-store", "Python"),
                         (FAULT_PUBSUB_REDIS, "pubsub.redis-store", "Python"), (FAULT_MULTI, "state.multi", "Python")]
        self.comp["file-secrets-f"] = self.spawn("file-secrets-f", [
            self.file_secrets_bin, "--socket", f.socket("file-secrets"), "--log-level", "info"], cwd=self.tmp)
        self.comp["memstore-f"] = self.spawn("memstore-f", [
            os.path.join(self.bin_dir, "memstore"), "--socket", f.socket("memstore")], cwd=self.tmp)
        self.comp["redis-store-f"] = self.spawn("redis-store-f", self.redis_store_argv(f), cwd=self.tmp)
        self.comp["multi-f"] = self.spawn("multi-f", [
            sys.executable, MULTI_COMPONENT, "--socket", f.socket("multi"),
            "--garbage-get-key", GARBAGE_SUFFIX, "--huge-get-key", HUGE_SUFFIX], cwd=self.tmp)
        sockets = [("file-secrets-f", "file-secrets"), ("memstore-f", "memstore"), ("redis-store-f", "redis-store"),
                   ("multi-f", "multi")]
        if not self.ticker_problem:
            self.comp["ticker-f"] = self.spawn("ticker-f", [
                os.path.join(self.bin_dir, "ticker"), "--socket", f.socket("ticker"), "--log-level", "info"],
                cwd=self.tmp)
            f.add("ticker.yaml", [(FAULT_TICKS, "bindings.ticker", {"intervalMs": 100, "message": "f"})])
            f.components += [(FAULT_TICKS, "bindings.ticker", "Swift")]
            sockets.append(("ticker-f", "ticker"))
        for name, socket_name in sockets:
            self.wait_socket(self.comp[name], f.socket(socket_name), 60)
        started = now()
        f.start()
        f.wait_ready(45)
        names = ", ".join(f"{n} ({t})" for n, t, _ in f.components)
        return (f"apiary F (--app-id {FAULTS_APP_ID}, --call-timeout {FAULT_CALL_TIMEOUT:g}s) ready in "
                f"{now() - started:.1f} s with {names}")

    def scenario_faults(self) -> None:
        names = [name for name, _, _ in FaultChecks.CHECKS]
        f_procs = ("apiary-f", "file-secrets-f", "memstore-f", "ticker-f", "redis-store-f", "multi-f")
        if not self.run_check("faults/start", self.setup_f, lambda: self.procs_named(*f_procs)):
            for name in names:
                self.report_fail(f"faults/{name}", "not run: sidecar F did not start")
            return
        FaultChecks(self).run()


class FaultChecks:
    """The faults scenario on sidecar F (started by Suite.setup_f): each check breaks
    one component (or the sockets folder, or Redis) while clients call through F, and
    asserts that F keeps answering within FAULT_DEADLINE with the allowed errors, and
    comes back once the fault is mended. The steps of the load, the shared plumbing
    and the named checks are its methods; CHECKS lists the checks in their order."""

    # (check name, method, the F component processes it breaks: their logs explain a failure)
    CHECKS = [
        ("kill-file-secrets", "kill_file_secrets", ["file-secrets-f"]),
        ("kill-memstore", "kill_memstore", ["memstore-f"]),
        ("kill-ticker", "kill_ticker", ["ticker-f"]),
        ("redis-restart", "redis_restart", ["redis-store-f"]),
        ("garbage", "garbage", ["multi-f"]),
        ("huge", "huge", ["multi-f"]),
        ("socket-deleted", "socket_deleted", ["memstore-f"]),
        ("sockets-folder", "sockets_folder", None),  # every process in `served`
    ]

    def __init__(self, suite: "Suite"):
        self.suite = suite
        self.f = suite.f
        self.client = self.f.client()
        self.plain = suite.secrets["plain-key"]
        # Every F component process, its socket file name and the components it serves.
        self.served = {
            "file-secrets-f": ("file-secrets", [FAULT_SECRETS]),
            "memstore-f": ("memstore", [FAULT_MEMSTORE]),
            "redis-store-f": ("redis-store", [FAULT_STATE_REDIS, FAULT_PUBSUB_REDIS]),
            "multi-f": ("multi", [FAULT_MULTI]),
        }
        if "ticker-f" in suite.comp:
            self.served["ticker-f"] = ("ticker", [FAULT_TICKS])
        self.published = {"n": 0}

    def run(self) -> None:
        """Runs the checks in order; after each, restarts what it left stopped. Stops
        (reporting the rest as not run) when apiary F is gone."""
        suite, f = self.suite, self.f
        names = [name for name, _, _ in self.CHECKS]
        for name, method, keys in self.CHECKS:
            keys = list(self.served) if keys is None else keys
            procs = self.procs_of(*keys)
            if name == "redis-restart":
                procs = lambda: [f.proc, suite.comp["redis-store-f"], suite.redis]  # noqa: E731
            suite.run_check(f"faults/{name}", lambda fn=getattr(self, method): self.timed(fn), procs)
            if not f.proc.alive():
                for rest in names[names.index(name) + 1:]:
                    suite.report_fail(f"faults/{rest}", f"not run: apiary F exited with status {f.proc.exit_status()}",
                                      [f.proc])
                return
            for key in keys:
                self.revive(key)
            if suite.redis is not None and not suite.redis.alive():
                try:
                    suite.redis.start()
                    wait_until(suite.redis_ping, 10)
                except Exception as error:  # noqa: BLE001
                    print(f"note: could not restart redis-server: {describe_error(error)}", flush=True)

    @staticmethod
    def timed(fn):
        started = now()
        return f"{fn()} ({now() - started:.1f} s)"

    def procs_of(self, *keys):
        return lambda: [self.f.proc] + [self.suite.comp[k] for k in keys if k in self.suite.comp]

    # ------------------------------------------------------------ steps

    def secret_http(self):
        verdict, status, raw = http_step("GET", self.f.url(f"/v1.0/secrets/{FAULT_SECRETS}/plain-key"))
        if verdict == "ok" and json.loads(raw) != {"plain-key": self.plain}:
            return "bad", f"HTTP 200 with the wrong secret {raw[:100]!r}"
        return verdict, status

    def secret_grpc(self):
        verdict, status, got = grpc_step(lambda: self.client.get_secret(FAULT_SECRETS, "plain-key"))
        if verdict == "ok" and dict(got.secret) != {"plain-key": self.plain}:
            return "bad", f"get_secret answered the wrong secret {dict(got.secret)!r}"
        return verdict, status

    def save_then_read(self, tag: str, save, read):
        """Saves a key, then reads it back (one call per step); a read after a
        successful save must answer that value. `save(key, value)` answers (verdict,
        status); `read(key, saved)` too, judging the value against `saved` (None
        when the save failed)."""
        memo = {"n": 0, "saved": None}

        def step():
            n = memo["n"]
            memo["n"] += 1
            key = unique(f"{tag}-{n // 2 % 50}")
            if n % 2 == 0:
                value = f"{tag}-{n // 2}"
                verdict, status = save(key, value)
                memo["saved"] = value if verdict == "ok" else None
                return verdict, status
            return read(key, memo["saved"])

        return step

    def state_http(self, store: str, tag: str):
        def save(key, value):
            verdict, status, _ = http_step("POST", self.f.url(f"/v1.0/state/{store}"),
                                           json.dumps([{"key": key, "value": value}]).encode(), ok=(204,))
            return verdict, status

        def read(key, saved):
            verdict, status, raw = http_step("GET", self.f.url(f"/v1.0/state/{store}/{quote(key)}"), ok=(200, 204))
            if verdict == "ok" and saved is not None and (not raw or json.loads(raw) != saved):
                return "bad", f"{status}: read {raw[:80]!r} right after saving {saved!r}"
            return verdict, status

        return self.save_then_read(tag, save, read)

    def state_grpc(self, store: str, tag: str):
        def save(key, value):
            verdict, status, _ = grpc_step(lambda: self.client.save_state(store, key, value.encode()))
            return verdict, status

        def read(key, saved):
            verdict, status, got = grpc_step(lambda: self.client.get_state(store, key))
            if verdict == "ok" and saved is not None and got.data != saved.encode():
                return "bad", f"get_state answered {got.data[:80]!r} right after saving {saved!r}"
            return verdict, status

        return self.save_then_read(tag, save, read)

    published = {"n": 0}

    def publish_grpc(self):
        data = json.dumps({"run": RUN, "round": "faults", "i": self.published["n"]})
        self.published["n"] += 1
        verdict, status, _ = grpc_step(lambda: self.client.publish_event(
            FAULT_PUBSUB_REDIS, TOPIC_FAULTS, data, data_content_type="application/json"))
        return verdict, status

    # ------------------------------------------------------------ shared plumbing

    def states(self, components) -> dict:
        try:
            entries = self.f.component_states()
        except Exception:  # noqa: BLE001  (no answer: no states)
            return {}
        return {c: (entries.get(c) or {}).get("state") for c in components}

    def all_up(self, components) -> bool:
        current = self.states(components)
        return bool(current) and all(current.get(c) == "UP" for c in components)

    def all_down(self, components) -> bool:
        current = self.states(components)
        return bool(current) and all(current.get(c) not in (None, "UP") for c in components)

    def apiary_problems(self, offset: int) -> list:
        problems = []
        if not self.f.proc.alive():
            problems.append(f"apiary F exited with status {self.f.proc.exit_status()}")
        else:
            try:
                status, _, _ = http("GET", self.f.url("/actuator/health/liveness"), timeout=FAULT_DEADLINE)
                if status != 200:
                    problems.append(f"apiary F's liveness answers {status}")
            except Exception as error:  # noqa: BLE001
                problems.append(f"apiary F's liveness does not answer ({type(error).__name__}: {error})")
        for line in self.f.proc.since(offset).splitlines():
            if any(mark in line for mark in CRASH_MARKS):
                problems.append(f"apiary F's log: {line.strip()[:300]}")
                break
        return problems

    def warm_up(self, load: Load) -> None:
        started = now()
        ready = wait_until(lambda: load.all_ok_since(started), 10)
        check(bool(ready), f"the load did not get a successful call on every thread within 10 s before the "
                           f"fault ({load_report(load.snapshot())[1]})")
        time.sleep(0.5)

    def wait_back(self, components, load: Load, since: float, timeout: float, problems: list, what: str) -> float:
        """Waits until `components` are UP and every load thread succeeded since
        `since`; a problem naming `what` otherwise. Returns the time it ended."""
        back = wait_until(lambda: self.all_up(components) and load.all_ok_since(since), timeout, 0.1)
        if not back:
            problems.append(f"{what}: not UP with successful calls on every thread within {timeout:.0f} s "
                            f"(states {self.states(components)})")
        return now()

    def stop_load(self, load: Load, allowed: tuple | None = None):
        """Stops the load's threads: its records, the problems of its calls and their summary."""
        stuck = load.stop(FAULT_DEADLINE + 2)
        records = load.snapshot()
        call_problems, summary = load_report(records, allowed) if allowed else load_report(records)
        if stuck:
            call_problems.append(f"threads still in a call {FAULT_DEADLINE + 2:.0f} s after the load stopped: {stuck}")
        return records, call_problems, summary

    def revive(self, key: str) -> None:
        """Starts a component process a failed check left stopped (later checks need it)."""
        proc = self.suite.comp.get(key)
        if proc is None or proc.alive():
            return
        try:
            if not os.path.isdir(self.f.sockets):
                os.makedirs(self.f.sockets, mode=0o700)
            proc.start()
            self.suite.wait_socket(proc, self.f.socket(self.served[key][0]), 30)
        except Exception as error:  # noqa: BLE001
            print(f"note: could not restart {key}: {describe_error(error)}", flush=True)

    def kill_under_load(self, key: str, steps: dict, allowed: tuple = ALLOWED_GONE) -> str:
        proc = self.suite.comp[key]
        socket_name, components = self.served[key]
        offset = self.f.proc.size()
        load = Load(steps).start()
        timeline = {}
        problems = []
        try:
            self.warm_up(load)
            old_pid = proc.pid
            timeline["kill"] = now()
            proc.kill9()
            down = wait_until(lambda: self.all_down(components), 10, 0.1)
            timeline["down"] = now()
            seen = self.states(components)
            if not down:
                problems.append(f"not DOWN within 10 s of the kill (states {seen})")
            time.sleep(0.5)  # calls meet the DOWN component too
            proc.start()
            self.suite.wait_socket(proc, self.f.socket(socket_name), 20)
            timeline["restart"] = now()
            timeline["back"] = self.wait_back(components, load, timeline["restart"], 20, problems,
                                         f"after the restart (pid {proc.pid})")
        finally:
            records, call_problems, summary = self.stop_load(load, allowed)
        during = [r for r in records if timeline["kill"] <= r[0] < timeline.get("back", now())]
        _, during_summary = load_report(during, allowed)
        problems = self.apiary_problems(offset) + call_problems + problems
        check(not problems, "; ".join(problems) + f" [{summary}]")
        memory = memory_of(self.f.proc.pid)
        return (f"{proc.name} (pid {old_pid}) killed with SIGKILL under load ({', '.join(steps)}): "
                f"{'/'.join(components)} {'/'.join(str(s) for s in seen.values())} after "
                f"{timeline['down'] - timeline['kill']:.1f} s; restarted on the same socket (pid {proc.pid}), UP "
                f"with successful calls on every thread {timeline['back'] - timeline['restart']:.1f} s later; "
                f"all: {summary}; from the kill to recovery: {during_summary}; apiary F alive "
                f"(VmRSS {memory.get('VmRSS', 0):.0f} MiB)")

    # ------------------------------------------------------------ checks

    def kill_file_secrets(self):
        message = self.kill_under_load("file-secrets-f", {"http-secret": self.secret_http, "grpc-secret": self.secret_grpc})
        return message + "; the secret read after the restart is the one in the file"

    def kill_memstore(self):
        message = self.kill_under_load("memstore-f", {"http-state": self.state_http(FAULT_MEMSTORE, "mem-http"),
                                                 "grpc-state": self.state_grpc(FAULT_MEMSTORE, "mem-grpc")})
        return message + "; new saves after the restart read back (memstore keeps nothing across a kill)"

    def kill_ticker(self):
        check("ticker-f" in self.suite.comp, f"{self.suite.ticker_problem}: no ticker to kill")
        proc = self.suite.comp["ticker-f"]
        route = f"/{FAULT_TICKS}"
        offset = self.f.proc.size()
        problems = []
        started = now()
        flowing = self.f.app.wait_for(lambda app: len(app.posts(route, since=started)) >= 3, 10)
        check(bool(flowing), f"fewer than 3 POST {route} within 10 s before the kill "
                             f"(state {self.states([FAULT_TICKS])})")
        old_pid = proc.pid
        killed = now()
        proc.kill9()
        down = wait_until(lambda: self.all_down([FAULT_TICKS]), 10, 0.1)
        seen = self.states([FAULT_TICKS]).get(FAULT_TICKS)
        if not down:
            problems.append(f"{FAULT_TICKS} not DOWN within 10 s of the kill (state {seen})")
        down_after = now() - killed
        proc.start()
        self.suite.wait_socket(proc, self.f.socket("ticker"), 20)
        restarted = now()
        resumed = self.f.app.wait_for(lambda app: len(app.posts(route, since=restarted)) >= 3, 20)
        if not resumed:
            problems.append(f"fewer than 3 POST {route} within 20 s of the restart (state {self.states([FAULT_TICKS])})")
        back_after = now() - restarted
        after = [r["json"].get("tick") for r in self.f.app.posts(route, since=restarted) if isinstance(r["json"], dict)]
        problems = self.apiary_problems(offset) + problems
        check(not problems, "; ".join(problems))
        return (f"ticker (pid {old_pid}) killed with SIGKILL while it delivered every 100 ms: {FAULT_TICKS} "
                f"{seen} after {down_after:.1f} s; restarted (pid {proc.pid}), 3 POST {route} within "
                f"{back_after:.1f} s (ticks {after[:3]}: the new process counts from 1); apiary F alive")

    def redis_restart(self):
        components = [FAULT_STATE_REDIS, FAULT_PUBSUB_REDIS]
        offset = self.f.proc.size()
        load = Load({"http-state": self.state_http(FAULT_STATE_REDIS, "redis-http"),
                     "grpc-state": self.state_grpc(FAULT_STATE_REDIS, "redis-grpc"),
                     "grpc-publish": self.publish_grpc}).start()
        timeline = {}
        problems = []
        seen = set()
        try:
            self.warm_up(load)
            timeline["stop"] = now()
            self.suite.redis.stop()
            # Down for 3 s: the heartbeat (1 s, threshold 2) has time to see it.
            deadline = now() + 3
            while now() < deadline:
                seen |= {f"{c} {s}" for c, s in self.states(components).items()}
                time.sleep(0.2)
            self.suite.redis.start()
            check(bool(wait_until(self.suite.redis_ping, 10)), "redis-server does not answer PING 10 s after its restart")
            timeline["start"] = now()
            timeline["back"] = self.wait_back(components, load, timeline["start"], 20, problems,
                                         "after redis' restart")
        finally:
            records, call_problems, summary = self.stop_load(load)
        _, outage = load_report([r for r in records if timeline["stop"] <= r[0] < timeline.get("start", now())])
        # A publish after the outage reaches the app (the subscription came back).
        marker = json.dumps({"run": RUN, "round": "faults-after", "i": 0})
        sent = now()
        delivered = None
        verdict, status, _ = grpc_step(lambda: self.client.publish_event(
            FAULT_PUBSUB_REDIS, TOPIC_FAULTS, marker, data_content_type="application/json"))
        if verdict != "ok":
            problems.append(f"a publish after the recovery failed: {status}")
        else:
            delivered = self.f.app.wait_for(lambda app: indices_of(app.posts("/faults"), "faults-after"), 15)
            if not delivered:
                problems.append(f"a message published after the recovery was not delivered to /faults within 15 s "
                                f"({len(self.f.app.posts('/faults'))} deliveries in all)")
        problems = self.apiary_problems(offset) + call_problems + problems
        check(not problems, "; ".join(problems) + f" [{summary}]")
        return (f"redis-server stopped for 3 s under load (states seen: {', '.join(sorted(seen))}); after its "
                f"restart (data lost: --save '') {'/'.join(components)} UP with successful saves, reads and "
                f"publishes {timeline['back'] - timeline['start']:.1f} s later; calls started from the stop until "
                f"redis answered again: {outage}; "
                f"all: {summary}; a message published afterwards was delivered in {now() - sent:.1f} s "
                f"({len(self.f.app.posts('/faults'))} deliveries to /faults in all); apiary F alive")

    def faulty_get(self, suffix: str, rounds: int):
        """Gets of keys ending in `suffix` through HTTP and gRPC, `rounds` times each,
        then a save and a read of an ordinary key through both. A broken answer of
        the component is the component's failure: each Get must fail with HTTP 500 /
        gRPC INTERNAL, a message and an error code. Answers (a summary of the outcomes
        with the first answer of each surface, problems, slowest)."""
        http_statuses, grpc_codes = (500,), (grpc.StatusCode.INTERNAL,)
        outcomes = collections.Counter()
        wrong = collections.Counter()
        firsts = {}
        problems = []
        slowest = 0.0
        for n in range(rounds):
            key = unique(f"get-{n}-{suffix}")
            for surface in ("http", "grpc"):
                started = now()
                if surface == "http":
                    verdict, status, raw = http_step("GET", self.f.url(f"/v1.0/state/{FAULT_MULTI}/{quote(key)}"),
                                                     ok=(), statuses=http_statuses)
                    try:
                        detail = f"{status} {json.loads(raw).get('message')!r}"
                    except (ValueError, AttributeError):
                        detail = f"{status} {raw[:200]!r}"
                else:
                    verdict, status, message = grpc_step(lambda: self.client.get_state(FAULT_MULTI, key),
                                                         codes=grpc_codes)
                    detail = f"{status} {message!r}"
                took = now() - started
                slowest = max(slowest, took)
                outcomes[status] += 1
                if verdict != "error":
                    wrong[status] += 1
                if took > FAULT_DEADLINE:
                    problems.append(f"{surface} Get of {key} took {took:.1f} s (deadline {FAULT_DEADLINE:.0f} s)")
                if n == 0:
                    firsts[surface] = detail[:240]
        if wrong:
            problems.insert(0, f"Gets of keys the component answers with {suffix}: expected HTTP 500 / gRPC "
                               f"INTERNAL with an error code and a message, got "
                               + ", ".join(f"{k} x{v}" for k, v in wrong.items()))
        for surface, steps in (("http", self.state_http(FAULT_MULTI, f"after-{suffix}-http")),
                               ("grpc", self.state_grpc(FAULT_MULTI, f"after-{suffix}-grpc"))):
            for what in ("save", "read"):
                verdict, status = steps()
                if verdict != "ok":
                    problems.append(f"{surface} {what} of an ordinary key afterwards: {status}")
        counts = ", ".join(f"{k} x{v}" for k, v in outcomes.items())
        return f"{counts} (first answers: {firsts.get('http')}; {firsts.get('grpc')})", problems, slowest

    def garbage(self):
        offset = self.f.proc.size()
        outcomes, problems, slowest = self.faulty_get(GARBAGE_SUFFIX, 3)
        problems = self.apiary_problems(offset) + problems
        check(not problems, "; ".join(problems) + f" [{outcomes}]")
        return (f"Get of a key multi_component.py answers with bytes that are not a GetResponse: "
                f"{outcomes}, slowest {slowest:.2f} s; an ordinary key saves and reads "
                f"afterwards (HTTP and gRPC); apiary F alive")

    def huge(self):
        """Six 100 MiB answers; apiary F's VmRSS 1 s after must be within 32 MiB of
        before: a 4 MiB cap on what a component may send is not kept if every
        oversized answer is read whole first, and the process keeps that memory."""
        offset = self.f.proc.size()
        before = memory_of(self.f.proc.pid)
        outcomes, problems, slowest = self.faulty_get(HUGE_SUFFIX, 3)
        time.sleep(1.0)
        after = memory_of(self.f.proc.pid)
        rss = (before.get("VmRSS", 0.0), after.get("VmRSS", 0.0))
        peak = (before.get("VmHWM", 0.0), after.get("VmHWM", 0.0))
        memory = (f"apiary F's VmRSS {rss[0]:.0f} MiB before, {rss[1]:.0f} MiB 1 s after (peak VmHWM "
                  f"{peak[0]:.0f} -> {peak[1]:.0f} MiB)")
        if rss[1] - rss[0] > 32:
            problems.append(f"{memory}: it grew by {rss[1] - rss[0]:.0f} MiB and kept it, after 6 answers refused "
                            f"for being over 4 MiB")
        problems = self.apiary_problems(offset) + problems
        check(not problems, "; ".join(problems) + f" [{outcomes}]")
        return (f"Get of a key multi_component.py answers with 100 MiB of data (--max-body-size 4Mi), 3 times "
                f"through each surface: {outcomes}, slowest {slowest:.2f} s; {memory}; an ordinary key saves "
                f"and reads afterwards")

    def socket_deleted(self):
        proc = self.suite.comp["memstore-f"]
        path = self.f.socket("memstore")
        offset = self.f.proc.size()
        kept = unique("unlink-kept")
        sdk("save_state before the unlink", lambda: self.client.save_state(FAULT_MEMSTORE, kept, b"kept"))
        load = Load({"http-state": self.state_http(FAULT_MEMSTORE, "unlink-http"),
                     "grpc-state": self.state_grpc(FAULT_MEMSTORE, "unlink-grpc")}).start()
        timeline = {}
        problems = []
        seen = []
        try:
            self.warm_up(load)
            timeline["unlink"] = now()
            os.unlink(path)
            deadline = now() + 3
            while now() < deadline:
                state = self.states([FAULT_MEMSTORE]).get(FAULT_MEMSTORE)
                if not seen or seen[-1][1] != state:
                    seen.append((now() - timeline["unlink"], state))
                time.sleep(0.1)
            if not proc.alive():
                problems.append(f"memstore exited ({proc.exit_status()}) after its socket file was unlinked")
            # DOWN at once, and DOWN until the socket is back: the old connection
            # must not bring it UP (nor Init the process that never restarted).
            down_at = next((i for i, (_, st) in enumerate(seen) if st == "DOWN"), None)
            if down_at is None or any(st != "DOWN" for _, st in seen[down_at:]):
                problems.append(f"not DOWN throughout while its socket file was gone: {seen}")
            # Is what was saved before the unlink still there (the process never stopped)?
            verdict, status, got = grpc_step(lambda: self.client.get_state(FAULT_MEMSTORE, kept))
            if verdict != "ok":
                survived = f"the value saved before the unlink could not be read 3 s later ({status})"
            elif got.data == b"kept":
                survived = "the value saved before the unlink is still there 3 s later"
            else:
                survived = (f"the value saved before the unlink is gone 3 s later ({got.data!r}): memstore was "
                            f"initialised anew though its process never stopped")
            timeline["restart"] = now()
            proc.stop()
            proc.start()
            self.suite.wait_socket(proc, path, 20)
            timeline["started"] = now()
            timeline["back"] = self.wait_back([FAULT_MEMSTORE], load, timeline["started"], 20, problems,
                                         f"after the restart (pid {proc.pid})")
        finally:
            records, call_problems, summary = self.stop_load(load, ALLOWED_GONE)
        _, unlinked = load_report([r for r in records if timeline["unlink"] <= r[0] < timeline.get("restart", now())],
                                  ALLOWED_GONE)
        _, restarted = load_report([r for r in records if r[0] >= timeline.get("restart", now())],
                                   ALLOWED_GONE)
        problems = self.apiary_problems(offset) + call_problems + problems
        check(not problems, "; ".join(problems) + f" [{summary}]")
        states_seen = ", ".join(f"{s} at +{t:.1f} s" for t, s in seen)
        return (f"memstore's socket file unlinked while it ran under load: {FAULT_MEMSTORE} {states_seen}; "
                f"in the 3 s after the unlink: {unlinked}; {survived}; restarted (SIGTERM, start; pid {proc.pid}), "
                f"UP with successful calls {timeline['back'] - timeline['started']:.1f} s later; from the restart "
                f"on: {restarted}; apiary F alive")

    def sockets_folder(self):
        components = [name for key in self.served for name in self.served[key][1]]
        offset = self.f.proc.size()
        load = Load({"http-secret": self.secret_http, "grpc-state": self.state_grpc(FAULT_MEMSTORE, "folder-grpc")}).start()
        timeline = {}
        problems = []
        try:
            self.warm_up(load)
            timeline["remove"] = now()
            shutil.rmtree(self.f.sockets)

            # Each component logged going DOWN (read from the log, which keeps
            # every transition).
            def logged_down():
                text = self.f.proc.since(offset)
                return all(f"[{c}] component is DOWN" in text for c in components)

            down = wait_until(logged_down, 10, 0.1)
            timeline["down"] = now()
            if not down:
                problems.append(f"not every component logged DOWN within 10 s of the folder's removal "
                                f"(states now {self.states(components)})")
            time.sleep(0.5)
            while_gone = collections.Counter(self.states(components).values())
            alive_while_gone = self.f.proc.alive()
            os.mkdir(self.f.sockets, 0o700)
            timeline["mkdir"] = now()
            keys = list(self.served)
            stoppers = [threading.Thread(target=self.suite.comp[k].stop, daemon=True) for k in keys]
            for t in stoppers:
                t.start()
            for t in stoppers:
                t.join(timeout=15)
            for k in keys:
                self.suite.comp[k].start()
            for k in keys:
                self.suite.wait_socket(self.suite.comp[k], self.f.socket(self.served[k][0]), 30)
            timeline["started"] = now()
            timeline["back"] = self.wait_back(components, load, timeline["started"], 30, problems,
                                         "after the restarts")
            ready, _, _ = http("GET", self.f.url("/v1.0/healthz"), timeout=5)
            if ready != 204:
                problems.append(f"/v1.0/healthz answers {ready} after the recovery, expected 204")
        finally:
            records, call_problems, summary = self.stop_load(load, ALLOWED_GONE)
        # Text format: "<time> <level> [<component>] <message> ..." or "<time> <level> apiary: ...".
        warnings = [line for line in self.f.proc.since(offset).splitlines() if line.split(" ", 2)[1:2] == ["warning"]]
        if not warnings:
            problems.append("apiary F logged no warning about the removed sockets")
        problems = self.apiary_problems(offset) + call_problems + problems
        check(not problems, "; ".join(problems) + f" [{summary}]")
        first = warnings[0].split(" ", 2)[2][:160]
        shown = ", ".join(f"{n} {state}" for state, n in while_gone.items())
        return (f"sockets folder removed (rm -rf) under load: {len(components)} components logged DOWN within "
                f"{timeline['down'] - timeline['remove']:.1f} s, states 0.5 s later: {shown}; apiary F "
                f"{'alive' if alive_while_gone else 'gone'} ({len(warnings)} warnings, first {first!r}); folder "
                f"re-created 0700 and the {len(self.served)} "
                f"component processes restarted: all UP with successful calls "
                f"{timeline['back'] - timeline['started']:.1f} s later, /v1.0/healthz 204; all: {summary}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", help="folder with the apiary, memstore and ticker executables "
                                      "(default: swift build --show-bin-path in the repository)")
    parser.add_argument("--file-secrets", help=f"the built C++ sample (default {os.path.relpath(DEFAULT_FILE_SECRETS, REPO)}, "
                                               "built with cmake when missing)")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, metavar="NAME",
                        help=f"run only these scenarios: {', '.join(SCENARIOS)}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, sockets, files)")
    args = parser.parse_args()
    if args.only:
        args.only = [name for name in SCENARIOS if name in args.only]  # always in the documented order

    return run_suite(Suite(args))


if __name__ == "__main__":
    sys.exit(main())
