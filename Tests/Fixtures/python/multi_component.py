#!/usr/bin/env python3
"""One Dapr pluggable-component server exposing every building block.

    python3 multi_component.py --socket PATH [--calls FILE] [--hang-init]
                               [--hang-ping] [--hang-get-key KEY] [--features-state LIST]
                               [--garbage-get-key KEY] [--huge-get-key KEY]
                               [--journal DIR]
                               [--serve-logs [--log-buffer N] [--log-flood N]]

Serves, on unix:PATH, from one grpc.server:

  * dapr.proto.components.v1.StateStore and TransactionalStateStore: an
    in-memory store whose etags are per-key version numbers ("1", "2", ...).
    Features answers --features-state (default ETAG,TRANSACTIONAL; "" for
    none).  A non-empty etag must be numeric (else INVALID_ARGUMENT) and must
    equal the key's current version (else FAILED_PRECONDITION, also when the
    key is missing).  First-write concurrency without an etag fails with
    FAILED_PRECONDITION when the key exists.  Both etag errors carry exactly
    one google.rpc.BadRequest detail with one field violation on `etag`.
    Get of a missing key answers an empty GetResponse.  Values keep their
    content_type.  BulkSet, BulkDelete and Transact are all-or-nothing.
  * dapr.proto.components.v1.PubSub: pubsub_component.py's servicer, with one
    broker per initialised instance, made by the instance's first Init in the
    process; a later Init of the same instance keeps that broker (queued and
    in-flight messages stay).  --journal DIR makes the brokers durable as in
    pubsub_component.py (see its docstring and Journal): accepted messages and
    successful acks are appended to DIR/<instance>@<topic>.jsonl before the
    call answers, and the first Init of an instance queues again every
    message it published and never had acknowledged, so a restart after
    `kill -9` delivers them again (at least once).
  * dapr.proto.components.v1.OutputBinding: operations create, get, delete and
    list over an in-memory dict (the key is metadata["key"]).
  * dapr.proto.components.v1.InputBinding: Read streams "tick-N" events every
    `interval_ms` (Init property, default 100), at most `count` new events
    (default unlimited); ReadRequests acknowledge by message_id, and one with
    response_error has that event sent again later (same message_id).
  * dapr.proto.components.v1.SecretStore: secrets from the Init properties
    `secret.<name>.<key> = value` (`secret.<name> = value` gives {<name>: value}).
  * with --serve-logs only: apiary.proto.components.v1.ComponentLogs (Tail),
    see "Component logs" below.
  * grpc.reflection.v1alpha.ServerReflection (grpcio-reflection) listing all
    of the above.

Every service keeps one instance per `x-component-instance` header value ("" when
absent), created anew by that instance's Init (PubSub: by its first Init, see
above); any other call for an instance that was never initialised fails with
FAILED_PRECONDITION "instance X is not initialised".  StateStore and
TransactionalStateStore share their instances.

--hang-init makes every Init of every service wait until the server stops;
--hang-ping does the same for every Ping.  Faulty answers to a state Get whose
key ends in KEY (as --hang-get-key: Apiary prefixes keys with "<app-id>||"):
--garbage-get-key KEY answers GARBAGE_BYTES, bytes that are not a protobuf
GetResponse (a tag with the invalid wire type 7, then a length-delimited
field whose length runs past the end); --huge-get-key KEY answers a
well-formed GetResponse with HUGE_GET_BYTES (100 MiB) of data, made anew for
each call (the server's grpc.max_send_message_length is then unlimited; a
client with gRPC's default 4 MiB receive limit refuses it).  --calls FILE
appends one JSON line per call: {"service", "method", "instance", ...}, with
"properties" for Init and "ack"/"error" for acknowledgements.  Exits 0 on
SIGTERM/SIGINT and removes its socket file.

Component logs (--serve-logs; without it the service is neither served nor
listed, its stubs are not even loaded, and Tail answers UNIMPLEMENTED):

  * The fixture logs through Python logging, on the loggers
    multi_component.<Service> (e.g. multi_component.StateStore) and, for
    process events, multi_component; they do not propagate to the root logger
    and are off without --serve-logs.  Records: NOTICE "serving N services on
    unix:PATH" at start and "stopping on SIGTERM" at stop; INFO "initialised
    <Service> instance <name>" per Init (and journal restores); DEBUG per state
    Get/Set/Delete, BulkGet/BulkSet/BulkDelete/Transact, Publish/BulkPublish,
    binding Invoke, Read stream open/end and secret Get; TRACE per Ping;
    WARNING per refused etag ("Set refused: etag mismatch ..."), hanging
    Init/Ping, unknown binding operation, missing binding key or secret;
    ERROR per call for an uninitialised instance or Init with bad properties.
  * Levels map to LogLevel: CRITICAL, ERROR, WARNING, INFO, DEBUG to their
    namesakes, Python level 25 (NOTICE) to NOTICE, anything below DEBUG
    (TRACE = 5) to TRACE.  LogRecord.logger is the Python logger name,
    LogRecord.fields holds {"service": <short service name>, "instance":
    <x-component-instance value, "" when absent>} plus call details such as
    "key", "topic", "operation", "code" (strings; no "service"/"instance" for
    process events).
  * Every record is broadcast to every open Tail stream whose min_level it
    reaches, through the stream's own queue of --log-buffer entries (default
    1000; a slow stream loses the oldest).  While no Tail is open, records
    wait in a backlog of the same size (oldest dropped) and the next Tail to
    open takes all of it (dropping what is below its min_level); when the last
    open Tail ends, what it had not yet sent goes back to the backlog.  A Tail
    ends when the client cancels it, or when the server stops: it then sends
    what it has queued ("stopping ..." included) and ends with OK.
  * --log-flood N: the first Tail of the process first gets N records
    "flood 1" ... "flood N" at INFO with logger "flood" and no fields, made
    directly into that stream (not through logging) as fast as gRPC takes
    them; then it continues normally.  stderr gets "log flood: N records in
    Ts (R records/s)" (or "... (interrupted)" when the stream ended first).
    If that first Tail's min_level is above INFO, no flood record is sent.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixturelib  # noqa: E402

fixturelib.ensure_stubs()

import grpc  # noqa: E402
from google.protobuf import any_pb2, timestamp_pb2  # noqa: E402
from grpc_reflection.v1alpha import reflection  # noqa: E402
try:
    from grpc_status import rpc_status  # noqa: E402
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("multi_component.py needs grpcio-status: "
             "python3 -m pip install -r requirements.txt")
# googleapis-common-protos, a dependency of grpcio-status.
from google.rpc import error_details_pb2, status_pb2  # noqa: E402

from dapr.proto.components.v1 import bindings_pb2, bindings_pb2_grpc  # noqa: E402
from dapr.proto.components.v1 import common_pb2  # noqa: E402
from dapr.proto.components.v1 import pubsub_pb2, pubsub_pb2_grpc  # noqa: E402
from dapr.proto.components.v1 import secretstore_pb2, secretstore_pb2_grpc  # noqa: E402
from dapr.proto.components.v1 import state_pb2, state_pb2_grpc  # noqa: E402

import pubsub_component  # noqa: E402  (shares the PubSub servicer)

INSTANCE_HEADER = pubsub_component.INSTANCE_HEADER
instance_of = pubsub_component.instance_of

STATE_SERVICE = state_pb2.DESCRIPTOR.services_by_name["StateStore"].full_name
TRANSACTIONAL_SERVICE = state_pb2.DESCRIPTOR.services_by_name["TransactionalStateStore"].full_name
PUBSUB_SERVICE = pubsub_pb2.DESCRIPTOR.services_by_name["PubSub"].full_name
INPUT_SERVICE = bindings_pb2.DESCRIPTOR.services_by_name["InputBinding"].full_name
OUTPUT_SERVICE = bindings_pb2.DESCRIPTOR.services_by_name["OutputBinding"].full_name
SECRET_SERVICE = secretstore_pb2.DESCRIPTOR.services_by_name["SecretStore"].full_name

FIRST_WRITE = state_pb2.StateOptions.CONCURRENCY_FIRST_WRITE
OUTPUT_OPERATIONS = ["create", "get", "delete", "list"]
SECRET_FEATURES = ["MULTIPLE_KEY_VALUES_PER_SECRET"]


# --------------------------------------------------------------------------
# Shared plumbing


class Settings:
    """Command-line switches and the stop signal every handler can see."""

    def __init__(self, hang_init: bool, hang_ping: bool, stop: threading.Event,
                 hang_get_key: str | None = None, garbage_get_key: str | None = None,
                 huge_get_key: str | None = None):
        self.hang_init = hang_init
        self.hang_ping = hang_ping
        self.hang_get_key = hang_get_key
        self.garbage_get_key = garbage_get_key
        self.huge_get_key = huge_get_key
        # Set when the server stops: hanging handlers and streams end then.
        self.stop = stop


class ServiceCallLog:
    """pubsub_component.CallLog lines tagged with the service's short name
    ("StateStore", "PubSub", ...)."""

    def __init__(self, base: pubsub_component.CallLog, service: str):
        self._base = base
        self._service = service

    def record(self, **entry) -> None:
        self._base.record(service=self._service, **entry)


class Instances:
    """One instance per x-component-instance value, made anew by Init.
    `service` (a short service name) only labels log records."""

    def __init__(self, make, service: str = ""):
        self._make = make
        self._service = service
        self._lock = threading.Lock()
        self._instances: dict[str, object] = {}

    def initialise(self, context, properties: dict[str, str]):
        """Builds a fresh instance from the Init properties and installs it.
        Invalid properties answer INVALID_ARGUMENT and keep the old one."""
        name = instance_of(context)
        try:
            instance = self._make(properties)
        except ValueError as error:
            event(self._service, logging.ERROR,
                  f"Init of {self._service} instance {name!r} refused: {error}", instance=name)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        with self._lock:
            self._instances[name] = instance
        return instance

    def get(self, context):
        name = instance_of(context)
        with self._lock:
            instance = self._instances.get(name)
        if instance is None:
            event(self._service, logging.ERROR,
                  f"call refused: {not_initialised(name)}", instance=name)
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, not_initialised(name))
        return instance


class BrokerInstances(Instances):
    """PubSub brokers, one per instance: the first Init of an instance makes
    its broker and reloads the instance's journal (when there is one); later
    Inits of that instance keep the broker as it is, so no queued or
    in-flight message is lost and the journal is not read twice."""

    def __init__(self, journal: pubsub_component.Journal | None):
        super().__init__(lambda _properties: pubsub_component.Broker(journal), "PubSub")

    def initialise(self, context, properties: dict[str, str]):
        name = instance_of(context)
        with self._lock:
            broker = self._instances.get(name)
            if broker is not None:
                return broker
            broker = self._make(properties)
            try:
                restored = broker.restore(name)
            except pubsub_component.JournalError as error:
                event("PubSub", logging.ERROR, f"journal of instance {name!r}: {error}",
                      instance=name)
                context.abort(grpc.StatusCode.INTERNAL, str(error))
            if restored:
                event("PubSub", logging.INFO,
                      f"instance {name!r}: {restored} unacknowledged messages restored "
                      "from the journal", instance=name)
            self._instances[name] = broker
        return broker


def event(service: str | None, level: int, message: str, context=None, *,
          instance: str | None = None, **fields) -> None:
    """One record on the logger `multi_component.<service>` with the fields
    {"service": service, "instance": ..., **fields} (as strings; None values
    left out).  The instance comes from `instance` or else from the call's
    x-component-instance header.  service None: the logger `multi_component`
    and no service field (process events).  Without --serve-logs the logger
    is off and this returns at once."""
    logger = logging.getLogger(f"{LOGGER_NAME}.{service}" if service else LOGGER_NAME)
    if not logger.isEnabledFor(level):
        return
    if instance is None and context is not None:
        instance = instance_of(context)
    values = {"service": service} if service else {}
    if instance is not None:
        values["instance"] = instance
    for name, value in fields.items():
        if value is not None:
            values[name] = str(value)
    logger.log(level, message, extra={"fields": values})


def not_initialised(name: str) -> str:
    if name:
        return f"instance {name} is not initialised"
    return f"instance (none: no {INSTANCE_HEADER} header) is not initialised"


def hang(settings: Settings, context, what: str) -> None:
    """Wait until the server stops, then end the call with UNAVAILABLE."""
    fixturelib.debug(f"{what}: hanging until the server stops")
    service = what.partition(".")[0]
    event(service, logging.WARNING, f"{what} hangs until the server stops", context)
    settings.stop.wait()
    context.abort(grpc.StatusCode.UNAVAILABLE, f"{what}: server stopping")


def init_call(settings: Settings, calls, service: str, instances: Instances,
              request, context):
    """What every Init does: log, maybe hang, then make the instance."""
    properties = dict(request.metadata.properties)
    instance = instance_of(context)
    calls.record(method="Init", instance=instance, properties=properties)
    fixturelib.debug(f"{service}.Init instance={instance!r} properties={properties}")
    if settings.hang_init:
        hang(settings, context, f"{service}.Init")
    made = instances.initialise(context, properties)
    event(service, logging.INFO, f"initialised {service} instance {instance}", instance=instance)
    return made


def ping_call(settings: Settings, calls, service: str, instances: Instances, context):
    calls.record(method="Ping", instance=instance_of(context))
    event(service, TRACE, "ping", context)
    if settings.hang_ping:
        hang(settings, context, f"{service}.Ping")
    instances.get(context)
    return common_pb2.PingResponse()


class InstanceServicer:
    """What the servicers of per-instance blocks share (listed before the generated
    servicer class, whose methods answer UNIMPLEMENTED): Init (init_call), Ping
    (ping_call) and Features (the `features` given), for the service SERVICE; the Init
    answer is an empty INIT_RESPONSE."""

    SERVICE = ""
    INIT_RESPONSE = None

    def __init__(self, settings: Settings, calls, instances: Instances, features: list[str] | None = None):
        self._settings = settings
        self._calls = calls
        self._instances = instances
        self._features = features

    def Init(self, request, context):
        init_call(self._settings, self._calls, self.SERVICE, self._instances, request, context)
        return self.INIT_RESPONSE()

    def Features(self, request, context):
        self._calls.record(method="Features", instance=instance_of(context))
        self._instances.get(context)
        return common_pb2.FeaturesResponse(features=self._features)

    def Ping(self, request, context):
        return ping_call(self._settings, self._calls, self.SERVICE, self._instances, context)


# --------------------------------------------------------------------------
# State store


class EtagError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, key: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.key = key


def abort_etag(context, error: EtagError, service: str = "StateStore",
               method: str = "") -> None:
    """The contract's etag error: the status code plus exactly one
    google.rpc.BadRequest detail with one field violation on `etag`."""
    event(service, logging.WARNING, f"{method or 'write'} refused: {error.message}", context,
          key=error.key, code=error.code.name)
    bad_request = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="etag", description=error.message),
    ])
    detail = any_pb2.Any()
    detail.Pack(bad_request)
    status = status_pb2.Status(code=error.code.value[0], message=error.message,
                               details=[detail])
    context.abort_with_status(rpc_status.to_status(status))


class StateItem:
    __slots__ = ("value", "version", "content_type", "metadata")

    def __init__(self, value: bytes, version: int, content_type: str, metadata: dict):
        self.value = value
        self.version = version
        self.content_type = content_type
        self.metadata = metadata


class StateInstance:
    def __init__(self, properties: dict[str, str]):
        self.properties = properties
        self.lock = threading.Lock()
        self.items: dict[str, StateItem] = {}


def check_etag(items: dict[str, StateItem], request) -> None:
    """Raises EtagError when a Set/Delete request may not touch its key."""
    key = request.key
    etag = request.etag.value if request.HasField("etag") else ""
    current = items.get(key)
    if etag:
        if not (etag.isascii() and etag.isdigit()):
            raise EtagError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"invalid etag {etag!r} for key {key!r}: etags are version numbers",
                            key)
        if current is None:
            raise EtagError(grpc.StatusCode.FAILED_PRECONDITION,
                            f"etag mismatch for key {key!r}: the key does not exist", key)
        if int(etag) != current.version:
            raise EtagError(grpc.StatusCode.FAILED_PRECONDITION,
                            f"etag mismatch for key {key!r}: "
                            f"got {etag}, current is {current.version}", key)
    elif request.options.concurrency == FIRST_WRITE and current is not None:
        raise EtagError(grpc.StatusCode.FAILED_PRECONDITION,
                        f"first-write: key {key!r} already exists and no etag was given", key)


def require_key(context, key: str) -> None:
    if not key:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "key is required")


def apply_set(items: dict[str, StateItem], request) -> None:
    check_etag(items, request)
    current = items.get(request.key)
    version = current.version + 1 if current is not None else 1
    items[request.key] = StateItem(bytes(request.value), version, request.content_type,
                                   dict(request.metadata))


def apply_delete(items: dict[str, StateItem], request) -> None:
    check_etag(items, request)
    items.pop(request.key, None)


# --garbage-get-key's answer: field 1 with wire type 7 (no such wire type),
# then field 1 length-delimited with a length (2^31 - 1) past the end.
GARBAGE_BYTES = b"\x0f\xff\xfe" + b"\x0a\xff\xff\xff\xff\x07" + b"not a GetResponse"
# --huge-get-key's data length: 100 MiB.
HUGE_GET_BYTES = 100 * 1024 * 1024
GET_METHOD = f"/{STATE_SERVICE}/Get"


class RawResponse(bytes):
    """A Get answer sent as these exact bytes (see RawGetInterceptor)."""


def serialize_get(response) -> bytes:
    if isinstance(response, RawResponse):
        return bytes(response)
    return response.SerializeToString()


class RawGetInterceptor(grpc.ServerInterceptor):
    """Gives StateStore/Get a response serializer that sends a RawResponse
    as it is (the generated one only takes a GetResponse).  Installed only
    with --garbage-get-key."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method != GET_METHOD:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            handler.unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=serialize_get)


