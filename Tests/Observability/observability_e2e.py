#!/usr/bin/env python3
"""Observability end to end: apiary's traces reach a real OTLP receiver, its metrics
parse as Prometheus text and never carry request data, and the Grafana dashboard
names only metrics apiary exports.

    python3 Tests/Observability/observability_e2e.py --bin .build/debug [--only CHECK ...] [--keep]

Each check starts what it needs on a temporary folder: `apiary run` (free ports on
127.0.0.1, a sockets folder with mode 0700), the Python state store traced_store.py
(which writes down the trace context of each call it gets), the OTLP receiver of
otlp_receiver.py (gRPC and HTTP/protobuf, from the opentelemetry-proto package) and,
where events are delivered, a subscriber app on http.server.  The client is the Dapr
Python SDK (dapr 1.19.0) where it can say what the check needs, else raw gRPC stubs
(to read response headers or send `grpc-trace-bin`) or urllib.  Nothing sleeps for a
fixed time: every wait polls with a deadline; the checks that show something does
NOT happen wait out a stated absence window behind a positive control.

Prints `PASS name: ...` / `FAIL name: ...` (with the tail of apiary's log) per
check and ends with one line `N passed, M failed`; exits 1 when a check failed.
"""

from __future__ import annotations

import argparse
import base64
from http import server as http_server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid

os.environ["DAPR_API_TOKEN"] = ""
os.environ["APIARY_API_TOKEN"] = ""
os.environ.setdefault("DAPR_API_TIMEOUT_SECONDS", "15")

import grpc  # noqa: E402
import hpack  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from dapr.clients import DaprClient  # noqa: E402
from dapr.proto import api_service_v1, api_v1  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from otlp_receiver import OTLPReceiver  # noqa: E402
sys.path.insert(0, os.path.join(REPO, "Tests", "Support", "python"))
from apiarytest.components import component_yaml  # noqa: E402
from apiarytest.dapr import close_quietly  # noqa: E402

TRACED_STORE = os.path.join(HERE, "traced_store.py")
DASHBOARD = os.path.join(REPO, "Deploy", "grafana", "apiary-dashboard.json")
ARRIVAL = 30.0  # how long a check waits for something that must arrive
ABSENCE = 2.0  # how long a check waits to show that something does not arrive (10 schedule delays)
TAIL = 12
SCHEDULE_DELAY_MS = "200"  # OTEL_BSP_SCHEDULE_DELAY: spans leave the sidecar within 0.2 s

CHECKS = ["grpc-trace", "http-trace", "grpc-trace-bin", "publish-delivery", "otlp-http-env", "sampling",
          "receiver-down", "receiver-slow", "metrics-audit", "metrics-disabled", "metrics-rules", "dashboard"]


class CheckFailure(Exception):
    pass


def check(condition, message: str) -> None:
    if not condition:
        raise CheckFailure(message)


def now() -> float:
    return time.monotonic()


def wait_until(predicate, timeout: float = ARRIVAL, interval: float = 0.05):
    deadline = now() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if now() >= deadline:
            return None
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 10):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, dict(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def new_trace() -> tuple:
    trace_id = uuid.uuid4().hex
    span_id = uuid.uuid4().hex[:16]
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def parse_traceparent(text: str | None):
    match = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})", text or "")
    return match.groups() if match else None


def trace_bin(trace_id: str, span_id: str, sampled: bool = True) -> bytes:
    return bytes([0, 0]) + bytes.fromhex(trace_id) + bytes([1]) + bytes.fromhex(span_id) + bytes([2, 1 if sampled else 0])


def parse_trace_bin(value: bytes):
    if len(value) < 29 or value[0] != 0 or value[1] != 0 or value[18] != 1:
        return None
    return value[2:18].hex(), value[19:27].hex(), value[28] & 1 == 1


def grpc_answer_headers(port: int, method: str, message: bytes, metadata: list, timeout: float = 10) -> dict:
    """One unary gRPC call over a raw HTTP/2 connection (h2c, prior knowledge), for the
    answer's headers: grpcio's core keeps `grpc-trace-bin` to itself and never shows it
    to the application.  Returns the first HEADERS block of stream 1 as a dict."""
    def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload

    headers = [(":method", "POST"), (":scheme", "http"), (":path", method), (":authority", f"127.0.0.1:{port}"),
               ("content-type", "application/grpc"), ("te", "trailers")] + list(metadata)
    body = b"\x00" + len(message).to_bytes(4, "big") + message
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"")
                           + frame(1, 4, 1, hpack.Encoder().encode(headers)) + frame(0, 1, 1, body))
        decoder = hpack.Decoder()
        buffer = b""
        deadline = now() + timeout
        while now() < deadline:
            while len(buffer) >= 9:
                length = int.from_bytes(buffer[:3], "big")
                if len(buffer) < 9 + length:
                    break
                kind, flags, stream = buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
                payload, buffer = buffer[9:9 + length], buffer[9 + length:]
                if kind == 4 and not flags & 1:
                    connection.sendall(frame(4, 1, 0, b""))  # acknowledge the server's settings
                if kind == 1 and stream == 1:
                    if flags & 8:  # padded
                        payload = payload[1:len(payload) - payload[0]]
                    if flags & 0x20:  # priority
                        payload = payload[5:]
                    return {k.decode() if isinstance(k, bytes) else k: v for k, v in decoder.decode(payload, raw=True)}
            chunk = connection.recv(65536)
            if not chunk:
                break
            buffer += chunk
    raise CheckFailure(f"no answer headers for {method} on port {port}")


