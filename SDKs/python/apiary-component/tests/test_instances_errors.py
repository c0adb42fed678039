"""Instance multiplexing on x-component-instance, and typed errors on the wire."""

import grpc
import pytest
from conftest import initialised, meta
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from apiary_component import EtagMismatch, bounded
from apiary_component.errors import status_of
from apiary_component.proto import (bindings_pb2, bindings_pb2_grpc, common_pb2, pubsub_pb2_grpc,
                                    state_pb2, state_pb2_grpc)


def failure(call):
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


# -- instances

def test_calls_for_uninitialised_names_fail(everything):
    stub = state_pb2_grpc.StateStoreStub(everything.channel)
    error = failure(lambda: stub.Get(state_pb2.GetRequest(key="k"), metadata=meta("nobody")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "instance nobody is not initialised"
    error = failure(lambda: stub.Features(common_pb2.FeaturesRequest()))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == ("instance (none: no x-component-instance header) is not "
                               "initialised")


def test_one_object_per_name(everything):
    stub = state_pb2_grpc.StateStoreStub(everything.channel)
    for name in ("left", "right"):
        stub.Init(state_pb2.InitRequest(), metadata=meta(name))
        stub.Set(state_pb2.SetRequest(key="k", value=name.encode()), metadata=meta(name))
    assert stub.Get(state_pb2.GetRequest(key="k"), metadata=meta("left")).data == b"left"
    assert stub.Get(state_pb2.GetRequest(key="k"), metadata=meta("right")).data == b"right"
    # Without a header, "" is a name like any other.
    stub.Init(state_pb2.InitRequest())
    assert stub.Get(state_pb2.GetRequest(key="k")) == state_pb2.GetResponse()
    # Each building block keeps its own objects: "left" is no pub/sub.
    pubsub = pubsub_pb2_grpc.PubSubStub(everything.channel)
    error = failure(lambda: pubsub.Features(common_pb2.FeaturesRequest(), metadata=meta("left")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_init_replaces_and_a_failed_init_keeps_the_previous(everything):
    stub = state_pb2_grpc.StateStoreStub(everything.channel)
    m = meta("again")

    def init(**properties):
        stub.Init(state_pb2.InitRequest(metadata=common_pb2.MetadataRequest(properties=properties)),
                  metadata=m)

    init(generation="1")
    stub.Set(state_pb2.SetRequest(key="k", value=b"v"), metadata=m)
    error = failure(lambda: init(fail="no thanks"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "Init refused: no thanks"
    kept = stub.Get(state_pb2.GetRequest(key="k"), metadata=m)
    assert kept.data == b"v" and kept.metadata["generation"] == "1"
    init(generation="2")  # a new object: the old one's data is gone
    assert stub.Get(state_pb2.GetRequest(key="k"), metadata=m) == state_pb2.GetResponse()


# -- errors

@pytest.fixture(scope="module")
def tools(everything):
    stub = initialised(everything, bindings_pb2_grpc.OutputBindingStub, bindings_pb2.OutputBindingInitRequest(),
                       "errors")
    return lambda kind, message="", **extra: failure(lambda: stub.Invoke(
        bindings_pb2.InvokeRequest(operation="raise", data=message.encode(),
                                   metadata={"error": kind, **extra}),
        metadata=meta("errors"), timeout=5))


def rich(error):
    """(google.rpc.Status from grpc-status-details-bin, its BadRequest violations)."""
    status = rpc_status.from_call(error)  # raises ValueError unless code and message agree
    if status is None:
        return None, None
    violations = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        assert detail.Unpack(bad), f"unexpected detail {detail.type_url}"
        violations.extend((v.field, v.description) for v in bad.field_violations)
    return status, violations


@pytest.mark.parametrize("kind, code", [("etag-mismatch", grpc.StatusCode.FAILED_PRECONDITION),
                                        ("etag-invalid", grpc.StatusCode.INVALID_ARGUMENT)])
def test_etag_errors_carry_one_bad_request_violation(tools, kind, code):
    error = tools(kind, "etag 3 is stale")
    assert error.code() == code and error.details() == "etag 3 is stale"
    status, violations = rich(error)
    assert status.code == code.value[0] and status.message == "etag 3 is stale"
    assert len(status.details) == 1 and violations == [("etag", "etag 3 is stale")]


@pytest.mark.parametrize("kind, code", [("not-found", grpc.StatusCode.NOT_FOUND),
                                        ("invalid", grpc.StatusCode.INVALID_ARGUMENT),
                                        ("unsupported", grpc.StatusCode.UNIMPLEMENTED),
                                        ("unavailable", grpc.StatusCode.UNAVAILABLE),
                                        ("custom", grpc.StatusCode.RESOURCE_EXHAUSTED)])
def test_plain_errors_have_no_details(tools, kind, code):
    error = tools(kind, f"a {kind} error")
    assert error.code() == code and error.details() == f"a {kind} error"
    assert rich(error) == (None, None)


def test_other_exceptions_are_internal_with_their_message(tools):
    error = tools("internal", "boom")
    assert error.code() == grpc.StatusCode.INTERNAL and error.details() == "'boom'"  # str(KeyError)
    error = tools("empty")
    assert error.code() == grpc.StatusCode.INTERNAL and error.details() == "RuntimeError"


@pytest.mark.parametrize("kind", ["internal", "invalid", "etag-mismatch"])
def test_long_messages_are_cut_in_the_middle(tools, kind):
    message = "".join(chr(ord("a") + n % 26) for n in range(5000))
    error = tools(kind, message)
    expected = bounded(repr(message) if kind == "internal" else message)
    assert error.details() == expected and len(expected) < 1024
    if kind == "etag-mismatch":
        status, violations = rich(error)
        assert status.message == expected and violations == [("etag", expected)]


def test_bounded_rule():
    assert bounded("x" * 1024) == "x" * 1024
    text = "a" * 768 + "b" * 1040 + "c" * 192
    assert bounded(text) == "a" * 768 + " … (1040 characters left out) … " + "c" * 192


def test_status_of_keeps_code_and_message_together():
    code, message, status = status_of(EtagMismatch("m" * 2000))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert status.code == code.value[0] and status.message == message == bounded("m" * 2000)
