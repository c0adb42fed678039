#!/usr/bin/env python3
"""redis-store: a Dapr pluggable state store and pub/sub on Redis, in Python.

    python3 redis_store.py [--socket PATH] [--redis-url redis://127.0.0.1:6379/0]
                           [--log-level info] [--log-buffer 1000] [--proto-root DIR]

Serves on one Unix socket (default <sockets folder>/redis-store.sock, the folder
being $APIARY_SOCKETS_DIR, else $DAPR_COMPONENTS_SOCKETS_FOLDER, else
/tmp/dapr-components-sockets):

  * dapr.proto.components.v1.StateStore + TransactionalStateStore
    (features ETAG, TRANSACTIONAL, TTL): each key is a Redis hash
    {data, version, contentType}; every write goes through one Lua script that
    checks all etags first and then applies all operations, atomically.
  * dapr.proto.components.v1.PubSub (feature BULK_PUBSUB) on Redis Streams:
    one stream per topic, one consumer group per subscriber group, delivery at
    least once (XACK on a successful ack only, XAUTOCLAIM after a visibility
    timeout).
  * apiary.proto.components.v1.ComponentLogs/Tail: this process's Python
    logging records.
  * grpc.reflection.v1alpha (grpcio-reflection), listing all of the above.

The configured components (header `x-component-instance`) each get their own
Redis connection and key namespace, made by their Init.  See README.md for the
metadata, the Redis layout and the guarantees.  Exits 0 on SIGTERM/SIGINT and
removes its socket file.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import functools
import itertools
import json
import logging
import os
import secrets
import signal
import socket
import stat
import sys
import threading
import time
import urllib.parse
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_stubs  # noqa: E402

NAME = "redis-store"
INSTANCE_HEADER = "x-component-instance"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_SOCKETS_FOLDER = "/tmp/dapr-components-sockets"
KEY_ROOT = "redis-store"

STATE_FEATURES = ["ETAG", "TRANSACTIONAL", "TTL"]
PUBSUB_FEATURES = ["BULK_PUBSUB"]

DEFAULT_VISIBILITY_MS = 10_000
DEFAULT_MAX_IN_FLIGHT = 100
# A consumer of a group with nothing pending and idle this long (or 10
# visibility timeouts, if longer) is removed when a new subscription opens.
STALE_CONSUMER_MS = 60_000

# Python has no TRACE or NOTICE level; LogLevel has both.
TRACE = 5
NOTICE = 25
logging.addLevelName(TRACE, "TRACE")
logging.addLevelName(NOTICE, "NOTICE")

LOG = logging.getLogger("redis_store")
STATE_LOG = logging.getLogger("redis_store.state")
PUBSUB_LOG = logging.getLogger("redis_store.pubsub")

# Set when the process is stopping: open streams end by themselves.
STOPPING = threading.Event()

# Filled by load_modules() once the stubs exist.
grpc = None
redis = None
pb = None


def fail_start(message: str) -> None:
    print(f"{NAME}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def load_modules(proto_root: str | None) -> None:
    """Generates the stubs when needed (first run), then imports everything
    that depends on them or on third-party packages."""
    global grpc, redis, pb
    requirements = os.path.join(HERE, "requirements.txt")
    try:
        gen_stubs.ensure(proto_root, announce=lambda text: print(
            f"{NAME}: {text}", file=sys.stderr, flush=True))
    except gen_stubs.StubsError as error:
        fail_start(str(error))
    try:
        import grpc as grpc_module
        import redis as redis_module
        from google.protobuf import timestamp_pb2
        from google.rpc import error_details_pb2, status_pb2
        from grpc_reflection.v1alpha import reflection
        from grpc_status import rpc_status

        from apiary.proto.components.v1 import logs_pb2, logs_pb2_grpc
        from dapr.proto.components.v1 import common_pb2, pubsub_pb2, pubsub_pb2_grpc
        from dapr.proto.components.v1 import state_pb2, state_pb2_grpc
    except ImportError as error:
        fail_start(f"{error}: install the requirements with "
                   f"python3 -m pip install -r {requirements}")
    grpc, redis = grpc_module, redis_module

    class Stubs:
        pass

    pb = Stubs()
    for name, module in (("timestamp_pb2", timestamp_pb2), ("error_details_pb2", error_details_pb2),
                         ("status_pb2", status_pb2), ("reflection", reflection),
                         ("rpc_status", rpc_status), ("logs_pb2", logs_pb2),
                         ("logs_pb2_grpc", logs_pb2_grpc), ("common_pb2", common_pb2),
                         ("pubsub_pb2", pubsub_pb2), ("pubsub_pb2_grpc", pubsub_pb2_grpc),
                         ("state_pb2", state_pb2), ("state_pb2_grpc", state_pb2_grpc)):
        setattr(pb, name, module)


# --------------------------------------------------------------------------
# Logging: records carry `fields` (strings) and go to stderr and to Tail.


def emit(logger: logging.Logger, level: int, message: str, context=None, **fields) -> None:
    if not logger.isEnabledFor(level):
        return
    values = {}
    if context is not None:
        values["instance"] = instance_of(context)
    values.update({name: str(value) for name, value in fields.items() if value is not None})
    logger.log(level, message, extra={"fields": values})


class FieldsFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None) or {}
        if fields:
            text += " " + " ".join(f"{name}={value}" for name, value in fields.items())
        return text


# LogLevel values (apiary.proto.components.v1.LogLevel) and Python levels.
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")
PYTHON_LEVELS = (TRACE, logging.DEBUG, logging.INFO, NOTICE, logging.WARNING, logging.ERROR,
                 logging.CRITICAL)


def log_level_of(levelno: int) -> int:
    """The LogLevel of a Python level (a level between two takes the lower)."""
    for value in range(len(PYTHON_LEVELS) - 1, 0, -1):
        if levelno >= PYTHON_LEVELS[value]:
            return value
    return 0


class TailStream:
    def __init__(self, min_level: int, capacity: int):
        self.min_level = min_level
        self.queue: collections.deque = collections.deque(maxlen=capacity)
        self.dropped = 0
        self.closed = False

    def offer(self, level: int, record) -> None:
        if level < self.min_level:
            return
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(record)


class LogHub(logging.Handler):
    """Behind ComponentLogs/Tail: every record reaching the `redis_store`
    loggers is turned into a LogRecord and queued for each open Tail whose
    min_level it reaches, in that Tail's bounded queue (a slow reader loses
    the oldest).  While no Tail is open, records at INFO and above wait in a
    backlog of the same bound, handed to the next Tail.  The loggers' level
    follows what the open Tails (and --log-level) ask for, so debug records
    cost nothing unless someone wants them."""

    def __init__(self, capacity: int, stderr_level: int):
        super().__init__(level=1)
        self.capacity = capacity
        self.stderr_level = stderr_level
        self.cond = threading.Condition()
        self.backlog: collections.deque = collections.deque(maxlen=capacity)
        self.streams: list[TailStream] = []
        self.stopped = False
        self.adjust_level()

    def adjust_level(self) -> None:
        wanted = logging.INFO
        if self.streams:
            wanted = min(PYTHON_LEVELS[max(0, min(s.min_level, 6))] for s in self.streams)
        LOG.setLevel(min(wanted, self.stderr_level))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = log_level_of(record.levelno)
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            stamp = pb.timestamp_pb2.Timestamp()
            nanos = int(record.created * 1e9)
            stamp.seconds, stamp.nanos = nanos // 1_000_000_000, nanos % 1_000_000_000
            fields = getattr(record, "fields", None) or {}
            proto = pb.logs_pb2.LogRecord(time=stamp, level=level, message=message,
                                          logger=record.name,
                                          fields={str(k): str(v) for k, v in fields.items()})
        except Exception:
            self.handleError(record)
            return
        with self.cond:
            if self.streams:
                for stream in self.streams:
                    stream.offer(level, proto)
                self.cond.notify_all()
            elif record.levelno >= logging.INFO:
                self.backlog.append((level, proto))

    def open(self, min_level: int) -> TailStream:
        with self.cond:
            stream = TailStream(min_level, self.capacity)
            for level, proto in self.backlog:
                stream.offer(level, proto)
            self.backlog.clear()
            self.streams.append(stream)
            self.adjust_level()
        return stream

    def close_stream(self, stream: TailStream) -> None:
        with self.cond:
            stream.closed = True
            if stream in self.streams:
                self.streams.remove(stream)
                self.adjust_level()
            self.cond.notify_all()

    def take(self, stream: TailStream, alive):
        """What is queued for the stream (waiting while nothing is), or None
        when the stream should end."""
        while True:
            with self.cond:
                if not stream.queue and not stream.closed and not self.stopped:
                    self.cond.wait(0.5)
                if stream.queue:
                    batch = list(stream.queue)
                    stream.queue.clear()
                    return batch
                if stream.closed or self.stopped:
                    return None
            if not alive():
                return None

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class ComponentLogsServicer:
    def __init__(self, hub: LogHub):
        self.hub = hub

    def Tail(self, request, context):
        stream = self.hub.open(request.min_level)
        context.add_callback(lambda: self.hub.close_stream(stream))
        level = request.min_level
        emit(LOG, logging.DEBUG, "log tail opened at min level "
             + (LOG_LEVELS[level] if 0 <= level < len(LOG_LEVELS) else str(level)))
        try:
            while True:
                batch = self.hub.take(stream, context.is_active)
                if batch is None:
                    return
                yield from batch
        finally:
            self.hub.close_stream(stream)


# --------------------------------------------------------------------------
# Instances, errors, configuration


def instance_of(context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == INSTANCE_HEADER:
            return value
    return ""


def instance_label(name: str) -> str:
    return name if name else f"(none: no {INSTANCE_HEADER} header)"


class CallError(Exception):
    """A refused call: its gRPC status code name, message, and whether it is
    an etag error (sent with a google.rpc.BadRequest violation on `etag`)."""

    def __init__(self, code: str, message: str, etag: bool = False, key: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.etag = etag
        self.key = key


class Registry:
    """One instance per x-component-instance value, replaced by each Init."""

    def __init__(self):
        self.lock = threading.Lock()
        self.instances: dict[str, object] = {}

    def put(self, name: str, instance) -> None:
        with self.lock:
            self.instances[name] = instance

    def get(self, context):
        name = instance_of(context)
        with self.lock:
            instance = self.instances.get(name)
        if instance is None:
            raise CallError("FAILED_PRECONDITION",
                            f"instance {instance_label(name)} is not initialised")
        return instance


def bounded(message: str, limit: int = 1024) -> str:
    """`message`, cut to its first 768 and last 192 characters around a note when it is
    longer than `limit`: messages quote keys, which can be megabytes, and a status
    travels in the trailers, which peers limit to a few KiB."""
    if len(message) <= limit:
        return message
    return f"{message[:768]} ... ({len(message) - 960} characters left out) ... {message[-192:]}"


def abort(context, error: CallError):
    code = getattr(grpc.StatusCode, error.code)
    message = bounded(error.message)
    if not error.etag:
        context.abort(code, message)
    violation = pb.error_details_pb2.BadRequest(field_violations=[
        pb.error_details_pb2.BadRequest.FieldViolation(field="etag", description=message)])
    status = pb.status_pb2.Status(code=code.value[0], message=message)
    status.details.add().Pack(violation)
    context.abort_with_status(pb.rpc_status.to_status(status))


def rpc(logger: logging.Logger):
    """Maps a handler's exceptions to gRPC statuses and logs them."""

    def wrap(method):
        @functools.wraps(method)
        def handler(self, request, context):
            try:
                return method(self, request, context)
            except CallError as error:
                level = logging.INFO if error.etag else logging.WARNING
                emit(logger, level, f"{method.__name__} refused: {error.message}", context,
                     key=error.key or None, code=error.code)
                abort(context, error)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                emit(logger, logging.ERROR, f"{method.__name__}: redis unreachable: {error}",
                     context)
                context.abort(grpc.StatusCode.UNAVAILABLE, f"redis unreachable: {error}")
            except redis.exceptions.RedisError as error:
                emit(logger, logging.ERROR, f"{method.__name__}: redis error: {error}", context)
                context.abort(grpc.StatusCode.INTERNAL, f"redis: {error}")
        return handler

    return wrap


