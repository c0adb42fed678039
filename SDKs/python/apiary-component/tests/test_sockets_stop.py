"""Socket handling (where, stale files, refusals) and the graceful stop."""

import os
import signal
import socket
import stat

import grpc
import pytest
from conftest import ComponentProcess, RequestQueue, StreamReader, accepts, meta, wait_until
from grpc_health.v1 import health_pb2, health_pb2_grpc

from apiary_component import SocketPathError, prepare_socket, socket_path, sockets_folder
from apiary_component.proto import (bindings_pb2, bindings_pb2_grpc, logs_pb2, logs_pb2_grpc,
                                    pubsub_pb2, pubsub_pb2_grpc, state_pb2, state_pb2_grpc)


def test_sockets_folder_precedence():
    both = {"APIARY_SOCKETS_DIR": "/a", "DAPR_COMPONENTS_SOCKETS_FOLDER": "/d"}
    assert sockets_folder("/x", both) == "/x"
    assert sockets_folder(None, both) == "/a"
    assert sockets_folder(None, {"APIARY_SOCKETS_DIR": "", "DAPR_COMPONENTS_SOCKETS_FOLDER": "/d"}) == "/d"
    assert sockets_folder(None, {}) == "/tmp/dapr-components-sockets"
    assert socket_path("store", None, {"APIARY_SOCKETS_DIR": "/a"}) == "/a/store.sock"
    assert socket_path("store", "/explicit/s.sock", both) == "/explicit/s.sock"


@pytest.mark.parametrize("variable", ["APIARY_SOCKETS_DIR", "DAPR_COMPONENTS_SOCKETS_FOLDER"])
def test_socket_from_the_environment_in_a_created_folder(folder, variable):
    sockets = os.path.join(folder, "made", "here")
    env = {"APIARY_SOCKETS_DIR": "", "DAPR_COMPONENTS_SOCKETS_FOLDER": "", variable: sockets}
    component = ComponentProcess("minimal.py", folder, socket_name="minimal", env=env,
                                 use_socket_arg=False, sockets=sockets)
    try:
        component.wait_ready()
        for created in (os.path.join(folder, "made"), sockets):
            assert stat.S_IMODE(os.stat(created).st_mode) == 0o700
        assert stat.S_ISSOCK(os.lstat(os.path.join(sockets, "minimal.sock")).st_mode)
    finally:
        assert component.stop() == 0


def stale_socket(path: str) -> None:
    """A socket file nobody listens on, as a crashed process leaves it."""
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(path)
    leftover.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode) and not accepts(path)


def test_stale_socket_is_replaced(folder):
    stale_socket(os.path.join(folder, "everything.sock"))
    component = ComponentProcess("everything.py", folder, "--log-level", "info")
    try:
        component.wait_ready()
        assert "removed the stale socket" in component.log()
    finally:
        assert component.stop() == 0


def test_refuses_a_file_that_is_not_a_socket(folder):
    path = os.path.join(folder, "everything.sock")
    with open(path, "w") as handle:
        handle.write("precious")
    component = ComponentProcess("everything.py", folder)
    assert component.wait_exit() == 1
    assert "exists and is a regular file, not a socket; refusing to replace it" in component.log()
    with open(path) as handle:
        assert handle.read() == "precious"
    component.stop()