class StateStoreServicer(InstanceServicer, state_pb2_grpc.StateStoreServicer):
    SERVICE = "StateStore"
    INIT_RESPONSE = state_pb2.InitResponse

    def __init__(self, settings: Settings, calls, features: list[str], instances: Instances):
        super().__init__(settings, calls, instances, features)

    def Get(self, request, context):
        self._calls.record(method="Get", instance=instance_of(context), key=request.key)
        store = self._instances.get(context)
        require_key(context, request.key)
        if request.key.endswith(self._settings.hang_get_key or "\0"):
            hang(self._settings, context, "StateStore.Get")
        if request.key.endswith(self._settings.garbage_get_key or "\0"):
            event("StateStore", logging.WARNING,
                  f"get {request.key}: answering {len(GARBAGE_BYTES)} garbage bytes", context,
                  key=request.key)
            return RawResponse(GARBAGE_BYTES)
        if request.key.endswith(self._settings.huge_get_key or "\0"):
            event("StateStore", logging.WARNING,
                  f"get {request.key}: answering {HUGE_GET_BYTES} bytes of data", context,
                  key=request.key)
            return state_pb2.GetResponse(data=b"h" * HUGE_GET_BYTES,
                                         content_type="application/octet-stream")
        with store.lock:
            item = store.items.get(request.key)
            if item is None:
                answer = state_pb2.GetResponse()
                version = None
            else:
                answer = state_pb2.GetResponse(data=item.value,
                                               etag=state_pb2.Etag(value=str(item.version)),
                                               content_type=item.content_type)
                version = item.version
        event("StateStore", logging.DEBUG,
              f"get {request.key}: " + ("missing" if version is None else f"version {version}"),
              context, key=request.key)
        return answer

    def _write(self, method: str, request, context, apply, then=None):
        """What Set and Delete share: the call recorded, its key required, then
        apply(items, request) on the instance's items under its lock (an etag failure
        ends the call) and, still under the lock, then(items), whose answer is returned."""
        self._calls.record(method=method, instance=instance_of(context), key=request.key)
        store = self._instances.get(context)
        require_key(context, request.key)
        with store.lock:
            try:
                apply(store.items, request)
            except EtagError as error:
                abort_etag(context, error, method=method)
            return then(store.items) if then is not None else None

    def Set(self, request, context):
        version = self._write("Set", request, context, apply_set, lambda items: items[request.key].version)
        event("StateStore", logging.DEBUG, f"set {request.key}: version {version}", context,
              key=request.key)
        return state_pb2.SetResponse()

    def Delete(self, request, context):
        self._write("Delete", request, context, apply_delete)
        event("StateStore", logging.DEBUG, f"delete {request.key}", context, key=request.key)
        return state_pb2.DeleteResponse()

    def BulkGet(self, request, context):
        keys = [item.key for item in request.items]
        self._calls.record(method="BulkGet", instance=instance_of(context), keys=keys)
        store = self._instances.get(context)
        answer = state_pb2.BulkGetResponse()
        with store.lock:
            for key in keys:
                item = store.items.get(key)
                if item is None:
                    answer.items.add(key=key)
                else:
                    answer.items.add(key=key, data=item.value,
                                     etag=state_pb2.Etag(value=str(item.version)),
                                     content_type=item.content_type)
        event("StateStore", logging.DEBUG, f"bulk get of {len(keys)} keys", context)
        return answer

    def _all_or_nothing(self, context, store: StateInstance, steps,
                        method: str, service: str = "StateStore") -> None:
        """Applies (apply_fn, request) steps to a copy and commits the copy
        only when every step succeeded."""
        for _apply, request in steps:
            require_key(context, request.key)
        with store.lock:
            staged = dict(store.items)
            try:
                for apply, request in steps:
                    apply(staged, request)
            except EtagError as error:
                abort_etag(context, error, service, method)
            store.items = staged
        event(service, logging.DEBUG, f"{method}: {len(steps)} operations applied", context)

    def _bulk_write(self, method: str, request, context, apply) -> None:
        """BulkSet and BulkDelete: the call recorded with its keys, then apply(items, item)
        for every item, all or nothing."""
        keys = [item.key for item in request.items]
        self._calls.record(method=method, instance=instance_of(context), keys=keys)
        store = self._instances.get(context)
        self._all_or_nothing(context, store, [(apply, item) for item in request.items], method)

    def BulkSet(self, request, context):
        self._bulk_write("BulkSet", request, context, apply_set)
        return state_pb2.BulkSetResponse()

    def BulkDelete(self, request, context):
        self._bulk_write("BulkDelete", request, context, apply_delete)
        return state_pb2.BulkDeleteResponse()

    def transact(self, request, context):
        operations = []
        for operation in request.operations:
            kind = operation.WhichOneof("request")
            if kind == "set":
                operations.append((apply_set, operation.set))
            elif kind == "delete":
                operations.append((apply_delete, operation.delete))
            else:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              "a transaction operation carries neither set nor delete")
        store = self._instances.get(context)
        self._all_or_nothing(context, store, operations, "Transact", "TransactionalStateStore")
        return state_pb2.TransactionalStateResponse()


