"""gRPC server reflection in both ``grpc.reflection.v1`` and ``v1alpha``.

Apiary asks ``grpc.reflection.v1`` first and falls back to ``v1alpha`` (all
Dapr speaks).  grpcio-reflection 1.85.1 serves only ``v1alpha``, so ``v1`` is
written here by hand, on top of it:

- The two protocols are the same messages with the same field numbers; only
  the protobuf package differs (compare ``Proto/grpc/reflection/v1`` and
  ``v1alpha/reflection.proto``; the test suite checks that they still differ
  in nothing else).  So ``grpc.reflection.v1.ServerReflection/ServerReflectionInfo``
  is served with grpcio-reflection's v1alpha servicer, reading and writing the
  identical bytes.
- So that reflection can describe the v1 service itself, its file
  ``grpc/reflection/v1/reflection.proto`` is added to the default descriptor
  pool, made from the v1alpha descriptor with the package renamed (no Python
  module for ``grpc.reflection.v1`` is generated: it would clash with
  grpcio's ``grpc`` package), unless the pool already has it.
"""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection as v1alpha_reflection
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2

__all__ = ["V1_SERVICE_NAME", "V1ALPHA_SERVICE_NAME", "handlers", "register_v1_descriptor"]

V1ALPHA_SERVICE_NAME = v1alpha_reflection.SERVICE_NAME  # grpc.reflection.v1alpha.ServerReflection
V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
_V1ALPHA_PACKAGE = "grpc.reflection.v1alpha"
_V1_PACKAGE = "grpc.reflection.v1"
_V1_FILE = "grpc/reflection/v1/reflection.proto"


def register_v1_descriptor(pool=None) -> None:
    """Adds grpc/reflection/v1/reflection.proto to `pool` (default: the default
    pool), derived from the v1alpha file, unless it is there already."""
    pool = pool or descriptor_pool.Default()
    try:
        pool.FindFileByName(_V1_FILE)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    v1alpha_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = f".{_V1ALPHA_PACKAGE}.", f".{_V1_PACKAGE}."
    proto.name = _V1_FILE
    proto.package = _V1_PACKAGE
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name[len(old):]
    for service in proto.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old):]
            method.output_type = new + method.output_type[len(old):]
    pool.AddSerializedFile(proto.SerializeToString())


def handlers(service_names) -> list[grpc.GenericRpcHandler]:
    """Handlers serving reflection v1 and v1alpha for `service_names` (which
    should include both reflection services)."""
    register_v1_descriptor()
    servicer = v1alpha_reflection.ReflectionServicer(service_names)
    method = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=v1alpha_pb2.ServerReflectionRequest.FromString,
        response_serializer=v1alpha_pb2.ServerReflectionResponse.SerializeToString)
    return [grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": method})
            for name in (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)]