def component(name: str, type_: str, metadata: dict | None = None) -> str:
    return component_yaml(name, type_, metadata, empty_metadata=False)


def configuration(tracing: dict | None = None, metrics: dict | None = None) -> str:
    spec = {}
    if tracing is not None:
        spec["tracing"] = tracing
    if metrics is not None:
        spec["metrics"] = metrics
    return json.dumps({"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration", "metadata": {"name": "obs"},
                       "spec": spec}, indent=2) + "\n"


def otel(port: int, protocol: str = "grpc", timeout: str | None = None, rate: str = "1") -> dict:
    tracing = {"samplingRate": rate,
               "otel": {"endpointAddress": f"127.0.0.1:{port}", "isSecure": False, "protocol": protocol}}
    if timeout:
        tracing["otel"]["timeout"] = timeout
    return tracing


def families(text: str) -> list:
    """The scrape parsed by prometheus_client (raises on anything not Prometheus text)."""
    return list(text_string_to_metric_families(text))


def samples(text: str) -> list:
    return [sample for family in families(text) for sample in family.samples]


def metric_value(text: str, name: str, **labels) -> float:
    total = 0.0
    for sample in samples(text):
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            total += sample.value
    return total


# ------------------------------------------------------------------ processes


class Proc:
    def __init__(self, name: str, argv: list, log_dir: str, env: dict | None = None, cwd: str | None = None):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.popen = subprocess.Popen([str(a) for a in argv], stdout=self.log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=cwd, env={**os.environ, **(env or {})},
                                      start_new_session=True)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self.log.close()

    def text(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                return log.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = TAIL) -> list:
        return self.text().splitlines()[-lines:]


