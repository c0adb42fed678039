"""README.md's complete examples run as written, and do what they say."""

import os
import re
import signal

import pytest
from conftest import SDK, ComponentProcess, RequestQueue, StreamReader, meta

from apiary_component.proto import (bindings_pb2, bindings_pb2_grpc, common_pb2, hello_pb2,
                                    hello_pb2_grpc, pubsub_pb2, pubsub_pb2_grpc, secretstore_pb2,
                                    secretstore_pb2_grpc, state_pb2, state_pb2_grpc)


def examples():
    """(socket name, source) of every python block that defines a class, serves
    it, and elides nothing."""
    with open(os.path.join(SDK, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    found = []
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        served = re.search(r'^serve\("([^"]+)"', block, re.M)
        complete = re.search(r"^class \w+\(", block, re.M) and not re.search(
            r"^\s*\.\.\.\s*$|: \.\.\.", block, re.M)
        if served and complete:
            found.append((served.group(1), block))
    return found


def exercise_state(channel):
    stub, m = state_pb2_grpc.StateStoreStub(channel), meta("readme")
    stub.Init(state_pb2.InitRequest(), metadata=m, timeout=5)
    stub.Set(state_pb2.SetRequest(key="k", value=b"v"), metadata=m, timeout=5)
    got = stub.Get(state_pb2.GetRequest(key="k"), metadata=m, timeout=5)
    assert (got.data, got.etag.value) == (b"v", "1")
    state_pb2_grpc.TransactionalStateStoreStub(channel).Transact(
        state_pb2.TransactionalStateRequest(operations=[state_pb2.TransactionalStateOperation(
            set=state_pb2.SetRequest(key="k", value=b"w", etag=state_pb2.Etag(value="1")))]),
        metadata=m, timeout=5)
    assert stub.Get(state_pb2.GetRequest(key="k"), metadata=m, timeout=5).etag.value == "2"


def exercise_pubsub(channel):
    stub, m = pubsub_pb2_grpc.PubSubStub(channel), meta("readme")
    stub.Init(pubsub_pb2.PubSubInitRequest(), metadata=m, timeout=5)
    stub.Publish(pubsub_pb2.PublishRequest(topic="t", data=b"hi"), metadata=m, timeout=5)
    requests = RequestQueue(pubsub_pb2.PullMessagesRequest(topic=pubsub_pb2.Topic(name="t")))
    call = stub.PullMessages(iter(requests), metadata=m)
    reader = StreamReader(call)
    first = reader.next()
    assert first.data == b"hi"
    requests.put(pubsub_pb2.PullMessagesRequest(ack_message_id=first.id,
                                                ack_error=pubsub_pb2.AckMessageError(message="no")))
    again = reader.next()
    assert again.id == first.id
    call.cancel()
    requests.close()


def exercise_input(channel):
    stub, m = bindings_pb2_grpc.InputBindingStub(channel), meta("readme")
    stub.Init(bindings_pb2.InputBindingInitRequest(metadata=common_pb2.MetadataRequest(
        properties={"intervalSeconds": "0.05"})), metadata=m, timeout=5)
    requests = RequestQueue()
    call = stub.Read(iter(requests), metadata=m)
    reader = StreamReader(call)
    assert reader.next().data == b"tick 1"
    call.cancel()
    requests.close()


def exercise_output(channel):
    stub, m = bindings_pb2_grpc.OutputBindingStub(channel), meta("readme")
    stub.Init(bindings_pb2.OutputBindingInitRequest(), metadata=m, timeout=5)
    assert list(stub.ListOperations(bindings_pb2.ListOperationsRequest(), metadata=m).operations) == ["echo"]
    assert stub.Invoke(bindings_pb2.InvokeRequest(operation="echo", data=b"x"), metadata=m).data == b"x"


def exercise_secrets(channel):
    stub, m = secretstore_pb2_grpc.SecretStoreStub(channel), meta("readme")
    stub.Init(secretstore_pb2.SecretStoreInitRequest(metadata=common_pb2.MetadataRequest(
        properties={"prefix": "README_SECRET_"})), metadata=m, timeout=5)
    assert dict(stub.Get(secretstore_pb2.GetSecretRequest(key="one"), metadata=m).data) == {"one": "1"}
    bulk = stub.BulkGet(secretstore_pb2.BulkGetSecretRequest(), metadata=m)
    assert dict(bulk.data["one"].secrets) == {"one": "1"}


def exercise_hello(channel):
    stub, m = hello_pb2_grpc.HelloStub(channel), meta("readme")
    stub.Init(hello_pb2.HelloConfig(hello_string="hi"), metadata=m, timeout=5)
    assert stub.SayHello(hello_pb2.HelloRequest(name="ann"), metadata=m).hello_string == "hi, ann"


EXERCISES = {"StateStore": exercise_state, "PubSub": exercise_pubsub,
             "InputBinding": exercise_input, "OutputBinding": exercise_output,
             "SecretStore": exercise_secrets, "Hello": exercise_hello}


def test_every_building_block_has_an_example():
    blocks = {re.search(r"class \w+\((\w+)\)", source).group(1) for _name, source in examples()}
    assert blocks == set(EXERCISES)


@pytest.mark.parametrize("name, source", examples(), ids=[name for name, _ in examples()])
def test_example_runs(folder, name, source):
    script = os.path.join(folder, "example.py")
    with open(script, "w", encoding="utf-8") as handle:
        handle.write(source)
    component = ComponentProcess(script, folder, socket_name=name, use_socket_arg=False,
                                 env={"APIARY_SOCKETS_DIR": folder,
                                      "README_SECRET_one": "1"})
    try:
        component.wait_ready()
        block = re.search(r"class \w+\((\w+)\)", source).group(1)
        EXERCISES[block](component.channel)
        component.signal(signal.SIGTERM)
        assert component.wait_exit(20) == 0, component.log()
        assert not os.path.exists(component.socket)
    finally:
        component.stop()
