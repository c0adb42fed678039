#!/usr/bin/env python3
"""A gRPC application (dapr.proto.runtime.v1.AppCallback) the sidecar delivers to.

Usage: python3 grpc_app.py --port P --events FILE

Serves on 127.0.0.1:P (P = 0 picks a free port) the AppCallback service from
the Dapr SDK's own generated code, plus AppCallbackHealthCheck, and prints
`listening on P` (the real port) on stdout once ready.

  ListTopicSubscriptions  one subscription: pubsub "pubsub", topic "grpc-topic",
                          routes.default "/grpc-topic"
  OnTopicEvent            records {"kind": "topic", "id", "topic", "pubsub_name",
                          "data" (UTF-8 text), "data_content_type", "path",
                          "type", "source", "spec_version", "extensions"} and
                          answers TopicEventResponse SUCCESS
  ListInputBindings       bindings ["events"]
  OnBindingEvent          records {"kind": "binding", "name", "data" (UTF-8 text),
                          "metadata"} and answers an empty BindingEventResponse
  HealthCheck             answers an empty HealthCheckResponse

Each record is one JSON line appended to FILE, flushed at once.  Other
methods (OnInvoke, OnBulkTopicEvent, ...) answer UNIMPLEMENTED.  Per-call
logging only with APIARY_FIXTURE_VERBOSE=1.  Exits 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from google.protobuf.json_format import MessageToDict

from dapr.proto.runtime.v1 import appcallback_pb2, appcallback_pb2_grpc

VERBOSE = os.environ.get("APIARY_FIXTURE_VERBOSE") == "1"


class EventLog:
    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8")

    def record(self, entry: dict) -> None:
        line = json.dumps(entry, sort_keys=True)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
        if VERBOSE:
            sys.stderr.write(f"grpc_app: {line}\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


def text(data: bytes) -> str:
    return bytes(data).decode("utf-8", errors="replace")


class AppCallback(appcallback_pb2_grpc.AppCallbackServicer):
    def __init__(self, events: EventLog) -> None:
        self.events = events

    def ListTopicSubscriptions(self, request, context):  # noqa: N802
        if VERBOSE:
            sys.stderr.write("grpc_app: ListTopicSubscriptions\n")
        return appcallback_pb2.ListTopicSubscriptionsResponse(
            subscriptions=[
                appcallback_pb2.TopicSubscription(
                    pubsub_name="pubsub",
                    topic="grpc-topic",
                    routes=appcallback_pb2.TopicRoutes(default="/grpc-topic"),
                )
            ]
        )

    def OnTopicEvent(self, request, context):  # noqa: N802
        try:
            extensions = MessageToDict(request.extensions)
        except Exception:  # pragma: no cover - defensive
            extensions = {}
        self.events.record(
            {
                "kind": "topic",
                "id": request.id,
                "topic": request.topic,
                "pubsub_name": request.pubsub_name,
                "data": text(request.data),
                "data_content_type": request.data_content_type,
                "path": request.path,
                "type": request.type,
                "source": request.source,
                "spec_version": request.spec_version,
                "extensions": extensions,
            }
        )
        return appcallback_pb2.TopicEventResponse(status=appcallback_pb2.TopicEventResponse.SUCCESS)

    def ListInputBindings(self, request, context):  # noqa: N802
        if VERBOSE:
            sys.stderr.write("grpc_app: ListInputBindings\n")
        return appcallback_pb2.ListInputBindingsResponse(bindings=["events"])

    def OnBindingEvent(self, request, context):  # noqa: N802
        self.events.record(
            {
                "kind": "binding",
                "name": request.name,
                "data": text(request.data),
                "metadata": dict(request.metadata),
            }
        )
        return appcallback_pb2.BindingEventResponse()


class HealthCheck(appcallback_pb2_grpc.AppCallbackHealthCheckServicer):
    def HealthCheck(self, request, context):  # noqa: N802
        return appcallback_pb2.HealthCheckResponse()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", required=True, help="JSON-lines file the deliveries are appended to")
    args = parser.parse_args()

    events = EventLog(args.events)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    appcallback_pb2_grpc.add_AppCallbackServicer_to_server(AppCallback(events), server)
    appcallback_pb2_grpc.add_AppCallbackHealthCheckServicer_to_server(HealthCheck(), server)
    try:
        port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    except RuntimeError as error:  # newer grpcio raises instead of returning 0
        sys.stderr.write(f"grpc_app: cannot listen on 127.0.0.1:{args.port}: {error}\n")
        return 1
    if port == 0:
        sys.stderr.write(f"grpc_app: cannot listen on 127.0.0.1:{args.port}\n")
        return 1

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server.start()
    print(f"listening on {port}", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop(grace=1).wait()
    events.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
