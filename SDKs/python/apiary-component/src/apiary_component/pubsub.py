"""Pub/sub: ``dapr.proto.components.v1.PubSub``.

Subclass :class:`PubSub`; messages are the contract's
(``apiary_component.proto.pubsub_pb2``)::

    class MyPubSub(PubSub):
        def init(self, metadata): ...
        def features(self): return []
        def publish(self, request):             # PublishRequest
        def pull_messages(self, subscription):  # a generator of PullMessagesResponse
            subscription.on_ack(lambda message_id, error: ...)
            while subscription.active:
                ...
                yield pubsub_pb2.PullMessagesResponse(id=..., data=..., content_type=...)

``PullMessages`` is one stream per subscription: the SDK reads the first
request (the topic; a missing topic name is INVALID_ARGUMENT), gives you a
:class:`Subscription`, sends what your generator yields (an empty ``id`` gets a
counter, an empty ``topic_name`` the subscription's topic), and hands every
acknowledgement to your ``on_ack`` callback as ``(message_id, error)``:
``error`` is None when the application succeeded, else the sidecar's message
(possibly empty).  What a refused or unacknowledged message becomes
(redelivery, dead-lettering) is your backend's business: the SDK keeps no
copy.  The stream ends (``subscription.active`` turns False) when the sidecar
cancels it or stops sending, or when the server stops.

``bulk_publish`` publishes each entry with ``publish`` by default and reports
the entries that raised as ``failed_entries``; override it for a native
(atomic) bulk publish, and only then list the ``BULK_PUBSUB`` feature.
``pause``/``resume`` answer UNIMPLEMENTED (for any instance, initialised or
not) unless the subclass defines them.
"""

from __future__ import annotations

import itertools
import logging

from .component import (AckStream, Block, Component, generic_handler, overrides, run_ack_reader,
                        unimplemented)
from .errors import InvalidArgument, Unsupported, bounded, describe
from .instances import instance_name
from .proto import pubsub_pb2

__all__ = ["PubSub", "Subscription"]


class Subscription(AckStream):
    """One ``PullMessages`` stream (see :class:`AckStream`): :attr:`topic` and the
    subscription's :attr:`metadata` come from the sidecar's first request."""

    def __init__(self, context, instance_name: str, topic: str, metadata: dict[str, str]):
        super().__init__(context, instance_name)
        self.topic = topic
        self.metadata = metadata


class PubSub(Component):
    """A pub/sub; one object per configured instance (see :class:`Component`)."""

    logger = logging.getLogger("apiary_component.pubsub")

    def features(self) -> list[str]:
        """The features answered to ``Features`` (e.g. ``["BULK_PUBSUB"]``)."""
        return []

    def publish(self, request: pubsub_pb2.PublishRequest) -> None:
        """Publishes ``request.data`` to ``request.topic``."""
        raise NotImplementedError("publish")

    def bulk_publish(self, request: pubsub_pb2.BulkPublishRequest) -> dict[str, str] | None:
        """Publishes every entry; answers ``{entry_id: error}`` for the entries that
        failed (empty or None: all published).  A BulkPublishResponse may be
        returned instead.  By default, ``publish`` per entry, with the request's
        metadata under each entry's own."""
        failed = {}
        for entry in request.entries:
            metadata = dict(request.metadata)
            metadata.update(entry.metadata)
            try:
                self.publish(pubsub_pb2.PublishRequest(
                    data=entry.event, pubsub_name=request.pubsub_name, topic=request.topic,
                    metadata=metadata, content_type=entry.content_type))
            except Exception as error:
                failed[entry.entry_id] = bounded(describe(error))
        return failed

    def pull_messages(self, subscription: Subscription):
        """A generator of PullMessagesResponse for `subscription` (see the module doc)."""
        raise Unsupported("PullMessages is not supported")

    def pause(self) -> None:
        raise Unsupported("Pause is not supported")

    def resume(self) -> None:
        raise Unsupported("Resume is not supported")


def build(block: Block) -> list[tuple[str, object]]:
    registry = block.registry

    def publish(request, context):
        registry.get(context).publish(request)
        return pubsub_pb2.PublishResponse()

    def bulk_publish(request, context):
        answer = registry.get(context).bulk_publish(request)
        if isinstance(answer, pubsub_pb2.BulkPublishResponse):
            return answer
        response = pubsub_pb2.BulkPublishResponse()
        for entry_id, error in (answer or {}).items():
            response.failed_entries.add(entry_id=entry_id, error=bounded(str(error)))
        return response

    def pause(request, context):
        registry.get(context).pause()
        return pubsub_pb2.PauseResponse()

    def resume(request, context):
        registry.get(context).resume()
        return pubsub_pb2.ResumeResponse()

    def pull_messages(requests, context):
        pubsub = registry.get(context)
        try:
            first = next(requests)
        except StopIteration:
            return
        topic = first.topic.name
        if not topic:
            raise InvalidArgument("the first PullMessages request must name the topic")
        subscription = Subscription(context, instance_name(context), topic,
                                    dict(first.topic.metadata))
        context.add_callback(subscription.end)

        def acknowledge(request):
            error = request.ack_error.message if request.HasField("ack_error") else None
            subscription._deliver_ack(block.logger, "acknowledgement of", request.ack_message_id, (error,),
                                      topic=topic)

        block.streams.track(subscription)
        try:
            run_ack_reader(subscription, requests, acknowledge, block.logger, f"PullMessages {topic}")
            numbers = itertools.count(1)
            for message in pubsub.pull_messages(subscription) or ():
                if not message.id:
                    message.id = str(next(numbers))
                if not message.topic_name:
                    message.topic_name = topic
                yield message
        finally:
            block.streams.untrack(subscription)

    unary = {**block.lifecycle_bodies(pubsub_pb2.PubSubInitResponse, with_features=True), "Publish": publish,
             "BulkPublish": bulk_publish, "Pause": pause, "Resume": resume}
    handlers = {name: block.unary(name, body) for name, body in unary.items()}
    for method in ("pause", "resume"):  # not defined: UNIMPLEMENTED for any instance
        if not overrides(block.cls, PubSub, method):
            name = method.capitalize()
            handlers[name] = unimplemented(f"{name} is not supported")
    handlers["PullMessages"] = block.streaming("PullMessages", pull_messages)
    service = pubsub_pb2.DESCRIPTOR.services_by_name["PubSub"]
    return [(service.full_name, generic_handler(service, handlers))]