class TransactionalStateStoreServicer(state_pb2_grpc.TransactionalStateStoreServicer):
    def __init__(self, calls, state: StateStoreServicer):
        self._calls = calls
        self._state = state

    def Transact(self, request, context):
        summary = [
            f"{operation.WhichOneof('request')}:"
            f"{getattr(operation, operation.WhichOneof('request') or 'set').key}"
            for operation in request.operations
        ]
        self._calls.record(method="Transact", instance=instance_of(context),
                           operations=summary)
        return self._state.transact(request, context)


# --------------------------------------------------------------------------
# PubSub


class MultiPubSubServicer(pubsub_component.PubSubServicer):
    """pubsub_component's servicer with per-instance brokers made by the
    first Init of each instance (BrokerInstances)."""

    def __init__(self, settings: Settings, calls, features: list[str],
                 journal: pubsub_component.Journal | None = None):
        super().__init__(features, calls, journal)
        self._settings = settings
        self._instances = BrokerInstances(journal)

    def _broker_for(self, instance, context):
        return self._instances.get(context)

    def Init(self, request, context):
        init_call(self._settings, self._calls, "PubSub", self._instances, request, context)
        return pubsub_pb2.PubSubInitResponse()

    def Features(self, request, context):
        self._calls.record(method="Features", instance=instance_of(context))
        self._instances.get(context)
        return common_pb2.FeaturesResponse(features=self._features)

    def Ping(self, request, context):
        return ping_call(self._settings, self._calls, "PubSub", self._instances, context)

    def Pause(self, request, context):
        self._calls.record(method="Pause", instance=instance_of(context))
        return super().Pause(request, context)

    def Resume(self, request, context):
        self._calls.record(method="Resume", instance=instance_of(context))
        return super().Resume(request, context)

    def Publish(self, request, context):
        answer = super().Publish(request, context)
        event("PubSub", logging.DEBUG, f"published to {request.topic}", context,
              topic=request.topic)
        return answer

    def BulkPublish(self, request, context):
        answer = super().BulkPublish(request, context)
        event("PubSub", logging.DEBUG,
              f"published {len(request.entries)} messages to {request.topic}", context,
              topic=request.topic)
        return answer


