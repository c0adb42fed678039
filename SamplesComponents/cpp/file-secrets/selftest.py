#!/usr/bin/env python3
"""End-to-end self-test of the file-secrets component.

    python3 selftest.py PATH/TO/file-secrets [-v]

Builds nothing: it takes the built binary, starts it on a socket in a temporary
folder (where a stale socket file is waiting to be replaced) and talks to it
over gRPC the way the Apiary sidecar does (x-component-instance header, Init
with metadata properties, then calls). Prints one line per check and
"N passed, M failed"; exits 1 when a check failed.

Needs Python 3.9+ with grpcio, grpcio-tools and grpcio-reflection
(Tests/Fixtures/python/requirements.txt has them). Python stubs for the four
contracts used are generated with grpcio-tools into a temporary folder from
the repository's Proto/ folder (../../../Proto from this file).
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
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", "Proto"))
CONTRACTS = [
    "dapr/proto/components/v1/common.proto",
    "dapr/proto/components/v1/secretstore.proto",
    "dapr/proto/components/v1/bindings.proto",
    "apiary/proto/components/v1/logs.proto",
]
HEADER = "x-component-instance"
TIMEOUT = 5.0


def generate_stubs(out_dir: str) -> None:
    """grpc_tools.protoc over CONTRACTS into out_dir, which becomes importable."""
    from importlib import resources

    from grpc_tools import protoc

    os.makedirs(out_dir, exist_ok=True)
    well_known = str(resources.files("grpc_tools") / "_proto")
    args = ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}",
            f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *CONTRACTS]
    if protoc.main(args) != 0:
        raise SystemExit(f"grpc_tools.protoc failed: {' '.join(args)}")
    # Regular packages, so that gen/dapr wins over an installed Dapr SDK's `dapr`.
    for dirpath, _dirs, _files in os.walk(out_dir):
        if dirpath != out_dir:
            open(os.path.join(dirpath, "__init__.py"), "a").close()
    sys.path.insert(0, out_dir)


class Checks:
    def __init__(self, verbose: bool):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def run(self, name: str, body) -> None:
        try:
            body()
        except Exception as error:  # noqa: BLE001 - every failure is reported
            self.failed += 1
            print(f"FAIL  {name}: {type(error).__name__}: {error}", flush=True)
            if self.verbose:
                traceback.print_exc()
        else:
            self.passed += 1
            print(f"ok    {name}", flush=True)


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
    try:
        return run(binary, work, verbose)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(binary: str, work: str, verbose: bool) -> int:
    generate_stubs(os.path.join(work, "gen"))
    import grpc
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )
    from google.protobuf import descriptor_pool

    from apiary.proto.components.v1 import logs_pb2, logs_pb2_grpc
    from dapr.proto.components.v1 import bindings_pb2, bindings_pb2_grpc
    from dapr.proto.components.v1 import common_pb2
    from dapr.proto.components.v1 import secretstore_pb2, secretstore_pb2_grpc

    Code = grpc.StatusCode
    checks = Checks(verbose)
    sockets = os.path.join(work, "sockets")
    os.makedirs(sockets)
    sock = os.path.join(sockets, "file-secrets.sock")
    make_stale_socket(sock)

    secrets_path = os.path.join(work, "secrets.json")
    secrets_doc = {
        "api-key": "k-123",
        "db": {"user": "admin", "password": "s3cret-value", "replicas": ["r1", "r2"]},
        "port": 5432,
        "debug": True,
        "nothing": None,
    }
    with open(secrets_path, "w", encoding="utf-8") as handle:
        json.dump(secrets_doc, handle)
    flat = {
        "api-key": "k-123", "db:user": "admin", "db:password": "s3cret-value",
        "db:replicas:0": "r1", "db:replicas:1": "r2", "port": "5432", "debug": "true",
        "nothing": "",
    }
    root = os.path.join(work, "files", "not", "yet")

    stderr_path = os.path.join(work, "component.stderr")
    stderr = open(stderr_path, "wb")
    process = subprocess.Popen([binary, "--socket", sock, "--log-level", "debug"],
                               stdout=subprocess.DEVNULL, stderr=stderr)
    channel = None
    try:
        def started():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                expect(process.poll() is None, f"exited early with {process.returncode}")
                try:
                    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    probe.connect(sock)
                    probe.close()
                    return
                except OSError:
                    time.sleep(0.05)
            raise AssertionError("the socket did not accept connections within 10 s")

        checks.run("starts and replaces a stale socket file", started)
        if process.poll() is not None:
            raise RuntimeError("the component is not running")

        channel = grpc.insecure_channel("unix:" + sock)
        secrets = secretstore_pb2_grpc.SecretStoreStub(channel)
        binding = bindings_pb2_grpc.OutputBindingStub(channel)
        logs = logs_pb2_grpc.ComponentLogsStub(channel)

        def on(instance):
            return ((HEADER, instance),)

        # Opened first: it receives the backlog (the start-up record) and everything after.
        tail = TailReader(logs, logs_pb2, logs_pb2.LOG_LEVEL_DEBUG)

        def reflection():
            database = ProtoReflectionDescriptorDatabase(channel)
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

        checks.run("reflection (v1alpha) lists SecretStore, OutputBinding, ComponentLogs "
                   "and resolves their messages", reflection)

        def before_init():
            calls = {
                "SecretStore.Get": lambda: secrets.Get(secretstore_pb2.GetSecretRequest(key="api-key"),
                                                       metadata=on("never"), timeout=TIMEOUT),
                "SecretStore.BulkGet": lambda: secrets.BulkGet(secretstore_pb2.BulkGetSecretRequest(),
                                                               metadata=on("never"), timeout=TIMEOUT),
                "SecretStore.Features": lambda: secrets.Features(common_pb2.FeaturesRequest(),
                                                                 metadata=on("never"), timeout=TIMEOUT),
                "SecretStore.Ping": lambda: secrets.Ping(common_pb2.PingRequest(),
                                                         metadata=on("never"), timeout=TIMEOUT),
                "OutputBinding.Invoke": lambda: binding.Invoke(
                    bindings_pb2.InvokeRequest(operation="list"), metadata=on("never"), timeout=TIMEOUT),
                "OutputBinding.ListOperations": lambda: binding.ListOperations(
                    bindings_pb2.ListOperationsRequest(), metadata=on("never"), timeout=TIMEOUT),
                "OutputBinding.Ping": lambda: binding.Ping(common_pb2.PingRequest(),
                                                           metadata=on("never"), timeout=TIMEOUT),
            }
            for name, call in calls.items():
                try:
                    expect_code(call, Code.FAILED_PRECONDITION, "instance never is not initialised")
                except AssertionError as error:
                    raise AssertionError(f"{name}: {error}") from None
            expect_code(lambda: secrets.Get(secretstore_pb2.GetSecretRequest(key="x"), timeout=TIMEOUT),
                        Code.FAILED_PRECONDITION, f"no {HEADER} header")

        checks.run("every call before Init fails FAILED_PRECONDITION "
                   "\"instance never is not initialised\"", before_init)

        def init_secrets(instance, **properties):
            request = secretstore_pb2.SecretStoreInitRequest()
            request.metadata.properties.update(properties)
            secrets.Init(request, metadata=on(instance), timeout=TIMEOUT)

        def get(instance, key):
            answer = secrets.Get(secretstore_pb2.GetSecretRequest(key=key), metadata=on(instance),
                                 timeout=TIMEOUT)
            return dict(answer.data)

        def secret_init_get():
            init_secrets("vault", secretsFile=secrets_path)
            features = secrets.Features(common_pb2.FeaturesRequest(), metadata=on("vault"),
                                        timeout=TIMEOUT)
            expect(list(features.features) == [], f"features {list(features.features)}")
            secrets.Ping(common_pb2.PingRequest(), metadata=on("vault"), timeout=TIMEOUT)
            expect(get("vault", "api-key") == {"api-key": "k-123"}, f"got {get('vault', 'api-key')}")

        checks.run("SecretStore Init (secretsFile) + Features [] + Ping + Get", secret_init_get)

        def nested():
            for key in ("db:user", "db:password", "db:replicas:0", "db:replicas:1", "port",
                        "debug", "nothing"):
                expect(get("vault", key) == {key: flat[key]}, f"{key}: got {get('vault', key)}")

        checks.run("nested objects and arrays flattened with ':' (numbers, booleans, null as text)",
                   nested)

        def not_found():
            details = expect_code(lambda: get("vault", "no-such-secret"), Code.NOT_FOUND,
                                  "no-such-secret")
            expect("not found" in details, f"message {details!r}")
            expect_code(lambda: get("vault", "db"), Code.NOT_FOUND)  # only leaves are secrets
            # A 1 MB key: the message quotes it cut to 1024 bytes or so, so the status
            # still fits in the trailers (else the client sees another status).
            huge = "k" * (1 << 20)
            details = expect_code(lambda: get("vault", huge), Code.NOT_FOUND, "bytes left out")
            expect(len(details) < 1100 and details.startswith("secret kkk"), f"message of {len(details)} bytes")

        checks.run("Get of a missing secret is NOT_FOUND naming it (a huge key cut in the message)", not_found)

        def bulk_get():
            answer = secrets.BulkGet(secretstore_pb2.BulkGetSecretRequest(), metadata=on("vault"),
                                     timeout=TIMEOUT)
            got = {name: dict(value.secrets) for name, value in answer.data.items()}
            expect(got == {key: {key: value} for key, value in flat.items()}, f"got {got}")

        checks.run("BulkGet returns every secret", bulk_get)

        def separator_and_instances():
            init_secrets("dotted", secretsFile=secrets_path, nestedSeparator=".")
            expect(get("dotted", "db.password") == {"db.password": "s3cret-value"},
                   "db.password missing")
            expect_code(lambda: get("dotted", "db:password"), Code.NOT_FOUND)
            expect(get("vault", "db:password") == {"db:password": "s3cret-value"},
                   "instance vault changed by instance dotted's Init")

        checks.run("nestedSeparator '.' on a second instance; instances independent",
                   separator_and_instances)

        def multi_valued():
            init_secrets("multi", secretsFile=secrets_path, multiValued="true")
            features = secrets.Features(common_pb2.FeaturesRequest(), metadata=on("multi"),
                                        timeout=TIMEOUT)
            expect(list(features.features) == ["MULTIPLE_KEY_VALUES_PER_SECRET"],
                   f"features {list(features.features)}")
            expect(get("multi", "db") == {"user": "admin", "password": "s3cret-value",
                                          "replicas:0": "r1", "replicas:1": "r2"},
                   f"db: {get('multi', 'db')}")
            expect(get("multi", "api-key") == {"api-key": "k-123"}, "api-key")

        checks.run("multiValued: top-level objects are one secret, feature "
                   "MULTIPLE_KEY_VALUES_PER_SECRET", multi_valued)

        def reread_and_errors():
            with open(secrets_path, "w", encoding="utf-8") as handle:
                json.dump({**secrets_doc, "api-key": "k-456"}, handle)
            expect(get("vault", "api-key") == {"api-key": "k-123"}, "changed before Init")
            init_secrets("vault", secretsFile=secrets_path)
            expect(get("vault", "api-key") == {"api-key": "k-456"}, "not re-read on Init")
            expect_code(lambda: init_secrets("vault"), Code.INVALID_ARGUMENT, "secretsFile")
            missing = os.path.join(work, "missing.json")
            expect_code(lambda: init_secrets("vault", secretsFile=missing), Code.INVALID_ARGUMENT,
                        missing)
            broken = os.path.join(work, "broken.json")
            with open(broken, "w", encoding="utf-8") as handle:
                handle.write('{"a": ')
            expect_code(lambda: init_secrets("vault", secretsFile=broken), Code.INVALID_ARGUMENT,
                        "not valid JSON")
            expect_code(lambda: init_secrets("vault", secretsFile=secrets_path, multiValued="maybe"),
                        Code.INVALID_ARGUMENT, "multiValued")
            expect(get("vault", "api-key") == {"api-key": "k-456"},
                   "a refused Init replaced the working instance")

        checks.run("Init re-reads the file; bad metadata/file is INVALID_ARGUMENT and keeps "
                   "the instance", reread_and_errors)

        # ---- output binding

        def init_binding(instance, **properties):
            request = bindings_pb2.OutputBindingInitRequest()
            request.metadata.properties.update(properties)
            binding.Init(request, metadata=on(instance), timeout=TIMEOUT)

        def invoke(operation, data=b"", instance="files", **metadata):
            return binding.Invoke(bindings_pb2.InvokeRequest(operation=operation, data=data,
                                                             metadata=metadata),
                                  metadata=on(instance), timeout=TIMEOUT)

        def binding_init():
            expect_code(lambda: init_binding("files"), Code.INVALID_ARGUMENT, "rootPath")
            init_binding("files", rootPath=root)
            expect(os.path.isdir(root), "rootPath not created")
            operations = binding.ListOperations(bindings_pb2.ListOperationsRequest(),
                                                metadata=on("files"), timeout=TIMEOUT)
            expect(list(operations.operations) == ["create", "get", "delete", "list"],
                   f"operations {list(operations.operations)}")
            binding.Ping(common_pb2.PingRequest(), metadata=on("files"), timeout=TIMEOUT)

        checks.run("OutputBinding Init creates rootPath; ListOperations; Ping", binding_init)

        generated = {}

        def create_get_list_delete():
            answer = invoke("create", b"hello\x00world", fileName="hello.txt")
            expect(dict(answer.metadata).get("fileName") == "hello.txt", f"metadata {answer.metadata}")
            with open(os.path.join(root, "hello.txt"), "rb") as handle:
                expect(handle.read() == b"hello\x00world", "content on disk")
            answer = invoke("create", b"second")
            name = dict(answer.metadata).get("fileName", "")
            expect(len(name) == 36 and os.path.isfile(os.path.join(root, name)),
                   f"generated name {name!r}")
            generated["name"] = name
            answer = invoke("get", fileName="hello.txt")
            expect(answer.data == b"hello\x00world", f"get returned {answer.data!r}")
            invoke("create", b"replaced", fileName="hello.txt")
            expect(invoke("get", fileName="hello.txt").data == b"replaced", "overwrite")
            listed = json.loads(invoke("list").data)
            expect(listed == sorted(["hello.txt", name]), f"list {listed}")
            invoke("delete", fileName="hello.txt")
            expect(not os.path.exists(os.path.join(root, "hello.txt")), "not deleted")
            expect_code(lambda: invoke("delete", fileName="hello.txt"), Code.NOT_FOUND, "hello.txt")
            expect_code(lambda: invoke("get", fileName="hello.txt"), Code.NOT_FOUND, "hello.txt")
            expect(json.loads(invoke("list").data) == [name], "list after delete")

        checks.run("binding create (named and generated) / get / list / delete; NOT_FOUND after",
                   create_get_list_delete)

        def traversal():
            outside = os.path.join(os.path.dirname(root), "escape.txt")
            for bad in ("../escape.txt", "sub/file", "..", "a..b", "/etc/passwd"):
                for operation in ("create", "get", "delete"):
                    expect_code(lambda: invoke(operation, b"x", fileName=bad), Code.INVALID_ARGUMENT,
                                "refused")
            expect(not os.path.exists(outside), "a file was written outside rootPath")
            expect_code(lambda: invoke("rename", fileName="x"), Code.INVALID_ARGUMENT,
                        "unsupported operation")
            expect_code(lambda: invoke("get"), Code.INVALID_ARGUMENT, "fileName")

        checks.run("path traversal ('/', '..') refused INVALID_ARGUMENT; unknown operation "
                   "INVALID_ARGUMENT", traversal)

        def logs_received():
            def has(level, text, **fields):
                return tail.wait_for(lambda r: r.level == level and text in r.message
                                     and all(r.fields.get(k) == v for k, v in fields.items()))

            expect(has(logs_pb2.LOG_LEVEL_NOTICE, "serving") is not None,
                   "no start-up record (backlog)")
            expect(has(logs_pb2.LOG_LEVEL_INFO, "initialised SecretStore instance vault",
                       instance="vault") is not None, "no Init record")
            expect(has(logs_pb2.LOG_LEVEL_DEBUG, "invoke create hello.txt", instance="files",
                       operation="create") is not None, "no debug Invoke record")
            expect(has(logs_pb2.LOG_LEVEL_WARNING, "not initialised", instance="never") is not None,
                   "no warning for a refused call")
            record = tail.records[0]
            expect(record.time.seconds > 0 and record.logger.startswith("file-secrets"),
                   f"record {record}")
            leaked = [r.message for r in tail.records
                      if "s3cret-value" in r.message or "s3cret-value" in r.fields.values()]
            expect(not leaked, f"secret values in log records: {leaked}")

        checks.run("Tail streams the log records (start-up, Init, debug Invoke, warnings; "
                   "no secret values)", logs_received)

        def min_level():
            warnings = TailReader(logs, logs_pb2, logs_pb2.LOG_LEVEL_WARNING)
            # The stream opens asynchronously: repeat until it sees a warning, with
            # debug and info records produced in between.
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                get("vault", "api-key")                     # debug
                init_binding("files", rootPath=root)        # info
                expect_code(lambda: get("vault", "nope"), Code.NOT_FOUND)  # warning
                if warnings.wait_for(lambda r: "nope" in r.message, timeout=0.3):
                    break
            expect(warnings.wait_for(lambda r: "nope" in r.message, timeout=0.1) is not None,
                   "the warning never arrived")
            low = [r for r in warnings.records if r.level < logs_pb2.LOG_LEVEL_WARNING]
            expect(not low, f"records below min_level: {[r.message for r in low]}")
            expect(tail.wait_for(lambda r: r.level == logs_pb2.LOG_LEVEL_DEBUG
                                 and "get secret api-key" in r.message) is not None,
                   "the debug stream missed the debug records")
            warnings.call.cancel()
            warnings.thread.join(TIMEOUT)

        checks.run("Tail honours min_level (a WARNING stream gets no debug/info records)",
                   min_level)

        def sigterm():
            process.send_signal(signal.SIGTERM)
            try:
                status = process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise AssertionError("still running 10 s after SIGTERM") from None
            expect(status == 0, f"exit status {status}")
            expect(not os.path.exists(sock), "socket file left behind")
            tail.thread.join(TIMEOUT)
            expect(tail.ended_ok is True, f"Tail did not end with OK: {tail.ended_ok}")
            expect(any("stopping on SIGTERM" in r.message for r in tail.records),
                   "Tail did not get the 'stopping on SIGTERM' record")

        checks.run("SIGTERM: exit 0, socket removed, Tail ends OK after 'stopping on SIGTERM'",
                   sigterm)
    except Exception as error:  # noqa: BLE001
        checks.failed += 1
        print(f"FAIL  (aborted) {type(error).__name__}: {error}", flush=True)
    finally:
        if channel is not None:
            channel.close()
        if process.poll() is None:
            process.kill()
            process.wait()
        stderr.close()

    print(f"{checks.passed} passed, {checks.failed} failed")
    if checks.failed or verbose:
        with open(stderr_path, "r", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        print("---- component stderr ----\n" + text.rstrip())
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
