"""StateStore and its optional parts, on everything.py (MemoryStore) and minimal.py."""

import grpc
import pytest
from conftest import ComponentProcess, initialised, meta
from grpc_status import rpc_status

from apiary_component.proto import common_pb2, state_pb2, state_pb2_grpc

FIRST_WRITE = state_pb2.StateOptions.CONCURRENCY_FIRST_WRITE


@pytest.fixture(scope="module")
def store(everything):
    return initialised(everything, state_pb2_grpc.StateStoreStub, state_pb2.InitRequest(), "state-tests")


def status(call):
    try:
        call()
    except grpc.RpcError as error:
        return error
    raise AssertionError("the call succeeded")


def etag_fields(error) -> list:
    from google.rpc import error_details_pb2
    found = []
    for detail in rpc_status.from_call(error).details:
        bad = error_details_pb2.BadRequest()
        assert detail.Unpack(bad)
        found.extend(v.field for v in bad.field_violations)
    return found


def test_features_and_ping(store):
    features = store.Features(common_pb2.FeaturesRequest(), metadata=meta("state-tests"), timeout=5)
    assert list(features.features) == ["ETAG", "TRANSACTIONAL", "QUERY_API"]
    assert store.Ping(common_pb2.PingRequest(), metadata=meta("state-tests"), timeout=5) == \
        common_pb2.PingResponse()


def test_set_get_delete_with_etags(store):
    m = meta("state-tests")
    store.Set(state_pb2.SetRequest(key="k", value=b"one", content_type="text/plain"), metadata=m)
    first = store.Get(state_pb2.GetRequest(key="k"), metadata=m)
    assert (first.data, first.etag.value, first.content_type) == (b"one", "1", "text/plain")
    store.Set(state_pb2.SetRequest(key="k", value=b"two", etag=state_pb2.Etag(value="1")), metadata=m)
    assert store.Get(state_pb2.GetRequest(key="k"), metadata=m).etag.value == "2"
    assert store.Get(state_pb2.GetRequest(key="missing"), metadata=m) == state_pb2.GetResponse()
    error = status(lambda: store.Delete(state_pb2.DeleteRequest(
        key="k", etag=state_pb2.Etag(value="1")), metadata=m))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and etag_fields(error) == ["etag"]
    error = status(lambda: store.Set(state_pb2.SetRequest(
        key="k", value=b"x", etag=state_pb2.Etag(value="two")), metadata=m))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and etag_fields(error) == ["etag"]
    store.Delete(state_pb2.DeleteRequest(key="k", etag=state_pb2.Etag(value="2")), metadata=m)
    assert store.Get(state_pb2.GetRequest(key="k"), metadata=m) == state_pb2.GetResponse()


def test_first_write(store):
    m = meta("state-tests")
    options = state_pb2.StateOptions(concurrency=FIRST_WRITE)
    store.Set(state_pb2.SetRequest(key="fw", value=b"a", options=options), metadata=m)
    error = status(lambda: store.Set(state_pb2.SetRequest(key="fw", value=b"b", options=options),
                                     metadata=m))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and etag_fields(error) == ["etag"]


def test_bulk_calls(store):
    m = meta("state-tests")
    store.BulkSet(state_pb2.BulkSetRequest(items=[
        state_pb2.SetRequest(key=f"b{i}", value=f"v{i}".encode()) for i in range(3)]), metadata=m)
    answer = store.BulkGet(state_pb2.BulkGetRequest(items=[
        state_pb2.GetRequest(key=key) for key in ("b0", "b1", "b2", "nope", "boom")]), metadata=m)
    items = {item.key: item for item in answer.items}
    assert [item.key for item in answer.items] == ["b0", "b1", "b2", "nope", "boom"]
    assert items["b1"].data == b"v1" and items["b1"].etag.value == "1"
    assert items["nope"] == state_pb2.BulkStateItem(key="nope")
    # The default bulk_get reports a failing key in its item, not as the call's status.
    assert items["boom"].error == "the store exploded" and not items["boom"].data
    error = status(lambda: store.BulkSet(state_pb2.BulkSetRequest(items=[
        state_pb2.SetRequest(key="b0", value=b"changed"),
        state_pb2.SetRequest(key="b1", value=b"x", etag=state_pb2.Etag(value="9"))]), metadata=m))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and etag_fields(error) == ["etag"]
    assert store.Get(state_pb2.GetRequest(key="b0"), metadata=m).data == b"v0"
    store.BulkDelete(state_pb2.BulkDeleteRequest(items=[
        state_pb2.DeleteRequest(key=f"b{i}") for i in range(3)]), metadata=m)
    assert all(store.Get(state_pb2.GetRequest(key=f"b{i}"), metadata=m) == state_pb2.GetResponse()
               for i in range(3))


