#!/usr/bin/env python3
"""Every building block in memory, on apiary-component: the test suite's component.

    python3 everything.py [--socket PATH] [--name NAME] [--log-buffer N] [--log-level LEVEL]

- state (MemoryStore): per-key versions as etags ("1", "2", ...); a non-numeric
  etag is EtagInvalid, a stale one (or one on a missing key) EtagMismatch;
  first-write refuses an existing key; transact is all-or-nothing; query
  answers every key in order (pagination.limit honoured); multi_max_size 10.
  Init metadata `fail` makes Init fail (InvalidArgument).  Get of key
  `boom` raises a RuntimeError (INTERNAL).
- pub/sub (MemoryPubSub): a queue per topic and instance; a refused message goes
  back to the head of its queue and is delivered again (same id); what a
  stream still holds when it ends goes back too.  Payload b"fail" is refused
  by publish (so bulk publish reports that entry failed).
- input binding (Ticker): `count` ticks (metadata, default 3) `tick-N`; a
  refused tick is sent again; every reply is recorded (output op `acks`).
- output binding (Tools): operations echo, bytes, none, raise, log, acks.
- secret store (MetadataSecrets): secrets from Init metadata `secret.NAME`.
- hello (Greeter): "<hello_string or hello>, <name>".
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import logging
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "src"))

import grpc  # noqa: E402

from apiary_component import (ComponentError, EtagInvalid, EtagMismatch, Hello,  # noqa: E402
                              InputBinding, InvalidArgument, NotFound, OutputBinding, PubSub,
                              SecretStore, StateStore, Unavailable, Unsupported, install_logging,
                              log, parse_level, serve)
from apiary_component.proto import bindings_pb2, pubsub_pb2, state_pb2  # noqa: E402

LOG = logging.getLogger("everything")
FIRST_WRITE = state_pb2.StateOptions.CONCURRENCY_FIRST_WRITE


class MemoryStore(StateStore):
    logger = logging.getLogger("everything.state")

    def init(self, metadata):
        if "fail" in metadata:
            raise InvalidArgument(f"Init refused: {metadata['fail']}")
        self.lock = threading.Lock()
        self.items: dict[str, tuple[bytes, int, str]] = {}
        self.generation = metadata.get("generation", "")
        log(self.logger, logging.INFO, f"initialised state store instance {self.name}",
            instance=self.name)

    def features(self):
        return ["ETAG", "TRANSACTIONAL", "QUERY_API"]

    def close(self):
        print(f"closed state store instance {self.name!r}", file=sys.stderr, flush=True)

    def get(self, request):
        if request.key == "boom":
            raise RuntimeError("the store exploded")
        log(self.logger, logging.DEBUG, f"get {request.key}", instance=self.name, key=request.key)
        with self.lock:
            found = self.items.get(request.key)
        if found is None:
            return None
        data, version, content_type = found
        metadata = {"generation": self.generation} if self.generation else {}
        return state_pb2.GetResponse(data=data, etag=state_pb2.Etag(value=str(version)),
                                     content_type=content_type, metadata=metadata)

    def check(self, request, staged):
        current = staged[request.key] if request.key in staged else self.items.get(request.key)
        etag = request.etag.value if request.HasField("etag") else ""
        if etag:
            if not etag.isdigit():
                raise EtagInvalid(f"invalid etag {etag!r}: etags are numbers",
                                  fields={"key": request.key})
            if current is None or str(current[1]) != etag:
                raise EtagMismatch(f"etag mismatch for key {request.key!r}",
                                   fields={"key": request.key})
        elif request.options.concurrency == FIRST_WRITE and current is not None:
            raise EtagMismatch(f"first-write: key {request.key!r} exists")
        return current

    def apply(self, operations):
        with self.lock:
            staged = {}
            for kind, request in operations:
                current = self.check(request, staged)
                if kind == "set":
                    version = (current[1] if current else 0) + 1
                    staged[request.key] = (bytes(request.value), version, request.content_type)
                else:
                    staged[request.key] = None
            for key, value in staged.items():
                if value is None:
                    self.items.pop(key, None)
                else:
                    self.items[key] = value

    def set(self, request):
        self.apply([("set", request)])

    def delete(self, request):
        self.apply([("delete", request)])

    def bulk_set(self, requests):
        self.apply([("set", request) for request in requests])

    def bulk_delete(self, requests):
        self.apply([("delete", request) for request in requests])

    def transact(self, request):
        operations = []
        for operation in request.operations:
            kind = operation.WhichOneof("request")
            if kind is None:
                raise InvalidArgument("an operation carries neither set nor delete")
            operations.append((kind, getattr(operation, kind)))
        self.apply(operations)

    def query(self, request):
        with self.lock:
            keys = sorted(self.items)
            limit = request.query.pagination.limit
            if limit:
                keys = keys[:limit]
            return state_pb2.QueryResponse(items=[
                state_pb2.QueryItem(key=key, data=self.items[key][0],
                                    etag=state_pb2.Etag(value=str(self.items[key][1])))
                for key in keys])

    def multi_max_size(self):
        return 10


class MemoryPubSub(PubSub):
    logger = logging.getLogger("everything.pubsub")

    def init(self, metadata):
        self.cond = threading.Condition()
        self.queues: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.ids = itertools.count(1)

    def features(self):
        return []

    def publish(self, request):
        if bytes(request.data) == b"fail":
            raise RuntimeError("refused payload")
        with self.cond:
            message = pubsub_pb2.PullMessagesResponse(
                data=request.data, topic_name=request.topic, metadata=request.metadata,
                content_type=request.content_type, id=f"m-{next(self.ids)}")
            self.queues[request.topic].append(message)
            self.cond.notify_all()

    def pull_messages(self, subscription):
        queue = self.queues[subscription.topic]
        held: dict[str, object] = {}

        def on_ack(message_id, error):
            with self.cond:
                message = held.pop(message_id, None)
                if message is not None and error is not None:
                    queue.appendleft(message)  # delivered again, same id
                self.cond.notify_all()

        subscription.on_ack(on_ack)
        try:
            while subscription.active:
                with self.cond:
                    if not queue:
                        self.cond.wait(0.1)
                        continue
                    message = queue.popleft()
                    held[message.id] = message
                yield message
        finally:
            with self.cond:
                for message in reversed(list(held.values())):
                    queue.appendleft(message)
                held.clear()
                self.cond.notify_all()


ACKS: list = []  # every input-binding reply, for the output operation "acks"
ACKS_LOCK = threading.Lock()


class Ticker(InputBinding):
    logger = logging.getLogger("everything.bindings")

    def init(self, metadata):
        self.count = int(metadata.get("count", "3"))

    def read(self, stream):
        again = collections.deque()
        cond = threading.Condition()

        def on_ack(message_id, data, error):
            with ACKS_LOCK:
                ACKS.append({"instance": self.name, "id": message_id, "data": data.decode(),
                             "error": error})
            if error is not None:
                with cond:
                    again.append(message_id)
                    cond.notify_all()

        stream.on_ack(on_ack)
        for n in range(1, self.count + 1):
            yield bindings_pb2.ReadResponse(data=f"tick-{n}".encode(), content_type="text/plain",
                                            metadata={"n": str(n)})
        while stream.active:
            with cond:
                if not again:
                    cond.wait(0.1)
                    continue
                message_id = again.popleft()
            yield bindings_pb2.ReadResponse(data=f"tick-{message_id}".encode(),
                                            message_id=message_id)


ERRORS = {
    "etag-mismatch": lambda message: EtagMismatch(message),
    "etag-invalid": lambda message: EtagInvalid(message),
    "not-found": lambda message: NotFound(message),
    "invalid": lambda message: InvalidArgument(message),
    "unsupported": lambda message: Unsupported(message),
    "unavailable": lambda message: Unavailable(message),
    "custom": lambda message: ComponentError(message, code=grpc.StatusCode.RESOURCE_EXHAUSTED),
    "internal": lambda message: KeyError(message),
    "empty": lambda message: RuntimeError(),
}


class Tools(OutputBinding):
    logger = logging.getLogger("everything.bindings")

    def operations(self):
        return ["echo", "bytes", "none", "raise", "log", "acks"]

    def invoke(self, request):
        operation = request.operation
        if operation == "echo":
            return bindings_pb2.InvokeResponse(data=request.data, metadata=request.metadata,
                                               content_type="text/plain")
        if operation == "bytes":
            return b"raw:" + bytes(request.data)
        if operation == "none":
            return None
        if operation == "raise":
            kind = request.metadata.get("error", "internal")
            message = request.data.decode() or "x" * int(request.metadata.get("length", "10"))
            raise ERRORS[kind](message)
        if operation == "log":
            level = parse_level(request.metadata.get("level", "info"))
            log(logging.getLogger(request.metadata.get("logger", "everything.tools")), level,
                request.data.decode(), instance=self.name, marker=request.metadata.get("marker"))
            return None
        if operation == "acks":
            with ACKS_LOCK:
                return json.dumps(ACKS).encode()
        raise Unsupported(f"no operation {operation!r}")


class MetadataSecrets(SecretStore):
    def init(self, metadata):
        self.secrets = {name[len("secret."):]: value for name, value in metadata.items()
                        if name.startswith("secret.")}

    def features(self):
        return ["MULTIPLE_KEY_VALUES_PER_SECRET"]

    def get(self, request):
        if request.key not in self.secrets:
            raise NotFound(f"no secret {request.key!r}")
        return {request.key: self.secrets[request.key]}

    def bulk_get(self, request):
        return {name: {name: value} for name, value in self.secrets.items()}


class Greeter(Hello):
    def init(self, config):
        self.greeting = config.hello_string or "hello"

    def say_hello(self, name):
        return f"{self.greeting}, {name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", default=None)
    parser.add_argument("--name", default="everything")
    parser.add_argument("--log-buffer", type=int, default=1000)
    parser.add_argument("--log-level", type=parse_level, default=parse_level("warning"))
    parser.add_argument("--stop-timeout", type=float, default=3.0)
    args = parser.parse_args()
    store = install_logging("everything", echo_level=args.log_level, capacity=args.log_buffer)
    serve(args.name, MemoryStore, MemoryPubSub, Ticker, Tools, MetadataSecrets, Greeter,
          socket_path=args.socket, log_store=store, logger=LOG, stop_timeout=args.stop_timeout)


if __name__ == "__main__":
    main()