def int_property(properties: dict, name: str, default, minimum: int | None = None):
    text = properties.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise CallError("INVALID_ARGUMENT",
                        f"metadata {name} must be an integer, got {text!r}") from None
    if minimum is not None and value < minimum:
        raise CallError("INVALID_ARGUMENT", f"metadata {name} must be at least {minimum}, "
                                            f"got {value}")
    return value


def redis_options(url: str, properties: dict) -> dict:
    """redis.Redis arguments from --redis-url, overridden by the Init
    metadata redisHost (host or host:port), redisUsername, redisPassword,
    redisDB and enableTLS."""
    parts = urllib.parse.urlsplit(url)
    options: dict = {}
    if parts.scheme == "unix":
        options["unix_socket_path"] = parts.path
    elif parts.scheme in ("redis", "rediss"):
        options["host"] = parts.hostname or "127.0.0.1"
        options["port"] = parts.port or 6379
        if parts.scheme == "rediss":
            options["ssl"] = True
    else:
        raise ValueError(f"--redis-url must start with redis://, rediss:// or unix://, got {url!r}")
    if parts.username:
        options["username"] = urllib.parse.unquote(parts.username)
    if parts.password:
        options["password"] = urllib.parse.unquote(parts.password)
    db = parts.path.strip("/") if parts.scheme != "unix" else ""
    query = urllib.parse.parse_qs(parts.query)
    db = query.get("db", [db])[0] or "0"
    options["db"] = int(db)

    host = properties.get("redisHost", "").strip()
    if host:
        options.pop("unix_socket_path", None)
        address = urllib.parse.urlsplit("//" + host)
        try:
            port = address.port
        except ValueError:
            raise CallError("INVALID_ARGUMENT", f"metadata redisHost {host!r} has a bad port") \
                from None
        if not address.hostname:
            raise CallError("INVALID_ARGUMENT", f"metadata redisHost {host!r} names no host")
        options["host"], options["port"] = address.hostname, port or 6379
    if properties.get("redisUsername"):
        options["username"] = properties["redisUsername"]
    if properties.get("redisPassword"):
        options["password"] = properties["redisPassword"]
    options["db"] = int_property(properties, "redisDB", options["db"], minimum=0)
    tls = properties.get("enableTLS", "").strip().lower()
    if tls:
        if tls not in ("true", "false"):
            raise CallError("INVALID_ARGUMENT", f"metadata enableTLS must be true or false, "
                                                f"got {tls!r}")
        options["ssl"] = tls == "true"
    return options