def test_transact_all_or_nothing(everything, store):
    m = meta("state-tests")
    transactional = state_pb2_grpc.TransactionalStateStoreStub(everything.channel)
    store.Set(state_pb2.SetRequest(key="ta", value=b"a0"), metadata=m)

    def request(etag):
        return state_pb2.TransactionalStateRequest(operations=[
            state_pb2.TransactionalStateOperation(set=state_pb2.SetRequest(key="tx", value=b"new")),
            state_pb2.TransactionalStateOperation(set=state_pb2.SetRequest(
                key="ta", value=b"a1", etag=state_pb2.Etag(value=etag)))])

    error = status(lambda: transactional.Transact(request("7"), metadata=m))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and etag_fields(error) == ["etag"]
    assert store.Get(state_pb2.GetRequest(key="tx"), metadata=m) == state_pb2.GetResponse()
    transactional.Transact(request("1"), metadata=m)
    assert store.Get(state_pb2.GetRequest(key="tx"), metadata=m).data == b"new"
    assert store.Get(state_pb2.GetRequest(key="ta"), metadata=m).etag.value == "2"


def test_query_and_multi_max_size(everything, store):
    m = meta("query-tests")
    store.Init(state_pb2.InitRequest(), metadata=m)
    for key in ("q2", "q1", "q3"):
        store.Set(state_pb2.SetRequest(key=key, value=key.encode()), metadata=m)
    queriable = state_pb2_grpc.QueriableStateStoreStub(everything.channel)
    answer = queriable.Query(state_pb2.QueryRequest(query=state_pb2.Query(
        pagination=state_pb2.Pagination(limit=2))), metadata=m)
    assert [item.key for item in answer.items] == ["q1", "q2"]
    size = state_pb2_grpc.TransactionalStoreMultiMaxSizeStub(everything.channel).MultiMaxSize(
        state_pb2.MultiMaxSizeRequest(), metadata=m)
    assert size.max_size == 10


def test_minimal_store_serves_only_what_it_defines(folder):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase)
    component = ComponentProcess("minimal.py", folder, socket_name="minimal").wait_ready()
    try:
        services = set(ProtoReflectionDescriptorDatabase(component.channel).get_services())
        assert "dapr.proto.components.v1.StateStore" in services
        assert not services & {"dapr.proto.components.v1.TransactionalStateStore",
                               "dapr.proto.components.v1.QueriableStateStore",
                               "dapr.proto.components.v1.TransactionalStoreMultiMaxSize"}
        stub = state_pb2_grpc.StateStoreStub(component.channel)
        m = meta("minimal")
        stub.Init(state_pb2.InitRequest(), metadata=m)
        assert list(stub.Features(common_pb2.FeaturesRequest(), metadata=m).features) == []
        stub.BulkSet(state_pb2.BulkSetRequest(items=[
            state_pb2.SetRequest(key="x", value=b"1"), state_pb2.SetRequest(key="y", value=b"2")]),
            metadata=m)
        got = stub.BulkGet(state_pb2.BulkGetRequest(items=[
            state_pb2.GetRequest(key="x"), state_pb2.GetRequest(key="boom")]), metadata=m)
        assert [(i.key, i.data, i.error) for i in got.items] == [
            ("x", b"1", ""), ("boom", b"", "cannot read boom")]
        stub.BulkDelete(state_pb2.BulkDeleteRequest(items=[state_pb2.DeleteRequest(key="x")]),
                        metadata=m)
        assert stub.Get(state_pb2.GetRequest(key="x"), metadata=m) == state_pb2.GetResponse()
        error = status(lambda: state_pb2_grpc.TransactionalStateStoreStub(component.channel)
                       .Transact(state_pb2.TransactionalStateRequest(), metadata=m))
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        assert component.stop() == 0
