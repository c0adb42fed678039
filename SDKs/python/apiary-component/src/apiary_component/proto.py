"""The contracts' generated messages and stubs, by short name.

    from apiary_component.proto import state_pb2, pubsub_pb2, bindings_pb2

The modules live in ``apiary_component._generated`` (made by the package's
``gen_stubs.py`` from Apiary's ``Proto/`` folder; their descriptors keep the
original file names such as ``dapr/proto/components/v1/state.proto``).  The
``*_pb2_grpc`` modules hold client stubs too, e.g.
``state_pb2_grpc.StateStoreStub(channel)``, handy in tests.
"""

from ._generated.apiary.proto.components.v1 import logs_pb2, logs_pb2_grpc
from ._generated.dapr.proto.components.v1 import (bindings_pb2, bindings_pb2_grpc, common_pb2,
                                                  pubsub_pb2, pubsub_pb2_grpc, secretstore_pb2,
                                                  secretstore_pb2_grpc, state_pb2, state_pb2_grpc)
from ._generated.spec.proto.pluggable.v1.common import common_pb2 as pluggable_common_pb2
from ._generated.spec.proto.pluggable.v1.hello import hello_pb2, hello_pb2_grpc

__all__ = ["common_pb2", "state_pb2", "state_pb2_grpc", "pubsub_pb2", "pubsub_pb2_grpc",
           "bindings_pb2", "bindings_pb2_grpc", "secretstore_pb2", "secretstore_pb2_grpc",
           "logs_pb2", "logs_pb2_grpc", "hello_pb2", "hello_pb2_grpc", "pluggable_common_pb2"]
