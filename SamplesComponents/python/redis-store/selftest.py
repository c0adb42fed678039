#!/usr/bin/env python3
"""End-to-end checks of redis-store against a private redis-server.

    python3 selftest.py [--keep] [--verbose]

Starts redis-server on a free port (temporary folder, no persistence), then
redis_store.py on a temporary socket -- with --redis-url pointing at a port
where nothing listens, so that every Init must carry the `redisHost`
metadata -- and calls it with apiary-component's gRPC stubs, as the sidecar does.
Prints one line per check and `N passed, M failed`; exits 1 when a check
failed (the temporary folder, with the component logs, is kept then, and
with --keep).  Needs redis-server (Debian: apt-get install redis-server) and
the packages of requirements.txt.  Takes about half a minute.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from redisstore import bootstrap  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "Tests", "Support", "python"))
from apiarytest.checks import CheckFailure, Checks  # noqa: E402
from apiarytest.net import free_port  # noqa: E402
from apiarytest.procs import wait_until  # noqa: E402

bootstrap.ensure_sdk("selftest")  # apiary_component, installed or the repository's copy

try:
    import grpc  # noqa: E402
    import redis  # noqa: E402
    from google.rpc import error_details_pb2  # noqa: E402
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (  # noqa: E402
        ProtoReflectionDescriptorDatabase)
    from grpc_status import rpc_status  # noqa: E402

    from apiary_component.proto import (common_pb2, logs_pb2, logs_pb2_grpc,  # noqa: E402
                                        pubsub_pb2, pubsub_pb2_grpc, state_pb2, state_pb2_grpc)
except ImportError as error:
    sys.exit(f"selftest: {error}: python3 -m pip install -r {HERE}/requirements.txt")

HEADER = "x-component-instance"
COMPONENT = os.path.join(HERE, "redis_store.py")
STATE = "statestore-redis"
PUBSUB = "pubsub-redis"
VISIBILITY_MS = 500
FIRST_WRITE = state_pb2.StateOptions.CONCURRENCY_FIRST_WRITE


def expect(condition, message: str) -> None:
    if not condition:
        raise CheckFailure(message)


# --------------------------------------------------------------------------
# Processes


class RedisServer:
    def __init__(self, folder: str):
        self.port = free_port()
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("selftest: redis-server not found (Debian: apt-get install redis-server)")
        self.log = open(os.path.join(folder, "redis.log"), "wb")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", folder],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.client = redis.Redis(port=self.port)
        if not wait_until(self._answers, 10):
            sys.exit(f"selftest: redis-server did not start on port {self.port}")

    def _answers(self) -> bool:
        try:
            return self.client.ping()
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Component:
    """redis_store.py on its own socket, with the stubs on one channel."""

    def __init__(self, folder: str, name: str, dead_url: str):
        self.socket = os.path.join(folder, "sockets", f"{name}.sock")
        self.log_path = os.path.join(folder, f"{name}.log")
        self.dead_url = dead_url
        self.process = None
        self.channel = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"---- start {self.starts}\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, COMPONENT, "--socket", self.socket, "--redis-url", self.dead_url,
             "--log-level", "debug"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not wait_until(lambda: os.path.exists(self.socket) or self.process.poll() is not None,
                          20):
            raise CheckFailure(f"no socket after 20 s (see {self.log_path})")
        if self.process.poll() is not None:
            raise CheckFailure(f"exited with {self.process.returncode} (see {self.log_path})")
        self.channel = grpc.insecure_channel(f"unix:{self.socket}")
        grpc.channel_ready_future(self.channel).result(timeout=10)
        self.state = state_pb2_grpc.StateStoreStub(self.channel)
        self.transactional = state_pb2_grpc.TransactionalStateStoreStub(self.channel)
        self.pubsub = pubsub_pb2_grpc.PubSubStub(self.channel)
        self.logs = logs_pb2_grpc.ComponentLogsStub(self.channel)

    def close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.close_channel()

    def terminate(self, timeout: float = 10) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.close_channel()
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


def meta(instance: str):
    return [(HEADER, instance)]


def status_of(call):
    """(code, message, etag violations) of a failed unary call."""
    try:
        call()
    except grpc.RpcError as error:
        violations = []
        status = rpc_status.from_call(error)
        if status is not None:
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    violations.extend(v.field for v in bad.field_violations)
        return error.code(), error.details(), violations
    return None, "", []


class Subscriber:
    """One PullMessages stream driven like the sidecar drives it."""

    def __init__(self, component: Component, instance: str, topic: str, metadata=None):
        self.requests: queue.Queue = queue.Queue()
        self.requests.put(pubsub_pb2.PullMessagesRequest(
            topic=pubsub_pb2.Topic(name=topic, metadata=metadata or {})))
        self.messages: queue.Queue = queue.Queue()
        self.call = component.pubsub.PullMessages(self._requests(), metadata=meta(instance))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _requests(self):
        while True:
            item = self.requests.get()
            if item is None:
                return
            yield item

    def _read(self) -> None:
        try:
            for message in self.call:
                self.messages.put(message)
        except grpc.RpcError as error:
            self.messages.put(error)
        self.messages.put(None)

    def next(self, timeout: float):
        """The next message, or None after `timeout` seconds without one."""
        try:
            item = self.messages.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None or isinstance(item, grpc.RpcError):
            self.messages.put(item)  # stays ended
            if isinstance(item, grpc.RpcError) and item.code() != grpc.StatusCode.CANCELLED:
                raise CheckFailure(f"PullMessages ended: {item.code().name} {item.details()}")
            return None
        return item

    def ack(self, message_id: str, error: str | None = None) -> None:
        request = pubsub_pb2.PullMessagesRequest(ack_message_id=message_id)
        if error is not None:
            request.ack_error.message = error
        self.requests.put(request)

    def close(self) -> None:
        self.call.cancel()
        self.requests.put(None)


# --------------------------------------------------------------------------
# Checks


class SelfTest:
    def __init__(self, folder: str, redis_server: RedisServer):
        self.folder = folder
        self.redis = redis_server
        self.host = f"127.0.0.1:{redis_server.port}"
        self.dead_url = f"redis://127.0.0.1:{free_port()}/0"
        self.a = Component(folder, "redis-store", self.dead_url)
        self.b = Component(folder, "redis-store-2", self.dead_url)

    def init_state(self, component: Component, instance: str = STATE, **extra) -> None:
        component.state.Init(state_pb2.InitRequest(metadata=common_pb2.MetadataRequest(
            properties={"redisHost": self.host, **extra})), metadata=meta(instance), timeout=5)

    def init_pubsub(self, component: Component, instance: str = PUBSUB) -> None:
        component.pubsub.Init(pubsub_pb2.PubSubInitRequest(metadata=common_pb2.MetadataRequest(
            properties={"redisHost": self.host, "visibilityTimeoutMs": str(VISIBILITY_MS)})),
            metadata=meta(instance), timeout=5)

    def stream_key(self, topic: str, instance: str = PUBSUB) -> str:
        return f"redis-store:{{{instance}}}:topic:{topic}"

    def pending_ids(self, topic: str, group: str = PUBSUB) -> set:
        entries = self.redis.client.xpending_range(self.stream_key(topic), group, "-", "+", 10000)
        return {entry["message_id"].decode() for entry in entries}

    def released(self, topic: str, count: int, group: str = PUBSUB) -> bool:
        """`count` entries pending, each idle at least a visibility timeout (as a
        stream that ended leaves what it held)."""
        entries = self.redis.client.xpending_range(self.stream_key(topic), group, "-", "+", 10000)
        return (len(entries) == count
                and all(entry["time_since_delivered"] >= VISIBILITY_MS for entry in entries))

    def publish(self, component: Component, topic: str, payloads) -> None:
        for payload in payloads:
            component.pubsub.Publish(pubsub_pb2.PublishRequest(
                topic=topic, pubsub_name=PUBSUB, data=payload, content_type="text/plain",
                metadata={"n": payload.decode()}), metadata=meta(PUBSUB), timeout=5)

    # -- start-up and contract plumbing

    def start(self):
        self.a.start()
        return f"pid {self.a.process.pid}, socket {self.a.socket}"

    def reflection(self):
        services = set(ProtoReflectionDescriptorDatabase(self.a.channel).get_services())
        wanted = {"dapr.proto.components.v1.StateStore",
                  "dapr.proto.components.v1.TransactionalStateStore",
                  "dapr.proto.components.v1.PubSub",
                  "apiary.proto.components.v1.ComponentLogs"}
        expect(wanted <= services, f"reflection lists {sorted(services)}")
        return "v1alpha lists StateStore, TransactionalStateStore, PubSub, ComponentLogs"

    def uninitialised(self):
        code, message, _ = status_of(lambda: self.a.state.Get(
            state_pb2.GetRequest(key="k"), metadata=meta("nobody"), timeout=5))
        expect(code == grpc.StatusCode.FAILED_PRECONDITION
               and message == "instance nobody is not initialised", f"got {code} {message!r}")
        code, message, _ = status_of(lambda: self.a.pubsub.Features(
            common_pb2.FeaturesRequest(), metadata=meta("nobody"), timeout=5))
        expect(code == grpc.StatusCode.FAILED_PRECONDITION, f"PubSub.Features: {code}")
        return "FAILED_PRECONDITION 'instance nobody is not initialised'"

    def init_unreachable(self):
        code, message, _ = status_of(lambda: self.a.state.Init(
            state_pb2.InitRequest(), metadata=meta("unreachable"), timeout=10))
        expect(code == grpc.StatusCode.UNAVAILABLE and "cannot reach" in message,
               f"got {code} {message!r}")
        return "without redisHost the --redis-url (dead) is used: UNAVAILABLE"

    def init(self):
        self.init_state(self.a)
        features = self.a.state.Features(common_pb2.FeaturesRequest(), metadata=meta(STATE),
                                         timeout=5).features
        expect(sorted(features) == ["ETAG", "TRANSACTIONAL", "TTL"], f"features {features}")
        self.a.state.Ping(common_pb2.PingRequest(), metadata=meta(STATE), timeout=5)
        code, _, _ = status_of(lambda: self.a.state.Init(state_pb2.InitRequest(
            metadata=common_pb2.MetadataRequest(properties={"redisHost": self.host,
                                                            "redisDB": "x"})),
            metadata=meta("bad"), timeout=5))
        expect(code == grpc.StatusCode.INVALID_ARGUMENT, f"redisDB=x: {code}")
        return f"features {list(features)}, Ping answers, redisDB=x is INVALID_ARGUMENT"

    # -- state

    def get(self, key: str, instance: str = STATE, component=None):
        return (component or self.a).state.Get(state_pb2.GetRequest(key=key),
                                               metadata=meta(instance), timeout=5)

    def set(self, key: str, value: bytes, etag: str | None = None, first: bool = False,
            ttl: str | None = None, instance: str = STATE, content_type: str = ""):
        request = state_pb2.SetRequest(key=key, value=value, content_type=content_type)
        if etag is not None:
            request.etag.value = etag
        if first:
            request.options.concurrency = FIRST_WRITE
        if ttl is not None:
            request.metadata["ttlInSeconds"] = ttl
        return self.a.state.Set(request, metadata=meta(instance), timeout=5)

    def set_get_etag(self):
        self.set("k1", b"one", content_type="text/plain")
        first = self.get("k1")
        expect(first.data == b"one" and first.etag.value and first.content_type == "text/plain",
               f"first Get {first}")
        self.set("k1", b"two", etag=first.etag.value)
        second = self.get("k1")
        expect(second.data == b"two" and second.etag.value != first.etag.value,
               f"after a Set with the etag: {second}")
        self.etags = (first.etag.value, second.etag.value)
        missing = self.get("never-written")
        expect(missing == state_pb2.GetResponse(), f"missing key answered {missing}")
        return f"etag {first.etag.value} -> {second.etag.value}; a missing key answers empty"

    def per_key_etags(self):
        self.set("pk-a", b"a1")
        first = self.get("pk-a").etag.value
        expect(first == "1", f"a new key's etag is {first!r}, not '1'")
        self.set("pk-a", b"a2")
        second = self.get("pk-a").etag.value
        expect(second == "2", f"after a second write the etag is {second!r}, not '2'")
        self.set("pk-b", b"b1")
        other = self.get("pk-b").etag.value
        expect(other == "1", f"a second new key's etag is {other!r}, not '1' (a shared counter?)")
        expect(self.get("pk-a").etag.value == "2", "writing pk-b changed pk-a's etag")
        return "pk-a: 1 -> 2; pk-b starts at 1 (HINCRBY on each key's own hash)"

    def etag_mismatch(self):
        stale, current = self.etags
        code, message, fields = status_of(lambda: self.set("k1", b"three", etag=stale))
        expect(code == grpc.StatusCode.FAILED_PRECONDITION, f"Set: {code} {message!r}")
        expect(fields == ["etag"], f"BadRequest violations {fields}")
        code, _, fields = status_of(lambda: self.a.state.Delete(
            state_pb2.DeleteRequest(key="k1", etag=state_pb2.Etag(value=stale)),
            metadata=meta(STATE), timeout=5))
        expect(code == grpc.StatusCode.FAILED_PRECONDITION and fields == ["etag"],
               f"Delete: {code} {fields}")
        code, _, fields = status_of(lambda: self.set("nope", b"x", etag="1"))
        expect(code == grpc.StatusCode.FAILED_PRECONDITION and fields == ["etag"],
               f"etag on a missing key: {code} {fields}")
        code, _, fields = status_of(lambda: self.set("k1", b"x", etag="not-a-number"))
        expect(code == grpc.StatusCode.INVALID_ARGUMENT and fields == ["etag"],
               f"malformed etag: {code} {fields}")
        value = self.get("k1")
        expect(value.data == b"two" and value.etag.value == current, f"value changed: {value}")
        return "FAILED_PRECONDITION / INVALID_ARGUMENT, each with a BadRequest violation on etag"

    def first_write(self):
        self.set("fw", b"first", first=True)
        code, _, fields = status_of(lambda: self.set("fw", b"second", first=True))
        expect(code == grpc.StatusCode.FAILED_PRECONDITION and fields == ["etag"],
               f"second first-write: {code} {fields}")
        expect(self.get("fw").data == b"first", "value was overwritten")
        self.set("fw", b"third", etag=self.get("fw").etag.value, first=True)
        expect(self.get("fw").data == b"third", "first-write with the etag did not write")
        return "second write without etag refused; with the etag accepted"

    def transact(self):
        self.set("ta", b"a0")
        self.set("tb", b"b0")
        etag_a = self.get("ta").etag.value

        def operations(etag_b: str):
            return state_pb2.TransactionalStateRequest(operations=[
                state_pb2.TransactionalStateOperation(set=state_pb2.SetRequest(
                    key="tx-new", value=b"new")),
                state_pb2.TransactionalStateOperation(set=state_pb2.SetRequest(
                    key="ta", value=b"a1", etag=state_pb2.Etag(value=etag_a))),
                state_pb2.TransactionalStateOperation(set=state_pb2.SetRequest(
                    key="tb", value=b"b1", etag=state_pb2.Etag(value=etag_b))),
                state_pb2.TransactionalStateOperation(delete=state_pb2.DeleteRequest(key="k1")),
            ])

        code, _, fields = status_of(lambda: self.a.transactional.Transact(
            operations("999999"), metadata=meta(STATE), timeout=5))
        expect(code == grpc.StatusCode.FAILED_PRECONDITION and fields == ["etag"],
               f"bad etag in the middle: {code} {fields}")
        expect(self.get("tx-new") == state_pb2.GetResponse(), "tx-new was written")
        expect(self.get("ta").data == b"a0" and self.get("ta").etag.value == etag_a,
               "ta was changed")
        expect(self.get("tb").data == b"b0", "tb was changed")
        expect(self.get("k1").data == b"two", "k1 was deleted")
        self.a.transactional.Transact(operations(self.get("tb").etag.value),
                                      metadata=meta(STATE), timeout=5)
        expect(self.get("tx-new").data == b"new" and self.get("ta").data == b"a1"
               and self.get("tb").data == b"b1", "the good transaction was not applied")
        expect(self.get("k1") == state_pb2.GetResponse(), "k1 not deleted")
        return "a failing 3rd operation applied nothing; the corrected one applied all 4"

    def ttl(self):
        set_at = time.monotonic()
        self.set("short", b"soon gone", ttl="1")
        self.set("kept", b"stays", ttl="-1")
        found = self.get("short")
        expect(found.data == b"soon gone" and "ttlExpireTime" in found.metadata,
               f"right after Set: {found}")
        code, _, _ = status_of(lambda: self.set("bad-ttl", b"x", ttl="soon"))
        expect(code == grpc.StatusCode.INVALID_ARGUMENT, f"ttlInSeconds=soon: {code}")
        while self.get("short") != state_pb2.GetResponse():
            expect(time.monotonic() - set_at < 5, "ttlInSeconds=1: still there after 5 s")
            time.sleep(0.05)
        gone_after = time.monotonic() - set_at
        expect(gone_after >= 0.9, f"ttlInSeconds=1: gone after only {gone_after:.2f} s")
        expect(self.get("kept").data == b"stays", "ttlInSeconds=-1 expired")
        return (f"gone after {gone_after:.1f} s; Get answered ttlExpireTime "
                f"{found.metadata['ttlExpireTime']}")

    def bulk(self):
        self.a.state.BulkSet(state_pb2.BulkSetRequest(items=[
            state_pb2.SetRequest(key=f"bulk-{i}", value=f"v{i}".encode()) for i in range(3)]),
            metadata=meta(STATE), timeout=5)
        answer = self.a.state.BulkGet(state_pb2.BulkGetRequest(items=[
            state_pb2.GetRequest(key=f"bulk-{i}") for i in range(4)]), metadata=meta(STATE),
            timeout=5)
        values = {item.key: item.data for item in answer.items}
        expect(values == {"bulk-0": b"v0", "bulk-1": b"v1", "bulk-2": b"v2", "bulk-3": b""},
               f"BulkGet {values}")
        expect(all(item.etag.value for item in answer.items[:3]), "BulkGet without etags")
        code, _, _ = status_of(lambda: self.a.state.BulkSet(state_pb2.BulkSetRequest(items=[
            state_pb2.SetRequest(key="bulk-0", value=b"changed"),
            state_pb2.SetRequest(key="bulk-1", value=b"x", etag=state_pb2.Etag(value="999"))]),
            metadata=meta(STATE), timeout=5))
        expect(code == grpc.StatusCode.FAILED_PRECONDITION and self.get("bulk-0").data == b"v0",
               "BulkSet with one bad etag was not all-or-nothing")
        self.a.state.BulkDelete(state_pb2.BulkDeleteRequest(items=[
            state_pb2.DeleteRequest(key=f"bulk-{i}") for i in range(3)]), metadata=meta(STATE),
            timeout=5)
        expect(all(self.get(f"bulk-{i}") == state_pb2.GetResponse() for i in range(3)),
               "BulkDelete left keys")
        return "BulkSet / BulkGet (missing key answered bare) / BulkDelete, all-or-nothing"

    def namespaces(self):
        self.init_state(self.a, "other-store")
        self.set("shared", b"from statestore-redis")
        self.set("shared", b"from other-store", instance="other-store")
        expect(self.get("shared").data == b"from statestore-redis"
               and self.get("shared", "other-store").data == b"from other-store",
               "instances see each other's keys")
        keys = sorted(key.decode() for key in self.redis.client.scan_iter("*shared"))
        return f"redis keys {keys}"

    # -- component logs

    def tail(self, min_level: int):
        records: queue.Queue = queue.Queue()
        call = self.a.logs.Tail(logs_pb2.TailLogsRequest(min_level=min_level))

        def read():
            try:
                for record in call:
                    records.put(record)
            except grpc.RpcError:
                pass

        threading.Thread(target=read, daemon=True).start()
        return call, records

    @staticmethod
    def drain(records: queue.Queue, seconds: float) -> list:
        found, deadline = [], time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return found
            try:
                found.append(records.get(timeout=left))
            except queue.Empty:
                return found

    def until_tailed(self, records: queue.Queue, probe, seen, what: str, seconds: float = 10.0) -> None:
        """Repeats `probe` until a record it caused arrives on `records`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            probe()
            if any(seen(record) for record in self.drain(records, 0.1)):
                return
        expect(False, f"{what} received nothing within {seconds:.0f} s")

    def logs(self):
        call, records = self.tail(logs_pb2.LOG_LEVEL_INFO)
        backlog = self.drain(records, 1.0)
        call.cancel()
        messages = [record.message for record in backlog]
        expect(any("initialised state store instance statestore-redis" in m for m in messages),
               f"backlog {messages[:5]}")
        expect(all(record.level >= logs_pb2.LOG_LEVEL_INFO for record in backlog),
               "records below INFO in an INFO tail")
        warn_call, warnings = self.tail(logs_pb2.LOG_LEVEL_WARNING)
        debug_call, debugs = self.tail(logs_pb2.LOG_LEVEL_DEBUG)
        # Both tails are live once each has seen a record made after it opened.
        self.until_tailed(debugs, lambda: self.get("k-probe"),
                          lambda r: r.message.startswith("get k-probe"), "the DEBUG tail")
        self.until_tailed(warnings, lambda: status_of(lambda: self.get("k", instance="probe-missing")),
                          lambda r: "probe-missing" in r.message, "the WARNING tail")
        self.get("k-logged")
        status_of(lambda: self.get("k", instance="not-there"))
        got_warnings, got_debugs = self.drain(warnings, 1.0), self.drain(debugs, 0.2)
        warn_call.cancel()
        debug_call.cancel()
        expect(any("not-there" in r.message and r.level == logs_pb2.LOG_LEVEL_WARNING
                   for r in got_warnings), f"WARNING tail got {[r.message for r in got_warnings]}")
        expect(all(r.level >= logs_pb2.LOG_LEVEL_WARNING for r in got_warnings),
               f"WARNING tail got lower levels {[r.level for r in got_warnings]}")
        debug_record = [r for r in got_debugs if r.message.startswith("get k-logged")]
        expect(debug_record and debug_record[0].level == logs_pb2.LOG_LEVEL_DEBUG
               and debug_record[0].fields.get("instance") == STATE
               and debug_record[0].logger == "redis_store.state",
               f"DEBUG tail got {[r.message for r in got_debugs]}")
        return (f"backlog of {len(backlog)} records; WARNING tail {len(got_warnings)} records, "
                f"DEBUG tail {len(got_debugs)}")

    # -- pub/sub

    def pubsub_init(self):
        self.init_pubsub(self.a)
        features = self.a.pubsub.Features(common_pb2.FeaturesRequest(), metadata=meta(PUBSUB),
                                          timeout=5).features
        self.a.pubsub.Ping(common_pb2.PingRequest(), metadata=meta(PUBSUB), timeout=5)
        return f"features {list(features)}"

    def exactly_once(self):
        payloads = [f"m-{i}".encode() for i in range(100)]
        self.publish(self.a, "orders", payloads)
        subscriber = Subscriber(self.a, PUBSUB, "orders")
        seen, ids = [], set()
        try:
            while len(seen) < 100:
                message = subscriber.next(5)
                expect(message is not None, f"only {len(seen)} of 100 messages arrived")
                expect(message.topic_name == "orders" and message.content_type == "text/plain"
                       and message.metadata.get("n") == message.data.decode(),
                       f"message fields {message}")
                seen.append(message.data)
                ids.add(message.id)
                subscriber.ack(message.id)
            extra = subscriber.next(3 * VISIBILITY_MS / 1000)
            expect(extra is None, f"delivered again: {extra and extra.data}")
        finally:
            subscriber.close()
        expect(sorted(seen) == sorted(payloads) and len(ids) == 100,
               f"{len(set(seen))} distinct payloads, {len(ids)} ids")
        expect(wait_until(lambda: not self.pending_ids("orders"), 3),
               f"still pending: {sorted(self.pending_ids('orders'))[:5]}")
        return "100 published, 100 delivered, all acked, none again, nothing pending"

    def redelivery(self):
        self.publish(self.a, "retry", [b"fail me once"])
        subscriber = Subscriber(self.a, PUBSUB, "retry")
        try:
            first = subscriber.next(5)
            expect(first is not None and first.data == b"fail me once", f"first: {first}")
            refused_at = time.monotonic()
            subscriber.ack(first.id, error="app failed")
            again = subscriber.next(5)
            waited = time.monotonic() - refused_at
            expect(again is not None and again.id == first.id, f"redelivered: {again}")
            expect(waited >= 0.8 * VISIBILITY_MS / 1000,
                   f"redelivered after {waited:.2f} s, before the visibility timeout")
            subscriber.ack(again.id)
            extra = subscriber.next(3 * VISIBILITY_MS / 1000)
            expect(extra is None, f"delivered a third time: {extra}")
        finally:
            subscriber.close()
        expect(wait_until(lambda: not self.pending_ids("retry"), 3), "still pending")
        return f"same id {first.id} again after {waited:.2f} s; acked once, then quiet"

    def handback(self):
        self.publish(self.a, "handback", [f"h-{i}".encode() for i in range(5)])
        subscriber = Subscriber(self.a, PUBSUB, "handback")
        first = []
        for _ in range(5):
            message = subscriber.next(5)
            expect(message is not None, f"only {len(first)} of 5 before the stream ended")
            first.append(message)
        subscriber.close()  # none acknowledged
        # The ended stream hands its 5 back: pending, idle a visibility timeout.
        expect(wait_until(lambda: self.released("handback", 5), 5),
               "the ended stream did not hand its messages back")
        subscriber = Subscriber(self.a, PUBSUB, "handback")
        again = {}
        try:
            while len(again) < 5:
                message = subscriber.next(5)
                expect(message is not None, f"only {len(again)} of 5 after the stream ended")
                again[message.id] = message.data
                subscriber.ack(message.id)
            # (acks still queued when a stream is cancelled are lost, and
            # their messages delivered again: wait for them first)
            expect(wait_until(lambda: not self.pending_ids("handback"), 3), "still pending")
        finally:
            subscriber.close()
        expect(set(again) == {m.id for m in first}, "different ids the second time")
        return "5 unacked when the stream ended: the next stream got the same 5 ids"

    def crash(self):
        payloads = [f"c-{i}".encode() for i in range(50)]
        self.publish(self.a, "crash", payloads)
        subscriber = Subscriber(self.a, PUBSUB, "crash")
        by_payload, acked = {}, set()
        for _ in range(30):
            message = subscriber.next(5)
            expect(message is not None, f"only {len(by_payload)} before the crash")
            by_payload[message.data] = message.id
            if len(acked) < 20:
                subscriber.ack(message.id)
                acked.add(message.id)
        expect(wait_until(lambda: not (acked & self.pending_ids("crash")), 5),
               "acks not recorded")
        pending_before = len(self.pending_ids("crash"))
        self.a.kill()
        subscriber.close()
        self.a.start()
        self.init_pubsub(self.a)
        self.init_state(self.a)
        # Every message not acknowledged: the 10 delivered and unacked, the
        # rest never delivered (possibly read ahead into the dead consumer).
        wanted = set(payloads) - {data for data, mid in by_payload.items() if mid in acked}
        subscriber = Subscriber(self.a, PUBSUB, "crash")
        got, again = set(), []
        try:
            while got != wanted:
                message = subscriber.next(10)
                expect(message is not None,
                       f"after restart only {len(got)} of {len(wanted)} unacked messages")
                if message.id in acked:
                    again.append(message.data)
                got.add(message.data)
                subscriber.ack(message.id)
            extra = subscriber.next(3 * VISIBILITY_MS / 1000)
        finally:
            subscriber.close()
        expect(not again, f"acknowledged messages delivered again: {again}")
        expect(extra is None, f"extra delivery {extra}")
        expect(wait_until(lambda: not self.pending_ids("crash"), 3), "still pending")
        return (f"kill -9 with {pending_before} pending; after restart all {len(wanted)} "
                "unacked delivered, no acked one")

    def competing(self):
        self.b.start()
        self.init_pubsub(self.b)
        one = Subscriber(self.a, PUBSUB, "split")
        two = Subscriber(self.b, PUBSUB, "split")
        client = self.redis.client

        def readers():  # connections blocked in XREADGROUP (Redis makes a
            # consumer only when it first gets an entry)
            return sum(1 for c in client.client_list() if c.get("cmd") == "xreadgroup")

        expect(wait_until(lambda: readers() >= 2, 5), "both subscribers did not start reading")
        received = {"a": [], "b": []}

        def consume(name, subscriber):
            while True:
                message = subscriber.next(2)
                if message is None:
                    return
                received[name].append(message.data)
                subscriber.ack(message.id)

        threads = [threading.Thread(target=consume, args=("a", one)),
                   threading.Thread(target=consume, args=("b", two))]
        for thread in threads:
            thread.start()
        payloads = [f"s-{i}".encode() for i in range(100)]
        for i, payload in enumerate(payloads):
            self.publish(self.a if i % 2 else self.b, "split", [payload])
            time.sleep(0.002)
        for thread in threads:
            thread.join(30)
        one.close()
        two.close()
        both = set(received["a"]) & set(received["b"])
        everything = received["a"] + received["b"]
        expect(not both, f"{len(both)} messages reached both: {sorted(both)[:5]}")
        expect(sorted(everything) == sorted(payloads),
               f"{len(everything)} deliveries, {len(set(everything))} distinct")
        expect(received["a"] and received["b"],
               f"one consumer got everything: {len(received['a'])} / {len(received['b'])}")
        return f"split {len(received['a'])} / {len(received['b'])}, none to both"

    def sigterm(self):
        codes = []
        for component in (self.a, self.b):
            if component.process is None:
                continue
            codes.append(component.terminate())
            expect(not os.path.exists(component.socket), f"{component.socket} left behind")
        expect(all(code == 0 for code in codes), f"exit codes {codes}")
        return f"exit codes {codes}, sockets removed"


