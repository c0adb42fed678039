#!/usr/bin/env python3
"""Soak test: concurrent Dapr SDK clients through one Apiary sidecar for a fixed time.

    python3 Tests/Soak/soak.py --bin DIR [--duration SECONDS] [--clients N] [--file-secrets PATH]
                               [--interval SECONDS] [--keep]

(Scripts/soak.sh builds what is missing and runs this.) Starts, on a temporary folder,
the demo's set-up (Scripts/demo.sh): a redis-server on a free port, the Python
redis-store (state store `statestore`, pub/sub `pubsub`), the C++ file-secrets
(secret store `secretstore`, output binding `files`), the Swift memstore (state store
`cache`, hello `greeter`) and ticker (input binding `ticks`), a subscriber app in its
own process that counts the deliveries of topic `soak`, and `apiary run`.

Then `--clients` clients (default 64; threads spread over a few worker processes, each
client with its own DaprClient, i.e. its own gRPC channel) loop until the time is up,
each iteration one of: save then get (and compare) on `statestore` (Python/Redis) or on
`cache` (Swift); publish a message with a unique id to `pubsub`/`soak`; create then get
(and compare) a file through `files` (C++); get a secret from `secretstore` (C++) and
compare it. Any exception or wrong answer is an error.

Every --interval seconds (default 10) it prints the operations, the errors (in the
interval and in total), p50/p99 latency of the interval, apiary's resident memory and
the deliveries so far. At the end it waits for every message that was published
successfully to be delivered (as long as deliveries keep coming: it gives up after
--drain seconds, default 60, without one), and prints a summary. Exit
status 1 when there was any error, any published message was not delivered, apiary
exited, or apiary's RSS grew by more than --max-rss-growth percent (default 10) from the
end of the warm-up (the first --warmup fraction, default 20 %, of the run) to the end.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import queue
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Support", "python"))
from apiarytest import components, paths  # noqa: E402
from apiarytest.httpapp import AppHandler  # noqa: E402
from apiarytest.net import free_port, http_json, socket_answers  # noqa: E402
from apiarytest.procs import Proc, wait_for  # noqa: E402

REPO = paths.REPO
REDIS_STORE = paths.REDIS_STORE
DEFAULT_FILE_SECRETS = paths.DEFAULT_FILE_SECRETS
TOPIC = "soak"
SECRETS = {"db-password": "s3cret", "api": {"key": "k1"}}
EXPECTED_SECRETS = {"db-password": "s3cret", "api:key": "k1"}
OPERATIONS = [  # (name, weight)
    ("state-redis", 3), ("state-memstore", 3), ("publish", 3), ("binding", 2), ("secret", 2),
]


def say(message: str) -> None:
    print(f"soak: {message}", flush=True)


def percentile(values: list, p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


# ----------------------------------------------------------------------------- subscriber app


def subscriber_main(port: int) -> None:
    """The app: GET /dapr/subscribe -> topic `soak` of `pubsub` on /soak. Counts each
    delivered id; GET /stats answers counts, GET /ids the delivered ids."""
    ids: dict = {}
    counts = {"deliveries": 0, "ticks": 0, "unparsed": 0}
    lock = threading.Lock()

    class Handler(AppHandler):
        content_type = "application/json"

        def do_GET(self):  # noqa: N802
            if self.path.startswith("/dapr/subscribe"):
                self._send(200, json.dumps([{"pubsubname": "pubsub", "topic": TOPIC, "route": "/soak"}]).encode())
            elif self.path == "/stats":
                with lock:
                    self._send(200, json.dumps(dict(counts, unique=len(ids))).encode())
            elif self.path == "/ids":
                with lock:
                    self._send(200, json.dumps(list(ids)).encode())
            else:
                self._send(404, b"{}")

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            if path == "/soak":
                event_id = delivered_id(raw)
                with lock:
                    counts["deliveries"] += 1
                    if event_id is None:
                        counts["unparsed"] += 1
                    else:
                        ids[event_id] = ids.get(event_id, 0) + 1
            elif path == "/ticks":
                with lock:
                    counts["ticks"] += 1
            self._send(200, b'{"status":"SUCCESS"}')

        def do_OPTIONS(self):  # noqa: N802
            self._send(200, b"")

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever(poll_interval=0.2)


def delivered_id(raw: bytes):
    try:
        event = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    data = event.get("data")
    if data is None and "data_base64" in event:
        try:
            data = base64.b64decode(event["data_base64"])
        except ValueError:
            return None
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError:
            return None
    return data.get("id") if isinstance(data, dict) else None


# ----------------------------------------------------------------------------- clients


def worker_main(index: int, threads: int, grpc_port: int, http_port: int, go, shared_deadline, out, seed: int) -> None:
    """One worker process: makes `threads` clients, reports {"ready": n} to `out`, waits
    for the event `go`, then runs them until `shared_deadline` (time.time()); sends a
    report to `out` every second and a last one when done."""
    os.environ["DAPR_GRPC_PORT"] = str(grpc_port)
    os.environ["DAPR_HTTP_PORT"] = str(http_port)
    os.environ["DAPR_API_TOKEN"] = ""
    os.environ.setdefault("DAPR_API_TIMEOUT_SECONDS", "30")
    from dapr.clients import DaprClient  # imported here: every worker has its own gRPC runtime

    lock = threading.Lock()
    pending = {"lat": [], "ops": 0, "errors": 0, "samples": [], "published": [], "by_op": {}}

    def record(op: str, seconds: float, error: str | None = None, published: str | None = None) -> None:
        with lock:
            pending["lat"].append(seconds)
            pending["ops"] += 1
            stats = pending["by_op"].setdefault(op, [0, 0])
            stats[0] += 1
            if error:
                pending["errors"] += 1
                stats[1] += 1
                if len(pending["samples"]) < 5:
                    pending["samples"].append(f"{op}: {error[:300]}")
            if published:
                pending["published"].append(published)

    def flush(final: bool = False) -> None:
        with lock:
            report = dict(pending, worker=index, final=final)
            pending.update({"lat": [], "ops": 0, "errors": 0, "samples": [], "published": [], "by_op": {}})
        out.put(report)

    def client_loop(n: int, client) -> None:
        rng = random.Random(f"{seed}:{index}:{n}")
        name = f"w{index}c{n}"
        if client is None:
            return
        ops = [op for op, weight in OPERATIONS for _ in range(weight)]
        i = 0
        while time.time() < deadline:
            i += 1
            op = rng.choice(ops)
            started = time.monotonic()
            try:
                if op in ("state-redis", "state-memstore"):
                    store = "statestore" if op == "state-redis" else "cache"
                    key = f"soak-{name}-{i % 20}"
                    value = json.dumps({"client": name, "i": i, "pad": "x" * rng.choice([10, 100, 1000])}).encode()
                    client.save_state(store, key, value)
                    record(f"save {store}", time.monotonic() - started)
                    started = time.monotonic()
                    got = client.get_state(store, key)
                    error = None if got.data == value else f"get {key}: expected {value[:60]!r}, got {got.data[:60]!r}"
                    record(f"get {store}", time.monotonic() - started, error)
                elif op == "publish":
                    message_id = f"{name}-{i}-{uuid.uuid4().hex[:8]}"
                    client.publish_event("pubsub", TOPIC, json.dumps({"id": message_id, "client": name}),
                                         data_content_type="application/json")
                    record("publish", time.monotonic() - started, published=message_id)
                elif op == "binding":
                    file_name = f"{name}-{i % 5}.txt"
                    content = f"{name} {i} {uuid.uuid4().hex}".encode()
                    client.invoke_binding("files", "create", content, binding_metadata={"fileName": file_name})
                    record("binding create", time.monotonic() - started)
                    started = time.monotonic()
                    got = client.invoke_binding("files", "get", b"", binding_metadata={"fileName": file_name})
                    error = None if got.data == content else f"get {file_name}: expected {content!r}, got {got.data[:80]!r}"
                    record("binding get", time.monotonic() - started, error)
                else:
                    key = rng.choice(list(EXPECTED_SECRETS))
                    got = client.get_secret("secretstore", key)
                    error = None if got.secret == {key: EXPECTED_SECRETS[key]} else f"secret {key}: got {got.secret!r}"
                    record("secret", time.monotonic() - started, error)
            except Exception as error:  # noqa: BLE001
                cause = error.__cause__ or error.__context__
                detail = f"{type(error).__name__}: {error}"
                if hasattr(cause, "code") and callable(cause.code):
                    try:
                        detail = f"gRPC {cause.code().name}: {cause.details()}"
                    except Exception:  # noqa: BLE001
                        pass
                record(op, time.monotonic() - started, " ".join(detail.split()))
        try:
            client.close()
        except Exception:  # noqa: BLE001
            pass

    clients = []
    for n in range(threads):
        try:
            clients.append(DaprClient(address=f"127.0.0.1:{grpc_port}"))
        except Exception as error:  # noqa: BLE001
            record("connect", 0.0, f"DaprClient: {type(error).__name__}: {error}")
            clients.append(None)
    out.put({"ready": threads, "worker": index})
    go.wait()
    deadline = shared_deadline.value
    workers = [threading.Thread(target=client_loop, args=(n, clients[n]), daemon=True) for n in range(threads)]
    for thread in workers:
        thread.start()
    while any(t.is_alive() for t in workers):
        time.sleep(1.0)
        flush()
    flush(final=True)


# ----------------------------------------------------------------------------- set-up


class Setup:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="apiary-soak-")
        self.sockets = os.path.join(self.work, "sockets")
        self.resources = os.path.join(self.work, "components")
        self.logs = os.path.join(self.work, "logs")
        os.mkdir(self.sockets, 0o700)
        for folder in (self.resources, self.logs, os.path.join(self.work, "files")):
            os.mkdir(folder)
        self.procs: list = []
        self.apiary: Proc | None = None
        self.app_port = free_port()
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.redis_port = free_port()

    def spawn(self, name: str, argv: list) -> Proc:
        proc = Proc(name, argv, os.path.join(self.logs, f"{name}.log"), self.work).start()
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        args = self.args
        with open(os.path.join(self.work, "secrets.json"), "w", encoding="utf-8") as out:
            json.dump(SECRETS, out)
        with open(os.path.join(self.resources, "components.yaml"), "w", encoding="utf-8") as out:
            out.write("---\n".join([
                components.render("redis-store.yaml", REDIS_PORT=self.redis_port, CONSUMER_GROUP="soak"),
                components.render("memstore.yaml", STATE_NAME="cache"),
                components.render("ticker.yaml", INTERVAL_MS=1000, MESSAGE="soak tick"),
                components.render("file-secrets.yaml", SECRETS_FILE=os.path.join(self.work, "secrets.json"),
                                  FILES_DIR=os.path.join(self.work, "files")),
            ]))
        redis = self.spawn("redis-server", [shutil.which("redis-server") or "redis-server", "--port", self.redis_port,
                                            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                            "--dir", self.work, "--loglevel", "warning"])
        wait_for(lambda: self.redis_ping(), 20, "redis-server", redis)
        sock = lambda name: os.path.join(self.sockets, f"{name}.sock")  # noqa: E731
        servers = [
            (self.spawn("redis-store", [sys.executable, REDIS_STORE, "--socket", sock("redis-store"),
                                        "--redis-url", f"redis://127.0.0.1:{self.redis_port}/0", "--log-level", "warning"]),
             "redis-store"),
            (self.spawn("file-secrets", [args.file_secrets, "--socket", sock("file-secrets"), "--log-level", "warning"]),
             "file-secrets"),
            (self.spawn("memstore", [os.path.join(args.bin, "memstore"), "--socket", sock("memstore"),
                                     "--log-level", "warning"]), "memstore"),
            (self.spawn("ticker", [os.path.join(args.bin, "ticker"), "--socket", sock("ticker"),
                                   "--log-level", "warning"]), "ticker"),
        ]
        app = self.spawn("subscriber-app", [sys.executable, os.path.abspath(__file__), "--subscriber-app",
                                            str(self.app_port)])
        for proc, name in servers:
            wait_for(lambda: socket_answers(sock(name)), 90, f"{sock(name)}", proc)
        wait_for(lambda: http_json(self.app_port, "/stats", 1)[0] == 200, 20, "the subscriber app", app)
        self.apiary = self.spawn("apiary", [
            os.path.join(args.bin, "apiary"), "run", "--resources-path", self.resources, "--sockets-dir", self.sockets,
            "--app-id", "soak", "--app-port", self.app_port, "--http-port", self.http_port,
            "--grpc-port", self.grpc_port, "--log-level", "warning", "--component-log-level", "warning",
        ])
        wait_for(lambda: http_json(self.http_port, "/v1.0/healthz", 2)[0] == 204, 90, "apiary to be ready", self.apiary)
        # The subscription is opened once the app's /dapr/subscribe has been read.
        wait_for(lambda: any(s.get("topic") == TOPIC for s in (http_json(self.http_port, "/v1.0/metadata")[1] or {})
                             .get("subscriptions", [])), 30, "the subscription to topic soak", self.apiary)

    def redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as conn:
                conn.sendall(b"*1\r\n$4\r\nPING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.apiary is not None:
            self.apiary.stop(10)
        for proc in reversed(self.procs):
            if proc is not self.apiary:
                proc.stop(5)
        if self.args.keep:
            say(f"kept {self.work} (logs in {self.logs})")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


# ----------------------------------------------------------------------------- the run


def run(args) -> int:
    setup = Setup(args)
    failures: list = []
    try:
        say(f"starting redis-server, redis-store (Python), file-secrets (C++), memstore and ticker (Swift), "
            f"the subscriber app and apiary in {setup.work} ...")
        setup.start()
        say(f"ready: apiary http {setup.http_port}, grpc {setup.grpc_port}; redis {setup.redis_port}; "
            f"{args.clients} clients for {args.duration:.0f} s")
        return drive(args, setup, failures)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except RuntimeError as error:
        say(f"set-up failed: {error}")
        return 1
    finally:
        setup.stop()


def drive(args, setup: Setup, failures: list) -> int:
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    processes = max(1, min(args.procs, args.clients))
    per_process = [args.clients // processes + (1 if i < args.clients % processes else 0) for i in range(processes)]
    go = context.Event()
    shared_deadline = context.Value("d", 0.0)
    workers = [context.Process(target=worker_main, args=(i, n, setup.grpc_port, setup.http_port, go, shared_deadline,
                                                         reports, args.seed), daemon=True)
               for i, n in enumerate(per_process)]
    for worker in workers:
        worker.start()
    # Every client connects first, so that the load (and the warm-up) starts at once.
    ready = 0
    waiting_since = time.time()
    early: list = []
    while ready < len(workers):
        try:
            report = reports.get(timeout=1)
        except queue.Empty:
            if time.time() - waiting_since > 180 or not all(w.is_alive() for w in workers):
                raise RuntimeError("the client processes did not all connect within 180 s")
            continue
        if "ready" in report:
            ready += 1
        else:
            early.append(report)
    say(f"{args.clients} clients connected in {time.time() - waiting_since:.1f} s; load starts")
    started = time.time()
    shared_deadline.value = started + args.duration
    go.set()
    for report in early:
        reports.put(report)
    total_ops = total_errors = 0
    all_latencies: list = []
    window_latencies: list = []
    window_ops = window_errors = 0
    samples: list = []
    published: list = []
    by_op: dict = {}
    finals = 0
    rss_series: list = []  # (seconds since start, KiB)
    next_print = started + args.interval
    last_print = started
    next_rss = started
    warmup_end = started + args.duration * args.warmup
    baseline = None
    print(f"{'time':>6} {'ops':>7} {'ops/s':>7} {'errors':>7} {'total err':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'apiary RSS':>11} {'published':>9} {'delivered':>9}", flush=True)
    while finals < len(workers):
        try:
            report = reports.get(timeout=0.5)
        except queue.Empty:
            report = None
        if report:
            window_ops += report["ops"]
            window_errors += report["errors"]
            window_latencies += report["lat"]
            published += report["published"]
            for op, (n, e) in report["by_op"].items():
                stats = by_op.setdefault(op, [0, 0])
                stats[0] += n
                stats[1] += e
            samples += report["samples"][: max(0, 20 - len(samples))]
            finals += 1 if report["final"] else 0
        now = time.time()
        if not setup.apiary.alive() and not any("apiary exited" in f for f in failures):
            failures.append(f"apiary exited with status {setup.apiary.popen.returncode}")
        if now >= next_rss:  # sampled every second, printed every interval
            rss = setup.apiary.rss_kib()
            next_rss += 1.0
            if rss is not None:
                rss_series.append((now - started, rss))
                if baseline is None and now >= warmup_end:
                    baseline = rss
        if now >= next_print or finals == len(workers):
            rss = rss_series[-1][1] if rss_series else None
            _, stats = http_json(setup.app_port, "/stats", 2)
            total_ops += window_ops
            total_errors += window_errors
            all_latencies += window_latencies
            span = max(1e-6, now - last_print)
            last_print = now
            print(f"{now - started:6.0f} {window_ops:7d} {window_ops / span:7.1f} {window_errors:7d} {total_errors:9d} "
                  f"{percentile(window_latencies, 50) * 1000:8.1f} {percentile(window_latencies, 99) * 1000:8.1f} "
                  f"{(rss or 0) / 1024:9.1f}MB {len(published):9d} {(stats or {}).get('unique', '?'):>9}", flush=True)
            window_ops = window_errors = 0
            window_latencies = []
            next_print += args.interval
    for worker in workers:
        worker.join(timeout=30)
    elapsed = time.time() - started
    final_rss = rss_series[-1][1] if rss_series else None
    _, stats = http_json(setup.app_port, "/stats", 5)
    backlog_at_end = len(published) - (stats or {}).get("unique", 0)
    if baseline is None and rss_series:
        baseline = rss_series[0][1]

    # Every message published without an error must arrive. Deliveries lag behind under
    # load, so this waits as long as they keep coming: until all are in, or none has
    # come for --drain seconds.
    say(f"load finished after {elapsed:.0f} s; waiting for {len(published)} deliveries "
        f"(giving up after {args.drain:.0f} s without one) ...")
    wanted = set(published)
    drain_started = last_progress = time.monotonic()
    last_unique = -1
    delivered: set = set()
    while True:
        _, stats = http_json(setup.app_port, "/stats", 5)
        unique = (stats or {}).get("unique", 0)
        if unique != last_unique:
            last_unique, last_progress = unique, time.monotonic()
        if unique >= len(wanted):
            _, ids = http_json(setup.app_port, "/ids", 30)
            delivered = set(ids or [])
            if wanted <= delivered:
                break
        if time.monotonic() - last_progress > args.drain:
            _, ids = http_json(setup.app_port, "/ids", 30)
            delivered = set(ids or [])
            break
        time.sleep(1)
    drain_seconds = time.monotonic() - drain_started
    _, stats = http_json(setup.app_port, "/stats", 5)
    lost = sorted(wanted - delivered)
    unexpected = len(delivered - wanted)
    stats = stats or {}

    print()
    say("summary")
    print(f"  duration {elapsed:.0f} s, {args.clients} clients in {len(workers)} processes; "
          f"{total_ops} operations ({total_ops / max(elapsed, 1e-6):.1f}/s), {total_errors} errors")
    print(f"  latency p50 {percentile(all_latencies, 50) * 1000:.1f} ms, p99 {percentile(all_latencies, 99) * 1000:.1f} ms, "
          f"max {max(all_latencies or [0]) * 1000:.1f} ms")
    for op, (n, e) in sorted(by_op.items()):
        print(f"    {op:<20} {n:8d} calls {e:6d} errors")
    print(f"  pub/sub: {len(wanted)} published, {len(wanted) - len(lost)} delivered, {len(lost)} lost, "
          f"{stats.get('deliveries', 0) - stats.get('unique', 0)} redeliveries, {unexpected} unexpected ids, "
          f"{stats.get('unparsed', 0)} unparsed; {stats.get('ticks', 0)} ticker events")
    print(f"  deliveries lagged: {backlog_at_end} published but not yet delivered when the load stopped; "
          f"all in {drain_seconds:.0f} s later" if not lost else
          f"  deliveries lagged: {backlog_at_end} outstanding when the load stopped")
    growth = None
    if baseline and final_rss:
        growth = (final_rss - baseline) * 100.0 / baseline
        print(f"  apiary RSS: {rss_series[0][1] / 1024:.1f} MB at start, {baseline / 1024:.1f} MB after the warm-up "
              f"({args.warmup * 100:.0f} % = {args.duration * args.warmup:.0f} s), {final_rss / 1024:.1f} MB at the end "
              f"({growth:+.1f} %), max {max(r for _, r in rss_series) / 1024:.1f} MB")
    if samples:
        print("  first errors:")
        for sample in samples[:10]:
            print(f"    {sample}")
    if lost:
        print(f"  lost messages (first 10): {', '.join(lost[:10])}")
    if total_errors:
        failures.append(f"{total_errors} errors")
    if lost:
        failures.append(f"{len(lost)} of {len(wanted)} published messages not delivered "
                        f"(none arrived in the last {args.drain:.0f} s)")
    if growth is not None and growth > args.max_rss_growth:
        failures.append(f"apiary RSS grew {growth:.1f} % after the warm-up (limit {args.max_rss_growth:.0f} %)")
    if total_ops == 0:
        failures.append("no operation completed")
    if not setup.apiary.alive() and not any("apiary exited" in f for f in failures):
        failures.append(f"apiary exited with status {setup.apiary.popen.returncode}")
    if failures:
        print(f"FAIL: {'; '.join(failures)}")
        for line in setup.apiary.tail(15):
            print(f"    | {line}")
        return 1
    print("PASS: no errors, every published message delivered, RSS flat after the warm-up")
    return 0


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--subscriber-app":
        subscriber_main(int(sys.argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="folder with apiary, memstore and ticker")
    parser.add_argument("--file-secrets", default=DEFAULT_FILE_SECRETS, help="the built C++ file-secrets")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (default %(default)s)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default %(default)s)")
    parser.add_argument("--procs", type=int, default=4, help="worker processes the clients are spread over")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between progress lines")
    parser.add_argument("--warmup", type=float, default=0.2, help="fraction of the run that is warm-up")
    parser.add_argument("--max-rss-growth", type=float, default=10.0, help="percent allowed after the warm-up")
    parser.add_argument("--drain", type=float, default=60.0,
                        help="at the end, stop waiting for deliveries after this many seconds without one")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and its logs")
    args = parser.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.file_secrets = os.path.abspath(args.file_secrets)
    for path in (os.path.join(args.bin, n) for n in ("apiary", "memstore", "ticker")):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is missing or not executable")
    if not os.access(args.file_secrets, os.X_OK):
        parser.error(f"{args.file_secrets} is missing (build it: see SamplesComponents/cpp/file-secrets/README.md)")
    if not shutil.which("redis-server"):
        parser.error("redis-server is missing (apt-get install redis-server)")
    signal.signal(signal.SIGTERM, interrupt)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