def describe(options: dict) -> str:
    if "unix_socket_path" in options:
        where = f"unix:{options['unix_socket_path']}"
    else:
        where = f"{options['host']}:{options['port']}"
    return f"{'rediss' if options.get('ssl') else 'redis'} {where} db {options['db']}"


class Backend:
    """What state and pub/sub instances share: the Redis connection and the
    key namespace `redis-store:{<namespace>}:` (namespace: metadata
    `namespace`, default the instance name; percent-encoded, so any name is
    safe, and in braces, a Redis Cluster hash tag)."""

    def __init__(self, name: str, properties: dict, redis_url: str):
        self.name = name
        self.properties = properties
        self.options = redis_options(redis_url, properties)
        self.where = describe(self.options)
        self.client = redis.Redis(**self.options, socket_connect_timeout=3, socket_timeout=15,
                                  health_check_interval=30)
        self.namespace = properties.get("namespace", "").strip() or name
        self.prefix = f"{KEY_ROOT}:{{{urllib.parse.quote(self.namespace, safe='')}}}:"

    def connect(self) -> None:
        try:
            self.client.ping()
        except redis.exceptions.RedisError as error:
            raise CallError("UNAVAILABLE", f"cannot reach {self.where}: {error}") from None

    def ping(self) -> None:
        try:
            self.client.ping()
        except redis.exceptions.RedisError as error:
            raise CallError("UNAVAILABLE", f"redis {self.where} does not answer: {error}") \
                from None


def text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --------------------------------------------------------------------------
# State store

# Checks every operation's etag / first-write condition, then applies them
# all; Redis runs a script atomically, so a failed check applies nothing.
#   KEYS[1]     the namespace's etag counter; KEYS[i+1] the key of operation i
#   ARGV[6(i-1)+1 .. +6] for operation i: 'set' | 'delete', etag ('' = none),
#               first-write ('1' | '0'), ttl seconds ('' = never expires),
#               content type, data
# Answers {'ok', etag_1, ..., etag_n} ('' for deletes) or the first refusal:
# {'mismatch', i, current etag or ''}, {'exists', i, etag}, {'foreign', i, what}.
APPLY_LUA = r"""
local n = #KEYS - 1
local staged = {}
local function version_of(key)
  local v = staged[key]
  if v ~= nil then return v end
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'none' then
    v = false
  elseif kind == 'hash' then
    v = redis.call('HGET', key, 'version')
    if not v then return nil, 'a hash without a version field' end
  else
    return nil, 'a ' .. kind
  end
  staged[key] = v
  return v
end
for i = 1, n do
  local key, at = KEYS[i + 1], (i - 1) * 6
  local op, etag, first = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local current, foreign = version_of(key)
  if current == nil then return {'foreign', i, foreign} end
  if etag ~= '' then
    if current ~= etag then return {'mismatch', i, current or ''} end
  elseif first == '1' and current then
    return {'exists', i, current}
  end
  if op == 'set' then staged[key] = '?' else staged[key] = false end
end
local reply = {'ok'}
for i = 1, n do
  local key, at = KEYS[i + 1], (i - 1) * 6
  if ARGV[at + 1] == 'set' then
    local version = string.format('%d', redis.call('INCR', KEYS[1]))
    redis.call('HSET', key, 'data', ARGV[at + 6], 'version', version,
               'contentType', ARGV[at + 5])
    if ARGV[at + 4] == '' then
      redis.call('PERSIST', key)
    else
      redis.call('EXPIRE', key, ARGV[at + 4])
    end
    reply[i + 1] = version
  else
    redis.call('DEL', key)
    reply[i + 1] = ''
  end
end
return reply
"""

