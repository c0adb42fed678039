#!/usr/bin/env python3
"""An in-memory Dapr pluggable PubSub component, written in Python.

    python3 pubsub_component.py --socket PATH [--features LIST] [--calls FILE]
                                [--journal DIR]

Serves dapr.proto.components.v1.PubSub on unix:PATH together with gRPC server
reflection from the grpcio-reflection package (which speaks
grpc.reflection.v1alpha only, like the Python components found in the wild).

Behaviour:
  * Each configured instance (gRPC metadata header `x-component-instance`,
    "" when absent) has its own topics, as Dapr's SDKs keep one component
    instance per header value.
  * Publish / BulkPublish append to the topic's queue.
  * PullMessages: the first request names the topic; the component then
    streams queued messages, each with a unique `id`.  Every later request
    acknowledges one delivery by `ack_message_id`; with `ack_error` set the
    message is put back at the head of the queue and delivered again (same
    id), otherwise it is dropped.  Several streams on one topic compete for
    messages.  Deliveries still unacknowledged when a stream ends go back to
    the queue.  A stream lasts until the caller cancels it (a half-close only
    stops acknowledgements).
  * Features answers --features (default BULK_PUBSUB, which BulkPublish
    really implements); Ping answers; Pause/Resume answer UNIMPLEMENTED.
  * --calls FILE appends one JSON line per call (method, instance, and for
    Init the properties) so a test can check what the sidecar sent.
  * Without --journal everything lives in memory and dies with the process.
    With --journal DIR, messages survive a crash (`kill -9`), at least once:
      - every message Publish / BulkPublish accepts is appended to a journal
        file in DIR, and the file flushed (no fsync: a killed process loses
        nothing, a crashed machine may), before the call answers;
      - every acknowledgement without `ack_error` appends an ack record;
      - the first Init of an instance in a process (or, here, its first
        Publish/PullMessages if that comes earlier) reloads the instance's
        journal files: every message published and never acknowledged is
        queued again, in publish order, with its original id.  The files are
        compacted then (rewritten with only those messages; a file with none
        left is removed).
    So after `kill -9` and a restart with the same --journal, messages that
    were undelivered, in flight or acknowledged with an error are delivered
    again; duplicates are possible (an ack lost in the crash), losses are
    not.  One process per DIR.  See Journal for the file format.
  * Init of an instance that is already known in this process changes
    nothing: queued and in-flight messages stay, the journal is not reread.
Exits cleanly on SIGTERM/SIGINT and removes its socket file.
"""

from __future__ import annotations

import argparse
import base64
import collections
import itertools
import json
import os
import sys
import threading
import time
import uuid
from concurrent import futures
from urllib.parse import quote, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

fixturelib.ensure_stubs()

import grpc  # noqa: E402
from grpc_reflection.v1alpha import reflection  # noqa: E402

# Import the whole component contract so that reflection can answer for any
# of its files, as a component built on a complete stubs package would.
from dapr.proto.components.v1 import bindings_pb2  # noqa: E402,F401
from dapr.proto.components.v1 import common_pb2  # noqa: E402
from dapr.proto.components.v1 import pubsub_pb2  # noqa: E402
from dapr.proto.components.v1 import pubsub_pb2_grpc  # noqa: E402
from dapr.proto.components.v1 import secretstore_pb2  # noqa: E402,F401
from dapr.proto.components.v1 import state_pb2  # noqa: E402,F401

PUBSUB_SERVICE = pubsub_pb2.DESCRIPTOR.services_by_name["PubSub"].full_name
INSTANCE_HEADER = "x-component-instance"


