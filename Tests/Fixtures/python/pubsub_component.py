#!/usr/bin/env python3
"""An in-memory Dapr pluggable PubSub component, written in Python.

    python3 pubsub_component.py --socket PATH [--features LIST] [--calls FILE]

Serves dapr.proto.components.v1.PubSub on unix:PATH together with gRPC server
reflection from the grpcio-reflection package (which speaks
grpc.reflection.v1alpha only, like the Python components found in the wild).

Behaviour:
  * Each configured instance (gRPC metadata header `x-component-instance`,
    "" when absent) has its own topics, as Dapr's SDKs keep one component
    instance per header value.
  * Publish / BulkPublish append to the topic's queue.
  * PullMessages: the first request names the topic; the component then
    streams queued messages, each with a unique `id`.  Every later request
    acknowledges one delivery by `ack_message_id`; with `ack_error` set the
    message is put back at the head of the queue and delivered again (same
    id), otherwise it is dropped.  Several streams on one topic compete for
    messages.  Deliveries still unacknowledged when a stream ends go back to
    the queue.  A stream lasts until the caller cancels it (a half-close only
    stops acknowledgements).
  * Features answers --features (default BULK_PUBSUB, which BulkPublish
    really implements); Ping answers; Pause/Resume answer UNIMPLEMENTED.
  * --calls FILE appends one JSON line per call (method, instance, and for
    Init the properties) so a test can check what the sidecar sent.
Exits cleanly on SIGTERM/SIGINT and removes its socket file.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import sys
import threading
import uuid
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

fixturelib.ensure_stubs()

import grpc  # noqa: E402
from grpc_reflection.v1alpha import reflection  # noqa: E402

# Import the whole component contract so that reflection can answer for any
# of its files, as a component built on a complete stubs package would.
from dapr.proto.components.v1 import bindings_pb2  # noqa: E402,F401
from dapr.proto.components.v1 import common_pb2  # noqa: E402
from dapr.proto.components.v1 import pubsub_pb2  # noqa: E402
from dapr.proto.components.v1 import pubsub_pb2_grpc  # noqa: E402
from dapr.proto.components.v1 import secretstore_pb2  # noqa: E402,F401
from dapr.proto.components.v1 import state_pb2  # noqa: E402,F401

PUBSUB_SERVICE = pubsub_pb2.DESCRIPTOR.services_by_name["PubSub"].full_name
INSTANCE_HEADER = "x-component-instance"


def instance_of(context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == INSTANCE_HEADER:
            return value
    return ""


class Message:
    __slots__ = ("id", "topic", "data", "metadata", "content_type", "deliveries")

    def __init__(self, topic, data, metadata, content_type):
        self.id = str(uuid.uuid4())
        self.topic = topic
        self.data = data
        self.metadata = dict(metadata)
        self.content_type = content_type
        self.deliveries = 0


class Broker:
    """Per (instance, topic) FIFO queues shared by all subscriber streams."""

    def __init__(self):
        self._lock = threading.Condition()
        self._queues: dict[tuple[str, str], collections.deque] = collections.defaultdict(
            collections.deque)

    def publish(self, instance: str, message: Message) -> None:
        with self._lock:
            self._queues[(instance, message.topic)].append(message)
            self._lock.notify_all()

    def requeue(self, instance: str, message: Message) -> None:
        with self._lock:
            self._queues[(instance, message.topic)].appendleft(message)
            self._lock.notify_all()

    def take(self, instance: str, topic: str, alive, timeout: float = 0.2):
        """Next message for the topic, or None once alive() turns false."""
        key = (instance, topic)
        with self._lock:
            while True:
                queue = self._queues[key]
                if queue:
                    return queue.popleft()
                if not alive():
                    return None
                self._lock.wait(timeout)

    def wake(self) -> None:
        with self._lock:
            self._lock.notify_all()


class CallLog:
    def __init__(self, path: str | None):
        self._path = path
        self._lock = threading.Lock()

    def record(self, **entry) -> None:
        if not self._path:
            return
        line = json.dumps(entry, sort_keys=True)
        with self._lock, open(self._path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class PubSubServicer(pubsub_pb2_grpc.PubSubServicer):
    def __init__(self, features: list[str], calls: CallLog):
        self._features = features
        self._calls = calls
        self._broker = Broker()
        self._streams = itertools.count(1)

    def _broker_for(self, instance: str, context) -> Broker:
        """The broker holding the instance's topics.  One shared broker here
        (its queues are keyed by instance); multi_component.py overrides this
        to keep one broker per initialised instance."""
        return self._broker

    def Init(self, request, context):
        properties = dict(request.metadata.properties)
        instance = instance_of(context)
        self._calls.record(method="Init", instance=instance, properties=properties)
        fixturelib.debug(f"Init instance={instance!r} properties={properties}")
        return pubsub_pb2.PubSubInitResponse()

    def Features(self, request, context):
        self._calls.record(method="Features", instance=instance_of(context))
        return common_pb2.FeaturesResponse(features=self._features)

    def Ping(self, request, context):
        self._calls.record(method="Ping", instance=instance_of(context))
        return common_pb2.PingResponse()

    def Publish(self, request, context):
        instance = instance_of(context)
        if not request.topic:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "topic is required")
        self._calls.record(method="Publish", instance=instance, topic=request.topic,
                           pubsubName=request.pubsub_name)
        self._broker_for(instance, context).publish(instance, Message(
            request.topic, request.data, request.metadata, request.content_type))
        return pubsub_pb2.PublishResponse()

    def BulkPublish(self, request, context):
        instance = instance_of(context)
        if not request.topic:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "topic is required")
        self._calls.record(method="BulkPublish", instance=instance, topic=request.topic,
                           entries=len(request.entries))
        broker = self._broker_for(instance, context)
        for entry in request.entries:
            metadata = dict(request.metadata)
            metadata.update(entry.metadata)
            broker.publish(instance, Message(
                request.topic, entry.event, metadata, entry.content_type))
        return pubsub_pb2.BulkPublishResponse()

    def PullMessages(self, request_iterator, context):
        instance = instance_of(context)
        stream_no = next(self._streams)
        try:
            first = next(request_iterator)
        except StopIteration:
            return
        topic = first.topic.name
        if not topic:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "the first PullMessages request must carry the topic")
        self._calls.record(method="PullMessages", instance=instance, topic=topic)
        broker = self._broker_for(instance, context)
        fixturelib.debug(f"PullMessages#{stream_no} instance={instance!r} topic={topic!r}")

        in_flight: dict[str, Message] = {}
        in_flight_lock = threading.Lock()
        closed = threading.Event()

        def read_acks():
            try:
                for ack in request_iterator:
                    with in_flight_lock:
                        message = in_flight.pop(ack.ack_message_id, None)
                    if message is None:
                        fixturelib.debug(f"PullMessages#{stream_no}: ack for unknown id "
                                       f"{ack.ack_message_id!r}")
                        continue
                    failed = ack.HasField("ack_error")
                    self._calls.record(method="Ack", instance=instance, topic=topic,
                                       id=message.id, ack=message.id,
                                       error=ack.ack_error.message if failed else None)
                    if failed:
                        broker.requeue(instance, message)
                # The sidecar half-closed its side: nothing more can be
                # acknowledged, but deliveries go on until the call ends.
            except Exception as error:  # the call was cancelled or broke
                fixturelib.debug(f"PullMessages#{stream_no}: ack reader stopped: {error!r}")
                closed.set()
                broker.wake()

        context.add_callback(broker.wake)
        reader = threading.Thread(target=read_acks, daemon=True,
                                  name=f"acks-{stream_no}")
        reader.start()

        def alive():
            return context.is_active() and not closed.is_set()

        try:
            while True:
                message = broker.take(instance, topic, alive)
                if message is None:
                    break
                if not alive():
                    broker.requeue(instance, message)
                    break
                message.deliveries += 1
                with in_flight_lock:
                    in_flight[message.id] = message
                yield pubsub_pb2.PullMessagesResponse(
                    data=message.data,
                    topic_name=message.topic,
                    metadata=message.metadata,
                    content_type=message.content_type,
                    id=message.id,
                )
        finally:
            closed.set()
            with in_flight_lock:
                leftovers = list(in_flight.values())
                in_flight.clear()
            for message in reversed(leftovers):
                broker.requeue(instance, message)
            fixturelib.debug(f"PullMessages#{stream_no} ended, {len(leftovers)} requeued")

    # Pause and Resume are inherited from the generated base class, which
    # answers UNIMPLEMENTED -- what the contract allows older components.


def main() -> int:
    parser = argparse.ArgumentParser(description="In-memory Dapr pluggable PubSub component")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument("--features", default="BULK_PUBSUB",
                        help="comma-separated Features answer (default: %(default)s; '' for none)")
    parser.add_argument("--calls", default=None,
                        help="append one JSON line per received call to this file")
    args = parser.parse_args()

    features = [f for f in (part.strip() for part in args.features.split(",")) if f]
    stop = fixturelib.termination_event()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    pubsub_pb2_grpc.add_PubSubServicer_to_server(
        PubSubServicer(features, CallLog(args.calls)), server)
    reflection.enable_server_reflection((PUBSUB_SERVICE, reflection.SERVICE_NAME), server)

    fixturelib.prepare_socket_path(args.socket)
    server.add_insecure_port(fixturelib.unix_target(args.socket))
    server.start()
    fixturelib.log(f"serving {PUBSUB_SERVICE} on unix:{args.socket}")
    try:
        fixturelib.wait_for(stop)
    finally:
        server.stop(grace=0.5).wait()
        fixturelib.remove_socket(args.socket)
        fixturelib.log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
