"""A pluggable state store that writes down the trace context of every call.

    python3 traced_store.py --socket PATH --calls FILE

Serves dapr.proto.components.v1.StateStore on unix:PATH (with grpcio-reflection's
v1alpha reflection) keeping items in memory, and appends one JSON line per call to
FILE: the method, the `x-component-instance`, and the `traceparent` / `tracestate`
metadata the sidecar sent.  The observability tests read it to see that the trace
reaches the component with the sidecar's component-call span as the parent.
"""

from __future__ import annotations

import json
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Fixtures", "python"))
import fixturelib  # noqa: E402

fixturelib.ensure_stubs()

from dapr.proto.components.v1 import common_pb2, state_pb2, state_pb2_grpc  # noqa: E402


class Calls:
    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()

    def record(self, method: str, context) -> None:
        metadata = dict(context.invocation_metadata())
        entry = {"method": method, "instance": metadata.get("x-component-instance", ""),
                 "traceparent": metadata.get("traceparent"), "tracestate": metadata.get("tracestate")}
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


class Store(state_pb2_grpc.StateStoreServicer):
    def __init__(self, calls: Calls):
        self.calls = calls
        self.items: dict = {}
        self.lock = threading.Lock()

    def Init(self, request, context):  # noqa: N802 (gRPC's names)
        self.calls.record("Init", context)
        return state_pb2.InitResponse()

    def Features(self, request, context):  # noqa: N802
        return common_pb2.FeaturesResponse(features=[])

    def Ping(self, request, context):  # noqa: N802
        return common_pb2.PingResponse()

    def Get(self, request, context):  # noqa: N802
        self.calls.record("Get", context)
        with self.lock:
            value = self.items.get(request.key)
        return state_pb2.GetResponse(data=value or b"")

    def Set(self, request, context):  # noqa: N802
        self.calls.record("Set", context)
        with self.lock:
            self.items[request.key] = request.value
        return state_pb2.SetResponse()

    def Delete(self, request, context):  # noqa: N802
        self.calls.record("Delete", context)
        with self.lock:
            self.items.pop(request.key, None)
        return state_pb2.DeleteResponse()

    def BulkGet(self, request, context):  # noqa: N802
        self.calls.record("BulkGet", context)
        with self.lock:
            items = [state_pb2.BulkStateItem(key=i.key, data=self.items.get(i.key, b"")) for i in request.items]
        return state_pb2.BulkGetResponse(items=items)

    def BulkSet(self, request, context):  # noqa: N802
        self.calls.record("BulkSet", context)
        with self.lock:
            for item in request.items:
                self.items[item.key] = item.value
        return state_pb2.BulkSetResponse()

    def BulkDelete(self, request, context):  # noqa: N802
        self.calls.record("BulkDelete", context)
        with self.lock:
            for item in request.items:
                self.items.pop(item.key, None)
        return state_pb2.BulkDeleteResponse()


def main() -> int:
    return fixturelib.serve_state_store("A state store that records the trace context of each call",
                                        lambda calls: Store(Calls(calls)), workers=16, say_serving=True)


if __name__ == "__main__":
    sys.exit(main())
