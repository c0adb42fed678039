#!/usr/bin/env python3
"""Dapr fidelity end to end: apiary must show a Dapr app exactly what daprd would.

    python3 Tests/Dapr/fidelity_e2e.py --bin .build/debug [--only SCENARIO ...] [--keep]

Every scenario starts what it needs on a temporary folder (apiary with its own
resources folder, a sockets folder with mode 0700 and free ports on 127.0.0.1;
pluggable components; subscriber apps built on the Dapr SDK's FastAPI and gRPC
extensions, see apps/) and stops it again.  The client is the real Dapr Python SDK
(dapr 1.19.0): `DaprGrpcError.code()/details()/error_code()/status_details()` on
gRPC, `DaprHttpError` and the raw JSON bodies on HTTP.  Expected values are the
facts sheet's (shared/spec/dapr-behaviour.md, cited as §n); a failing check says
what the sheet expects and what apiary answered.

Prints one line per check (`PASS name: ...` / `FAIL name: ...` plus the tail of
the relevant logs) and ends with exactly one line `N passed, M failed`; exits 1
when a check failed, 130 when interrupted, else 0.  Every process it starts is
stopped on every way out.

Scenarios: errors, deadletters, routing, bulk, cloudevents, outbox, query,
configuration, resiliency, samples.  See README.md beside this file.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import re
import shutil
import sys
import threading
import time
import urllib.parse
import uuid

os.environ["DAPR_API_TOKEN"] = ""
os.environ["APIARY_API_TOKEN"] = ""
os.environ.setdefault("DAPR_API_TIMEOUT_SECONDS", "15")
os.environ.setdefault("DAPR_HEALTH_TIMEOUT", "20")

import grpc  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

from dapr.clients import DaprClient  # noqa: E402
from dapr.clients.exceptions import DaprGrpcError, DaprHttpError  # noqa: E402
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType  # noqa: E402
from dapr.clients.grpc._state import StateItem  # noqa: E402
from dapr.proto import api_v1, common_v1  # noqa: E402
from dapr.serializers import DefaultJSONSerializer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Support", "python"))
from apiarytest import paths  # noqa: E402
from apiarytest.dapr import close_quietly, dapr_client  # noqa: E402
from apiarytest.checks import CheckFailure, Report, check, now, run_suite  # noqa: E402
from apiarytest.components import component_yaml  # noqa: E402
from apiarytest.net import free_port, http, port_open, socket_answers  # noqa: E402
from apiarytest.procs import Proc, Processes, wait_until  # noqa: E402

REPO = paths.REPO
APPS = os.path.join(HERE, "apps")
FIXTURES = paths.FIXTURES
MULTI_COMPONENT = paths.MULTI_COMPONENT
PUBSUB_COMPONENT = paths.PUBSUB_COMPONENT
REDIS_STORE = paths.REDIS_STORE

SCENARIOS = ["errors", "deadletters", "routing", "bulk", "cloudevents", "outbox", "query",
             "configuration", "resiliency", "samples"]
TAIL_LINES = 8
DOMAIN = "dapr.io"
HELP_URL = "https://docs.dapr.io/reference/components-reference/supported-state-stores/"
HELP_DESCRIPTION = "Check the list of state stores and the features they support"
# How long a check waits for something that must arrive.
ARRIVAL = 20.0
# How long a check waits to show that something does NOT arrive (documented per check).
ABSENCE = 1.5
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def metric_value(line: str):
    """The sample value of a Prometheus text line, else None."""
    try:
        return float(line.rsplit(" ", 1)[1])
    except (IndexError, ValueError):
        return None


def short(value, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def rfc3339(text: str) -> datetime.datetime:
    value = text.replace("Z", "+00:00")
    match = re.match(r"^(.*?\.\d{6})\d*(.*)$", value)  # Python wants at most microseconds
    if match:
        value = match.group(1) + match.group(2)
    return datetime.datetime.fromisoformat(value)


# --------------------------------------------------------------------------- error assertions


class Mismatches:
    """Collects every difference of one check, so a failure lists them all."""

    def __init__(self, what: str):
        self.what = what
        self.items: list = []

    def eq(self, label: str, actual, expected, section: str) -> None:
        if actual != expected:
            self.items.append(f"{label}: expected {short(expected)} ({section}), got {short(actual)}")

    def true(self, condition: bool, label: str) -> None:
        if not condition:
            self.items.append(label)

    def done(self, summary: str) -> str:
        if self.items:
            raise CheckFailure(f"{self.what}: " + "; ".join(self.items))
        return summary


def grpc_failure(what: str, fn) -> DaprGrpcError:
    """Runs an SDK gRPC call that must fail; answers it as a DaprGrpcError (wrapping a raw
    grpc.RpcError the way the SDK does, which runs rpc_status.from_call: a
    grpc-status-details-bin whose code or message differ from the status raises)."""
    try:
        result = fn()
    except DaprGrpcError as error:
        return error
    except grpc.RpcError as error:
        try:
            return DaprGrpcError(error)
        except ValueError as bad:
            raise CheckFailure(f"{what}: rpc_status.from_call raised {bad} (§1.6: grpc-status-details-bin "
                               f"code and message must equal the status: {error.code().name} {error.details()!r})")
    except ValueError as error:
        inner = error.__context__ or error.__cause__
        detail = f"{inner.code().name} {inner.details()!r}" if isinstance(inner, grpc.RpcError) else ""
        raise CheckFailure(f"{what}: the SDK could not decode the status ({error}) {detail} (§1.6)")
    raise CheckFailure(f"{what}: expected an error, the call succeeded ({short(repr(result), 200)})")


def strip_type(detail):
    """A status detail as the SDK gives it (MessageToDict), without its "@type"."""
    if not isinstance(detail, dict):
        return detail
    return {k: v for k, v in detail.items() if k != "@type"}


def expect_grpc(what: str, error: DaprGrpcError, code, message=None, reason=None, metadata=None,
                resource=None, bad_request=None, help_links=None, legacy=False, message_prefix=None,
                section="§1") -> Mismatches:
    m = Mismatches(what)
    m.eq("gRPC code", error.code(), code, section)
    if message is not None:
        m.eq("message", error.details(), message, section)
    if message_prefix is not None and not (error.details() or "").startswith(message_prefix):
        m.items.append(f"message: expected to start with {message_prefix!r} ({section}), got {error.details()!r}")
    sdk_details = error.status_details()
    details = type("Details", (), {name: strip_type(getattr(sdk_details, name, None))
                                   for name in ("error_info", "resource_info", "bad_request", "help")})
    status = error.get_grpc_status()
    if status is not None:
        m.eq("grpc-status-details-bin code", status.code, code.value[0], "§1.6")
        m.eq("grpc-status-details-bin message", status.message, error.details(), "§1.6")
    if legacy:
        m.eq("details (legacy error: none)", [d.type_url for d in status.details] if status else [], [], section)
        m.eq("SDK error_code()", error.error_code(), "UNKNOWN", "§1.6/§9")
        return m
    info = details.error_info or {}
    if reason is not None:
        m.eq("ErrorInfo.reason", info.get("reason"), reason, section)
        m.eq("SDK error_code()", error.error_code(), reason, "§1.6")
        m.eq("ErrorInfo.domain", info.get("domain"), DOMAIN, "§1.1")
        m.eq("ErrorInfo.metadata", info.get("metadata", {}), metadata or {}, section)
    if resource is False:
        m.eq("ResourceInfo", details.resource_info, None, section)
    elif resource is not None:
        expected = {"resource_type": resource[0], "resource_name": resource[1]}
        if len(resource) > 2 and resource[2]:
            expected["description"] = resource[2]
        m.eq("ResourceInfo", details.resource_info, expected, section)
    if bad_request is not None:
        m.eq("BadRequest", details.bad_request, {"field_violations": bad_request}, section)
    if help_links is not None:
        m.eq("Help", details.help, {"links": help_links}, section)
    return m


def http_failure(method: str, url: str, body=None, headers=None):
    status, response_headers, raw = http(method, url, body, headers)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", errors="replace")
    sdk_error = DaprHttpError(DefaultJSONSerializer(), raw_response_bytes=raw, status_code=status)
    return status, response_headers, parsed, sdk_error


def detail_of(body, type_name: str):
    if not isinstance(body, dict):
        return None
    for detail in body.get("details") or []:
        if isinstance(detail, dict) and detail.get("@type") == f"type.googleapis.com/google.rpc.{type_name}":
            return {k: v for k, v in detail.items() if k != "@type"}
    return None


def expect_http(what: str, answer, status, error_code, message=None, reason=None, metadata=None,
                resource=None, bad_request=None, help_links=None, legacy=False, message_prefix=None,
                section="§1") -> Mismatches:
    code, headers, body, sdk_error = answer
    m = Mismatches(what)
    m.eq("HTTP status", code, status, section)
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    m.eq("Content-Type", (content_type or "").split(";")[0], "application/json", "§1.1")
    if not isinstance(body, dict):
        m.items.append(f"body: expected a JSON object (§1.1), got {short(body)}")
        return m
    m.eq("errorCode", body.get("errorCode"), error_code, section)
    m.eq("DaprHttpError.error_code", sdk_error.error_code, error_code, "§1.6")
    if message is not None:
        m.eq("message", body.get("message"), message, section)
    if message_prefix is not None and not str(body.get("message", "")).startswith(message_prefix):
        m.items.append(f"message: expected to start with {message_prefix!r} ({section}), got {body.get('message')!r}")
    if legacy:
        m.eq("keys (legacy error)", sorted(body), ["errorCode", "message"], "§1.1")
        return m
    if reason is not None:
        info = detail_of(body, "ErrorInfo")
        m.true(info is not None, f"ErrorInfo detail missing (§1.1); details {short(body.get('details'))}")
        if info is not None:
            m.eq("ErrorInfo.reason", info.get("reason"), reason, section)
            m.eq("ErrorInfo.domain", info.get("domain"), DOMAIN, "§1.1")
            if metadata is not Ellipsis:
                m.eq("ErrorInfo.metadata", info.get("metadata"), metadata, f"{section}, §1.1 (null when none)")
    if resource is not None:
        detail = detail_of(body, "ResourceInfo")
        if resource is False:
            m.eq("ResourceInfo", detail, None, section)
        else:
            expected = {"resource_type": resource[0], "resource_name": resource[1], "owner": "",
                        "description": resource[2] if len(resource) > 2 else ""}
            m.eq("ResourceInfo", detail, expected, section)
    if bad_request is not None:
        m.eq("BadRequest", detail_of(body, "BadRequest"), {"field_violations": bad_request}, section)
    if help_links is not None:
        m.eq("Help", detail_of(body, "Help"), {"links": help_links}, section)
    return m


# --------------------------------------------------------------------------- processes


class EventFile:
    """The JSON lines an app or component appends; read again on every poll."""

    def __init__(self, path: str):
        self.path = path
        open(path, "a").close()

    def all(self) -> list:
        entries = []
        try:
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    line = line.strip()
                    if line:
                        try:
                            entries.append(json.loads(line))
                        except ValueError:
                            pass  # a line being written
        except OSError:
            pass
        return entries

    def where(self, predicate) -> list:
        return [e for e in self.all() if predicate(e)]

    def wait(self, predicate, timeout: float = ARRIVAL, count: int = 1) -> list:
        found = wait_until(lambda: (lambda got: got if len(got) >= count else None)(self.where(predicate)), timeout)
        return found or self.where(predicate)


def yaml_value(value) -> str:
    return json.dumps(value)


def component(name: str, type_: str, metadata: dict | None = None, scopes=None) -> str:
    return component_yaml(name, type_, metadata, scopes)


def subscription(name: str, pubsub: str, topic: str, route: str | None = None, rules=None, default=None,
                 dead_letter: str | None = None, bulk: dict | None = None, metadata: dict | None = None,
                 version: str = "v2alpha1") -> str:
    """A declarative Subscription (§6.1) as YAML (JSON flow style for the nested parts)."""
    lines = [f"apiVersion: dapr.io/{version}", "kind: Subscription", "metadata:", f"  name: {name}", "spec:",
             f"  pubsubname: {pubsub}", f"  topic: {topic}"]
    if version == "v1alpha1":
        lines.append(f"  route: {route}")
    else:
        routes = {}
        if rules:
            routes["rules"] = [{"match": m, "path": p} for m, p in rules]
        if default is not None or route is not None:
            routes["default"] = default if default is not None else route
        lines.append(f"  routes: {json.dumps(routes)}")
    if dead_letter:
        lines.append(f"  deadLetterTopic: {dead_letter}")
    if bulk:
        lines.append(f"  bulkSubscribe: {json.dumps(bulk)}")
    if metadata:
        lines.append(f"  metadata: {json.dumps(metadata)}")
    return "\n".join(lines) + "\n"


class App:
    """A subscriber app process (apps/http_app.py or apps/grpc_app.py)."""

    def __init__(self, suite: "Suite", label: str, kind: str, config: dict):
        self.suite = suite
        self.kind = kind
        self.port = free_port()
        root = os.path.join(suite.tmp, f"app-{label}")
        os.makedirs(root)
        self.events = EventFile(os.path.join(root, "events.jsonl"))
        config_path = os.path.join(root, "config.json")
        with open(config_path, "w", encoding="utf-8") as out:
            json.dump(config, out)
        script = os.path.join(APPS, "http_app.py" if kind == "http" else "grpc_app.py")
        self.proc = suite.spawn(f"app-{label}", [sys.executable, script, "--port", self.port,
                                                 "--events", self.events.path, "--config", config_path])
        ok = wait_until(lambda: port_open(self.port) or not self.proc.alive(), 30)
        check(self.proc.alive() and ok, f"app {label} ({kind}) did not listen on {self.port}: "
                                        f"{' | '.join(self.proc.tail(8))}")

    def release(self) -> None:
        open(self.events.path + ".release", "w").close()


class Sidecar:
    def __init__(self, suite: "Suite", label: str, documents: list, app: App | None = None,
                 app_id: str | None = None, configs: list | None = None, extra_args: tuple = (),
                 env: dict | None = None, files: dict | None = None):
        self.suite = suite
        self.label = label
        self.app = app
        self.app_id = app_id or f"fid-{label}"
        self.root = os.path.join(suite.tmp, f"sidecar-{label}")
        self.sockets = os.path.join(self.root, "sockets")
        self.resources = os.path.join(self.root, "resources")
        os.makedirs(self.sockets, mode=0o700)
        os.chmod(self.sockets, 0o700)
        os.makedirs(self.resources)
        if documents:
            with open(os.path.join(self.resources, "resources.yaml"), "w", encoding="utf-8") as out:
                out.write("---\n".join(documents))
        for name, text in (files or {}).items():
            with open(os.path.join(self.resources, name), "w", encoding="utf-8") as out:
                out.write(text)
        self.config_paths = []
        for index, text in enumerate(configs or []):
            path = os.path.join(self.root, f"config-{index}.yaml")
            with open(path, "w", encoding="utf-8") as out:
                out.write(text)
            self.config_paths.append(path)
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.extra_args = [str(a) for a in extra_args]
        self.env = env or {}
        self.proc: Proc | None = None
        self._client: DaprClient | None = None

    def socket(self, name: str) -> str:
        return os.path.join(self.sockets, f"{name}.sock")

    def argv(self) -> list:
        argv = [os.path.join(self.suite.bin_dir, "apiary"), "run", "--resources-path", self.resources,
                "--sockets-dir", self.sockets, "--app-id", self.app_id, "--grpc-port", self.grpc_port,
                "--http-port", self.http_port, "--heartbeat-interval", "500ms", "--heartbeat-timeout", "400ms",
                "--failure-threshold", "2", "--log-level", "debug", "--component-wait", "20s"]
        if self.app is not None:
            argv += ["--app-port", self.app.port, "--app-protocol", self.app.kind]
        for path in self.config_paths:
            argv += ["--config", path]
        return argv + self.extra_args

    def start(self, wait: bool = True) -> "Sidecar":
        self.proc = self.suite.spawn(f"apiary-{self.label}", self.argv(), cwd=self.root,
                                     env={"DAPR_API_TOKEN": "", "APIARY_API_TOKEN": "", **self.env})
        self.suite.sidecars.append(self)
        if wait:
            self.wait_ready()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def wait_ready(self, timeout: float = 45.0) -> None:
        deadline = now() + timeout
        last = "no answer"
        while now() < deadline:
            check(self.proc.alive(), f"apiary {self.label} exited with status {self.proc.exit_status()} "
                                     f"before it was ready:\n" + "\n".join(self.proc.tail(15)))
            try:
                status, _, body = http("GET", self.url("/actuator/health/readiness"), timeout=2)
                last = f"readiness {status} {body[:300]!r}"
                if status == 200:
                    healthz, _, _ = http("GET", self.url("/v1.0/healthz"), timeout=2)
                    if healthz == 204:
                        return
            except OSError as error:
                last = f"{type(error).__name__}: {error}"
            time.sleep(0.1)
        raise CheckFailure(f"apiary {self.label} not ready within {timeout:.0f} s: {last}")

    def exit_within(self, timeout: float):
        """For a sidecar that must refuse to start: its exit status and output."""
        wait_until(lambda: not self.proc.alive(), timeout)
        return self.proc.exit_status(), self.proc.text()

    def start_refused(self, what: str, section: str):
        """Starts a sidecar whose configuration apiary must refuse: it must exit within 30 s
        with a nonzero status (`section`: where the spec says so). Returns the Mismatches
        `what` holding that check, the exit status and the output."""
        self.start(wait=False)
        status, output = self.exit_within(30)
        m = Mismatches(what)
        m.true(status not in (None, 0), f"apiary must refuse to start ({section}), exit status {status}")
        return m, status, output

    def refusal_done(self, m: Mismatches, status, output: str, keep, fallback: str) -> str:
        """Ends the check of a refused start-up: stops this sidecar; answers the exit
        status and the last output line `keep` accepts (else `fallback`)."""
        self.stop()
        lines = [line for line in output.splitlines() if keep(line)]
        return m.done(f"exit {status}: {short(lines[-1] if lines else fallback, 300)}")

    def client(self) -> DaprClient:
        if self._client is None:
            self._client = dapr_client(self.grpc_port, self.http_port)
        return self._client

    def component_state(self, name: str):
        try:
            status, _, body = http("GET", self.url("/actuator/components"), timeout=2)
            for entry in json.loads(body) if status == 200 else []:
                if isinstance(entry, dict) and entry.get("name") == name:
                    return entry.get("state")
        except (OSError, ValueError):
            pass
        return None

    def log_wait(self, needle, timeout: float = ARRIVAL, since: int = 0):
        """Waits until the log (from offset `since`) has `needle` (text or compiled regex)."""
        def look():
            text = self.proc.since(since)
            if isinstance(needle, str):
                return needle in text
            return needle.search(text)
        return wait_until(look, timeout, interval=0.1)

    def stop(self) -> None:
        close_quietly(self._client)
        self._client = None
        if self.proc is not None:
            self.proc.stop()


# --------------------------------------------------------------------------- the suite


class Suite(Report, Processes):
    def __init__(self, args):
        Report.__init__(self, tail_lines=TAIL_LINES, line_limit=400)
        Processes.__init__(self, "apiary-fidelity-")
        self.args = args
        self.only = args.only or SCENARIOS
        self.sidecars: list = []
        self.bin_dir = os.path.abspath(args.bin)
        self.run_id = uuid.uuid4().hex[:8]

    # ------------------------------------------------------------ processes

    def component_proc(self, name: str, argv: list, socket_path: str) -> Proc:
        proc = self.spawn(name, argv)
        ok = wait_until(lambda: socket_answers(socket_path) or not proc.alive(), 30)
        check(proc.alive() and ok, f"{name} did not serve {socket_path}: {' | '.join(proc.tail(8))}")
        return proc

    def flaky(self, sidecar: Sidecar, name: str = "flaky") -> tuple:
        calls = EventFile(os.path.join(sidecar.root, f"{name}-calls.jsonl"))
        proc = self.component_proc(f"{name}-{sidecar.label}", [
            sys.executable, os.path.join(APPS, "flaky_component.py"), "--socket", sidecar.socket(name),
            "--calls", calls.path], sidecar.socket(name))
        return proc, calls

    def memstore(self, sidecar: Sidecar) -> Proc:
        return self.component_proc(f"memstore-{sidecar.label}", [
            os.path.join(self.bin_dir, "memstore"), "--socket", sidecar.socket("memstore")],
            sidecar.socket("memstore"))

    def stop_all(self, keep=()) -> None:
        """Stops the scenario's sidecars first, then every other process (apps, components)."""
        for sidecar in self.sidecars:
            sidecar.stop()
        self.sidecars = []
        for proc in reversed(self.procs):
            if proc not in keep:
                proc.stop()

    def cleanup(self) -> None:
        self.stop_all()
        self.remove_folder(self.args.keep)

    def unique(self, name: str) -> str:
        return f"{name}-{self.run_id}-{uuid.uuid4().hex[:6]}"

    # ------------------------------------------------------------ running

    def run(self) -> None:
        for name in ("apiary", "memstore"):
            path = os.path.join(self.bin_dir, name)
            if not wait_until(lambda: os.access(path, os.X_OK), 120, interval=1):
                self.report("setup/binaries", False, f"{path} is missing or not executable")
                return
        for scenario in self.only:
            started = now()
            try:
                getattr(self, f"scenario_{scenario}")()
            except CheckFailure as failure:
                self.report(f"{scenario}/setup", False, str(failure),
                            [s.proc for s in self.sidecars] + self.procs[-3:])
            finally:
                self.stop_all()
            print(f"-- {scenario}: {now() - started:.1f} s", flush=True)