TTL_KEY = "ttlInSeconds"


def parse_ttl(value: str, where: str) -> str:
    """'' (never expires) or a positive number of seconds, as text."""
    value = value.strip()
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds == -1:
        return ""
    if seconds <= 0:
        raise CallError("INVALID_ARGUMENT",
                        f"{where} {TTL_KEY} must be a positive number of seconds or -1 "
                        f"(never expires), got {value!r}")
    return str(seconds)


class StateInstance(Backend):
    def __init__(self, name: str, properties: dict, redis_url: str):
        super().__init__(name, properties, redis_url)
        default = properties.get(TTL_KEY, "")
        self.default_ttl = parse_ttl(default, "metadata") if default.strip() else ""
        self.counter = self.prefix + "etag-seq"
        self.apply_script = self.client.register_script(APPLY_LUA)

    def key(self, key: str) -> str:
        return self.prefix + "state:" + key

    def ttl_of(self, metadata, fallback) -> str:
        for source, where in ((metadata, "request metadata"), (fallback, "transaction metadata")):
            if TTL_KEY in source:
                return parse_ttl(source[TTL_KEY], where)
        return self.default_ttl

    def operation(self, kind: str, request, fallback_metadata) -> list:
        key = request.key
        if not key:
            raise CallError("INVALID_ARGUMENT", "key is required")
        etag = request.etag.value if request.HasField("etag") else ""
        if etag:
            if not (etag.isascii() and etag.isdigit()):
                raise CallError("INVALID_ARGUMENT",
                                f"invalid etag {etag!r} for key {key!r}: redis-store etags "
                                "are decimal numbers", etag=True, key=key)
            etag = str(int(etag))
        first = request.options.concurrency == pb.state_pb2.StateOptions.CONCURRENCY_FIRST_WRITE
        if kind == "set":
            return [kind, etag, "1" if first else "0",
                    self.ttl_of(request.metadata, fallback_metadata),
                    request.content_type, bytes(request.value)]
        return [kind, etag, "1" if first else "0", "", "", b""]

    def apply(self, operations: list) -> list:
        """operations: (kind, request, fallback metadata); all or nothing.
        Answers the new etags ('' for deletes)."""
        if not operations:
            return []
        keys, args = [self.counter], []
        for kind, request, fallback in operations:
            args.extend(self.operation(kind, request, fallback))
            keys.append(self.key(request.key))
        reply = self.apply_script(keys=keys, args=args)
        outcome = text(reply[0])
        if outcome == "ok":
            return [text(value) for value in reply[1:]]
        index = int(reply[1]) - 1
        request = operations[index][1]
        key, detail = request.key, text(reply[2])
        given = request.etag.value if request.HasField("etag") else ""
        if outcome == "mismatch":
            if not detail:
                message = f"etag mismatch for key {key!r}: the key does not exist"
            elif detail == "?":
                message = (f"etag mismatch for key {key!r}: an earlier operation of the same "
                           "request writes it")
            else:
                message = f"etag mismatch for key {key!r}: got {given}, current is {detail}"
            raise CallError("FAILED_PRECONDITION", message, etag=True, key=key)
        if outcome == "exists":
            raise CallError("FAILED_PRECONDITION",
                            f"first-write: key {key!r} already exists and no etag was given",
                            etag=True, key=key)
        raise foreign(key, detail)

    def read(self, keys: list[str]) -> list:
        """(data, version, contentType, pttl) or an exception, per key, from
        one MULTI (a consistent snapshot)."""
        pipe = self.client.pipeline(transaction=True)
        for key in keys:
            pipe.hmget(self.key(key), "data", "version", "contentType")
            pipe.pttl(self.key(key))
        results = pipe.execute(raise_on_error=False)
        answers = []
        for i, key in enumerate(keys):
            fields, pttl = results[2 * i], results[2 * i + 1]
            if isinstance(fields, redis.exceptions.ResponseError) and "WRONGTYPE" in str(fields):
                answers.append(foreign(key, "a value that is not a hash"))
            elif isinstance(fields, Exception):
                answers.append(fields)
            elif fields[1] is None and fields[0] is not None:
                answers.append(foreign(key, "a hash without a version field"))
            else:
                answers.append((fields[0], fields[1], fields[2],
                                pttl if isinstance(pttl, int) else -1))
        return answers


def foreign(key: str, what: str) -> CallError:
    return CallError("FAILED_PRECONDITION",
                     f"key {key!r} holds {what} in Redis, not a value written by {NAME}", key=key)