def test_refuses_a_live_socket(folder):
    path = os.path.join(folder, "everything.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    try:
        component = ComponentProcess("everything.py", folder)
        assert component.wait_exit() == 1
        assert "is in use: another process is serving it" in component.log()
        assert accepts(path)
        component.stop()
    finally:
        listener.close()


def test_prepare_socket_unit(folder):
    with pytest.raises(SocketPathError, match="at most 107"):
        prepare_socket(os.path.join(folder, "x" * 120 + ".sock"))
    os.mkdir(os.path.join(folder, "dir.sock"))
    with pytest.raises(SocketPathError, match="is a directory"):
        prepare_socket(os.path.join(folder, "dir.sock"))
    assert prepare_socket(os.path.join(folder, "fresh.sock")) is False
    stale_socket(os.path.join(folder, "old.sock"))
    assert prepare_socket(os.path.join(folder, "old.sock")) is True
    assert not os.path.lexists(os.path.join(folder, "old.sock"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_graceful_stop_ends_streams_and_removes_the_socket(folder, signum):
    component = ComponentProcess("everything.py", folder).wait_ready()
    channel = component.channel
    m = meta("stopping")
    # One of every kind of long-lived stream.
    pubsub = pubsub_pb2_grpc.PubSubStub(channel)
    pubsub.Init(pubsub_pb2.PubSubInitRequest(), metadata=m)
    pull = pubsub.PullMessages(iter(RequestQueue(pubsub_pb2.PullMessagesRequest(
        topic=pubsub_pb2.Topic(name="idle")))), metadata=m)
    inputs = bindings_pb2_grpc.InputBindingStub(channel)
    inputs.Init(bindings_pb2.InputBindingInitRequest(), metadata=m)
    read = inputs.Read(iter(RequestQueue()), metadata=m)
    tail = logs_pb2_grpc.ComponentLogsStub(channel).Tail(logs_pb2.TailLogsRequest())
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
    state_pb2_grpc.StateStoreStub(channel).Init(state_pb2.InitRequest(), metadata=m)
    readers = {name: StreamReader(call) for name, call in
               (("PullMessages", pull), ("Read", read), ("Tail", tail), ("Watch", watch))}
    assert readers["Watch"].next().status == health_pb2.HealthCheckResponse.SERVING
    assert readers["Read"].next() is not None  # streams are open and flowing

    component.signal(signum)
    assert component.wait_exit(20) == 0, component.log()
    assert not os.path.lexists(component.socket)
    for name, reader in readers.items():
        assert wait_until(reader.ended.is_set, 5), f"{name} still open"
        # Ended by the server: cleanly (OK), or cut when the process went away.
        assert reader.error is None or reader.error.code() in (
            grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), (name, reader.error)
    assert "closed state store instance 'stopping'" in component.log()
    component.stop()


def test_streams_end_cleanly_before_exit(folder):
    """The streams end with status OK (not cut by the process exiting): the
    server ends them first and waits for them."""
    component = ComponentProcess("everything.py", folder, "--stop-timeout", "10").wait_ready()
    channel = component.channel
    m = meta("clean")
    pubsub = pubsub_pb2_grpc.PubSubStub(channel)
    pubsub.Init(pubsub_pb2.PubSubInitRequest(), metadata=m)
    requests = RequestQueue(pubsub_pb2.PullMessagesRequest(topic=pubsub_pb2.Topic(name="t")))
    pull = pubsub.PullMessages(iter(requests), metadata=m)
    tail = logs_pb2_grpc.ComponentLogsStub(channel).Tail(logs_pb2.TailLogsRequest())
    readers = [StreamReader(pull), StreamReader(tail)]
    pubsub.Publish(pubsub_pb2.PublishRequest(topic="t", data=b"x"), metadata=m)
    assert readers[0].next() is not None
    component.signal(signal.SIGTERM)
    assert component.wait_exit(20) == 0
    for reader in readers:
        assert wait_until(reader.ended.is_set, 5)
    assert pull.code() == grpc.StatusCode.OK and tail.code() == grpc.StatusCode.OK
    requests.close()
    component.stop()


def test_stop_does_not_hang_on_a_generator_that_ignores_active(folder):
    component = ComponentProcess("stubborn.py", folder, socket_name="stubborn").wait_ready()
    stub = pubsub_pb2_grpc.PubSubStub(component.channel)
    stub.Init(pubsub_pb2.PubSubInitRequest(), metadata=meta("x"))
    requests = RequestQueue(pubsub_pb2.PullMessagesRequest(topic=pubsub_pb2.Topic(name="t")))
    reader = StreamReader(stub.PullMessages(iter(requests), metadata=meta("x")))
    assert wait_until(lambda: "pulling t" in component.log(), 10)  # the generator runs
    assert not reader.ended.is_set()
    component.signal(signal.SIGTERM)
    assert component.wait_exit(20) == 0, component.log()
    assert not os.path.lexists(component.socket)
    assert "streams did not end within 0.5 s" in component.log()
    requests.close()
    component.stop()
