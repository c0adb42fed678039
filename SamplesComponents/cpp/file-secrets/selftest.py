#!/usr/bin/env python3
"""End-to-end self-test of the file-secrets component.

    python3 selftest.py PATH/TO/file-secrets [-v]

Builds nothing: it takes the built binary, starts it on a socket in a temporary
folder (where a stale socket file is waiting to be replaced) and talks to it
over gRPC the way the Apiary sidecar does (x-component-instance header, Init
with metadata properties, then calls). Prints one line per check and
"N passed, M failed"; exits 1 when a check failed.

Needs Python 3.9+ with grpcio, grpcio-tools and grpcio-reflection
(Tests/Fixtures/python/requirements.txt has them). The Python stubs are the test
fixtures' (Tests/Fixtures/python/gen, made from the repository's Proto/ folder by
Scripts/python_stubs.py when missing or stale); the check runner is apiarytest's
(Tests/Support/python).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "Tests", "Support", "python"))
sys.path.insert(0, os.path.join(REPO, "Tests", "Fixtures", "python"))
import fixturelib  # noqa: E402
from apiarytest.checks import Checks  # noqa: E402

fixturelib.ensure_stubs()
import grpc  # noqa: E402
from google.protobuf import descriptor_pool  # noqa: E402
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (  # noqa: E402
    ProtoReflectionDescriptorDatabase,
)

from apiary.proto.components.v1 import logs_pb2, logs_pb2_grpc  # noqa: E402
from dapr.proto.components.v1 import bindings_pb2, bindings_pb2_grpc  # noqa: E402
from dapr.proto.components.v1 import common_pb2  # noqa: E402
from dapr.proto.components.v1 import secretstore_pb2, secretstore_pb2_grpc  # noqa: E402

Code = grpc.StatusCode
HEADER = "x-component-instance"
TIMEOUT = 5.0


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def expect_code(call, code, contains: str | None = None):
    """Runs call(); it must fail with `code` (and a message containing `contains`)."""
    import grpc

    try:
        call()
    except grpc.RpcError as error:
        expect(error.code() == code, f"expected {code.name}, got {error.code().name}: "
                                     f"{error.details()}")
        if contains is not None:
            expect(contains in (error.details() or ""),
                   f"message {error.details()!r} lacks {contains!r}")
        return error.details()
    raise AssertionError(f"expected {code.name}, the call succeeded")


class TailReader:
    """Reads one ComponentLogs/Tail stream in a thread."""

    def __init__(self, stub, logs_pb2, min_level: int):
        self.records = []
        self.arrived = queue.Queue()
        self.ended_ok = None  # True: ended with OK; an exception otherwise
        self.call = stub.Tail(logs_pb2.TailLogsRequest(min_level=min_level))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for record in self.call:
                self.records.append(record)
                self.arrived.put(record)
            self.ended_ok = True
        except Exception as error:  # noqa: BLE001
            self.ended_ok = error

    def wait_for(self, predicate, timeout: float = TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            for record in list(self.records):
                if predicate(record):
                    return record
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                self.arrived.get(timeout=min(left, 0.2))
            except queue.Empty:
                pass


def make_stale_socket(path: str) -> None:
    """A socket file nobody listens on, as a crashed component leaves behind."""
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()


class SelfTest:
    """The component process and what the checks share; each check is a method,
    run in the order of CHECKS."""

    CHECKS = [
        ("reflection (v1alpha) lists SecretStore, OutputBinding, ComponentLogs and resolves their messages",
         "reflection"),
        ("every call before Init fails FAILED_PRECONDITION \"instance never is not initialised\"", "before_init"),
        ("SecretStore Init (secretsFile) + Features [] + Ping + Get", "secret_init_get"),
        ("nested objects and arrays flattened with ':' (numbers, booleans, null as text)", "nested"),
        ("Get of a missing secret is NOT_FOUND naming it (a huge key cut in the message)", "not_found"),
        ("BulkGet returns every secret", "bulk_get"),
        ("nestedSeparator '.' on a second instance; instances independent", "separator_and_instances"),
        ("multiValued: top-level objects are one secret, feature MULTIPLE_KEY_VALUES_PER_SECRET", "multi_valued"),
        ("Init re-reads the file; bad metadata/file is INVALID_ARGUMENT and keeps the instance",
         "reread_and_errors"),
        ("OutputBinding Init creates rootPath; ListOperations; Ping", "binding_init"),
        ("binding create (named and generated) / get / list / delete; NOT_FOUND after", "create_get_list_delete"),
        ("path traversal ('/', '..') refused INVALID_ARGUMENT; unknown operation INVALID_ARGUMENT", "traversal"),
        ("Tail streams the log records (start-up, Init, debug Invoke, warnings; no secret values)",
         "logs_received"),
        ("Tail honours min_level (a WARNING stream gets no debug/info records)", "min_level"),
        ("SIGTERM: exit 0, socket removed, Tail ends OK after 'stopping on SIGTERM'", "sigterm"),
    ]

    def __init__(self, binary: str, work: str):
        self.binary = binary
        self.work = work
        sockets = os.path.join(work, "sockets")
        os.makedirs(sockets)
        self.sock = os.path.join(sockets, "file-secrets.sock")
        self.secrets_path = os.path.join(work, "secrets.json")
        self.secrets_doc = {
            "api-key": "k-123",
            "db": {"user": "admin", "password": "s3cret-value", "replicas": ["r1", "r2"]},
            "port": 5432,
            "debug": True,
            "nothing": None,
        }
        self.flat = {
            "api-key": "k-123", "db:user": "admin", "db:password": "s3cret-value",
            "db:replicas:0": "r1", "db:replicas:1": "r2", "port": "5432", "debug": "true",
            "nothing": "",
        }
        self.root = os.path.join(work, "files", "not", "yet")
        self.stderr_path = os.path.join(work, "component.stderr")
        self.generated = {}
        self.process = None
        self.channel = None

    def start(self) -> None:
        """A stale socket file where the component will listen, the secrets file, and
        the component (its stderr to a file)."""
        make_stale_socket(self.sock)
        with open(self.secrets_path, "w", encoding="utf-8") as handle:
            json.dump(self.secrets_doc, handle)
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen([self.binary, "--socket", self.sock, "--log-level", "debug"],
                                            stdout=subprocess.DEVNULL, stderr=stderr)

    def connect(self) -> None:
        """The channel and stubs, and the DEBUG Tail stream: opened first, it receives
        the backlog (the start-up record) and everything after."""
        self.channel = grpc.insecure_channel("unix:" + self.sock)
        self.secrets = secretstore_pb2_grpc.SecretStoreStub(self.channel)
        self.binding = bindings_pb2_grpc.OutputBindingStub(self.channel)
        self.logs = logs_pb2_grpc.ComponentLogsStub(self.channel)
        self.tail = TailReader(self.logs, logs_pb2, logs_pb2.LOG_LEVEL_DEBUG)

    def run(self, checks: Checks) -> None:
        checks.run("starts and replaces a stale socket file", self.started)
        if self.process.poll() is not None:
            raise RuntimeError("the component is not running")
        self.connect()
        for name, method in self.CHECKS:
            checks.run(name, getattr(self, method))

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    # ------------------------------------------------------------ the checks and their helpers

    def started(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            expect(self.process.poll() is None, f"exited early with {self.process.returncode}")
            try:
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                probe.connect(self.sock)
                probe.close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the socket did not accept connections within 10 s")

    def on(self, instance):
        return ((HEADER, instance),)

    def reflection(self):
        database = ProtoReflectionDescriptorDatabase(self.channel)
        services = set(database.get_services())
        wanted = {"dapr.proto.components.v1.SecretStore",
                  "dapr.proto.components.v1.OutputBinding",
                  "apiary.proto.components.v1.ComponentLogs",
                  "grpc.reflection.v1alpha.ServerReflection"}
        expect(wanted <= services, f"listed {sorted(services)}, missing {sorted(wanted - services)}")
        pool = descriptor_pool.DescriptorPool(database)
        get = pool.FindServiceByName("dapr.proto.components.v1.SecretStore").methods_by_name["Get"]
        expect(get.input_type.full_name == "dapr.proto.components.v1.GetSecretRequest",
               f"Get takes {get.input_type.full_name}")
        invoke = pool.FindServiceByName("dapr.proto.components.v1.OutputBinding") \
            .methods_by_name["Invoke"]
        expect(invoke.output_type.full_name == "dapr.proto.components.v1.InvokeResponse",
               f"Invoke answers {invoke.output_type.full_name}")

    def before_init(self):
        calls = {
            "SecretStore.Get": lambda: self.secrets.Get(secretstore_pb2.GetSecretRequest(key="api-key"),
                                                   metadata=self.on("never"), timeout=TIMEOUT),
            "SecretStore.BulkGet": lambda: self.secrets.BulkGet(secretstore_pb2.BulkGetSecretRequest(),
                                                           metadata=self.on("never"), timeout=TIMEOUT),
            "SecretStore.Features": lambda: self.secrets.Features(common_pb2.FeaturesRequest(),
                                                             metadata=self.on("never"), timeout=TIMEOUT),
            "SecretStore.Ping": lambda: self.secrets.Ping(common_pb2.PingRequest(),
                                                     metadata=self.on("never"), timeout=TIMEOUT),
            "OutputBinding.Invoke": lambda: self.binding.Invoke(
                bindings_pb2.InvokeRequest(operation="list"), metadata=self.on("never"), timeout=TIMEOUT),
            "OutputBinding.ListOperations": lambda: self.binding.ListOperations(
                bindings_pb2.ListOperationsRequest(), metadata=self.on("never"), timeout=TIMEOUT),
            "OutputBinding.Ping": lambda: self.binding.Ping(common_pb2.PingRequest(),
                                                       metadata=self.on("never"), timeout=TIMEOUT),
        }
        for name, call in calls.items():
            try:
                expect_code(call, Code.FAILED_PRECONDITION, "instance never is not initialised")
            except AssertionError as error:
                raise AssertionError(f"{name}: {error}") from None
        expect_code(lambda: self.secrets.Get(secretstore_pb2.GetSecretRequest(key="x"), timeout=TIMEOUT),
                    Code.FAILED_PRECONDITION, f"no {HEADER} header")

    def init_secrets(self, instance, **properties):
        request = secretstore_pb2.SecretStoreInitRequest()
        request.metadata.properties.update(properties)
        self.secrets.Init(request, metadata=self.on(instance), timeout=TIMEOUT)

    def get(self, instance, key):
        answer = self.secrets.Get(secretstore_pb2.GetSecretRequest(key=key), metadata=self.on(instance),
                             timeout=TIMEOUT)
        return dict(answer.data)

    def secret_init_get(self):
        self.init_secrets("vault", secretsFile=self.secrets_path)
        features = self.secrets.Features(common_pb2.FeaturesRequest(), metadata=self.on("vault"),
                                    timeout=TIMEOUT)
        expect(list(features.features) == [], f"features {list(features.features)}")
        self.secrets.Ping(common_pb2.PingRequest(), metadata=self.on("vault"), timeout=TIMEOUT)
        expect(self.get("vault", "api-key") == {"api-key": "k-123"}, f"got {self.get('vault', 'api-key')}")

    def nested(self):
        for key in ("db:user", "db:password", "db:replicas:0", "db:replicas:1", "port",
                    "debug", "nothing"):
            expect(self.get("vault", key) == {key: self.flat[key]}, f"{key}: got {self.get('vault', key)}")

    def not_found(self):
        details = expect_code(lambda: self.get("vault", "no-such-secret"), Code.NOT_FOUND,
                              "no-such-secret")
        expect("not found" in details, f"message {details!r}")
        expect_code(lambda: self.get("vault", "db"), Code.NOT_FOUND)  # only leaves are self.secrets
        # A 1 MB key: the message quotes it cut to 1024 bytes or so, so the status
        # still fits in the trailers (else the client sees another status).
        huge = "k" * (1 << 20)
        details = expect_code(lambda: self.get("vault", huge), Code.NOT_FOUND, "bytes left out")
        expect(len(details) < 1100 and details.startswith("secret kkk"), f"message of {len(details)} bytes")

    def bulk_get(self):
        answer = self.secrets.BulkGet(secretstore_pb2.BulkGetSecretRequest(), metadata=self.on("vault"),
                                 timeout=TIMEOUT)
        got = {name: dict(value.secrets) for name, value in answer.data.items()}
        expect(got == {key: {key: value} for key, value in self.flat.items()}, f"got {got}")

    def separator_and_instances(self):
        self.init_secrets("dotted", secretsFile=self.secrets_path, nestedSeparator=".")
        expect(self.get("dotted", "db.password") == {"db.password": "s3cret-value"},
               "db.password missing")
        expect_code(lambda: self.get("dotted", "db:password"), Code.NOT_FOUND)
        expect(self.get("vault", "db:password") == {"db:password": "s3cret-value"},
               "instance vault changed by instance dotted's Init")

    def multi_valued(self):
        self.init_secrets("multi", secretsFile=self.secrets_path, multiValued="true")
        features = self.secrets.Features(common_pb2.FeaturesRequest(), metadata=self.on("multi"),
                                    timeout=TIMEOUT)
        expect(list(features.features) == ["MULTIPLE_KEY_VALUES_PER_SECRET"],
               f"features {list(features.features)}")
        expect(self.get("multi", "db") == {"user": "admin", "password": "s3cret-value",
                                      "replicas:0": "r1", "replicas:1": "r2"},
               f"db: {self.get('multi', 'db')}")
        expect(self.get("multi", "api-key") == {"api-key": "k-123"}, "api-key")

    def reread_and_errors(self):
        with open(self.secrets_path, "w", encoding="utf-8") as handle:
            json.dump({**self.secrets_doc, "api-key": "k-456"}, handle)
        expect(self.get("vault", "api-key") == {"api-key": "k-123"}, "changed before Init")
        self.init_secrets("vault", secretsFile=self.secrets_path)
        expect(self.get("vault", "api-key") == {"api-key": "k-456"}, "not re-read on Init")
        expect_code(lambda: self.init_secrets("vault"), Code.INVALID_ARGUMENT, "secretsFile")
        missing = os.path.join(self.work, "missing.json")
        expect_code(lambda: self.init_secrets("vault", secretsFile=missing), Code.INVALID_ARGUMENT,
                    missing)
        broken = os.path.join(self.work, "broken.json")
        with open(broken, "w", encoding="utf-8") as handle:
            handle.write('{"a": ')
        expect_code(lambda: self.init_secrets("vault", secretsFile=broken), Code.INVALID_ARGUMENT,
                    "not valid JSON")
        expect_code(lambda: self.init_secrets("vault", secretsFile=self.secrets_path, multiValued="maybe"),
                    Code.INVALID_ARGUMENT, "multiValued")
        expect(self.get("vault", "api-key") == {"api-key": "k-456"},
               "a refused Init replaced the working instance")

    def init_binding(self, instance, **properties):
        request = bindings_pb2.OutputBindingInitRequest()
        request.metadata.properties.update(properties)
        self.binding.Init(request, metadata=self.on(instance), timeout=TIMEOUT)

    def invoke(self, operation, data=b"", instance="files", **metadata):
        return self.binding.Invoke(bindings_pb2.InvokeRequest(operation=operation, data=data,
                                                         metadata=metadata),
                              metadata=self.on(instance), timeout=TIMEOUT)

    def binding_init(self):
        expect_code(lambda: self.init_binding("files"), Code.INVALID_ARGUMENT, "rootPath")
        self.init_binding("files", rootPath=self.root)
        expect(os.path.isdir(self.root), "rootPath not created")
        operations = self.binding.ListOperations(bindings_pb2.ListOperationsRequest(),
                                            metadata=self.on("files"), timeout=TIMEOUT)
        expect(list(operations.operations) == ["create", "get", "delete", "list"],
               f"operations {list(operations.operations)}")
        self.binding.Ping(common_pb2.PingRequest(), metadata=self.on("files"), timeout=TIMEOUT)

    def create_get_list_delete(self):
        answer = self.invoke("create", b"hello\x00world", fileName="hello.txt")
        expect(dict(answer.metadata).get("fileName") == "hello.txt", f"metadata {answer.metadata}")
        with open(os.path.join(self.root, "hello.txt"), "rb") as handle:
            expect(handle.read() == b"hello\x00world", "content on disk")
        answer = self.invoke("create", b"second")
        name = dict(answer.metadata).get("fileName", "")
        expect(len(name) == 36 and os.path.isfile(os.path.join(self.root, name)),
               f"generated name {name!r}")
        self.generated["name"] = name
        answer = self.invoke("get", fileName="hello.txt")
        expect(answer.data == b"hello\x00world", f"get returned {answer.data!r}")
        self.invoke("create", b"replaced", fileName="hello.txt")
        expect(self.invoke("get", fileName="hello.txt").data == b"replaced", "overwrite")
        listed = json.loads(self.invoke("list").data)
        expect(listed == sorted(["hello.txt", name]), f"list {listed}")
        self.invoke("delete", fileName="hello.txt")
        expect(not os.path.exists(os.path.join(self.root, "hello.txt")), "not deleted")
        expect_code(lambda: self.invoke("delete", fileName="hello.txt"), Code.NOT_FOUND, "hello.txt")
        expect_code(lambda: self.invoke("get", fileName="hello.txt"), Code.NOT_FOUND, "hello.txt")
        expect(json.loads(self.invoke("list").data) == [name], "list after delete")

    def traversal(self):
        outside = os.path.join(os.path.dirname(self.root), "escape.txt")
        for bad in ("../escape.txt", "sub/file", "..", "a..b", "/etc/passwd"):
            for operation in ("create", "get", "delete"):
                expect_code(lambda: self.invoke(operation, b"x", fileName=bad), Code.INVALID_ARGUMENT,
                            "refused")
        expect(not os.path.exists(outside), "a file was written outside rootPath")
        expect_code(lambda: self.invoke("rename", fileName="x"), Code.INVALID_ARGUMENT,
                    "unsupported operation")
        expect_code(lambda: self.invoke("get"), Code.INVALID_ARGUMENT, "fileName")

    def logs_received(self):
        def has(level, text, **fields):
            return self.tail.wait_for(lambda r: r.level == level and text in r.message
                                 and all(r.fields.get(k) == v for k, v in fields.items()))

        expect(has(logs_pb2.LOG_LEVEL_NOTICE, "serving") is not None,
               "no start-up record (backlog)")
        expect(has(logs_pb2.LOG_LEVEL_INFO, "initialised SecretStore instance vault",
                   instance="vault") is not None, "no Init record")
        expect(has(logs_pb2.LOG_LEVEL_DEBUG, "invoke create hello.txt", instance="files",
                   operation="create") is not None, "no debug Invoke record")
        expect(has(logs_pb2.LOG_LEVEL_WARNING, "not initialised", instance="never") is not None,
               "no warning for a refused call")
        record = self.tail.records[0]
        expect(record.time.seconds > 0 and record.logger.startswith("file-secrets"),
               f"record {record}")
        leaked = [r.message for r in self.tail.records
                  if "s3cret-value" in r.message or "s3cret-value" in r.fields.values()]
        expect(not leaked, f"secret values in log records: {leaked}")

    def min_level(self):
        warnings = TailReader(self.logs, logs_pb2, logs_pb2.LOG_LEVEL_WARNING)
        # The stream opens asynchronously: repeat until it sees a warning, with
        # debug and info records produced in between.
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            self.get("vault", "api-key")                     # debug
            self.init_binding("files", rootPath=self.root)        # info
            expect_code(lambda: self.get("vault", "nope"), Code.NOT_FOUND)  # warning
            if warnings.wait_for(lambda r: "nope" in r.message, timeout=0.3):
                break
        expect(warnings.wait_for(lambda r: "nope" in r.message, timeout=0.1) is not None,
               "the warning never arrived")
        low = [r for r in warnings.records if r.level < logs_pb2.LOG_LEVEL_WARNING]
        expect(not low, f"records below min_level: {[r.message for r in low]}")
        expect(self.tail.wait_for(lambda r: r.level == logs_pb2.LOG_LEVEL_DEBUG
                             and "get secret api-key" in r.message) is not None,
               "the debug stream missed the debug records")
        warnings.call.cancel()
        warnings.thread.join(TIMEOUT)

    def sigterm(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("still running 10 s after SIGTERM") from None
        expect(status == 0, f"exit status {status}")
        expect(not os.path.exists(self.sock), "socket file left behind")
        self.tail.thread.join(TIMEOUT)
        expect(self.tail.ended_ok is True, f"Tail did not end with OK: {self.tail.ended_ok}")
        expect(any("stopping on SIGTERM" in r.message for r in self.tail.records),
               "Tail did not get the 'stopping on SIGTERM' record")


def main() -> int:
    args = [a for a in sys.argv[1:] if a not in ("-v", "--verbose")]
    verbose = len(args) != len(sys.argv) - 1
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    binary = os.path.abspath(args[0])
    if not os.access(binary, os.X_OK):
        print(f"selftest: {binary} is not an executable (build it first, see README.md)",
              file=sys.stderr)
        return 2

    work = tempfile.mkdtemp(prefix="file-secrets-selftest-")
    checks = Checks(verbose)
    test = SelfTest(binary, work)
    try:
        test.start()
        test.run(checks)
    except Exception as error:  # noqa: BLE001
        checks.failed += 1
        print(f"FAIL (aborted) {type(error).__name__}: {error}", flush=True)
    finally:
        test.stop()
    try:
        print(checks.summary())
        if checks.failed or verbose:
            with open(test.stderr_path, "r", encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            print("---- component stderr ----\n" + text.rstrip())
        return 1 if checks.failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