# --------------------------------------------------------------------------
# Output binding


class OutputInstance:
    def __init__(self, properties: dict[str, str]):
        self.properties = properties
        self.lock = threading.Lock()
        self.items: dict[str, bytes] = {}


class OutputBindingServicer(InstanceServicer, bindings_pb2_grpc.OutputBindingServicer):
    SERVICE = "OutputBinding"
    INIT_RESPONSE = bindings_pb2.OutputBindingInitResponse

    def __init__(self, settings: Settings, calls):
        super().__init__(settings, calls, Instances(OutputInstance, "OutputBinding"))

    def ListOperations(self, request, context):
        self._calls.record(method="ListOperations", instance=instance_of(context))
        self._instances.get(context)
        return bindings_pb2.ListOperationsResponse(operations=OUTPUT_OPERATIONS)


    def Invoke(self, request, context):
        operation = request.operation
        key = request.metadata.get("key", "")
        self._calls.record(method="Invoke", instance=instance_of(context),
                           operation=operation, key=key)
        binding = self._instances.get(context)
        event("OutputBinding", logging.DEBUG, f"invoke {operation}" + (f" {key}" if key else ""),
              context, operation=operation, key=key or None)
        if operation not in OUTPUT_OPERATIONS:
            event("OutputBinding", logging.WARNING, f"unsupported operation {operation}",
                  context, operation=operation)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported operation {operation}")
        if operation == "list":
            with binding.lock:
                keys = sorted(binding.items)
            return bindings_pb2.InvokeResponse(data=json.dumps(keys).encode(),
                                               content_type="application/json")
        if not key:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"operation {operation} needs metadata key")
        with binding.lock:
            if operation == "create":
                binding.items[key] = bytes(request.data)
                return bindings_pb2.InvokeResponse(metadata={"key": key})
            if operation == "delete":
                binding.items.pop(key, None)
                return bindings_pb2.InvokeResponse(metadata={"key": key})
            data = binding.items.get(key)  # get
        if data is None:
            event("OutputBinding", logging.WARNING, f"get {key}: not found", context, key=key)
            context.abort(grpc.StatusCode.NOT_FOUND, f"key {key} not found")
        return bindings_pb2.InvokeResponse(data=data, metadata={"key": key},
                                           content_type="application/octet-stream")