class App:
    """A subscriber app on http.server: it lists its subscriptions and writes down
    every delivery (path, headers, CloudEvent); routes ending in /drop answer DROP."""

    def __init__(self, subscriptions: list):
        self.deliveries: list = []
        self.lock = threading.Lock()
        app = self

        class Handler(http_server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = json.dumps(subscriptions if self.path == "/dapr/subscribe" else []).encode()
                self.send_response(200 if self.path == "/dapr/subscribe" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    event = json.loads(body)
                except ValueError:
                    event = None
                with app.lock:
                    app.deliveries.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                           "event": event})
                answer = json.dumps({"status": "DROP" if self.path.endswith("/drop") else "SUCCESS"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http_server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def where(self, path: str) -> list:
        with self.lock:
            return [d for d in self.deliveries if d["path"] == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Sidecar:
    def __init__(self, suite: "Suite", label: str, documents: list, config: str | None = None,
                 app: App | None = None, env: dict | None = None, traced_store: bool = True,
                 memstore: bool = False, extra_args: tuple = ()):
        self.suite = suite
        self.label = label
        self.app_id = f"obs-{label}"
        self.root = os.path.join(suite.tmp, label)
        self.sockets = os.path.join(self.root, "sockets")
        self.resources = os.path.join(self.root, "resources")
        os.makedirs(self.sockets, mode=0o700)
        os.chmod(self.sockets, 0o700)
        os.makedirs(self.resources)
        self.calls_path = os.path.join(self.root, "store-calls.jsonl")
        open(self.calls_path, "w").close()
        docs = list(documents)
        if traced_store:
            docs.insert(0, component("statestore", "state.traced"))
        with open(os.path.join(self.resources, "resources.yaml"), "w", encoding="utf-8") as out:
            out.write("---\n".join(docs))
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.root, "config.yaml")
            with open(self.config_path, "w", encoding="utf-8") as out:
                out.write(config)
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.procs = []
        if traced_store:
            store = Proc(f"{label}-traced-store", [sys.executable, TRACED_STORE, "--socket",
                                                   os.path.join(self.sockets, "traced.sock"), "--calls",
                                                   self.calls_path], suite.logs)
            suite.procs.append(store)
            self.procs.append(store)
            check(wait_until(lambda: os.path.exists(os.path.join(self.sockets, "traced.sock")) or not store.alive()),
                  "traced_store.py did not open its socket")
            check(store.alive(), "traced_store.py exited: " + " | ".join(store.tail()))
        if memstore:
            mem = Proc(f"{label}-memstore", [os.path.join(suite.bin_dir, "memstore"), "--socket",
                                             os.path.join(self.sockets, "memstore.sock")], suite.logs)
            suite.procs.append(mem)
            self.procs.append(mem)
            check(wait_until(lambda: os.path.exists(os.path.join(self.sockets, "memstore.sock")) or not mem.alive()),
                  "memstore did not open its socket")
        argv = [os.path.join(suite.bin_dir, "apiary"), "run", "--resources-path", self.resources,
                "--sockets-dir", self.sockets, "--app-id", self.app_id, "--grpc-port", self.grpc_port,
                "--http-port", self.http_port, "--log-level", "info"]
        if self.config_path:
            argv += ["--config", self.config_path]
        if app is not None:
            argv += ["--app-port", app.port, "--app-protocol", "http"]
        argv += list(extra_args)
        environment = {"OTEL_BSP_SCHEDULE_DELAY": SCHEDULE_DELAY_MS, **(env or {})}
        self.proc = Proc(f"{label}-apiary", argv, suite.logs, env=environment, cwd=self.root)
        suite.procs.append(self.proc)
        self.procs.append(self.proc)
        self.wait_ready()
        self._client = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def wait_ready(self) -> None:
        def ready():
            check(self.proc.alive(), f"apiary exited ({self.proc.popen.returncode}) before it was ready:\n"
                  + "\n".join(self.proc.tail()))
            try:
                return http("GET", self.url("/v1.0/healthz"), timeout=2)[0] == 204
            except OSError:
                return False
        check(wait_until(ready, 45, 0.1), "apiary was not ready within 45 s:\n" + "\n".join(self.proc.tail()))

    def client(self) -> DaprClient:
        if self._client is None:
            os.environ["DAPR_HTTP_PORT"] = str(self.http_port)
            os.environ["DAPR_GRPC_PORT"] = str(self.grpc_port)
            self._client = DaprClient(address=f"127.0.0.1:{self.grpc_port}")
        return self._client

    def stub(self):
        channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        return channel, api_service_v1.DaprStub(channel)

    def metrics(self) -> str:
        status, _, body = http("GET", self.url("/metrics"))
        check(status == 200, f"/metrics answered {status}")
        return body.decode()

    def store_calls(self) -> list:
        with open(self.calls_path, encoding="utf-8") as calls:
            return [json.loads(line) for line in calls if line.strip()]

    def stop(self) -> None:
        close_quietly(self._client)
        for proc in reversed(self.procs):
            proc.stop()


# ------------------------------------------------------------------ the suite


class Suite:
    def __init__(self, args):
        self.args = args
        self.bin_dir = os.path.abspath(args.bin)
        self.tmp = tempfile.mkdtemp(prefix="apiary-observability-")
        self.logs = os.path.join(self.tmp, "logs")
        os.makedirs(self.logs)
        self.procs: list = []
        self.passed = 0
        self.failed = 0

    def run(self, name: str, fn) -> None:
        sidecars: list = []
        receivers: list = []
        apps: list = []
        try:
            message = fn(sidecars, receivers, apps)
            self.passed += 1
            print(f"PASS {name}: {message}", flush=True)
        except Exception as error:  # noqa: BLE001
            self.failed += 1
            text = str(error) if isinstance(error, CheckFailure) else (
                f"unexpected {type(error).__name__}: {error}\n"
                + "".join(traceback.format_exception(type(error), error, error.__traceback__)[-4:]))
            lines = text.splitlines() or [""]
            print(f"FAIL {name}: {lines[0]}", flush=True)
            for line in lines[1:]:
                print(f"    {line}")
            for sidecar in sidecars:
                print(f"    --- last {TAIL} lines of {sidecar.proc.log_path} ---")
                for line in sidecar.proc.tail():
                    print(f"    | {line[:300]}")
        finally:
            for sidecar in sidecars:
                sidecar.stop()
            for receiver in receivers:
                receiver.stop()
            for app in apps:
                app.stop()

    def cleanup(self) -> None:
        for proc in self.procs:
            try:
                proc.stop()
            except Exception:  # noqa: BLE001
                pass
        if self.args.keep:
            print(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ helpers for spans


def span_named(receiver: OTLPReceiver, trace_id: str, name: str, timeout: float = ARRIVAL):
    found = wait_until(lambda: receiver.where(trace_id=trace_id, name=name), timeout)
    check(found, f"no span {name!r} in trace {trace_id} reached the receiver within {timeout:.0f} s; it has "
          f"{sorted({(s['trace_id'][:8], s['name']) for s in receiver.all()})[:12]}")
    check(len(found) == 1, f"{len(found)} spans {name!r} in trace {trace_id}, expected 1")
    return found[0]


def expect_child(span: dict, parent_id: str, trace_id: str, kind: str, what: str) -> None:
    check(span["trace_id"] == trace_id, f"{what}: trace id {span['trace_id']}, expected the app's {trace_id}")
    check(span["parent_span_id"] == parent_id,
          f"{what}: parent span {span['parent_span_id'] or '(none)'}, expected {parent_id}")
    check(span["kind"] == kind, f"{what}: kind {span['kind']}, expected {kind}")


# ------------------------------------------------------------------ the checks


def traced_sidecar(suite: Suite, sidecars, receivers, label: str, components: list, rate: str = "1",
                   **options) -> tuple:
    """A new OTLP receiver, and a sidecar `label` exporting its traces to it over gRPC
    (sampling `rate`), both kept for the check's cleanup; answers (receiver, sidecar)."""
    receiver = OTLPReceiver()
    receivers.append(receiver)
    sidecar = Sidecar(suite, label, components, configuration(tracing=otel(receiver.grpc_port, rate=rate)),
                      **options)
    sidecars.append(sidecar)
    return receiver, sidecar


def check_grpc_trace(suite: Suite, sidecars, receivers, apps) -> str:
    """A gRPC call with a traceparent: apiary's server span is a child of the app's
    span, the component-call span a child of it, all in the app's trace; the
    component gets the call span's context; the answer carries grpc-trace-bin."""
    receiver, h = traced_sidecar(suite, sidecars, receivers, "grpc-trace", [])
    trace_id, app_span, traceparent = new_trace()
    key = f"k-{uuid.uuid4().hex[:8]}"
    client = h.client()
    client.save_state("statestore", key, "v1", metadata=(("traceparent", traceparent), ("tracestate", "app=1")))
    answer = client.get_state("statestore", key, metadata=(("traceparent", traceparent),))
    check(answer.data == b"v1", f"GetState answered {answer.data!r}")
    server = span_named(receiver, trace_id, "/dapr.proto.runtime.v1.Dapr/GetState")
    expect_child(server, app_span, trace_id, "SPAN_KIND_SERVER", "GetState server span")
    check(server["service"] == h.app_id, f"service.name {server['service']!r}, expected the app id {h.app_id}")
    attributes = server["attributes"]
    for key_, value in {"db.system": "state", "db.name": "statestore", "rpc.service": "Dapr",
                        "dapr.protocol": "grpc", "dapr.api": "/dapr.proto.runtime.v1.Dapr/GetState"}.items():
        check(attributes.get(key_) == value, f"server span attribute {key_}={attributes.get(key_)!r}, expected {value!r}")
    get = span_named(receiver, trace_id, "dapr.proto.components.v1.StateStore/Get")
    expect_child(get, server["span_id"], trace_id, "SPAN_KIND_CLIENT", "component Get span")
    check(get["attributes"].get("dapr.component") == "statestore", f"component span attributes {get['attributes']}")
    save = span_named(receiver, trace_id, "/dapr.proto.runtime.v1.Dapr/SaveState")
    expect_child(save, app_span, trace_id, "SPAN_KIND_SERVER", "SaveState server span")
    span_named(receiver, trace_id, "dapr.proto.components.v1.StateStore/Set")
    # The component got the component-call span's context (and the app's tracestate on Set).
    gets = [c for c in h.store_calls() if c["method"] == "Get"]
    check(gets, "the store saw no Get")
    sent = parse_traceparent(gets[-1]["traceparent"])
    check(sent == (trace_id, get["span_id"], "01"),
          f"the component got traceparent {gets[-1]['traceparent']!r}, expected 00-{trace_id}-{get['span_id']}-01")
    sets = [c for c in h.store_calls() if c["method"] == "Set"]
    check(sets and sets[-1]["tracestate"] == "app=1", f"the component got tracestate {sets and sets[-1]['tracestate']!r}")
    # The answer's grpc-trace-bin names the call's server span, as daprd's does.
    raw_trace, raw_parent, raw = new_trace()
    answered = grpc_answer_headers(
        h.grpc_port, "/dapr.proto.runtime.v1.Dapr/GetState",
        api_v1.GetStateRequest(store_name="statestore", key=key).SerializeToString(), [("traceparent", raw)])
    encoded = answered.get("grpc-trace-bin")
    check(encoded is not None, f"GetState's answer had no grpc-trace-bin header: {sorted(answered)}")
    header = base64.b64decode(encoded + b"=" * (-len(encoded) % 4))
    raw_server = span_named(receiver, raw_trace, "/dapr.proto.runtime.v1.Dapr/GetState")
    expect_child(raw_server, raw_parent, raw_trace, "SPAN_KIND_SERVER", "GetState server span (raw call)")
    check(parse_trace_bin(header) == (raw_trace, raw_server["span_id"], True),
          f"grpc-trace-bin {header.hex()} does not name the server span {raw_server['span_id']}")
    return f"app {app_span} → GetState {server['span_id']} → StateStore/Get {get['span_id']} → component, trace {trace_id}"


def check_http_trace(suite: Suite, sidecars, receivers, apps) -> str:
    """An HTTP call with a traceparent: the same shape, the answer's traceparent names
    the server span; the span is named after the route pattern."""
    receiver, h = traced_sidecar(suite, sidecars, receivers, "http-trace", [])
    trace_id, app_span, traceparent = new_trace()
    key = f"k-{uuid.uuid4().hex[:8]}"
    status, _, _ = http("POST", h.url("/v1.0/state/statestore"), json.dumps([{"key": key, "value": "x"}]).encode(),
                        {"Content-Type": "application/json", "traceparent": traceparent})
    check(status == 204, f"save answered {status}")
    status, headers, body = http("GET", h.url(f"/v1.0/state/statestore/{key}"), headers={"traceparent": traceparent})
    check(status == 200 and body == b'"x"', f"get answered {status} {body!r}")
    answered = parse_traceparent({k.lower(): v for k, v in headers.items()}.get("traceparent"))
    check(answered and answered[0] == trace_id and answered[1] != app_span,
          f"the answer's traceparent {headers.get('traceparent')!r} is not a span of trace {trace_id}")
    server = span_named(receiver, trace_id, "/v1.0/state/{store}/{key}")
    expect_child(server, app_span, trace_id, "SPAN_KIND_SERVER", "HTTP GET server span")
    check(server["span_id"] == answered[1], f"the answer names span {answered[1]}, the server span is {server['span_id']}")
    check(server["attributes"].get("dapr.api") == f"GET /v1.0/state/statestore/{key}",
          f"dapr.api {server['attributes'].get('dapr.api')!r}")
    check(server["attributes"].get("db.name") == "statestore", f"attributes {server['attributes']}")
    get = span_named(receiver, trace_id, "dapr.proto.components.v1.StateStore/Get")
    expect_child(get, server["span_id"], trace_id, "SPAN_KIND_CLIENT", "component Get span")
    # Errors mark the span failed with daprd's description.
    status, _, _ = http("GET", h.url("/v1.0/state/nostore/k"), headers={"traceparent": traceparent})
    check(status >= 400, f"a get from an unknown store answered {status}")
    errored = wait_until(lambda: [s for s in receiver.where(trace_id=trace_id, name="/v1.0/state/{store}/{key}")
                                  if s["status_code"] == "STATUS_CODE_ERROR"])
    check(errored and errored[0]["status_message"].startswith(f"Code({status})"),
          f"the failed request's span has no error status: {errored}")
    return f"HTTP GET span {server['span_id']} (answered in traceparent) → StateStore/Get {get['span_id']}"


def check_grpc_trace_bin(suite: Suite, sidecars, receivers, apps) -> str:
    """grpc-trace-bin alone (OpenCensus binary) is read as the caller's context.

    On `--transport nio`: the gRPC core library (Debian's 1.51, the default `core`
    transport) keeps an incoming grpc-trace-bin to itself and never hands it to the
    application (see Docs/observability.md), so only traceparent reaches apiary there."""
    receiver, h = traced_sidecar(suite, sidecars, receivers, "trace-bin", [], extra_args=("--transport", "nio"))
    trace_id, app_span, _ = new_trace()
    request = api_v1.GetStateRequest(store_name="statestore", key="absent").SerializeToString()

    def encoded(trace: str, span: str) -> str:  # binary metadata travels base64 (unpadded)
        return base64.b64encode(trace_bin(trace, span)).decode().rstrip("=")
    # grpcio's core keeps grpc-trace-bin to itself when sending too, so the call goes
    # over the raw HTTP/2 client.
    answered = grpc_answer_headers(h.grpc_port, "/dapr.proto.runtime.v1.Dapr/GetState", request,
                                   [("grpc-trace-bin", encoded(trace_id, app_span))])
    check(answered.get(":status") == b"200", f"the call answered {answered}")
    # With both, grpc-trace-bin wins (daprd reads it first).
    other_trace, other_span, _ = new_trace()
    grpc_answer_headers(h.grpc_port, "/dapr.proto.runtime.v1.Dapr/GetState", request,
                        [("grpc-trace-bin", encoded(other_trace, other_span)), ("traceparent", new_trace()[2])])
    server = span_named(receiver, trace_id, "/dapr.proto.runtime.v1.Dapr/GetState")
    expect_child(server, app_span, trace_id, "SPAN_KIND_SERVER", "server span of a grpc-trace-bin call")
    both = span_named(receiver, other_trace, "/dapr.proto.runtime.v1.Dapr/GetState")
    expect_child(both, other_span, other_trace, "SPAN_KIND_SERVER", "server span with grpc-trace-bin and traceparent")
    return f"trace {trace_id} parent {app_span} read from grpc-trace-bin (--transport nio); it wins over traceparent"


def check_publish_delivery(suite: Suite, sidecars, receivers, apps) -> str:
    """A publish carries the trace into the subscriber's delivery: the CloudEvent
    holds the PublishEvent span's context, the delivery span is its child, and the
    app is called with the delivery span's traceparent, all in the app's trace."""
    receiver = OTLPReceiver()
    receivers.append(receiver)
    topic = f"orders-{uuid.uuid4().hex[:6]}"
    app = App([{"pubsubname": "pubsub", "topic": topic, "route": "/orders"}])
    apps.append(app)
    h = Sidecar(suite, "publish", [component("pubsub", "pubsub.in-memory")],
                configuration(tracing=otel(receiver.grpc_port)), app=app)
    sidecars.append(h)
    check(wait_until(lambda: any(s.get("topic") == topic for s in
                                 json.loads(http("GET", h.url("/v1.0/metadata"))[2]).get("subscriptions", []))),
          "the app's subscription did not open")
    trace_id, app_span, traceparent = new_trace()
    h.client().publish_event("pubsub", topic, json.dumps({"n": 1}), data_content_type="application/json",
                             metadata=(("traceparent", traceparent),))
    delivered = wait_until(lambda: app.where("/orders"))
    check(delivered, "the app got no delivery")
    delivery = delivered[0]
    event = delivery["event"] or {}
    publish = span_named(receiver, trace_id, "/dapr.proto.runtime.v1.Dapr/PublishEvent")
    expect_child(publish, app_span, trace_id, "SPAN_KIND_SERVER", "PublishEvent span")
    check(publish["attributes"].get("messaging.destination.name") == topic, f"publish attributes {publish['attributes']}")
    check(parse_traceparent(event.get("traceparent"))[:2] == (trace_id, publish["span_id"]),
          f"the CloudEvent's traceparent {event.get('traceparent')!r} is not the PublishEvent span {publish['span_id']}")
    check(event.get("traceid") == event.get("traceparent"), "traceid differs from traceparent")
    pushed = span_named(receiver, trace_id, f"pubsub/{topic}")
    expect_child(pushed, publish["span_id"], trace_id, "SPAN_KIND_CLIENT", "delivery span")
    header = parse_traceparent(delivery["headers"].get("traceparent"))
    check(header and header[:2] == (trace_id, pushed["span_id"]),
          f"the app was called with traceparent {delivery['headers'].get('traceparent')!r}, expected the delivery "
          f"span {pushed['span_id']} of trace {trace_id}")
    return f"app {app_span} → PublishEvent {publish['span_id']} → CloudEvent → pubsub/{topic} {pushed['span_id']} → app"


def check_otlp_http_env(suite: Suite, sidecars, receivers, apps) -> str:
    """No Configuration at all: OTEL_EXPORTER_OTLP_* select OTLP/HTTP, insecure, and a
    sampling rate of 1 (daprd's env fallback); headers go with each export."""
    receiver = OTLPReceiver()
    receivers.append(receiver)
    h = Sidecar(suite, "otlp-http", [], None, env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.http_port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=obs"})
    sidecars.append(h)
    status, _, _ = http("GET", h.url("/v1.0/state/statestore/none"))
    check(status == 204, f"get answered {status}")
    found = wait_until(lambda: [s for s in receiver.all() if s["name"] == "/v1.0/state/{store}/{key}"])
    check(found, "no span reached the OTLP/HTTP receiver")
    check(found[0]["protocol"] == "http" and found[0]["parent_span_id"] == "",
          f"span {found[0]['name']} came over {found[0]['protocol']} with parent {found[0]['parent_span_id']!r}")
    check(any(headers.get("x-tenant") == "obs" for headers in receiver.headers), f"export headers {receiver.headers}")
    return f"root span over OTLP/HTTP to :{receiver.http_port} (rate 1 from the environment), service {found[0]['service']}"


def check_sampling(suite: Suite, sidecars, receivers, apps) -> str:
    """samplingRate "0" exports nothing and answers no traceparent; at rate 1 a caller
    whose traceparent says 'not sampled' is not exported either (parent-based)."""
    off_receiver, off = traced_sidecar(suite, sidecars, receivers, "sampling-zero", [], rate="0")
    trace_id, _, traceparent = new_trace()
    for _ in range(20):
        status, headers, _ = http("GET", off.url("/v1.0/state/statestore/k"), headers={"traceparent": traceparent})
        check(status == 204, f"get answered {status}")
        check("traceparent" not in {k.lower() for k in headers}, "tracing is off but the answer has a traceparent")
    off.client().get_state("statestore", "k", metadata=(("traceparent", traceparent),))
    check(not wait_until(lambda: off_receiver.count() > 0, ABSENCE),
          f"samplingRate 0 exported {off_receiver.count()} batches")
    check("apiary_tracing" not in off.metrics(), "tracing is off but /metrics has apiary_tracing_* metrics")

    on_receiver, on = traced_sidecar(suite, sidecars, receivers, "sampling-parent", [], rate="1")
    unsampled_trace, unsampled_span, _ = new_trace()
    status, headers, _ = http("GET", on.url("/v1.0/state/statestore/k"),
                              headers={"traceparent": f"00-{unsampled_trace}-{unsampled_span}-00"})
    answered = parse_traceparent({k.lower(): v for k, v in headers.items()}.get("traceparent"))
    check(answered and answered[0] == unsampled_trace and answered[2] == "00",
          f"an unsampled caller got traceparent {answered}; expected its trace, flags 00")
    # Positive control after it: its spans arrive, so the unsampled ones would have too.
    control_trace, _, control = new_trace()
    http("GET", on.url("/v1.0/state/statestore/k"), headers={"traceparent": control})
    span_named(on_receiver, control_trace, "/v1.0/state/{store}/{key}")
    check(not wait_until(lambda: on_receiver.where(trace_id=unsampled_trace), ABSENCE),
          "a caller's unsampled trace was exported")
    return f"rate 0: {off_receiver.count()} exports, no traceparent answered; an unsampled parent stays unexported at rate 1"


def api_calls(h: Sidecar, count: int) -> list:
    """`count` gRPC GetState calls with a sampled traceparent; their latencies in s."""
    client = h.client()
    latencies = []
    for _ in range(count):
        traceparent = new_trace()[2]
        started = now()
        client.get_state("statestore", "k", metadata=(("traceparent", traceparent),))
        latencies.append(now() - started)
    return latencies


def check_receiver_down(suite: Suite, sidecars, receivers, apps) -> str:
    """A collector that is down never fails or holds up an API call: the spans are
    dropped, counted in /metrics and said in the log (at most once per 10 s)."""
    port = free_port()  # nothing listens there
    h = Sidecar(suite, "receiver-down", [], configuration(tracing=otel(port, timeout="500ms")))
    sidecars.append(h)
    latencies = api_calls(h, 200)
    check(max(latencies) < 2.0,
          f"an API call took {max(latencies):.2f} s while the collector was down (export timeout 0.5 s)")

    def dropped():
        return metric_value(h.metrics(), "apiary_tracing_spans_dropped_total", reason="export_failed")
    check(wait_until(lambda: dropped() > 0, ARRIVAL, 0.2), "no export_failed drops in /metrics")
    lines = [line for line in h.proc.text().splitlines() if "tracing: dropped" in line]
    check(1 <= len(lines) <= 3, f"{len(lines)} log lines about dropped spans; expected a few (rate-limited)")
    return (f"200 calls, slowest {max(latencies) * 1000:.0f} ms; {dropped():.0f} spans dropped (export_failed); "
            f"{len(lines)} log line(s)")


def check_receiver_slow(suite: Suite, sidecars, receivers, apps) -> str:
    """A slow collector (3 s per export) never holds up an API call: the bounded queue
    fills and further spans are dropped and counted."""
    receiver = OTLPReceiver(delay=3.0)
    receivers.append(receiver)
    h = Sidecar(suite, "receiver-slow", [], configuration(tracing=otel(receiver.grpc_port, timeout="10s")),
                env={"OTEL_BSP_MAX_QUEUE_SIZE": "32", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "8",
                     "OTEL_BSP_SCHEDULE_DELAY": "100"})
    sidecars.append(h)
    started = now()
    latencies = api_calls(h, 300)
    elapsed = now() - started
    check(max(latencies) < 2.0, f"an API call took {max(latencies):.2f} s while the collector took 3 s per export")

    def dropped():
        return metric_value(h.metrics(), "apiary_tracing_spans_dropped_total", reason="queue_full")
    check(wait_until(lambda: dropped() > 0, ARRIVAL, 0.2), "no queue_full drops in /metrics")
    check(wait_until(lambda: receiver.count() > 0, ARRIVAL), "the slow receiver got no export at all")
    return (f"300 calls in {elapsed:.1f} s, slowest {max(latencies) * 1000:.0f} ms; {dropped():.0f} spans dropped "
            f"(queue_full); {receiver.count()} slow exports taken")


def check_metrics_audit(suite: Suite, sidecars, receivers, apps) -> str:
    """/metrics parses as Prometheus text and no label carries request data: a secret's
    name, a key, a topic, a store that does not exist; API metrics by method/route
    pattern and status; dapr_error_code_total with recordErrorCodes."""
    secret = f"SECRET_{uuid.uuid4().hex[:10].upper()}"
    key = f"key-{uuid.uuid4().hex[:10]}"
    topic = f"topic-{uuid.uuid4().hex[:10]}"
    store = f"store-{uuid.uuid4().hex[:10]}"
    h = Sidecar(suite, "metrics-audit", [component("envsecrets", "secretstores.local.env"),
                                         component("pubsub", "pubsub.in-memory")],
                configuration(metrics={"enabled": True, "recordErrorCodes": True}), env={secret: "s3cr3t"})
    sidecars.append(h)
    client = h.client()
    check(client.get_secret("envsecrets", secret).secret == {secret: "s3cr3t"}, "the secret did not read back")
    client.save_state("statestore", key, "v")
    check(client.get_state("statestore", key).data == b"v", "the state did not read back")
    client.publish_event("pubsub", topic, "hello")
    http("POST", h.url(f"/v1.0/publish/pubsub/{topic}"), b"hi", {"Content-Type": "text/plain"})
    http("GET", h.url(f"/v1.0/secrets/envsecrets/{secret}"))
    http("GET", h.url(f"/v1.0/state/statestore/{key}"))
    try:
        client.get_state(store, key)
    except Exception:  # noqa: BLE001 (the unknown store is the point)
        pass
    http("GET", h.url(f"/v1.0/state/{store}/{key}"))
    text = h.metrics()
    parsed = families(text)  # prometheus_client's parser: raises on malformed text
    for unique in (secret, key, topic, store, "s3cr3t"):
        check(unique not in text, f"{unique!r} appears in /metrics")
    allowed = {"component", "method", "code", "state", "outcome", "reason", "direction", "from", "to", "route",
               "status", "app_id", "category", "error_code", "le"}
    for family in parsed:
        for sample in family.samples:
            extra = set(sample.labels) - allowed
            check(not extra, f"{sample.name} has labels {sorted(extra)} outside the audited set")
    grpc_calls = [s for s in samples(text) if s.name == "apiary_grpc_server_requests_total"]
    check(any(s.labels == {"method": "/dapr.proto.runtime.v1.Dapr/GetSecret", "status": "OK"} for s in grpc_calls),
          f"no GetSecret OK in {[s.labels for s in grpc_calls]}")
    check(any(s.labels.get("status") == "INVALID_ARGUMENT" for s in grpc_calls), "the unknown store's gRPC error is not counted")
    routes = {s.labels.get("route") for s in samples(text) if s.name == "apiary_http_server_requests_total"}
    check({"/v1.0/secrets/{store}/{key}", "/v1.0/state/{store}/{key}", "/v1.0/publish/{pubsub}/**"} <= routes,
          f"HTTP routes {routes}")
    check(metric_value(text, "apiary_grpc_server_request_duration_seconds_count",
                       method="/dapr.proto.runtime.v1.Dapr/GetState", status="OK") >= 1, "no GetState latency")
    check(metric_value(text, "dapr_error_code_total", app_id=h.app_id, category="state",
                       error_code="ERR_STATE_STORE_NOT_FOUND") >= 2,
          "dapr_error_code_total{category=state,error_code=ERR_STATE_STORE_NOT_FOUND} did not count both errors")
    check(metric_value(text, "apiary_component_calls_total", component="statestore", method="Get") >= 2,
          "component calls are not counted")
    return f"{len(parsed)} metric families parse; no secret name, key, topic or store name in any label"


def check_metrics_disabled(suite: Suite, sidecars, receivers, apps) -> str:
    """spec.metrics.enabled: false: /metrics answers 404, the API works."""
    h = Sidecar(suite, "metrics-off", [], configuration(metrics={"enabled": False}))
    sidecars.append(h)
    h.client().save_state("statestore", "k", "v")
    status, _, body = http("GET", h.url("/metrics"))
    check(status == 404, f"/metrics answered {status} {body[:100]!r}")
    check("spec.metrics.enabled is false" in h.proc.text(), "the log does not say metrics are off")
    return "/metrics 404, calls answered"


def check_metrics_rules(suite: Suite, sidecars, receivers, apps) -> str:
    """spec.metrics.rules rewrite label values by regular expression."""
    h = Sidecar(suite, "metrics-rules", [], configuration(metrics={"enabled": True, "rules": [
        {"name": "apiary_http_server_requests_total",
         "labels": [{"name": "route", "regex": {"/v1.0/state/*": "^/v1\\.0/state/.*$"}}]}]}))
    sidecars.append(h)
    http("GET", h.url("/v1.0/state/statestore/k"))
    routes = {s.labels.get("route") for s in samples(h.metrics()) if s.name == "apiary_http_server_requests_total"}
    check("/v1.0/state/*" in routes and "/v1.0/state/{store}/{key}" not in routes, f"routes after the rule: {routes}")
    return f"routes {sorted(r for r in routes if r)}"


def promql_metric_names(expression: str) -> set:
    """The metric names a PromQL expression reads."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expression)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        token = match.group(0)
        following = text[match.end():].lstrip()
        if following.startswith("("):
            continue  # a function or aggregation
        if token in {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan",
                     "e", "group_left", "group_right"}:
            continue
        names.add(token)
    return names


def dashboard_expressions(path: str) -> list:
    with open(path, encoding="utf-8") as source:
        dashboard = json.load(source)
    expressions = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):  # a panel target's PromQL
                expressions.append(node["expr"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(dashboard)
    return expressions


def check_dashboard(suite: Suite, sidecars, receivers, apps) -> str:
    """Every metric the Grafana dashboard's PromQL names is one a running apiary
    exports (after traffic that exercises each: errors, a breaker, a dropped event,
    a refused delivery, tracing)."""
    expressions = dashboard_expressions(DASHBOARD)
    check(expressions, f"{DASHBOARD} has no PromQL expressions")
    wanted = set()
    for expression in expressions:
        wanted |= promql_metric_names(expression)
    check(wanted, "no metric names found in the dashboard's expressions")
    receiver = OTLPReceiver()
    receivers.append(receiver)
    app = App([{"pubsubname": "pubsub", "topic": "refused", "route": "/refused/drop"}])
    apps.append(app)
    resiliency = """apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: dashboard
spec:
  policies:
    circuitBreakers:
      cb:
        maxRequests: 1
        timeout: 30s
        trip: consecutiveFailures > 100
  targets:
    components:
      memstore:
        outbound:
          circuitBreaker: cb
"""
    h = Sidecar(suite, "dashboard", [component("pubsub", "pubsub.in-memory"), component("memstore", "state.memstore"),
                                     resiliency],
                configuration(tracing=otel(receiver.grpc_port), metrics={"enabled": True, "recordErrorCodes": True}),
                app=app, memstore=True)
    sidecars.append(h)
    check(wait_until(lambda: any(s.get("topic") == "refused" for s in
                                 json.loads(http("GET", h.url("/v1.0/metadata"))[2]).get("subscriptions", []))),
          "the app's subscription did not open")
    client = h.client()
    client.save_state("statestore", "k", "v")
    client.get_state("statestore", "k")
    client.save_state("memstore", "m", "v")
    try:
        client.save_state("memstore", "m", "w", etag="999")  # the component refuses: a call error
    except Exception:  # noqa: BLE001
        pass
    try:
        client.get_state("nostore", "k")
    except Exception:  # noqa: BLE001
        pass
    http("GET", h.url("/v1.0/state/statestore/k"))
    client.publish_event("pubsub", "nobody-listens", "x")  # the in-memory pub/sub drops it
    client.publish_event("pubsub", "refused", "x")  # the app answers DROP
    check(wait_until(lambda: app.where("/refused/drop")), "the refused event was not delivered")

    def exported():
        return {sample.name for sample in samples(h.metrics())} | {family.name for family in families(h.metrics())}
    missing = wanted - exported()
    if missing:  # counters that appear with their first event: give the traffic time to land
        wait_until(lambda: not (wanted - exported()), ARRIVAL, 0.2)
        missing = wanted - exported()
    check(not missing, f"the dashboard names metrics apiary does not export: {sorted(missing)}")
    return f"{len(expressions)} expressions name {len(wanted)} metrics, all exported"


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=os.path.join(REPO, ".build", "debug"),
                        help="the folder with apiary and memstore (default: .build/debug)")
    parser.add_argument("--only", nargs="*", choices=CHECKS, help="run only these checks")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and its logs")
    args = parser.parse_args()
    for binary in ("apiary", "memstore"):
        if not os.access(os.path.join(args.bin, binary), os.X_OK):
            print(f"no {binary} in {args.bin}: build first (swift build)", file=sys.stderr)
            return 2
    suite = Suite(args)
    functions = {
        "grpc-trace": check_grpc_trace, "http-trace": check_http_trace, "grpc-trace-bin": check_grpc_trace_bin,
        "publish-delivery": check_publish_delivery, "otlp-http-env": check_otlp_http_env, "sampling": check_sampling,
        "receiver-down": check_receiver_down, "receiver-slow": check_receiver_slow,
        "metrics-audit": check_metrics_audit, "metrics-disabled": check_metrics_disabled,
        "metrics-rules": check_metrics_rules, "dashboard": check_dashboard,
    }
    interrupted = False
    try:
        for name in args.only or CHECKS:
            suite.run(name, lambda sidecars, receivers, apps, fn=functions[name]: fn(suite, sidecars, receivers, apps))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        suite.cleanup()
    print(f"{suite.passed} passed, {suite.failed} failed")
    if interrupted:
        return 130
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
