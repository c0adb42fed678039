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

import os
import sys
from concurrent import futures

import grpc
from google.protobuf.json_format import MessageToDict

from dapr.proto.runtime.v1 import appcallback_pb2, appcallback_pb2_grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Support", "python"))
from apiarytest import apps  # noqa: E402
from apiarytest.apps import EventLog  # noqa: E402

VERBOSE = os.environ.get("APIARY_FIXTURE_VERBOSE") == "1"


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
    args = apps.arguments(__doc__)
    events = EventLog(args.events, echo="grpc_app: " if VERBOSE else None)
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

    def start() -> int:
        server.start()
        return port

    status = apps.serve_until_signalled(start, lambda: server.stop(grace=1).wait())
    events.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