# --------------------------------------------------------------------------
# Input binding


def _non_negative_int(properties: dict[str, str], name: str, default):
    text = properties.get(name, "")
    if text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"metadata property {name} must be an integer, got {text!r}") from None
    if value < 0:
        raise ValueError(f"metadata property {name} must not be negative, got {value}")
    return value


class InputInstance:
    """The event source of one input binding instance; every Read stream of
    the instance takes from it (they compete, like PubSub subscribers)."""

    def __init__(self, properties: dict[str, str]):
        self.properties = properties
        self.interval = _non_negative_int(properties, "interval_ms", 100) / 1000.0
        self.remaining = _non_negative_int(properties, "count", None)  # None: unlimited
        self.lock = threading.Lock()
        self.next_n = 1
        self.redeliver: collections.deque[int] = collections.deque()

    def take(self):
        """The next event number to send (a redelivery first), or None."""
        with self.lock:
            if self.redeliver:
                return self.redeliver.popleft()
            if self.remaining is not None:
                if self.remaining == 0:
                    return None
                self.remaining -= 1
            n = self.next_n
            self.next_n += 1
            return n

    def requeue(self, n: int) -> None:
        with self.lock:
            self.redeliver.append(n)


def tick_event(n: int) -> bindings_pb2.ReadResponse:
    return bindings_pb2.ReadResponse(data=f"tick-{n}".encode(), message_id=str(n),
                                     content_type="text/plain", metadata={"n": str(n)})


class InputBindingServicer(InstanceServicer, bindings_pb2_grpc.InputBindingServicer):
    SERVICE = "InputBinding"
    INIT_RESPONSE = bindings_pb2.InputBindingInitResponse

    def __init__(self, settings: Settings, calls):
        super().__init__(settings, calls, Instances(InputInstance, "InputBinding"))
        self._streams = itertools.count(1)

    def Read(self, request_iterator, context):
        instance = instance_of(context)
        self._calls.record(method="Read", instance=instance)
        source: InputInstance = self._instances.get(context)
        stream_no = next(self._streams)
        event("InputBinding", logging.DEBUG, f"read stream #{stream_no} opened", context)
        in_flight: set[int] = set()
        in_flight_lock = threading.Lock()
        closed = threading.Event()

        def read_acks():
            try:
                for ack in request_iterator:
                    if not ack.message_id:
                        continue  # nothing to acknowledge (e.g. an opening message)
                    try:
                        n = int(ack.message_id)
                    except ValueError:
                        n = None
                    with in_flight_lock:
                        known = n in in_flight
                        in_flight.discard(n)
                    failed = ack.HasField("response_error")
                    entry = dict(method="Ack", instance=instance, ack=ack.message_id,
                                 error=ack.response_error.message if failed else None)
                    if ack.response_data:
                        entry["responseData"] = ack.response_data.decode("utf-8", "replace")
                    if not known:
                        entry["unknown"] = True
                    self._calls.record(**entry)
                    if failed and known:
                        source.requeue(n)
            except Exception as error:  # the call was cancelled or broke
                fixturelib.debug(f"Read#{stream_no}: ack reader stopped: {error!r}")
                closed.set()

        context.add_callback(closed.set)
        threading.Thread(target=read_acks, daemon=True, name=f"read-acks-{stream_no}").start()

        def alive():
            return (context.is_active() and not closed.is_set()
                    and not self._settings.stop.is_set())

        try:
            while True:
                closed.wait(source.interval)
                if not alive():
                    break
                n = source.take()
                if n is None:
                    # count reached: stay open, redeliveries may still come.
                    closed.wait(0.05)
                    continue
                with in_flight_lock:
                    in_flight.add(n)
                yield tick_event(n)
        finally:
            closed.set()
            with in_flight_lock:
                leftovers = sorted(in_flight)
                in_flight.clear()
            for n in leftovers:
                source.requeue(n)
            fixturelib.debug(f"Read#{stream_no} ended, {len(leftovers)} requeued")
            event("InputBinding", logging.DEBUG,
                  f"read stream #{stream_no} ended, {len(leftovers)} events requeued",
                  instance=instance)