def instance_of(context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == INSTANCE_HEADER:
            return value
    return ""


class Message:
    __slots__ = ("id", "topic", "data", "metadata", "content_type", "deliveries")

    def __init__(self, topic, data, metadata, content_type, id=None):  # noqa: A002
        self.id = id or str(uuid.uuid4())
        self.topic = topic
        self.data = bytes(data)
        self.metadata = dict(metadata)
        self.content_type = content_type
        self.deliveries = 0


class JournalError(Exception):
    """The journal could not be written or read; the call must fail."""


class Journal:
    """Append-only JSON-lines files in one folder, one per (instance, topic).

    File name: quote(instance) + "@" + quote(topic) + ".jsonl", where quote
    is urllib.parse.quote(..., safe="") (so "@" and "/" are always escaped;
    the instance "" gives "@orders.jsonl").  Each line is one JSON object:

      {"op": "publish", "id": ID, "instance": I, "topic": T,
       "data": BASE64, "contentType": CT, "metadata": {..}, "t": UNIX_TIME}
      {"op": "ack", "id": ID, "t": UNIX_TIME}

    `t` is when the line was written (compaction rewrites it).  Lines are
    written whole and flushed at once.  Reading skips lines that do not parse,
    and a last line without its newline (a write cut short by a crash, whose
    call never answered) is dropped.  A message is pending from its publish
    line until an ack line with its id.
    """

    SUFFIX = ".jsonl"
    MAX_NAME = 255

    def __init__(self, folder: str):
        self.folder = os.path.abspath(folder)
        os.makedirs(self.folder, exist_ok=True)
        self._lock = threading.Lock()
        self._handles: dict[tuple[str, str], object] = {}

    @staticmethod
    def _prefix(instance: str) -> str:
        return quote(instance, safe="") + "@"

    def path(self, instance: str, topic: str) -> str:
        name = self._prefix(instance) + quote(topic, safe="") + self.SUFFIX
        if len(name.encode()) > self.MAX_NAME:
            raise JournalError(f"journal file name for instance {instance!r} and topic "
                               f"{topic!r} is longer than {self.MAX_NAME} bytes")
        return os.path.join(self.folder, name)

    def _append(self, instance: str, topic: str, records: list) -> None:
        text = "".join(json.dumps(record, sort_keys=True) + "\n" for record in records).encode()
        with self._lock:
            try:
                handle = self._handles.get((instance, topic))
                if handle is None:
                    handle = self._open(self.path(instance, topic))
                    self._handles[(instance, topic)] = handle
                handle.write(text)
                handle.flush()
            except OSError as error:
                # Reopen next time; _open ends a line a failed write left open.
                broken = self._handles.pop((instance, topic), None)
                if broken is not None:
                    try:
                        broken.close()
                    except OSError:
                        pass
                raise JournalError(f"cannot write the journal: {error}") from error

    @staticmethod
    def _open(path: str):
        handle = open(path, "a+b")
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")  # never glue a record to a cut-off one
        return handle

    @staticmethod
    def _publish_record(instance: str, message: Message, now: float) -> dict:
        return {
            "op": "publish", "id": message.id, "instance": instance, "topic": message.topic,
            "data": base64.b64encode(message.data).decode("ascii"),
            "contentType": message.content_type, "metadata": message.metadata, "t": now,
        }

    def published(self, instance: str, messages: list) -> None:
        now = time.time()
        by_topic: dict[str, list] = collections.defaultdict(list)
        for message in messages:
            by_topic[message.topic].append(Journal._publish_record(instance, message, now))
        for topic, records in by_topic.items():
            self._append(instance, topic, records)

    def acked(self, instance: str, message: Message) -> None:
        self._append(instance, message.topic,
                     [{"op": "ack", "id": message.id, "t": time.time()}])

    @staticmethod
    def _read(path: str, topic: str) -> dict:
        """The pending messages of one file, by id, in publish order."""
        with open(path, "rb") as handle:
            raw = handle.read()
        pending: dict[str, Message] = {}
        complete, _newline, _partial = raw.rpartition(b"\n")
        for line in complete.split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                op, message_id = record["op"], record["id"]
                if op == "publish":
                    pending[message_id] = Message(
                        record.get("topic") or topic,
                        base64.b64decode(record.get("data", "")),
                        record.get("metadata") or {}, record.get("contentType", ""),
                        id=message_id)
                elif op == "ack":
                    pending.pop(message_id, None)
            except (ValueError, KeyError, TypeError) as error:
                fixturelib.log(f"journal {path}: skipping a bad line ({error}): {line[:200]!r}")
        return pending

    def load(self, instance: str) -> dict[str, list]:
        """The instance's pending messages by topic; compacts its files."""
        prefix = self._prefix(instance)
        loaded: dict[str, list] = {}
        with self._lock:
            try:
                names = sorted(os.listdir(self.folder))
                for name in names:
                    if not (name.startswith(prefix) and name.endswith(self.SUFFIX)):
                        continue
                    topic = unquote(name[len(prefix):-len(self.SUFFIX)])
                    handle = self._handles.pop((instance, topic), None)
                    if handle is not None:
                        handle.close()
                    path = os.path.join(self.folder, name)
                    pending = self._read(path, topic)
                    self._compact(path, instance, list(pending.values()))
                    if pending:
                        loaded[topic] = list(pending.values())
            except OSError as error:
                raise JournalError(f"cannot read the journal: {error}") from error
        return loaded

    @staticmethod
    def _compact(path: str, instance: str, messages: list) -> None:
        if not messages:
            os.unlink(path)
            return
        temporary = path + ".compact"
        now = time.time()
        with open(temporary, "w", encoding="utf-8") as handle:
            for message in messages:
                handle.write(json.dumps(Journal._publish_record(instance, message, now),
                                        sort_keys=True) + "\n")
        os.replace(temporary, path)

    def close(self) -> None:
        with self._lock:
            for handle in self._handles.values():
                handle.close()
            self._handles.clear()


class Broker:
    """Per (instance, topic) FIFO queues shared by all subscriber streams,
    optionally backed by a Journal (see the module docstring)."""

    def __init__(self, journal: Journal | None = None):
        self._lock = threading.Condition()
        self._queues: dict[tuple[str, str], collections.deque] = collections.defaultdict(
            collections.deque)
        self._journal = journal
        self._restored: set[str] = set()

    def restore(self, instance: str) -> int:
        """Queues the instance's pending journal messages, once per broker and
        instance; answers how many were queued (0 without a journal or when
        already done).  Raises JournalError."""
        with self._lock:
            return self._restore_locked(instance)

    def _restore_locked(self, instance: str) -> int:
        if self._journal is None or instance in self._restored:
            return 0
        loaded = self._journal.load(instance)
        self._restored.add(instance)
        count = 0
        for topic, messages in loaded.items():
            # Nothing of this instance was queued before its restore.
            self._queues[(instance, topic)].extend(messages)
            count += len(messages)
        if count:
            fixturelib.log(f"journal: instance {instance!r}: {count} unacknowledged "
                           f"message(s) queued again from {self._journal.folder}")
            self._lock.notify_all()
        return count

    def publish_all(self, instance: str, messages: list) -> None:
        """Journals (when there is a journal) and queues the messages; raises
        JournalError when they cannot be journaled (nothing is queued then)."""
        with self._lock:
            self._restore_locked(instance)
            if self._journal is not None:
                self._journal.published(instance, messages)
            for message in messages:
                self._queues[(instance, message.topic)].append(message)
            self._lock.notify_all()

    def acked(self, instance: str, message: Message) -> None:
        """Records a successful acknowledgement (raises JournalError)."""
        if self._journal is not None:
            self._journal.acked(instance, message)

    def requeue(self, instance: str, message: Message) -> None:
        with self._lock:
            self._queues[(instance, message.topic)].appendleft(message)
            self._lock.notify_all()

    def take(self, instance: str, topic: str, alive, timeout: float = 0.2):
        """Next message for the topic, or None once alive() turns false."""
        key = (instance, topic)
        with self._lock:
            self._restore_locked(instance)
            while True:
                queue = self._queues[key]
                if queue:
                    return queue.popleft()
                if not alive():
                    return None
                self._lock.wait(timeout)

    def wake(self) -> None:
        with self._lock:
            self._lock.notify_all()


class CallLog:
    def __init__(self, path: str | None):
        self._path = path
        self._lock = threading.Lock()

    def record(self, **entry) -> None:
        if not self._path:
            return
        line = json.dumps(entry, sort_keys=True)
        with self._lock, open(self._path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class PubSubServicer(pubsub_pb2_grpc.PubSubServicer):
    def __init__(self, features: list[str], calls: CallLog, journal: Journal | None = None):
        self._features = features
        self._calls = calls
        self._journal = journal
        self._broker = Broker(journal)
        self._streams = itertools.count(1)

    def _broker_for(self, instance: str, context) -> Broker:
        """The broker holding the instance's topics.  One shared broker here
        (its queues are keyed by instance); multi_component.py overrides this
        to keep one broker per initialised instance."""
        return self._broker

    def Init(self, request, context):
        properties = dict(request.metadata.properties)
        instance = instance_of(context)
        self._calls.record(method="Init", instance=instance, properties=properties)
        fixturelib.debug(f"Init instance={instance!r} properties={properties}")
        try:
            self._broker.restore(instance)  # once per instance; later Inits keep the queues
        except JournalError as error:
            context.abort(grpc.StatusCode.INTERNAL, str(error))
        return pubsub_pb2.PubSubInitResponse()

    def Features(self, request, context):
        self._calls.record(method="Features", instance=instance_of(context))
        return common_pb2.FeaturesResponse(features=self._features)

    def Ping(self, request, context):
        self._calls.record(method="Ping", instance=instance_of(context))
        return common_pb2.PingResponse()

    def _publish(self, method: str, request, context, messages, **fields) -> None:
        """What Publish and BulkPublish share: refuses a request without a topic, records
        the call (`fields` added), and hands messages(request) to the instance's broker,
        all journaled and queued or none."""
        instance = instance_of(context)
        if not request.topic:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "topic is required")
        self._calls.record(method=method, instance=instance, topic=request.topic, **fields)
        broker = self._broker_for(instance, context)
        try:
            broker.publish_all(instance, messages(request))
        except JournalError as error:
            context.abort(grpc.StatusCode.INTERNAL, str(error))

    def Publish(self, request, context):
        self._publish("Publish", request, context, lambda r: [Message(r.topic, r.data, r.metadata, r.content_type)],
                      pubsubName=request.pubsub_name)
        return pubsub_pb2.PublishResponse()

    def BulkPublish(self, request, context):
        def messages(r):
            found = []
            for entry in r.entries:
                metadata = dict(r.metadata)
                metadata.update(entry.metadata)
                found.append(Message(r.topic, entry.event, metadata, entry.content_type))
            return found

        self._publish("BulkPublish", request, context, messages, entries=len(request.entries))
        return pubsub_pb2.BulkPublishResponse()

    def PullMessages(self, request_iterator, context):
        instance = instance_of(context)
        stream_no = next(self._streams)
        try:
            first = next(request_iterator)
        except StopIteration:
            return
        topic = first.topic.name
        if not topic:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "the first PullMessages request must carry the topic")
        self._calls.record(method="PullMessages", instance=instance, topic=topic)
        broker = self._broker_for(instance, context)
        fixturelib.debug(f"PullMessages#{stream_no} instance={instance!r} topic={topic!r}")

        in_flight: dict[str, Message] = {}
        in_flight_lock = threading.Lock()
        closed = threading.Event()

        def read_acks():
            try:
                for ack in request_iterator:
                    with in_flight_lock:
                        message = in_flight.pop(ack.ack_message_id, None)
                    if message is None:
                        fixturelib.debug(f"PullMessages#{stream_no}: ack for unknown id "
                                       f"{ack.ack_message_id!r}")
                        continue
                    failed = ack.HasField("ack_error")
                    self._calls.record(method="Ack", instance=instance, topic=topic,
                                       id=message.id, ack=message.id,
                                       error=ack.ack_error.message if failed else None)
                    if failed:
                        broker.requeue(instance, message)
                    else:
                        try:
                            broker.acked(instance, message)
                        except JournalError as error:
                            # Not fatal: the message is delivered again after a restart.
                            fixturelib.log(f"PullMessages#{stream_no}: {error}")
                # The sidecar half-closed its side: nothing more can be
                # acknowledged, but deliveries go on until the call ends.
            except Exception as error:  # the call was cancelled or broke
                fixturelib.debug(f"PullMessages#{stream_no}: ack reader stopped: {error!r}")
                closed.set()
                broker.wake()

        context.add_callback(broker.wake)
        reader = threading.Thread(target=read_acks, daemon=True,
                                  name=f"acks-{stream_no}")
        reader.start()

        def alive():
            return context.is_active() and not closed.is_set()

        try:
            while True:
                message = broker.take(instance, topic, alive)
                if message is None:
                    break
                if not alive():
                    broker.requeue(instance, message)
                    break
                message.deliveries += 1
                with in_flight_lock:
                    in_flight[message.id] = message
                yield pubsub_pb2.PullMessagesResponse(
                    data=message.data,
                    topic_name=message.topic,
                    metadata=message.metadata,
                    content_type=message.content_type,
                    id=message.id,
                )
        finally:
            closed.set()
            with in_flight_lock:
                leftovers = list(in_flight.values())
                in_flight.clear()
            for message in reversed(leftovers):
                broker.requeue(instance, message)
            fixturelib.debug(f"PullMessages#{stream_no} ended, {len(leftovers)} requeued")

    # Pause and Resume are inherited from the generated base class, which
    # answers UNIMPLEMENTED -- what the contract allows older components.


