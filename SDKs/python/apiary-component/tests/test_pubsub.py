"""PubSub: Publish, BulkPublish, PullMessages with acknowledgements, Pause/Resume."""

import grpc
import pytest
from conftest import RequestQueue, StreamReader, initialised, meta, wait_until

from apiary_component.proto import common_pb2, pubsub_pb2, pubsub_pb2_grpc

INSTANCE = "pubsub-tests"


@pytest.fixture(scope="module")
def pubsub(everything):
    return initialised(everything, pubsub_pb2_grpc.PubSubStub, pubsub_pb2.PubSubInitRequest(), INSTANCE)


def publish(stub, topic, *payloads):
    for payload in payloads:
        stub.Publish(pubsub_pb2.PublishRequest(topic=topic, data=payload, content_type="text/plain",
                                               metadata={"p": payload.decode()}),
                     metadata=meta(INSTANCE), timeout=5)


class Subscriber:
    def __init__(self, stub, topic):
        self.requests = RequestQueue(pubsub_pb2.PullMessagesRequest(
            topic=pubsub_pb2.Topic(name=topic, metadata={"m": "1"})))
        self.call = stub.PullMessages(iter(self.requests), metadata=meta(INSTANCE))
        self.reader = StreamReader(self.call)

    def ack(self, message_id, error=None):
        request = pubsub_pb2.PullMessagesRequest(ack_message_id=message_id)
        if error is not None:
            request.ack_error.message = error
        self.requests.put(request)

    def close(self):
        self.call.cancel()
        self.requests.close()


def test_features_ping_pause_resume(pubsub):
    m = meta(INSTANCE)
    assert list(pubsub.Features(common_pb2.FeaturesRequest(), metadata=m).features) == []
    pubsub.Ping(common_pb2.PingRequest(), metadata=m)
    for call in (pubsub.Pause, pubsub.Resume):
        with pytest.raises(grpc.RpcError) as raised:
            call(pubsub_pb2.PauseRequest() if call is pubsub.Pause else pubsub_pb2.ResumeRequest(),
                 metadata=m)
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_pull_ack_and_nack(pubsub):
    publish(pubsub, "orders", b"a", b"b", b"c")
    subscriber = Subscriber(pubsub, "orders")
    try:
        first = [subscriber.reader.next() for _ in range(3)]
        assert [m.data for m in first] == [b"a", b"b", b"c"]
        assert all(m.topic_name == "orders" and m.content_type == "text/plain"
                   and m.metadata["p"] == m.data.decode() and m.id for m in first)
        subscriber.ack(first[0].id)
        subscriber.ack(first[1].id, error="app failed")  # the backend redelivers it
        again = subscriber.reader.next()
        assert again is not None and again.id == first[1].id and again.data == b"b"
        subscriber.ack(again.id)
        subscriber.ack(first[2].id)
        assert subscriber.reader.next(0.5) is None  # nothing more
    finally:
        subscriber.close()


def test_stream_end_hands_back_what_it_held(pubsub):
    publish(pubsub, "handback", b"x", b"y")
    subscriber = Subscriber(pubsub, "handback")
    held = [subscriber.reader.next(), subscriber.reader.next()]
    assert all(held)
    subscriber.close()  # unacknowledged: the generator's finally puts them back
    second = Subscriber(pubsub, "handback")
    try:
        got = [second.reader.next(), second.reader.next()]
        assert sorted(m.id for m in got) == sorted(m.id for m in held)
    finally:
        second.close()


def test_half_close_ends_the_stream(pubsub):
    requests = RequestQueue(pubsub_pb2.PullMessagesRequest(topic=pubsub_pb2.Topic(name="quiet")))
    call = pubsub.PullMessages(iter(requests), metadata=meta(INSTANCE))
    reader = StreamReader(call)
    requests.close()
    assert wait_until(reader.ended.is_set, 5)
    assert reader.error is None and call.code() == grpc.StatusCode.OK


def test_first_request_must_name_the_topic(pubsub):
    requests = RequestQueue(pubsub_pb2.PullMessagesRequest(ack_message_id="1"))
    reader = StreamReader(pubsub.PullMessages(iter(requests), metadata=meta(INSTANCE)))
    assert wait_until(reader.ended.is_set, 5)
    requests.close()
    assert reader.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reader.error.details() == "the first PullMessages request must name the topic"


def test_pull_for_an_uninitialised_instance(pubsub):
    requests = RequestQueue(pubsub_pb2.PullMessagesRequest(topic=pubsub_pb2.Topic(name="t")))
    reader = StreamReader(pubsub.PullMessages(iter(requests), metadata=meta("nobody")))
    assert wait_until(reader.ended.is_set, 5)
    requests.close()
    assert reader.error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_bulk_publish_reports_failed_entries(pubsub):
    answer = pubsub.BulkPublish(pubsub_pb2.BulkPublishRequest(topic="bulk", entries=[
        pubsub_pb2.BulkMessageEntry(entry_id="1", event=b"fine"),
        pubsub_pb2.BulkMessageEntry(entry_id="2", event=b"fail"),
        pubsub_pb2.BulkMessageEntry(entry_id="3", event=b"also fine")]),
        metadata=meta(INSTANCE), timeout=5)
    assert [(e.entry_id, e.error) for e in answer.failed_entries] == [("2", "refused payload")]
    subscriber = Subscriber(pubsub, "bulk")
    try:
        got = [subscriber.reader.next(), subscriber.reader.next()]
        assert [m.data for m in got] == [b"fine", b"also fine"]
        for message in got:
            subscriber.ack(message.id)
    finally:
        subscriber.close()