# --------------------------------------------------------------------------
# Secret store


class SecretInstance:
    PREFIX = "secret."

    def __init__(self, properties: dict[str, str]):
        self.secrets: dict[str, dict[str, str]] = {}
        for name, value in sorted(properties.items()):
            if not name.startswith(self.PREFIX):
                continue
            rest = name[len(self.PREFIX):]
            secret, dot, key = rest.partition(".")
            if not secret:
                raise ValueError(f"metadata property {name!r} names no secret")
            if not dot:
                key = secret
            self.secrets.setdefault(secret, {})[key] = value


class SecretStoreServicer(InstanceServicer, secretstore_pb2_grpc.SecretStoreServicer):
    SERVICE = "SecretStore"
    INIT_RESPONSE = secretstore_pb2.SecretStoreInitResponse

    def __init__(self, settings: Settings, calls):
        super().__init__(settings, calls, Instances(SecretInstance, "SecretStore"), SECRET_FEATURES)

    def Get(self, request, context):
        self._calls.record(method="Get", instance=instance_of(context), key=request.key)
        store = self._instances.get(context)
        secret = store.secrets.get(request.key)
        if secret is None:
            event("SecretStore", logging.WARNING, f"secret {request.key} not found", context,
                  key=request.key)
            context.abort(grpc.StatusCode.NOT_FOUND, f"secret {request.key} not found")
        event("SecretStore", logging.DEBUG, f"get secret {request.key}", context,
              key=request.key)
        return secretstore_pb2.GetSecretResponse(data=secret)

    def BulkGet(self, request, context):
        self._calls.record(method="BulkGet", instance=instance_of(context))
        store = self._instances.get(context)
        answer = secretstore_pb2.BulkGetSecretResponse()
        for name, secret in store.secrets.items():
            answer.data[name].secrets.update(secret)
        return answer


# --------------------------------------------------------------------------
# Component logs: apiary.proto.components.v1.ComponentLogs (--serve-logs)

# Every record of the fixture goes to the logger `multi_component.<service>`.
# That tree does not propagate to the root logger, and it is switched off (its
# level above CRITICAL) unless --serve-logs attaches a LogHub to it.
LOGGER_NAME = "multi_component"
# Python has no TRACE or NOTICE level; these are mapped to LogLevel's.
TRACE = 5
NOTICE = 25
logging.addLevelName(TRACE, "TRACE")
logging.addLevelName(NOTICE, "NOTICE")
_ROOT_LOGGER = logging.getLogger(LOGGER_NAME)
_ROOT_LOGGER.propagate = False
_ROOT_LOGGER.addHandler(logging.NullHandler())
_ROOT_LOGGER.setLevel(logging.CRITICAL + 1)

# apiary.proto.components.v1.LogLevel values (checked against the stubs when
# the service is set up; the stubs are imported only with --serve-logs, so that
# without it nothing about the service is loaded, listed or served).
(LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERROR,
 LOG_CRITICAL) = range(7)
LOG_LEVEL_NAMES = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")
_LEVEL_THRESHOLDS = ((logging.CRITICAL, LOG_CRITICAL), (logging.ERROR, LOG_ERROR),
                     (logging.WARNING, LOG_WARNING), (NOTICE, LOG_NOTICE),
                     (logging.INFO, LOG_INFO), (logging.DEBUG, LOG_DEBUG))
FLOOD_LOGGER = "flood"


def log_level_of(levelno: int) -> int:
    """The LogLevel of a Python level: CRITICAL, ERROR, WARNING, NOTICE (25),
    INFO and DEBUG map to their namesakes (a level between two takes the lower
    one), anything below DEBUG is TRACE."""
    for threshold, level in _LEVEL_THRESHOLDS:
        if levelno >= threshold:
            return level
    return LOG_TRACE


def level_name(level: int) -> str:
    return LOG_LEVEL_NAMES[level] if 0 <= level < len(LOG_LEVEL_NAMES) else str(level)


def logs_stubs():
    from apiary.proto.components.v1 import logs_pb2, logs_pb2_grpc
    for value, name in enumerate(LOG_LEVEL_NAMES):
        assert logs_pb2.LogLevel.Value(f"LOG_LEVEL_{name}") == value, name
    return logs_pb2, logs_pb2_grpc


def timestamp(nanoseconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=nanoseconds // 1_000_000_000,
                                   nanos=nanoseconds % 1_000_000_000)


class LogStream:
    """One open Tail call: its min_level and its own bounded queue of
    (level, serialized LogRecord) entries.  Guarded by the hub's lock."""

    def __init__(self, number: int, min_level: int, capacity: int):
        self.number = number
        self.min_level = min_level
        self.queue: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=capacity)
        self.dropped = 0  # entries pushed out of the full queue (oldest first)
        self.sent = 0
        self.closed = False
        self.flood = 0  # flood records this stream sends first

    def offer(self, entry: tuple[int, bytes]) -> None:
        if entry[0] < self.min_level:
            return  # below this stream's level: skipped
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(entry)


