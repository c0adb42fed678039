"""Server reflection v1 and v1alpha, and grpc.health.v1."""

import os
import re
import tempfile

import grpc
import pytest
from conftest import SDK, StreamReader
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2

PROTO = os.path.normpath(os.path.join(SDK, "..", "..", "..", "Proto"))
EXPECTED = {
    "dapr.proto.components.v1.StateStore", "dapr.proto.components.v1.TransactionalStateStore",
    "dapr.proto.components.v1.QueriableStateStore",
    "dapr.proto.components.v1.TransactionalStoreMultiMaxSize", "dapr.proto.components.v1.PubSub",
    "dapr.proto.components.v1.InputBinding", "dapr.proto.components.v1.OutputBinding",
    "dapr.proto.components.v1.SecretStore", "spec.proto.pluggable.v1.hello.Hello",
    "apiary.proto.components.v1.ComponentLogs", "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
}


@pytest.fixture(scope="module")
def v1_messages():
    """grpc.reflection.v1 request/response classes compiled from the repository's
    Proto/grpc/reflection/v1/reflection.proto (a descriptor set only, in a pool of
    their own: independent of how the SDK serves v1)."""
    from grpc_tools import protoc
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "set.pb")
        assert protoc.main(["protoc", f"-I{PROTO}", f"--descriptor_set_out={out}",
                            "grpc/reflection/v1/reflection.proto"]) == 0
        with open(out, "rb") as handle:
            files = descriptor_pb2.FileDescriptorSet.FromString(handle.read())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    request = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionRequest"))
    response = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionResponse"))
    return request, response


def ask(channel, version, request_class, response_class, *requests):
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString)
    return list(call(iter(requests), timeout=5))


def test_v1alpha_lists_every_service(everything):
    (answer,) = ask(everything.channel, "v1alpha", v1alpha_pb2.ServerReflectionRequest,
                    v1alpha_pb2.ServerReflectionResponse,
                    v1alpha_pb2.ServerReflectionRequest(list_services="*"))
    assert {s.name for s in answer.list_services_response.service} == EXPECTED


def test_v1_lists_and_describes(everything, v1_messages):
    request, response = v1_messages
    listed, state_file, own_file, missing = ask(
        everything.channel, "v1", request, response,
        request(list_services="*"),
        request(file_containing_symbol="dapr.proto.components.v1.StateStore"),
        request(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
        request(file_containing_symbol="no.such.Service"))
    assert {s.name for s in listed.list_services_response.service} == EXPECTED
    names = {descriptor_pb2.FileDescriptorProto.FromString(raw).name
             for raw in state_file.file_descriptor_response.file_descriptor_proto}
    assert "dapr/proto/components/v1/state.proto" in names
    assert "dapr/proto/components/v1/common.proto" in names
    (described,) = [descriptor_pb2.FileDescriptorProto.FromString(raw)
                    for raw in own_file.file_descriptor_response.file_descriptor_proto]
    assert described.name == "grpc/reflection/v1/reflection.proto"
    assert described.package == "grpc.reflection.v1"
    assert [m.input_type for m in described.service[0].method] == [
        ".grpc.reflection.v1.ServerReflectionRequest"]
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_v1_and_v1alpha_protos_differ_only_in_package():
    """What serving v1 with the v1alpha servicer relies on (see reflection.py)."""
    def body(version):
        with open(os.path.join(PROTO, "grpc", "reflection", version, "reflection.proto")) as handle:
            text = handle.read()
        text = re.sub(r"//[^\n]*", "", text)
        return [line.strip() for line in text.splitlines()
                if line.strip() and not line.strip().startswith("package ")]

    assert body("v1") == body("v1alpha")


def test_health(everything):
    stub = health_pb2_grpc.HealthStub(everything.channel)
    serving = health_pb2.HealthCheckResponse.SERVING
    for service in ["", *EXPECTED]:
        assert stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status == serving
    with pytest.raises(grpc.RpcError) as raised:
        stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
    reader = StreamReader(watch)
    try:
        assert reader.next().status == serving
    finally:
        watch.cancel()


def test_ping_on_every_dapr_service(everything):
    from apiary_component.proto import (bindings_pb2, bindings_pb2_grpc, common_pb2, pubsub_pb2,
                                        pubsub_pb2_grpc, secretstore_pb2, secretstore_pb2_grpc,
                                        state_pb2, state_pb2_grpc)
    from conftest import meta
    channel = everything.channel
    m = meta("pinged")
    for stub, init in (
            (state_pb2_grpc.StateStoreStub(channel), state_pb2.InitRequest()),
            (pubsub_pb2_grpc.PubSubStub(channel), pubsub_pb2.PubSubInitRequest()),
            (bindings_pb2_grpc.InputBindingStub(channel), bindings_pb2.InputBindingInitRequest()),
            (bindings_pb2_grpc.OutputBindingStub(channel), bindings_pb2.OutputBindingInitRequest()),
            (secretstore_pb2_grpc.SecretStoreStub(channel), secretstore_pb2.SecretStoreInitRequest())):
        with pytest.raises(grpc.RpcError) as raised:
            stub.Ping(common_pb2.PingRequest(), metadata=m, timeout=5)
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        stub.Init(init, metadata=m, timeout=5)
        assert stub.Ping(common_pb2.PingRequest(), metadata=m, timeout=5) == common_pb2.PingResponse()