class FidelitySuite(Suite):
    # ================================================================== 1. errors (§1.2-1.4)

    def scenario_errors(self) -> None:
        e = Sidecar(self, "errors", [
            component("mem", "state.in-memory"),
            component("ps", "pubsub.in-memory"),
            component("notx", "state.flaky"),
            component("bind", "bindings.multi"),
            component("envsecrets", "secretstores.local.env"),
        ])
        self.flaky(e)
        self.component_proc("multi-errors", [sys.executable, MULTI_COMPONENT, "--socket", e.socket("multi")],
                            e.socket("multi"))
        e.start()
        bare = Sidecar(self, "nostate", [component("ps", "pubsub.in-memory")]).start()
        c = e.client()
        app_id = e.app_id
        procs = lambda: [e.proc]  # noqa: E731

        def grpc_check(name, fn, **expected):
            def run():
                error = grpc_failure(name, fn)
                return expect_grpc(name, error, **expected).done(
                    f"{error.code().name} {error.details()!r} reason {error.error_code()}")
            self.run_check(f"errors/{name}", run, procs)

        def http_check(name, method, path, body=None, headers=None, sidecar=None, **expected):
            def run():
                answer = http_failure(method, (sidecar or e).url(path), body, headers)
                return expect_http(name, answer, **expected).done(
                    f"{answer[0]} {short(answer[2], 300)}")
            self.run_check(f"errors/{name}", run, procs)

        # --- state store unknown / not configured (§1.2)
        grpc_check("state-not-found-grpc", lambda: c.get_state("nope", "k"),
                   code=grpc.StatusCode.INVALID_ARGUMENT, message="state store nope is not found",
                   reason="DAPR_STATE_NOT_FOUND", metadata={}, section="§1.2")
        http_check("state-not-found-http", "GET", "/v1.0/state/nope/k", status=400,
                   error_code="ERR_STATE_STORE_NOT_FOUND", message="state store nope is not found",
                   reason="DAPR_STATE_NOT_FOUND", metadata={"appID": app_id}, section="§1.2")
        grpc_check("state-not-configured-grpc", lambda: bare.client().get_state("mem", "k"),
                   code=grpc.StatusCode.FAILED_PRECONDITION, message="state store mem is not configured",
                   reason="DAPR_STATE_NOT_CONFIGURED", metadata={}, section="§1.2")
        http_check("state-not-configured-http", "GET", "/v1.0/state/mem/k", sidecar=bare, status=500,
                   error_code="ERR_STATE_STORE_NOT_CONFIGURED", message="state store mem is not configured",
                   reason="DAPR_STATE_NOT_CONFIGURED", metadata={"appID": bare.app_id}, section="§1.2")

        # --- illegal key (§1.2): BadRequest field = the key
        key = "a||b"
        illegal = f"input key/keyPrefix '{key}' can't contain '||'"
        violation = [{"field": key, "description": illegal}]
        grpc_check("illegal-key-save-grpc", lambda: c.save_state("mem", key, "v"),
                   code=grpc.StatusCode.INVALID_ARGUMENT, message=illegal, reason="DAPR_STATE_ILLEGAL_KEY",
                   metadata={}, bad_request=violation, resource=("state", "mem"), section="§1.2")
        grpc_check("illegal-key-get-grpc", lambda: c.get_state("mem", key),
                   code=grpc.StatusCode.INVALID_ARGUMENT, message=illegal, reason="DAPR_STATE_ILLEGAL_KEY",
                   metadata={}, bad_request=violation, resource=("state", "mem"), section="§1.2")
        grpc_check("illegal-key-transaction-grpc", lambda: c.execute_state_transaction("mem", [
            TransactionalStateOperation(key=key, data=b"v", operation_type=TransactionOperationType.upsert)]),
            code=grpc.StatusCode.INVALID_ARGUMENT, message=illegal, reason="DAPR_STATE_ILLEGAL_KEY",
            metadata={}, bad_request=violation, resource=("state", "mem"), section="§1.2 (txn: real key in field, §9)")
        http_check("illegal-key-get-http", "GET", "/v1.0/state/mem/a||b", status=400,
                   error_code="ERR_MALFORMED_REQUEST",
                   message=f"api error: code = InvalidArgument desc = {illegal}",
                   reason="DAPR_STATE_ILLEGAL_KEY", metadata=None, bad_request=violation,
                   resource=("state", "mem"), section="§1.2")
        http_check("illegal-key-save-http", "POST", "/v1.0/state/mem", body=[{"key": key, "value": 1}], status=400,
                   error_code="ERR_MALFORMED_REQUEST",
                   message=f"api error: code = InvalidArgument desc = {illegal}",
                   reason="DAPR_STATE_ILLEGAL_KEY", metadata=None, bad_request=violation,
                   resource=("state", "mem"), section="§1.2")

        # --- etags (§1.2) on the flaky store (numeric per-key versions, contract etag errors)
        def saved(k):
            c.save_state("notx", k, "v1")
            return k
        save_mismatch = "failed saving state in state store notx: possible etag mismatch. error from state store: "
        save_invalid = "failed saving state in state store notx: invalid etag value: "
        k1 = saved(self.unique("etag"))
        grpc_check("etag-mismatch-save-grpc", lambda: c.save_state("notx", k1, "v2", etag="99"),
                   code=grpc.StatusCode.ABORTED, message_prefix=save_mismatch, reason="ERR_STATE_SAVE",
                   metadata={}, section="§1.2")
        grpc_check("etag-invalid-save-grpc", lambda: c.save_state("notx", k1, "v2", etag="not-a-number"),
                   code=grpc.StatusCode.INVALID_ARGUMENT, message_prefix=save_invalid, reason="ERR_STATE_SAVE",
                   metadata={}, section="§1.2")
        http_check("etag-mismatch-save-http", "POST", "/v1.0/state/notx",
                   body=[{"key": k1, "value": "v2", "etag": "99"}], status=409, error_code="ERR_STATE_SAVE",
                   message_prefix=save_mismatch, reason="ERR_STATE_SAVE", metadata=Ellipsis, section="§1.2")
        http_check("etag-invalid-save-http", "POST", "/v1.0/state/notx",
                   body=[{"key": k1, "value": "v2", "etag": "not-a-number"}], status=400,
                   error_code="ERR_STATE_SAVE", message_prefix=save_invalid, reason="ERR_STATE_SAVE",
                   metadata=Ellipsis, section="§1.2")
        delete_mismatch = f"failed deleting state with key {k1}: possible etag mismatch. error from state store: "
        delete_invalid = f"failed deleting state with key {k1}: invalid etag value: "
        grpc_check("etag-mismatch-delete-grpc", lambda: c.delete_state("notx", k1, etag="99"),
                   code=grpc.StatusCode.ABORTED, message_prefix=delete_mismatch, reason="ERR_STATE_DELETE",
                   metadata={}, section="§1.2")
        grpc_check("etag-invalid-delete-grpc", lambda: c.delete_state("notx", k1, etag="not-a-number"),
                   code=grpc.StatusCode.INVALID_ARGUMENT, message_prefix=delete_invalid, reason="ERR_STATE_DELETE",
                   metadata={}, section="§1.2")
        http_check("etag-mismatch-delete-http", "DELETE", f"/v1.0/state/notx/{k1}", headers={"If-Match": "99"},
                   status=409, error_code="ERR_STATE_DELETE", message_prefix=delete_mismatch,
                   reason="ERR_STATE_DELETE", metadata=Ellipsis, section="§1.2")
        http_check("etag-invalid-delete-http", "DELETE", f"/v1.0/state/notx/{k1}",
                   headers={"If-Match": "not-a-number"}, status=400, error_code="ERR_STATE_DELETE",
                   message_prefix=delete_invalid, reason="ERR_STATE_DELETE", metadata=Ellipsis, section="§1.2")

        # --- transactions (§1.2)
        help_links = [{"description": HELP_DESCRIPTION, "url": HELP_URL}]
        grpc_check("transactions-unsupported-grpc", lambda: c.execute_state_transaction("notx", [
            TransactionalStateOperation(key="t1", data=b"v", operation_type=TransactionOperationType.upsert)]),
            code=grpc.StatusCode.UNIMPLEMENTED, message="state store notx doesn't support transactions",
            reason="DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED", metadata={}, help_links=help_links,
            resource=("state", "notx"), section="§1.2")
        http_check("transactions-unsupported-http", "POST", "/v1.0/state/notx/transaction",
                   body={"operations": [{"operation": "upsert", "request": {"key": "t1", "value": 1}}]},
                   status=500, error_code="ERR_STATE_STORE_NOT_SUPPORTED",
                   message="state store notx doesn't support transactions",
                   reason="DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED", metadata=Ellipsis, help_links=help_links,
                   resource=("state", "notx"), section="§1.2")

        def merge_grpc():
            request = api_v1.ExecuteStateTransactionRequest(storeName="mem", operations=[
                api_v1.TransactionalStateOperation(operationType="merge",
                                                   request=common_v1.StateItem(key="t2", value=b"v"))])
            return c._stub.ExecuteStateTransaction(request)
        grpc_check("transaction-op-unsupported-grpc", merge_grpc, code=grpc.StatusCode.UNIMPLEMENTED,
                   message="operation type merge not supported", reason="ERR_NOT_SUPPORTED_STATE_OPERATION",
                   metadata={}, section="§1.2")
        http_check("transaction-op-unsupported-http", "POST", "/v1.0/state/mem/transaction",
                   body={"operations": [{"operation": "merge", "request": {"key": "t2", "value": 1}}]},
                   status=400, error_code="ERR_NOT_SUPPORTED_STATE_OPERATION",
                   message="operation type merge not supported", reason="ERR_NOT_SUPPORTED_STATE_OPERATION",
                   metadata=Ellipsis, section="§1.2")

        # --- publish (§1.3)
        grpc_check("pubsub-not-found-grpc", lambda: c.publish_event("nope", "t", "x"),
                   code=grpc.StatusCode.INVALID_ARGUMENT, message="pubsub nope is not found",
                   reason="DAPR_PUBSUB_NOT_FOUND", metadata={}, resource=False, section="§1.3")
        http_check("pubsub-not-found-http", "POST", "/v1.0/publish/nope/t?metadata.k=v", body={"a": 1},
                   status=404, error_code="ERR_PUBSUB_NOT_FOUND", message="pubsub nope is not found",
                   reason="DAPR_PUBSUB_NOT_FOUND", metadata={"k": "v"}, resource=False, section="§1.3")
        topic_empty = "topic is empty in pubsub ps"
        grpc_check("topic-empty-grpc", lambda: c.publish_event("ps", "", "x"),
                   code=grpc.StatusCode.INVALID_ARGUMENT, message=topic_empty,
                   reason="DAPR_PUBSUB_TOPIC_NAME_EMPTY", metadata={}, resource=("pubsub", "ps", topic_empty),
                   section="§1.3")
        http_check("topic-empty-http", "POST", "/v1.0/publish/ps/?metadata.k=v", body={"a": 1}, status=404,
                   error_code="ERR_TOPIC_NAME_EMPTY", message=topic_empty, reason="DAPR_PUBSUB_TOPIC_NAME_EMPTY",
                   metadata={"k": "v"}, resource=("pubsub", "ps", topic_empty), section="§1.3")
        raw_bad = "failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is 'maybe'"
        grpc_check("rawpayload-not-bool-grpc",
                   lambda: c.publish_event("ps", "t", "x", publish_metadata={"rawPayload": "maybe"}),
                   code=grpc.StatusCode.INVALID_ARGUMENT, message=raw_bad,
                   reason="DAPR_PUBSUB_METADATA_DESERIALIZATION", metadata={"rawPayload": "maybe"},
                   resource=("pubsub", "ps", raw_bad), section="§1.3")
        http_check("rawpayload-not-bool-http", "POST", "/v1.0/publish/ps/t?metadata.rawPayload=maybe",
                   body={"a": 1}, status=400, error_code="ERR_PUBSUB_REQUEST_METADATA", message=raw_bad,
                   reason="DAPR_PUBSUB_METADATA_DESERIALIZATION", metadata={"rawPayload": "maybe"},
                   resource=("pubsub", "ps", raw_bad), section="§1.3")

        def ce_not_json_grpc():
            error = grpc_failure("cloudevent-not-json-grpc", lambda: c.publish_event(
                "ps", "t", "not json {", data_content_type="application/cloudevents+json"))
            m = expect_grpc("cloudevent-not-json-grpc", error, code=grpc.StatusCode.INVALID_ARGUMENT,
                            message="cannot create cloudevent", reason="DAPR_PUBSUB_CLOUD_EVENT_CREATION",
                            metadata=None, resource=("pubsub", "ps", "cannot create cloudevent"), section="§1.3")
            info = error.status_details().error_info or {}
            meta = info.get("metadata", {})
            m.eq("ErrorInfo.metadata keys", sorted(meta), ["appID", "error"], "§1.3")
            m.eq("ErrorInfo.metadata.appID", meta.get("appID"), app_id, "§1.3")
            m.items = [i for i in m.items if not i.startswith("ErrorInfo.metadata:")]
            return m.done(f"{error.code().name} {error.details()!r} metadata {meta}")
        self.run_check("errors/cloudevent-not-json-grpc", ce_not_json_grpc, procs)

        def ce_not_json_http():
            answer = http_failure("POST", e.url("/v1.0/publish/ps/t"), b"not json {",
                                  {"Content-Type": "application/cloudevents+json"})
            m = expect_http("cloudevent-not-json-http", answer, status=500, error_code="ERR_PUBSUB_CLOUD_EVENTS_SER",
                            message="cannot create cloudevent", reason="DAPR_PUBSUB_CLOUD_EVENT_CREATION",
                            metadata=Ellipsis, resource=("pubsub", "ps", "cannot create cloudevent"), section="§1.3")
            meta = (detail_of(answer[2], "ErrorInfo") or {}).get("metadata") or {}
            m.eq("ErrorInfo.metadata keys", sorted(meta), ["appID", "error"], "§1.3")
            m.eq("ErrorInfo.metadata.appID", meta.get("appID"), app_id, "§1.3")
            return m.done(f"{answer[0]} {short(answer[2], 300)}")
        self.run_check("errors/cloudevent-not-json-http", ce_not_json_http, procs)

        # --- secrets and bindings (§1.4; legacy: no details on gRPC)
        grpc_check("secret-store-not-found-grpc", lambda: c.get_secret("nope", "k"),
                   code=grpc.StatusCode.INVALID_ARGUMENT, message="failed finding secret store with key nope",
                   legacy=True, section="§1.4")
        http_check("secret-store-not-found-http", "GET", "/v1.0/secrets/nope/k", status=401,
                   error_code="ERR_SECRET_STORE_NOT_FOUND", message="failed finding secret store with key nope",
                   legacy=True, section="§1.4")
        missing = "error invoking output binding nope: couldn't find output binding nope"
        grpc_check("binding-not-found-grpc", lambda: c.invoke_binding("nope", "create", "x"),
                   code=grpc.StatusCode.INTERNAL, message=missing, reason="ERR_INVOKE_OUTPUT_BINDING", metadata={},
                   section="§1.4")
        http_check("binding-not-found-http", "POST", "/v1.0/bindings/nope", body={"operation": "create", "data": "x"},
                   status=500, error_code="ERR_INVOKE_OUTPUT_BINDING", message=missing, legacy=True, section="§1.4")
        no_op = "error invoking output binding bind: operation field is missing from request"
        grpc_check("binding-no-operation-grpc", lambda: c.invoke_binding("bind", "", "x"),
                   code=grpc.StatusCode.INTERNAL, message=no_op, reason="ERR_INVOKE_OUTPUT_BINDING", metadata={},
                   section="§1.4")
        http_check("binding-no-operation-http", "POST", "/v1.0/bindings/bind", body={"data": "x"},
                   status=500, error_code="ERR_INVOKE_OUTPUT_BINDING", message=no_op, legacy=True, section="§1.4")

    # ------------------------------------------------------------------ helpers for delivery scenarios

    def publish(self, client: DaprClient, pubsub: str, topic: str, data: dict, event_id: str | None = None,
                metadata: dict | None = None) -> str:
        """Publishes `data` as JSON over gRPC; answers the CloudEvent id (set with cloudevent.id)."""
        event_id = event_id or self.unique("ce")
        publish_metadata = {"cloudevent.id": event_id, **(metadata or {})}
        client.publish_event(pubsub, topic, json.dumps(data), data_content_type="application/json",
                             publish_metadata=publish_metadata)
        return event_id

    @staticmethod
    def http_records(app: App, path: str, event_id: str | None = None) -> list:
        return app.events.where(lambda r: r.get("path") == path and not r.get("holding") and not r.get("bulk")
                                and (event_id is None or (isinstance(r.get("body"), dict)
                                                          and r["body"].get("id") == event_id)))

    @staticmethod
    def grpc_records(app: App, path: str, event_id: str | None = None) -> list:
        return app.events.where(lambda r: r.get("path") == path and not r.get("bulk") and not r.get("holding")
                                and (event_id is None or r.get("id") == event_id))

    def wait_http(self, app: App, path: str, event_id: str, timeout: float = ARRIVAL) -> dict:
        found = wait_until(lambda: self.http_records(app, path, event_id), timeout)
        check(bool(found), f"no delivery of CloudEvent {event_id} to {path} within {timeout:.0f} s "
                           f"(deliveries of it elsewhere: {short([r.get('path') for r in app.events.all() if isinstance(r.get('body'), dict) and r['body'].get('id') == event_id])})")
        return found[0]

    def wait_grpc(self, app: App, path: str, event_id: str, timeout: float = ARRIVAL) -> dict:
        found = wait_until(lambda: self.grpc_records(app, path, event_id), timeout)
        check(bool(found), f"no delivery of CloudEvent {event_id} to handler {path} within {timeout:.0f} s "
                           f"(deliveries of it elsewhere: {short([r.get('path') for r in app.events.all() if r.get('id') == event_id])})")
        return found[0]

    @staticmethod
    def next_message(subscription, timeout: float = ARRIVAL):
        box = {}

        def read():
            try:
                box["message"] = subscription.next_message()
            except Exception as error:  # noqa: BLE001
                box["error"] = error
        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        thread.join(timeout)
        check("message" in box, f"streaming subscription: no message within {timeout:.0f} s "
                                f"({box.get('error')!r})")
        return box["message"]

    # ================================================================== 2. dead letters (§2)

    def scenario_deadletters(self) -> None:
        self.deadletters_http()
        self.stop_all()
        self.deadletters_grpc()

    def deadletters_http(self) -> None:
        app = App(self, "dl-http", "http", {
            "routes": {"/dlq": "SUCCESS"},
            "programmatic": [
                {"pubsubname": "ps", "topic": "dl-prog", "route": "/prog", "deadLetterTopic": "dlq-prog"},
                {"pubsubname": "ps", "topic": "dlq-prog", "route": "/dlq"},
            ]})
        h = Sidecar(self, "dl-http", [
            component("ps", "pubsub.in-memory"),
            component("durable", "pubsub.durable"),
            subscription("dl-decl", "ps", "dl-decl", route="/decl", dead_letter="dlq-decl"),
            subscription("dlq-decl", "ps", "dlq-decl", route="/dlq"),
            subscription("dl-norule", "ps", "dl-norule", rules=[('event.type == "never"', "/never")],
                         dead_letter="dlq-decl"),
            subscription("dlq-stream", "ps", "dlq-stream", route="/dlq"),
            subscription("dl-down", "durable", "dl-down", route="/down", dead_letter="dlq-down"),
            subscription("dlq-down", "durable", "dlq-down", route="/dlq"),
        ], app=app)
        journal = os.path.join(h.root, "journal")
        durable_argv = [sys.executable, PUBSUB_COMPONENT, "--socket", h.socket("durable"), "--journal", journal]
        durable = self.component_proc("durable-dl", durable_argv, h.socket("durable"))
        h.start()
        c = h.client()
        procs = lambda: [h.proc, app.proc]  # noqa: E731

        def to_dlq(name: str, topic: str, route: str, answer: str, expect_route_deliveries: int = 1):
            def run():
                event_id = self.publish(c, "ps", topic, {"answer": answer})
                dead = self.wait_http(app, "/dlq", event_id)
                event = dead["body"]
                m = Mismatches(name)
                m.eq("DLQ CloudEvent id", event.get("id"), event_id, "§2 (original bytes, nothing re-wrapped)")
                m.eq("DLQ CloudEvent topic", event.get("topic"), topic, "§2 (topic names the original topic)")
                m.eq("DLQ CloudEvent pubsubname", event.get("pubsubname"), "ps", "§2")
                m.eq("DLQ CloudEvent data", event.get("data"), {"answer": answer}, "§2")
                # Bounded wait (ABSENCE) to show the original route gets no further delivery.
                time.sleep(ABSENCE)
                if route:
                    count = len(self.http_records(app, route, event_id))
                    m.eq(f"deliveries to {route}", count, expect_route_deliveries,
                         "§2 (no retry policy: DLQ after one try; DROP/404 not retried)")
                m.eq("DLQ deliveries", len(self.http_records(app, "/dlq", event_id)), 1, "§2 (acked after DLQ)")
                return m.done(f"{answer} at {route or 'no route'} -> DLQ with id {event_id}, topic {topic}")
            self.run_check(f"deadletters/{name}", run, procs)

        to_dlq("http-retry-declarative", "dl-decl", "/decl", "RETRY")
        to_dlq("http-drop-declarative", "dl-decl", "/decl", "DROP")
        to_dlq("http-404-declarative", "dl-decl", "/decl", "404")
        to_dlq("http-500-declarative", "dl-decl", "/decl", "500")
        to_dlq("http-unknown-status-declarative", "dl-decl", "/decl", "success")
        to_dlq("http-no-matching-route", "dl-norule", "/never", "SUCCESS", expect_route_deliveries=0)
        to_dlq("http-retry-programmatic", "dl-prog", "/prog", "RETRY")

        def streaming():
            topic, dlq = "dl-stream", "dlq-stream"
            sub = c.subscribe("ps", topic, dead_letter_topic=dlq)
            try:
                # The stream is open once apiary lists it in the metadata API (STREAMING).
                def listed():
                    status, _, body = http("GET", h.url("/v1.0/metadata"))
                    subs = json.loads(body).get("subscriptions", []) if status == 200 else []
                    return [s for s in subs if s.get("topic") == topic]
                entry = wait_until(listed, 10)
                check(bool(entry), f"the streaming subscription to {topic} is not in /v1.0/metadata")
                m = Mismatches("streaming")
                m.eq("metadata type", entry[0].get("type"), "STREAMING", "§6.1")
                m.eq("metadata deadLetterTopic", entry[0].get("deadLetterTopic"), dlq, "§2")
                event_id = self.publish(c, "ps", topic, {"answer": "RETRY"})
                message = self.next_message(sub)
                m.eq("streamed id", message.id(), event_id, "§6.3")
                sub.respond_retry(message)
                dead = self.wait_http(app, "/dlq", event_id)
                m.eq("DLQ CloudEvent id", dead["body"].get("id"), event_id, "§2")
                m.eq("DLQ CloudEvent topic", dead["body"].get("topic"), topic, "§2")
                return m.done(f"RETRY on the stream -> {dlq} with id {event_id}")
            finally:
                sub.close()
        self.run_check("deadletters/streaming-retry", streaming, procs)

        def dlq_pubsub_down():
            offset = h.proc.size()
            event_id = self.publish(c, "durable", "dl-down", {"answer": "hold"})
            check(bool(wait_until(lambda: app.events.where(
                lambda r: r.get("holding") and r.get("id") == event_id), ARRIVAL)),
                f"the app never received {event_id} on /down")
            durable.kill9()
            check(bool(wait_until(lambda: h.component_state("durable") == "DOWN", 15)),
                  f"apiary did not mark durable DOWN after kill -9 (state {h.component_state('durable')})")
            app.release()  # the app now answers RETRY: the DLQ publish meets a DOWN pub/sub
            logged = h.log_wait("error sending message to dead letter, origin topic: dl-down dead letter topic "
                                "dlq-down err:", 15, since=offset)
            durable.start()
            dead = wait_until(lambda: self.http_records(app, "/dlq", event_id), 45)
            m = Mismatches("dlq-pubsub-down")
            m.true(bool(dead), f"the message {event_id} never reached the DLQ after the pub/sub came back "
                               "(§2: DLQ publish fails -> NACK -> redelivered, never dropped silently)")
            m.true(bool(logged), "log line `error sending message to dead letter, origin topic: dl-down dead "
                                 "letter topic dlq-down err: ...` missing (§8)")
            return m.done(f"{event_id} reached dlq-down after the component restarted "
                          f"({len(self.http_records(app, '/down', event_id))} deliveries to /down)")
        self.run_check("deadletters/dlq-pubsub-down-retried", dlq_pubsub_down, lambda: [h.proc, durable, app.proc])

    def deadletters_grpc(self) -> None:
        app = App(self, "dl-grpc", "grpc", {
            "routes": {"dlq": "SUCCESS"},
            "programmatic": [
                {"pubsub": "ps", "topic": "dlg-prog", "handler": "prog", "dead_letter_topic": "dlqg"},
                {"pubsub": "ps", "topic": "dlqg", "handler": "dlq"},
            ],
            "declarative": [{"pubsub": "ps", "path": "/decl"}, {"pubsub": "ps", "path": "plain"}]})
        g = Sidecar(self, "dl-grpc", [
            component("ps", "pubsub.in-memory"),
            subscription("dlg-decl", "ps", "dlg-decl", route="/decl", dead_letter="dlqg"),
            subscription("dlg-plain", "ps", "dlg-plain", route="plain"),
            subscription("dlg-unimpl", "ps", "dlg-unimpl", route="nohandler", dead_letter="dlqg"),
        ], app=app).start()
        c = g.client()
        procs = lambda: [g.proc, app.proc]  # noqa: E731

        def to_dlq(name, topic, route, answer):
            def run():
                event_id = self.publish(c, "ps", topic, {"answer": answer})
                dead = self.wait_grpc(app, "dlq", event_id)
                m = Mismatches(name)
                m.eq("TopicEventRequest.topic at the DLQ subscriber", dead.get("topic"), "dlqg",
                     "§2 (gRPC DLQ subscriber sees the DLQ topic)")
                m.eq("TopicEventRequest.id", dead.get("id"), event_id, "§2")
                m.eq("extensions.topic (original topic)", (dead.get("extensions") or {}).get("topic"), topic, "§2")
                time.sleep(ABSENCE)  # bounded: no further deliveries to the original handler
                m.eq(f"deliveries to {route}", len(self.grpc_records(app, route, event_id)), 1,
                     "§2 (no retry policy: DLQ after one try)")
                return m.done(f"{answer} at {route} -> dlqg, topic {dead.get('topic')}, id {event_id}")
            self.run_check(f"deadletters/{name}", run, procs)

        to_dlq("grpc-retry-declarative", "dlg-decl", "/decl", "RETRY")
        to_dlq("grpc-error-declarative", "dlg-decl", "/decl", "error")

        def plain_path():
            event_id = self.publish(c, "ps", "dlg-plain", {"answer": "SUCCESS"})
            got = wait_until(lambda: self.grpc_records(app, "plain", event_id) or app.events.where(
                lambda r: r.get("unhandled") and r.get("topic") == "dlg-plain"), ARRIVAL)
            check(bool(got), f"no delivery of {event_id} at all")
            check(got[0].get("path") == "plain", f"TopicEventRequest.path: expected 'plain' (the declarative "
                  f"route as written; daprd passes it unchanged: pkg/runtime/subscription/postman/grpc/grpc.go "
                  f"Path: psm.Path; the sheet is silent), got {got[0].get('path')!r}, so the SDK answered "
                  f"UNIMPLEMENTED")
            return "route 'plain' reached the gRPC app as path 'plain'"
        self.run_check("deadletters/grpc-declarative-route-path-unchanged", plain_path, procs)
        to_dlq("grpc-drop-programmatic", "dlg-prog", "prog", "DROP")
        to_dlq("grpc-retry-programmatic", "dlg-prog", "prog", "RETRY")

        def unimplemented():
            offset = g.proc.size()
            event_id = self.publish(c, "ps", "dlg-unimpl", {"answer": "SUCCESS"})
            line = f"non-retriable error returned from app while processing pub/sub event {event_id}"
            logged = g.log_wait(line, ARRIVAL, since=offset)
            check(bool(logged), f"no WARN `{line}: ...` (§8) within {ARRIVAL:.0f} s")
            time.sleep(ABSENCE)  # bounded: the DLQ must stay empty
            dead = self.grpc_records(app, "dlq", event_id)
            check(not dead, f"gRPC UNIMPLEMENTED must not dead-letter (§2), but dlqg got {event_id}")
            return f"UNIMPLEMENTED from the SDK for route nohandler: logged, not dead-lettered"
        self.run_check("deadletters/grpc-unimplemented-no-dlq", unimplemented, procs)

    # ================================================================== 3. routing rules (§6.2)

    def scenario_routing(self) -> None:
        app = App(self, "routing-http", "http", {
            "routes": {"/dlq": "SUCCESS"},
            "programmatic": [
                {"pubsubname": "ps", "topic": "prog-routed",
                 "routes": {"rules": [{"match": 'event.data.kind == "a"', "path": "/p-a"}], "default": "/p-default"}},
            ]})
        h = Sidecar(self, "routing-http", [
            component("ps", "pubsub.in-memory"),
            subscription("routed", "ps", "routed", rules=[
                ('event.type == "com.example.special"', "/r-type"),
                ("event.data.x > 3", "/r-big"),
                ("has(event.data.y)", "/r-has"),
            ], default="/r-default", dead_letter="dlq-routed"),
            subscription("routed-err", "ps", "routed-err", rules=[("event.data.missing == 1", "/never")],
                         default="/r-default", dead_letter="dlq-routed"),
            subscription("dlq-routed", "ps", "dlq-routed", route="/dlq"),
        ], app=app).start()
        c = h.client()
        procs = lambda: [h.proc, app.proc]  # noqa: E731

        def routed(name, topic, data, expected_path, metadata=None):
            def run():
                event_id = self.publish(c, "ps", topic, data, metadata=metadata)
                found = wait_until(lambda: [r for r in app.events.all() if isinstance(r.get("body"), dict)
                                            and r["body"].get("id") == event_id], ARRIVAL)
                check(bool(found), f"{event_id} was delivered nowhere within {ARRIVAL:.0f} s")
                check(found[0]["path"] == expected_path,
                      f"data {data}: expected route {expected_path} (§6.2: rules in order, first true wins), "
                      f"got {found[0]['path']}")
                return f"data {json.dumps(data)}{' ' + json.dumps(metadata) if metadata else ''} -> {expected_path}"
            self.run_check(f"routing/{name}", run, procs)

        routed("http-rule-event-type", "routed", {"x": 9}, "/r-type", metadata={"cloudevent.type": "com.example.special"})
        routed("http-rule-data-greater", "routed", {"x": 5}, "/r-big")
        routed("http-rule-has", "routed", {"x": 1, "y": 0}, "/r-has")
        routed("http-default-route", "routed", {"x": 1}, "/r-default")
        routed("http-programmatic-rule", "prog-routed", {"kind": "a"}, "/p-a")
        routed("http-programmatic-default", "prog-routed", {"kind": "b"}, "/p-default")

        def rule_error():
            offset = h.proc.size()
            event_id = self.publish(c, "ps", "routed-err", {"x": 1})
            dead = self.wait_http(app, "/dlq", event_id)
            m = Mismatches("rule-error")
            m.eq("DLQ CloudEvent topic", dead["body"].get("topic"), "routed-err", "§2")
            m.eq("deliveries to /never or /r-default",
                 len(self.http_records(app, "/never", event_id)) + len(self.http_records(app, "/r-default", event_id)),
                 0, "§6.2 (a missing key is an evaluation error, not false: not delivered)")
            line = f"error finding matching route for event {event_id} in pubsub ps and topic routed-err:"
            m.true(bool(h.log_wait(line, 5, since=offset)), f"log line `{line} ...` missing (§8)")
            return m.done(f"event.data.missing on {{x: 1}} -> DLQ, not the default route")
        self.run_check("routing/http-rule-eval-error-dlq", rule_error, procs)
        self.stop_all()

        gapp = App(self, "routing-grpc", "grpc", {"programmatic": [
            {"pubsub": "ps", "topic": "grpc-routed", "handler": "kind_a", "rule": ['event.data.kind == "a"', 1]},
            {"pubsub": "ps", "topic": "grpc-routed", "handler": "other", "rule": ["true", 2]},
        ]})
        g = Sidecar(self, "routing-grpc", [component("ps", "pubsub.in-memory")], app=gapp).start()
        gc = g.client()

        def grpc_routed(name, data, expected):
            def run():
                event_id = self.publish(gc, "ps", "grpc-routed", data)
                found = wait_until(lambda: gapp.events.where(lambda r: r.get("id") == event_id), ARRIVAL)
                check(bool(found), f"{event_id} was delivered nowhere within {ARRIVAL:.0f} s "
                                   f"(unhandled: {short(gapp.events.where(lambda r: r.get('unhandled'))[-2:])})")
                check(found[0].get("path") == expected, f"expected handler {expected} (§6.2), got {found[0].get('path')}")
                return f"{json.dumps(data)} -> {expected}"
            self.run_check(f"routing/{name}", run, lambda: [g.proc, gapp.proc])

        grpc_routed("grpc-programmatic-rule", {"kind": "a"}, "kind_a")
        grpc_routed("grpc-programmatic-second-rule", {"kind": "b"}, "other")
        self.stop_all()

        def unparsable():
            bad = Sidecar(self, "routing-bad", [
                component("ps", "pubsub.in-memory"),
                subscription("broken-rule", "ps", "broken", rules=[("event.type ==", "/x")], default="/d"),
            ])
            m, status, output = bad.start_refused("unparsable-rule", "design §2")
            m.true("broken-rule" in output, "the output does not name the subscription broken-rule")
            m.true(bool(re.search(r"column \d+", output)), "the output does not name the column")
            return bad.refusal_done(m, status, output, lambda line: "broken-rule" in line or "column" in line, "")
        self.run_check("routing/unparsable-rule-refused", unparsable)

    # ================================================================== 4. bulk subscribe (§6.5)

    def scenario_bulk(self) -> None:
        answers = ["SUCCESS", "RETRY", "DROP", "SUCCESS", "SUCCESS"]
        app = App(self, "bulk-http", "http", {
            "routes": {"/dlq": "SUCCESS"},
            "programmatic": [
                {"pubsubname": "ps", "topic": "bulk-prog", "route": "/bulkp", "deadLetterTopic": "bulk-dlq",
                 "bulkSubscribe": {"enabled": True, "maxMessagesCount": 2, "maxAwaitDurationMs": 300}},
            ]})
        h = Sidecar(self, "bulk-http", [
            component("ps", "pubsub.in-memory"),
            subscription("bulk-decl", "ps", "bulk-decl", route="/bulk", dead_letter="bulk-dlq",
                         bulk={"enabled": True, "maxMessagesCount": 3, "maxAwaitDurationMs": 300}),
            subscription("bulk-dlq", "ps", "bulk-dlq", route="/dlq"),
        ], app=app).start()
        c = h.client()
        procs = lambda: [h.proc, app.proc]  # noqa: E731

        def http_bulk(name, topic, route, limit):
            def run():
                ids = [self.publish(c, "ps", topic, {"answer": a, "i": i}) for i, a in enumerate(answers)]

                def delivered():
                    seen = {}
                    for record in app.events.where(lambda r: r.get("bulk") and r.get("path") == route):
                        for entry in record["body"].get("entries") or []:
                            event = entry.get("event") if isinstance(entry.get("event"), dict) else {}
                            if event.get("id") in ids:
                                seen[event["id"]] = record
                    return seen if len(seen) == len(ids) else None
                got = wait_until(delivered, ARRIVAL)
                check(bool(got), f"not every message came through bulk deliveries to {route} within {ARRIVAL:.0f} s "
                                 f"(plain deliveries: {len(self.http_records(app, route))})")
                m = Mismatches(name)
                records = {id(r): r for r in got.values()}.values()
                for record in records:
                    body = record["body"]
                    m.eq("envelope type", body.get("type"), "com.dapr.event.sent.bulk", "§6.5")
                    m.eq("envelope topic", body.get("topic"), topic, "§6.5")
                    m.eq("envelope pubsubname", body.get("pubsubname"), "ps", "§6.5")
                    m.true(bool(body.get("id")), "envelope id missing (§6.5)")
                    m.true(isinstance(body.get("metadata"), dict), f"envelope metadata not an object (§6.5): {body.get('metadata')!r}")
                    m.eq("request Content-Type", (record.get("content_type") or "").split(";")[0], "application/json", "§6.5")
                    m.true(len(body.get("entries") or []) <= limit,
                           f"{len(body['entries'])} entries in one request, maxMessagesCount is {limit} (§6.5)")
                    for entry in body.get("entries") or []:
                        m.eq("entry keys", sorted(entry), ["contentType", "entryId", "event", "metadata"], "§6.5")
                        m.eq("entry contentType", entry.get("contentType"), "application/cloudevents+json", "§6.5")
                        break
                failed = {ids[i] for i, a in enumerate(answers) if a in ("RETRY", "DROP")}
                dead = wait_until(lambda: failed <= {r["body"].get("id") for r in self.http_records(app, "/dlq")}, ARRIVAL)
                m.true(bool(dead), f"RETRY and DROP entries {sorted(failed)} did not all reach the DLQ (§2 bulk, §6.5)")
                time.sleep(ABSENCE)  # bounded: SUCCESS entries must never reach the DLQ
                wrong = ({r["body"].get("id") for r in self.http_records(app, "/dlq")} & set(ids)) - failed
                m.eq("SUCCESS entries in the DLQ", sorted(wrong), [], "§6.5")
                sizes = sorted(len(r["body"].get("entries") or []) for r in records)
                return m.done(f"{len(ids)} messages in requests of {sizes} entries; RETRY/DROP entries dead-lettered")
            self.run_check(f"bulk/{name}", run, procs)

        http_bulk("http-declarative", "bulk-decl", "/bulk", 3)
        http_bulk("http-programmatic", "bulk-prog", "/bulkp", 2)
        self.stop_all()

        gapp = App(self, "bulk-grpc", "grpc", {
            "routes": {"dlq": "SUCCESS"},
            "programmatic": [
                {"pubsub": "ps", "topic": "bulkg-prog", "handler": "bulkp", "dead_letter_topic": "bulkg-dlq",
                 "bulk": {"enabled": True, "max_messages_count": 2, "max_await_duration_ms": 300}},
                {"pubsub": "ps", "topic": "bulkg-dlq", "handler": "dlq"},
            ],
            "declarative": [{"pubsub": "ps", "path": "/bulkd"}]})
        g = Sidecar(self, "bulk-grpc", [
            component("ps", "pubsub.in-memory"),
            subscription("bulkg-decl", "ps", "bulkg-decl", route="/bulkd", dead_letter="bulkg-dlq",
                         bulk={"enabled": True, "maxMessagesCount": 3, "maxAwaitDurationMs": 300}),
        ], app=gapp).start()
        gc = g.client()

        def grpc_bulk(name, topic, limit):
            def run():
                ids = [self.publish(gc, "ps", topic, {"answer": a, "i": i}) for i, a in enumerate(answers)]

                def delivered():
                    seen = {}
                    for record in gapp.events.where(lambda r: r.get("bulk") and r.get("topic") == topic):
                        for entry in record["entries"]:
                            if entry.get("event_id") in ids:
                                seen[entry["event_id"]] = (record, entry)
                    return seen if len(seen) == len(ids) else None
                got = wait_until(delivered, ARRIVAL)
                check(bool(got), f"not every message came through OnBulkTopicEvent within {ARRIVAL:.0f} s "
                                 f"(single deliveries: {len(gapp.events.where(lambda r: r.get('topic') == topic and not r.get('bulk')))})")
                m = Mismatches(name)
                for record, entry in got.values():
                    m.eq("request type", record.get("type"), "com.dapr.event.sent.bulk", "§6.5")
                    m.eq("request pubsub_name", record.get("pubsub_name"), "ps", "§6.5")
                    m.true(len(record["entries"]) <= limit,
                           f"{len(record['entries'])} entries in one request, maxMessagesCount {limit} (§6.5)")
                    m.eq("entry kind", entry.get("kind"), "cloud_event", "§6.5")
                    m.eq("entry content_type", entry.get("content_type"), "application/cloudevents+json", "§6.5")
                statuses = {}
                for record, entry in got.values():
                    for status in record.get("statuses") or []:
                        if status["entry_id"] == entry["entry_id"]:
                            statuses[entry["event_id"]] = status["status"]
                m.eq("answered statuses", [statuses.get(i) for i in ids], answers, "the SDK's per-entry answers")
                failed = {ids[i] for i, a in enumerate(answers) if a in ("RETRY", "DROP")}
                dead = wait_until(lambda: failed <= {r.get("id") for r in self.grpc_records(gapp, "dlq")}, ARRIVAL)
                m.true(bool(dead), f"RETRY and DROP entries {sorted(failed)} did not all reach the DLQ (§2 bulk)")
                time.sleep(ABSENCE)  # bounded: SUCCESS entries must never reach the DLQ
                wrong = ({r.get("id") for r in self.grpc_records(gapp, "dlq")} & set(ids)) - failed
                m.eq("SUCCESS entries in the DLQ", sorted(wrong), [], "§6.5")
                sizes = sorted({id(r): len(r["entries"]) for r, _ in got.values()}.values())
                return m.done(f"{len(ids)} messages in OnBulkTopicEvent requests of {sizes} entries")
            self.run_check(f"bulk/{name}", run, lambda: [g.proc, gapp.proc])

        grpc_bulk("grpc-declarative", "bulkg-decl", 3)
        grpc_bulk("grpc-programmatic", "bulkg-prog", 2)

    # ================================================================== 5. CloudEvent fields (§6.4)

    def scenario_cloudevents(self) -> None:
        app = App(self, "ce", "http", {"routes": {"/ce": "SUCCESS", "/ce-raw": "SUCCESS"}})
        h = Sidecar(self, "ce", [
            component("ps", "pubsub.in-memory"),
            subscription("ce", "ps", "ce", route="/ce"),
            subscription("ce-raw", "ps", "ce-raw", route="/ce-raw", metadata={"rawPayload": "true"}),
        ], app=app).start()
        c = h.client()
        procs = lambda: [h.proc, app.proc]  # noqa: E731

        def received(predicate, route="/ce", timeout=ARRIVAL):
            found = wait_until(lambda: [r for r in self.http_records(app, route) if predicate(r["body"])], timeout)
            check(bool(found), f"nothing matching arrived at {route} within {timeout:.0f} s")
            return found[0]

        def defaults():
            text = self.unique("hello")
            c.publish_event("ps", "ce", text)
            record = received(lambda b: isinstance(b, dict) and b.get("data") == text)
            event = record["body"]
            m = Mismatches("defaults")
            m.true(bool(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", event.get("id", ""))),
                   f"id: expected a new UUID (§6.4), got {event.get('id')!r}")
            m.eq("source", event.get("source"), h.app_id, "§6.4")
            m.eq("type", event.get("type"), "com.dapr.event.sent", "§6.4")
            m.eq("specversion", event.get("specversion"), "1.0", "§6.4")
            m.eq("datacontenttype", event.get("datacontenttype"), "text/plain", "§6.4 (empty -> text/plain)")
            m.eq("topic", event.get("topic"), "ce", "§6.4")
            m.eq("pubsubname", event.get("pubsubname"), "ps", "§6.4")
            m.eq("subject present", "subject" in event, False, "§6.4 (only with cloudevent.subject)")
            m.eq("expiration present", "expiration" in event, False, "§6.4 (only with a TTL)")
            m.eq("delivery Content-Type", (record.get("content_type") or "").split(";")[0],
                 "application/cloudevents+json", "§6.3")
            try:
                age = abs((datetime.datetime.now(datetime.timezone.utc) - rfc3339(event.get("time", ""))).total_seconds())
                m.true(age < 60, f"time {event.get('time')} is not now (§6.4)")
            except ValueError:
                m.items.append(f"time: expected RFC3339 (§6.4), got {event.get('time')!r}")
            return m.done(short({k: v for k, v in event.items() if k != "data"}, 400))
        self.run_check("cloudevents/defaults", defaults, procs)

        def overrides_grpc():
            event_id = self.unique("my-id")
            c.publish_event("ps", "ce", json.dumps({"o": 1}), data_content_type="application/json", publish_metadata={
                "cloudevent.id": event_id, "cloudevent.source": "my-source", "cloudevent.type": "my.type",
                "cloudevent.subject": "my-subject"})
            event = received(lambda b: isinstance(b, dict) and b.get("id") == event_id)["body"]
            m = Mismatches("overrides")
            m.eq("source", event.get("source"), "my-source", "§6.4 cloudevent.source")
            m.eq("type", event.get("type"), "my.type", "§6.4 cloudevent.type")
            m.eq("subject", event.get("subject"), "my-subject", "§6.4 cloudevent.subject")
            m.eq("data", event.get("data"), {"o": 1}, "§6.4 (application/json -> parsed JSON)")
            m.eq("datacontenttype", event.get("datacontenttype"), "application/json", "§6.4")
            return m.done(f"id/source/type/subject overridden: {short({k: event.get(k) for k in ('id', 'source', 'type', 'subject')})}")
        self.run_check("cloudevents/overrides-grpc", overrides_grpc, procs)

        def overrides_http():
            event_id = self.unique("http-id")
            query = urllib.parse.urlencode({"metadata.CloudEvent.Id": event_id, "metadata.cloudevent.TYPE": "http.type"})
            status, _, body = http("POST", h.url(f"/v1.0/publish/ps/ce?{query}"), {"h": 2})
            check(status == 204, f"publish: expected 204, got {status} {body[:200]!r}")
            event = received(lambda b: isinstance(b, dict) and b.get("id") == event_id)["body"]
            m = Mismatches("overrides-http")
            m.eq("type", event.get("type"), "http.type", "§6.4 (override keys match case-insensitively)")
            m.eq("data", event.get("data"), {"h": 2}, "§6.4")
            return m.done(f"metadata.CloudEvent.Id / metadata.cloudevent.TYPE honoured")
        self.run_check("cloudevents/overrides-http-case-insensitive", overrides_http, procs)

        def raw_payload():
            payload = b"\x00raw-" + self.unique("bytes").encode()
            c.publish_event("ps", "ce-raw", payload, publish_metadata={"rawPayload": "true"})
            expected_b64 = base64.b64encode(payload).decode()
            record = received(lambda b: isinstance(b, dict) and b.get("data_base64") == expected_b64, route="/ce-raw")
            event = record["body"]
            m = Mismatches("rawPayload")
            m.eq("source", event.get("source"), "Dapr", "§6.4 (synthetic CE for a rawPayload subscription)")
            m.eq("type", event.get("type"), "com.dapr.event.sent", "§6.4")
            m.eq("datacontenttype", event.get("datacontenttype"), "application/octet-stream", "§6.4")
            m.eq("topic", event.get("topic"), "ce-raw", "§6.4")
            m.eq("pubsubname", event.get("pubsubname"), "ps", "§6.4")
            m.true(bool(event.get("id")), "id missing (§6.4: random id)")
            return m.done(f"raw bytes arrived unwrapped, as data_base64 of a synthetic CE")
        self.run_check("cloudevents/raw-payload", raw_payload, procs)

        def traceparent(name, send):
            def run():
                event_id = self.unique("trace")
                send(event_id)
                event = received(lambda b: isinstance(b, dict) and b.get("id") == event_id)["body"]
                m = Mismatches(name)
                parent = event.get("traceparent") or ""
                m.true(bool(re.fullmatch(rf"00-{TRACE_ID}-[0-9a-f]{{16}}-0[01]", parent)),
                       f"traceparent: expected the publisher's trace 00-{TRACE_ID}-<span>-<flags> (§6.4), got {parent!r}")
                m.eq("traceid", event.get("traceid"), parent, "§6.4 (traceid = traceparent)")
                return m.done(f"traceparent {parent}")
            self.run_check(f"cloudevents/{name}", run, procs)

        traceparent("traceparent-grpc", lambda event_id: c.publish_event(
            "ps", "ce", "t", publish_metadata={"cloudevent.id": event_id}, metadata=(("traceparent", TRACEPARENT),)))
        traceparent("traceparent-http", lambda event_id: http(
            "POST", h.url(f"/v1.0/publish/ps/ce?metadata.cloudevent.id={event_id}"), {"t": 1},
            headers={"traceparent": TRACEPARENT}))

        def ttl():
            event_id = self.unique("ttl")
            before = datetime.datetime.now(datetime.timezone.utc)
            c.publish_event("ps", "ce", "ttl", publish_metadata={"cloudevent.id": event_id, "ttlInSeconds": "120"})
            event = received(lambda b: isinstance(b, dict) and b.get("id") == event_id)["body"]
            expiration = event.get("expiration")
            check(expiration is not None, f"expiration: expected now+120 s (§6.4, in-memory pub/sub lacks MESSAGE_TTL), "
                                          f"got no expiration: {short(event)}")
            delta = (rfc3339(expiration) - before).total_seconds()
            check(110 <= delta <= 130, f"expiration {expiration} is {delta:.0f} s after the publish, expected ~120 (§6.4)")
            return f"expiration {expiration} (+{delta:.0f} s)"
        self.run_check("cloudevents/ttl-expiration", ttl, procs)

        def expired():
            offset = h.proc.size()
            event_id = self.unique("expired")
            past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            envelope = {"specversion": "1.0", "id": event_id, "source": "test", "type": "t", "expiration": past,
                        "datacontenttype": "text/plain", "data": "old"}
            status, _, body = http("POST", h.url("/v1.0/publish/ps/ce"), json.dumps(envelope),
                                   headers={"Content-Type": "application/cloudevents+json"})
            check(status == 204, f"publish: expected 204, got {status} {body[:200]!r}")
            line = f"dropping expired pub/sub event {event_id} as of "
            logged = h.log_wait(line, ARRIVAL, since=offset)
            m = Mismatches("expired")
            m.true(bool(logged), f"WARN `{line}{past}` missing (§6.4, §8)")
            time.sleep(ABSENCE)  # bounded: the app must not get it
            m.eq("deliveries", len(self.http_records(app, "/ce", event_id)), 0, "§6.4 (dropped before delivery)")
            return m.done("expired event dropped with daprd's WARN")
        self.run_check("cloudevents/expired-dropped", expired, procs)

        def passthrough():
            event_id = self.unique("own")
            envelope = {"specversion": "1.0", "id": event_id, "type": "own.type", "topic": "elsewhere",
                        "datacontenttype": "application/json", "data": {"k": 1}}
            status, _, body = http("POST", h.url("/v1.0/publish/ps/ce?metadata.cloudevent.type=ignored"),
                                   json.dumps(envelope), headers={"Content-Type": "application/cloudevents+json"})
            check(status == 204, f"publish: expected 204, got {status} {body[:200]!r}")
            event = received(lambda b: isinstance(b, dict) and b.get("id") == event_id)["body"]
            m = Mismatches("passthrough")
            m.eq("type", event.get("type"), "own.type", "§6.4 (kept; cloudevent.* overrides ignored)")
            m.eq("topic", event.get("topic"), "ce", "§6.4 (topic forced)")
            m.eq("pubsubname", event.get("pubsubname"), "ps", "§6.4 (forced)")
            m.eq("source", event.get("source"), "Dapr", "§6.4 (filled only if missing: Dapr)")
            m.eq("data", event.get("data"), {"k": 1}, "§6.4")
            m.true(bool(event.get("time")), "time not filled (§6.4)")
            return m.done("an application/cloudevents+json body is kept; topic/pubsubname forced, source filled")
        self.run_check("cloudevents/cloudevents-json-passthrough", passthrough, procs)

    # ================================================================== 6. outbox (§3)

    def scenario_outbox(self) -> None:
        app = App(self, "outbox", "http", {"routes": {"/outbox": "SUCCESS"}})
        h = Sidecar(self, "outbox", [
            component("ps", "pubsub.in-memory"),
            component("ostore", "state.memstore", {"outboxPublishPubsub": "ps", "outboxPublishTopic": "orders-out"}),
            component("plain", "state.in-memory"),
            subscription("orders-out", "ps", "orders-out", route="/outbox"),
        ], app=app)
        self.memstore(h)
        h.start()
        c = h.client()
        procs = lambda: [h.proc, app.proc]  # noqa: E731
        json_meta = {"contentType": "application/json"}

        def upsert(key, value, **metadata):
            return TransactionalStateOperation(key=key, data=json.dumps(value), metadata={**json_meta, **metadata})

        def events_with(predicate):
            return [r["body"] for r in self.http_records(app, "/outbox") if isinstance(r.get("body"), dict)
                    and predicate(r["body"])]

        def wait_data(tag, count=1):
            found = wait_until(lambda: (lambda got: got if len(got) >= count else None)(
                events_with(lambda b: isinstance(b.get("data"), dict) and b["data"].get("tag") == tag)), ARRIVAL)
            check(bool(found), f"{count} outbox event(s) with data.tag {tag} did not arrive within {ARRIVAL:.0f} s "
                               f"(got {len(events_with(lambda b: isinstance(b.get('data'), dict) and b['data'].get('tag') == tag))})")
            return found

        def upserts():
            tag = self.unique("up")
            c.execute_state_transaction("ostore", [upsert("o1-" + tag, {"tag": tag, "n": 1}),
                                                   upsert("o2-" + tag, {"tag": tag, "n": 2})])
            events = wait_data(tag, 2)
            m = Mismatches("upserts")
            for event in events:
                m.true(str(event.get("id", "")).startswith("outbox-"), f"id: expected outbox-{{uuid}} (§3), got {event.get('id')!r}")
                m.eq("topic", event.get("topic"), "orders-out", "§3")
                m.eq("pubsubname", event.get("pubsubname"), "ps", "§3")
                m.eq("source", event.get("source"), h.app_id, "§3")
                m.eq("type", event.get("type"), "com.dapr.event.sent", "§3")
                m.eq("specversion", event.get("specversion"), "1.0", "§3")
                m.eq("datacontenttype", event.get("datacontenttype"), "application/json", "§3")
            m.eq("data", sorted(e["data"]["n"] for e in events), [1, 2], "§3 (data = the saved value)")
            return m.done(f"2 upserts -> 2 CloudEvents on orders-out, ids {[e.get('id') for e in events]}")
        self.run_check("outbox/upserts-published", upserts, procs)

        def projection():
            tag = self.unique("proj")
            key = "p-" + tag
            c.execute_state_transaction("ostore", [
                upsert(key, {"tag": "saved-" + tag, "full": True}),
                upsert(key, {"tag": tag, "projected": True}, **{"outbox.projection": "true"})])
            events = wait_data(tag)
            m = Mismatches("projection")
            m.eq("published data", events[0].get("data"), {"tag": tag, "projected": True}, "§3 (the projection is published)")
            saved = c.get_state("ostore", key)
            m.eq("saved value", json.loads(saved.data or b"null"), {"tag": "saved-" + tag, "full": True},
                 "§3 (the projection is never saved)")
            time.sleep(ABSENCE)  # bounded: the saved value must not be published as well
            m.eq("events carrying the saved value", len(events_with(lambda b: isinstance(b.get("data"), dict)
                                                                     and b["data"].get("tag") == "saved-" + tag)), 0, "§3")
            return m.done("projection published, original saved")
        self.run_check("outbox/projection", projection, procs)

        def two_projections():
            tag = self.unique("two")
            ops = []
            for n in (1, 2):
                ops.append(upsert(f"t{n}-{tag}", {"tag": "saved-" + tag, "n": n}))
                ops.append(upsert(f"t{n}-{tag}", {"tag": tag, "n": n, "projected": True}, **{"outbox.projection": "true"}))
            c.execute_state_transaction("ostore", ops)
            events = wait_data(tag, 2)
            m = Mismatches("two-projections")
            m.eq("published", sorted(e["data"]["n"] for e in events), [1, 2], "§3, §9 (any number of projections)")
            for n in (1, 2):
                saved = json.loads(c.get_state("ostore", f"t{n}-{tag}").data or b"null")
                m.eq(f"saved t{n}", saved, {"tag": "saved-" + tag, "n": n}, "§3")
            time.sleep(ABSENCE)  # bounded: no saved value published
            m.eq("events carrying saved values", len(events_with(lambda b: isinstance(b.get("data"), dict)
                                                                  and b["data"].get("tag") == "saved-" + tag)), 0, "§3")
            return m.done("both projections published, both originals saved")
        self.run_check("outbox/two-projections", two_projections, procs)

        def nothing_for(name, action):
            def run():
                before = len(self.http_records(app, "/outbox"))
                outcome = action()
                sentinel = self.unique("sentinel")
                c.execute_state_transaction("ostore", [upsert("s-" + sentinel, {"tag": sentinel})])
                wait_data(sentinel)
                time.sleep(ABSENCE)  # bounded: anything published by the action would be here by now
                extra = [r["body"] for r in self.http_records(app, "/outbox")[before:]
                         if not (isinstance(r["body"].get("data"), dict) and r["body"]["data"].get("tag") == sentinel)]
                check(not extra, f"expected nothing published (§3), got {short(extra)}")
                return outcome
            self.run_check(f"outbox/{name}", run, procs)

        def delete_only():
            key = "d-" + self.unique("del")
            c.save_state("ostore", key, json.dumps({"tag": "x"}))
            c.execute_state_transaction("ostore", [TransactionalStateOperation(
                key=key, operation_type=TransactionOperationType.delete)])
            return "a delete-only transaction published nothing"
        nothing_for("delete-publishes-nothing", delete_only)

        def failed_txn():
            tag = self.unique("fail")
            key = "f-" + tag
            c.save_state("ostore", key, json.dumps({"tag": "before"}))
            error = grpc_failure("failed-transaction", lambda: c.execute_state_transaction("ostore", [
                TransactionalStateOperation(key=key, data=json.dumps({"tag": tag}), etag="999", metadata=json_meta)]))
            expect_grpc("failed-transaction", error, code=grpc.StatusCode.INTERNAL,
                        message_prefix="error while executing state transaction: ", reason="ERR_STATE_TRANSACTION",
                        metadata={}, section="§1.2 (txn failed, etag errors too)").done("")
            check(not events_with(lambda b: isinstance(b.get("data"), dict) and b["data"].get("tag") == tag),
                  f"the failed transaction's value was published (§3)")
            return f"etag-mismatch transaction failed with {error.code().name} {error.details()!r}, published nothing"
        nothing_for("failed-transaction-publishes-nothing", failed_txn)

        def projection_without_outbox():
            key = "np-" + self.unique("plain")
            c.execute_state_transaction("plain", [TransactionalStateOperation(
                key=key, data="projected", metadata={"outbox.projection": "true"})])
            saved = c.get_state("plain", key).data
            check(saved == b"projected", f"daprd saves a projection op on a store without outbox as a normal value "
                                          f"(sheet silent; daprd: PublishInternal runs only when outbox.Enabled(store), "
                                          f"pkg/api/grpc/grpc.go:1035), got {saved!r}")
            return "a projection op on a store without an outbox is saved as a normal value, as daprd does"
        self.run_check("outbox/projection-without-outbox-saved", projection_without_outbox, procs)

    # ================================================================== 7. query API (§7)

    def scenario_query(self) -> None:
        h = Sidecar(self, "query", [component("qstore", "state.memstore"), component("mem", "state.in-memory")])
        self.memstore(h)
        h.start()
        c = h.client()
        procs = lambda: [h.proc]  # noqa: E731
        people = {f"q-{n}": {"person": {"org": "A" if n % 2 else "B", "id": n}, "city": f"c{n}"} for n in range(1, 6)}
        c.save_bulk_state("qstore", [StateItem(key=k, value=json.dumps(v)) for k, v in people.items()])
        query_url = h.url("/v1.0-alpha1/state/qstore/query")

        def grpc_query(query):
            response = c.query_state("qstore", json.dumps(query))
            return [(item.key, item.json()) for item in response.results], response.token

        def filter_eq():
            results, token = grpc_query({"filter": {"EQ": {"person.org": "A"}}})
            m = Mismatches("filter-eq")
            m.eq("keys", sorted(k for k, _ in results), ["q-1", "q-3", "q-5"], "§7 (keys without the app-id prefix)")
            m.eq("data", {k: v for k, v in results}, {k: people[k] for k in ("q-1", "q-3", "q-5")}, "§7")
            return m.done(f"EQ person.org A -> {sorted(k for k, _ in results)}")
        self.run_check("query/filter-eq-grpc", filter_eq, procs)

        def filter_and_in_http():
            status, _, body = http("POST", query_url, {"filter": {"AND": [{"IN": {"person.org": ["A", "B"]}},
                                                                           {"GT": {"person.id": 2}}]}})
            check(status == 200, f"expected 200 (§7), got {status} {body[:300]!r}")
            parsed = json.loads(body)
            keys = sorted(r["key"] for r in parsed.get("results", []))
            check(keys == ["q-3", "q-4", "q-5"], f"AND[IN, GT]: expected q-3, q-4, q-5 (§7), got {keys}")
            check(all(r.get("data") == people[r["key"]] for r in parsed["results"]), f"data: {short(parsed)}")
            return f"AND(IN org [A,B], GT id 2) -> {keys}"
        self.run_check("query/filter-and-in-gt-http", filter_and_in_http, procs)

        def sort_paging():
            pages, token, rounds = [], None, 0
            while rounds < 5:
                rounds += 1
                query = {"sort": [{"key": "person.id", "order": "DESC"}], "page": {"limit": 2}}
                if token:
                    query["page"]["token"] = token
                results, token = grpc_query(query)
                pages.append([k for k, _ in results])
                if not token:
                    break
            expected = [["q-5", "q-4"], ["q-3", "q-2"], ["q-1"]]
            check(pages[:3] == expected and all(not p for p in pages[3:]),
                  f"sort person.id DESC, limit 2: expected pages {expected} (§7), got {pages}")
            return f"pages {pages}"
        self.run_check("query/sort-desc-paging-token", sort_paging, procs)

        def zero_http():
            status, _, body = http("POST", query_url, {"filter": {"EQ": {"person.org": "Z"}}})
            check(status == 204 and body == b"", f"no results: expected 204 with no body (§7), got {status} {body[:200]!r}")
            return "204, empty body"
        self.run_check("query/zero-results-http-204", zero_http, procs)

        def zero_grpc():
            response = c.query_state("qstore", json.dumps({"filter": {"EQ": {"person.org": "Z"}}}))
            check(list(response.results) == [] and response.token == "" and not response.metadata,
                  f"no results: expected an empty QueryStateResponse (§7), got results {list(response.results)} "
                  f"token {response.token!r} metadata {response.metadata!r}")
            return "empty QueryStateResponse"
        self.run_check("query/zero-results-grpc-empty", zero_grpc, procs)

        cases = [("unsupported-filter", {"filter": {"XX": {"a": 1}}}, 'unsupported filter "XX"'),
                 ("eq-two-pairs", {"filter": {"EQ": {"a": 1, "b": 2}}}, "EQ filter must contain a single key/value pair"),
                 ("and-one-entry", {"filter": {"AND": [{"EQ": {"a": 1}}]}}, "AND filter must contain at least two entries")]
        for label, query, detail in cases:
            message = f"state store qstore query failed: failed to parse JSON query body: {detail}"

            def bad_http(query=query, message=message, label=label):
                answer = http_failure("POST", query_url, query)
                return expect_http(label, answer, status=500, error_code="ERR_STATE_QUERY", message=message,
                                   reason="DAPR_STATE_QUERY_FAILED", metadata=Ellipsis, resource=("state", "qstore"),
                                   section="§7, §1.2").done(f"{answer[0]} {answer[2].get('message') if isinstance(answer[2], dict) else answer[2]!r}")
            self.run_check(f"query/malformed-{label}-http", bad_http, procs)

            def bad_grpc(query=query, message=message, label=label):
                error = grpc_failure(label, lambda: c.query_state("qstore", json.dumps(query)))
                return expect_grpc(label, error, code=grpc.StatusCode.INTERNAL, message=message,
                                   reason="DAPR_STATE_QUERY_FAILED", resource=("state", "qstore"),
                                   section="§7, §1.2").done(f"{error.code().name} {error.details()!r}")
            self.run_check(f"query/malformed-{label}-grpc", bad_grpc, procs)

        def builtin_http():
            answer = http_failure("POST", h.url("/v1.0-alpha1/state/mem/query"), {"filter": {"EQ": {"a": 1}}})
            return expect_http("builtin", answer, status=500, error_code="ERR_STATE_STORE_NOT_SUPPORTED",
                               message="state store does not support querying",
                               reason="DAPR_STATE_QUERYING_NOT_SUPPORTED", metadata=Ellipsis,
                               resource=("state", "mem"), section="§1.2, §7").done(f"{answer[0]} {short(answer[2], 200)}")
        self.run_check("query/builtin-not-supported-http", builtin_http, procs)

        def builtin_grpc():
            error = grpc_failure("builtin", lambda: c.query_state("mem", json.dumps({"filter": {"EQ": {"a": 1}}})))
            return expect_grpc("builtin", error, code=grpc.StatusCode.INTERNAL,
                               message="state store does not support querying",
                               reason="DAPR_STATE_QUERYING_NOT_SUPPORTED", resource=("state", "mem"),
                               section="§1.2, §7").done(f"{error.code().name} {error.details()!r}")
        self.run_check("query/builtin-not-supported-grpc", builtin_grpc, procs)

    # ================================================================== 8. Configuration (§4)

    def scenario_configuration(self) -> None:
        scopes = """apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: fidelity
spec:
  secrets:
    scopes:
      - storeName: envsecrets
        defaultAccess: deny
        allowedSecrets: ["FID_A"]
      - storeName: envsecrets2
        defaultAccess: allow
        deniedSecrets: ["FID_B"]
      - storeName: envsecrets3
        defaultAccess: deny
        allowedSecrets: ["FID_A"]
        deniedSecrets: ["FID_A"]
  accessControl:
    defaultAction: allow
---
modules:
  metrics: false
"""
        env = {"FID_A": "a", "FID_B": "b", "FID_C": "c"}
        stores = [component(n, "secretstores.local.env") for n in ("envsecrets", "envsecrets2", "envsecrets3")]
        h = Sidecar(self, "config", stores, configs=[scopes], env=env)
        self.run_check("configuration/configuration-and-settings-in-one-file", lambda: (h.start(), (
            lambda status: check(status == 404, f"/metrics: expected 404 with modules.metrics false in the same "
                                                f"file, got {status}"))(http("GET", h.url("/metrics"))[0]),
            "apiary started with a Configuration and a settings document in one --config file; modules applied")[-1],
            lambda: [h.proc])
        if not h.proc.alive():
            return
        c = h.client()
        procs = lambda: [h.proc]  # noqa: E731

        def allowed(store, key):
            def run():
                got = c.get_secret(store, key).secret
                check(got == {key: env[key]}, f"{store}/{key}: expected {{{key}: {env[key]}}} (§4), got {got}")
                return f"{store}/{key} allowed"
            return run

        def denied_grpc(store, key):
            def run():
                error = grpc_failure("denied", lambda: c.get_secret(store, key))
                return expect_grpc("denied", error, code=grpc.StatusCode.PERMISSION_DENIED,
                                   message=f'access denied by policy to get "{key}" from "{store}"', legacy=True,
                                   section="§1.4, §4").done(f"{error.code().name} {error.details()!r}")
            return run

        def denied_http(store, key):
            def run():
                answer = http_failure("GET", h.url(f"/v1.0/secrets/{store}/{key}"))
                return expect_http("denied", answer, status=403, error_code="ERR_PERMISSION_DENIED",
                                   message=f'access denied by policy to get "{key}" from "{store}"', legacy=True,
                                   section="§1.4, §4").done(f"{answer[0]} {short(answer[2], 200)}")
            return run

        self.run_check("configuration/allowed-secret", allowed("envsecrets", "FID_A"), procs)
        self.run_check("configuration/default-deny-grpc", denied_grpc("envsecrets", "FID_C"), procs)
        self.run_check("configuration/default-deny-http", denied_http("envsecrets", "FID_C"), procs)
        self.run_check("configuration/denied-secret-grpc", denied_grpc("envsecrets2", "FID_B"), procs)
        self.run_check("configuration/denied-secret-http", denied_http("envsecrets2", "FID_B"), procs)
        self.run_check("configuration/default-allow", allowed("envsecrets2", "FID_C"), procs)
        self.run_check("configuration/allowed-overrides-denied", allowed("envsecrets3", "FID_A"), procs)

        def bulk_grpc():
            got = c.get_bulk_secret("envsecrets").secrets
            check(got == {"FID_A": {"FID_A": "a"}}, f"bulk on a deny store: expected only FID_A (§4: silently "
                                                    f"omitted), got {short(sorted(got), 300)}")
            return "bulk returned only the allowed secret"
        self.run_check("configuration/bulk-filtered-grpc", bulk_grpc, procs)

        def bulk_http():
            status, _, body = http("GET", h.url("/v1.0/secrets/envsecrets2/bulk"))
            check(status == 200, f"expected 200, got {status} {body[:200]!r}")
            got = json.loads(body)
            check("FID_B" not in got and got.get("FID_C") == {"FID_C": "c"},
                  f"bulk: expected FID_C present and FID_B omitted (§4), got FID_B={got.get('FID_B')} FID_C={got.get('FID_C')}")
            return "bulk omitted the denied secret, kept the rest"
        self.run_check("configuration/bulk-filtered-http", bulk_http, procs)

        def logged_once():
            lines = [line for line in h.proc.text().splitlines() if "accessControl" in line]
            check(len(lines) == 1, f"spec.accessControl: expected one log line naming it (design §4), got {len(lines)}: "
                                   f"{short(lines, 400)}")
            return f"logged once: {short(lines[0], 200)}"
        self.run_check("configuration/unsupported-section-logged-once", logged_once, procs)
        self.stop_all()

        def refused(name, text, needle):
            def run():
                bad = Sidecar(self, f"config-{name}", [component("envsecrets", "secretstores.local.env")], configs=[text])
                m, status, output = bad.start_refused(name, "§4")
                m.true(needle in output, f"the output lacks `{needle}` (§4)")
                m.true(bad.config_paths[0] in output, f"the output does not name the file {bad.config_paths[0]}")
                return bad.refusal_done(m, status, output,
                                        lambda line: "storeName" in line or "defaultAccess" in line, output[-300:])
            self.run_check(f"configuration/{name}", run)

        refused("duplicate-storename-refused", """apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: dup}
spec:
  secrets:
    scopes:
      - {storeName: envsecrets, defaultAccess: allow}
      - {storeName: envsecrets, defaultAccess: deny}
""", "envsecrets storeName is repeated in secrets configuration")
        refused("bad-default-access-refused", """apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: bad}
spec:
  secrets:
    scopes:
      - {storeName: envsecrets, defaultAccess: maybe}
""", "defaultAccess maybe can be either allow or deny")

    # ================================================================== 9. Resiliency (§5)

    def scenario_resiliency(self) -> None:
        resiliency = """apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: fidelity-resiliency
spec:
  policies:
    timeouts:
      short: 500ms
    retries:
      three:
        policy: constant
        duration: 100ms
        maxRetries: 3
    circuitBreakers:
      cb:
        maxRequests: 1
        timeout: 60s
        trip: consecutiveFailures > 2
  targets:
    components:
      flaky:
        outbound:
          retry: three
          timeout: short
      cbstore:
        outbound:
          circuitBreaker: cb
      ps:
        inbound:
          retry: three
"""
        app = App(self, "resiliency", "http", {"routes": {"/dlq": "SUCCESS"}})
        h = Sidecar(self, "resiliency", [
            component("flaky", "state.flaky"), component("cbstore", "state.flaky"), component("ps", "pubsub.in-memory"),
            subscription("res-in", "ps", "res-in", route="/inb", dead_letter="res-dlq"),
            subscription("res-dlq", "ps", "res-dlq", route="/dlq"),
        ], app=app, files={"resiliency.yaml": resiliency})
        _, calls = self.flaky(h)
        h.start()
        c = h.client()
        procs = lambda: [h.proc]  # noqa: E731

        def calls_for(key, method="Get"):
            return [r for r in calls.all() if r.get("method") == method and r.get("key", "").endswith("||" + key)]

        def recovers():
            offset = h.proc.size()
            key = "fail2-" + self.unique("r")
            c.get_state("flaky", key)
            m = Mismatches("retry-recovers")
            m.eq("component Get calls", len(calls_for(key)), 3, "§5 (2 failures, then success within maxRetries 3)")
            text = h.proc.since(offset)
            warn = "Error processing operation component[flaky] output. Retrying in 100ms…"
            m.eq(f"WARN `{warn}` lines", text.count(warn), 1, "§5, §8 (once per run, at the first failure)")
            recovered = "Recovered processing operation component[flaky] output after 3 attempts"
            m.true(bool(h.log_wait(recovered, 5, since=offset)), f"INFO `{recovered}` missing (§5, §8)")
            return m.done(f"3 calls, one WARN, recovered")
        self.run_check("resiliency/outbound-retry-recovers", recovers, procs)

        def exhausted():
            key = "fail9-" + self.unique("x")
            error = grpc_failure("retry-exhausted", lambda: c.get_state("flaky", key))
            m = expect_grpc("retry-exhausted", error, code=grpc.StatusCode.INTERNAL, reason="ERR_STATE_GET",
                            message_prefix=f"fail to get {key} from state store flaky: ", metadata={}, section="§1.2")
            m.eq("component Get calls", len(calls_for(key)), 4, "§5 (maxRetries 3 = 3 retries after the first try)")
            return m.done(f"4 calls, then {error.code().name} {error.details()!r}")
        self.run_check("resiliency/outbound-retry-exhausted", exhausted, procs)

        def timeout():
            key = "slow3000-" + self.unique("t")
            started = now()
            error = grpc_failure("timeout", lambda: c.get_state("flaky", key))
            elapsed = now() - started
            m = expect_grpc("timeout", error, code=grpc.StatusCode.INTERNAL, reason="ERR_STATE_GET",
                            message=f"fail to get {key} from state store flaky: context deadline exceeded",
                            metadata={}, section="§1.2, §5 (a timeout yields context deadline exceeded)")
            m.eq("component Get calls", len(calls_for(key)), 4, "§5 (timeout per attempt, retryable)")
            m.true(elapsed < 3.5, f"took {elapsed:.1f} s; 4 attempts of 500 ms + 3 x 100 ms is ~2.3 s (§5)")
            return m.done(f"4 attempts of 500 ms in {elapsed:.1f} s")
        self.run_check("resiliency/outbound-timeout-per-attempt", timeout, procs)

        def inbound():
            event_id = self.publish(c, "ps", "res-in", {"answer": "RETRY"})
            self.wait_http(app, "/dlq", event_id)
            time.sleep(ABSENCE)  # bounded: no delivery after the DLQ
            count = len(self.http_records(app, "/inb", event_id))
            check(count == 4, f"deliveries before the DLQ: expected 4 (first try + maxRetries 3, §5 inbound), got {count}")
            return "4 deliveries, then the DLQ"
        self.run_check("resiliency/inbound-retries-before-dlq", inbound, lambda: [h.proc, app.proc])

        def breaker():
            offset = h.proc.size()
            for i in range(3):
                grpc_failure("breaker", lambda: c.get_state("cbstore", f"fail99-cb{i}-{self.run_id}"))
            line = 'Circuit breaker "cb-cbstore" changed state from closed to open'
            m = Mismatches("breaker")
            m.true(bool(h.log_wait(line, 5, since=offset)), f"INFO `{line}` missing (§5, §8)")
            key = f"fail99-cb3-{self.run_id}"
            error = grpc_failure("breaker-open", lambda: c.get_state("cbstore", key))
            m.true("circuit breaker is open" in (error.details() or ""),
                   f"a call on an open breaker: expected `circuit breaker is open` (§5), got {error.details()!r}")
            m.eq("component calls while open", len(calls_for(key)), 0, "§5")
            status, _, body = http("GET", h.url("/metrics"))
            lines = [line for line in body.decode(errors="replace").splitlines()
                     if line.startswith("apiary_resiliency_breaker_state{") and 'component="cbstore"' in line]
            open_lines = [line for line in lines if 'state="open"' in line and metric_value(line) == 1.0]
            m.true(bool(open_lines), f"/metrics: no apiary_resiliency_breaker_state{{component=\"cbstore\",...,"
                                     f"state=\"open\"}} 1 (design §4); lines: {short(lines, 400)}")
            return m.done(f"opened after 3 failures; {short(open_lines, 200)}")
        self.run_check("resiliency/circuit-breaker-opens", breaker, procs)
        self.stop_all()

        def refused(name, text, needles):
            def run():
                bad = Sidecar(self, f"res-{name}", [component("flaky", "state.in-memory")],
                              files={"res.yaml": text})
                m, status, output = bad.start_refused(name, "design §4")
                path = os.path.join(bad.resources, "res.yaml")
                for needle in needles + [path]:
                    m.true(needle in output, f"the output does not name `{needle}`")
                return bad.refusal_done(m, status, output, lambda line: path in line, output[-300:])
            self.run_check(f"resiliency/{name}", run)

        def retry_target(name, target, retry):
            """A Resiliency with the retry policy `three`, giving `target` the retry `retry`."""
            return (f"apiVersion: dapr.io/v1alpha1\nkind: Resiliency\nmetadata: {{name: {name}}}\nspec:\n"
                    "  policies:\n    retries:\n      three: {policy: constant, duration: 100ms, maxRetries: 3}\n"
                    f"  targets:\n    components:\n      {target}:\n        outbound: {{retry: {retry}}}\n")

        refused("unknown-target-refused", retry_target("r1", "ghost", "three"), ["ghost"])
        refused("unknown-policy-refused", retry_target("r2", "flaky", "nosuchpolicy"), ["nosuchpolicy"])

        def malformed():
            text = """apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: broken-res}
spec:
  policies:
    retries:
      bad: {policy: constant, duration: 100ms, maxRetries: lots}
"""
            s = Sidecar(self, "res-malformed", [component("ps", "pubsub.in-memory")], files={"res.yaml": text})
            s.start(wait=False)
            path = os.path.join(s.resources, "res.yaml")
            m = Mismatches("malformed")
            try:
                s.wait_ready(30)
            except CheckFailure as failure:
                m.items.append(f"a Resiliency that fails to decode is skipped, start-up goes on (§5): {failure}")
            text_out = s.proc.text()
            line = next((l for l in text_out.splitlines() if "Could not read resiliency policy broken-res" in l), None)
            m.true(line is not None, "ERROR `Could not read resiliency policy broken-res: ...` missing (§5, §8)")
            if line is not None:
                m.true(path in line, f"the line does not name the file {path}: {line}")
                m.true("maxRetries" in line, f"the line does not name the field maxRetries: {line}")
            s.stop()
            return m.done(f"logged: {short(line or '', 300)}")
        self.run_check("resiliency/malformed-document-logged", malformed)

    # ================================================================== 10. samples

    def scenario_samples(self) -> None:
        redis_dir = os.path.join(self.tmp, "redis")
        os.makedirs(redis_dir)
        port = free_port()
        redis = self.spawn("redis-server", [shutil.which("redis-server") or "redis-server", "--port", port,
                                            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", redis_dir])
        check(bool(wait_until(lambda: port_open(port) or not redis.alive(), 15)), "redis-server did not start")
        h = Sidecar(self, "samples", [component("statestore", "state.redis-store",
                                                {"redisHost": f"127.0.0.1:{port}", "redisDB": "0"})])
        self.component_proc("redis-store", [sys.executable, REDIS_STORE, "--socket", h.socket("redis-store"),
                                            "--redis-url", f"redis://127.0.0.1:{port}/0", "--log-level", "info"],
                            h.socket("redis-store"))
        h.start()

        def etag_one():
            c = h.client()
            key = self.unique("etag")
            c.save_state("statestore", key, "v")
            first = c.get_state("statestore", key).etag
            c.save_state("statestore", key, "w", etag=first)
            second = c.get_state("statestore", key).etag
            check((first, second) == ("1", "2"), f"redis-store per-key etags: expected 1 then 2, got {first!r}, {second!r}")
            return "a new key's etag is 1, then 2"
        self.run_check("samples/redis-store-etag-starts-at-1", etag_one, lambda: [h.proc])



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="folder with the built apiary and memstore executables")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, metavar="SCENARIO",
                        help=f"run only these scenarios: {', '.join(SCENARIOS)}")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, resources)")
    args = parser.parse_args()
    if args.only:
        args.only = [name for name in SCENARIOS if name in args.only]

    return run_suite(FidelitySuite(args))


if __name__ == "__main__":
    sys.exit(main())