class LogHub(logging.Handler):
    """The logging.Handler behind ComponentLogs/Tail.

    Each record is serialized once into a LogRecord and broadcast to every
    open Tail stream whose min_level it reaches, into that stream's own
    bounded queue (the oldest entry is dropped when a slow stream's queue is
    full).  While no stream is open, records wait in the backlog, bounded the
    same way, and the next stream to open takes the whole backlog (records
    below its min_level are discarded).  When the last open stream ends, what
    it had queued but not yet sent goes back to the backlog, so a Tail
    re-opened right after (e.g. with another level) loses nothing.
    """

    def __init__(self, logs_pb2, capacity: int, flood: int):
        super().__init__(level=1)
        self._pb = logs_pb2
        self._capacity = capacity
        self._cond = threading.Condition(threading.Lock())
        self._backlog: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=capacity)
        self._backlog_dropped = 0
        self._streams: list[LogStream] = []
        self._numbers = itertools.count(1)
        self._flood = flood  # given to the first stream that opens
        self._stopped = False

    # logging.Handler

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = self.encode(record)
        except Exception:
            self.handleError(record)
            return
        with self._cond:
            if self._streams:
                for stream in self._streams:
                    stream.offer(entry)
                self._cond.notify_all()
            else:
                if len(self._backlog) == self._capacity:
                    self._backlog_dropped += 1
                self._backlog.append(entry)

    def encode(self, record: logging.LogRecord) -> tuple[int, bytes]:
        level = log_level_of(record.levelno)
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        fields = getattr(record, "fields", None) or {}
        proto = self._pb.LogRecord(
            time=timestamp(int(record.created * 1_000_000_000)),
            level=level, message=message, logger=record.name,
            fields={str(name): str(value) for name, value in fields.items()})
        return level, proto.SerializeToString()

    # Tail streams

    def open(self, min_level: int) -> LogStream:
        """A new stream holding the backlog (at or above min_level); the
        first stream of the process also gets the --log-flood count."""
        with self._cond:
            stream = LogStream(next(self._numbers), min_level, self._capacity)
            for entry in self._backlog:
                stream.offer(entry)
            backlog, dropped = len(self._backlog), self._backlog_dropped
            self._backlog.clear()
            self._backlog_dropped = 0
            stream.flood, self._flood = self._flood, 0
            stream.closed = self._stopped
            self._streams.append(stream)
        fixturelib.debug(f"Tail#{stream.number} opened, min_level {level_name(min_level)}: "
                         f"{len(stream.queue)} of {backlog} backlog records queued "
                         f"({dropped} dropped earlier)")
        return stream

    def take(self, stream: LogStream, alive) -> list[bytes] | None:
        """Everything queued for the stream, waiting while there is nothing;
        None once the stream should end (closed, server stopping or call no
        longer active) and nothing is left to send."""
        while True:
            with self._cond:
                if not stream.queue and not (stream.closed or self._stopped):
                    self._cond.wait(0.5)
                if stream.queue:
                    batch = [payload for _level, payload in stream.queue]
                    stream.queue.clear()
                    return batch
                if stream.closed or self._stopped:
                    return None
            if not alive():  # outside the lock: it takes gRPC's call lock
                return None

    def close_stream(self, stream: LogStream) -> None:
        """Idempotent; called when the generator ends and on RPC termination."""
        with self._cond:
            stream.closed = True
            if stream in self._streams:
                self._streams.remove(stream)
                if not self._streams and stream.queue:
                    kept = list(stream.queue) + list(self._backlog)
                    self._backlog = collections.deque(kept, maxlen=self._capacity)
                    self._backlog_dropped += max(0, len(kept) - self._capacity)
                stream.queue.clear()
            self._cond.notify_all()

    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """The server is stopping: every stream sends what it has queued, then ends."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


class ComponentLogsServicer:
    """ComponentLogs/Tail over a LogHub.  Responses are pre-serialized
    LogRecord bytes (registered without a response serializer)."""

    def __init__(self, hub: LogHub, logs_pb2):
        self._hub = hub
        self._pb = logs_pb2

    def Tail(self, request, context):
        stream = self._hub.open(request.min_level)
        context.add_callback(lambda: self._hub.close_stream(stream))
        try:
            if stream.flood:
                yield from self._flood(stream)
            while True:
                batch = self._hub.take(stream, context.is_active)
                if batch is None:
                    return
                for payload in batch:
                    yield payload
                    stream.sent += 1
        finally:
            self._hub.close_stream(stream)
            fixturelib.debug(f"Tail#{stream.number} ended: {stream.sent} records sent, "
                             f"{stream.dropped} dropped")

    def _flood(self, stream: LogStream):
        """`stream.flood` records "flood <i>" (i = 1..N) at INFO from logger
        "flood", made here rather than through logging, as fast as gRPC takes
        them.  Skipped when the stream's min_level is above INFO."""
        count = stream.flood
        if stream.min_level > LOG_INFO:
            fixturelib.log(f"log flood of {count} records skipped: the first Tail asked for "
                           f"min_level {level_name(stream.min_level)}")
            return
        # Concatenated serialized messages merge: time and message per record,
        # then the fields every flood record shares.
        common = self._pb.LogRecord(level=LOG_INFO, logger=FLOOD_LOGGER).SerializeToString()
        make = self._pb.LogRecord
        sent = 0
        started = time.monotonic()
        try:
            for i in range(1, count + 1):
                yield make(time=timestamp(time.time_ns()),
                           message=f"flood {i}").SerializeToString() + common
                sent = i
                if i % 1024 == 0 and self._hub.stopped():
                    break
        finally:
            elapsed = time.monotonic() - started
            rate = sent / elapsed if elapsed > 0 else float("inf")
            what = "records" if sent == count else f"of {count} records (interrupted)"
            fixturelib.log(f"log flood: {sent} {what} in {elapsed:.3f}s ({rate:.0f} records/s)")
            stream.sent += sent