def expiry_metadata(pttl: int) -> dict:
    if pttl <= 0:
        return {}
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(milliseconds=pttl)
    return {"ttlExpireTime": when.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


class StateStoreServicer:
    def __init__(self, registry: Registry, redis_url: str):
        self.registry = registry
        self.redis_url = redis_url

    @rpc(STATE_LOG)
    def Init(self, request, context):
        name = instance_of(context)
        properties = dict(request.metadata.properties)
        try:
            instance = StateInstance(name, properties, self.redis_url)
        except ValueError as error:
            raise CallError("INVALID_ARGUMENT", str(error)) from None
        instance.connect()
        self.registry.put(name, instance)
        emit(STATE_LOG, logging.INFO, f"initialised state store instance {instance_label(name)} "
             f"on {instance.where}, keys {instance.prefix}state:*", context)
        return pb.state_pb2.InitResponse()

    @rpc(STATE_LOG)
    def Features(self, request, context):
        self.registry.get(context)
        return pb.common_pb2.FeaturesResponse(features=STATE_FEATURES)

    @rpc(STATE_LOG)
    def Ping(self, request, context):
        emit(STATE_LOG, TRACE, "ping", context)
        self.registry.get(context).ping()
        return pb.common_pb2.PingResponse()

    @rpc(STATE_LOG)
    def Get(self, request, context):
        store = self.registry.get(context)
        if not request.key:
            raise CallError("INVALID_ARGUMENT", "key is required")
        (answer,) = store.read([request.key])
        if isinstance(answer, Exception):
            raise answer
        data, version, content_type, pttl = answer
        emit(STATE_LOG, logging.DEBUG, f"get {request.key}: "
             + ("missing" if version is None else f"etag {text(version)}"), context,
             key=request.key)
        if version is None:
            return pb.state_pb2.GetResponse()
        return pb.state_pb2.GetResponse(data=data or b"",
                                        etag=pb.state_pb2.Etag(value=text(version)),
                                        content_type=text(content_type),
                                        metadata=expiry_metadata(pttl))

    @rpc(STATE_LOG)
    def BulkGet(self, request, context):
        store = self.registry.get(context)
        keys = [item.key for item in request.items]
        answer = pb.state_pb2.BulkGetResponse()
        for key, found in zip(keys, store.read(keys) if keys else []):
            if isinstance(found, Exception):
                answer.items.add(key=key, error=str(found))
                continue
            data, version, content_type, pttl = found
            if version is None:
                answer.items.add(key=key)
            else:
                answer.items.add(key=key, data=data or b"",
                                 etag=pb.state_pb2.Etag(value=text(version)),
                                 content_type=text(content_type), metadata=expiry_metadata(pttl))
        emit(STATE_LOG, logging.DEBUG, f"bulk get of {len(keys)} keys", context)
        return answer

    @rpc(STATE_LOG)
    def Set(self, request, context):
        store = self.registry.get(context)
        (etag,) = store.apply([("set", request, {})])
        emit(STATE_LOG, logging.DEBUG, f"set {request.key}: etag {etag}", context,
             key=request.key)
        return pb.state_pb2.SetResponse()

    @rpc(STATE_LOG)
    def Delete(self, request, context):
        store = self.registry.get(context)
        store.apply([("delete", request, {})])
        emit(STATE_LOG, logging.DEBUG, f"delete {request.key}", context, key=request.key)
        return pb.state_pb2.DeleteResponse()

    @rpc(STATE_LOG)
    def BulkSet(self, request, context):
        store = self.registry.get(context)
        store.apply([("set", item, {}) for item in request.items])
        emit(STATE_LOG, logging.DEBUG, f"bulk set of {len(request.items)} keys", context)
        return pb.state_pb2.BulkSetResponse()

    @rpc(STATE_LOG)
    def BulkDelete(self, request, context):
        store = self.registry.get(context)
        store.apply([("delete", item, {}) for item in request.items])
        emit(STATE_LOG, logging.DEBUG, f"bulk delete of {len(request.items)} keys", context)
        return pb.state_pb2.BulkDeleteResponse()


class TransactionalStateStoreServicer:
    def __init__(self, registry: Registry):
        self.registry = registry

    @rpc(STATE_LOG)
    def Transact(self, request, context):
        store = self.registry.get(context)
        operations = []
        for number, operation in enumerate(request.operations, 1):
            kind = operation.WhichOneof("request")
            if kind is None:
                raise CallError("INVALID_ARGUMENT",
                                f"transaction operation {number} carries neither set nor delete")
            operations.append((kind, getattr(operation, kind), request.metadata))
        store.apply(operations)
        emit(STATE_LOG, logging.DEBUG, f"transaction of {len(operations)} operations applied",
             context)
        return pb.state_pb2.TransactionalStateResponse()


# --------------------------------------------------------------------------
# Pub/sub on Redis Streams

# At the end of a subscription: remove its consumer from the group when it
# holds no pending entry (a consumer with pending entries must stay, or they
# would be lost).  KEYS[1] stream; ARGV group, consumer.
FORGET_CONSUMER_LUA = r"""
local mine = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #mine == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
"""

# When a subscription opens: remove the group's consumers that hold nothing
# and have been idle at least ARGV[2] ms (left by ended or killed
# subscriptions, after their entries were reclaimed).  KEYS[1] stream.
SWEEP_CONSUMERS_LUA = r"""
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for j = 1, #consumer, 2 do info[consumer[j]] = consumer[j + 1] end
  if info['pending'] == 0 and info['idle'] and info['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    removed = removed + 1
  end
end
return removed
"""


class PubSubInstance(Backend):
    def __init__(self, name: str, properties: dict, redis_url: str):
        super().__init__(name, properties, redis_url)
        self.group = (properties.get("consumerGroup", "").strip()
                      or properties.get("consumerID", "").strip() or name or "default")
        self.visibility_ms = int_property(properties, "visibilityTimeoutMs",
                                          DEFAULT_VISIBILITY_MS, minimum=50)
        self.max_in_flight = int_property(properties, "maxInFlight", DEFAULT_MAX_IN_FLIGHT,
                                          minimum=1)
        self.max_len = int_property(properties, "maxLenApprox", 0, minimum=0)
        self.forget_consumer = self.client.register_script(FORGET_CONSUMER_LUA)
        self.sweep_consumers = self.client.register_script(SWEEP_CONSUMERS_LUA)

    def stream(self, topic: str) -> str:
        return self.prefix + "topic:" + topic

    def entry(self, data: bytes, content_type: str, metadata) -> dict:
        return {b"data": bytes(data), b"contentType": content_type.encode(),
                b"metadata": json.dumps(dict(metadata), sort_keys=True).encode()}

    def add(self, pipe, topic: str, fields: dict) -> None:
        if self.max_len:
            pipe.xadd(self.stream(topic), fields, maxlen=self.max_len, approximate=True)
        else:
            pipe.xadd(self.stream(topic), fields)


class Keeper(threading.Thread):
    """Every open subscription's held entries (read from Redis, not yet
    acknowledged or refused by the sidecar) are claimed again every third of
    the visibility timeout, which resets their idle time: while a
    subscription is alive, nobody else reclaims what it holds."""

    def __init__(self):
        super().__init__(name="keeper", daemon=True)
        self.lock = threading.Lock()
        self.subscriptions: set = set()

    def add(self, subscription) -> None:
        with self.lock:
            self.subscriptions.add(subscription)

    def remove(self, subscription) -> None:
        with self.lock:
            self.subscriptions.discard(subscription)

    def run(self) -> None:
        while not STOPPING.wait(0.05):
            with self.lock:
                subscriptions = list(self.subscriptions)
            now = time.monotonic()
            for subscription in subscriptions:
                if now >= subscription.next_beat:
                    subscription.next_beat = now + subscription.beat_interval
                    subscription.heartbeat()


KEEPER = Keeper()


class Counter:
    """Open subscriptions, so that stopping can wait for them to hand back
    what they hold."""

    def __init__(self):
        self.cond = threading.Condition()
        self.count = 0

    def enter(self) -> None:
        with self.cond:
            self.count += 1

    def leave(self) -> None:
        with self.cond:
            self.count -= 1
            self.cond.notify_all()

    def wait_empty(self, timeout: float) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.count == 0, timeout)


