"""Secret stores: ``dapr.proto.components.v1.SecretStore``.

::

    class EnvSecrets(SecretStore):
        def get(self, request):       # GetSecretRequest -> {name: value}
            if request.key not in os.environ:
                raise NotFound(f"no secret {request.key}")
            return {request.key: os.environ[request.key]}
        def bulk_get(self, request):  # BulkGetSecretRequest -> {secret: {name: value}}
            return {name: {name: value} for name, value in os.environ.items()}

``get`` may also return a GetSecretResponse, and ``bulk_get`` a
BulkGetSecretResponse.  ``bulk_get`` answers UNIMPLEMENTED (for any instance) unless the subclass
defines it.
"""

from __future__ import annotations

import logging

from .component import Block, Component, generic_handler, overrides, unimplemented
from .errors import Unsupported
from .proto import secretstore_pb2

__all__ = ["SecretStore"]


class SecretStore(Component):
    """A secret store; one object per configured instance."""

    logger = logging.getLogger("apiary_component.secrets")

    def features(self) -> list[str]:
        """The features answered to ``Features`` (e.g. ``["MULTIPLE_KEY_VALUES_PER_SECRET"]``)."""
        return []

    def get(self, request: secretstore_pb2.GetSecretRequest) -> dict[str, str]:
        """The secret ``request.key`` as ``{name: value}``; raise NotFound when unknown."""
        raise NotImplementedError("get")

    def bulk_get(self, request: secretstore_pb2.BulkGetSecretRequest) -> dict[str, dict[str, str]]:
        """Every secret, as ``{secret name: {name: value}}``."""
        raise Unsupported("BulkGet is not supported")


def build(block: Block) -> list[tuple[str, object]]:
    registry = block.registry

    def get(request, context):
        answer = registry.get(context).get(request)
        if isinstance(answer, secretstore_pb2.GetSecretResponse):
            return answer
        return secretstore_pb2.GetSecretResponse(data={str(k): str(v) for k, v in (answer or {}).items()})

    def bulk_get(request, context):
        answer = registry.get(context).bulk_get(request)
        if isinstance(answer, secretstore_pb2.BulkGetSecretResponse):
            return answer
        response = secretstore_pb2.BulkGetSecretResponse()
        for name, values in (answer or {}).items():
            response.data[str(name)].secrets.update({str(k): str(v) for k, v in values.items()})
        return response

    bodies = {**block.lifecycle_bodies(secretstore_pb2.SecretStoreInitResponse, with_features=True),
              "Get": get, "BulkGet": bulk_get}
    handlers = {name: block.unary(name, body) for name, body in bodies.items()}
    if not overrides(block.cls, SecretStore, "bulk_get"):
        handlers["BulkGet"] = unimplemented("BulkGet is not supported")
    service = secretstore_pb2.DESCRIPTOR.services_by_name["SecretStore"]
    return [(service.full_name, generic_handler(service, handlers))]