def serve_logs(server, capacity: int, flood: int) -> tuple[str, LogHub]:
    """Attaches a LogHub to the fixture's logger and serves ComponentLogs;
    returns the service's full name and the hub."""
    logs_pb2, _logs_pb2_grpc = logs_stubs()
    name = logs_pb2.DESCRIPTOR.services_by_name["ComponentLogs"].full_name
    hub = LogHub(logs_pb2, capacity, flood)
    _ROOT_LOGGER.addHandler(hub)
    _ROOT_LOGGER.setLevel(1)
    servicer = ComponentLogsServicer(hub, logs_pb2)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, {
        "Tail": grpc.unary_stream_rpc_method_handler(
            servicer.Tail,
            request_deserializer=logs_pb2.TailLogsRequest.FromString,
            response_serializer=None),  # Tail yields serialized LogRecords
    }),))
    return name, hub


# --------------------------------------------------------------------------


def parse_list(text: str) -> list[str]:
    return [part for part in (piece.strip() for piece in text.split(",")) if part]


def main() -> int:
    parser = argparse.ArgumentParser(
        description="One Dapr pluggable-component server with every building block")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument("--calls", default=None,
                        help="append one JSON line per received call to this file")
    parser.add_argument("--hang-init", action="store_true",
                        help="every Init waits until the server stops instead of answering")
    parser.add_argument("--hang-ping", action="store_true",
                        help="every Ping waits until the server stops instead of answering")
    parser.add_argument("--hang-get-key", default=None, metavar="KEY",
                        help="a state Get of a key ending in KEY waits until the server stops")
    parser.add_argument("--garbage-get-key", default=None, metavar="KEY",
                        help="a state Get of a key ending in KEY answers bytes that are "
                             "not a GetResponse")
    parser.add_argument("--huge-get-key", default=None, metavar="KEY",
                        help="a state Get of a key ending in KEY answers a 100 MiB value")
    parser.add_argument("--features-state", default="ETAG,TRANSACTIONAL",
                        help="comma-separated StateStore Features answer "
                             "(default: %(default)s; '' for none)")
    pubsub_component.add_journal_argument(parser)
    parser.add_argument("--serve-logs", action="store_true",
                        help="also serve apiary.proto.components.v1.ComponentLogs (Tail) "
                             "with the fixture's own log records")
    parser.add_argument("--log-buffer", type=int, default=1000, metavar="N",
                        help="with --serve-logs: records kept while no Tail is open, and "
                             "queued per open Tail (oldest dropped; default %(default)s)")
    parser.add_argument("--log-flood", type=int, default=0, metavar="N",
                        help="with --serve-logs: the first Tail of the process first gets "
                             "N records 'flood <i>' at INFO from logger 'flood'")
    args = parser.parse_args()
    if args.log_flood < 0 or args.log_buffer < 1:
        parser.error("--log-flood must be >= 0 and --log-buffer >= 1")
    if args.log_flood and not args.serve_logs:
        parser.error("--log-flood needs --serve-logs")
    journal = pubsub_component.Journal(args.journal) if args.journal else None

    stop = fixturelib.termination_event()
    # Set when the server is stopping; hanging handlers wait on it.
    stopping = threading.Event()
    settings = Settings(args.hang_init, args.hang_ping, stopping, args.hang_get_key,
                        args.garbage_get_key, args.huge_get_key)
    log = pubsub_component.CallLog(args.calls)

    # Plenty of workers: hanging Inits and open streams each hold one.
    interceptors = [RawGetInterceptor()] if args.garbage_get_key else []
    options = [("grpc.max_send_message_length", -1)] if args.huge_get_key else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=128),
                         interceptors=interceptors, options=options)
    state_instances = Instances(StateInstance, "StateStore")
    state = StateStoreServicer(settings, ServiceCallLog(log, "StateStore"),
                               parse_list(args.features_state), state_instances)
    state_pb2_grpc.add_StateStoreServicer_to_server(state, server)
    state_pb2_grpc.add_TransactionalStateStoreServicer_to_server(
        TransactionalStateStoreServicer(ServiceCallLog(log, "TransactionalStateStore"), state),
        server)
    pubsub_pb2_grpc.add_PubSubServicer_to_server(
        MultiPubSubServicer(settings, ServiceCallLog(log, "PubSub"), ["BULK_PUBSUB"], journal),
        server)
    bindings_pb2_grpc.add_OutputBindingServicer_to_server(
        OutputBindingServicer(settings, ServiceCallLog(log, "OutputBinding")), server)
    bindings_pb2_grpc.add_InputBindingServicer_to_server(
        InputBindingServicer(settings, ServiceCallLog(log, "InputBinding")), server)
    secretstore_pb2_grpc.add_SecretStoreServicer_to_server(
        SecretStoreServicer(settings, ServiceCallLog(log, "SecretStore")), server)
    services = (STATE_SERVICE, TRANSACTIONAL_SERVICE, PUBSUB_SERVICE,
                INPUT_SERVICE, OUTPUT_SERVICE, SECRET_SERVICE)
    hub = None
    if args.serve_logs:
        logs_service, hub = serve_logs(server, args.log_buffer, args.log_flood)
        services += (logs_service,)
    reflection.enable_server_reflection(services + (reflection.SERVICE_NAME,), server)

    def started() -> None:
        fixturelib.log(f"serving {', '.join(services)} on unix:{args.socket}"
                       + (" (hang-init)" if args.hang_init else "")
                       + (" (hang-ping)" if args.hang_ping else "")
                       + (f" (garbage-get-key {args.garbage_get_key})" if args.garbage_get_key else "")
                       + (f" (huge-get-key {args.huge_get_key})" if args.huge_get_key else "")
                       + (f" (journal {journal.folder})" if journal else "")
                       + (f" (log flood {args.log_flood})" if args.log_flood else ""))
        event(None, NOTICE, f"serving {len(services)} services on unix:{args.socket}")

    def on_stop() -> None:
        signum = getattr(stop, "signum", None)
        event(None, NOTICE, "stopping"
              + (f" on {signal.Signals(signum).name}" if signum else ""))
        stopping.set()
        if hub is not None:
            hub.stop()

    return fixturelib.serve(server, args.socket, stop, started=started, stopping=on_stop,
                            stopped=journal.close if journal is not None else None, say_stopped=True)


if __name__ == "__main__":
    sys.exit(main())