def main() -> int:
    parser = argparse.ArgumentParser(description="End-to-end checks of redis-store")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--verbose", action="store_true", help="tracebacks of failed checks")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="rs-test-")
    redis_server = RedisServer(folder)
    test = SelfTest(folder, redis_server)
    results = Checks(verbose=args.verbose)
    try:
        if results.run("component starts and serves its socket", test.start):
            checks = [
                ("reflection (v1alpha) lists the services", test.reflection),
                ("calls before Init: FAILED_PRECONDITION", test.uninitialised),
                ("Init without reachable Redis: UNAVAILABLE", test.init_unreachable),
                ("state Init (redisHost metadata), Features, Ping", test.init),
                ("Set/Get with etag", test.set_get_etag),
                ("etags are per key: 1 on the first write, +1 per write", test.per_key_etags),
                ("etag mismatch / malformed: BadRequest on etag", test.etag_mismatch),
                ("first-write concurrency conflict", test.first_write),
                ("Transact is all-or-nothing", test.transact),
                ("TTL (ttlInSeconds=1) expires", test.ttl),
                ("BulkSet / BulkGet / BulkDelete", test.bulk),
                ("instances are namespaced", test.namespaces),
                ("ComponentLogs/Tail honours min_level", test.logs),
                ("pub/sub Init, Features, Ping", test.pubsub_init),
                ("100 messages delivered and acked exactly once", test.exactly_once),
                ("ack with error: redelivered after the visibility timeout", test.redelivery),
                ("stream ends unacked: the next subscriber gets them", test.handback),
                ("kill -9 and restart: every unacked message delivered", test.crash),
                ("two processes, one consumer group: messages split", test.competing),
            ]
            for name, check in checks:
                results.run(name, check)
        results.run("SIGTERM: exit 0, socket removed", test.sigterm)
    finally:
        for component in (test.a, test.b):
            if component.process is not None and component.process.poll() is None:
                component.process.kill()
        redis_server.stop()
        if results.failed or args.keep:
            print(f"kept {folder} (component and redis logs)")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
