"""Bindings: ``dapr.proto.components.v1.InputBinding`` and ``OutputBinding``.

Input binding: events flow to the application on a ``Read`` stream, each
answered by the sidecar::

    class Ticker(InputBinding):
        def read(self, stream):   # a generator of ReadResponse
            stream.on_ack(lambda message_id, data, error: ...)
            n = 0
            while not stream.wait(1.0):        # one tick a second until the stream ends
                n += 1
                yield bindings_pb2.ReadResponse(data=f"tick {n}".encode())

An empty ``message_id`` gets a counter.  Every reply of the application
reaches ``on_ack`` as ``(message_id, response_data, error)``: ``error`` is
None when the application handled the event, else its error message.

Output binding::

    class Echo(OutputBinding):
        def operations(self): return ["echo"]
        def invoke(self, request):   # InvokeRequest -> InvokeResponse, bytes or None
            return request.data

A class may subclass both; the two services then still keep separate
objects per instance (each service has its own ``Init``, as in Dapr).
"""

from __future__ import annotations

import itertools
import logging

from .component import AckStream, Block, Component, generic_handler, run_ack_reader
from .instances import instance_name
from .proto import bindings_pb2

__all__ = ["InputBinding", "OutputBinding", "ReadStream"]


class ReadStream(AckStream):
    """One ``Read`` stream of an input binding (see :class:`AckStream`)."""


class InputBinding(Component):
    """An input binding; one object per configured instance."""

    logger = logging.getLogger("apiary_component.bindings")

    def read(self, stream: ReadStream):
        """A generator of ReadResponse, for as long as ``stream.active``."""
        raise NotImplementedError("read")


class OutputBinding(Component):
    """An output binding; one object per configured instance."""

    logger = logging.getLogger("apiary_component.bindings")

    def operations(self) -> list[str]:
        """The operations answered to ``ListOperations`` (e.g. ``["create", "get"]``)."""
        return []

    def invoke(self, request: bindings_pb2.InvokeRequest):
        """Runs ``request.operation``; answers an InvokeResponse, or just the
        response bytes, or None for an empty answer."""
        raise NotImplementedError("invoke")


def build_input(block: Block) -> list[tuple[str, object]]:
    registry = block.registry

    def read(requests, context):
        binding = registry.get(context)
        stream = ReadStream(context, instance_name(context))
        context.add_callback(stream.end)

        def acknowledge(request):
            error = request.response_error.message if request.HasField("response_error") else None
            stream._deliver_ack(block.logger, "reply to", request.message_id,
                                (bytes(request.response_data), error))

        block.streams.track(stream)
        try:
            run_ack_reader(stream, requests, acknowledge, block.logger, "Read")
            numbers = itertools.count(1)
            for event in binding.read(stream) or ():
                if not event.message_id:
                    event.message_id = str(next(numbers))
                yield event
        finally:
            block.streams.untrack(stream)

    handlers = {name: block.unary(name, body)
                for name, body in block.lifecycle_bodies(bindings_pb2.InputBindingInitResponse).items()}
    handlers["Read"] = block.streaming("Read", read)
    service = bindings_pb2.DESCRIPTOR.services_by_name["InputBinding"]
    return [(service.full_name, generic_handler(service, handlers))]


def build_output(block: Block) -> list[tuple[str, object]]:
    registry = block.registry

    def list_operations(request, context):
        return bindings_pb2.ListOperationsResponse(
            operations=list(registry.get(context).operations()))

    def invoke(request, context):
        answer = registry.get(context).invoke(request)
        if isinstance(answer, bindings_pb2.InvokeResponse):
            return answer
        return bindings_pb2.InvokeResponse(data=bytes(answer or b""))

    bodies = {**block.lifecycle_bodies(bindings_pb2.OutputBindingInitResponse),
              "ListOperations": list_operations, "Invoke": invoke}
    handlers = {name: block.unary(name, body) for name, body in bodies.items()}
    service = bindings_pb2.DESCRIPTOR.services_by_name["OutputBinding"]
    return [(service.full_name, generic_handler(service, handlers))]
