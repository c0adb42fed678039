"""InputBinding (Read with acknowledgements), OutputBinding, SecretStore and Hello."""

import json

import grpc
import pytest
from conftest import RequestQueue, StreamReader, initialised, meta, wait_until
from google.protobuf import empty_pb2

from apiary_component.proto import (bindings_pb2, bindings_pb2_grpc, common_pb2, hello_pb2,
                                    hello_pb2_grpc, secretstore_pb2, secretstore_pb2_grpc)


@pytest.fixture(scope="module")
def output(everything):
    return initialised(everything, bindings_pb2_grpc.OutputBindingStub, bindings_pb2.OutputBindingInitRequest(),
                       "tools")


def test_output_binding(output):
    m = meta("tools")
    operations = output.ListOperations(bindings_pb2.ListOperationsRequest(), metadata=m).operations
    assert list(operations) == ["echo", "bytes", "none", "raise", "log", "acks"]
    echoed = output.Invoke(bindings_pb2.InvokeRequest(operation="echo", data=b"hi",
                                                      metadata={"a": "b"}), metadata=m)
    assert (echoed.data, dict(echoed.metadata), echoed.content_type) == (b"hi", {"a": "b"},
                                                                         "text/plain")
    assert output.Invoke(bindings_pb2.InvokeRequest(operation="bytes", data=b"x"),
                         metadata=m) == bindings_pb2.InvokeResponse(data=b"raw:x")
    assert output.Invoke(bindings_pb2.InvokeRequest(operation="none"),
                         metadata=m) == bindings_pb2.InvokeResponse()
    output.Ping(common_pb2.PingRequest(), metadata=m)


def test_input_binding_read_and_acks(everything, output):
    stub = bindings_pb2_grpc.InputBindingStub(everything.channel)
    m = meta("ticks")
    stub.Init(bindings_pb2.InputBindingInitRequest(metadata=common_pb2.MetadataRequest(
        properties={"count": "3"})), metadata=m, timeout=5)
    stub.Ping(common_pb2.PingRequest(), metadata=m)
    replies = RequestQueue()
    call = stub.Read(iter(replies), metadata=m)
    reader = StreamReader(call)
    try:
        ticks = [reader.next() for _ in range(3)]
        assert [(t.data, t.message_id, t.metadata["n"]) for t in ticks] == [
            (b"tick-1", "1", "1"), (b"tick-2", "2", "2"), (b"tick-3", "3", "3")]
        replies.put(bindings_pb2.ReadRequest(message_id="1", response_data=b"ok-1"))
        replies.put(bindings_pb2.ReadRequest(message_id="2", response_error=bindings_pb2.AckResponseError(
            message="app failed")))
        again = reader.next()
        assert again is not None and again.message_id == "2"  # the binding sends it again
        replies.put(bindings_pb2.ReadRequest(message_id="2", response_data=b"ok-2"))
        replies.put(bindings_pb2.ReadRequest(message_id="3"))

        def acks():
            answer = output.Invoke(bindings_pb2.InvokeRequest(operation="acks"), metadata=meta("tools"))
            recorded = [a for a in json.loads(answer.data) if a["instance"] == "ticks"]
            return recorded if len(recorded) == 4 else None

        recorded = wait_until(acks, 5)
        assert recorded == [
            {"instance": "ticks", "id": "1", "data": "ok-1", "error": None},
            {"instance": "ticks", "id": "2", "data": "", "error": "app failed"},
            {"instance": "ticks", "id": "2", "data": "ok-2", "error": None},
            {"instance": "ticks", "id": "3", "data": "", "error": None}]
    finally:
        call.cancel()
        replies.close()
    assert wait_until(reader.ended.is_set, 5)


def test_secret_store(everything):
    stub = secretstore_pb2_grpc.SecretStoreStub(everything.channel)
    m = meta("vault")
    stub.Init(secretstore_pb2.SecretStoreInitRequest(metadata=common_pb2.MetadataRequest(
        properties={"secret.db": "s3cret", "secret.api": "k3y", "other": "x"})), metadata=m)
    assert list(stub.Features(common_pb2.FeaturesRequest(), metadata=m).features) == [
        "MULTIPLE_KEY_VALUES_PER_SECRET"]
    stub.Ping(common_pb2.PingRequest(), metadata=m)
    assert dict(stub.Get(secretstore_pb2.GetSecretRequest(key="db"), metadata=m).data) == {
        "db": "s3cret"}
    with pytest.raises(grpc.RpcError) as raised:
        stub.Get(secretstore_pb2.GetSecretRequest(key="nope"), metadata=m)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert raised.value.details() == "no secret 'nope'"
    bulk = stub.BulkGet(secretstore_pb2.BulkGetSecretRequest(), metadata=m)
    assert {name: dict(value.secrets) for name, value in bulk.data.items()} == {
        "db": {"db": "s3cret"}, "api": {"api": "k3y"}}


def test_hello(everything):
    stub = hello_pb2_grpc.HelloStub(everything.channel)
    assert stub.Init(hello_pb2.HelloConfig(hello_string="howdy"), metadata=meta("greeter")) == \
        empty_pb2.Empty()
    stub.Init(hello_pb2.HelloConfig(), metadata=meta("plain"))
    assert stub.SayHello(hello_pb2.HelloRequest(name="carol"),
                         metadata=meta("greeter")).hello_string == "howdy, carol"
    assert stub.SayHello(hello_pb2.HelloRequest(name="dan"),
                         metadata=meta("plain")).hello_string == "hello, dan"
    with pytest.raises(grpc.RpcError) as raised:
        stub.SayHello(hello_pb2.HelloRequest(name="x"), metadata=meta("stranger"))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