ACTIVE = Counter()


class Subscription:
    """One PullMessages stream: consumer `consumer` of group `group` on the
    topic's stream.  `held` are the entry ids it read into its pending list
    and has not seen acknowledged or refused; at most maxInFlight."""

    numbers = itertools.count(1)

    def __init__(self, instance: PubSubInstance, topic: str, group: str, context):
        self.number = next(Subscription.numbers)
        self.instance = instance
        self.client = instance.client
        self.topic = topic
        self.stream = instance.stream(topic)
        self.group = group
        self.consumer = (f"{socket.gethostname()}-{os.getpid()}-{self.number}-"
                         f"{secrets.token_hex(3)}")
        self.context = context
        self.visibility_ms = instance.visibility_ms
        self.beat_interval = max(0.05, instance.visibility_ms / 3000)
        self.next_beat = time.monotonic() + self.beat_interval
        self.reclaim_interval = min(1.0, max(0.05, instance.visibility_ms / 4000))
        self.held: dict[str, float] = {}
        self.cond = threading.Condition()
        self.acks_ended = threading.Event()
        self.beat_lock = threading.Lock()
        self.released = False
        self.delivered = self.acked = self.refused = 0

    def log(self, level: int, message: str, **fields) -> None:
        emit(PUBSUB_LOG, level, message, self.context, topic=self.topic, group=self.group,
             consumer=self.consumer, **fields)

    def alive(self) -> bool:
        return (self.context.is_active() and not self.acks_ended.is_set()
                and not STOPPING.is_set())

    # Redis operations

    def ensure_group(self) -> None:
        try:
            # From "0": a new group gets every entry still in the stream,
            # including those published before anyone subscribed.
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            self.log(logging.INFO, f"created consumer group {self.group}")
        except redis.exceptions.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def read(self, count: int, block_ms: int) -> list:
        answer = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                        count=count, block=block_ms)
        entries = []
        for _stream, items in answer or []:
            entries.extend(items)
        return entries

    def reclaim(self, cursor: str, count: int) -> tuple[str, list]:
        answer = self.client.xautoclaim(self.stream, self.group, self.consumer,
                                        self.visibility_ms, start_id=cursor, count=count)
        next_cursor, entries = text(answer[0]), answer[1]
        if entries:
            self.log(logging.INFO, f"reclaimed {len(entries)} entries idle for more than "
                     f"{self.visibility_ms} ms", count=len(entries))
        return next_cursor, entries

    def heartbeat(self) -> None:
        with self.beat_lock:
            if not self.released:
                self.extend_visibility()

    def extend_visibility(self) -> None:
        with self.cond:
            ids = list(self.held)
        try:
            for start in range(0, len(ids), 500):
                self.client.xclaim(self.stream, self.group, self.consumer, 0,
                                   ids[start:start + 500], justid=True)
        except redis.exceptions.RedisError as error:
            self.log(logging.WARNING, f"could not extend the visibility of held entries: {error}")

    def room(self) -> int:
        with self.cond:
            return self.instance.max_in_flight - len(self.held)

    def wait_for_room(self, timeout: float) -> None:
        with self.cond:
            if len(self.held) >= self.instance.max_in_flight:
                self.cond.wait(timeout)

    # The sidecar's acknowledgements

    def read_acks(self, requests) -> None:
        try:
            for request in requests:
                entry_id = request.ack_message_id
                if not entry_id:
                    continue
                with self.cond:
                    known = self.held.pop(entry_id, None)
                    self.cond.notify_all()
                if known is None:
                    self.log(logging.DEBUG, f"ack for an id this stream does not hold: {entry_id}",
                             id=entry_id)
                    continue
                try:
                    if request.HasField("ack_error"):
                        # Stays pending; claiming it again restarts its idle
                        # time, so it is reclaimed one visibility timeout later.
                        self.client.xclaim(self.stream, self.group, self.consumer, 0, [entry_id],
                                           justid=True)
                        self.refused += 1
                        self.log(logging.INFO, f"message {entry_id} refused "
                                 f"({request.ack_error.message}); redelivered after "
                                 f"{self.visibility_ms} ms", id=entry_id)
                    else:
                        self.client.xack(self.stream, self.group, entry_id)
                        self.acked += 1
                        self.log(logging.DEBUG, f"message {entry_id} acknowledged", id=entry_id)
                except redis.exceptions.RedisError as error:
                    # Left pending: reclaimed and delivered again later.
                    self.log(logging.ERROR, f"could not record the ack of {entry_id}: {error}",
                             id=entry_id)
        except Exception as error:  # the call was cancelled or broke
            self.log(logging.DEBUG, f"ack stream ended: {error!r}")
        finally:
            self.acks_ended.set()
            with self.cond:
                self.cond.notify_all()

    # Delivery

    def response(self, entry_id: str, fields: dict):
        if b"data" in fields:
            data = fields[b"data"]
            content_type = text(fields.get(b"contentType"))
            try:
                metadata = {str(k): str(v) for k, v in
                            json.loads(text(fields.get(b"metadata")) or "{}").items()}
            except (ValueError, AttributeError):
                metadata = {}
        else:  # an entry someone else added: its fields as a JSON object
            data = json.dumps({text(k): text(v) for k, v in fields.items()}).encode()
            content_type, metadata = "application/json", {}
        return pb.pubsub_pb2.PullMessagesResponse(data=data, topic_name=self.topic,
                                                  metadata=metadata, content_type=content_type,
                                                  id=entry_id)

    def messages(self):
        """The PullMessages response generator."""
        self.ensure_group()
        try:
            removed = self.instance.sweep_consumers(
                keys=[self.stream],
                args=[self.group, max(STALE_CONSUMER_MS, 10 * self.visibility_ms)])
            if removed:
                self.log(logging.INFO, f"removed {removed} stale consumers from the group")
        except redis.exceptions.RedisError as error:
            self.log(logging.DEBUG, f"consumer sweep skipped: {error}")
        self.log(logging.INFO, f"subscribed to {self.topic} as {self.consumer} of group "
                 f"{self.group}")
        ACTIVE.enter()
        KEEPER.add(self)
        cursor, next_reclaim = "0-0", 0.0
        backoff, outage = 0.2, False
        block_ms = max(10, int(min(self.reclaim_interval, 0.5) * 1000))
        try:
            while self.alive():
                room = self.room()
                if room <= 0:
                    self.wait_for_room(0.2)
                    continue
                now = time.monotonic()
                try:
                    if now >= next_reclaim:
                        cursor, entries = self.reclaim(cursor, room)
                        # A scan that has not wrapped around goes on at once.
                        next_reclaim = now if cursor != "0-0" else now + self.reclaim_interval
                    else:
                        entries = self.read(min(room, 32), block_ms)
                    if outage:
                        self.log(NOTICE, "redis answers again")
                    backoff, outage = 0.2, False
                except redis.exceptions.ResponseError as error:
                    if "NOGROUP" not in str(error):
                        raise
                    self.log(logging.WARNING, "the stream or its group was deleted; recreating")
                    self.ensure_group()
                    continue
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                    if not outage:
                        self.log(logging.ERROR, f"redis unreachable, retrying: {error}")
                    outage = True
                    self.acks_ended.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                batch = []
                with self.cond:
                    for raw_id, fields in entries:
                        entry_id = text(raw_id)
                        # Skipped: entries trimmed from the stream (Redis 6.2
                        # answers them without fields; 7 drops them itself),
                        # and entries this stream delivered and still holds.
                        if fields is not None and entry_id not in self.held:
                            self.held[entry_id] = time.monotonic()
                            batch.append((entry_id, fields))
                for entry_id, fields in batch:
                    if not self.alive():
                        break  # still held: handed back by release()
                    self.delivered += 1
                    self.log(logging.DEBUG, f"delivering {entry_id}", id=entry_id)
                    yield self.response(entry_id, fields)
        finally:
            KEEPER.remove(self)
            try:
                self.release()
            finally:
                ACTIVE.leave()

    def release(self) -> None:
        """The stream ended: what it holds stays pending, with its idle time
        set to the visibility timeout so that the next subscriber of the group
        reclaims it at once."""
        with self.beat_lock:
            self.released = True
        with self.cond:
            ids = list(self.held)
            self.held.clear()
        try:
            for start in range(0, len(ids), 500):
                self.client.xclaim(self.stream, self.group, self.consumer, 0,
                                   ids[start:start + 500], idle=self.visibility_ms, justid=True)
            self.instance.forget_consumer(keys=[self.stream], args=[self.group, self.consumer])
        except redis.exceptions.RedisError as error:
            self.log(logging.WARNING, f"could not release held entries (they are reclaimed "
                     f"after the visibility timeout): {error}")
        self.log(logging.INFO, f"subscription ended: {self.delivered} delivered, {self.acked} "
                 f"acknowledged, {self.refused} refused, {len(ids)} handed back")


