"""Hello: Layotto's ``spec.proto.pluggable.v1.hello.Hello`` (type ``hello.<name>``).

::

    class Greeter(Hello):
        def init(self, config):          # HelloConfig: hello_string, metadata, type, config
            self.greeting = config.hello_string or "hello"
        def say_hello(self, name):       # str -> str
            return f"{self.greeting}, {name}"

Unlike the Dapr services, the contract has no Ping and no Features.
"""

from __future__ import annotations

import logging

from google.protobuf import empty_pb2

from .component import Block, Component, generic_handler
from .proto import hello_pb2

__all__ = ["Hello"]


class Hello(Component):
    """A hello component; one object per configured instance."""

    logger = logging.getLogger("apiary_component.hello")

    def init(self, config: hello_pb2.HelloConfig) -> None:  # type: ignore[override]
        """Prepares the instance from its whole HelloConfig (not just metadata)."""

    def say_hello(self, name: str) -> str:
        """The greeting for `name`."""
        raise NotImplementedError("say_hello")


def build(block: Block) -> list[tuple[str, object]]:
    registry = block.registry

    def init(request, context):
        block.init(context, lambda greeter: greeter.init(request))
        return empty_pb2.Empty()

    def say_hello(request, context):
        return hello_pb2.HelloResponse(
            hello_string=str(registry.get(context).say_hello(request.name)))

    handlers = {"Init": block.unary("Init", init), "SayHello": block.unary("SayHello", say_hello)}
    service = hello_pb2.DESCRIPTOR.services_by_name["Hello"]
    return [(service.full_name, generic_handler(service, handlers))]
