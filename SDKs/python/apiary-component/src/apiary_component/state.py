"""State stores: ``dapr.proto.components.v1.StateStore`` and its optional parts.

Subclass :class:`StateStore` and override plain methods that take and return
the contract's messages (``apiary_component.proto.state_pb2``)::

    class MyStore(StateStore):
        def init(self, metadata): ...
        def features(self): return ["ETAG"]
        def get(self, request):    # GetRequest -> GetResponse, or None when missing
        def set(self, request):    # SetRequest
        def delete(self, request): # DeleteRequest

Optional parts are served only when the subclass defines them:

=========================  ==================================================
method                     service served (listed by reflection)
=========================  ==================================================
``transact(request)``      ``TransactionalStateStore`` (Transact)
``query(request)``         ``QueriableStateStore`` (Query → QueryResponse)
``multi_max_size()``       ``TransactionalStoreMultiMaxSize`` (an int)
=========================  ==================================================

``bulk_get``, ``bulk_set`` and ``bulk_delete`` are part of ``StateStore``; by
default they call ``get``/``set``/``delete`` per item (``bulk_get`` reports an
item's failure in its ``error`` field; ``bulk_set``/``bulk_delete`` stop at
the first failure, which is the call's status).  Override them for atomic or
faster bulk calls.  Features are what :meth:`StateStore.features` answers:
list only what the store really does (``ETAG``, ``TRANSACTIONAL``, ``TTL``,
``QUERY_API`` ...).
"""

from __future__ import annotations

import logging

from .component import Block, Component, generic_handler
from .errors import bounded, describe
from .proto import common_pb2, state_pb2

__all__ = ["StateStore"]


class StateStore(Component):
    """A state store; one object per configured instance (see :class:`Component`)."""

    logger = logging.getLogger("apiary_component.state")

    def features(self) -> list[str]:
        """The features answered to ``Features`` (e.g. ``["ETAG", "TRANSACTIONAL"]``)."""
        return []

    def get(self, request: state_pb2.GetRequest) -> state_pb2.GetResponse | None:
        """The value of ``request.key``: a GetResponse (data, etag, metadata,
        content_type), or None when the key does not exist."""
        raise NotImplementedError("get")

    def set(self, request: state_pb2.SetRequest) -> None:
        """Stores ``request.value`` under ``request.key``.  Honour
        ``request.etag`` (raise EtagMismatch / EtagInvalid) and
        ``request.options.concurrency`` if the store has the ETAG feature."""
        raise NotImplementedError("set")

    def delete(self, request: state_pb2.DeleteRequest) -> None:
        """Removes ``request.key`` (a missing key is not an error)."""
        raise NotImplementedError("delete")

    def bulk_get(self, requests: list[state_pb2.GetRequest]) -> list[state_pb2.BulkStateItem]:
        """One BulkStateItem per request, in order.  By default, ``get`` per key;
        a key whose ``get`` raises gets that error's message in ``error``."""
        items = []
        for request in requests:
            try:
                found = self.get(request)
            except Exception as error:
                items.append(state_pb2.BulkStateItem(key=request.key,
                                                     error=bounded(describe(error))))
                continue
            item = state_pb2.BulkStateItem(key=request.key)
            if found is not None:
                item.data = found.data
                if found.HasField("etag"):
                    item.etag.CopyFrom(found.etag)
                item.metadata.update(found.metadata)
                item.content_type = found.content_type
            items.append(item)
        return items

    def bulk_set(self, requests: list[state_pb2.SetRequest]) -> None:
        """By default, ``set`` per item, stopping at the first failure."""
        for request in requests:
            self.set(request)

    def bulk_delete(self, requests: list[state_pb2.DeleteRequest]) -> None:
        """By default, ``delete`` per item, stopping at the first failure."""
        for request in requests:
            self.delete(request)

    # Optional parts (served only when a subclass defines them):
    #   def transact(self, request: state_pb2.TransactionalStateRequest) -> None
    #   def query(self, request: state_pb2.QueryRequest) -> state_pb2.QueryResponse
    #   def multi_max_size(self) -> int


def _service(name: str):
    return state_pb2.DESCRIPTOR.services_by_name[name]


def has_transactions(cls: type) -> bool:
    return callable(getattr(cls, "transact", None))


def build(block: Block) -> list[tuple[str, object]]:
    """(service name, generic handler) for every state service `block` serves."""
    cls, registry = block.cls, block.registry


    def features(request, context):
        store = registry.get(context)
        listed = list(store.features())
        if "TRANSACTIONAL" in listed and not has_transactions(cls):
            block.logger.warning(f"{cls.__name__}.features() lists TRANSACTIONAL but the class "
                                 "has no transact()")
        return common_pb2.FeaturesResponse(features=listed)

    def get(request, context):
        found = registry.get(context).get(request)
        return found if found is not None else state_pb2.GetResponse()

    def set_(request, context):
        registry.get(context).set(request)
        return state_pb2.SetResponse()

    def delete(request, context):
        registry.get(context).delete(request)
        return state_pb2.DeleteResponse()

    def bulk_get(request, context):
        answer = registry.get(context).bulk_get(list(request.items))
        if isinstance(answer, state_pb2.BulkGetResponse):
            return answer
        return state_pb2.BulkGetResponse(items=list(answer or []))

    def bulk_set(request, context):
        registry.get(context).bulk_set(list(request.items))
        return state_pb2.BulkSetResponse()

    def bulk_delete(request, context):
        registry.get(context).bulk_delete(list(request.items))
        return state_pb2.BulkDeleteResponse()

    bodies = {**block.lifecycle_bodies(state_pb2.InitResponse), "Features": features, "Get": get, "Set": set_,
              "Delete": delete, "BulkGet": bulk_get, "BulkSet": bulk_set,
              "BulkDelete": bulk_delete}
    served = [("StateStore", {name: block.unary(name, body) for name, body in bodies.items()})]

    if has_transactions(cls):
        def transact(request, context):
            registry.get(context).transact(request)
            return state_pb2.TransactionalStateResponse()

        served.append(("TransactionalStateStore", {"Transact": block.unary("Transact", transact)}))
    if callable(getattr(cls, "query", None)):
        def query(request, context):
            answer = registry.get(context).query(request)
            return answer if answer is not None else state_pb2.QueryResponse()

        served.append(("QueriableStateStore", {"Query": block.unary("Query", query)}))
    if callable(getattr(cls, "multi_max_size", None)):
        def multi_max_size(request, context):
            return state_pb2.MultiMaxSizeResponse(
                max_size=int(registry.get(context).multi_max_size()))

        served.append(("TransactionalStoreMultiMaxSize",
                       {"MultiMaxSize": block.unary("MultiMaxSize", multi_max_size)}))
    return [(_service(name).full_name, generic_handler(_service(name), handlers))
            for name, handlers in served]