class PubSubServicer:
    def __init__(self, registry: Registry, redis_url: str):
        self.registry = registry
        self.redis_url = redis_url

    @rpc(PUBSUB_LOG)
    def Init(self, request, context):
        name = instance_of(context)
        properties = dict(request.metadata.properties)
        try:
            instance = PubSubInstance(name, properties, self.redis_url)
        except ValueError as error:
            raise CallError("INVALID_ARGUMENT", str(error)) from None
        instance.connect()
        self.registry.put(name, instance)
        emit(PUBSUB_LOG, logging.INFO, f"initialised pub/sub instance {instance_label(name)} on "
             f"{instance.where}, streams {instance.prefix}topic:*, consumer group "
             f"{instance.group}, visibility timeout {instance.visibility_ms} ms", context)
        return pb.pubsub_pb2.PubSubInitResponse()

    @rpc(PUBSUB_LOG)
    def Features(self, request, context):
        self.registry.get(context)
        return pb.common_pb2.FeaturesResponse(features=PUBSUB_FEATURES)

    @rpc(PUBSUB_LOG)
    def Ping(self, request, context):
        emit(PUBSUB_LOG, TRACE, "ping", context)
        self.registry.get(context).ping()
        return pb.common_pb2.PingResponse()

    @rpc(PUBSUB_LOG)
    def Publish(self, request, context):
        instance = self.registry.get(context)
        if not request.topic:
            raise CallError("INVALID_ARGUMENT", "topic is required")
        pipe = instance.client.pipeline(transaction=False)
        instance.add(pipe, request.topic, instance.entry(request.data, request.content_type,
                                                         request.metadata))
        (entry_id,) = pipe.execute()
        emit(PUBSUB_LOG, logging.DEBUG, f"published {text(entry_id)} to {request.topic}", context,
             topic=request.topic)
        return pb.pubsub_pb2.PublishResponse()

    @rpc(PUBSUB_LOG)
    def BulkPublish(self, request, context):
        instance = self.registry.get(context)
        if not request.topic:
            raise CallError("INVALID_ARGUMENT", "topic is required")
        pipe = instance.client.pipeline(transaction=True)  # all entries or none
        for entry in request.entries:
            metadata = dict(request.metadata)
            metadata.update(entry.metadata)
            instance.add(pipe, request.topic, instance.entry(entry.event, entry.content_type,
                                                             metadata))
        answer = pb.pubsub_pb2.BulkPublishResponse()
        try:
            pipe.execute()
        except redis.exceptions.RedisError as error:
            emit(PUBSUB_LOG, logging.ERROR, f"bulk publish to {request.topic} failed: {error}",
                 context, topic=request.topic)
            for entry in request.entries:
                answer.failed_entries.add(entry_id=entry.entry_id, error=str(error))
            return answer
        emit(PUBSUB_LOG, logging.DEBUG,
             f"published {len(request.entries)} messages to {request.topic}", context,
             topic=request.topic)
        return answer

    def PullMessages(self, request_iterator, context):
        try:
            instance = self.registry.get(context)
            try:
                first = next(request_iterator)
            except StopIteration:
                return
            topic = first.topic.name
            if not topic:
                raise CallError("INVALID_ARGUMENT",
                                "the first PullMessages request must name the topic")
            group = first.topic.metadata.get("consumerGroup", "").strip() or instance.group
            subscription = Subscription(instance, topic, group, context)
            context.add_callback(lambda: subscription.acks_ended.set())
            threading.Thread(target=subscription.read_acks, args=(request_iterator,),
                             name=f"acks-{subscription.number}", daemon=True).start()
            yield from subscription.messages()
        except CallError as error:
            emit(PUBSUB_LOG, logging.WARNING, f"PullMessages refused: {error.message}", context)
            abort(context, error)
        except redis.exceptions.RedisError as error:
            emit(PUBSUB_LOG, logging.ERROR, f"PullMessages: redis error: {error}", context)
            code = (grpc.StatusCode.UNAVAILABLE
                    if isinstance(error, redis.exceptions.ConnectionError)
                    else grpc.StatusCode.INTERNAL)
            context.abort(code, f"redis: {error}")

    def Pause(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Pause is not supported")

    def Resume(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "Resume is not supported")


# --------------------------------------------------------------------------
# Process


def sockets_folder() -> str:
    for variable in ("APIARY_SOCKETS_DIR", "DAPR_COMPONENTS_SOCKETS_FOLDER"):
        if os.environ.get(variable):
            return os.environ[variable]
    return DEFAULT_SOCKETS_FOLDER


def prepare_socket(path: str) -> None:
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        fail_start(f"{path} exists and is not a socket; not replacing it")
    os.unlink(path)  # left by a process that did not stop cleanly


def parse_level(value: str) -> int:
    levels = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO, "notice": NOTICE,
              "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR,
              "critical": logging.CRITICAL, "off": logging.CRITICAL + 1}
    try:
        return levels[value.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown level {value!r}") from None


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Dapr pluggable state store and pub/sub on Redis (Apiary sample)")
    parser.add_argument("--socket", default=None,
                        help="Unix socket to serve (default: <sockets folder>/redis-store.sock)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL,
                        help="Redis to use unless Init metadata says otherwise "
                             "(redis://, rediss:// or unix://; default %(default)s)")
    parser.add_argument("--log-level", type=parse_level, default=logging.INFO,
                        help="stderr log level: trace, debug, info, notice, warning, error, "
                             "critical or off (default info; Tail has its own)")
    parser.add_argument("--log-buffer", type=int, default=1000, metavar="N",
                        help="log records kept per Tail stream and while none is open "
                             "(default %(default)s)")
    parser.add_argument("--max-workers", type=int, default=64,
                        help="gRPC worker threads; each open PullMessages or Tail stream "
                             "holds one (default %(default)s)")
    parser.add_argument("--proto-root", default=None,
                        help="Apiary's Proto/ folder, for generating the stubs "
                             "(default: $APIARY_PROTO_ROOT, else ../../../Proto)")
    args = parser.parse_args()
    if args.log_buffer < 1 or args.max_workers < 4:
        parser.error("--log-buffer must be >= 1 and --max-workers >= 4")

    load_modules(args.proto_root)
    try:
        redis_options(args.redis_url, {})
    except ValueError as error:
        parser.error(str(error))

    LOG.propagate = False
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(args.log_level)
    stderr.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    hub = LogHub(args.log_buffer, args.log_level)
    LOG.addHandler(stderr)
    LOG.addHandler(hub)

    path = os.path.abspath(args.socket or os.path.join(sockets_folder(), f"{NAME}.sock"))
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.signum = signum
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    state_registry, pubsub_registry = Registry(), Registry()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.max_workers))
    pb.state_pb2_grpc.add_StateStoreServicer_to_server(
        StateStoreServicer(state_registry, args.redis_url), server)
    pb.state_pb2_grpc.add_TransactionalStateStoreServicer_to_server(
        TransactionalStateStoreServicer(state_registry), server)
    pb.pubsub_pb2_grpc.add_PubSubServicer_to_server(
        PubSubServicer(pubsub_registry, args.redis_url), server)
    pb.logs_pb2_grpc.add_ComponentLogsServicer_to_server(ComponentLogsServicer(hub), server)
    services = [pb.state_pb2.DESCRIPTOR.services_by_name["StateStore"].full_name,
                pb.state_pb2.DESCRIPTOR.services_by_name["TransactionalStateStore"].full_name,
                pb.pubsub_pb2.DESCRIPTOR.services_by_name["PubSub"].full_name,
                pb.logs_pb2.DESCRIPTOR.services_by_name["ComponentLogs"].full_name]
    pb.reflection.enable_server_reflection(services + [pb.reflection.SERVICE_NAME], server)

    prepare_socket(path)
    try:
        server.add_insecure_port(f"unix:{path}")
    except RuntimeError as error:
        fail_start(f"cannot listen on {path}: {error}")
    KEEPER.start()
    server.start()
    socket_inode = os.stat(path).st_ino
    emit(LOG, NOTICE, f"serving {', '.join(services)} on unix:{path} (redis default "
         f"{describe(redis_options(args.redis_url, {}))})")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        signum = getattr(stop, "signum", None)
        emit(LOG, NOTICE, "stopping" + (f" on {signal.Signals(signum).name}" if signum else ""))
        STOPPING.set()  # subscriptions hand back what they hold and end
        hub.stop()
        ACTIVE.wait_empty(2.0)
        server.stop(grace=1).wait()
        ACTIVE.wait_empty(1.0)
        try:
            if os.stat(path).st_ino == socket_inode:
                os.unlink(path)
        except FileNotFoundError:
            pass
        print(f"{NAME}: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