def add_journal_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", default=None, metavar="DIR",
                        help="keep published and acknowledged messages in journal files "
                             "in DIR (created if missing) and queue unacknowledged ones "
                             "again after a restart; default: memory only")


def main() -> int:
    parser = argparse.ArgumentParser(description="In-memory Dapr pluggable PubSub component")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument("--features", default="BULK_PUBSUB",
                        help="comma-separated Features answer (default: %(default)s; '' for none)")
    parser.add_argument("--calls", default=None,
                        help="append one JSON line per received call to this file")
    add_journal_argument(parser)
    args = parser.parse_args()

    features = [f for f in (part.strip() for part in args.features.split(",")) if f]
    stop = fixturelib.termination_event()
    journal = Journal(args.journal) if args.journal else None

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    pubsub_pb2_grpc.add_PubSubServicer_to_server(
        PubSubServicer(features, CallLog(args.calls), journal), server)
    reflection.enable_server_reflection((PUBSUB_SERVICE, reflection.SERVICE_NAME), server)

    def started() -> None:
        fixturelib.log(f"serving {PUBSUB_SERVICE} on unix:{args.socket}"
                       + (f" (journal {journal.folder})" if journal else ""))

    return fixturelib.serve(server, args.socket, stop, started=started,
                            stopped=journal.close if journal is not None else None, say_stopped=True)


if __name__ == "__main__":
    sys.exit(main())
