#!/usr/bin/env python3
"""A Dapr pluggable state store (StateStore only: no transactions) that fails on demand.

    python3 flaky_component.py --socket PATH --calls FILE

Serves dapr.proto.components.v1.StateStore on unix:PATH with grpcio-reflection.
Features: ETAG (no TRANSACTIONAL, and the TransactionalStateStore service is not
served).  One in-memory dict per component instance (header x-component-instance).

Keys (the part after the sidecar's "<app-id>||" prefix) choose the behaviour of
Get, Set and Delete:
  failN-...   the first N calls for this key fail with INTERNAL "flaky: failure i of N",
              later calls behave normally (fail99-... practically always fails)
  slowMS-...  the call sleeps MS milliseconds first, then behaves normally
  anything    normal
Etags are per-key versions "1", "2", ...; a non-numeric etag fails with
INVALID_ARGUMENT, a wrong one (or one for a missing key) with FAILED_PRECONDITION,
each with exactly one google.rpc.BadRequest violation on field "etag" (the
contract's etag errors).  Every call is appended to FILE as a JSON line
{"method", "instance", "key", "t"}.  Exits on SIGTERM/SIGINT, removing its socket.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Fixtures", "python")
sys.path.insert(0, os.path.normpath(FIXTURES))
import fixturelib  # noqa: E402

fixturelib.ensure_stubs()

import grpc  # noqa: E402
from google.protobuf import any_pb2  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

from dapr.proto.components.v1 import common_pb2, state_pb2, state_pb2_grpc  # noqa: E402

INSTANCE_HEADER = "x-component-instance"


class Calls:
    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")

    def record(self, **fields) -> None:
        with self._lock:
            self._file.write(json.dumps(dict(fields, t=time.time()), sort_keys=True) + "\n")
            self._file.flush()


def instance_of(context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == INSTANCE_HEADER:
            return value
    return ""


def etag_abort(context, code: grpc.StatusCode, message: str) -> None:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="etag", description=message)]))
    context.abort_with_status(rpc_status.to_status(status_pb2.Status(
        code=code.value[0], message=message, details=[detail])))


class Store(state_pb2_grpc.StateStoreServicer):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.lock = threading.Lock()
        self.items: dict = {}  # (instance, key) -> (value bytes, version, content type)
        self.seen: dict = {}  # (instance, key, method) -> calls so far

    def _behave(self, method: str, key: str, context) -> None:
        instance = instance_of(context)
        self.calls.record(method=method, instance=instance, key=key)
        user_key = key.split("||", 1)[-1]
        with self.lock:
            count = self.seen.get((instance, key), 0) + 1
            self.seen[(instance, key)] = count
        match = re.match(r"fail(\d+)-", user_key)
        if match and count <= int(match.group(1)):
            context.abort(grpc.StatusCode.INTERNAL, f"flaky: failure {count} of {match.group(1)}")
        match = re.match(r"slow(\d+)-", user_key)
        if match:
            time.sleep(int(match.group(1)) / 1000.0)

    def _check_etag(self, context, key: str, etag: str) -> None:
        if not etag:
            return
        if not etag.isdigit():
            etag_abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"etag {etag!r} is not a number")
        current = self.items.get((instance_of(context), key))
        if current is None or str(current[1]) != etag:
            etag_abort(context, grpc.StatusCode.FAILED_PRECONDITION,
                       f"etag {etag} does not match the current version "
                       f"{current[1] if current else 'none'}")

    def Init(self, request, context):  # noqa: N802
        self.calls.record(method="Init", instance=instance_of(context), key="")
        return state_pb2.InitResponse()

    def Features(self, request, context):  # noqa: N802
        return common_pb2.FeaturesResponse(features=["ETAG"])

    def Ping(self, request, context):  # noqa: N802
        return common_pb2.PingResponse()

    def Get(self, request, context):  # noqa: N802
        self._behave("Get", request.key, context)
        with self.lock:
            item = self.items.get((instance_of(context), request.key))
        if item is None:
            return state_pb2.GetResponse()
        return state_pb2.GetResponse(data=item[0], etag=state_pb2.Etag(value=str(item[1])), content_type=item[2])

    def Set(self, request, context):  # noqa: N802
        self._behave("Set", request.key, context)
        with self.lock:
            self._check_etag(context, request.key, request.etag.value if request.HasField("etag") else "")
            old = self.items.get((instance_of(context), request.key))
            version = old[1] + 1 if old else 1
            self.items[(instance_of(context), request.key)] = (request.value, version, request.content_type)
        return state_pb2.SetResponse()

    def Delete(self, request, context):  # noqa: N802
        self._behave("Delete", request.key, context)
        with self.lock:
            self._check_etag(context, request.key, request.etag.value if request.HasField("etag") else "")
            self.items.pop((instance_of(context), request.key), None)
        return state_pb2.DeleteResponse()

    def BulkGet(self, request, context):  # noqa: N802
        items = []
        for get in request.items:
            with self.lock:
                item = self.items.get((instance_of(context), get.key))
            if item is None:
                items.append(state_pb2.BulkStateItem(key=get.key))
            else:
                items.append(state_pb2.BulkStateItem(key=get.key, data=item[0],
                                                     etag=state_pb2.Etag(value=str(item[1]))))
        return state_pb2.BulkGetResponse(items=items)

    def BulkSet(self, request, context):  # noqa: N802
        for item in request.items:
            self.Set(item, context)
        return state_pb2.BulkSetResponse()

    def BulkDelete(self, request, context):  # noqa: N802
        for item in request.items:
            self.Delete(item, context)
        return state_pb2.BulkDeleteResponse()


def main() -> int:
    return fixturelib.serve_state_store(__doc__, lambda calls: Store(Calls(calls)), workers=32)


if __name__ == "__main__":
    sys.exit(main())
